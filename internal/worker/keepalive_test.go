package worker

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/keepalive"
	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/sandbox"
	"github.com/kumo-run/kumo/internal/sandbox/process"
)

func policyWorker(p keepalive.Policy) *Worker {
	w := &Worker{cfg: Config{IdleTimeout: 10 * time.Minute, KeepAlive: p, MemoryBudgetMB: 1 << 20},
		log: discardLogger(), idle: map[string][]*instance{}, all: map[string]*instance{}}
	w.keep = newKeeper(w.policy())
	return w
}

// learn feeds the worker's keeper invocations of key that arrive after the
// given idle times and run for a second each; it returns when the last one
// ended.
func learn(w *Worker, key string, start time.Time, idles ...time.Duration) time.Time {
	fn := &Function{Key: key, Config: &registry.FunctionConfig{MemorySize: 128}}
	t := start
	for i := -1; i < len(idles); i++ {
		if i >= 0 {
			t = t.Add(idles[i])
		}
		st := w.keep.arrived(fn, t)
		w.keep.ended(st, t.Add(time.Second))
	}
	return t.Add(time.Second)
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func reaped(in *instance) bool { return isClosed(in.sb.(*fakeSandbox).exited) }

// TestReapKeepAlive: an idle sandbox is unloaded once its idle time leaves
// the policy's windows for its key. Fixed is today's idle timeout; Hybrid
// unloads a function that it learned comes back within a minute or two
// sooner than that, and keeps one it learned comes back up to 20 minutes
// later longer.
func TestReapKeepAlive(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type sandboxCase struct {
		idle   time.Duration
		reaped bool
	}
	for _, tc := range []struct {
		name   string
		policy keepalive.Policy
		idles  []time.Duration // learned idle times
		cases  []sandboxCase
	}{
		{"nil policy is fixed IdleTimeout", nil, nil, []sandboxCase{{9 * time.Minute, false}, {11 * time.Minute, true}}},
		{"fixed", keepalive.Fixed{Idle: 5 * time.Minute}, nil, []sandboxCase{{4 * time.Minute, false}, {6 * time.Minute, true}}},
		{"hybrid unknown function takes the fallback",
			keepalive.NewHybrid(keepalive.HybridConfig{Fallback: 10 * time.Minute}), nil,
			[]sandboxCase{{9 * time.Minute, false}, {11 * time.Minute, true}}},
		{"hybrid learned short", // every minute: keep alive 2m·1.1
			keepalive.NewHybrid(keepalive.HybridConfig{Fallback: 10 * time.Minute}), repeat(time.Minute, 20),
			[]sandboxCase{{2 * time.Minute, false}, {3 * time.Minute, true}, {9 * time.Minute, true}}},
		{"hybrid learned long", // after 1 or 20 minutes: keep alive 21m·1.1
			keepalive.NewHybrid(keepalive.HybridConfig{Fallback: 10 * time.Minute}),
			append(repeat(time.Minute, 10), repeat(20*time.Minute, 10)...),
			[]sandboxCase{{11 * time.Minute, false}, {23 * time.Minute, false}, {24 * time.Minute, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := policyWorker(tc.policy)
			const key = "f:1:r"
			lastEnd := learn(w, key, start, tc.idles...)
			for _, c := range tc.cases {
				in := idleInstance(t, w, key, 128, lastEnd)
				w.reap(context.Background(), lastEnd.Add(c.idle))
				if got := reaped(in); got != c.reaped {
					t.Errorf("idle %s under %s: reaped %v, want %v", c.idle, w.policy().KeepAlive(key, lastEnd), got, c.reaped)
				}
				w.reap(context.Background(), lastEnd.Add(24*time.Hour))
				if !reaped(in) {
					t.Fatal("not reaped after a day idle")
				}
			}
		})
	}
}

// TestReapRetiresKeysNoLongerLive: idle sandboxes of a retired key go
// whatever the policy says, and the policy forgets the key.
func TestReapRetiresKeysNoLongerLive(t *testing.T) {
	h := keepalive.NewHybrid(keepalive.HybridConfig{Fallback: 10 * time.Minute})
	w := policyWorker(h)
	live := true
	w.cfg.Live = func(string) bool { return live }
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const key = "f:1:r"
	lastEnd := learn(w, key, start, repeat(30*time.Minute, 20)...)
	learned := h.KeepAlive(key, lastEnd)
	if learned.PreWarm == 0 {
		t.Fatalf("windows %v: want a pre-warm", learned)
	}
	in := idleInstance(t, w, key, 128, lastEnd) // pre-warmed: idle since the last invocation
	w.reap(context.Background(), lastEnd.Add(learned.PreWarm+time.Minute))
	if reaped(in) {
		t.Fatal("reaped inside the pre-warm window")
	}
	live = false
	w.reap(context.Background(), lastEnd.Add(learned.PreWarm+time.Minute))
	if !reaped(in) {
		t.Fatal("kept a sandbox of a key no longer live")
	}
	if got := h.KeepAlive(key, lastEnd); got != (keepalive.Windows{KeepAlive: 10 * time.Minute}) {
		t.Errorf("windows after retirement %v: the policy did not forget the key", got)
	}
	w.keep.mu.Lock()
	n := len(w.keep.keys)
	w.keep.mu.Unlock()
	if n != 0 {
		t.Errorf("%d keys still tracked", n)
	}
}

// TestKeeperDue: a key unloaded before its pre-warm window is due once the
// window opens, once per idle period, never while an invocation runs, and
// its Function is dropped when the windows are over.
func TestKeeperDue(t *testing.T) {
	w := policyWorker(keepalive.NewHybrid(keepalive.HybridConfig{Fallback: 10 * time.Minute}))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const key = "f:1:r"
	lastEnd := learn(w, key, start, repeat(30*time.Minute, 20)...)
	win := w.policy().KeepAlive(key, lastEnd) // pre-warm 27m, keep alive 7m6s
	at, ok := win.PreWarmAt(lastEnd)
	if !ok {
		t.Fatalf("windows %v: want a pre-warm", win)
	}

	// The sandbox stays for a burst of invocations, then is unloaded
	// until the pre-warm; nothing is due meanwhile.
	in := idleInstance(t, w, key, 128, lastEnd)
	w.reap(context.Background(), lastEnd.Add(30*time.Second))
	if reaped(in) {
		t.Fatal("unloaded a sandbox within a minute of its last use")
	}
	w.reap(context.Background(), lastEnd.Add(burstGrace+time.Second))
	if !reaped(in) {
		t.Fatal("kept a sandbox before its pre-warm window")
	}
	if jobs := w.keep.due(at.Add(-time.Second), nil); len(jobs) != 0 {
		t.Fatalf("due before the pre-warm time: %v", jobs)
	}
	jobs := w.keep.due(at.Add(time.Second), nil)
	if len(jobs) != 1 || jobs[0].fn.Key != key || !jobs[0].lastEnd.Equal(lastEnd) {
		t.Fatalf("due at the pre-warm time: %+v, want one job for %s", jobs, key)
	}
	if jobs := w.keep.due(at.Add(2*time.Second), nil); len(jobs) != 0 {
		t.Fatalf("due twice in one idle period: %v", jobs)
	}

	// A running invocation postpones the pre-warm until it ends.
	fn := jobs[0].fn
	arrival := lastEnd.Add(30 * time.Minute)
	st := w.keep.arrived(fn, arrival)
	if jobs := w.keep.due(arrival.Add(win.PreWarm+time.Second), nil); len(jobs) != 0 {
		t.Fatalf("due while an invocation runs: %v", jobs)
	}
	w.keep.ended(st, arrival.Add(time.Second))
	lastEnd = arrival.Add(time.Second)
	if jobs := w.keep.due(lastEnd.Add(win.PreWarm+time.Second), nil); len(jobs) != 1 {
		t.Fatalf("after the next invocation: %d jobs, want 1", len(jobs))
	}

	// Over the windows: the Function is dropped.
	w.keep.due(lastEnd.Add(win.PreWarm+win.KeepAlive+time.Second), nil)
	w.keep.mu.Lock()
	dropped := w.keep.keys[key].fn == nil
	w.keep.mu.Unlock()
	if !dropped {
		t.Error("kept the Function after the windows")
	}
}

// TestPoolPreWarmed: a pre-warmed sandbox counts as idle since the key's
// last invocation, so it stays for the keep-alive window and goes after.
func TestPoolPreWarmed(t *testing.T) {
	w := policyWorker(keepalive.NewHybrid(keepalive.HybridConfig{Fallback: 10 * time.Minute}))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const key = "f:1:r"
	lastEnd := learn(w, key, start, repeat(30*time.Minute, 20)...)
	win := w.policy().KeepAlive(key, lastEnd)

	in := idleInstance(t, w, key, 128, time.Time{})
	w.mu.Lock()
	w.removeIdleLocked(in)
	w.mu.Unlock()
	in.life.To(sandbox.Initializing) // as start leaves it
	w.poolPreWarmed(in, lastEnd)
	w.reap(context.Background(), lastEnd.Add(win.PreWarm+time.Second))
	if reaped(in) {
		t.Fatal("reaped a pre-warmed sandbox inside its window")
	}
	if got := w.acquire(key); got != in {
		t.Fatal("the pre-warmed sandbox is not in the idle pool")
	}
	w.release(in)
	w.mu.Lock()
	in.lastUsed = lastEnd
	w.mu.Unlock()
	w.reap(context.Background(), lastEnd.Add(win.PreWarm+win.KeepAlive+time.Second))
	if !reaped(in) {
		t.Fatal("kept a pre-warmed sandbox past its window")
	}
}

// TestFixedTracksNothing: under Fixed the invoke path does no bookkeeping.
func TestFixedTracksNothing(t *testing.T) {
	w := policyWorker(nil)
	if st := w.keep.arrived(&Function{Key: "f:1:r"}, time.Now()); st != nil {
		t.Fatal("Fixed tracked an arrival")
	}
}

// TestPreWarmStartsSandbox: a reaper pass at a key's pre-warm time starts a
// sandbox of the key's last Function through the cold-start path and pools
// it as idle since the key's last invocation; a second pass starts no more.
func TestPreWarmStartsSandbox(t *testing.T) {
	codeDir := t.TempDir()
	const blob = "prewarm-blob"
	if err := os.MkdirAll(filepath.Join(codeDir, blob), 0o755); err != nil {
		t.Fatal(err)
	}
	// A runtime that finishes init by asking for its first invocation.
	bootstrap := "#!/bin/sh\nexec curl -s \"http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next\"\n"
	if err := os.WriteFile(filepath.Join(codeDir, blob, "bootstrap"), []byte(bootstrap), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("needs curl for the test runtime")
	}
	h := keepalive.NewHybrid(keepalive.HybridConfig{Fallback: 10 * time.Minute})
	w := &Worker{cfg: Config{Driver: process.New(discardLogger()), Code: &CodeCache{Dir: codeDir},
		KeepAlive: h, IdleTimeout: 10 * time.Minute, InitTimeout: 10 * time.Second, MemoryBudgetMB: 1024, Logs: NoLogs{}},
		log: discardLogger(), idle: map[string][]*instance{}, all: map[string]*instance{}, stop: make(chan struct{})}
	w.keep = newKeeper(w.policy())
	defer w.Close()

	fn := &Function{Key: "f:1:r", Blob: blob, Config: &registry.FunctionConfig{
		FunctionName: "f", Version: "1", Runtime: "provided.al2023", Handler: "bootstrap", MemorySize: 128}}
	t0 := time.Now().Add(-20 * 30 * time.Minute)
	var lastEnd time.Time
	for i := range 21 {
		arrival := t0.Add(time.Duration(i) * 30 * time.Minute)
		st := w.keep.arrived(fn, arrival)
		lastEnd = arrival.Add(time.Second)
		w.keep.ended(st, lastEnd)
	}
	win := h.KeepAlive(fn.Key, lastEnd)
	at, ok := win.PreWarmAt(lastEnd)
	if !ok {
		t.Fatalf("windows %v: want a pre-warm", win)
	}
	passAt := at.Add(time.Second)
	w.done.Add(1) // as the reaper holds it
	w.reap(context.Background(), passAt)
	w.done.Done()

	var in *instance
	for deadline := time.Now().Add(10 * time.Second); in == nil; {
		if time.Now().After(deadline) {
			t.Fatal("no pre-warmed sandbox after 10s")
		}
		time.Sleep(10 * time.Millisecond)
		w.mu.Lock()
		if l := w.idle[fn.Key]; len(l) > 0 {
			in = l[0]
		}
		w.mu.Unlock()
	}
	if !in.lastUsed.Equal(lastEnd) {
		t.Errorf("pre-warmed sandbox idle since %v, want the last invocation's end %v", in.lastUsed, lastEnd)
	}
	if s, _ := in.life.State(); s != sandbox.Idle {
		t.Errorf("pre-warmed sandbox is %v, want Idle", s)
	}
	w.reap(context.Background(), passAt.Add(time.Second))
	w.mu.Lock()
	n := len(w.all)
	w.mu.Unlock()
	if n != 1 {
		t.Errorf("%d sandboxes after a second pass, want 1", n)
	}
}
