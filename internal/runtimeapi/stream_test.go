package runtimeapi

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink is a ResponseStream that hands every piece it gets to a channel.
type sink struct {
	mu      sync.Mutex
	ct      string
	started int
	got     strings.Builder
	pieces  chan string
	fail    bool // Write refuses, as when the client went away
}

func newSink() *sink { return &sink{pieces: make(chan string, 1024)} }

func (s *sink) Start(ct string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ct = ct
	s.started++
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return 0, errors.New("client gone")
	}
	s.got.Write(p)
	s.pieces <- string(p)
	return len(p), nil
}

func (s *sink) body() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got.String()
}

// streamPost posts a streamed /response whose body the test writes
// through the returned pipe; trailers are set from the map once the body
// ends. The reply comes on the channel.
func streamPost(t *testing.T, rt *runtime, id, ct string, trailers map[string]string) (*io.PipeWriter, <-chan reply) {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, "http://"+rt.addr+"/2018-06-01/runtime/invocation/"+id+"/response", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(hdrResponseMode, responseModeStreaming)
	if ct != "" {
		req.Header.Set(hdrContentType, ct)
	}
	req.Trailer = http.Header{}
	for k := range trailers {
		req.Trailer[k] = nil
	}
	body := &trailerSetter{r: pr, req: req, trailers: trailers}
	req.Body = body
	ch := make(chan reply, 1)
	go func() {
		resp, err := rt.c.Do(req)
		if err != nil {
			ch <- reply{status: -1, body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		ch <- reply{resp.StatusCode, resp.Header, b}
	}()
	return pw, ch
}

// trailerSetter fills the request's trailers when its body ends, as a
// runtime sets them after the last chunk.
type trailerSetter struct {
	r        io.Reader
	req      *http.Request
	trailers map[string]string
}

func (b *trailerSetter) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		for k, v := range b.trailers {
			b.req.Trailer.Set(k, v)
		}
	}
	return n, err
}

func (b *trailerSetter) Close() error { return nil }

func recvPiece(t *testing.T, s *sink) string {
	t.Helper()
	select {
	case p := <-s.pieces:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no piece forwarded")
		return ""
	}
}

func TestStreamForwardsAsItArrives(t *testing.T) {
	s, rt := start(t, Options{})
	sk := newSink()
	ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r", Stream: sk})
	rt.next()
	pw, replies := streamPost(t, rt, "r", "text/plain", nil)
	// Each piece reaches the stream before the runtime sends the next:
	// nothing waits for the end of the body.
	for _, piece := range []string{"one,", "two,", "three"} {
		if _, err := io.WriteString(pw, piece); err != nil {
			t.Fatal(err)
		}
		if got := recvPiece(t, sk); got != piece {
			t.Fatalf("forwarded %q, want %q", got, piece)
		}
	}
	pw.Close()
	if r := <-replies; r.status != http.StatusAccepted {
		t.Fatalf("runtime got %d %s", r.status, r.body)
	}
	o := wait(t, ch)
	if o.err != nil || o.res.Error || !o.res.Streamed || len(o.res.Payload) != 0 {
		t.Fatalf("Result = %+v, %v", o.res, o.err)
	}
	if sk.started != 1 || sk.ct != "text/plain" || sk.body() != "one,two,three" {
		t.Errorf("stream: started %d, type %q, body %q", sk.started, sk.ct, sk.body())
	}
	cycle(t, s, rt, "r2")
}

func TestStreamDefaultContentType(t *testing.T) {
	s, rt := start(t, Options{})
	sk := newSink()
	ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r", Stream: sk})
	rt.next()
	pw, replies := streamPost(t, rt, "r", "", nil)
	pw.Close()
	<-replies
	if o := wait(t, ch); o.err != nil || !o.res.Streamed || sk.ct != "application/octet-stream" {
		t.Fatalf("Result = %+v, %v; type %q", o.res, o.err, sk.ct)
	}
}

func TestStreamErrorTrailers(t *testing.T) {
	s, rt := start(t, Options{})
	sk := newSink()
	ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r", Stream: sk})
	rt.next()
	errJSON := `{"errorMessage":"boom","errorType":"Error"}`
	pw, replies := streamPost(t, rt, "r", "", map[string]string{
		hdrErrorType: "Error", hdrErrorBody: base64.StdEncoding.EncodeToString([]byte(errJSON))})
	io.WriteString(pw, "partial")
	recvPiece(t, sk)
	pw.Close()
	if r := <-replies; r.status != http.StatusAccepted {
		t.Fatalf("runtime got %d %s", r.status, r.body)
	}
	o := wait(t, ch)
	if o.err != nil || !o.res.Error || o.res.ErrorType != "Error" || string(o.res.Payload) != errJSON {
		t.Fatalf("Result = %+v (%s), %v", o.res, o.res.Payload, o.err)
	}
	if sk.body() != "partial" {
		t.Errorf("forwarded %q", sk.body())
	}
}

