package runtimeapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runtime is a bare Runtime API client, as a runtime inside a sandbox
// would be.
type runtime struct {
	t    *testing.T
	addr string
	c    *http.Client
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// errType is the errorType member of a JSON error body.
func (r reply) errType() string {
	var v apiError
	json.Unmarshal(r.body, &v)
	return v.ErrorType
}

func (r reply) errMessage() string {
	var v apiError
	json.Unmarshal(r.body, &v)
	return v.ErrorMessage
}

func (rt *runtime) do(ctx context.Context, method, path string, body io.Reader, hdr map[string]string) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+rt.addr+path, body)
	if err != nil {
		return reply{}, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := rt.c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, b}, err
}

func (rt *runtime) must(method, path string, body []byte, hdr map[string]string) reply {
	rt.t.Helper()
	r, err := rt.do(context.Background(), method, path, bytes.NewReader(body), hdr)
	if err != nil {
		rt.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (rt *runtime) next() reply {
	rt.t.Helper()
	return rt.must(http.MethodGet, "/2018-06-01/runtime/invocation/next", nil, nil)
}

func (rt *runtime) respond(id string, body []byte) reply {
	rt.t.Helper()
	return rt.must(http.MethodPost, "/2018-06-01/runtime/invocation/"+id+"/response", body, nil)
}

func (rt *runtime) fail(id string, body []byte, typ string) reply {
	rt.t.Helper()
	var hdr map[string]string
	if typ != "" {
		hdr = map[string]string{hdrErrorType: typ}
	}
	return rt.must(http.MethodPost, "/2018-06-01/runtime/invocation/"+id+"/error", body, hdr)
}

func (rt *runtime) initError(body []byte, typ string) reply {
	rt.t.Helper()
	var hdr map[string]string
	if typ != "" {
		hdr = map[string]string{hdrErrorType: typ}
	}
	return rt.must(http.MethodPost, "/2018-06-01/runtime/init/error", body, hdr)
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// start serves a new Server on a loopback port until the test ends.
func start(t *testing.T, opts Options) (*Server, *runtime) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(opts)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	tr := &http.Transport{}
	t.Cleanup(func() {
		s.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		tr.CloseIdleConnections()
	})
	return s, &runtime{t: t, addr: l.Addr().String(), c: &http.Client{Transport: tr}}
}

// waitState polls until s is in want.
func waitState(t *testing.T, s *Server, want state) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		got := s.state
		s.mu.Unlock()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %s, want %s", got, want)
		}
		time.Sleep(time.Millisecond)
	}
}

type outcome struct {
	res *Result
	err error
}

// invokeAsync runs Invoke in a goroutine.
func invokeAsync(s *Server, ctx context.Context, inv *Invocation) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		r, err := s.Invoke(ctx, inv)
		ch <- outcome{r, err}
	}()
	return ch
}

func wait(t *testing.T, ch <-chan outcome) outcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("Invoke did not return")
		return outcome{}
	}
}

// cycle runs one whole invocation with id through rt.
func cycle(t *testing.T, s *Server, rt *runtime, id string) {
	t.Helper()
	ch := invokeAsync(s, context.Background(), &Invocation{RequestID: id, Payload: []byte(`{}`), Deadline: time.Now().Add(time.Minute)})
	if r := rt.next(); r.status != http.StatusOK || r.header.Get(hdrRequestID) != id {
		t.Fatalf("next: %d %q", r.status, r.header.Get(hdrRequestID))
	}
	if r := rt.respond(id, []byte(`"ok"`)); r.status != http.StatusAccepted {
		t.Fatalf("respond: %d %s", r.status, r.body)
	}
	if o := wait(t, ch); o.err != nil {
		t.Fatal(o.err)
	}
}

