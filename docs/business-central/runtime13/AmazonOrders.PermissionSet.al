permissionset 50100 AmazonOrders
{
    Assignable = true;
    Caption = 'Amazon orders via spgate';

    Permissions =
        tabledata AmazonOrderStaging = RIMD,
        table AmazonOrderStaging = X,
        codeunit AmazonOrdersImport = X,
        codeunit AmazonOrdersJob = X,
        page SpgateGatewayKey = X;
}
