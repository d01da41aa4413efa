package amazontest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Listings Items API 2021-08-01 (listingsItems_2021-08-01.json):
// getListingsItem, putListingsItem, patchListingsItem and
// deleteListingsItem on /listings/2021-08-01/items/{sellerId}/{sku}.
//
// Each seller starts with no listings; what it puts is kept in memory, per
// SKU and marketplace, until it is deleted. The SKU is the {sku} path
// segment decoded exactly once (routes.go), so Amazon's rule that the SKU
// travels URL-encoded holds: AB%2F12 is the SKU "AB/12", 50%25 is "50%".
//
// What the emulator checks of a submission is product-type independent:
// the body's shape (400), that a full listing (requirements LISTING or
// LISTING_PRODUCT_ONLY) names an item_name (INVALID with issue 90220), that
// a patch addresses a listing that exists in the marketplace (INVALID with
// issue LISTING_NOT_FOUND, the emulator's code). Accepted submissions take
// effect at once; Amazon processes them asynchronously.

// Listing limits.
const (
	// maxSKULength is Amazon's limit on seller SKUs (characters).
	maxSKULength = 40
	// maxListingsPerSeller bounds the in-memory store.
	maxListingsPerSeller = 100_000
)

// listingStore holds the sellers' listings.
type listingStore struct {
	mu       sync.Mutex
	bySeller map[string]map[string]*listing // seller id → SKU → listing
	seq      uint64                         // submissions made, for their ids
	seed     uint64
}

func newListingStore(seed int64) *listingStore {
	return &listingStore{bySeller: map[string]map[string]*listing{}, seed: uint64(seed)}
}

// listing is one SKU of a seller: what was put in each marketplace.
type listing struct {
	mkts map[string]*listingData // marketplace id → data
}

type listingData struct {
	productType  string
	requirements string
	attributes   map[string]json.RawMessage
	created      time.Time
	updated      time.Time
}

func (d *listingData) clone() *listingData {
	cp := *d
	cp.attributes = maps.Clone(d.attributes)
	return &cp
}

// submissionID returns a fresh uuid-shaped submission id. Callers hold mu.
func (ls *listingStore) submissionIDLocked() string {
	ls.seq++
	a := splitmix(ls.seed ^ 0x115e_71b6 ^ ls.seq)
	b := splitmix(a ^ ls.seq<<1)
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x",
		uint32(a>>32), uint16(a>>16), uint16(a)&0xfff, (uint16(b>>48)&0x3fff)|0x8000, b&0xffffffffffff)
}

// ListingSKUs returns the SKUs a seller has listed, in byte order, exactly
// as the emulator decoded them from the request paths.
func (s *Server) ListingSKUs(sellerID string) []string {
	ls := s.listings
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return slices.Sorted(maps.Keys(ls.bySeller[sellerID]))
}

// asinFor makes a stable ASIN-shaped id for a seller's SKU.
func asinFor(sellerID, sku string) string {
	h := fnv.New64a()
	h.Write([]byte(sellerID))
	h.Write([]byte{0})
	h.Write([]byte(sku))
	x := h.Sum64()
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := []byte("B0________")
	for i := 2; i < len(b); i++ {
		b[i] = digits[x%36]
		x /= 36
	}
	return string(b)
}

// --- wire types -------------------------------------------------------------

type liIssue struct {
	Code           string   `json:"code"`
	Message        string   `json:"message"`
	Severity       string   `json:"severity"`
	AttributeNames []string `json:"attributeNames,omitempty"`
	Categories     []string `json:"categories"`
	MarketplaceIDs []string `json:"marketplaceIds,omitempty"`
}

type liIdentifiers struct {
	MarketplaceID string `json:"marketplaceId"`
	ASIN          string `json:"asin,omitempty"`
}

