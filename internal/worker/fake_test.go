package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/poll"
	"github.com/kumo-run/kumo/internal/sandbox"
)

// The worker's unit tests run the real worker, the real Runtime API server
// and the real code cache against a fake sandbox driver whose "runtime" is
// a goroutine speaking the Runtime API over HTTP, scripted by the event.

// script is what the fake runtime does with an event: {"do": ...}.
//
//	echo (default)   answer the event itself
//	fail             post /error with errorType "Boom"
//	sleep            never answer (until killed)
//	exit             exit with code 2 after taking the event
//	oom              exit as the memory limit kills it
//	whoami           answer the sandbox's AWS_LAMBDA_INITIALIZATION_TYPE
//	hold             whoami once fakeDriver.hold is closed
type script struct {
	Do string `json:"do"`
}

// fakeDriver starts fakeSandboxes. Its init behaviour comes from the
// sandbox's _HANDLER: "initerror" posts /init/error, "initexit" exits
// during init, "inithang" never asks for an event; anything else is fine.
type fakeDriver struct {
	// peak, when set, is every sandbox's measured peak memory use, and
	// the driver claims to measure and limit memory.
	peak int64

	mu      sync.Mutex
	started []*fakeSandbox
	live    int
	// gate, if set, blocks every Destroy until it is closed.
	gate chan struct{}
	// destroying is signalled when a Destroy begins.
	destroying chan string
	// freezer makes the sandboxes sandbox.Freezers.
	freezer bool
	// reserved is the memory the driver holds outside sandboxes.
	reserved atomic.Int64
	// hold, if set, keeps "hold" invocations running until it is closed.
	hold chan struct{}
}

func (d *fakeDriver) ReservedMB() int { return int(d.reserved.Load()) }

func (d *fakeDriver) Name() string { return "fake" }
func (d *fakeDriver) Capabilities() sandbox.Capabilities {
	return sandbox.Capabilities{MemoryLimit: d.peak > 0}
}
func (d *fakeDriver) Cleanup(context.Context) error { return nil }

func (d *fakeDriver) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Sandbox, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rctx, kill := context.WithCancel(context.Background())
	sb := &fakeSandbox{d: d, id: spec.ID, spec: spec, ln: ln, kill: kill, exited: make(chan struct{})}
	d.mu.Lock()
	d.started = append(d.started, sb)
	d.live++
	d.mu.Unlock()
	go sb.run(rctx)
	if d.freezer {
		return &freezableSandbox{sb}, nil
	}
	return sb, nil
}

// starts is the number of sandboxes started; live of those not destroyed.
func (d *fakeDriver) counts() (starts, live int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.started), d.live
}

func (d *fakeDriver) sandboxes() []*fakeSandbox {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*fakeSandbox(nil), d.started...)
}

type fakeSandbox struct {
	d    *fakeDriver
	id   string
	spec sandbox.Spec
	ln   net.Listener
	kill context.CancelFunc

	mu        sync.Mutex
	stats     sandbox.Stats
	destroyed bool
	killed    atomic.Bool
	// apiLost records a Runtime API request that failed while the
	// runtime was alive: the API went away before the sandbox was killed.
	apiLost  atomic.Bool
	exitOnce sync.Once
	exited   chan struct{}
	// frozen is set between Freeze and Thaw; ranFrozen records an event
	// that reached the runtime while it was frozen.
	frozen, ranFrozen atomic.Bool
}

// freezableSandbox is a fakeSandbox that is also a sandbox.Freezer.
type freezableSandbox struct{ *fakeSandbox }

func (f *freezableSandbox) Freeze(context.Context) error {
	if f.isDestroyed() {
		return fmt.Errorf("sandbox %s destroyed", f.id)
	}
	f.frozen.Store(true)
	return nil
}

func (f *freezableSandbox) Thaw(context.Context) error {
	if f.isDestroyed() {
		return fmt.Errorf("sandbox %s destroyed", f.id)
	}
	f.frozen.Store(false)
	return nil
}

func (f *fakeSandbox) ID() string              { return f.id }
func (f *fakeSandbox) Listener() net.Listener  { return f.ln }
func (f *fakeSandbox) RuntimeAPI() string      { return f.ln.Addr().String() }
func (f *fakeSandbox) Exited() <-chan struct{} { return f.exited }
func (f *fakeSandbox) Stats() sandbox.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.stats
	st.MaxMemoryBytes = f.d.peak
	return st
}

func (f *fakeSandbox) exit(st sandbox.Stats) {
	f.exitOnce.Do(func() {
		f.mu.Lock()
		f.stats = st
		f.mu.Unlock()
		close(f.exited)
	})
}

func (f *fakeSandbox) Destroy(context.Context) error {
	if f.d.destroying != nil {
		f.d.destroying <- f.id
	}
	if f.d.gate != nil {
		<-f.d.gate
	}
	if !f.killed.Load() {
		// The runtime is alive until now: its Runtime API must still be
		// there (the driver, not the worker, closes the listener).
		if c, err := net.Dial("tcp", f.RuntimeAPI()); err != nil {
			f.apiLost.Store(true)
		} else {
			c.Close()
		}
	}
	f.killed.Store(true)
	f.kill()
	f.exit(sandbox.Stats{ExitCode: -1, Signal: "SIGKILL"})
	f.ln.Close()
	f.mu.Lock()
	first := !f.destroyed
	f.destroyed = true
	f.mu.Unlock()
	if first {
		f.d.mu.Lock()
		f.d.live--
		f.d.mu.Unlock()
	}
	return nil
}

