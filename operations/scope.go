package operations

import "fmt"

// CheckScope checks a gateway client's operation scope: "*" (every
// operation), an operation id (getOrders), api/version/id
// (orders/v0/getOrders), api/version (orders/v0) or an api (orders) that
// names at least one operation of the table.
func CheckScope(s string) error {
	if s == "*" {
		return nil
	}
	for i := range All {
		op := &All[i]
		if s == op.ID || s == op.Key() || s == op.API+"/"+op.Version || s == op.API {
			return nil
		}
	}
	return fmt.Errorf("%q names no SP-API operation: use an operation id (getOrders), api/version (orders/v0), an api (orders) or *", s)
}