type liSubmission struct {
	SKU          string           `json:"sku"`
	Status       string           `json:"status"`
	SubmissionID string           `json:"submissionId"`
	Issues       *[]liIssue       `json:"issues,omitempty"`
	Identifiers  *[]liIdentifiers `json:"identifiers,omitempty"`
}

type liSummary struct {
	MarketplaceID   string   `json:"marketplaceId"`
	ASIN            string   `json:"asin,omitempty"`
	ProductType     string   `json:"productType"`
	ConditionType   string   `json:"conditionType,omitempty"`
	Status          []string `json:"status"`
	ItemName        string   `json:"itemName,omitempty"`
	CreatedDate     string   `json:"createdDate"`
	LastUpdatedDate string   `json:"lastUpdatedDate"`
}

type liMoney struct {
	CurrencyCode string `json:"currencyCode"`
	Amount       string `json:"amount"`
}

type liOffer struct {
	MarketplaceID string  `json:"marketplaceId"`
	OfferType     string  `json:"offerType"`
	Price         liMoney `json:"price"`
}

type liFulfillment struct {
	FulfillmentChannelCode string `json:"fulfillmentChannelCode"`
	Quantity               *int   `json:"quantity,omitempty"`
}

type liRelationships struct {
	MarketplaceID string `json:"marketplaceId"`
	Relationships []any  `json:"relationships"`
}

type liProductType struct {
	MarketplaceID string `json:"marketplaceId"`
	ProductType   string `json:"productType"`
}

type liItem struct {
	SKU                     string             `json:"sku"`
	Summaries               *[]liSummary       `json:"summaries,omitempty"`
	Attributes              json.RawMessage    `json:"attributes,omitempty"`
	Issues                  *[]liIssue         `json:"issues,omitempty"`
	Offers                  *[]liOffer         `json:"offers,omitempty"`
	FulfillmentAvailability *[]liFulfillment   `json:"fulfillmentAvailability,omitempty"`
	Procurement             *[]any             `json:"procurement,omitempty"`
	Relationships           *[]liRelationships `json:"relationships,omitempty"`
	ProductTypes            *[]liProductType   `json:"productTypes,omitempty"`
}

type liPutRequest struct {
	ProductType  *string                    `json:"productType"`
	Requirements *string                    `json:"requirements"`
	Attributes   map[string]json.RawMessage `json:"attributes"`
}

type liPatch struct {
	Op    string            `json:"op"`
	Path  string            `json:"path"`
	Value []json.RawMessage `json:"value"`
}

type liPatchRequest struct {
	ProductType *string   `json:"productType"`
	Patches     []liPatch `json:"patches"`
}

// The model's enums.
var (
	liGetIncluded    = []string{"summaries", "attributes", "issues", "offers", "fulfillmentAvailability", "procurement", "relationships", "productTypes"}
	liSubmitIncluded = []string{"identifiers", "issues"}
	liRequirements   = []string{"LISTING", "LISTING_PRODUCT_ONLY", "LISTING_OFFER_ONLY"}
	liConditions     = []string{"new_new", "new_open_box", "new_oem", "refurbished_refurbished", "used_like_new", "used_very_good", "used_good", "used_acceptable", "collectible_like_new", "collectible_very_good", "collectible_good", "collectible_acceptable", "club_club"}
	issueLocaleRE    = regexp.MustCompile(`^[a-z]{2,3}_[A-Z]{2}$`)
)

// --- request parsing --------------------------------------------------------

// liRequest is what every listings operation reads from the request.
type liRequest struct {
	sd       *sellerData
	sku      string
	mkts     []string
	included []string
	preview  bool
}

