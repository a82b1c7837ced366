package runtimeapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The transport. A Server reads the requests of its sandbox's connections
// itself instead of through an http.Server: one goroutine per connection
// reads a request (http.ReadRequest on a pooled bufio.Reader) and writes
// its answer straight to a pooled bufio.Writer. A GET /next that has to
// wait parks its connection in the Server (Server.parked): no handler
// goroutine waits on a channel, and Invoke writes the event to the parked
// connection from its own goroutine, with no hand-off on the way to the
// runtime. The connection's goroutine meanwhile waits to read the
// connection's next request, which is normally the runtime's /response;
// it also sees a runtime that goes away while its /next is parked.
//
// Only the Runtime API's requests with their own methods take this path
// (fastRoute). A connection whose next request is anything else (the
// Extensions and Telemetry APIs served by Options.Extra, an unknown path,
// a wrong method, a query string) is handed over whole, with what was read
// of it, to an http.Server that serves it with ServeHTTP (handlers.go) for
// the rest of its life.

// headerTimeout bounds the time between the first byte of a request and
// the end of its headers, as http.Server's ReadHeaderTimeout did; an idle
// or parked connection has no timeout.
const headerTimeout = time.Minute

// maxDrain is how much of a request body left unread is read and dropped
// to keep the connection, as net/http does; more and the connection is
// closed.
const maxDrain = 256 << 10

// ioBufSize is the size of a connection's pooled read and write buffers.
const ioBufSize = 16 << 10

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, ioBufSize) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, ioBufSize) }}
)

// conn is one connection from the sandbox served by the transport.
type conn struct {
	s  *Server
	nc net.Conn
	br *bufio.Reader // read only by the connection's goroutine
	// wmu serializes writes: the connection's goroutine answers requests,
	// Invoke writes an event to a parked connection.
	wmu sync.Mutex
	bw  *bufio.Writer
	// unpark gets a token (under Server.mu) when the connection stops
	// being Server.parked, for a goroutine that waits for that.
	unpark chan struct{}
	num    [24]byte // scratch for numbers; under wmu
	timed  bool     // a read deadline is set (headerTimeout)
	// closeAfter: the parked /next asked to close the connection after
	// its answer. Set before parking, under Server.mu.
	closeAfter bool
	done       bool // under wmu: bw is gone, nothing more is written
	// scratch receives request bodies left unread (drain).
	scratch [512]byte
	// lim is what br reads from: nc, bounded while a request's headers
	// are read.
	lim limitedReader
}

// maxHeaderBytes bounds a request's line and headers, as http.Server's
// DefaultMaxHeaderBytes does (with the same slack for bufio's read-ahead).
const maxHeaderBytes = http.DefaultMaxHeaderBytes + 4096

// errHeaderTooLarge ends a connection whose request headers are too long.
var errHeaderTooLarge = errors.New("runtimeapi: request headers too large")

// limitedReader reads from r, at most n more bytes while n >= 0.
type limitedReader struct {
	r net.Conn
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(p)
	}
	if l.n == 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	k, err := l.r.Read(p)
	l.n -= int64(k)
	return k, err
}

// route is what the transport does with a request.
type route uint8

const (
	routeSlow      route = iota // hand the connection to the http.Server
	routeNext                   // GET /invocation/next
	routeResponse               // POST /invocation/{id}/response
	routeError                  // POST /invocation/{id}/error
	routeInitError              // POST /init/error
)

