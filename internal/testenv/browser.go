package testenv

import (
	"errors"
	"net/http"
	"net/url"
)

// NoRedirect returns an HTTP client that plays a browser but does not
// follow redirects, so a test sees each Location, and gives up after
// Patience.
func NoRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: Patience}
}

// ConsentRedirect plays the seller's browser on an OAuth consent page
// (Seller Central's or the offline Amazon's) at link, with extra query
// parameters, and returns where it redirects the seller.
func ConsentRedirect(link string, extra url.Values) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", err
	}
	q := u.Query()
	for k, v := range extra {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	resp, err := NoRedirect().Get(u.String())
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", errors.New("consent page answered " + resp.Status)
	}
	return resp.Header.Get("Location"), nil
}

// Visit requests u as a browser that does not follow redirects and
// returns the status.
func Visit(u string) (int, error) {
	resp, err := NoRedirect().Get(u)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