func TestInvokeRoundTrip(t *testing.T) {
	s, rt := start(t, Options{})
	deadline := time.UnixMilli(1742409706888)
	inv := &Invocation{
		RequestID:       "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
		Payload:         []byte(`{"hello":"world"}`),
		Deadline:        deadline,
		FunctionARN:     "arn:aws:lambda:us-east-1:000000000000:function:f",
		TraceID:         "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
		ClientContext:   `{"custom":{"k":"v"}}`,
		CognitoIdentity: `{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}`,
	}
	ch := invokeAsync(s, context.Background(), inv)
	got := rt.next()
	if err := s.WaitInit(context.Background()); err != nil {
		t.Fatalf("WaitInit: %v", err)
	}
	if got.status != http.StatusOK {
		t.Fatalf("next: %d %s", got.status, got.body)
	}
	want := map[string]string{
		"Lambda-Runtime-Aws-Request-Id":       inv.RequestID,
		"Lambda-Runtime-Deadline-Ms":          "1742409706888",
		"Lambda-Runtime-Invoked-Function-Arn": inv.FunctionARN,
		"Lambda-Runtime-Trace-Id":             inv.TraceID,
		"Lambda-Runtime-Client-Context":       inv.ClientContext,
		"Lambda-Runtime-Cognito-Identity":     inv.CognitoIdentity,
		"Content-Type":                        "application/json",
	}
	for k, v := range want {
		if got := got.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if !bytes.Equal(got.body, inv.Payload) {
		t.Errorf("body = %s", got.body)
	}
	ack := rt.respond(inv.RequestID, []byte(`{"answer":42}`))
	if ack.status != http.StatusAccepted || string(ack.body) != "{\"status\":\"OK\"}\n" || ack.header.Get("Content-Type") != "application/json" {
		t.Errorf("response ack: %d %q %q", ack.status, ack.body, ack.header.Get("Content-Type"))
	}
	o := wait(t, ch)
	if o.err != nil || o.res.Error || string(o.res.Payload) != `{"answer":42}` {
		t.Fatalf("Invoke = %+v, %v", o.res, o.err)
	}

	// Optional headers are left out when empty; the deadline comes from
	// the context when the invocation has none.
	later := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), later)
	defer cancel()
	ch = invokeAsync(s, ctx, &Invocation{RequestID: "r2", Payload: []byte(`[]`)})
	got = rt.next()
	for _, k := range []string{hdrFunctionARN, hdrTraceID, hdrClientContext, hdrCognito} {
		if _, ok := got.header[k]; ok {
			t.Errorf("%s sent though empty", k)
		}
	}
	if dl := got.header.Get(hdrDeadline); dl != strconv.FormatInt(later.UnixMilli(), 10) {
		t.Errorf("deadline from context = %q", dl)
	}
	rt.respond("r2", nil)
	if o := wait(t, ch); o.err != nil || len(o.res.Payload) != 0 {
		t.Fatalf("Invoke = %+v, %v", o.res, o.err)
	}
}

func TestHeaderKeysAreCanonical(t *testing.T) {
	for _, k := range []string{hdrRequestID, hdrDeadline, hdrFunctionARN, hdrTraceID, hdrClientContext, hdrCognito, hdrContentType, hdrContentLength, hdrErrorType, hdrErrorBody, hdrResponseMode} {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("%q is not canonical (%q)", k, c)
		}
	}
}

func TestLargePayloadRoundTrip(t *testing.T) {
	s, rt := start(t, Options{})
	payload := bytes.Repeat([]byte("x"), 1<<20)
	ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "big", Payload: payload, Deadline: time.Now().Add(time.Minute)})
	got := rt.next()
	if !bytes.Equal(got.body, payload) || got.header.Get("Content-Length") != strconv.Itoa(len(payload)) {
		t.Fatalf("next body %d bytes, Content-Length %q", len(got.body), got.header.Get("Content-Length"))
	}
	// A chunked response of the same size comes back whole.
	r, err := rt.do(context.Background(), http.MethodPost, "/2018-06-01/runtime/invocation/big/response", io.MultiReader(bytes.NewReader(payload)), nil)
	if err != nil || r.status != http.StatusAccepted {
		t.Fatalf("respond: %v %d", err, r.status)
	}
	if o := wait(t, ch); o.err != nil || !bytes.Equal(o.res.Payload, payload) {
		t.Fatalf("Invoke: %v, %d bytes", o.err, len(o.res.Payload))
	}
}

func TestInvokeBeforeInit(t *testing.T) {
	s, rt := start(t, Options{})
	ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "early", Deadline: time.Now().Add(time.Minute)})
	waitPending(t, s)
	if r := rt.next(); r.header.Get(hdrRequestID) != "early" {
		t.Fatalf("first next got %q", r.header.Get(hdrRequestID))
	}
	if err := s.WaitInit(context.Background()); err != nil {
		t.Fatal(err)
	}
	rt.respond("early", []byte("1"))
	if o := wait(t, ch); o.err != nil || string(o.res.Payload) != "1" {
		t.Fatalf("%+v %v", o.res, o.err)
	}
}

