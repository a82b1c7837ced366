package extensions

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// client is an extension talking to a Manager over HTTP.
type client struct {
	t    *testing.T
	base string
	id   string
}

func (c *client) do(method, path string, hdr map[string]string, body string) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (c *client) register(name, events string) (*http.Response, []byte) {
	resp, b := c.do(http.MethodPost, PathPrefix+"register", map[string]string{hdrName: name, hdrFeatures: "accountId"}, `{"events":`+events+`}`)
	if id := resp.Header.Get(hdrIdentifier); id != "" {
		c.id = id
	}
	return resp, b
}

// nextAsync asks for the next event in the background.
func (c *client) nextAsync() <-chan map[string]any {
	ch := make(chan map[string]any, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, c.base+PathPrefix+"event/next", nil)
		req.Header.Set(hdrIdentifier, c.id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			close(ch)
			return
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		if resp.Header.Get(hdrEventID) == "" {
			m["missingEventID"] = true
		}
		ch <- m
	}()
	return ch
}

func recv(t *testing.T, ch <-chan map[string]any) map[string]any {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("next failed")
		}
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no event within 30 s")
	}
	return nil
}

func newManager(t *testing.T, external ...string) (*Manager, string) {
	m := New(Metadata{FunctionName: "fn", FunctionVersion: "$LATEST", Handler: "app.handler", AccountID: "000000000000"}, external)
	srv := httptest.NewServer(m)
	t.Cleanup(func() { m.Close(); srv.Close() })
	return m, srv.URL
}

func TestLifecycle(t *testing.T) {
	m, url := newManager(t, "ext-a")
	a := &client{t: t, base: url}

	// Init waits for the expected extension to register and ask for an event.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if err := m.WaitReady(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady before registration = %v, want a deadline", err)
	}
	cancel()
	resp, body := a.register("ext-a", `["INVOKE","SHUTDOWN"]`)
	if resp.StatusCode != 200 || a.id == "" {
		t.Fatalf("register: %d %s (id %q)", resp.StatusCode, body, a.id)
	}
	var meta Metadata
	if err := json.Unmarshal(body, &meta); err != nil || meta != (Metadata{"fn", "$LATEST", "app.handler", "000000000000"}) {
		t.Fatalf("register body %s (%v)", body, err)
	}
	if p := m.Pending(); len(p) != 1 || p[0] != "ext-a" {
		t.Fatalf("Pending after register = %q, want [ext-a]", p)
	}
	// An internal extension (not in /opt/extensions) may not get SHUTDOWN.
	in := &client{t: t, base: url}
	if resp, body := in.register("internal", `["SHUTDOWN"]`); resp.StatusCode != 403 || !strings.Contains(string(body), errInvalidEventType) {
		t.Fatalf("internal SHUTDOWN register: %d %s", resp.StatusCode, body)
	}
	if resp, body := a.register("ext-a", `["INVOKE"]`); resp.StatusCode != 403 || !strings.Contains(string(body), errInvalidState) {
		t.Fatalf("second register: %d %s", resp.StatusCode, body)
	}
	ev := a.nextAsync()
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	m.CloseRegistration()
	late := &client{t: t, base: url}
	if resp, body := late.register("late", `["INVOKE"]`); resp.StatusCode != 403 || !strings.Contains(string(body), errRegistrationClosed) {
		t.Fatalf("register after init: %d %s", resp.StatusCode, body)
	}
	if inv, sh := m.Subscribed(); !inv || !sh {
		t.Fatalf("Subscribed = %v %v", inv, sh)
	}

	// An invocation is done for the extension when it asks again.
	dl := time.Now().Add(time.Minute)
	m.Invoke(Invoke{RequestID: "r1", Deadline: dl, InvokedFunctionARN: "arn:fn", TraceID: "Root=1"})
	got := recv(t, ev)
	if got["eventType"] != "INVOKE" || got["requestId"] != "r1" || got["invokedFunctionArn"] != "arn:fn" ||
		int64(got["deadlineMs"].(float64)) != dl.UnixMilli() || got["missingEventID"] != nil {
		t.Fatalf("INVOKE event %v", got)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if err := m.WaitIdle(ctx2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitIdle while the extension holds the event = %v", err)
	}
	cancel2()
	ev = a.nextAsync()
	if err := m.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle after next: %v", err)
	}

	// SHUTDOWN carries the reason and the deadline.
	done := make(chan error, 1)
	go func() { done <- m.Shutdown(ctx, ReasonSpindown, dl) }()
	got = recv(t, ev)
	if got["eventType"] != "SHUTDOWN" || got["shutdownReason"] != "spindown" || int64(got["deadlineMs"].(float64)) != dl.UnixMilli() {
		t.Fatalf("SHUTDOWN event %v", got)
	}
	a.nextAsync()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestInitError(t *testing.T) {
	m, url := newManager(t, "ext-a")
	a := &client{t: t, base: url}
	a.register("ext-a", `["INVOKE"]`)
	if resp, body := a.do(http.MethodPost, PathPrefix+"init/error", map[string]string{hdrIdentifier: a.id}, `{}`); resp.StatusCode != 403 || !strings.Contains(string(body), errMissingHeader) {
		t.Fatalf("init/error without a type: %d %s", resp.StatusCode, body)
	}
	resp, body := a.do(http.MethodPost, PathPrefix+"init/error", map[string]string{hdrIdentifier: a.id, hdrErrorType: "Extension.Bad"}, `{"errorMessage":"x"}`)
	if resp.StatusCode != 202 {
		t.Fatalf("init/error: %d %s", resp.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var xe *Error
	if err := m.WaitReady(ctx); !errors.As(err, &xe) || xe.Type != "Extension.Bad" || xe.Extension != "ext-a" {
		t.Fatalf("WaitReady = %v, want the extension's error", err)
	}
	// Failed: it may not ask for events any more.
	if resp, body := a.do(http.MethodGet, PathPrefix+"event/next", map[string]string{hdrIdentifier: a.id}, ""); resp.StatusCode != 403 || !strings.Contains(string(body), errInvalidState) {
		t.Fatalf("next after init/error: %d %s", resp.StatusCode, body)
	}
}

func TestBadRequests(t *testing.T) {
	_, url := newManager(t)
	c := &client{t: t, base: url}
	for _, tc := range []struct {
		method, path string
		hdr          map[string]string
		body         string
		status       int
		errType      string
	}{
		{http.MethodPost, "register", nil, `{"events":["INVOKE"]}`, 403, errNameInvalid},
		{http.MethodPost, "register", map[string]string{hdrName: "x"}, `{"events":["BOGUS"]}`, 403, errInvalidEventType},
		{http.MethodPost, "register", map[string]string{hdrName: "x"}, `not json`, 403, errInvalidRequestFormat},
		{http.MethodGet, "event/next", nil, ``, 403, errIdentifierMissing},
		{http.MethodGet, "event/next", map[string]string{hdrIdentifier: "nope"}, ``, 403, errIdentifierUnknown},
		{http.MethodPost, "event/next", nil, ``, 405, ""},
		{http.MethodGet, "nowhere", nil, ``, 404, ""},
	} {
		resp, body := c.do(tc.method, PathPrefix+tc.path, tc.hdr, tc.body)
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.errType) {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, resp.StatusCode, body, tc.status, tc.errType)
		}
	}
}

