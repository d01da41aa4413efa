//go:build !unix

package spapi

import "net"

// alive cannot probe a connection here: a request on one the server
// closed while it was idle fails, and is sent again on a new one when that
// is safe (h1Transport.RoundTrip).
func alive(net.Conn) bool { return true }
