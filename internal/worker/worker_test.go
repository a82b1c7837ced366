package worker

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/runtimeapi"
	"github.com/kumo-run/kumo/internal/sandbox"
)

// TestInvokeColdThenWarm: the first invocation starts a sandbox, the next
// ones of the same version reuse it; another version gets its own.
func TestInvokeColdThenWarm(t *testing.T) {
	h := newHarness(t, Config{Region: "eu-west-1"})
	f := spec("f", "ok", 128)
	out := h.mustInvoke(f, "echo")
	if !out.ColdStart || out.FunctionError != "" || string(out.Payload) != `{"do":"echo"}` {
		t.Fatalf("first invoke: %+v", out)
	}
	if out.InitDuration <= 0 {
		t.Errorf("cold start without an init duration")
	}
	for range 3 {
		if out := h.mustInvoke(f, "echo"); out.ColdStart || string(out.Payload) != `{"do":"echo"}` {
			t.Fatalf("warm invoke: %+v", out)
		}
	}
	if starts, _ := h.d.counts(); starts != 1 {
		t.Fatalf("%d sandboxes started for one version, want 1", starts)
	}
	g := spec("f", "ok", 128)
	g.Key = "f:2:r"
	if out := h.mustInvoke(g, "echo"); !out.ColdStart {
		t.Fatal("another version reused a sandbox")
	}
	sb := h.d.sandboxes()[0]
	for k, want := range map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME": "f", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_REGION": "eu-west-1",
		"AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/f", "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand", "_HANDLER": "ok",
	} {
		if got := sb.env(k); got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	if got := h.w.Stats()[sandbox.Idle]; got != 2 {
		t.Errorf("%d idle sandboxes, want 2", got)
	}
}

// TestInvokeEnvironment: the function's variables reach the sandbox, in
// a stable order after Lambda's own.
func TestInvokeEnvironment(t *testing.T) {
	h := newHarness(t, Config{})
	f := spec("f", "ok", 128)
	f.Environment = map[string]string{"B": "2", "A": "1"}
	h.mustInvoke(f, "echo")
	env := strings.Join(h.d.sandboxes()[0].spec.Env, "\n")
	if !strings.HasSuffix(env, "\nA=1\nB=2") {
		t.Fatalf("environment ends %q", env[max(0, len(env)-40):])
	}
}

func errorType(t *testing.T, out *Outcome) string {
	t.Helper()
	var p struct{ ErrorType, ErrorMessage string }
	if err := json.Unmarshal(out.Payload, &p); err != nil {
		t.Fatalf("error payload %q: %v", out.Payload, err)
	}
	if p.ErrorType != out.ErrorType {
		t.Fatalf("payload errorType %q, outcome %q", p.ErrorType, out.ErrorType)
	}
	return p.ErrorType
}

// TestInvokeFailures: each way an invocation fails gives Lambda's error
// type; a sandbox that can no longer be trusted is retired, one whose
// function merely failed is reused.
func TestInvokeFailures(t *testing.T) {
	for _, tc := range []struct {
		do, errorType string
		retired       bool
	}{
		{"fail", "Boom", false},
		{"sleep", runtimeapi.ErrorTypeTimedOut, true},
		{"exit", runtimeapi.ErrorTypeExitError, true},
		{"oom", runtimeapi.ErrorTypeOutOfMemory, true},
	} {
		t.Run(tc.do, func(t *testing.T) {
			h := newHarness(t, Config{})
			f := spec("f", "ok", 128)
			if tc.do == "sleep" {
				// A copy with a short timeout: same version key, so the
				// next invocation would reuse the sandbox if it survived.
				short := *f
				short.Timeout = 50 * time.Millisecond
				f = &short
			}
			out := h.mustInvoke(f, tc.do)
			if out.FunctionError != runtimeapi.FunctionErrorUnhandled || out.ErrorType != tc.errorType {
				t.Fatalf("outcome %+v, want Unhandled %s", out, tc.errorType)
			}
			if tc.do != "fail" {
				if got := errorType(t, out); got != tc.errorType {
					t.Fatalf("payload error type %q", got)
				}
			}
			sb := h.d.sandboxes()[0]
			if tc.retired {
				eventually(t, "the sandbox destroyed", sb.isDestroyed)
				eventually(t, "the worker to forget it", func() bool { return len(h.w.Stats()) == 0 })
				if got := h.w.MemoryUsedMB(); got != 0 {
					t.Errorf("memory still held: %d MB", got)
				}
			}
			next := h.mustInvoke(spec("f", "ok", 128), "echo")
			if next.ColdStart != tc.retired {
				t.Errorf("next invocation cold %v, want %v", next.ColdStart, tc.retired)
			}
		})
	}
}