// listingsRequest checks the path, the caller and the query of a listings
// call. allowed names the query parameters of the operation; included is
// its includedData enum (nil: no such parameter); maxMkts bounds
// marketplaceIds (0: no bound).
func listingsRequest(s *Server, c *call, allowed, included []string, maxMkts int) (*liRequest, bool) {
	vals, ok := parseQuery(c, allowed...)
	if !ok {
		return nil, false
	}
	_, sd, ok := dataOf(s, c)
	if !ok {
		return nil, false
	}
	if c.params["sellerId"] != c.seller.ID {
		// A seller's token reaches only its own listings.
		accessDenied(c)
		return nil, false
	}
	req := &liRequest{sd: sd, sku: c.params["sku"]}
	if !utf8.ValidString(req.sku) {
		invalidInput(c, "The sku path parameter is not valid UTF-8 once URL-decoded.")
		return nil, false
	}
	req.mkts = listParam(vals, "marketplaceIds")
	if len(req.mkts) == 0 {
		invalidInput(c, "Missing required parameter 'marketplaceIds'.")
		return nil, false
	}
	if maxMkts > 0 && len(req.mkts) > maxMkts {
		invalidInput(c, "marketplaceIds takes "+strconv.Itoa(maxMkts)+" marketplace id for this operation; "+strconv.Itoa(len(req.mkts))+" were given.")
		return nil, false
	}
	if _, ok := checkMarketplaces(c, sd, req.mkts, "marketplaceIds"); !ok {
		return nil, false
	}
	req.mkts = dedupe(req.mkts)
	if loc := vals.Get("issueLocale"); vals.Has("issueLocale") && !issueLocaleRE.MatchString(loc) {
		invalidInput(c, "Invalid issueLocale "+quoteParam(loc)+": use a locale such as en_US or fr_FR.")
		return nil, false
	}
	if included != nil {
		req.included = listParam(vals, "includedData")
		if !checkEnum(c, req.included, "includedData", included...) {
			return nil, false
		}
	}
	if vals.Has("mode") {
		if m := vals.Get("mode"); m != "VALIDATION_PREVIEW" {
			invalidInput(c, "Invalid mode "+quoteParam(m)+": the only mode is VALIDATION_PREVIEW.")
			return nil, false
		}
		req.preview = true
	}
	return req, true
}

func dedupe(xs []string) []string {
	out := xs[:0:0]
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// readListingsBody reads a JSON body into v, strictly. It answers 415, 413
// or 400 itself.
func readListingsBody(c *call, v any, what string) bool {
	if ct := c.r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			writeError(c.w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "The request's Content-Type is not supported.", "Send the body as application/json.")
			return false
		}
	}
	body, err := io.ReadAll(c.r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(c.w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "The request is too large.", "The body is larger than "+strconv.FormatInt(tooBig.Limit, 10)+" bytes.")
			return false
		}
		invalidInput(c, "The request body could not be read: it was cut off.")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		invalidInput(c, "The request body is not a valid "+what+" JSON object.")
		return false
	}
	return true
}

// submission writes a ListingsItemSubmissionResponse.
func submission(c *call, ls *listingStore, req *liRequest, status string, issues []liIssue) {
	ls.mu.Lock()
	id := ls.submissionIDLocked()
	ls.mu.Unlock()
	out := liSubmission{SKU: req.sku, Status: status, SubmissionID: id}
	if req.included == nil || len(req.included) == 0 || slices.Contains(req.included, "issues") {
		if issues == nil {
			issues = []liIssue{}
		}
		out.Issues = &issues
	}
	if slices.Contains(req.included, "identifiers") {
		ids := make([]liIdentifiers, 0, len(req.mkts))
		if status != "INVALID" {
			for _, m := range req.mkts {
				ids = append(ids, liIdentifiers{MarketplaceID: m, ASIN: asinFor(c.seller.ID, req.sku)})
			}
		}
		out.Identifiers = &ids
	}
	writeJSON(c.w, http.StatusOK, out)
}

// identifiersNeedPreview refuses includedData=identifiers outside
// VALIDATION_PREVIEW, as the model states.
func identifiersNeedPreview(c *call, req *liRequest) bool {
	if slices.Contains(req.included, "identifiers") && !req.preview {
		invalidInput(c, "includedData=identifiers can only be requested with mode=VALIDATION_PREVIEW.")
		return false
	}
	return true
}

