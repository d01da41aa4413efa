package demo

import (
	"bufio"
	"encoding/json"
	"os"
)

// CountFullAddresses counts the orders in a JSONL file of orders whose
// shipping address is full (FullAddress).
func CountFullAddresses(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if FullAddress(sc.Bytes()) {
			n++
		}
	}
	return n, sc.Err()
}

// FullAddress reports whether one JSON order has a shipping address with a
// name, a street line, a city, a postal code and a country.
func FullAddress(line []byte) bool {
	var o struct {
		ShippingAddress *struct {
			Name, AddressLine1, City, PostalCode, CountryCode string
		}
	}
	if json.Unmarshal(line, &o) != nil || o.ShippingAddress == nil {
		return false
	}
	a := o.ShippingAddress
	return a.Name != "" && a.AddressLine1 != "" && a.City != "" && a.PostalCode != "" && a.CountryCode != ""
}