// waitPending polls until an Invoke has queued its invocation.
func waitPending(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		p := s.inv != nil
		s.mu.Unlock()
		if p {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no invocation pending")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWaitInitTimeout(t *testing.T) {
	s, _ := start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.WaitInit(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitInit = %v", err)
	}
}

func TestInitError(t *testing.T) {
	cases := []struct {
		name, header, body, wantType string
	}{
		{"header", "Runtime.ImportModuleError", `{"errorMessage":"no module","errorType":"Runtime.ImportModuleError"}`, "Runtime.ImportModuleError"},
		{"header wins over body", "Unhandled", `{"errorMessage":"m","errorType":"ValueError"}`, "Unhandled"},
		{"type from body", "", `{"errorMessage":"m","errorType":"ValueError"}`, "ValueError"},
		{"no type", "", `{"errorMessage":"m"}`, "Runtime.Unknown"},
		{"not JSON", "", `boom`, "Runtime.Unknown"},
		{"empty", "", ``, "Runtime.Unknown"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, rt := start(t, Options{})
			// An invocation waiting for init learns of the failure too.
			ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r"})
			waitPending(t, s)
			r := rt.initError([]byte(c.body), c.header)
			if r.status != http.StatusAccepted || string(r.body) != "{\"status\":\"OK\"}\n" {
				t.Fatalf("init/error: %d %s", r.status, r.body)
			}
			var ie *InitError
			if err := s.WaitInit(context.Background()); !errors.As(err, &ie) {
				t.Fatalf("WaitInit = %v", err)
			}
			if ie.ErrorType != c.wantType || string(ie.Payload) != c.body {
				t.Errorf("InitError = %q %q", ie.ErrorType, ie.Payload)
			}
			o := wait(t, ch)
			if !errors.As(o.err, &ie) {
				t.Errorf("pending Invoke = %v", o.err)
			}
			// The runtime exits after: the init error is still the answer.
			s.RuntimeExited(errors.New("exit status 1"))
			if err := s.WaitInit(context.Background()); !errors.As(err, &ie) {
				t.Errorf("WaitInit after exit = %v", err)
			}
			if _, err := s.Invoke(context.Background(), &Invocation{RequestID: "r2"}); !errors.As(err, &ie) {
				t.Errorf("Invoke after init error = %v", err)
			}
		})
	}
}

func TestRuntimeExited(t *testing.T) {
	cause := errors.New("exit status 2")

	t.Run("during init", func(t *testing.T) {
		s, _ := start(t, Options{})
		ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r"})
		waitPending(t, s)
		s.RuntimeExited(cause)
		err := s.WaitInit(context.Background())
		if !errors.Is(err, ErrRuntimeExited) || !errors.Is(err, cause) {
			t.Errorf("WaitInit = %v", err)
		}
		if o := wait(t, ch); !errors.Is(o.err, ErrRuntimeExited) {
			t.Errorf("Invoke = %v", o.err)
		}
	})

	t.Run("during invocation", func(t *testing.T) {
		s, rt := start(t, Options{})
		ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r"})
		rt.next()
		s.RuntimeExited(nil)
		if o := wait(t, ch); !errors.Is(o.err, ErrRuntimeExited) {
			t.Errorf("Invoke = %v", o.err)
		}
		if err := s.WaitInit(context.Background()); err != nil {
			t.Errorf("WaitInit after a good init = %v", err)
		}
		if _, err := s.Invoke(context.Background(), &Invocation{RequestID: "r2"}); !errors.Is(err, ErrRuntimeExited) {
			t.Errorf("later Invoke = %v", err)
		}
		s.RuntimeExited(cause) // a second report changes nothing
	})

	t.Run("after the response", func(t *testing.T) {
		// aws-lambda-go posts a panic to /error, then exits: the result
		// stands.
		s, rt := start(t, Options{})
		ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r"})
		rt.next()
		rt.fail("r", []byte(`{"errorMessage":"p","errorType":"string"}`), "")
		s.RuntimeExited(cause)
		o := wait(t, ch)
		if o.err != nil || !o.res.Error || o.res.ErrorType != "string" {
			t.Errorf("Invoke = %+v %v", o.res, o.err)
		}
	})
}

