package worker

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/keepalive"
	"github.com/kumo-run/kumo/internal/sandbox"
)

// policyWorker is a worker under policy p whose clock stands still at
// the start of the tests' learned history.
func policyWorker(t *testing.T, p keepalive.Policy) *harness {
	h := newHarness(t, Config{IdleTimeout: 10 * time.Minute, KeepAlive: p, MemoryBudgetMB: 1 << 20})
	h.clk.set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return h
}

// learn feeds a keeper invocations of key that arrive after the given idle
// times and run for a second each; it returns when the last one ended.
func learn(k *keeper, key string, start time.Time, idles ...time.Duration) time.Time {
	fn := &Spec{Key: key, MemoryMB: 128}
	t := start
	for i := -1; i < len(idles); i++ {
		if i >= 0 {
			t = t.Add(idles[i])
		}
		st := k.arrived(fn, t)
		k.ended(st, t.Add(time.Second))
	}
	return t.Add(time.Second)
}

// idleSandbox starts a sandbox of key the way a pre-warm does and pools it
// as idle since used.
func (h *harness) idleSandbox(key string, used time.Time) *instance {
	h.t.Helper()
	s := spec("f", "ok", 128)
	s.Key = key
	g, err := h.w.reserve(s)
	if err != nil {
		h.t.Fatal(err)
	}
	in, out, err := h.w.start(context.Background(), s, "", g)
	if err != nil || out != nil {
		h.t.Fatalf("start: %v %+v", err, out)
	}
	h.w.poolPreWarmed(in, used)
	return in
}

