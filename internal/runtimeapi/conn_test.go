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
	"testing"
	"time"
)

// rawConn is a runtime's connection driven by hand, for the transport's
// wire behaviour.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatal(err)
	}
}

// read reads one response whole.
func (rc *rawConn) read() reply {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.r, nil)
	if err != nil {
		rc.t.Fatalf("reading a response: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		rc.t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

const (
	reqNext = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: rt\r\n\r\n"
)

func reqResponse(id, body string) string {
	return "POST /2018-06-01/runtime/invocation/" + id + "/response HTTP/1.1\r\nHost: rt\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// TestResponseOnAnotherConnection: a runtime may poll /next on one
// connection and post the response on a new one; the result arrives and
// the first connection goes on.
func TestResponseOnAnotherConnection(t *testing.T) {
	s, rt := start(t, Options{})
	a := dialRaw(t, rt.addr)
	a.send(reqNext)
	waitState(t, s, stateReady)
	ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r1", Payload: []byte(`{"n":1}`)})
	ev := a.read()
	if ev.status != http.StatusOK || ev.header.Get(hdrRequestID) != "r1" || string(ev.body) != `{"n":1}` {
		t.Fatalf("event: %d %v %s", ev.status, ev.header, ev.body)
	}
	b := dialRaw(t, rt.addr)
	b.send(reqResponse("r1", `"from b"`))
	if r := b.read(); r.status != http.StatusAccepted {
		t.Fatalf("response on b: %d %s", r.status, r.body)
	}
	if o := wait(t, ch); o.err != nil || string(o.res.Payload) != `"from b"` {
		t.Fatalf("Invoke = %+v %v", o.res, o.err)
	}
	// The first connection polls again and gets the next one.
	a.send(reqNext)
	waitState(t, s, stateReady)
	ch = invokeAsync(s, context.Background(), &Invocation{RequestID: "r2", Payload: []byte(`2`)})
	if ev := a.read(); ev.header.Get(hdrRequestID) != "r2" {
		t.Fatalf("second event: %v", ev.header)
	}
	a.send(reqResponse("r2", "ok"))
	if r := a.read(); r.status != http.StatusAccepted {
		t.Fatalf("response on a: %d", r.status)
	}
	if o := wait(t, ch); o.err != nil || string(o.res.Payload) != "ok" {
		t.Fatalf("Invoke = %+v %v", o.res, o.err)
	}
}

// TestConnectionClosedWhileRunning: a runtime that closes its connection
// after it got the event does not hang Invoke: its exit (or the
// invocation's timeout) ends it.
func TestConnectionClosedWhileRunning(t *testing.T) {
	t.Run("exit", func(t *testing.T) {
		s, rt := start(t, Options{})
		a := dialRaw(t, rt.addr)
		a.send(reqNext)
		waitState(t, s, stateReady)
		ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r"})
		a.read()
		a.c.Close()
		s.RuntimeExited(errors.New("exit status 1"))
		if o := wait(t, ch); !errors.Is(o.err, ErrRuntimeExited) {
			t.Fatalf("Invoke = %v", o.err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		s, rt := start(t, Options{})
		a := dialRaw(t, rt.addr)
		a.send(reqNext)
		waitState(t, s, stateReady)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ch := invokeAsync(s, ctx, &Invocation{RequestID: "r"})
		a.read()
		a.c.Close()
		cancel()
		if o := wait(t, ch); !errors.Is(o.err, context.Canceled) {
			t.Fatalf("Invoke = %v", o.err)
		}
		waitState(t, s, stateAbandoned)
	})
	t.Run("before the event", func(t *testing.T) {
		// The /next went away before an invocation came: it is withdrawn
		// and the runtime's next poll gets the invocation.
		s, rt := start(t, Options{})
		a := dialRaw(t, rt.addr)
		a.send(reqNext)
		waitState(t, s, stateReady)
		a.c.Close()
		waitState(t, s, stateResponseSent)
		cycle(t, s, rt, "after")
	})
}

// TestPipelined: requests sent back to back before their answers are
// answered in order, each once it is its turn.
func TestPipelined(t *testing.T) {
	s, rt := start(t, Options{})
	a := dialRaw(t, rt.addr)
	a.send(reqNext)
	waitState(t, s, stateReady)
	ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r1", Payload: []byte(`1`)})
	if ev := a.read(); ev.header.Get(hdrRequestID) != "r1" {
		t.Fatalf("event: %v", ev.header)
	}
	// The response and the next poll in one write.
	a.send(reqResponse("r1", "one") + reqNext)
	if r := a.read(); r.status != http.StatusAccepted {
		t.Fatalf("response: %d %s", r.status, r.body)
	}
	if o := wait(t, ch); o.err != nil || string(o.res.Payload) != "one" {
		t.Fatalf("Invoke = %+v %v", o.res, o.err)
	}
	waitState(t, s, stateReady)

	// A request pipelined behind a parked /next waits for its turn: the
	// event is answered first, then the other request (here one the
	// http.Server serves: the connection is handed over).
	behind := make(chan struct{}, 1)
	testHookPipelined = func() {
		select {
		case behind <- struct{}{}:
		default:
		}
	}
	defer func() { testHookPipelined = nil }()
	a.send("GET /nowhere HTTP/1.1\r\nHost: rt\r\n\r\n")
	select { // the server read it and waits
	case <-behind:
	case <-time.After(10 * time.Second):
		t.Fatal("the pipelined request did not wait behind the parked /next")
	}
	ch = invokeAsync(s, context.Background(), &Invocation{RequestID: "r2", Payload: []byte(`2`)})
	if ev := a.read(); ev.status != http.StatusOK || ev.header.Get(hdrRequestID) != "r2" {
		t.Fatalf("event: %d %v", ev.status, ev.header)
	}
	if r := a.read(); r.status != http.StatusNotFound {
		t.Fatalf("pipelined request: %d %s", r.status, r.body)
	}
	a.send(reqResponse("r2", "two"))
	if r := a.read(); r.status != http.StatusAccepted {
		t.Fatalf("response after the hand-over: %d %s", r.status, r.body)
	}
	if o := wait(t, ch); o.err != nil || string(o.res.Payload) != "two" {
		t.Fatalf("Invoke = %+v %v", o.res, o.err)
	}
}

// TestPartialRequests: a request that arrives a byte at a time is served
// like any other.
func TestPartialRequests(t *testing.T) {
	s, rt := start(t, Options{})
	a := dialRaw(t, rt.addr)
	for i := range len(reqNext) {
		a.send(reqNext[i : i+1])
	}
	waitState(t, s, stateReady)
	ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r", Payload: []byte(`{}`)})
	a.read()
	req := reqResponse("r", `"bytewise"`)
	for i := range len(req) {
		a.send(req[i : i+1])
	}
	if r := a.read(); r.status != http.StatusAccepted {
		t.Fatalf("response: %d", r.status)
	}
	if o := wait(t, ch); o.err != nil || string(o.res.Payload) != `"bytewise"` {
		t.Fatalf("Invoke = %+v %v", o.res, o.err)
	}
}

// TestStalledRequestLine: a connection that stops in the middle of a
// request line is closed after the header timeout; an idle one is not.
func TestStalledRequestLine(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Logger: quiet()})
	s.headerTimeout = 50 * time.Millisecond
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	defer func() {
		s.Close()
		<-served
	}()
	idle := dialRaw(t, l.Addr().String())
	a := dialRaw(t, l.Addr().String())
	a.send("GET /2018-06-01/runtime/invo")
	a.c.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := a.r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("stalled connection: read = %v, want EOF", err)
	}
	// The idle connection still works.
	idle.send(reqNext)
	waitState(t, s, stateReady)
}

// TestInvokeCanceledWhileWriting: an event the runtime does not read is
// cut short when Invoke's context ends; Invoke returns and the sandbox is
// abandoned.
func TestInvokeCanceledWhileWriting(t *testing.T) {
	s, rt := start(t, Options{})
	a := dialRaw(t, rt.addr)
	a.send(reqNext)
	waitState(t, s, stateReady)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	big := make([]byte, 64<<20) // more than the socket buffers hold
	ch := invokeAsync(s, ctx, &Invocation{RequestID: "r", Payload: big})
	waitState(t, s, stateRunning)
	cancel()
	if o := wait(t, ch); !errors.Is(o.err, context.Canceled) {
		t.Fatalf("Invoke = %v", o.err)
	}
	waitState(t, s, stateAbandoned)
	// The connection was closed: what the runtime reads ends early.
	a.c.SetReadDeadline(time.Now().Add(time.Minute))
	n, err := io.Copy(io.Discard, a.r)
	if err != nil || n >= int64(len(big)) {
		t.Fatalf("runtime read %d bytes, %v; want a cut-short event", n, err)
	}
}

// TestExtraOnSameConnection: requests for Options.Extra are served on the
// Runtime API's address, also on a connection that served the Runtime
// API, which keeps working after.
func TestExtraOnSameConnection(t *testing.T) {
	extra := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Lambda-Extension-Identifier", "ext-1")
		io.WriteString(w, "extra:"+r.URL.Path)
	})
	s, rt := start(t, Options{Extra: extra})
	a := dialRaw(t, rt.addr)
	a.send("POST /2020-01-01/extension/register HTTP/1.1\r\nHost: rt\r\nContent-Length: 2\r\n\r\n{}")
	if r := a.read(); r.status != http.StatusOK || string(r.body) != "extra:/2020-01-01/extension/register" || r.header.Get("Lambda-Extension-Identifier") != "ext-1" {
		t.Fatalf("extra: %d %s", r.status, r.body)
	}
	// The Runtime API on the same connection, now served by the
	// http.Server.
	a.send(reqNext)
	waitState(t, s, stateReady)
	ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r", Payload: []byte(`{}`)})
	if ev := a.read(); ev.header.Get(hdrRequestID) != "r" {
		t.Fatalf("event: %v", ev.header)
	}
	a.send(reqResponse("r", "ok"))
	if r := a.read(); r.status != http.StatusAccepted {
		t.Fatalf("response: %d", r.status)
	}
	if o := wait(t, ch); o.err != nil || string(o.res.Payload) != "ok" {
		t.Fatalf("Invoke = %+v %v", o.res, o.err)
	}
	// A runtime connection that asks for Extra later is handed over.
	cycle(t, s, rt, "c1")
	if r := rt.must(http.MethodGet, "/2020-01-01/extension/event/next", nil, nil); r.status != http.StatusOK || !strings.HasPrefix(string(r.body), "extra:") {
		t.Fatalf("extra after a cycle: %d %s", r.status, r.body)
	}
	cycle(t, s, rt, "c2")
}