// --- operations -------------------------------------------------------------

func handleGetListingsItem(s *Server, c *call) {
	req, ok := listingsRequest(s, c, []string{"marketplaceIds", "issueLocale", "includedData"}, liGetIncluded, 0)
	if !ok {
		return
	}
	found, data := s.listings.lookup(c.seller.ID, req.sku, req.mkts)
	if len(found) == 0 {
		writeError(c.w, http.StatusNotFound, "NOT_FOUND", "SKU '"+req.sku+"' not found in marketplace "+strings.Join(req.mkts, ",")+".", "")
		return
	}
	inc := req.included
	if len(inc) == 0 {
		inc = []string{"summaries"}
	}
	writeJSON(c.w, http.StatusOK, listingsItem(req.sku, asinFor(c.seller.ID, req.sku), inc, found, data))
}

// lookup copies the seller's listing of sku in those of mkts where it
// exists, so that rendering it needs no lock.
func (ls *listingStore) lookup(seller, sku string, mkts []string) (found []string, data []*listingData) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if l := ls.bySeller[seller][sku]; l != nil {
		for _, m := range mkts {
			if d := l.mkts[m]; d != nil {
				found = append(found, m)
				data = append(data, d.clone())
			}
		}
	}
	return found, data
}

// listingsItem renders the parts inc names of a listing found in the
// marketplaces found, data[i] being its data in found[i].
func listingsItem(sku, asin string, inc, found []string, data []*listingData) liItem {
	out := liItem{SKU: sku}
	for _, part := range inc {
		switch part {
		case "summaries":
			v := make([]liSummary, len(found))
			for i, m := range found {
				v[i] = summaryOf(m, asin, data[i])
			}
			out.Summaries = &v
		case "attributes":
			out.Attributes = mergedAttributes(data)
		case "issues":
			v := []liIssue{}
			out.Issues = &v
		case "offers":
			v := []liOffer{}
			for i, m := range found {
				if p, ok := offerPrice(m, data[i]); ok {
					v = append(v, liOffer{MarketplaceID: m, OfferType: "B2C", Price: p})
				}
			}
			out.Offers = &v
		case "fulfillmentAvailability":
			v := mergedFulfillment(data)
			out.FulfillmentAvailability = &v
		case "procurement":
			v := []any{}
			out.Procurement = &v
		case "relationships":
			v := make([]liRelationships, len(found))
			for i, m := range found {
				v[i] = liRelationships{MarketplaceID: m, Relationships: []any{}}
			}
			out.Relationships = &v
		case "productTypes":
			v := make([]liProductType, len(found))
			for i, m := range found {
				v[i] = liProductType{MarketplaceID: m, ProductType: data[i].productType}
			}
			out.ProductTypes = &v
		}
	}
	return out
}

// mergedAttributes are the attributes of every marketplace, the first one
// that has an attribute giving its value.
func mergedAttributes(data []*listingData) json.RawMessage {
	merged := map[string]json.RawMessage{}
	for _, d := range data {
		for k, a := range d.attributes {
			if _, seen := merged[k]; !seen {
				merged[k] = a
			}
		}
	}
	b, err := json.Marshal(merged)
	if err != nil {
		panic(err) // raw messages were checked as JSON when stored
	}
	return b
}

// mergedFulfillment is each fulfillment channel once, as the first
// marketplace that has it states it.
func mergedFulfillment(data []*listingData) []liFulfillment {
	v := []liFulfillment{}
	seen := map[string]bool{}
	for _, d := range data {
		for _, f := range fulfillmentOf(d) {
			if !seen[f.FulfillmentChannelCode] {
				seen[f.FulfillmentChannelCode] = true
				v = append(v, f)
			}
		}
	}
	return v
}

