package amazontest

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash/fnv"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
)

// dataWindow is how far back before the data set's "now" orders are placed.
const dataWindow = 90 * 24 * time.Hour

// Order statuses of the Orders API v0, in a fixed order; an order stores the index.
const (
	stPending uint8 = iota
	stUnshipped
	stPartiallyShipped
	stShipped
	stCanceled
	stUnfulfillable
	stInvoiceUnconfirmed
	stPendingAvailability
	numStatuses
)

var statusNames = [numStatuses]string{"Pending", "Unshipped", "PartiallyShipped", "Shipped", "Canceled", "Unfulfillable", "InvoiceUnconfirmed", "PendingAvailability"}

// Order flags.
const (
	flPrime uint8 = 1 << iota
	flBusiness
	flPreorder
	flExpedited
	flGift
)

// order is one generated order, kept compact (24 bytes); everything else
// (items, addresses, buyer) is derived from the order's key on demand.
type order struct {
	purchase int64 // unix seconds
	updated  int64 // unix seconds, >= purchase
	status   uint8
	afn      bool
	mkt      uint8 // index into sellerData.mkts
	items    uint8 // 1..4
	flags    uint8
}

// sellerData holds one seller's orders, sorted by purchase date, and an
// index sorted by last-update date so both kinds of range query are binary
// searches.
type sellerData struct {
	seller *Seller
	tag    uint32 // 0..9,999,999: the seller half of the order-id plaintext
	key    uint64 // per-seller hash key
	mkts   []*marketplaceInfo
	orders []order
	byUpd  []int32 // indices into orders, sorted by (updated, index)
}

// dataset is the emulator's seeded, deterministic order data. Same seed,
// same sellers, same size and same now give the same data.
type dataset struct {
	seed     int64
	now      time.Time
	perSel   int
	feistel  [4]uint64
	tokenKey []byte

	// itemsPageSize is how many order items getOrderItems returns per page.
	itemsPageSize int
	// strictPII makes getOrderAddress, getOrderBuyerInfo and
	// getOrderItemsBuyerInfo answer 403 to a call without a Restricted Data
	// Token instead of returning their non-PII part.
	strictPII bool

	mu      sync.RWMutex
	sellers map[string]*sellerData
}

// newDataset generates ordersPerSeller orders for each seller, placed over
// the 90 days before now. Sellers unknown at start-up get their orders
// generated on first use.
func newDataset(seed int64, sellers []*Seller, ordersPerSeller int, now time.Time) *dataset {
	if ordersPerSeller < 0 {
		ordersPerSeller = 0
	}
	d := &dataset{
		seed:          seed,
		now:           now.UTC().Truncate(time.Second),
		perSel:        ordersPerSeller,
		itemsPageSize: 30,
		sellers:       make(map[string]*sellerData, len(sellers)),
	}
	for i := range d.feistel {
		d.feistel[i] = mix64(uint64(seed) ^ uint64(i+1)*0x9e3779b97f4a7c15)
	}
	mac := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("amazontest next-token key"), uint64(seed)))
	d.tokenKey = mac[:]
	if len(sellers) > 1 && ordersPerSeller >= 5000 {
		// Generate sellers in parallel; each is independent of the others.
		var wg sync.WaitGroup
		out := make([]*sellerData, len(sellers))
		for i, s := range sellers {
			wg.Go(func() { out[i] = d.generate(s) })
		}
		wg.Wait()
		for _, sd := range out {
			d.sellers[sd.seller.ID] = sd
		}
	} else {
		for _, s := range sellers {
			d.sellers[s.ID] = d.generate(s)
		}
	}
	return d
}