// TestHeaderValuesCannotSplit: CR and LF in an invocation's values do not
// end or add headers.
func TestHeaderValuesCannotSplit(t *testing.T) {
	s, rt := start(t, Options{})
	ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r", Payload: []byte(`{}`),
		ClientContext: "{\"a\":1}\r\nX-Injected: yes\r\n\r\n"})
	got := rt.next()
	if got.header.Get("X-Injected") != "" || !bytes.HasPrefix([]byte(got.header.Get(hdrClientContext)), []byte(`{"a":1}`)) || string(got.body) != `{}` {
		t.Fatalf("headers %v body %s", got.header, got.body)
	}
	rt.respond("r", nil)
	wait(t, ch)
}

// TestConnectionClose: a runtime that polls with Connection: close gets
// its event, then the end of the connection, and posts on a new one.
func TestConnectionClose(t *testing.T) {
	const closingNext = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: rt\r\nConnection: close\r\n\r\n"
	s, rt := start(t, Options{})
	for _, parked := range []bool{true, false} {
		id := "pending"
		var ch <-chan outcome
		if !parked {
			ch = invokeAsync(s, context.Background(), &Invocation{RequestID: id, Payload: []byte(`{}`)})
			waitPending(t, s)
		}
		a := dialRaw(t, rt.addr)
		a.send(closingNext)
		if parked {
			id = "parked"
			waitState(t, s, stateReady)
			ch = invokeAsync(s, context.Background(), &Invocation{RequestID: id, Payload: []byte(`{}`)})
		}
		if ev := a.read(); ev.header.Get(hdrRequestID) != id || string(ev.body) != `{}` {
			t.Fatalf("%s: event %v %s", id, ev.header, ev.body)
		}
		a.c.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := a.r.ReadByte(); !errors.Is(err, io.EOF) {
			t.Fatalf("%s: after the event: %v, want EOF", id, err)
		}
		if r := rt.respond(id, []byte("ok")); r.status != http.StatusAccepted {
			t.Fatalf("%s: respond %d", id, r.status)
		}
		if o := wait(t, ch); o.err != nil || string(o.res.Payload) != "ok" {
			t.Fatalf("%s: Invoke = %+v %v", id, o.res, o.err)
		}
	}
}

// TestHeadersTooLarge: a request whose headers do not end is cut off at
// http.DefaultMaxHeaderBytes, and the server goes on.
func TestHeadersTooLarge(t *testing.T) {
	s, rt := start(t, Options{})
	a := dialRaw(t, rt.addr)
	go func() {
		io.WriteString(a.c, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: rt\r\n")
		line := "X-Filler: " + strings.Repeat("a", 1000) + "\r\n"
		for range 4 * http.DefaultMaxHeaderBytes / len(line) {
			if _, err := io.WriteString(a.c, line); err != nil {
				return // the server closed the connection
			}
		}
	}()
	a.c.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := a.r.ReadByte(); err == nil {
		t.Fatal("the server answered a request with endless headers")
	}
	waitState(t, s, stateStarted)
	cycle(t, s, rt, "after")
}
