/// <summary>
/// Where an administrator enters or deletes the spgate gateway key. A stored key is never shown.
/// </summary>
page 50100 SpgateGatewayKey
{
    Caption = 'spgate Gateway Key';
    PageType = Card;
    ApplicationArea = All;
    UsageCategory = Administration;

    layout
    {
        area(Content)
        {
            group(GatewayKey)
            {
                Caption = 'Gateway key';

                field(NewGatewayKey; NewGatewayKey)
                {
                    ApplicationArea = All;
                    Caption = 'New gateway key';
                    ExtendedDatatype = Masked;
                    ToolTip = 'Specifies the key (spg_...) that spgate client add printed. It is stored encrypted in isolated storage and never shown again.';

                    trigger OnValidate()
                    begin
                        AmazonOrdersImport.SetGatewayKey(NewGatewayKey);
                        Clear(NewGatewayKey);
                        KeyStored := true;
                    end;
                }
                field(KeyStored; KeyStored)
                {
                    ApplicationArea = All;
                    Caption = 'Key stored';
                    Editable = false;
                    ToolTip = 'Specifies whether a gateway key is stored.';
                }
            }
        }
    }

    actions
    {
        area(Processing)
        {
            action(DeleteGatewayKey)
            {
                ApplicationArea = All;
                Caption = 'Delete key';
                Image = Delete;
                ToolTip = 'Deletes the stored gateway key. Imports fail until a new key is entered. Revoke the old key on the gateway too (spgate client revoke).';

                trigger OnAction()
                begin
                    AmazonOrdersImport.DeleteGatewayKey();
                    KeyStored := false;
                end;
            }
        }
    }

    trigger OnOpenPage()
    begin
        KeyStored := AmazonOrdersImport.HasGatewayKey();
    end;

    var
        AmazonOrdersImport: Codeunit AmazonOrdersImport;
        [NonDebuggable]
        NewGatewayKey: Text;
        KeyStored: Boolean;
}
