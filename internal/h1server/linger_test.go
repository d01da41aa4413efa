package h1server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spgate/spgate/internal/h1server"
	"github.com/spgate/spgate/internal/testenv"
)

// TestClosingLingersForTheRestOfAnUpload: when the server ends a
// connection while the client is still sending, the client reads the whole
// answer and then the server's end of file, never a reset, and its own
// sending completes: the server half-closes and reads the rest before it
// closes. (A reset makes Windows' TCP stack drop an answer already
// received.) The answer says Connection: close.
func TestClosingLingersForTheRestOfAnUpload(t *testing.T) {
	t.Parallel()
	const upload = 1 << 20
	refuse := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/refuse": // refuses before reading, and says it closes
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "no key")
		case "/ignore": // answers without reading; the server closes
			io.WriteString(w, "ignored")
		case "/half": // reads part of the body, then answers
			io.CopyN(io.Discard, r.Body, upload/2)
			io.WriteString(w, "half")
		}
	})
	addr := serve(t, &h1server.Server{Handler: refuse, MaxHeaderBytes: 4 << 10,
		// The client closes its side once it has sent everything; the
		// linger ends on that, not on a timeout.
		LingerTimeout: testenv.Patience})
	body := strings.Repeat("u", upload)
	cases := []struct {
		name    string
		request string
		status  int
		answer  string
		// unknownLength: the server cannot know before it answers that
		// it will not keep the connection (it drains up to 256 KiB of a
		// chunked body after the answer, as net/http's server does before
		// it answers).
		unknownLength bool
	}{
		{"refused upload", post("/refuse", body, fmt.Sprintf("Content-Length: %d\r\n", upload)), http.StatusUnauthorized, "no key", false},
		{"upload left unread", post("/ignore", body, fmt.Sprintf("Content-Length: %d\r\n", upload)), http.StatusOK, "ignored", false},
		{"chunked upload left unread", post("/ignore", fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", upload, body), "Transfer-Encoding: chunked\r\n"), http.StatusOK, "ignored", true},
		{"upload half read", post("/half", body, fmt.Sprintf("Content-Length: %d\r\n", upload)), http.StatusOK, "half", false},
		{"headers over the limit", get("/ignore", "X-Big: "+body+"\r\n"), http.StatusRequestHeaderFieldsTooLarge, "431 Request Header Fields Too Large", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, addr)
			_ = c.SetDeadline(time.Now().Add(testenv.Patience))
			sent := make(chan error, 1)
			go func() {
				_, err := io.WriteString(c, tc.request)
				if err == nil {
					err = c.(*net.TCPConn).CloseWrite()
				}
				sent <- err
			}()
			br := bufio.NewReader(c)
			resp, got, err := readAnswer(br, http.MethodPost)
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			if resp.StatusCode != tc.status || !strings.HasPrefix(got, tc.answer) {
				t.Errorf("answer %d %q, want %d %q", resp.StatusCode, got, tc.status, tc.answer)
			}
			if !resp.Close && !tc.unknownLength {
				t.Errorf("the answer does not say Connection: close (header %q)", resp.Header.Get("Connection"))
			}
			if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("after the answer: %d bytes, %v; want the server's end of file, not a reset", n, err)
			}
			if err := <-sent; err != nil {
				t.Errorf("sending the request failed (the server did not read it to its end): %v", err)
			}
		})
	}
}

// TestLingerIsBounded: a client that keeps its side open and silent does
// not hold a closing connection beyond LingerTimeout.
func TestLingerIsBounded(t *testing.T) {
	t.Parallel()
	closed := make(chan struct{})
	ignore := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ignored") })
	addr := serve(t, &h1server.Server{Handler: ignore, LingerTimeout: short,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateClosed {
				close(closed)
			}
		}})
	c := dial(t, addr)
	// Announces a body it never sends, and that it closes after.
	if _, err := io.WriteString(c, post("/", "", "Content-Length: 100\r\n", "Connection: close\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	if _, _, err := readAnswer(br, http.MethodPost); err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	if rest := ended(t, c, br); rest != "" {
		t.Errorf("after the answer: %q", rest)
	}
	await(t, closed, "the server closing the connection")
}
