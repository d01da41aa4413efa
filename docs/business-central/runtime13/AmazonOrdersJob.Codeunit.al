/// <summary>
/// Job queue entry: imports the orders of the last 7 days for one seller and marketplace.
/// </summary>
codeunit 50101 AmazonOrdersJob
{
    trigger OnRun()
    var
        AmazonOrdersImport: Codeunit AmazonOrdersImport;
    begin
        AmazonOrdersImport.ImportOrders('A2VYDBAL8BMVQK', 'ATVPDKIKX0DER', CreateDateTime(CalcDate('<-7D>', Today()), 0T), false);
    end;
}