// TestInitFailures: a runtime that fails its init phase gives its error
// type (or Kumo's) as a cold-start outcome, and its sandbox is retired.
func TestInitFailures(t *testing.T) {
	for _, tc := range []struct {
		handler, errorType string
		initTimeout        time.Duration
	}{
		{"initerror", "Runtime.ImportModuleError", time.Minute},
		{"initexit", runtimeapi.ErrorTypeExitError, time.Minute},
		{"inithang", runtimeapi.ErrorTypeTimedOut, 50 * time.Millisecond},
	} {
		t.Run(tc.handler, func(t *testing.T) {
			h := newHarness(t, Config{InitTimeout: tc.initTimeout})
			out := h.mustInvoke(spec("f", tc.handler, 128), "echo")
			if !out.ColdStart || out.FunctionError != runtimeapi.FunctionErrorUnhandled || out.ErrorType != tc.errorType {
				t.Fatalf("outcome %+v, want a cold Unhandled %s", out, tc.errorType)
			}
			if _, live := h.d.counts(); live != 0 {
				t.Fatalf("%d sandboxes live after a failed init", live)
			}
			if got := h.w.MemoryUsedMB(); got != 0 {
				t.Errorf("memory still held: %d MB", got)
			}
		})
	}
}

// TestInvalidEntrypoint: code without a bootstrap gives
// Runtime.InvalidEntrypoint and starts nothing.
func TestInvalidEntrypoint(t *testing.T) {
	h := newHarness(t, Config{})
	f := spec("f", "ok", 128)
	f.Code = "empty"
	if err := mkdir(h.w.cfg.Code.Dir, f.Code); err != nil {
		t.Fatal(err)
	}
	out := h.mustInvoke(f, "echo")
	if out.ErrorType != runtimeapi.ErrorTypeInvalidEntrypoint || errorType(t, out) != runtimeapi.ErrorTypeInvalidEntrypoint {
		t.Fatalf("outcome %+v", out)
	}
	if starts, _ := h.d.counts(); starts != 0 || h.w.MemoryUsedMB() != 0 {
		t.Fatalf("%d sandboxes started, %d MB held", starts, h.w.MemoryUsedMB())
	}
}

// TestCallerGoesAway: a caller that cancels gets its context's error and
// the sandbox, still running the event, is retired.
func TestCallerGoesAway(t *testing.T) {
	h := newHarness(t, Config{})
	f := spec("f", "ok", 128)
	h.mustInvoke(f, "echo")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := h.invoke(ctx, f, "sleep"); done <- err }()
	eventually(t, "the invocation running", func() bool { return h.w.Stats()[sandbox.Busy] == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	eventually(t, "the sandbox destroyed", h.d.sandboxes()[0].isDestroyed)
}

// TestMemoryBudget: a new sandbox evicts idle ones of other functions,
// least recently used first; with every sandbox busy the worker answers
// ErrCapacity and holds nothing for the refused invocation.
func TestMemoryBudget(t *testing.T) {
	h := newHarness(t, Config{MemoryBudgetMB: 256})
	a, b, c := spec("a", "ok", 128), spec("b", "ok", 128), spec("c", "ok", 128)
	h.mustInvoke(a, "echo")
	h.clk.add(time.Second)
	h.mustInvoke(b, "echo")
	h.clk.add(time.Second)
	if out := h.mustInvoke(c, "echo"); !out.ColdStart {
		t.Fatal("c did not start")
	}
	sbs := h.d.sandboxes()
	if !sbs[0].isDestroyed() {
		t.Fatal("the least recently used (a) was not destroyed before c started")
	}
	if sbs[1].isDestroyed() || h.w.Stats()[sandbox.Idle] != 2 {
		t.Fatalf("evicted more than a: b destroyed %v, %v idle", sbs[1].isDestroyed(), h.w.Stats()[sandbox.Idle])
	}

	// b and c busy: nothing can make room.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range []*Spec{b, c} {
		wg.Add(1)
		go func() { defer wg.Done(); h.invoke(ctx, s, "sleep") }()
	}
	eventually(t, "b and c busy", func() bool { return h.w.Stats()[sandbox.Busy] == 2 })
	if _, err := h.invoke(context.Background(), a, "echo"); !errors.Is(err, ErrCapacity) {
		t.Fatalf("invoke with the budget taken by busy sandboxes: %v, want ErrCapacity", err)
	}
	if got := h.w.MemoryUsedMB(); got != 256 {
		t.Fatalf("memory used %d MB, want 256", got)
	}
	cancel()
	wg.Wait()
	eventually(t, "the abandoned sandboxes retired", func() bool { return h.w.MemoryUsedMB() == 0 })
	if out := h.mustInvoke(a, "echo"); !out.ColdStart {
		t.Fatal("a did not start once memory was free")
	}
}