// fastRoute decides from a request line ("GET /path HTTP/1.1") whether
// the transport serves the request itself. It refuses anything whose path
// the http.Server could read differently (escapes, queries, absolute
// forms) so that both agree on every request they serve.
func fastRoute(line []byte) route {
	line = bytes.TrimSuffix(line, []byte("\r"))
	method, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return routeSlow
	}
	target, proto, ok := bytes.Cut(rest, []byte(" "))
	if !ok || !bytes.HasPrefix(proto, []byte("HTTP/1.")) || bytes.ContainsAny(target, "%?#") {
		return routeSlow
	}
	p, ok := bytes.CutPrefix(target, []byte(pathPrefix))
	if !ok {
		return routeSlow
	}
	get, post := string(method) == http.MethodGet, string(method) == http.MethodPost
	switch {
	case string(p) == pathNext:
		if get {
			return routeNext
		}
	case string(p) == pathInitError:
		if post {
			return routeInitError
		}
	case post && bytes.HasPrefix(p, []byte(pathInvocation)):
		tail := p[len(pathInvocation):]
		rt := routeResponse
		id, ok := bytes.CutSuffix(tail, []byte(sufResponse))
		if !ok {
			rt = routeError
			id, ok = bytes.CutSuffix(tail, []byte(sufError))
		}
		if ok && len(id) > 0 && bytes.IndexByte(id, '/') < 0 {
			return rt
		}
	}
	return routeSlow
}

// serveConn serves nc until it closes, the Server closes, or it is handed
// to the http.Server.
func (s *Server) serveConn(nc net.Conn) {
	defer s.connWG.Done()
	br := readerPool.Get().(*bufio.Reader)
	bw := writerPool.Get().(*bufio.Writer)
	c := &conn{s: s, nc: nc, br: br, bw: bw, unpark: make(chan struct{}, 1)}
	c.lim.r, c.lim.n = nc, -1
	br.Reset(&c.lim)
	bw.Reset(nc)
	if !s.track(c) {
		nc.Close()
		return
	}
	handed := c.serve()
	s.connGone(c)
	s.untrack(c)
	if !handed {
		nc.Close() // an Invoke writing to it gives up
	}
	c.wmu.Lock()
	c.done = true
	bw.Reset(nil)
	writerPool.Put(bw)
	c.wmu.Unlock()
	if !handed { // else the http.Server reads on from br
		br.Reset(nil)
		readerPool.Put(br)
	}
}

// serve reads and answers requests until the connection ends; it reports
// whether the connection was handed to the http.Server.
func (c *conn) serve() (handed bool) {
	s := c.s
	for {
		line, err := c.peekRequestLine()
		if err != nil {
			s.connGone(c)
			return false
		}
		if !c.waitUnparked() {
			return false
		}
		rt := fastRoute(line)
		if rt == routeSlow {
			c.clearDeadline()
			c.wmu.Lock() // an event still being written goes out first
			c.done = true
			c.wmu.Unlock()
			return s.handOver(c)
		}
		c.lim.n = maxHeaderBytes
		r, err := http.ReadRequest(c.br)
		c.lim.n = -1
		c.clearDeadline()
		if err != nil {
			return false // a malformed request: the connection ends
		}
		if !c.answer(r, rt) {
			return false
		}
		if r.Body != http.NoBody && !c.drain(r.Body) {
			return false
		}
	}
}

// peekRequestLine waits for the next request and returns its request line
// without consuming it. Once a request has begun, the rest of its headers
// must arrive within headerTimeout.
func (c *conn) peekRequestLine() ([]byte, error) {
	if _, err := c.br.Peek(1); err != nil {
		return nil, err
	}
	for {
		b, _ := c.br.Peek(c.br.Buffered())
		if !c.timed && !headersComplete(b) {
			if err := c.nc.SetReadDeadline(time.Now().Add(c.s.headerTimeout)); err != nil {
				return nil, err
			}
			c.timed = true
		}
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return b[:i], nil
		}
		if len(b) >= c.br.Size() {
			return nil, bufio.ErrBufferFull // a request line longer than the buffer
		}
		if _, err := c.br.Peek(len(b) + 1); err != nil {
			return nil, err
		}
	}
}

