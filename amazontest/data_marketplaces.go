package amazontest

// marketplaceInfo is what the emulator knows about one Amazon marketplace.
type marketplaceInfo struct {
	ID       string
	Region   Region
	Country  string // ISO 3166-1 alpha-2
	Currency string // ISO 4217
	Name     string // Amazon's name, also the SalesChannel of its orders
	Domain   string // www.amazon.…
	Language string // default language code, e.g. en_US
	// PriceFactor converts a USD-like base price into this currency.
	PriceFactor float64
	// Decimals is the number of fraction digits of Currency.
	Decimals int
}

// marketplaceTable lists every marketplace of reference §3. It is read-only.
var marketplaceTable = [...]marketplaceInfo{
	{"ATVPDKIKX0DER", RegionNA, "US", "USD", "Amazon.com", "www.amazon.com", "en_US", 1, 2},
	{"A2EUQ1WTGCTBG2", RegionNA, "CA", "CAD", "Amazon.ca", "www.amazon.ca", "en_CA", 1.35, 2},
	{"A1AM78C64UM0Y8", RegionNA, "MX", "MXN", "Amazon.com.mx", "www.amazon.com.mx", "es_MX", 17, 2},
	{"A2Q3Y263D00KWC", RegionNA, "BR", "BRL", "Amazon.com.br", "www.amazon.com.br", "pt_BR", 5, 2},
	{"A1F83G8C2ARO7P", RegionEU, "GB", "GBP", "Amazon.co.uk", "www.amazon.co.uk", "en_GB", 0.8, 2},
	{"A1PA6795UKMFR9", RegionEU, "DE", "EUR", "Amazon.de", "www.amazon.de", "de_DE", 0.92, 2},
	{"A13V1IB3VIYZZH", RegionEU, "FR", "EUR", "Amazon.fr", "www.amazon.fr", "fr_FR", 0.92, 2},
	{"APJ6JRA9NG5V4", RegionEU, "IT", "EUR", "Amazon.it", "www.amazon.it", "it_IT", 0.92, 2},
	{"A1RKKUPIHCS9HS", RegionEU, "ES", "EUR", "Amazon.es", "www.amazon.es", "es_ES", 0.92, 2},
	{"A1805IZSGTT6HS", RegionEU, "NL", "EUR", "Amazon.nl", "www.amazon.nl", "nl_NL", 0.92, 2},
	{"A2NODRKZP88ZB9", RegionEU, "SE", "SEK", "Amazon.se", "www.amazon.se", "sv_SE", 10.5, 2},
	{"A1C3SOZRARQ6R3", RegionEU, "PL", "PLN", "Amazon.pl", "www.amazon.pl", "pl_PL", 4, 2},
	{"AMEN7PMS3EDWL", RegionEU, "BE", "EUR", "Amazon.com.be", "www.amazon.com.be", "fr_BE", 0.92, 2},
	{"A28R8C7NBKEWEA", RegionEU, "IE", "EUR", "Amazon.ie", "www.amazon.ie", "en_IE", 0.92, 2},
	{"A33AVAJ2PDY3EV", RegionEU, "TR", "TRY", "Amazon.com.tr", "www.amazon.com.tr", "tr_TR", 32, 2},
	{"A2VIGQ35RCS4UG", RegionEU, "AE", "AED", "Amazon.ae", "www.amazon.ae", "en_AE", 3.67, 2},
	{"A17E79C6D8DWNP", RegionEU, "SA", "SAR", "Amazon.sa", "www.amazon.sa", "ar_AE", 3.75, 2},
	{"ARBP9OOSHTCHU", RegionEU, "EG", "EGP", "Amazon.eg", "www.amazon.eg", "ar_AE", 48, 2},
	{"A21TJRUUN4KGV", RegionEU, "IN", "INR", "Amazon.in", "www.amazon.in", "en_IN", 83, 2},
	{"AE08WJ6YKNBMC", RegionEU, "ZA", "ZAR", "Amazon.co.za", "www.amazon.co.za", "en_ZA", 18.5, 2},
	{"A1VC38T7YXB528", RegionFE, "JP", "JPY", "Amazon.co.jp", "www.amazon.co.jp", "ja_JP", 150, 0},
	{"A39IBJ37TRP1C6", RegionFE, "AU", "AUD", "Amazon.com.au", "www.amazon.com.au", "en_AU", 1.5, 2},
	{"A19VAU5U5O7RUS", RegionFE, "SG", "SGD", "Amazon.sg", "www.amazon.sg", "en_SG", 1.35, 2},
}

// marketplaceByID returns the marketplace with this id.
func marketplaceByID(id string) (*marketplaceInfo, bool) {
	for i := range marketplaceTable {
		if marketplaceTable[i].ID == id {
			return &marketplaceTable[i], true
		}
	}
	return nil, false
}

// regionMarketplaceIDs returns the ids of every marketplace in region r.
func regionMarketplaceIDs(r Region) []string {
	var ids []string
	for i := range marketplaceTable {
		if marketplaceTable[i].Region == r {
			ids = append(ids, marketplaceTable[i].ID)
		}
	}
	return ids
}

// orderIDPrefixes are the first groups of real order ids per region.
func orderIDPrefixes(r Region) []uint16 {
	switch r {
	case RegionEU:
		return []uint16{202, 203, 204, 205, 206, 302, 303, 304, 305, 306, 402, 403, 404, 405, 406, 407, 408}
	case RegionFE:
		return []uint16{249, 250, 503}
	default:
		return []uint16{111, 112, 113, 114, 701, 702}
	}
}