func (f *fakeSandbox) isDestroyed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.destroyed
}

func (f *fakeSandbox) env(k string) string {
	for _, kv := range f.spec.Env {
		if v, ok := strings.CutPrefix(kv, k+"="); ok {
			return v
		}
	}
	return ""
}

// run is the fake runtime.
func (f *fakeSandbox) run(ctx context.Context) {
	base := "http://" + f.RuntimeAPI() + "/2018-06-01/runtime/"
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	post := func(path, errType string, body []byte) bool {
		req, _ := http.NewRequestWithContext(ctx, "POST", base+path, bytes.NewReader(body))
		if errType != "" {
			req.Header.Set("Lambda-Runtime-Function-Error-Type", errType)
		}
		res, err := client.Do(req)
		if err != nil {
			f.lost()
			return false
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return true
	}
	switch f.env("_HANDLER") {
	case "initerror":
		post("init/error", "Runtime.ImportModuleError", []byte(`{"errorType":"Runtime.ImportModuleError","errorMessage":"no module"}`))
		<-ctx.Done()
		return
	case "initexit":
		f.exit(sandbox.Stats{ExitCode: 1})
		return
	case "inithang":
		<-ctx.Done()
		return
	}
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"invocation/next", nil)
		res, err := client.Do(req)
		if err != nil {
			f.lost()
			return
		}
		event, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if f.frozen.Load() {
			f.ranFrozen.Store(true)
		}
		id := res.Header.Get("Lambda-Runtime-Aws-Request-Id")
		var s script
		json.Unmarshal(event, &s)
		switch s.Do {
		case "fail":
			if !post("invocation/"+id+"/error", "Boom", []byte(`{"errorType":"Boom","errorMessage":"failed"}`)) {
				return
			}
		case "sleep":
			<-ctx.Done()
			return
		case "exit":
			f.exit(sandbox.Stats{ExitCode: 2})
			return
		case "oom":
			f.exit(sandbox.Stats{ExitCode: -1, Signal: "SIGKILL", OOMKilled: true})
			return
		case "hold", "whoami":
			if s.Do == "hold" {
				select {
				case <-f.d.hold:
				case <-ctx.Done():
					return
				}
			}
			if !post("invocation/"+id+"/response", "", []byte(`"`+f.env("AWS_LAMBDA_INITIALIZATION_TYPE")+`"`)) {
				return
			}
		default:
			if !post("invocation/"+id+"/response", "", event) {
				return
			}
		}
	}
}

// lost records a failed Runtime API request of a runtime not yet killed.
func (f *fakeSandbox) lost() {
	if !f.killed.Load() {
		f.apiLost.Store(true)
	}
}

var _ sandbox.Driver = (*fakeDriver)(nil)
var _ sandbox.Sandbox = (*fakeSandbox)(nil)
var _ sandbox.Freezer = (*freezableSandbox)(nil)

// clock is a settable Config.Now.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock              { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)               { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time                { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) time.Time { c.ns.Add(int64(d)); return c.now() }

// harness is a worker on a fakeDriver with an empty code blob.
type harness struct {
	t   testing.TB
	w   *Worker
	d   *fakeDriver
	clk *clock
}

const testBlob = "blob-1"

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	codeDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(codeDir, testBlob), 0o755); err != nil {
		t.Fatal(err)
	}
	// provided runtimes run /var/task/bootstrap: it must exist.
	if err := os.WriteFile(filepath.Join(codeDir, testBlob, "bootstrap"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	d, _ := cfg.Driver.(*fakeDriver)
	if d == nil {
		d = &fakeDriver{}
	}
	cfg.Driver = d
	cfg.Code = &CodeCache{Dir: codeDir}
	cfg.Logger = discardLogger()
	if cfg.MemoryBudgetMB == 0 {
		cfg.MemoryBudgetMB = 1024
	}
	clk := newClock(time.Now())
	if cfg.Now == nil {
		cfg.Now = clk.now
	}
	h := &harness{t: t, w: New(cfg), d: d, clk: clk}
	t.Cleanup(h.w.Close)
	return h
}

// spec is a provided.al2023 function named name; handler scripts init.
func spec(name, handler string, mb int) *Spec {
	return &Spec{Key: name + ":1:r", FunctionName: name, Version: "1", Runtime: "provided.al2023", Handler: handler,
		MemoryMB: mb, Timeout: 30 * time.Second, Code: testBlob, LogGroup: "/aws/lambda/" + name}
}

var reqN atomic.Int64

func (h *harness) invoke(ctx context.Context, s *Spec, do string) (*Outcome, error) {
	payload := []byte(`{"do":"` + do + `"}`)
	req := &Request{}
	req.Invocation.RequestID = fmt.Sprintf("req-%d", reqN.Add(1))
	req.Invocation.Payload = payload
	return h.w.Invoke(ctx, s, req)
}

func (h *harness) mustInvoke(s *Spec, do string) *Outcome {
	h.t.Helper()
	out, err := h.invoke(context.Background(), s, do)
	if err != nil {
		h.t.Fatalf("invoke %s %q: %v", s.FunctionName, do, err)
	}
	return out
}

// eventually polls cond until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.True(t, what, cond)
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func mkdir(dir, name string) error { return os.MkdirAll(filepath.Join(dir, name), 0o755) }