// drain reads what is left of a request body, at most maxDrain bytes; it
// reports whether the body ended, so the connection can serve another
// request.
func (c *conn) drain(body io.Reader) bool {
	for n := 0; n <= maxDrain; {
		k, err := body.Read(c.scratch[:])
		n += k
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}

// headersComplete reports whether b holds a request's whole header.
func headersComplete(b []byte) bool {
	return bytes.Contains(b, []byte("\r\n\r\n")) || bytes.Contains(b, []byte("\n\n"))
}

// clearDeadline removes the read deadline peekRequestLine set.
func (c *conn) clearDeadline() {
	if c.timed {
		c.timed = false
		_ = c.nc.SetReadDeadline(time.Time{})
	}
}

// waitUnparked waits, when a request arrived on a connection whose /next
// is still parked (the runtime pipelines), until that /next was answered;
// HTTP/1.1 answers requests in order. It returns false when the Server
// closed first.
func (c *conn) waitUnparked() bool {
	s := c.s
	for {
		s.mu.Lock()
		parked := s.parked == c
		s.mu.Unlock()
		if !parked {
			return true
		}
		if testHookPipelined != nil {
			testHookPipelined()
		}
		select {
		case <-c.unpark:
		case <-s.closing:
			return false
		}
	}
}

// answer serves a request fastRoute accepted. It reports whether the
// connection can go on: not after an answer that closes it (the runtime
// sent Connection: close), except a parked /next, whose connection is
// half-closed once the event is written.
func (c *conn) answer(r *http.Request, rt route) bool {
	s := c.s
	if r.ContentLength != 0 && strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		c.wmu.Lock()
		err := net.ErrClosed
		if !c.done {
			c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			err = c.bw.Flush()
		}
		c.wmu.Unlock()
		if err != nil {
			return false
		}
	}
	var status int
	var body []byte
	switch rt {
	case routeNext:
		return c.next(r)
	case routeInitError:
		status, body = s.answerInitError(r)
	default:
		ev := evResponse
		if rt == routeError {
			ev = evError
		}
		status, body = s.answerPost(r, invocationID(r.URL.Path), ev)
	}
	return c.writeJSON(status, body, r.Close) == nil && !r.Close
}

// invocationID is the {id} of a /invocation/{id}/response or /error path
// fastRoute accepted.
func invocationID(path string) string {
	tail := strings.TrimPrefix(path, pathPrefix+pathInvocation)
	if id, ok := strings.CutSuffix(tail, sufResponse); ok {
		return id
	}
	id, _ := strings.CutSuffix(tail, sufError)
	return id
}

// next serves GET /invocation/next: the pending invocation if there is
// one, else the connection is parked for Invoke to write to.
func (c *conn) next(r *http.Request) bool {
	s := c.s
	s.mu.Lock()
	if err := s.toLocked(evNext); err != nil {
		s.mu.Unlock()
		return c.writeJSON(http.StatusForbidden, s.refusal(err.(*transitionError), ""), r.Close) == nil && !r.Close
	}
	s.endInitLocked(nil) // the first /next ends init
	if inv := s.inv; inv != nil {
		_ = s.toLocked(evDeliver) // Ready → Running: listed
		s.currentID = inv.RequestID
		s.mu.Unlock()
		// A runtime that does not read lets the invocation time out,
		// and Close or its exit ends the write.
		return c.writeInvocation(inv, r.Close) == nil && !r.Close
	}
	select {
	case <-c.unpark: // a stale token
	default:
	}
	c.closeAfter = r.Close
	s.parked = c
	s.mu.Unlock()
	return true
}

// unparkLocked takes the parked connection out of s.parked.
func (s *Server) unparkLocked() *conn {
	c := s.parked
	if c == nil {
		return nil
	}
	s.parked = nil
	select {
	case c.unpark <- struct{}{}:
	default:
	}
	return c
}

// connGone records that c ended (the runtime closed it, or it broke): a
// /next parked on it went away.
func (s *Server) connGone(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.parked != c {
		return
	}
	s.unparkLocked()
	if s.state == stateReady {
		_ = s.toLocked(evNextGone) // Ready → RuntimeResponseSentState: listed
	}
}

// writeJSON answers with status and a JSON body.
func (c *conn) writeJSON(status int, body []byte, closing bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.done {
		return net.ErrClosed
	}
	w := c.bw
	w.WriteString("HTTP/1.1 ")
	w.Write(strconv.AppendInt(c.num[:0], int64(status), 10))
	w.WriteByte(' ')
	w.WriteString(http.StatusText(status))
	w.WriteString("\r\nContent-Type: application/json\r\nContent-Length: ")
	w.Write(strconv.AppendInt(c.num[:0], int64(len(body)), 10))
	if closing {
		w.WriteString("\r\nConnection: close")
	}
	w.WriteString("\r\n\r\n")
	w.Write(body)
	return w.Flush()
}