func handlePutListingsItem(s *Server, c *call) {
	req, ok := listingsRequest(s, c, []string{"marketplaceIds", "issueLocale", "includedData", "mode"}, liSubmitIncluded, 1)
	if !ok || !identifiersNeedPreview(c, req) {
		return
	}
	if n := utf8.RuneCountInString(req.sku); n > maxSKULength {
		invalidInput(c, "The SKU has "+strconv.Itoa(n)+" characters; Amazon allows at most "+strconv.Itoa(maxSKULength)+".")
		return
	}
	var body liPutRequest
	if !readListingsBody(c, &body, "ListingsItemPutRequest") {
		return
	}
	switch {
	case body.ProductType == nil || *body.ProductType == "":
		invalidInput(c, "The request body lacks the required productType.")
		return
	case body.Attributes == nil:
		invalidInput(c, "The request body lacks the required attributes object.")
		return
	case body.Requirements != nil && !slices.Contains(liRequirements, *body.Requirements):
		invalidInput(c, "Invalid requirements "+quoteParam(*body.Requirements)+": use LISTING, LISTING_PRODUCT_ONLY or LISTING_OFFER_ONLY.")
		return
	}
	for name, v := range body.Attributes {
		if !validAttribute(v) {
			invalidInput(c, "Attribute "+quoteParam(name)+" must be an array of objects.")
			return
		}
	}
	requirements := "LISTING"
	if body.Requirements != nil {
		requirements = *body.Requirements
	}
	var issues []liIssue
	if requirements != "LISTING_OFFER_ONLY" {
		if _, ok := body.Attributes["item_name"]; !ok {
			issues = append(issues, liIssue{Code: "90220", Message: "'item_name' is required but not supplied.", Severity: "ERROR",
				AttributeNames: []string{"item_name"}, Categories: []string{"MISSING_ATTRIBUTE"}, MarketplaceIDs: req.mkts})
		}
	}
	status := "ACCEPTED"
	switch {
	case len(issues) > 0:
		status = "INVALID"
	case req.preview:
		status = "VALID"
	}
	if status == "ACCEPTED" {
		ls := s.listings
		ls.mu.Lock()
		sl := ls.bySeller[c.seller.ID]
		if sl == nil {
			sl = map[string]*listing{}
			ls.bySeller[c.seller.ID] = sl
		}
		l := sl[req.sku]
		if l == nil {
			if len(sl) >= maxListingsPerSeller {
				ls.mu.Unlock()
				invalidInput(c, "The emulator keeps at most "+strconv.Itoa(maxListingsPerSeller)+" listings per seller; delete some first.")
				return
			}
			l = &listing{mkts: map[string]*listingData{}}
			sl[req.sku] = l
		}
		m := req.mkts[0]
		created := c.now
		if old := l.mkts[m]; old != nil {
			created = old.created
		}
		l.mkts[m] = &listingData{productType: *body.ProductType, requirements: requirements, attributes: body.Attributes, created: created, updated: c.now}
		ls.mu.Unlock()
	}
	submission(c, s.listings, req, status, issues)
}

