package forward

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/poll"
	"github.com/kumo-run/kumo/internal/runtimeapi"
	"github.com/kumo-run/kumo/internal/worker"
)

// reportingLocal stands in for a node's worker that reports itself: idle
// sandboxes per key, memory used of a budget; WarmOnly invocations without
// an idle one are refused; hold, if set, blocks each run until closed.
type reportingLocal struct {
	name string

	mu       sync.Mutex
	idle     map[string]int
	used     int
	budget   int
	cold     int // runs that found no idle sandbox
	runs     int
	running  int
	peak     int
	hold     chan struct{}
	started  chan struct{}
	warmMiss int
	prov     map[string]worker.PoolState
}

func (f *reportingLocal) ProvisionedPools() map[string]worker.PoolState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.prov)
}

func (f *reportingLocal) Invoke(ctx context.Context, spec *worker.Spec, req *worker.Request) (*worker.Outcome, error) {
	f.mu.Lock()
	if f.idle[spec.Key] == 0 {
		if req.WarmOnly {
			f.warmMiss++
			f.mu.Unlock()
			return nil, worker.ErrNotWarm
		}
		f.cold++
	}
	f.runs++
	f.running++
	f.peak = max(f.peak, f.running)
	hold, started := f.hold, f.started
	f.mu.Unlock()
	if started != nil {
		started <- struct{}{}
	}
	if hold != nil {
		<-hold
	}
	f.mu.Lock()
	f.running--
	f.mu.Unlock()
	return &worker.Outcome{Payload: []byte(f.name)}, nil
}

func (f *reportingLocal) IdleVersions(int) map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, n := range f.idle {
		if n > 0 {
			out[k] = n
		}
	}
	return out
}

func (f *reportingLocal) MemoryUsedMB() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.used
}

func (f *reportingLocal) MemoryBudgetMB() int { return f.budget }

func (f *reportingLocal) counts() (runs, cold, warmMiss int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runs, f.cold, f.warmMiss
}

