/// <summary>
/// Orders imported from Amazon through the spgate gateway, one row per Amazon order id.
/// </summary>
table 50100 AmazonOrderStaging
{
    Caption = 'Amazon Order Staging';
    DataClassification = CustomerContent;

    fields
    {
        field(1; "Amazon Order Id"; Code[30])
        {
            Caption = 'Amazon Order Id';
        }
        field(2; "Seller Id"; Code[20])
        {
            Caption = 'Seller Id';
        }
        field(3; "Marketplace Id"; Code[20])
        {
            Caption = 'Marketplace Id';
        }
        field(4; "Purchase Date"; DateTime)
        {
            Caption = 'Purchase Date';
        }
        field(5; "Order Status"; Text[30])
        {
            Caption = 'Order Status';
        }
        field(6; "Order Total"; Decimal)
        {
            Caption = 'Order Total';
        }
        field(7; "Currency Code"; Code[10])
        {
            Caption = 'Currency Code';
        }
        field(8; "Ship-to City"; Text[50])
        {
            Caption = 'Ship-to City';
            DataClassification = EndUserIdentifiableInformation;
        }
        field(9; "Imported At"; DateTime)
        {
            Caption = 'Imported At';
        }
    }

    keys
    {
        key(PK; "Amazon Order Id")
        {
            Clustered = true;
        }
    }
}