// place is a city with its region and a postal code pattern ('#' is a digit).
type place struct {
	City, State, Postal string
}

// placesOf returns plausible shipping destinations of a country.
func placesOf(country string) []place {
	switch country {
	case "US":
		return []place{{"SEATTLE", "WA", "981##"}, {"AUSTIN", "TX", "787##"}, {"BROOKLYN", "NY", "112##"}, {"COLUMBUS", "OH", "432##"}, {"SAN JOSE", "CA", "951##"}, {"DENVER", "CO", "802##"}}
	case "CA":
		return []place{{"Toronto", "ON", "M5V #A#"}, {"Vancouver", "BC", "V6B #A#"}, {"Montréal", "QC", "H2X #A#"}}
	case "MX":
		return []place{{"Ciudad de México", "CDMX", "06###"}, {"Guadalajara", "Jalisco", "44###"}}
	case "BR":
		return []place{{"São Paulo", "SP", "01###-###"}, {"Rio de Janeiro", "RJ", "20###-###"}}
	case "GB":
		return []place{{"London", "Greater London", "SW1A #AA"}, {"Manchester", "Greater Manchester", "M1 #AA"}, {"Leeds", "West Yorkshire", "LS1 #AA"}}
	case "DE":
		return []place{{"Berlin", "Berlin", "10###"}, {"München", "Bayern", "80###"}, {"Hamburg", "Hamburg", "20###"}, {"Köln", "Nordrhein-Westfalen", "50###"}}
	case "FR":
		return []place{{"Paris", "Île-de-France", "750##"}, {"Lyon", "Auvergne-Rhône-Alpes", "6#00#"}, {"Marseille", "Provence-Alpes-Côte d'Azur", "1300#"}}
	case "IT":
		return []place{{"Milano", "MI", "201##"}, {"Roma", "RM", "001##"}}
	case "ES":
		return []place{{"Madrid", "Madrid", "280##"}, {"Barcelona", "Barcelona", "080##"}}
	case "NL":
		return []place{{"Amsterdam", "Noord-Holland", "10## AA"}, {"Utrecht", "Utrecht", "35## AA"}}
	case "SE":
		return []place{{"Stockholm", "Stockholm", "1## ##"}, {"Göteborg", "Västra Götaland", "4## ##"}}
	case "PL":
		return []place{{"Warszawa", "mazowieckie", "00-###"}, {"Kraków", "małopolskie", "30-###"}}
	case "BE":
		return []place{{"Bruxelles", "Bruxelles", "1###"}, {"Antwerpen", "Antwerpen", "2###"}}
	case "IE":
		return []place{{"Dublin", "Co. Dublin", "D## A#A#"}, {"Cork", "Co. Cork", "T## A#A#"}}
	case "TR":
		return []place{{"İstanbul", "İstanbul", "34###"}, {"Ankara", "Ankara", "06###"}}
	case "AE":
		return []place{{"Dubai", "Dubai", "00000"}, {"Abu Dhabi", "Abu Dhabi", "00000"}}
	case "SA":
		return []place{{"Riyadh", "Riyadh", "1####"}, {"Jeddah", "Makkah", "2####"}}
	case "EG":
		return []place{{"Cairo", "Cairo", "1####"}, {"Giza", "Giza", "1####"}}
	case "IN":
		return []place{{"Bengaluru", "KARNATAKA", "5600##"}, {"Mumbai", "MAHARASHTRA", "4000##"}, {"New Delhi", "DELHI", "1100##"}}
	case "ZA":
		return []place{{"Cape Town", "Western Cape", "80##"}, {"Johannesburg", "Gauteng", "20##"}}
	case "JP":
		return []place{{"渋谷区", "東京都", "150-####"}, {"大阪市北区", "大阪府", "530-####"}, {"札幌市中央区", "北海道", "060-####"}}
	case "AU":
		return []place{{"Sydney", "NSW", "20##"}, {"Melbourne", "VIC", "30##"}, {"Brisbane", "QLD", "40##"}}
	case "SG":
		return []place{{"Singapore", "", "0#####"}}
	}
	return []place{{"Springfield", "", "#####"}}
}

// Fictitious names and streets for generated buyers. Nothing here is a real person.
var (
	givenNames  = [...]string{"Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Robin", "Avery", "Charlie", "Quinn", "Kim", "Lee", "Noa", "Mika"}
	familyNames = [...]string{"Smith", "Müller", "Rossi", "García", "Martin", "Nowak", "Jansen", "Tanaka", "Sato", "Silva", "Kumar", "Brown", "Dubois", "Andersson", "Yılmaz", "Okafor"}
	streets     = [...]string{"Main Street", "Station Road", "Hauptstraße", "Rue de la Paix", "Via Roma", "Calle Mayor", "Kerkstraat", "Park Avenue", "High Street", "Lindenweg"}
	productKind = [...]string{"Stainless Steel Water Bottle", "USB-C Charging Cable", "Wireless Mouse", "Yoga Mat", "LED Desk Lamp", "Ceramic Coffee Mug", "Bluetooth Speaker", "Phone Case", "Notebook A5", "Kitchen Scale", "Running Socks", "Backpack 20L"}
	productAdj  = [...]string{"Premium", "Compact", "Classic", "Eco", "Pro", "Travel", "Deluxe", "Basic"}
)