func TestInvokeBusy(t *testing.T) {
	s, rt := start(t, Options{})
	ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "a"})
	waitPending(t, s)
	if _, err := s.Invoke(context.Background(), &Invocation{RequestID: "b"}); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Invoke = %v", err)
	}
	rt.next()
	if _, err := s.Invoke(context.Background(), &Invocation{RequestID: "b"}); !errors.Is(err, ErrBusy) {
		t.Fatalf("Invoke while running = %v", err)
	}
	rt.respond("a", nil)
	wait(t, ch)
	if _, err := s.Invoke(context.Background(), nil); err == nil {
		t.Error("Invoke(nil) accepted")
	}
	if _, err := s.Invoke(context.Background(), &Invocation{}); err == nil {
		t.Error("Invoke without request id accepted")
	}
}

func TestInvokeTimeout(t *testing.T) {
	t.Run("before delivery the invocation is withdrawn", func(t *testing.T) {
		s, rt := start(t, Options{})
		cycle(t, s, rt, "first")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := s.Invoke(ctx, &Invocation{RequestID: "late"}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Invoke = %v", err)
		}
		cycle(t, s, rt, "again") // still usable; "late" is never seen
	})

	t.Run("after delivery the sandbox is done", func(t *testing.T) {
		s, rt := start(t, Options{})
		ctx, cancel := context.WithCancel(context.Background())
		ch := invokeAsync(s, ctx, &Invocation{RequestID: "slow"})
		rt.next()
		cancel()
		if o := wait(t, ch); !errors.Is(o.err, context.Canceled) {
			t.Fatalf("Invoke = %v", o.err)
		}
		waitState(t, s, stateAbandoned)
		if _, err := s.Invoke(context.Background(), &Invocation{RequestID: "x"}); !errors.Is(err, ErrAbandoned) {
			t.Errorf("later Invoke = %v", err)
		}
		r := rt.respond("slow", nil)
		if r.status != http.StatusForbidden || r.errType() != "InvalidStateTransition" {
			t.Errorf("late response: %d %s", r.status, r.body)
		}
	})
}

func TestNextGoneAndPolledAgain(t *testing.T) {
	s, rt := start(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := rt.do(ctx, http.MethodGet, "/2018-06-01/runtime/invocation/next", nil, nil)
		done <- err
	}()
	waitState(t, s, stateReady)
	cancel()
	<-done
	waitState(t, s, stateResponseSent)
	cycle(t, s, rt, "after")
}

func TestClose(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Logger: quiet()})
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	rt := &runtime{t: t, addr: l.Addr().String(), c: &http.Client{}}
	parked := make(chan error, 1)
	go func() {
		_, err := rt.do(context.Background(), http.MethodGet, "/2018-06-01/runtime/invocation/next", nil, nil)
		parked <- err
	}()
	waitState(t, s, stateReady)
	ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r"})
	// Either the invocation reached the parked /next first, or Close wins.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v", err)
	}
	if o := wait(t, ch); !errors.Is(o.err, ErrClosed) {
		t.Errorf("Invoke = %v", o.err)
	}
	<-parked
	if _, err := s.Invoke(context.Background(), &Invocation{RequestID: "r"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke after Close = %v", err)
	}
	s.RuntimeExited(nil) // ignored after Close
	waitState(t, s, stateClosed)

	s2 := New(Options{Logger: quiet()})
	s2.Close()
	if err := s2.WaitInit(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("WaitInit after Close = %v", err)
	}
}

func TestDefaults(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	if s.max != 6291556 {
		t.Errorf("default limit %d", s.max)
	}
	if string(s.tooLarge) != `{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}`+"\n" {
		t.Errorf("413 body %s", s.tooLarge)
	}
}