// cluster starts a Runner per local on one embedded NATS and waits until
// each has heard every other's report satisfying ready.
func cluster(t *testing.T, locals []*reportingLocal, ready func(v *view) error) []*Runner {
	t.Helper()
	srv, err := natsd.Start(natsd.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	runners := make([]*Runner, len(locals))
	for i, l := range locals {
		nc, err := srv.Connect(l.name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := New(nc, l.name, l, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		runners[i] = r
	}
	if err := poll.Wait(30*time.Second, func() error {
		for _, r := range runners {
			v := r.view.Load()
			if len(v.members) != len(runners) {
				return fmt.Errorf("%s knows %v", r.node, v.members)
			}
			if ready != nil {
				if err := ready(v); err != nil {
					return fmt.Errorf("%s: %w", r.node, err)
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return runners
}

func invokeReq() *worker.Request {
	return &worker.Request{Invocation: runtimeapi.Invocation{RequestID: "r", Payload: []byte(`{}`)}}
}

// TestWarmAffinity: an invocation landing on a node without an idle
// sandbox of its version runs on the node that reported one, without a
// cold start anywhere; with one idle here it runs here.
func TestWarmAffinity(t *testing.T) {
	a := &reportingLocal{name: "a", budget: 1024, idle: map[string]int{}}
	b := &reportingLocal{name: "b", budget: 1024, used: 512, idle: map[string]int{"k1": 1}}
	c := &reportingLocal{name: "c", budget: 1024, idle: map[string]int{"k2": 1}}
	runners := cluster(t, []*reportingLocal{a, b, c}, func(v *view) error {
		idle := 0
		for _, p := range v.peers {
			idle += len(p.Idle)
		}
		if v.self.Node != "a" && idle == 0 {
			return errors.New("no idle sandbox reported")
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	spec := &worker.Spec{Key: "k1", FunctionName: "f", MemoryMB: 128, Timeout: time.Second}
	for range 3 {
		out, err := runners[0].Invoke(ctx, spec, invokeReq())
		if err != nil || string(out.Payload) != "b" {
			t.Fatalf("through a: %v %v, want the run on b's idle sandbox", out, err)
		}
	}
	if runs, cold, miss := a.counts(); runs != 0 || cold != 0 || miss != 3 {
		t.Errorf("a: %d runs, %d cold, %d warm misses; want 0, 0, 3", runs, cold, miss)
	}
	if _, cold, _ := b.counts(); cold != 0 {
		t.Errorf("b: %d cold starts, want 0", cold)
	}

	// Idle here: runs here, without forwarding.
	out, err := runners[2].Invoke(ctx, &worker.Spec{Key: "k2", FunctionName: "g", MemoryMB: 128, Timeout: time.Second}, invokeReq())
	if err != nil || string(out.Payload) != "c" {
		t.Fatalf("through c with an idle sandbox there: %v %v", out, err)
	}
	if s := runners[0].Stats(); s.Warm != 3 || s.Here != 0 {
		t.Errorf("a's stats %+v, want 3 warm forwards", s)
	}
	if s := runners[1].Stats(); s.Served != 3 {
		t.Errorf("b served %d, want 3", s.Served)
	}
	// b's sandbox is gone but a's view still has it: the invocation goes
	// there once and starts one there, never sent on again.
	b.mu.Lock()
	b.idle["k1"] = 0
	b.mu.Unlock()
	out, err = runners[0].Invoke(ctx, spec, invokeReq())
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Payload) == "b" {
		if _, cold, _ := b.counts(); cold != 1 {
			t.Errorf("b: %d cold starts after its sandbox went, want 1", cold)
		}
	}
	if runs, _, _ := c.counts(); runs != 1 {
		t.Errorf("c ran %d invocations, want its own 1: a stale hint must not send one on", runs)
	}
}

// TestLeastLoaded: with no idle sandbox anywhere, a new one starts on the
// least loaded node with room, and here when this node is among the least
// loaded.
func TestLeastLoaded(t *testing.T) {
	a := &reportingLocal{name: "a", budget: 1000, used: 800, idle: map[string]int{}}
	b := &reportingLocal{name: "b", budget: 1000, used: 100, idle: map[string]int{}}
	c := &reportingLocal{name: "c", budget: 1000, used: 120, idle: map[string]int{}}
	runners := cluster(t, []*reportingLocal{a, b, c}, func(v *view) error {
		for _, p := range v.peers {
			if p.BudgetMB == 0 {
				return fmt.Errorf("no budget from %s yet", p.Node)
			}
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	spec := &worker.Spec{Key: "k", FunctionName: "f", MemoryMB: 128, Timeout: time.Second}
	out, err := runners[0].Invoke(ctx, spec, invokeReq())
	if err != nil || string(out.Payload) != "b" {
		t.Fatalf("through the loaded node a: %v %v, want the run on b", out, err)
	}
	out, err = runners[2].Invoke(ctx, spec, invokeReq())
	if err != nil || string(out.Payload) != "c" {
		t.Fatalf("through c, within the slack of b: %v %v, want the run on c", out, err)
	}
	if s := runners[2].Stats(); s.Here != 1 || s.Load != 0 {
		t.Errorf("c's stats %+v, want one run here", s)
	}
}

// TestClusterReservedConcurrency: reserved concurrency 2 holds across
// three nodes: with every run held, invocations through all three nodes
// start exactly 2 runs cluster-wide and the rest are refused with a
// reserved-limit error; once the runs end there is room again.
func TestClusterReservedConcurrency(t *testing.T) {
	hold := make(chan struct{})
	started := make(chan struct{}, 16)
	var locals []*reportingLocal
	for _, n := range []string{"a", "b", "c"} {
		locals = append(locals, &reportingLocal{name: n, budget: 1024, idle: map[string]int{}, hold: hold, started: started})
	}
	runners := cluster(t, locals, nil)
	two := 2
	spec := &worker.Spec{Key: "k", FunctionName: "f", MemoryMB: 128, Timeout: time.Second, ReservedConcurrency: &two, UnreservedConcurrency: 900}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errs := make(chan error, 6)
	for i := range 6 {
		go func() {
			_, err := runners[i%3].Invoke(ctx, spec, invokeReq())
			errs <- err
		}()
	}
	var refused []error
	for len(refused) < 4 {
		select {
		case err := <-errs:
			refused = append(refused, err)
		case <-ctx.Done():
			t.Fatalf("%d refused before the deadline, want 4", len(refused))
		}
	}
	for _, err := range refused {
		var le *worker.LimitError
		if !errors.As(err, &le) || !le.Reserved {
			t.Errorf("refused with %v, want a reserved-concurrency LimitError", err)
		}
	}
	<-started
	<-started
	running := 0
	for _, l := range locals {
		l.mu.Lock()
		running += l.running
		l.mu.Unlock()
	}
	if running != 2 {
		t.Errorf("%d running cluster-wide, want 2", running)
	}
	close(hold)
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("a held invocation: %v", err)
		}
	}
	// Room again, through the node whose share is zero too.
	for _, r := range runners {
		if _, err := r.Invoke(ctx, spec, invokeReq()); err != nil {
			t.Errorf("through %s after the runs ended: %v", r.node, err)
		}
	}
	// The account's unreserved pool is shared the same way.
	spec2 := &worker.Spec{Key: "k2", FunctionName: "g", MemoryMB: 128, Timeout: time.Second, UnreservedConcurrency: 3}
	if _, err := runners[0].Invoke(ctx, spec2, invokeReq()); err != nil {
		t.Errorf("unreserved: %v", err)
	}
}

// TestIdleLinger: a version seen idle stays reported for idleLinger
// after its sandbox turned busy, then is dropped.
func TestIdleLinger(t *testing.T) {
	l := lingering{}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := l.update(map[string]int{"k": 2}, t0); got["k"] != 2 {
		t.Fatalf("idle now: %v", got)
	}
	if got := l.update(nil, t0.Add(idleLinger/2)); got["k"] != 2 {
		t.Fatalf("busy for a moment: %v, want k still reported", got)
	}
	if got := l.update(map[string]int{"j": 1}, t0.Add(idleLinger+time.Millisecond)); got["k"] != 0 || got["j"] != 1 {
		t.Fatalf("busy past the linger: %v, want only j", got)
	}
}