// forSeller returns the seller's data, generating it on first use.
func (d *dataset) forSeller(s *Seller) *sellerData {
	d.mu.RLock()
	sd := d.sellers[s.ID]
	d.mu.RUnlock()
	if sd != nil {
		return sd
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if sd = d.sellers[s.ID]; sd == nil {
		sd = d.generate(s)
		d.sellers[s.ID] = sd
	}
	return sd
}

// mix64 is SplitMix64's finalizer: a fast, well-distributed 64-bit hash.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// rng is a tiny deterministic generator (SplitMix64).
type rng struct{ s uint64 }

func (r *rng) next() uint64 { r.s += 0x9e3779b97f4a7c15; return mix64(r.s) }

// intn returns a value in [0, n).
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// float returns a value in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

func (d *dataset) generate(s *Seller) *sellerData {
	h := fnv.New64a()
	h.Write([]byte(s.ID))
	key := mix64(h.Sum64() ^ uint64(d.seed))
	sd := &sellerData{seller: s, tag: uint32(key % 10_000_000), key: key}
	ids := s.Marketplaces
	if len(ids) == 0 {
		ids = regionMarketplaceIDs(s.Region)
	}
	for _, id := range ids {
		if m, ok := marketplaceByID(id); ok && (s.Region == "" || m.Region == s.Region) {
			sd.mkts = append(sd.mkts, m)
		}
	}
	if len(sd.mkts) == 0 {
		sd.mkts = append(sd.mkts, &marketplaceTable[0])
	}
	n := d.perSel
	sd.orders = make([]order, n)
	end := d.now.Add(-time.Minute).Unix()
	span := float64(int64(dataWindow / time.Second))
	start := end - int64(span)
	nowU := d.now.Unix()
	r := rng{s: key}
	for i := range sd.orders {
		o := &sd.orders[i]
		// Stratified uniform times keep the slice sorted by purchase date.
		o.purchase = start + int64((float64(i)+r.float())*span/float64(n))
		age := float64(nowU-o.purchase) / 86400
		// The first marketplace gets most orders, as a home marketplace does.
		if len(sd.mkts) > 1 && r.intn(10) >= 7 {
			o.mkt = uint8(1 + r.intn(min(len(sd.mkts)-1, 255)))
		}
		o.afn = r.intn(100) < 45
		o.items = uint8(1 + weighted(&r, 70, 20, 7, 3))
		if r.intn(100) < 55 {
			o.flags |= flPrime
		}
		if r.intn(100) < 8 {
			o.flags |= flBusiness
		}
		if r.intn(100) < 2 {
			o.flags |= flPreorder
		}
		if r.intn(100) < 15 {
			o.flags |= flExpedited
		}
		if r.intn(100) < 4 {
			o.flags |= flGift
		}
		o.status = pickStatus(&r, age, o.afn, o.items, o.flags&flPreorder != 0)
		var delay float64 // seconds after purchase
		switch o.status {
		case stPending, stPendingAvailability:
			delay = r.float() * min(age*86400, 1800)
		case stUnshipped:
			delay = 60 + r.float()*min(age*86400, 3*3600)
		case stPartiallyShipped:
			delay = 6*3600 + r.float()*36*3600
		case stShipped, stInvoiceUnconfirmed:
			delay = 4*3600 + r.float()*68*3600
		case stCanceled, stUnfulfillable:
			delay = 600 + r.float()*40*3600
		}
		o.updated = min(o.purchase+int64(delay), nowU-1)
		o.updated = max(o.updated, o.purchase)
	}
	sd.byUpd = make([]int32, n)
	for i := range sd.byUpd {
		sd.byUpd[i] = int32(i)
	}
	slices.SortFunc(sd.byUpd, func(a, b int32) int {
		if c := cmp.Compare(sd.orders[a].updated, sd.orders[b].updated); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return sd
}

// weighted picks an index with the given relative weights.
func weighted(r *rng, w ...int) int {
	total := 0
	for _, x := range w {
		total += x
	}
	v := r.intn(total)
	for i, x := range w {
		if v < x {
			return i
		}
		v -= x
	}
	return len(w) - 1
}

// pickStatus chooses a status that fits the order's age in days.
func pickStatus(r *rng, age float64, afn bool, items uint8, preorder bool) uint8 {
	if preorder && age < 20 {
		return stPendingAvailability
	}
	switch {
	case age < 0.5:
		if weighted(r, 35, 65) == 0 {
			return stPending
		}
		return stUnshipped
	case age < 3:
		switch weighted(r, 30, 6, 58, 5, 1) {
		case 0:
			return stUnshipped
		case 1:
			if !afn && items > 1 {
				return stPartiallyShipped
			}
			return stShipped
		case 2:
			return stShipped
		case 3:
			return stCanceled
		default:
			if afn {
				return stUnfulfillable
			}
			return stCanceled
		}
	default:
		switch weighted(r, 91, 6, 2, 1) {
		case 0:
			return stShipped
		case 1:
			return stCanceled
		case 2:
			if !afn {
				return stInvoiceUnconfirmed
			}
			return stShipped
		default:
			if afn {
				return stUnfulfillable
			}
			return stCanceled
		}
	}
}

// --- order ids -------------------------------------------------------------

const sevenDigits = 10_000_000

// feistelRound is the round function of the order-id permutation.
func (d *dataset) feistelRound(x uint32, k int) uint32 {
	return uint32(mix64(uint64(x)^d.feistel[k]) % sevenDigits)
}

// orderID returns the Amazon-format id (NNN-NNNNNNN-NNNNNNN) of order idx.
// The two 7-digit groups are a keyed permutation of (seller tag, idx), so the
// id decodes back without an index and ids never collide.
func (d *dataset) orderID(sd *sellerData, idx int) string {
	l, r := sd.tag, uint32(idx)
	for k := range d.feistel {
		l, r = r, (l+d.feistelRound(r, k))%sevenDigits
	}
	pre := orderIDPrefixes(sd.seller.Region)
	p := pre[mix64(sd.key^uint64(idx))%uint64(len(pre))]
	b := make([]byte, 0, 19)
	b = appendPadded(b, uint64(p), 3)
	b = append(b, '-')
	b = appendPadded(b, uint64(l), 7)
	b = append(b, '-')
	b = appendPadded(b, uint64(r), 7)
	return string(b)
}

func appendPadded(b []byte, v uint64, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendUint(tmp[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// validOrderID reports whether id has Amazon's 3-7-7 digit format.
func validOrderID(id string) bool {
	if len(id) != 19 || id[3] != '-' || id[11] != '-' {
		return false
	}
	for i := 0; i < 19; i++ {
		if i == 3 || i == 11 {
			continue
		}
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}

// lookupOrder returns the index of the seller's order with this id.
func (d *dataset) lookupOrder(sd *sellerData, id string) (int, bool) {
	if !validOrderID(id) {
		return 0, false
	}
	l64, _ := strconv.ParseUint(id[4:11], 10, 32)
	r64, _ := strconv.ParseUint(id[12:19], 10, 32)
	l, r := uint32(l64), uint32(r64)
	for k := len(d.feistel) - 1; k >= 0; k-- {
		l, r = (r+sevenDigits-d.feistelRound(l, k))%sevenDigits, l
	}
	if l != sd.tag || int(r) >= len(sd.orders) {
		return 0, false
	}
	if d.orderID(sd, int(r)) != id { // the prefix must match too
		return 0, false
	}
	return int(r), true
}

// --- derived details ------------------------------------------------------

// orderRand returns a generator for details of order idx; salt separates
// independent streams (items, address, buyer).
func (sd *sellerData) orderRand(idx int, salt uint64) rng {
	return rng{s: mix64(sd.key ^ uint64(idx)*0x100000001b3 ^ salt*0xff51afd7ed558ccd)}
}

// product is one catalog entry of a seller.
type product struct {
	ASIN, SKU, Title string
	Price            float64 // in USD-like units before the marketplace factor
}

const catalogSize = 400

func (sd *sellerData) product(p int) product {
	r := rng{s: mix64(sd.key ^ 0xabcdef ^ uint64(p)*0x9e3779b97f4a7c15)}
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	asin := make([]byte, 10)
	asin[0], asin[1] = 'B', '0'
	for i := 2; i < 10; i++ {
		asin[i] = alnum[r.intn(len(alnum))]
	}
	title := productAdj[r.intn(len(productAdj))] + " " + productKind[r.intn(len(productKind))]
	price := float64(5+r.intn(95)) + []float64{0.99, 0.49, 0.95, 0.00}[r.intn(4)]
	sku := appendPadded([]byte("SKU-"), uint64(p), 4)
	sku = append(append(sku, '-'), asin[6:]...)
	return product{ASIN: string(asin), SKU: string(sku), Title: title, Price: price}
}

// orderItem is a derived line of an order.
type orderItem struct {
	ID       string // 14 digits
	Product  product
	Qty      int
	Shipped  int
	Unit     int64 // unit price in minor units of the marketplace currency
	Shipping int64
	Tax      int64 // tax on the item total
	Discount int64
	GiftMsg  string
}

func (sd *sellerData) items(idx int) []orderItem {
	o := &sd.orders[idx]
	m := sd.mkts[o.mkt]
	r := sd.orderRand(idx, 1)
	out := make([]orderItem, o.items)
	scale := 100.0
	if m.Decimals == 0 {
		scale = 1
	}
	for j := range out {
		it := &out[j]
		it.ID = strconv.FormatUint(10_000_000_000_000+r.next()%89_999_999_999_999, 10)
		it.Product = sd.product(r.intn(catalogSize))
		it.Qty = 1 + weighted(&r, 85, 10, 5)
		it.Unit = int64(it.Product.Price*m.PriceFactor*scale + 0.5)
		if o.flags&flPrime == 0 && !o.afn {
			it.Shipping = int64(4.99*m.PriceFactor*scale + 0.5)
		}
		it.Tax = (it.Unit*int64(it.Qty) + it.Shipping) * 8 / 100
		if r.intn(10) == 0 {
			it.Discount = it.Unit * int64(it.Qty) / 10
		}
		if o.flags&flGift != 0 && j == 0 {
			it.GiftMsg = "Happy birthday! Enjoy."
		}
		switch o.status {
		case stShipped, stInvoiceUnconfirmed:
			it.Shipped = it.Qty
		case stPartiallyShipped:
			if j%2 == 0 {
				it.Shipped = it.Qty
			}
		}
	}
	return out
}

// orderTotal is the sum the buyer pays, in minor units.
func orderTotal(items []orderItem) int64 {
	var t int64
	for _, it := range items {
		t += it.Unit*int64(it.Qty) + it.Shipping + it.Tax - it.Discount
	}
	return t
}

// formatMoney renders minor units as Amazon's decimal string.
func formatMoney(m *marketplaceInfo, minor int64) string {
	if m.Decimals == 0 {
		return strconv.FormatInt(minor, 10)
	}
	neg := minor < 0
	if neg {
		minor = -minor
	}
	b := make([]byte, 0, 16)
	if neg {
		b = append(b, '-')
	}
	b = strconv.AppendInt(b, minor/100, 10)
	b = append(b, '.')
	b = appendPadded(b, uint64(minor%100), 2)
	return string(b)
}

// buyer is the derived buyer and destination of an order (PII).
type buyer struct {
	Name, Email, Phone     string
	Line1, Line2           string
	City, State, Postal    string
	Country                string
	Company, TaxID, Office string
	Residential            bool
}

func (d *dataset) buyerOf(sd *sellerData, idx int) buyer {
	o := &sd.orders[idx]
	m := sd.mkts[o.mkt]
	r := sd.orderRand(idx, 2)
	b := buyer{Country: m.Country, Residential: true}
	b.Name = givenNames[r.intn(len(givenNames))] + " " + familyNames[r.intn(len(familyNames))]
	local := make([]byte, 0, 16)
	for range 14 {
		local = append(local, "abcdefghijklmnopqrstuvwxyz0123456789"[r.intn(36)])
	}
	b.Email = string(local) + "@marketplace.amazon." + domainSuffix(m.Domain)
	b.Phone = "+1 555-01" + appendDigits(&r, 2)
	b.Line1 = strconv.Itoa(1+r.intn(250)) + " " + streets[r.intn(len(streets))]
	if r.intn(4) == 0 {
		b.Line2 = "Apt " + strconv.Itoa(1+r.intn(40))
	}
	pl := placesOf(m.Country)
	p := pl[r.intn(len(pl))]
	b.City, b.State = p.City, p.State
	postal := []byte(p.Postal)
	for i, c := range postal {
		if c == '#' {
			postal[i] = byte('0' + r.intn(10))
		}
	}
	b.Postal = string(postal)
	if o.flags&flBusiness != 0 {
		b.Residential = false
		b.Company = familyNames[r.intn(len(familyNames))] + " Trading Ltd"
		b.TaxID = m.Country + appendDigits(&r, 9)
		b.Office = p.City + " Tax Office"
	}
	return b
}

func appendDigits(r *rng, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.intn(10))
	}
	return string(b)
}

func domainSuffix(domain string) string {
	const p = "www.amazon."
	if len(domain) > len(p) {
		return domain[len(p):]
	}
	return "com"
}

// --- range queries --------------------------------------------------------

// firstCreated returns the first order index with purchase >= t.
func (sd *sellerData) firstCreated(t int64) int {
	return sort.Search(len(sd.orders), func(i int) bool { return sd.orders[i].purchase >= t })
}

// firstUpdated returns the first position in byUpd with updated >= t.
func (sd *sellerData) firstUpdated(t int64) int {
	return sort.Search(len(sd.byUpd), func(i int) bool { return sd.orders[sd.byUpd[i]].updated >= t })
}

// --- next tokens ----------------------------------------------------------

// sealToken appends a MAC to payload so that a token cannot be forged or
// altered; openToken checks and strips it.
func (d *dataset) sealToken(payload []byte) []byte {
	m := hmac.New(sha256.New, d.tokenKey)
	m.Write(payload)
	return m.Sum(payload)
}

func (d *dataset) openToken(tok []byte) ([]byte, bool) {
	if len(tok) < sha256.Size {
		return nil, false
	}
	payload, sum := tok[:len(tok)-sha256.Size], tok[len(tok)-sha256.Size:]
	m := hmac.New(sha256.New, d.tokenKey)
	m.Write(payload)
	if !hmac.Equal(m.Sum(nil), sum) {
		return nil, false
	}
	return payload, true
}