func TestResponseTooLarge(t *testing.T) {
	const max = 100
	wantPayload := `{"errorMessage":"Response payload size exceeded maximum allowed payload size (100 bytes).","errorType":"Function.ResponseSizeTooLarge"}`
	wantBody := `{"errorMessage":"Exceeded maximum allowed payload size (100 bytes).","errorType":"RequestEntityTooLarge"}` + "\n"
	for _, c := range []struct {
		name    string
		path    string
		body    func() io.Reader
		tooMuch bool
	}{
		{"response with length", "response", func() io.Reader { return bytes.NewReader(make([]byte, max+1)) }, true},
		{"response chunked", "response", func() io.Reader { return io.MultiReader(bytes.NewReader(make([]byte, max+1))) }, true},
		{"error with length", "error", func() io.Reader { return bytes.NewReader(make([]byte, max+1)) }, true},
		{"error chunked", "error", func() io.Reader { return io.MultiReader(bytes.NewReader(make([]byte, 10*max))) }, true},
		{"response at the limit", "response", func() io.Reader { return bytes.NewReader(make([]byte, max)) }, false},
		{"chunked at the limit", "response", func() io.Reader { return io.MultiReader(bytes.NewReader(make([]byte, max))) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, rt := start(t, Options{MaxResponseBytes: max})
			ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r"})
			rt.next()
			r, err := rt.do(context.Background(), http.MethodPost, "/2018-06-01/runtime/invocation/r/"+c.path, c.body(), nil)
			if err != nil {
				t.Fatal(err)
			}
			o := wait(t, ch)
			if o.err != nil {
				t.Fatal(o.err)
			}
			if !c.tooMuch {
				if r.status != http.StatusAccepted || len(o.res.Payload) != max {
					t.Fatalf("%d, %d bytes", r.status, len(o.res.Payload))
				}
				return
			}
			if r.status != http.StatusRequestEntityTooLarge || string(r.body) != wantBody {
				t.Errorf("runtime got %d %s", r.status, r.body)
			}
			if !o.res.Error || o.res.ErrorType != "Function.ResponseSizeTooLarge" || string(o.res.Payload) != wantPayload {
				t.Errorf("Result = %+v %s", o.res, o.res.Payload)
			}
			// The runtime may go on.
			cycle(t, s, rt, "next")
		})
	}
}

func TestInvocationError(t *testing.T) {
	cases := []struct {
		name, header, body, wantType string
	}{
		{"header", "Function.Custom", `{"errorMessage":"m","errorType":"Other"}`, "Function.Custom"},
		{"aws-lambda-go shape", "", `{"errorMessage":"boom","errorType":"errorString"}`, "errorString"},
		{"no type", "", `{"errorMessage":"boom"}`, "Runtime.Unknown"},
		{"not JSON", "", `plain text`, "Runtime.Unknown"},
		{"empty", "", ``, "Runtime.Unknown"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, rt := start(t, Options{})
			ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r"})
			rt.next()
			r := rt.fail("r", []byte(c.body), c.header)
			if r.status != http.StatusAccepted || string(r.body) != "{\"status\":\"OK\"}\n" {
				t.Fatalf("error: %d %s", r.status, r.body)
			}
			o := wait(t, ch)
			if o.err != nil || !o.res.Error || o.res.ErrorType != c.wantType || string(o.res.Payload) != c.body {
				t.Errorf("Result = %+v (%s), %v", o.res, o.res.Payload, o.err)
			}
		})
	}
}