// TestReservedMemoryCounted: memory the driver holds outside sandboxes
// (waiting snapshots) counts against the budget, so a second sandbox that
// would fit beside the first alone evicts it.
func TestReservedMemoryCounted(t *testing.T) {
	d := &fakeDriver{}
	d.reserved.Store(128)
	h := newHarness(t, Config{Driver: d, MemoryBudgetMB: 256})
	a, b := spec("a", "ok", 128), spec("b", "ok", 128)
	h.mustInvoke(a, "echo")
	h.clk.add(time.Second)
	h.mustInvoke(b, "echo")
	if !h.d.sandboxes()[0].isDestroyed() {
		t.Fatal("a was not evicted for b: the driver's 128 MB were not counted")
	}
	// Once the driver holds nothing, both fit.
	d.reserved.Store(0)
	h.clk.add(time.Second)
	h.mustInvoke(a, "echo")
	if sbs := h.d.sandboxes(); sbs[1].isDestroyed() || sbs[2].isDestroyed() {
		t.Fatal("a sandbox was evicted with room in the budget")
	}
}

// TestCloseWaitsForTeardowns: Close returns only once every sandbox,
// including one retired in the background just before, is destroyed.
func TestCloseWaitsForTeardowns(t *testing.T) {
	d := &fakeDriver{gate: make(chan struct{}), destroying: make(chan string, 16)}
	h := newHarness(t, Config{Driver: d})
	f := spec("f", "ok", 128)
	f.Timeout = 20 * time.Millisecond
	h.mustInvoke(spec("idle", "ok", 128), "echo")
	h.mustInvoke(f, "sleep") // timed out: retired in the background
	<-d.destroying           // its Destroy has begun and is held

	closed := make(chan struct{})
	go func() { h.w.Close(); close(closed) }()
	<-d.destroying // Close began destroying the idle one
	select {
	case <-closed:
		t.Fatal("Close returned while sandboxes were still being destroyed")
	default:
	}
	close(d.gate)
	<-closed
	if _, live := d.counts(); live != 0 {
		t.Fatalf("%d sandboxes live after Close", live)
	}
	if got := h.w.Stats(); len(got) != 0 {
		t.Fatalf("worker still lists %v", got)
	}
	if _, err := h.invoke(context.Background(), f, "echo"); !errors.Is(err, ErrClosed) {
		t.Fatalf("invoke after Close: %v, want ErrClosed", err)
	}
}

// TestCloseWithBusySandbox: Close tears down a sandbox in the middle of an
// invocation, the invocation ends, and nothing is destroyed twice.
func TestCloseWithBusySandbox(t *testing.T) {
	h := newHarness(t, Config{})
	f := spec("f", "ok", 128)
	done := make(chan struct{})
	go func() { defer close(done); h.invoke(context.Background(), f, "sleep") }()
	eventually(t, "the invocation running", func() bool { return h.w.Stats()[sandbox.Busy] == 1 })
	h.w.Close()
	<-done
	if _, live := h.d.counts(); live != 0 {
		t.Fatalf("%d sandboxes live after Close", live)
	}
}

// TestKillBeforeAPIClose: a retired sandbox is killed before its Runtime
// API closes, so its runtime never sees the API go away (a Python runtime
// prints a ConnectionRefusedError traceback into the function's log then).
func TestKillBeforeAPIClose(t *testing.T) {
	h := newHarness(t, Config{})
	f := spec("f", "ok", 128)
	h.mustInvoke(f, "echo")
	h.mustInvoke(spec("g", "ok", 128), "echo")
	g := h.d.sandboxes()[1]
	h.reap(h.clk.now().Add(time.Hour)) // both idle past the keep-alive
	h.w.Close()
	for i, sb := range append(h.d.sandboxes(), g) {
		if !sb.isDestroyed() {
			t.Fatalf("sandbox %d not destroyed", i)
		}
		if sb.apiLost.Load() {
			t.Errorf("sandbox %d: its runtime saw the Runtime API go away before it was killed", i)
		}
	}
}

