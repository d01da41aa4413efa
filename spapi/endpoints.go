package spapi

import (
	"fmt"
	"strings"
)

// ParseEndpoints reads endpoints written as one base URL ("URL", every
// region) or per region ("na=URL,eu=URL,fe=URL"), as $SPGATE_ENDPOINT and
// --endpoint take them: a bare URL among the regions serves the others,
// and without one North America's URL (else the first region named)
// serves them and LWA.
func ParseEndpoints(s string) (Endpoints, error) {
	base := ""
	per := map[Region]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if k, v, ok := strings.Cut(part, "="); ok && !strings.Contains(k, "/") {
			r, err := ParseRegion(k)
			if err != nil {
				return Endpoints{}, fmt.Errorf("endpoint %q: %v (use na=URL, eu=URL, fe=URL)", part, err)
			}
			per[r] = v
			if base == "" && r == NA {
				base = v
			}
			continue
		}
		base = part
	}
	for _, r := range []Region{NA, EU, FE} {
		if u, ok := per[r]; ok && base == "" {
			base = u
		}
	}
	if base == "" {
		return Endpoints{}, fmt.Errorf("endpoint %q names no URL", s)
	}
	return Custom(base, per, "")
}
