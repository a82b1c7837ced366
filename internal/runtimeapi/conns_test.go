package runtimeapi

import (
	"bufio"
	"net"
	"net/http"
	"testing"
	"time"
)

// ask sends a request on c and reports whether the server answered it: a
// connection the server refused was closed with a reset.
func ask(t *testing.T, c net.Conn) bool {
	t.Helper()
	if _, err := c.Write([]byte("GET /nowhere HTTP/1.1\r\nHost: sandbox\r\n\r\n")); err != nil {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("a kept connection answered %d, want 404", resp.StatusCode)
	}
	return true
}

// TestConnectionCap: a sandbox that opens a thousand connections gets
// DefaultMaxConnections served at once and the rest closed, and its
// runtime's own kept-alive connection goes on working.
func TestConnectionCap(t *testing.T) {
	s, rt := start(t, Options{})
	cycle(t, s, rt, "before-the-flood")

	const flood = 1000
	var conns []net.Conn
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
		conns = nil
	}
	defer closeAll()
	served, refused := 0, 0
	for range flood {
		c, err := net.Dial("tcp", rt.addr)
		if err != nil {
			refused++ // reset before the handshake was seen to end
			continue
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		if ask(t, c) {
			served++
		} else {
			refused++
		}
	}
	t.Logf("%d connections served, %d refused", served, refused)
	if served == 0 || served > DefaultMaxConnections {
		t.Errorf("%d of %d connections served at once, want between 1 and %d", served, flood, DefaultMaxConnections)
	}
	if served+refused != flood {
		t.Errorf("served %d + refused %d != %d", served, refused, flood)
	}
	cycle(t, s, rt, "during-the-flood")

	// Closing the kept connections frees their slots (once the server has
	// seen them close).
	closeAll()
	for i := range DefaultMaxConnections - 2 { // the runtime keeps up to two
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := net.Dial("tcp", rt.addr)
			if err == nil {
				conns = append(conns, c)
				if ask(t, c) {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("connection %d after the flood: still refused", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
}