// rawPost sends a chunked POST with trailers, as aws-lambda-go does.
func rawPost(t *testing.T, addr, path, body string, trailers map[string]string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: %s, %s\r\n\r\n", path, hdrErrorType, hdrErrorBody)
	if body != "" {
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(body), body)
	}
	b.WriteString("0\r\n")
	for k, v := range trailers {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestResponseTrailerError(t *testing.T) {
	errJSON := `{"errorMessage":"read failed","errorType":"errorString"}`
	cases := []struct {
		name      string
		trailers  map[string]string
		wantError bool
		wantType  string
		want      string
	}{
		{"no trailers", nil, false, "", "partial"},
		{"error trailers", map[string]string{hdrErrorType: "errorString", hdrErrorBody: base64.StdEncoding.EncodeToString([]byte(errJSON))}, true, "errorString", errJSON},
		{"type only", map[string]string{hdrErrorType: "Function.X"}, true, "Function.X", `{"errorMessage":"","errorType":"Function.X"}`},
		{"bad base64", map[string]string{hdrErrorType: "Function.X", hdrErrorBody: "%%%"}, true, "Function.X", `{"errorMessage":"","errorType":"Function.X"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, rt := start(t, Options{})
			ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r"})
			rt.next()
			if st := rawPost(t, rt.addr, "/2018-06-01/runtime/invocation/r/response", "partial", c.trailers); st != http.StatusAccepted {
				t.Fatalf("status %d", st)
			}
			o := wait(t, ch)
			if o.err != nil || o.res.Error != c.wantError || o.res.ErrorType != c.wantType || string(o.res.Payload) != c.want {
				t.Errorf("Result = %+v (%s) %v", o.res, o.res.Payload, o.err)
			}
		})
	}
}

func TestResponseMode(t *testing.T) {
	s, rt := start(t, Options{})
	ch := invokeAsync(s, context.Background(), &Invocation{RequestID: "r"})
	rt.next()
	r := rt.must(http.MethodPost, "/2018-06-01/runtime/invocation/r/response", []byte("streamed"), map[string]string{hdrResponseMode: "streaming"})
	if o := wait(t, ch); r.status != http.StatusAccepted || o.err != nil || string(o.res.Payload) != "streamed" {
		t.Fatalf("streaming: %d %+v %v", r.status, o.res, o.err)
	}

	ch = invokeAsync(s, context.Background(), &Invocation{RequestID: "r2"})
	rt.next()
	r = rt.must(http.MethodPost, "/2018-06-01/runtime/invocation/r2/response", []byte("x"), map[string]string{hdrResponseMode: "Buffered"})
	if r.status != http.StatusBadRequest || r.errType() != "InvalidFunctionResponseMode" || r.errMessage() != "Invalid function response mode" {
		t.Errorf("runtime got %d %s", r.status, r.body)
	}
	o := wait(t, ch)
	if o.err != nil || !o.res.Error || o.res.ErrorType != "Runtime.InvalidResponseModeHeader" {
		t.Errorf("Result = %+v %v", o.res, o.err)
	}
	cycle(t, s, rt, "r3")
}

func TestRouting(t *testing.T) {
	_, rt := start(t, Options{})
	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/", 404, ""},
		{"GET", "/2018-06-01/runtime/invocation/nextx", 404, ""},
		{"GET", "/2018-06-01/runtime/invocation", 404, ""},
		{"GET", "/2020-01-01/extension/register", 404, ""},
		{"POST", "/2018-06-01/runtime/invocation/a/b/response", 404, ""},
		{"POST", "/2018-06-01/runtime/invocation/a/result", 404, ""},
		{"GET", "/runtime/invocation/next", 404, ""},
		{"POST", "/2018-06-01/runtime/invocation/next", 405, "GET"},
		{"GET", "/2018-06-01/runtime/init/error", 405, "POST"},
		{"GET", "/2018-06-01/runtime/invocation/a/response", 405, "POST"},
		{"PUT", "/2018-06-01/runtime/invocation/a/error", 405, "POST"},
		{"POST", "/2018-06-01/runtime/invocation//response", 400, ""},
		{"POST", "/2018-06-01/runtime/invocation/unknown/error", 400, ""},
	} {
		r := rt.must(c.method, c.path, nil, nil)
		if r.status != c.status || r.header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow=%q, want %d %q", c.method, c.path, r.status, r.header.Get("Allow"), c.status, c.allow)
		}
		if c.status == 400 && (r.errType() != "InvalidRequestID" || r.errMessage() != "Invalid request ID") {
			t.Errorf("%s %s: body %s", c.method, c.path, r.body)
		}
	}
}

// TestEveryRuntimeMoveInEveryState drives the Server into each state a
// runtime can reach it in and sends every request: legal ones succeed,
// others get RIE's answer.
func TestEveryRuntimeMoveInEveryState(t *testing.T) {
	type setup func(t *testing.T, s *Server, rt *runtime)
	parkNext := func(t *testing.T, s *Server, rt *runtime) {
		go rt.do(context.Background(), http.MethodGet, "/2018-06-01/runtime/invocation/next", nil, nil)
		waitState(t, s, stateReady)
	}
	states := []struct {
		name  string
		state state
		setup setup
	}{
		{"Started", stateStarted, func(t *testing.T, s *Server, rt *runtime) {}},
		{"InitError", stateInitError, func(t *testing.T, s *Server, rt *runtime) { rt.initError([]byte(`{}`), "") }},
		{"Ready", stateReady, func(t *testing.T, s *Server, rt *runtime) { cycle(t, s, rt, "cur"); parkNext(t, s, rt) }},
		{"Running", stateRunning, func(t *testing.T, s *Server, rt *runtime) {
			invokeAsync(s, context.Background(), &Invocation{RequestID: "cur"})
			rt.next()
		}},
		{"RuntimeResponseSentState", stateResponseSent, func(t *testing.T, s *Server, rt *runtime) { cycle(t, s, rt, "cur") }},
		{"Abandoned", stateAbandoned, func(t *testing.T, s *Server, rt *runtime) {
			ctx, cancel := context.WithCancel(context.Background())
			ch := invokeAsync(s, ctx, &Invocation{RequestID: "cur"})
			rt.next()
			cancel()
			<-ch
		}},
		{"Exited", stateExited, func(t *testing.T, s *Server, rt *runtime) { cycle(t, s, rt, "cur"); s.RuntimeExited(nil) }},
	}
	moves := []struct {
		name, method, path string
		ev                 event
		usesID             bool
	}{
		{"next", "GET", "/2018-06-01/runtime/invocation/next", evNext, false},
		{"response", "POST", "/2018-06-01/runtime/invocation/cur/response", evResponse, true},
		{"error", "POST", "/2018-06-01/runtime/invocation/cur/error", evError, true},
		{"init error", "POST", "/2018-06-01/runtime/init/error", evInitError, false},
		{"response for another id", "POST", "/2018-06-01/runtime/invocation/other/response", evResponse, true},
		{"error for another id", "POST", "/2018-06-01/runtime/invocation/other/error", evError, true},
	}
	for _, st := range states {
		for _, mv := range moves {
			t.Run(st.name+"/"+mv.name, func(t *testing.T) {
				s, rt := start(t, Options{})
				st.setup(t, s, rt)
				waitState(t, s, st.state)
				s.mu.Lock()
				cur := s.currentID
				s.mu.Unlock()

				legal := st.state.next(mv.ev) != stateNone
				knownID := !mv.usesID || (cur != "" && strings.Contains(mv.path, "/"+cur+"/"))
				if legal && mv.ev == evNext {
					// A legal /next parks: only check that it does.
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					go rt.do(ctx, mv.method, mv.path, nil, nil)
					waitState(t, s, stateReady)
					return
				}
				r := rt.must(mv.method, mv.path, []byte(`{}`), nil)
				switch {
				case !knownID:
					if r.status != http.StatusBadRequest || r.errType() != "InvalidRequestID" {
						t.Errorf("got %d %s, want 400 InvalidRequestID", r.status, r.body)
					}
				case legal:
					if r.status != http.StatusAccepted {
						t.Errorf("legal move got %d %s", r.status, r.body)
					}
				default:
					want := fmt.Sprintf("State transition from %s to %s failed for runtime. Error: State transition is not allowed", st.name, mv.ev)
					if r.status != http.StatusForbidden || r.errType() != "InvalidStateTransition" || r.errMessage() != want {
						t.Errorf("got %d %s, want 403 %q", r.status, r.body, want)
					}
					if r.header.Get("Content-Type") != "application/json" {
						t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
					}
					s.mu.Lock()
					after := s.state
					s.mu.Unlock()
					if after != st.state {
						t.Errorf("refused move changed state to %s", after)
					}
				}
			})
		}
	}
}

func TestDuplicateResponse(t *testing.T) {
	s, rt := start(t, Options{})
	cycle(t, s, rt, "r")
	for _, path := range []string{"response", "error"} {
		r := rt.must(http.MethodPost, "/2018-06-01/runtime/invocation/r/"+path, []byte("again"), nil)
		want := "State transition from RuntimeResponseSentState to " + map[string]string{"response": "InvocationResponse", "error": "InvocationErrorResponse"}[path] + " failed for runtime. Error: State transition is not allowed"
		if r.status != http.StatusForbidden || r.errMessage() != want {
			t.Errorf("%s twice: %d %s", path, r.status, r.body)
		}
	}
	// The result of the next invocation is not disturbed by the refusals.
	cycle(t, s, rt, "r2")
}