// TestProvisioned: pushed targets get their sandboxes started with the
// provisioned initialization type and reported; invocations use them; a
// removed target's sandboxes are retired.
func TestProvisioned(t *testing.T) {
	rep := &reporter{got: map[string]int{}}
	h := newHarness(t, Config{Provisioned: rep})
	f := spec("f", "ok", 128)
	f.Provisioned = true
	h.w.SetProvisioned([]ProvisionedTarget{{ID: "f:live", Spec: f, Want: 2}})
	eventually(t, "2 provisioned sandboxes reported", func() bool { return rep.allocated("f:live") == 2 })
	if got := h.w.ProvisionedPools(); got["f:live"] != (PoolState{Ready: 2}) || len(got) != 1 {
		t.Errorf("ProvisionedPools = %v, want f:live with 2 ready", got)
	}
	if got := h.w.IdleVersions(10); got[f.Key] != 2 {
		t.Errorf("IdleVersions = %v, want the 2 provisioned sandboxes idle", got)
	}
	for _, sb := range h.d.sandboxes() {
		if got := sb.env("AWS_LAMBDA_INITIALIZATION_TYPE"); got != "provisioned-concurrency" {
			t.Errorf("initialization type %q", got)
		}
	}
	onDemand := *f
	onDemand.Provisioned = false
	for range 3 {
		if out := h.mustInvoke(&onDemand, "echo"); out.ColdStart {
			t.Fatal("an invocation of the provisioned version started a sandbox")
		}
	}
	if starts, _ := h.d.counts(); starts != 2 {
		t.Fatalf("%d sandboxes started, want 2", starts)
	}
	// Settled targets are not reported any more.
	h.w.SetProvisioned([]ProvisionedTarget{{ID: "f:live", Spec: f, Want: 2, Settled: true}})
	h.w.SetProvisioned(nil)
	eventually(t, "the pool's sandboxes retired", func() bool { _, live := h.d.counts(); return live == 0 })
	if out := h.mustInvoke(&onDemand, "echo"); !out.ColdStart {
		t.Fatal("a provisioned sandbox outlived its configuration")
	}
}

// TestProvisionedReplacesBroken: a provisioned sandbox that dies is
// replaced without a push.
func TestProvisionedReplacesBroken(t *testing.T) {
	rep := &reporter{got: map[string]int{}}
	h := newHarness(t, Config{Provisioned: rep})
	f := spec("f", "ok", 128)
	f.Provisioned = true
	h.w.SetProvisioned([]ProvisionedTarget{{ID: "f:1", Spec: f, Want: 1}})
	eventually(t, "the provisioned sandbox", func() bool { return rep.allocated("f:1") == 1 })
	onDemand := *f
	onDemand.Provisioned = false
	if out := h.mustInvoke(&onDemand, "exit"); out.ErrorType != runtimeapi.ErrorTypeExitError {
		t.Fatalf("outcome %+v", out)
	}
	eventually(t, "a replacement", func() bool { starts, live := h.d.counts(); return starts == 2 && live == 1 })
}

type reporter struct {
	mu  sync.Mutex
	got map[string]int
}

func (r *reporter) ReportProvisioned(_ context.Context, id string, allocated int, _ string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[id] = allocated
	return nil
}

func (r *reporter) allocated(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[id]
}

