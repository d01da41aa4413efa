package amazontest

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestStartOnAddr starts the emulator on a chosen port: NA there, EU and
// FE on the next two, each answering with its own region, and Endpoints
// naming all three.
func TestStartOnAddr(t *testing.T) {
	// A free port whose next two are likely free too.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if port > 65533 {
		t.Skip("no room for three ports")
	}
	s, err := New(Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(StartOptions{Addr: "127.0.0.1:" + strconv.Itoa(port)}); err != nil {
		t.Skipf("ports %d–%d are not all free: %v", port, port+2, err)
	}
	defer s.Close()
	var want []string
	for i, r := range []Region{RegionNA, RegionEU, RegionFE} {
		u := "http://127.0.0.1:" + strconv.Itoa(port+i)
		if got := s.RegionURL(r); got != u {
			t.Errorf("%s at %s, want %s", r, got, u)
		}
		want = append(want, string(r)+"="+u)
	}
	if s.URL != s.RegionURL(RegionNA) || s.Endpoints() != strings.Join(want, ",") {
		t.Errorf("URL %s, Endpoints %s", s.URL, s.Endpoints())
	}
	res, err := http.Get(s.URL + "/_admin/counters")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("admin counters: %d", res.StatusCode)
	}
}

// TestStartRefusesBadAddr: an address that is not host:port, or leaves no
// room for EU and FE, is ErrStartAddr, and nothing listens.
func TestStartRefusesBadAddr(t *testing.T) {
	for _, addr := range []string{"not-an-address", "127.0.0.1:65534", "127.0.0.1:x"} {
		s, err := New(Config{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(StartOptions{Addr: addr}); !errors.Is(err, ErrStartAddr) {
			t.Errorf("%s: %v, want ErrStartAddr", addr, err)
		}
		if s.URL != "" {
			t.Errorf("%s: listening on %s", addr, s.URL)
		}
	}
}