// reap is a reaper pass at now, with the clock set there.
func (h *harness) reap(now time.Time) {
	h.clk.set(now)
	h.w.reap(context.Background(), now)
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func reaped(in *instance) bool { return in.sb.(*fakeSandbox).isDestroyed() }

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
			h := policyWorker(t, tc.policy)
			const key = "f:1:r"
			lastEnd := learn(h.w.keep, key, start, tc.idles...)
			for _, c := range tc.cases {
				h.clk.set(lastEnd)
				in := h.idleSandbox(key, lastEnd)
				h.reap(lastEnd.Add(c.idle))
				if got := reaped(in); got != c.reaped {
					t.Errorf("idle %s under %s: reaped %v, want %v", c.idle, h.w.policy().KeepAlive(key, lastEnd), got, c.reaped)
				}
				h.reap(lastEnd.Add(24 * time.Hour))
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
	hy := keepalive.NewHybrid(keepalive.HybridConfig{Fallback: 10 * time.Minute})
	var live atomic.Bool
	live.Store(true)
	h := newHarness(t, Config{KeepAlive: hy, Live: func(string) bool { return live.Load() }})
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h.clk.set(start)
	const key = "f:1:r"
	lastEnd := learn(h.w.keep, key, start, repeat(30*time.Minute, 20)...)
	learned := hy.KeepAlive(key, lastEnd)
	if learned.PreWarm == 0 {
		t.Fatalf("windows %v: want a pre-warm", learned)
	}
	in := h.idleSandbox(key, lastEnd) // pre-warmed: idle since the last invocation
	h.reap(lastEnd.Add(learned.PreWarm + time.Minute))
	if reaped(in) {
		t.Fatal("reaped inside the pre-warm window")
	}
	live.Store(false)
	h.reap(lastEnd.Add(learned.PreWarm + time.Minute))
	if !reaped(in) {
		t.Fatal("kept a sandbox of a key no longer live")
	}
	if got := hy.KeepAlive(key, lastEnd); got != (keepalive.Windows{KeepAlive: 10 * time.Minute}) {
		t.Errorf("windows after retirement %v: the policy did not forget the key", got)
	}
	h.w.keep.mu.Lock()
	n := len(h.w.keep.keys)
	h.w.keep.mu.Unlock()
	if n != 0 {
		t.Errorf("%d keys still tracked", n)
	}
}

// TestKeeperDue: a key whose last invocation ended is due for a pre-warm
// once its window opens, once per idle period, never while an invocation
// runs, and its Spec is dropped when the windows are over.
func TestKeeperDue(t *testing.T) {
	k := newKeeper(keepalive.NewHybrid(keepalive.HybridConfig{Fallback: 10 * time.Minute}))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const key = "f:1:r"
	lastEnd := learn(k, key, start, repeat(30*time.Minute, 20)...)
	win := k.policy.KeepAlive(key, lastEnd) // pre-warm 27m, keep alive 7m6s
	at, ok := win.PreWarmAt(lastEnd)
	if !ok {
		t.Fatalf("windows %v: want a pre-warm", win)
	}
	if jobs := k.due(at.Add(-time.Second), nil); len(jobs) != 0 {
		t.Fatalf("due before the pre-warm time: %v", jobs)
	}
	jobs := k.due(at.Add(time.Second), nil)
	if len(jobs) != 1 || jobs[0].fn.Key != key || !jobs[0].lastEnd.Equal(lastEnd) {
		t.Fatalf("due at the pre-warm time: %+v, want one job for %s", jobs, key)
	}
	if jobs := k.due(at.Add(2*time.Second), nil); len(jobs) != 0 {
		t.Fatalf("due twice in one idle period: %v", jobs)
	}

	// A running invocation postpones the pre-warm until it ends.
	fn := jobs[0].fn
	arrival := lastEnd.Add(30 * time.Minute)
	st := k.arrived(fn, arrival)
	if jobs := k.due(arrival.Add(win.PreWarm+time.Second), nil); len(jobs) != 0 {
		t.Fatalf("due while an invocation runs: %v", jobs)
	}
	k.ended(st, arrival.Add(time.Second))
	lastEnd = arrival.Add(time.Second)
	if jobs := k.due(lastEnd.Add(win.PreWarm+time.Second), nil); len(jobs) != 1 {
		t.Fatalf("after the next invocation: %d jobs, want 1", len(jobs))
	}

	// Over the windows: the Spec is dropped.
	k.due(lastEnd.Add(win.PreWarm+win.KeepAlive+time.Second), nil)
	if k.keys[key].fn != nil {
		t.Error("kept the Spec after the windows")
	}
}

// TestReapBurstGrace: under a policy that pre-warms, an idle sandbox stays
// for a burst of invocations, then is unloaded until the pre-warm.
func TestReapBurstGrace(t *testing.T) {
	h := policyWorker(t, keepalive.NewHybrid(keepalive.HybridConfig{Fallback: 10 * time.Minute}))
	start := h.clk.now()
	const key = "f:1:r"
	lastEnd := learn(h.w.keep, key, start, repeat(30*time.Minute, 20)...)
	h.clk.set(lastEnd)
	in := h.idleSandbox(key, lastEnd)
	h.reap(lastEnd.Add(30 * time.Second))
	if reaped(in) {
		t.Fatal("unloaded a sandbox within a minute of its last use")
	}
	h.reap(lastEnd.Add(burstGrace + time.Second))
	if !reaped(in) {
		t.Fatal("kept a sandbox before its pre-warm window")
	}
}

// TestPoolPreWarmed: a pre-warmed sandbox counts as idle since the key's
// last invocation, so it stays for the keep-alive window, serves the next
// invocation warm, and goes after the window.
func TestPoolPreWarmed(t *testing.T) {
	h := policyWorker(t, keepalive.NewHybrid(keepalive.HybridConfig{Fallback: 10 * time.Minute}))
	s := spec("f", "ok", 128)
	lastEnd := learn(h.w.keep, s.Key, h.clk.now(), repeat(30*time.Minute, 20)...)
	win := h.w.policy().KeepAlive(s.Key, lastEnd)

	in := h.idleSandbox(s.Key, lastEnd)
	h.reap(lastEnd.Add(win.PreWarm + time.Second))
	if reaped(in) {
		t.Fatal("reaped a pre-warmed sandbox inside its window")
	}
	if out := h.mustInvoke(s, "echo"); out.ColdStart {
		t.Fatal("the pre-warmed sandbox did not serve the invocation")
	}
	h.reap(h.clk.now().Add(win.PreWarm + win.KeepAlive + time.Hour))
	if !reaped(in) {
		t.Fatal("kept a pre-warmed sandbox past its window")
	}
}

// TestFixedTracksNothing: under Fixed the invoke path does no bookkeeping.
func TestFixedTracksNothing(t *testing.T) {
	k := newKeeper(keepalive.Fixed{Idle: time.Minute})
	if st := k.arrived(&Spec{Key: "f:1:r"}, time.Now()); st != nil {
		t.Fatal("Fixed tracked an arrival")
	}
}

// TestPreWarmStartsSandbox: a reaper pass at a key's pre-warm time starts a
// sandbox of the key's last Spec through the cold-start path and pools it
// as idle since the key's last invocation; a second pass starts no more.
func TestPreWarmStartsSandbox(t *testing.T) {
	hy := keepalive.NewHybrid(keepalive.HybridConfig{Fallback: 10 * time.Minute})
	h := newHarness(t, Config{KeepAlive: hy})
	s := spec("f", "ok", 128)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Twenty invocations half an hour apart, the last one real.
	lastEnd := learn(h.w.keep, s.Key, t0, repeat(30*time.Minute, 19)...).Add(30*time.Minute - time.Second)
	h.clk.set(lastEnd)
	h.mustInvoke(s, "echo")
	// The sandbox goes after the burst grace; the pre-warm brings one back.
	h.reap(lastEnd.Add(burstGrace + time.Second))
	if starts, live := h.d.counts(); starts != 1 || live != 0 {
		t.Fatalf("after the burst: %d started, %d live; want 1, 0", starts, live)
	}
	win := hy.KeepAlive(s.Key, lastEnd)
	at, ok := win.PreWarmAt(lastEnd)
	if !ok {
		t.Fatalf("windows %v: want a pre-warm", win)
	}
	passAt := at.Add(time.Second)
	h.reap(passAt)
	eventually(t, "a pre-warmed idle sandbox", func() bool { return h.w.Stats()[sandbox.Idle] == 1 })
	sbs := h.d.sandboxes()
	if got := sbs[len(sbs)-1].env("AWS_LAMBDA_INITIALIZATION_TYPE"); got != "on-demand" {
		t.Errorf("pre-warmed sandbox's initialization type %q", got)
	}
	h.reap(passAt.Add(time.Second))
	if starts, live := h.d.counts(); starts != 2 || live != 1 {
		t.Errorf("after a second pass: %d started, %d live; want 2, 1", starts, live)
	}
	if out := h.mustInvoke(s, "echo"); out.ColdStart {
		t.Error("the pre-warmed sandbox did not serve the next invocation")
	}
}