func TestExited(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Before it registered: a crash.
	m, _ := newManager(t, "ext-a")
	m.Exited("unknown", 1) // not an extension of this sandbox: ignored
	m.Exited("ext-a", 3)
	var xe *Error
	if err := m.WaitReady(ctx); !errors.As(err, &xe) || xe.Type != ErrorTypeCrash || !strings.Contains(xe.Message, "status 3") {
		t.Fatalf("WaitReady after a crash = %v", err)
	}

	// After SHUTDOWN: done, without asking for another event.
	m, url := newManager(t, "ext-b")
	b := &client{t: t, base: url}
	b.register("ext-b", `["SHUTDOWN"]`)
	ev := b.nextAsync()
	if err := m.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Shutdown(ctx, ReasonSpindown, time.Now().Add(time.Minute)) }()
	if got := recv(t, ev); got["eventType"] != "SHUTDOWN" {
		t.Fatalf("event %v", got)
	}
	m.Exited("ext-b", 0)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if f := m.Failure(); f != nil {
		t.Fatalf("an exit after SHUTDOWN failed the sandbox: %v", f)
	}
}

func TestExitError(t *testing.T) {
	m, url := newManager(t, "ext-a")
	a := &client{t: t, base: url}
	a.register("ext-a", `["INVOKE"]`)
	a.nextAsync()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	m.CloseRegistration()
	m.Invoke(Invoke{RequestID: "r1", Deadline: time.Now().Add(time.Minute)})
	resp, body := a.do(http.MethodPost, PathPrefix+"exit/error", map[string]string{hdrIdentifier: a.id, hdrErrorType: "Extension.Broken"}, ``)
	if resp.StatusCode != 202 {
		t.Fatalf("exit/error: %d %s", resp.StatusCode, body)
	}
	var xe *Error
	if err := m.WaitIdle(ctx); !errors.As(err, &xe) || xe.Type != "Extension.Broken" {
		t.Fatalf("WaitIdle after exit/error = %v", err)
	}
	if f := m.Failure(); f == nil || f.Extension != "ext-a" {
		t.Fatalf("Failure = %v", f)
	}
}
