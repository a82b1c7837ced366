package edge

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// LimitListener returns a listener that serves at most max connections at
// once. At the limit, a new connection takes the place of the connection
// idle the longest (kept alive between requests; its client opens a new one
// when it needs it), if the http.Server reports idle connections through
// ConnState. Failing that it is accepted, answered at once with 503
// ServiceUnavailableException (which the SDKs retry with backoff) and
// closed, so a client over the limit gets an answer instead of a hang and
// the server's descriptors stay bounded: at most max served connections
// plus a few being refused.
func LimitListener(ln net.Listener, max int) *Limited {
	return &Limited{Listener: ln, max: int64(max), refusing: make(chan struct{}, maxRefusing),
		idle: map[*limitedConn]time.Time{}}
}

// maxRefusing bounds the connections being answered 503 at once; beyond it
// an excess connection is closed without an answer.
const maxRefusing = 64

// refuseLinger is how long a refused connection is kept to read what the
// client sends before the 503 (so that closing it does not reset the
// connection before the client reads the answer).
const refuseLinger = time.Second

// Limited is a listener with a connection limit (see LimitListener).
type Limited struct {
	net.Listener
	max      int64
	active   atomic.Int64
	refused  atomic.Int64
	refusing chan struct{}

	mu   sync.Mutex
	idle map[*limitedConn]time.Time // since when
}

// ConnState is the http.Server's ConnState hook that tells the listener
// which connections are idle.
func (l *Limited) ConnState(c net.Conn, st http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if st == http.StateIdle {
		l.idle[lc] = time.Now()
	} else {
		delete(l.idle, lc)
	}
}

// evictIdle closes the connection idle the longest, if any.
func (l *Limited) evictIdle() bool {
	l.mu.Lock()
	var oldest *limitedConn
	var since time.Time
	for c, t := range l.idle {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	if oldest != nil {
		delete(l.idle, oldest)
	}
	l.mu.Unlock()
	if oldest == nil {
		return false
	}
	oldest.Close()
	return true
}

// Active is the number of connections being served.
func (l *Limited) Active() int64 { return l.active.Load() }

// Refused is the number of connections refused since the start.
func (l *Limited) Refused() int64 { return l.refused.Load() }

// Accept returns the next connection within the limit.
func (l *Limited) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.admit() {
			return &limitedConn{Conn: c, l: l}, nil
		}
		l.refused.Add(1)
		select {
		case l.refusing <- struct{}{}:
			go func() {
				defer func() { <-l.refusing }()
				refuse(c)
			}()
		default:
			c.Close()
		}
	}
}

// admit takes a place for a new connection, if need be the place of the
// connection idle the longest.
func (l *Limited) admit() bool {
	if l.active.Add(1) <= l.max {
		return true
	}
	l.active.Add(-1)
	if !l.evictIdle() {
		return false
	}
	if l.active.Add(1) <= l.max {
		return true
	}
	l.active.Add(-1)
	return false
}

// refuse answers a connection over the limit with 503 and closes it.
func refuse(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(refuseLinger))
	c.Write(overLimitResponse())
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	io.Copy(io.Discard, io.LimitReader(c, 1<<16))
}

// overLimitResponse is the 503 a refused connection gets, rendered by the
// error catalogue like every other error.
func overLimitResponse() []byte {
	rec := &recorder{h: http.Header{}}
	rec.h[requestIDHeader] = []string{awsproto.NewRequestID()}
	awsproto.WriteError(rec, awsproto.Errorf(awsproto.ServiceUnavailableException,
		"The server is serving as many connections as it allows; retry shortly."))
	rec.h.Set("Content-Length", strconv.Itoa(rec.body.Len()))
	rec.h.Set("Connection", "close")
	rec.h.Set("Retry-After", "1")
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(rec.status) + " " + http.StatusText(rec.status) + "\r\n")
	rec.h.Write(&b)
	b.WriteString("\r\n")
	b.Write(rec.body.Bytes())
	return b.Bytes()
}

// recorder is the least ResponseWriter that WriteError needs.
type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) WriteHeader(s int)           { r.status = s }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }

type limitedConn struct {
	net.Conn
	l    *Limited
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.active.Add(-1)
		c.l.mu.Lock()
		delete(c.l.idle, c)
		c.l.mu.Unlock()
	})
	return err
}

// CloseWrite lets the HTTP server half-close the connection after an
// answer to a request whose body it did not read.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
