package benchmark

import (
	"bufio"
	"strings"
	"testing"
)

// TestReadResponse reads responses back to back from one stream, as a
// keep-alive connection delivers them: by length, chunked with a trailer,
// and a 204 without a body; then one without a length, which the load
// generator cannot delimit.
func TestReadResponse(t *testing.T) {
	stream := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
		"HTTP/1.1 429 Too Many Requests\r\ntransfer-encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nTrailer: 1\r\n\r\n" +
		"HTTP/1.1 204 No Content\r\n\r\n" +
		"HTTP/1.1 200 OK\r\n\r\n"
	br := bufio.NewReader(strings.NewReader(stream))
	for _, want := range []int{200, 429, 204} {
		got, err := readResponse(br)
		if err != nil || got != want {
			t.Fatalf("status %d, %v; want %d", got, err, want)
		}
	}
	if _, err := readResponse(br); err == nil {
		t.Error("a 200 without a length was read as complete")
	}
}
