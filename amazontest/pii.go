package amazontest

// PersonalDataMarkers returns strings that appear in the emulator's
// answers only inside personal data: buyers' e-mail domain, the street
// names of shipping addresses, business buyers' company and tax-office
// suffixes. A test that must prove personal data was withheld searches an
// answer for them.
func PersonalDataMarkers() []string {
	m := []string{"@marketplace.amazon.", " Trading Ltd", " Tax Office"}
	for _, s := range streets {
		m = append(m, " "+s)
	}
	return m
}
