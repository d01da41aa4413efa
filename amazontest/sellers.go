package amazontest

import "net/http"

// Sellers API v1 (sellers.json).

type sMarketplace struct {
	ID                  string `json:"id"`
	Name                string `json:"name"`
	CountryCode         string `json:"countryCode"`
	DefaultCurrencyCode string `json:"defaultCurrencyCode"`
	DefaultLanguageCode string `json:"defaultLanguageCode"`
	DomainName          string `json:"domainName"`
}

type sParticipation struct {
	IsParticipating      bool `json:"isParticipating"`
	HasSuspendedListings bool `json:"hasSuspendedListings"`
}

type sMarketplaceParticipation struct {
	Marketplace   sMarketplace   `json:"marketplace"`
	Participation sParticipation `json:"participation"`
	StoreName     string         `json:"storeName"`
}

type sAddress struct {
	AddressLine1        string `json:"addressLine1"`
	AddressLine2        string `json:"addressLine2,omitempty"`
	CountryCode         string `json:"countryCode"`
	StateOrProvinceCode string `json:"stateOrProvinceCode,omitempty"`
	City                string `json:"city,omitempty"`
	PostalCode          string `json:"postalCode,omitempty"`
}

type sBusiness struct {
	Name                      string   `json:"name"`
	RegisteredBusinessAddress sAddress `json:"registeredBusinessAddress"`
	CompanyRegistrationNumber string   `json:"companyRegistrationNumber,omitempty"`
}

type sPrimaryContact struct {
	Name    string   `json:"name"`
	Address sAddress `json:"address"`
}

type sAccount struct {
	MarketplaceParticipationList []sMarketplaceParticipation `json:"marketplaceParticipationList"`
	BusinessType                 string                      `json:"businessType"`
	SellingPlan                  string                      `json:"sellingPlan"`
	Business                     *sBusiness                  `json:"business,omitempty"`
	PrimaryContact               *sPrimaryContact            `json:"primaryContact,omitempty"`
}

// participations lists the seller's marketplaces as the Sellers API does.
func participations(sd *sellerData) []sMarketplaceParticipation {
	out := make([]sMarketplaceParticipation, 0, len(sd.mkts))
	name := sd.seller.Name
	if name == "" {
		name = sd.seller.ID
	}
	for _, m := range sd.mkts {
		out = append(out, sMarketplaceParticipation{
			Marketplace: sMarketplace{
				ID: m.ID, Name: m.Name, CountryCode: m.Country, DefaultCurrencyCode: m.Currency,
				DefaultLanguageCode: m.Language, DomainName: m.Domain,
			},
			Participation: sParticipation{IsParticipating: true},
			StoreName:     name,
		})
	}
	return out
}

func handleGetMarketplaceParticipations(s *Server, c *call) {
	_, sd, ok := dataOf(s, c)
	if !ok {
		return
	}
	writeJSON(c.w, http.StatusOK, payload[[]sMarketplaceParticipation]{participations(sd)})
}

func handleGetAccount(s *Server, c *call) {
	_, sd, ok := dataOf(s, c)
	if !ok {
		return
	}
	home := sd.mkts[0]
	p := placesOf(home.Country)[0]
	addr := sAddress{AddressLine1: "1 Commerce Way", CountryCode: home.Country, StateOrProvinceCode: p.State, City: p.City, PostalCode: fillDigits(p.Postal)}
	name := sd.seller.Name
	if name == "" {
		name = sd.seller.ID
	}
	acct := sAccount{
		MarketplaceParticipationList: participations(sd),
		BusinessType:                 "PRIVATE_LIMITED",
		SellingPlan:                  "PROFESSIONAL",
		Business:                     &sBusiness{Name: name, RegisteredBusinessAddress: addr, CompanyRegistrationNumber: "HRB" + sd.seller.ID[max(0, len(sd.seller.ID)-6):]},
		PrimaryContact:               &sPrimaryContact{Name: "Account Owner", Address: addr},
	}
	writeJSON(c.w, http.StatusOK, payload[sAccount]{acct})
}

// fillDigits replaces the '#' placeholders of a postal pattern with zeros.
func fillDigits(pattern string) string {
	b := []byte(pattern)
	for i, c := range b {
		if c == '#' {
			b[i] = '0'
		}
	}
	return string(b)
}