// writeInvocation sends inv as the answer to the connection's /next.
func (c *conn) writeInvocation(inv *Invocation, closing bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.done {
		return net.ErrClosed
	}
	w := c.bw
	w.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
	writeHeader(w, hdrRequestID, inv.RequestID)
	if !inv.Deadline.IsZero() {
		w.WriteString(hdrDeadline)
		w.WriteString(": ")
		w.Write(strconv.AppendInt(c.num[:0], inv.Deadline.UnixMilli(), 10))
		w.WriteString("\r\n")
	}
	writeHeader(w, hdrFunctionARN, inv.FunctionARN)
	writeHeader(w, hdrTraceID, inv.TraceID)
	writeHeader(w, hdrClientContext, inv.ClientContext)
	writeHeader(w, hdrCognito, inv.CognitoIdentity)
	if closing {
		w.WriteString("Connection: close\r\n")
	}
	w.WriteString("Content-Length: ")
	w.Write(strconv.AppendInt(c.num[:0], int64(len(inv.Payload)), 10))
	w.WriteString("\r\n\r\n")
	w.Write(inv.Payload)
	return w.Flush()
}

// writeHeader writes one header line when v is not empty. CR and LF in v
// become spaces, as net/http writes them, so that no value can end the
// header or add one.
func writeHeader(w *bufio.Writer, k, v string) {
	if v == "" {
		return
	}
	w.WriteString(k)
	w.WriteString(": ")
	for {
		i := strings.IndexAny(v, "\r\n")
		if i < 0 {
			break
		}
		w.WriteString(v[:i])
		w.WriteByte(' ')
		v = v[i+1:]
	}
	w.WriteString(v)
	w.WriteString("\r\n")
}

// deliver writes inv to the parked connection c on the caller's
// goroutine. When ctx ends first the write is cut short and the
// connection closed.
//
// closing is c.closeAfter, read when c was taken out of Server.parked:
// the connection's goroutine may park it again, for the next /next, as
// soon as the event is out.
func (c *conn) deliver(ctx context.Context, inv *Invocation, closing bool) {
	stop := context.AfterFunc(ctx, func() {
		_ = c.nc.SetWriteDeadline(aLongTimeAgo)
	})
	err := c.writeInvocation(inv, closing)
	if closing && err == nil {
		// The runtime asked to close after this answer: it sees the
		// end, and the connection's goroutine sees it close.
		if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			c.nc.Close()
		}
	}
	if !stop() || err != nil {
		// Cut short, or the runtime went away: the connection is done;
		// Invoke waits for its context, another connection's response
		// or the runtime's exit.
		c.nc.Close()
	}
}

// testHookPipelined, when set, is called when a request waits behind a
// parked /next (tests only).
var testHookPipelined func()

// aLongTimeAgo is a deadline that has passed.
var aLongTimeAgo = time.Unix(1, 0)

// handOver gives c, and what was read of it, to the http.Server. It
// reports whether the http.Server took it.
func (s *Server) handOver(c *conn) bool {
	hc := &handedConn{Conn: c.nc, r: c.br}
	select {
	case s.slow.conns <- hc:
		return true
	case <-s.slow.closed:
		return false
	}
}

// handedConn is a connection handed to the http.Server: it reads through
// the transport's reader first, which may hold the start of a request.
type handedConn struct {
	net.Conn
	r *bufio.Reader
}

func (h *handedConn) Read(p []byte) (int, error) { return h.r.Read(p) }

// CloseWrite half-closes the connection when it can, as net/http does on
// a *net.TCPConn before closing after an error.
func (h *handedConn) CloseWrite() error {
	if cw, ok := h.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// chanListener is the http.Server's listener: connections the transport
// handed over.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
