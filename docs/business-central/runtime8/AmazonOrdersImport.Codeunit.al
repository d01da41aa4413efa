/// <summary>
/// Imports Amazon orders through the spgate gateway into the AmazonOrderStaging table.
/// </summary>
codeunit 50100 AmazonOrdersImport
{
    var
        GatewayBaseUrlTok: Label 'https://spgate.example.com:8443', Locked = true;
        KeyStorageTok: Label 'SPGATE_KEY', Locked = true;
        NoKeyErr: Label 'No spgate gateway key is stored. Ask the spgate operator for a key (spgate client add) and enter it on the spgate Gateway Key page.';
        EmptyKeyErr: Label 'Enter the gateway key (spg_...) that spgate client add printed.';
        NoCreatedAfterErr: Label 'Give the date and time after which the orders to import were created.';
        SendFailedErr: Label 'The spgate gateway could not be reached: %1', Comment = '%1 = error text';
        ThrottledErr: Label 'The seller''s rate limit had no free slot after %1 attempts [gateway request %2]. The orders of earlier pages are stored; run the import again later.', Comment = '%1 = attempts, %2 = gateway request id';
        KeyRefusedErr: Label 'The spgate gateway does not accept the stored key (unknown or revoked): %1 Enter a new key on the spgate Gateway Key page. [gateway request %2]', Comment = '%1 = the gateway''s message, %2 = gateway request id';
        SellerRevokedErr: Label 'Amazon no longer accepts this seller''s authorization: %1 Nothing can be imported for the seller until it authorizes the app again. [gateway request %2]', Comment = '%1 = the gateway''s message, %2 = gateway request id';
        AppSecretErr: Label 'Amazon refuses the gateway''s app credentials: %1 Nothing can be imported until the spgate operator renews them. [gateway request %2]', Comment = '%1 = the gateway''s message, %2 = gateway request id';
        NoPersonalDataErr: Label 'The gateway key may not read personal data such as addresses: %1 Import without addresses, or ask the spgate operator for a key with the PII permission. [gateway request %2]', Comment = '%1 = the gateway''s message, %2 = gateway request id';
        GatewayErr: Label 'spgate refused the call: HTTP %1 %2: %3 [gateway request %4]', Comment = '%1 = status, %2 = code, %3 = message, %4 = gateway request id';
        AmazonErr: Label 'Amazon answered HTTP %1 %2: %3 %4 [Amazon request %5, gateway request %6]', Comment = '%1 = status, %2 = code, %3 = message, %4 = details, %5 = Amazon request id, %6 = gateway request id';
        UnexpectedAnswerErr: Label 'The gateway answered HTTP %1 with an unexpected body: %2 [gateway request %3]', Comment = '%1 = status, %2 = start of the body, %3 = gateway request id';
        NoPayloadErr: Label 'The gateway answered HTTP %1 without a JSON "payload" object, so no orders could be read [gateway request %2, Amazon request %3]', Comment = '%1 = status, %2 = gateway request id, %3 = Amazon request id';
        PagingLoopErr: Label 'Amazon returned the same NextToken twice; the import stopped after storing %1 orders.', Comment = '%1 = orders stored';

    /// <summary>
    /// Imports every order created after CreatedAfter for one seller and marketplace.
    /// </summary>
    /// <remarks>
    /// Commits after every page of orders: do not call it inside a write transaction that
    /// the caller may still roll back. An error keeps the pages already stored; running the
    /// import again updates them and adds the rest.
    /// </remarks>
    /// <param name="SellerId">The selling partner id, or the seller's name in the gateway's vault.</param>
    /// <param name="MarketplaceId">The marketplace id, for example ATVPDKIKX0DER.</param>
    /// <param name="CreatedAfter">Orders created after this moment are imported; 0DT is refused.</param>
    /// <param name="WithAddress">Ask for the shipping address; the gateway key then needs the PII permission.</param>
    /// <returns>How many orders were inserted or updated and committed.</returns>
    procedure ImportOrders(SellerId: Text; MarketplaceId: Text; CreatedAfter: DateTime; WithAddress: Boolean) StoredCount: Integer
    var
        Uri: Codeunit Uri;
        PayloadJsonObject: JsonObject;
        SeenNextTokens: List of [Text];
        PathAndQuery: Text;
        NextToken: Text;
        PageCount: Integer;
    begin
        if CreatedAfter = 0DT then
            Error(NoCreatedAfterErr);
        PathAndQuery := '/orders/v0/orders?MarketplaceIds=' + Uri.EscapeDataString(MarketplaceId) +
            '&CreatedAfter=' + Uri.EscapeDataString(Format(CreatedAfter, 0, 9)) + '&MaxResultsPerPage=100';
        repeat
            PayloadJsonObject := GetPayload(SellerId, PathAndQuery, WithAddress);
            PageCount := UpsertOrders(SellerId, PayloadJsonObject);
            // One write transaction per page: an error on a later page keeps this one, and no
            // lock on the staging table is held while the next call waits for the gateway.
            Commit();
            StoredCount += PageCount;
            NextToken := ValueAsText(PayloadJsonObject, 'NextToken');
            if NextToken <> '' then begin
                if SeenNextTokens.Contains(NextToken) then
                    Error(PagingLoopErr, StoredCount);
                SeenNextTokens.Add(NextToken);
                PathAndQuery := '/orders/v0/orders?MarketplaceIds=' + Uri.EscapeDataString(MarketplaceId) +
                    '&NextToken=' + Uri.EscapeDataString(NextToken);
            end;
        until NextToken = '';
    end;

    /// <summary>
    /// Stores the gateway client key (spg_...), encrypted when the tenant allows encryption.
    /// </summary>
    /// <param name="GatewayKey">The key that spgate client add printed.</param>
    [NonDebuggable]
    internal procedure SetGatewayKey(GatewayKey: Text)
    begin
        if GatewayKey = '' then
            Error(EmptyKeyErr);
        if EncryptionEnabled() then
            IsolatedStorage.SetEncrypted(KeyStorageTok, GatewayKey, DataScope::Module)
        else
            IsolatedStorage.Set(KeyStorageTok, GatewayKey, DataScope::Module);
    end;

    /// <summary>
    /// Deletes the stored gateway client key, if any.
    /// </summary>
    internal procedure DeleteGatewayKey()
    begin
        if IsolatedStorage.Contains(KeyStorageTok, DataScope::Module) then
            IsolatedStorage.Delete(KeyStorageTok, DataScope::Module);
    end;

    /// <summary>
    /// Tells whether a gateway client key is stored.
    /// </summary>
    /// <returns>True when a key is stored.</returns>
    internal procedure HasGatewayKey(): Boolean
    begin
        exit(IsolatedStorage.Contains(KeyStorageTok, DataScope::Module));
    end;

    local procedure GetPayload(SellerId: Text; PathAndQuery: Text; WithAddress: Boolean): JsonObject
    var
        HttpResponseMessage: HttpResponseMessage;
        RootJsonObject: JsonObject;
        PayloadJsonToken: JsonToken;
        Body: Text;
    begin
        SendWithRetry(SellerId, PathAndQuery, WithAddress, HttpResponseMessage);
        HttpResponseMessage.Content().ReadAs(Body);
        if not HttpResponseMessage.IsSuccessStatusCode() then
            RaiseError(HttpResponseMessage, Body);
        if RootJsonObject.ReadFrom(Body) then
            if RootJsonObject.Get('payload', PayloadJsonToken) then
                if PayloadJsonToken.IsObject() then
                    exit(PayloadJsonToken.AsObject());
        Error(NoPayloadErr, HttpResponseMessage.HttpStatusCode(),
            HeaderValue(HttpResponseMessage, 'X-Spgate-Request-Id'), HeaderValue(HttpResponseMessage, 'x-amzn-RequestId'));
    end;

    local procedure SendWithRetry(SellerId: Text; PathAndQuery: Text; WithAddress: Boolean; var HttpResponseMessage: HttpResponseMessage)
    var
        Attempt: Integer;
        MaxAttempts: Integer;
        StatusCode: Integer;
        ServerErrorRetried: Boolean;
    begin
        MaxAttempts := 5;
        for Attempt := 1 to MaxAttempts do begin
            SendOnce(SellerId, PathAndQuery, WithAddress, HttpResponseMessage);
            StatusCode := HttpResponseMessage.HttpStatusCode();
            if StatusCode = 429 then begin
                if Attempt = MaxAttempts then
                    Error(ThrottledErr, MaxAttempts, HeaderValue(HttpResponseMessage, 'X-Spgate-Request-Id'));
            end else
                if (StatusCode in [502, 503, 504]) and not ServerErrorRetried and (Attempt < MaxAttempts) then
                    ServerErrorRetried := true
                else
                    // An answer to use, or an error for the caller to report. A 401 or 403 is
                    // never retried: the same call gets the same refusal until the key or the
                    // seller's authorization changes.
                    exit;
            // Another attempt follows: wait as long as the gateway asks, at most 60 s.
            Sleep(RetryAfterMs(HttpResponseMessage));
        end;
    end;

    [NonDebuggable]
    local procedure SendOnce(SellerId: Text; PathAndQuery: Text; WithAddress: Boolean; var HttpResponseMessage: HttpResponseMessage)
    var
        HttpClient: HttpClient;
        HttpRequestMessage: HttpRequestMessage;
        RequestHttpHeaders: HttpHeaders;
    begin
        HttpClient.Timeout(120000);
        HttpRequestMessage.Method('GET');
        HttpRequestMessage.SetRequestUri(GatewayBaseUrlTok + PathAndQuery);
        HttpRequestMessage.GetHeaders(RequestHttpHeaders);
        RequestHttpHeaders.Add('Authorization', 'Bearer ' + GetGatewayKey());
        RequestHttpHeaders.Add('X-Spgate-Seller', SellerId);
        // The whole call may take 60 s. The gateway waits for the seller's rate limit at
        // most 30 s (its --max-queue-wait): a slot further away gets 429 with Retry-After
        // at once; a call that Amazon has not answered when the 60 s are up gets 504.
        RequestHttpHeaders.Add('X-Spgate-Deadline-Ms', '60000');
        if WithAddress then
            RequestHttpHeaders.Add('X-Spgate-PII', 'shippingAddress');
        if not HttpClient.Send(HttpRequestMessage, HttpResponseMessage) then
            Error(SendFailedErr, GetLastErrorText());
    end;

    [NonDebuggable]
    local procedure GetGatewayKey(): Text
    var
        GatewayKey: Text;
    begin
        if not IsolatedStorage.Get(KeyStorageTok, DataScope::Module, GatewayKey) then
            Error(NoKeyErr);
        exit(GatewayKey);
    end;

    local procedure RetryAfterMs(HttpResponseMessage: HttpResponseMessage): Integer
    var
        RetryAfter: Text;
        Seconds: Integer;
    begin
        // The gateway sends whole seconds. Anything else (no header, an HTTP date,
        // a number too large for an Integer) waits 5 s.
        RetryAfter := HeaderValue(HttpResponseMessage, 'Retry-After');
        if RetryAfter = '' then
            Seconds := 5
        else
            if not Evaluate(Seconds, RetryAfter) then
                Seconds := 5;
        if Seconds < 1 then
            Seconds := 1;
        // Capped before multiplying, so the product neither overflows nor sleeps for hours.
        if Seconds > 60 then
            Seconds := 60;
        exit(Seconds * 1000);
    end;

    local procedure RaiseError(HttpResponseMessage: HttpResponseMessage; Body: Text)
    var
        RootJsonObject: JsonObject;
        ErrorJsonObject: JsonObject;
        ErrorJsonToken: JsonToken;
        FirstErrorJsonToken: JsonToken;
        ErrorCode: Text;
        ErrorMessage: Text;
        GatewayRequestId: Text;
        AmazonRequestId: Text;
        StatusCode: Integer;
    begin
        StatusCode := HttpResponseMessage.HttpStatusCode();
        GatewayRequestId := HeaderValue(HttpResponseMessage, 'X-Spgate-Request-Id');
        AmazonRequestId := HeaderValue(HttpResponseMessage, 'x-amzn-RequestId');
        if RootJsonObject.ReadFrom(Body) then begin
            // The gateway's own refusal: {"error":{"code","message","requestId"}}
            if RootJsonObject.Get('error', ErrorJsonToken) then
                if ErrorJsonToken.IsObject() then begin
                    ErrorJsonObject := ErrorJsonToken.AsObject();
                    ErrorCode := ValueAsText(ErrorJsonObject, 'code');
                    ErrorMessage := ValueAsText(ErrorJsonObject, 'message');
                    if ValueAsText(ErrorJsonObject, 'requestId') <> '' then
                        GatewayRequestId := ValueAsText(ErrorJsonObject, 'requestId');
                    // The refusals someone in BC can act on get their own message; the
                    // message of every other code names what to do.
                    case ErrorCode of
                        'unauthenticated':
                            Error(KeyRefusedErr, ErrorMessage, GatewayRequestId);
                        'seller_authorization_revoked':
                            Error(SellerRevokedErr, ErrorMessage, GatewayRequestId);
                        'app_secret_invalid':
                            Error(AppSecretErr, ErrorMessage, GatewayRequestId);
                        'pii_forbidden':
                            Error(NoPersonalDataErr, ErrorMessage, GatewayRequestId);
                    end;
                    Error(GatewayErr, StatusCode, ErrorCode, ErrorMessage, GatewayRequestId);
                end;
            // Amazon's error: {"errors":[{"code","message","details"}]}
            if RootJsonObject.Get('errors', ErrorJsonToken) then
                if ErrorJsonToken.IsArray() then
                    if ErrorJsonToken.AsArray().Get(0, FirstErrorJsonToken) then
                        if FirstErrorJsonToken.IsObject() then begin
                            ErrorJsonObject := FirstErrorJsonToken.AsObject();
                            Error(AmazonErr, StatusCode, ValueAsText(ErrorJsonObject, 'code'), ValueAsText(ErrorJsonObject, 'message'),
                                ValueAsText(ErrorJsonObject, 'details'), AmazonRequestId, GatewayRequestId);
                        end;
        end;
        Error(UnexpectedAnswerErr, StatusCode, CopyStr(Body, 1, 250), GatewayRequestId);
    end;

    local procedure UpsertOrders(SellerId: Text; PayloadJsonObject: JsonObject) OrderCount: Integer
    var
        AmazonOrderStaging: Record AmazonOrderStaging;
        OrdersJsonArray: JsonArray;
        OrderJsonObject: JsonObject;
        OrdersJsonToken: JsonToken;
        OrderJsonToken: JsonToken;
        OrderId: Code[30];
        IsNew: Boolean;
    begin
        if not PayloadJsonObject.Get('Orders', OrdersJsonToken) then
            exit(0);
        if not OrdersJsonToken.IsArray() then
            exit(0);
        OrdersJsonArray := OrdersJsonToken.AsArray();
        foreach OrderJsonToken in OrdersJsonArray do
            if OrderJsonToken.IsObject() then begin
                OrderJsonObject := OrderJsonToken.AsObject();
                OrderId := CopyStr(ValueAsText(OrderJsonObject, 'AmazonOrderId'), 1, MaxStrLen(OrderId));
                if OrderId <> '' then begin
                    IsNew := not AmazonOrderStaging.Get(OrderId);
                    if IsNew then begin
                        AmazonOrderStaging.Init();
                        AmazonOrderStaging."Amazon Order Id" := OrderId;
                    end;
                    SetOrderFields(AmazonOrderStaging, SellerId, OrderJsonObject);
                    if IsNew then
                        AmazonOrderStaging.Insert(true)
                    else
                        AmazonOrderStaging.Modify(true);
                    OrderCount += 1;
                end;
            end;
    end;

    local procedure SetOrderFields(var AmazonOrderStaging: Record AmazonOrderStaging; SellerId: Text; OrderJsonObject: JsonObject)
    var
        TotalJsonObject: JsonObject;
        ValueJsonToken: JsonToken;
    begin
        // Every field comes from this answer: what it leaves out is cleared, not kept from
        // an earlier import (the total of an order since canceled, a city from a run with addresses).
        AmazonOrderStaging."Seller Id" := CopyStr(SellerId, 1, MaxStrLen(AmazonOrderStaging."Seller Id"));
        AmazonOrderStaging."Marketplace Id" := CopyStr(ValueAsText(OrderJsonObject, 'MarketplaceId'), 1, MaxStrLen(AmazonOrderStaging."Marketplace Id"));
        AmazonOrderStaging."Order Status" := CopyStr(ValueAsText(OrderJsonObject, 'OrderStatus'), 1, MaxStrLen(AmazonOrderStaging."Order Status"));
        if not Evaluate(AmazonOrderStaging."Purchase Date", ValueAsText(OrderJsonObject, 'PurchaseDate'), 9) then
            AmazonOrderStaging."Purchase Date" := 0DT;
        AmazonOrderStaging."Order Total" := 0;
        AmazonOrderStaging."Currency Code" := '';
        AmazonOrderStaging."Ship-to City" := '';
        if OrderJsonObject.Get('OrderTotal', ValueJsonToken) then
            if ValueJsonToken.IsObject() then begin
                TotalJsonObject := ValueJsonToken.AsObject();
                if not Evaluate(AmazonOrderStaging."Order Total", ValueAsText(TotalJsonObject, 'Amount'), 9) then
                    AmazonOrderStaging."Order Total" := 0;
                AmazonOrderStaging."Currency Code" := CopyStr(ValueAsText(TotalJsonObject, 'CurrencyCode'), 1, MaxStrLen(AmazonOrderStaging."Currency Code"));
            end;
        if OrderJsonObject.Get('ShippingAddress', ValueJsonToken) then
            if ValueJsonToken.IsObject() then
                AmazonOrderStaging."Ship-to City" := CopyStr(ValueAsText(ValueJsonToken.AsObject(), 'City'), 1, MaxStrLen(AmazonOrderStaging."Ship-to City"));
        AmazonOrderStaging."Imported At" := CurrentDateTime();
    end;

    local procedure ValueAsText(SourceJsonObject: JsonObject; Name: Text): Text
    var
        ValueJsonToken: JsonToken;
    begin
        if not SourceJsonObject.Get(Name, ValueJsonToken) then
            exit('');
        if not ValueJsonToken.IsValue() then
            exit('');
        if ValueJsonToken.AsValue().IsNull() or ValueJsonToken.AsValue().IsUndefined() then
            exit('');
        exit(ValueJsonToken.AsValue().AsText());
    end;

    local procedure HeaderValue(HttpResponseMessage: HttpResponseMessage; Name: Text): Text
    var
        Values: List of [Text];
    begin
        if HttpResponseMessage.Headers().GetValues(Name, Values) then
            if Values.Count() > 0 then
                exit(Values.Get(1));
        exit('');
    end;
}