// TestConcurrentInvokes: many invocations at once each get their own
// answer, and sandboxes never exceed the concurrency.
func TestConcurrentInvokes(t *testing.T) {
	h := newHarness(t, Config{})
	f := spec("f", "ok", 128)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				out, err := h.invoke(context.Background(), f, "echo")
				if err != nil {
					errs <- err
					return
				}
				if string(out.Payload) != `{"do":"echo"}` {
					errs <- errors.New("wrong payload " + string(out.Payload))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if starts, _ := h.d.counts(); starts > 8 {
		t.Fatalf("%d sandboxes for 8 concurrent callers", starts)
	}
}

// TestMemoryChargedByUse: with a driver that measures memory, sandboxes
// are charged their measured use (plus headroom), so many more functions
// stay warm than their configured sizes would allow; the same load charged
// by configured size evicts. A sandbox of a version never measured is
// admitted for its full size.
func TestMemoryChargedByUse(t *testing.T) {
	const peak = 10 << 20 // 10 MB used by every sandbox
	for _, tc := range []struct {
		name       string
		configured bool
		live       int
	}{
		{"measured", false, 10},
		{"configured", true, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{Driver: &fakeDriver{peak: peak}, MemoryBudgetMB: 512, ChargeConfigured: tc.configured})
			charged := func(n int) int {
				if tc.configured {
					return min(n, 4) * 128
				}
				return n * chargeFor(peak, 128)
			}
			for i := range 10 {
				h.mustInvoke(spec(string(rune('a'+i)), "ok", 128), "echo")
				// A sandbox is measured once its caller has the answer;
				// until then it holds its configured size, so the next
				// one waits for the measure (a burst may evict more).
				eventually(t, "the measured charge", func() bool { return h.w.MemoryUsedMB() == charged(i+1) })
				h.clk.add(time.Second)
			}
			eventually(t, "evictions done", func() bool { _, live := h.d.counts(); return live == tc.live })
		})
	}
	if c := chargeFor(peak, 128); c != 26 {
		t.Errorf("charge of 10 MB used: %d MB, want 26 (10 + 16 headroom)", c)
	}
	if c := chargeFor(200<<20, 128); c != 128 {
		t.Errorf("charge above the limit: %d MB, want the limit", c)
	}
}

// TestFreezeIdle: a sandbox that sat idle is frozen, and the next
// invocation thaws it before the runtime gets the event; back-to-back
// invocations on a sandbox that is not frozen yet need no thaw.
func TestFreezeIdle(t *testing.T) {
	h := newHarness(t, Config{Driver: &fakeDriver{freezer: true}})
	s := spec("cold", "ok", 128)
	h.mustInvoke(s, "echo")
	sbs := h.d.sandboxes()
	if len(sbs) != 1 {
		t.Fatalf("%d sandboxes started, want 1", len(sbs))
	}
	sb := sbs[0]
	eventually(t, "the idle sandbox frozen", sb.frozen.Load)

	out := h.mustInvoke(s, "echo")
	if out.FunctionError != "" || out.ColdStart {
		t.Fatalf("invoke of a frozen sandbox: %+v", out)
	}
	if sb.ranFrozen.Load() {
		t.Fatal("the runtime received an event while frozen")
	}
	if n, _ := h.d.counts(); n != 1 {
		t.Fatalf("%d sandboxes started, want the frozen one reused", n)
	}
	h.w.mu.Lock()
	var in *instance
	for _, i := range h.w.all {
		in = i
	}
	h.w.mu.Unlock()
	in.freeze.mu.Lock()
	freezes, thaws := in.freeze.freezes, in.freeze.thaws
	in.freeze.mu.Unlock()
	if freezes < 1 || thaws != 1 {
		t.Errorf("freezes %d thaws %d, want at least 1 and exactly 1", freezes, thaws)
	}

	// A frozen sandbox is destroyed all the same when the worker closes.
	eventually(t, "frozen again", sb.frozen.Load)
	h.w.Close()
	if !sb.isDestroyed() {
		t.Error("a frozen sandbox survived Close")
	}
}

// TestThawFailureRunsElsewhere: a sandbox that cannot be thawed is retired
// and the invocation runs on a new one.
func TestThawFailureRunsElsewhere(t *testing.T) {
	h := newHarness(t, Config{Driver: &fakeDriver{freezer: true}})
	s := spec("stuck", "ok", 128)
	h.mustInvoke(s, "echo")
	sb := h.d.sandboxes()[0]
	eventually(t, "the idle sandbox frozen", sb.frozen.Load)
	// Destroyed behind the worker's back: Thaw fails.
	sb.mu.Lock()
	sb.destroyed = true
	sb.mu.Unlock()
	out := h.mustInvoke(s, "echo")
	if out.FunctionError != "" || !out.ColdStart {
		t.Fatalf("invoke after a failed thaw: %+v, want a cold start elsewhere", out)
	}
	if n, _ := h.d.counts(); n != 2 {
		t.Fatalf("%d sandboxes started, want 2", n)
	}
}