func TestStreamTooLarge(t *testing.T) {
	s, rt := start(t, Options{MaxStreamedBytes: 10})
	sk := newSink()
	ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r", Stream: sk})
	rt.next()
	pw, replies := streamPost(t, rt, "r", "", nil)
	go func() {
		io.WriteString(pw, "0123456789")
		io.WriteString(pw, "more")
		pw.Close()
	}()
	r := <-replies
	if r.status != http.StatusRequestEntityTooLarge || r.errType() != apiRequestEntityTooLarge {
		t.Errorf("runtime got %d %s", r.status, r.body)
	}
	o := wait(t, ch)
	if o.err != nil || !o.res.Error || o.res.ErrorType != ErrorTypeResponseSizeTooLarge {
		t.Fatalf("Result = %+v, %v", o.res, o.err)
	}
	if got := sk.body(); len(got) > 10 {
		t.Errorf("forwarded %d bytes past the limit: %q", len(got), got)
	}
}

func TestStreamClientGone(t *testing.T) {
	s, rt := start(t, Options{})
	sk := newSink()
	sk.fail = true
	ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r", Stream: sk})
	rt.next()
	pw, replies := streamPost(t, rt, "r", "", nil)
	go func() {
		io.WriteString(pw, strings.Repeat("x", 100<<10))
		pw.Close()
	}()
	// The runtime's response is read to the end and accepted: the
	// function finishes as it would have.
	if r := <-replies; r.status != http.StatusAccepted {
		t.Fatalf("runtime got %d %s", r.status, r.body)
	}
	if o := wait(t, ch); o.err != nil || o.res.Error || !o.res.Streamed {
		t.Fatalf("Result = %+v, %v", o.res, o.err)
	}
	cycle(t, s, rt, "r2")
}

func TestStreamWithoutStreamIsBuffered(t *testing.T) {
	s, rt := start(t, Options{})
	ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r"})
	rt.next()
	pw, replies := streamPost(t, rt, "r", "", nil)
	io.WriteString(pw, "whole")
	pw.Close()
	<-replies
	if o := wait(t, ch); o.err != nil || o.res.Streamed || string(o.res.Payload) != "whole" {
		t.Fatalf("Result = %+v, %v", o.res, o.err)
	}
}

func TestPacer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := pacer{burst: 6 << 20, rate: 2 << 20}
	// The first 6 MB flow at once, however fast.
	for i := 0; i < 6; i++ {
		if d := p.admit(1<<20, t0); d != 0 {
			t.Fatalf("MB %d waits %v within the burst", i+1, d)
		}
	}
	// Then 2 MB a second: the 7th MB may go half a second after the
	// burst ran out, the 8th a second after.
	if d := p.admit(1<<20, t0); d != 500*time.Millisecond {
		t.Errorf("7th MB waits %v, want 500ms", d)
	}
	if d := p.admit(1<<20, t0.Add(500*time.Millisecond)); d != 500*time.Millisecond {
		t.Errorf("8th MB waits %v, want 500ms", d)
	}
	// A slow sender is not paced further: time it took already counts.
	if d := p.admit(1<<20, t0.Add(10*time.Second)); d != 0 {
		t.Errorf("9th MB after a pause waits %v, want 0", d)
	}
	// A response that starts over the cap from its first byte.
	q := pacer{burst: 10, rate: 100}
	if d := q.admit(60, t0); d != 500*time.Millisecond {
		t.Errorf("over the burst at once waits %v, want 500ms", d)
	}
}

// discard is a ResponseStream that keeps nothing.
type discard struct{}

func (discard) Start(string)                {}
func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkStreamForward: a 4 MB response streamed in 64 KB writes
// through the Runtime API to a Stream, within the uncapped burst.
func BenchmarkStreamForward(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := New(Options{Logger: quiet()})
	go s.Serve(l)
	defer s.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	base := "http://" + l.Addr().String() + "/2018-06-01/runtime/invocation/"
	piece := make([]byte, 64<<10)
	const total = 4 << 20
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := "r" + strconv.Itoa(i)
		ch := invokeAsync(s, context.Background(), &Invocation{RequestID: id, Stream: discard{}})
		resp, err := c.Get(base + "next")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		pr, pw := io.Pipe()
		go func() {
			for n := 0; n < total; n += len(piece) {
				pw.Write(piece)
			}
			pw.Close()
		}()
		req, _ := http.NewRequest(http.MethodPost, base+id+"/response", pr)
		req.Header.Set(hdrResponseMode, responseModeStreaming)
		resp, err = c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		o := <-ch
		if o.err != nil || !o.res.Streamed {
			b.Fatalf("%+v %v", o.res, o.err)
		}
	}
}
