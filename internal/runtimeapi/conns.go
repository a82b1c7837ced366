package runtimeapi

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
)

// DefaultMaxConnections is how many connections a Server keeps open to
// its sandbox at once. A runtime needs one or two (a Runtime API client
// with a kept-alive connection, sometimes a second for a response posted
// while /next is parked); the rest of a small margin is for clients that
// open a connection per request. Connections over the cap are accepted and
// closed at once (with a reset), so that code in a sandbox cannot make the
// server hold descriptors without bound.
const DefaultMaxConnections = 8

// Descriptors is the most file descriptors a Server holds for its sandbox
// with the default cap: the open connections, and one for a connection
// over the cap between its accept and its close. The listener is the
// sandbox driver's (sandbox.DriverDescriptors counts it).
const Descriptors = DefaultMaxConnections + 1

// capListener accepts at most cap connections at a time and refuses the
// rest by closing them as soon as they are accepted.
type capListener struct {
	net.Listener
	log     *slog.Logger
	slots   chan struct{}
	refused atomic.Int64
}

func newCapListener(l net.Listener, limit int, log *slog.Logger) *capListener {
	return &capListener{Listener: l, log: log, slots: make(chan struct{}, limit)}
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &capConn{Conn: c, slots: l.slots}, nil
		default:
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset: nothing lingers on the host
		}
		c.Close()
		if n := l.refused.Add(1); n == 1 || n%1000 == 0 {
			l.log.Debug("runtime api: connections over the cap refused", "cap", cap(l.slots), "refused", n)
		}
	}
}

// capConn gives its slot back when closed, once.
type capConn struct {
	net.Conn
	slots chan struct{}
	once  sync.Once
}

func (c *capConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.slots })
	return err
}

// CloseWrite half-closes the connection when it can, as net/http does on
// a *net.TCPConn before closing after an error.
func (c *capConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