func handlePatchListingsItem(s *Server, c *call) {
	req, ok := listingsRequest(s, c, []string{"marketplaceIds", "issueLocale", "includedData", "mode"}, liSubmitIncluded, 0)
	if !ok || !identifiersNeedPreview(c, req) {
		return
	}
	var body liPatchRequest
	if !readListingsBody(c, &body, "ListingsItemPatchRequest") {
		return
	}
	switch {
	case body.ProductType == nil || *body.ProductType == "":
		invalidInput(c, "The request body lacks the required productType.")
		return
	case len(body.Patches) == 0:
		invalidInput(c, "The request body needs at least one patch in patches.")
		return
	}
	names := make([]string, len(body.Patches))
	for i, p := range body.Patches {
		name, ok := attributePointer(p.Path)
		if !ok {
			invalidInput(c, "patches["+strconv.Itoa(i)+"].path "+quoteParam(p.Path)+" is not a top-level attribute such as /attributes/item_name; nested attributes cannot be patched.")
			return
		}
		names[i] = name
		switch p.Op {
		case "add", "replace", "merge":
			if len(p.Value) == 0 {
				invalidInput(c, "patches["+strconv.Itoa(i)+"] ("+p.Op+") needs a value: an array of objects.")
				return
			}
		case "delete":
		default:
			invalidInput(c, "patches["+strconv.Itoa(i)+"].op "+quoteParam(p.Op)+" is not one of add, replace, merge, delete.")
			return
		}
		for _, v := range p.Value {
			if !isJSONObject(v) {
				invalidInput(c, "patches["+strconv.Itoa(i)+"].value must be an array of objects.")
				return
			}
		}
	}
	ls := s.listings
	ls.mu.Lock()
	l := ls.bySeller[c.seller.ID][req.sku]
	var missing []string
	for _, m := range req.mkts {
		if l == nil || l.mkts[m] == nil {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		ls.mu.Unlock()
		submission(c, ls, req, "INVALID", []liIssue{{Code: "LISTING_NOT_FOUND", Severity: "ERROR", Categories: []string{},
			Message: "SKU '" + req.sku + "' has no listing in marketplace " + strings.Join(missing, ",") + " to patch; create it with putListingsItem.", MarketplaceIDs: missing}})
		return
	}
	if !req.preview {
		for _, m := range req.mkts {
			d := l.mkts[m].clone()
			for i, p := range body.Patches {
				applyPatch(d.attributes, names[i], p)
			}
			d.productType = *body.ProductType
			d.updated = c.now
			l.mkts[m] = d
		}
	}
	ls.mu.Unlock()
	status := "ACCEPTED"
	if req.preview {
		status = "VALID"
	}
	submission(c, ls, req, status, nil)
}

func handleDeleteListingsItem(s *Server, c *call) {
	req, ok := listingsRequest(s, c, []string{"marketplaceIds", "issueLocale"}, nil, 1)
	if !ok {
		return
	}
	ls := s.listings
	ls.mu.Lock()
	if sl := ls.bySeller[c.seller.ID]; sl != nil {
		if l := sl[req.sku]; l != nil {
			delete(l.mkts, req.mkts[0])
			if len(l.mkts) == 0 {
				delete(sl, req.sku)
			}
		}
	}
	ls.mu.Unlock()
	// Deleting a listing that does not exist is accepted too: Amazon
	// processes deletions asynchronously and reports nothing here.
	submission(c, ls, req, "ACCEPTED", nil)
}

// --- attributes -------------------------------------------------------------

// attributePointer returns the attribute name of a JSON Pointer
// "/attributes/<name>" (RFC 6901 escapes decoded).
func attributePointer(p string) (string, bool) {
	name, ok := strings.CutPrefix(p, "/attributes/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", false
	}
	name = strings.ReplaceAll(strings.ReplaceAll(name, "~1", "/"), "~0", "~")
	return name, true
}

func isJSONObject(v json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(v, &m) == nil && m != nil
}

// validAttribute reports whether v is an attribute value: an array of
// objects.
func validAttribute(v json.RawMessage) bool {
	var xs []json.RawMessage
	if json.Unmarshal(v, &xs) != nil || xs == nil {
		return false
	}
	for _, x := range xs {
		if !isJSONObject(x) {
			return false
		}
	}
	return true
}

// applyPatch applies one patch to attrs: add and replace set the
// attribute, merge merges the objects index by index, delete removes the
// attribute.
func applyPatch(attrs map[string]json.RawMessage, name string, p liPatch) {
	if p.Op == "delete" {
		delete(attrs, name)
		return
	}
	vals := p.Value
	if p.Op == "merge" {
		var old []map[string]json.RawMessage
		_ = json.Unmarshal(attrs[name], &old)
		for i, v := range p.Value {
			var m map[string]json.RawMessage
			_ = json.Unmarshal(v, &m)
			if i < len(old) {
				maps.Copy(old[i], m)
			} else {
				old = append(old, m)
			}
		}
		b, _ := json.Marshal(old)
		attrs[name] = b
		return
	}
	b, _ := json.Marshal(vals)
	attrs[name] = b
}

// firstString returns attrs[name][0].value when it is a string.
func firstString(attrs map[string]json.RawMessage, name string) string {
	var xs []struct {
		Value any `json:"value"`
	}
	if json.Unmarshal(attrs[name], &xs) != nil || len(xs) == 0 {
		return ""
	}
	s, _ := xs[0].Value.(string)
	return s
}

func summaryOf(mkt, asin string, d *listingData) liSummary {
	sum := liSummary{
		MarketplaceID: mkt, ASIN: asin, ProductType: d.productType,
		Status: []string{}, ItemName: firstString(d.attributes, "item_name"),
		CreatedDate: d.created.UTC().Format(time.RFC3339), LastUpdatedDate: d.updated.UTC().Format(time.RFC3339),
	}
	if ct := firstString(d.attributes, "condition_type"); slices.Contains(liConditions, ct) {
		sum.ConditionType = ct
	}
	if d.requirements != "LISTING_PRODUCT_ONLY" {
		sum.Status = append(sum.Status, "DISCOVERABLE")
		if _, priced := offerPrice(mkt, d); priced && available(d) {
			sum.Status = []string{"BUYABLE", "DISCOVERABLE"}
		}
	}
	return sum
}

// offerPrice reads the price of purchasable_offer in mkt (or without a
// marketplace) from the attributes.
func offerPrice(mkt string, d *listingData) (liMoney, bool) {
	var offers []struct {
		MarketplaceID string `json:"marketplace_id"`
		Currency      string `json:"currency"`
		OurPrice      []struct {
			Schedule []struct {
				ValueWithTax json.Number `json:"value_with_tax"`
			} `json:"schedule"`
		} `json:"our_price"`
	}
	if json.Unmarshal(d.attributes["purchasable_offer"], &offers) != nil {
		return liMoney{}, false
	}
	for _, o := range offers {
		if o.MarketplaceID != "" && o.MarketplaceID != mkt {
			continue
		}
		if len(o.OurPrice) == 0 || len(o.OurPrice[0].Schedule) == 0 || o.OurPrice[0].Schedule[0].ValueWithTax == "" {
			continue
		}
		cur := o.Currency
		if cur == "" {
			if m, ok := marketplaceByID(mkt); ok {
				cur = m.Currency
			}
		}
		return liMoney{CurrencyCode: cur, Amount: o.OurPrice[0].Schedule[0].ValueWithTax.String()}, true
	}
	return liMoney{}, false
}

// fulfillmentOf reads fulfillment_availability from the attributes.
func fulfillmentOf(d *listingData) []liFulfillment {
	var fa []struct {
		Code     string `json:"fulfillment_channel_code"`
		Quantity *int   `json:"quantity"`
	}
	_ = json.Unmarshal(d.attributes["fulfillment_availability"], &fa)
	var out []liFulfillment
	for _, f := range fa {
		if f.Code == "" {
			continue
		}
		q := f.Quantity
		if q != nil && *q < 0 {
			zero := 0
			q = &zero
		}
		out = append(out, liFulfillment{FulfillmentChannelCode: f.Code, Quantity: q})
	}
	return out
}

// available reports whether the listing has stock (or states none, as an
// FBA listing whose quantity Amazon tracks).
func available(d *listingData) bool {
	fs := fulfillmentOf(d)
	if len(fs) == 0 {
		return true
	}
	for _, f := range fs {
		if f.Quantity == nil || *f.Quantity > 0 {
			return true
		}
	}
	return false
}
