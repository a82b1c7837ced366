package asyncq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/poll"
	"github.com/kumo-run/kumo/internal/registry"
)

var testARNs = registry.ARNs{Partition: "aws", Region: "us-east-1", Account: "123456789012"}

// fakeSettings gives every function the defaults unless set.
type fakeSettings struct {
	mu      sync.Mutex
	m       map[string]registry.AsyncSettings
	deleted map[string]bool
	timeout map[string]int // function timeouts (s), as the registry knows them
}

func (f *fakeSettings) ResolveInvoke(ref registry.Ref, _ float64) (registry.Target, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.timeout[ref.Name]
	if !ok {
		return registry.Target{}, registry.ErrFunctionGone
	}
	return registry.Target{Version: registry.Version{Config: registry.FunctionConfig{Timeout: n}}}, nil
}

func (f *fakeSettings) set(fn string, s registry.AsyncSettings) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]registry.AsyncSettings{}
	}
	f.m[fn] = s
}

// del makes fn a deleted function.
func (f *fakeSettings) del(fn string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deleted == nil {
		f.deleted = map[string]bool{}
	}
	f.deleted[fn] = true
}

func (f *fakeSettings) AsyncSettings(ref registry.Ref) (registry.AsyncSettings, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deleted[ref.Name] {
		return registry.AsyncSettings{}, registry.ErrFunctionGone
	}
	if s, ok := f.m[ref.Name]; ok {
		return s, nil
	}
	if ref.Name == "gone" {
		return registry.AsyncSettings{}, registry.ErrFunctionGone
	}
	return registry.AsyncSettings{MaximumRetryAttempts: 2, MaximumEventAge: time.Hour}, nil
}

// call is one attempt the fake invoker saw.
type call struct {
	Function, RequestID string
	Payload             []byte
	At                  time.Time
}

// fakeInvoker runs behaviours by function name and records every call.
type fakeInvoker struct {
	mu    sync.Mutex
	calls []call
	do    map[string]func(n int, in *invoke.Input) (*invoke.Output, error)
	// hang is how many first attempts of a function wait for their
	// context to end, as a call to a node that died does.
	hang map[string]int
	// died is how many first attempts of a function go to a node that
	// died with them, answered as package forward answers them: a caller
	// that set a deadline waits for it; else the wait is bounded by the
	// function's timeout (here died's bound) and ends in a retryable error.
	died map[string]int
}

const diedBound = 50 * time.Millisecond

func (f *fakeInvoker) Invoke(ctx context.Context, in *invoke.Input) (*invoke.Output, error) {
	f.mu.Lock()
	n := 0
	for _, c := range f.calls {
		if c.Function == in.Ref.Name && c.RequestID == in.RequestID {
			n++
		}
	}
	f.calls = append(f.calls, call{Function: in.Ref.Name, RequestID: in.RequestID, Payload: append([]byte(nil), in.Payload...), At: time.Now()})
	do := f.do[in.Ref.Name]
	hang := n < f.hang[in.Ref.Name]
	died := n < f.died[in.Ref.Name]
	f.mu.Unlock()
	if died {
		if _, ok := ctx.Deadline(); ok {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		select {
		case <-time.After(diedBound):
			return nil, awsproto.Internal(errors.New("the node running the invocation did not answer"))
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if do != nil {
		return do(n, in)
	}
	return &invoke.Output{Status: 200, Payload: []byte(`{"ok":true}`), ExecutedVersion: "$LATEST"}, nil
}

func (f *fakeInvoker) callsOf(fn string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if c.Function == fn {
			out = append(out, c)
		}
	}
	return out
}

func failing(n int, in *invoke.Input) (*invoke.Output, error) {
	return &invoke.Output{Status: 200, FunctionError: "Unhandled", Payload: []byte(`{"errorType":"TestError","errorMessage":"boom"}`), ExecutedVersion: "$LATEST"}, nil
}

type env struct {
	ns  *natsd.Server
	nc  *nats.Conn
	q   *Queue
	inv *fakeInvoker
	set *fakeSettings
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	ns, err := natsd.Start(natsd.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	e := &env{ns: ns, inv: &fakeInvoker{do: map[string]func(int, *invoke.Input) (*invoke.Output, error){}}, set: &fakeSettings{}}
	e.open(t, cfg)
	return e
}

func (e *env) open(t *testing.T, cfg Config) {
	t.Helper()
	nc, err := e.ns.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	cfg.Settings = e.set
	cfg.ARNs = testARNs
	if cfg.RetryDelays == nil {
		cfg.RetryDelays = []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}
	}
	if cfg.ThrottleBackoff == 0 {
		cfg.ThrottleBackoff = 5 * time.Millisecond
	}
	q, err := Open(t.Context(), nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Close)
	if err := q.Start(t.Context(), e.inv); err != nil {
		t.Fatal(err)
	}
	e.nc, e.q = nc, q
}

func (e *env) enqueue(t *testing.T, fn string, payload string) string {
	t.Helper()
	id := awsproto.NewRequestID()
	if err := e.q.Enqueue(t.Context(), &invoke.Input{Ref: registry.Ref{Name: fn}, Payload: []byte(payload), RequestID: id}); err != nil {
		t.Fatal(err)
	}
	return id
}

// eventually waits for f to succeed: timeout is a ceiling, raised to
// poll.Default so that a loaded machine only makes a test slower.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	poll.Until(t, max(timeout, poll.Default), what, f)
}

func records(t *testing.T, inv *fakeInvoker, fn string) []invocationRecord {
	t.Helper()
	var out []invocationRecord
	for _, c := range inv.callsOf(fn) {
		var r invocationRecord
		if err := json.Unmarshal(c.Payload, &r); err != nil {
			t.Fatalf("record %s: %v", c.Payload, err)
		}
		out = append(out, r)
	}
	return out
}

// waitCalls waits until fn has had at least n attempts and none of its
// events is stored any more (so no further attempt can come), then checks
// that there were exactly n.
func (e *env) waitCalls(t *testing.T, fn string, n int) []call {
	t.Helper()
	eventually(t, 20*time.Second, fn+" calls", func() error {
		if got := len(e.inv.callsOf(fn)); got < n {
			return fmt.Errorf("%d calls, want %d", got, n)
		}
		if d := e.q.depth(); d[fn] != 0 {
			return fmt.Errorf("%v of its events still stored", d[fn])
		}
		return nil
	})
	c := e.inv.callsOf(fn)
	if len(c) != n {
		t.Fatalf("%s: %d calls, want %d", fn, len(c), n)
	}
	return c
}

// frozen is a clock that moves only when told to.
type frozen struct {
	mu sync.Mutex
	t  time.Time
}

func newFrozen() *frozen { return &frozen{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (f *frozen) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *frozen) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

func TestSuccessDestination(t *testing.T) {
	e := newEnv(t, Config{})
	e.set.set("ok", registry.AsyncSettings{MaximumRetryAttempts: 2, MaximumEventAge: time.Hour,
		OnSuccess: testARNs.Function("dest"), OnFailure: testARNs.Function("never")})
	id := e.enqueue(t, "ok", `{"n":1}`)
	e.waitCalls(t, "ok", 1)
	e.waitCalls(t, "dest", 1)
	r := records(t, e.inv, "dest")[0]
	if r.Version != "1.0" || r.RequestContext.RequestID != id || r.RequestContext.Condition != CondSuccess ||
		r.RequestContext.ApproximateInvokeCount != 1 || r.RequestContext.FunctionArn != testARNs.Qualified("ok", "$LATEST") ||
		string(r.RequestPayload) != `{"n":1}` || string(r.ResponsePayload) != `{"ok":true}` ||
		r.ResponseContext == nil || r.ResponseContext.StatusCode != 200 || r.ResponseContext.ExecutedVersion != "$LATEST" {
		t.Errorf("record: %+v", r)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", r.Timestamp); err != nil {
		t.Errorf("timestamp %q: %v", r.Timestamp, err)
	}
	if n := len(e.inv.callsOf("never")); n != 0 {
		t.Errorf("OnFailure got %d records", n)
	}
}

func TestRetriesExhausted(t *testing.T) {
	for _, tc := range []struct {
		retries, want int
	}{{2, 3}, {1, 2}, {0, 1}} {
		t.Run(fmt.Sprint(tc.retries), func(t *testing.T) {
			e := newEnv(t, Config{})
			e.inv.do["bad"] = failing
			e.set.set("bad", registry.AsyncSettings{MaximumRetryAttempts: tc.retries, MaximumEventAge: time.Hour,
				OnFailure: testARNs.Function("fail"), DeadLetter: testARNs.Function("dlq")})
			id := e.enqueue(t, "bad", `{"x":"y"}`)
			calls := e.waitCalls(t, "bad", tc.want)
			for i, c := range calls {
				if c.RequestID != id {
					t.Errorf("attempt %d request id %s, want %s", i+1, c.RequestID, id)
				}
			}
			if tc.want == 3 {
				if d1, d2 := calls[1].At.Sub(calls[0].At), calls[2].At.Sub(calls[1].At); d1 < 10*time.Millisecond || d2 < 20*time.Millisecond {
					t.Errorf("retry delays %v, %v; want ≥ 10ms, 20ms", d1, d2)
				}
			}
			e.waitCalls(t, "fail", 1)
			r := records(t, e.inv, "fail")[0]
			if r.RequestContext.Condition != CondRetriesExhausted || r.RequestContext.ApproximateInvokeCount != tc.want ||
				r.ResponseContext == nil || r.ResponseContext.FunctionError != "Unhandled" || r.RequestContext.RequestID != id {
				t.Errorf("record: %+v %+v", r, r.ResponseContext)
			}
			dlq := e.waitCalls(t, "dlq", 1)
			if string(dlq[0].Payload) != `{"x":"y"}` {
				t.Errorf("dead-letter payload %s", dlq[0].Payload)
			}
		})
	}
}

func TestEventAgeExceeded(t *testing.T) {
	t.Run("BeforeRetry", func(t *testing.T) {
		// The clock stands still: the first attempt runs at age 0 whatever
		// the machine's load, and the retry would fall past the event's
		// maximum age.
		clock := newFrozen()
		e := newEnv(t, Config{RetryDelays: []time.Duration{time.Second}, Now: clock.now})
		e.inv.do["bad"] = failing
		e.set.set("bad", registry.AsyncSettings{MaximumRetryAttempts: 2, MaximumEventAge: 500 * time.Millisecond,
			OnFailure: testARNs.Function("fail")})
		e.enqueue(t, "bad", `{}`)
		e.waitCalls(t, "bad", 1)
		e.waitCalls(t, "fail", 1)
		r := records(t, e.inv, "fail")[0]
		if r.RequestContext.Condition != CondEventAgeExceeded || r.RequestContext.ApproximateInvokeCount != 1 {
			t.Errorf("record: %+v", r)
		}
	})
	t.Run("Stale", func(t *testing.T) {
		clock := newFrozen()
		e := newEnv(t, Config{Now: clock.now, PerFunction: 1})
		block := make(chan struct{})
		e.inv.do["slow"] = func(n int, in *invoke.Input) (*invoke.Output, error) {
			if string(in.Payload) == `"first"` {
				<-block
			}
			return &invoke.Output{Status: 200, Payload: []byte(`null`)}, nil
		}
		e.set.set("slow", registry.AsyncSettings{MaximumRetryAttempts: 2, MaximumEventAge: time.Minute, OnFailure: testARNs.Function("fail")})
		e.enqueue(t, "slow", `"first"`)
		eventually(t, 20*time.Second, "first attempt", func() error {
			if len(e.inv.callsOf("slow")) == 0 {
				return errors.New("not yet")
			}
			return nil
		})
		e.enqueue(t, "slow", `"second"`)
		clock.advance(2 * time.Minute)
		close(block)
		e.waitCalls(t, "slow", 1)
		e.waitCalls(t, "fail", 1)
		r := records(t, e.inv, "fail")[0]
		if r.RequestContext.Condition != CondEventAgeExceeded || r.RequestContext.ApproximateInvokeCount != 0 ||
			string(r.RequestPayload) != `"second"` || r.ResponseContext != nil {
			t.Errorf("record: %+v", r)
		}
	})
}

// An attempt refused with an error that would recur (here a bad parameter)
// fails the event at once: one attempt, then the failure destination and
// the dead-letter target, instead of retries until the event expires.
func TestPermanentErrorNotRetried(t *testing.T) {
	e := newEnv(t, Config{})
	e.inv.do["perm"] = func(n int, in *invoke.Input) (*invoke.Output, error) {
		return nil, awsproto.Errorf(awsproto.InvalidParameterValueException, "The runtime parameter of python2.99 is not supported.")
	}
	e.set.set("perm", registry.AsyncSettings{MaximumRetryAttempts: 2, MaximumEventAge: time.Hour,
		OnFailure: testARNs.Function("fail"), DeadLetter: testARNs.Function("dlq")})
	id := e.enqueue(t, "perm", `{"p":1}`)
	e.waitCalls(t, "fail", 1)
	e.waitCalls(t, "dlq", 1)
	e.waitCalls(t, "perm", 1)
	r := records(t, e.inv, "fail")[0]
	if r.RequestContext.Condition != CondRetriesExhausted || r.RequestContext.RequestID != id ||
		r.RequestContext.ApproximateInvokeCount != 0 || string(r.RequestPayload) != `{"p":1}` {
		t.Errorf("record: %+v", r)
	}
}

func TestThrottledRetried(t *testing.T) {
	e := newEnv(t, Config{})
	e.inv.do["hot"] = func(n int, in *invoke.Input) (*invoke.Output, error) {
		if n < 3 {
			return nil, awsproto.Errorf(awsproto.TooManyRequestsException, "Rate Exceeded.")
		}
		return &invoke.Output{Status: 200, Payload: []byte(`1`)}, nil
	}
	e.set.set("hot", registry.AsyncSettings{MaximumRetryAttempts: 0, MaximumEventAge: time.Hour, OnSuccess: testARNs.Function("dest")})
	e.enqueue(t, "hot", `{}`)
	e.waitCalls(t, "hot", 4)
	e.waitCalls(t, "dest", 1)
	if r := records(t, e.inv, "dest")[0]; r.RequestContext.ApproximateInvokeCount != 1 {
		t.Errorf("throttled attempts counted as invocations: %+v", r)
	}
}

// TestPendingRetried: a function that is not ready yet (Pending, or
// mid-update) answers ResourceConflictException; the queue waits for it
// rather than failing the event.
func TestPendingRetried(t *testing.T) {
	e := newEnv(t, Config{})
	e.inv.do["pending"] = func(n int, in *invoke.Input) (*invoke.Output, error) {
		if n < 2 {
			return nil, awsproto.Errorf(awsproto.ResourceConflictException, "The operation cannot be performed at this time. The function is currently in the following state: Pending")
		}
		return &invoke.Output{Status: 200, Payload: []byte(`1`)}, nil
	}
	e.set.set("pending", registry.AsyncSettings{MaximumRetryAttempts: 0, MaximumEventAge: time.Hour,
		OnSuccess: testARNs.Function("dest"), OnFailure: testARNs.Function("fail")})
	e.enqueue(t, "pending", `{}`)
	e.waitCalls(t, "pending", 3)
	e.waitCalls(t, "dest", 1)
	if n := len(e.inv.callsOf("fail")); n != 0 {
		t.Errorf("a pending function's event went to OnFailure %d times", n)
	}
}

func TestGoneDiscarded(t *testing.T) {
	e := newEnv(t, Config{})
	e.enqueue(t, "gone", `{}`)
	e.enqueue(t, "ok", `{}`)
	e.waitCalls(t, "ok", 1)
	eventually(t, 5*time.Second, "gone drained", func() error {
		d := e.q.depth()
		if d["gone"] != 0 {
			return fmt.Errorf("depth %v", d)
		}
		return nil
	})
	if n := len(e.inv.callsOf("gone")); n != 0 {
		t.Errorf("deleted function invoked %d times", n)
	}
}

// A function's backlog does not hold up another function's event.
func TestFairness(t *testing.T) {
	e := newEnv(t, Config{Parallel: 2, PerFunction: 2})
	e.inv.do["busy"] = func(n int, in *invoke.Input) (*invoke.Output, error) {
		time.Sleep(20 * time.Millisecond)
		return &invoke.Output{Status: 200}, nil
	}
	for range 200 {
		e.enqueue(t, "busy", `{}`)
	}
	waitCalls := func() int { return len(e.inv.callsOf("busy")) }
	eventually(t, 5*time.Second, "busy started", func() error {
		if waitCalls() == 0 {
			return errors.New("not yet")
		}
		return nil
	})
	e.enqueue(t, "quiet", `{}`)
	eventually(t, 5*time.Second, "quiet ran", func() error {
		if len(e.inv.callsOf("quiet")) == 0 {
			return errors.New("not yet")
		}
		return nil
	})
	// Served in arrival order, quiet would wait for all 200; how soon it
	// runs depends on the machine, so the bound is loose: well before the
	// backlog is through.
	if n := waitCalls(); n > 150 {
		t.Errorf("quiet waited for %d of busy's 200 events", n)
	}
}

// Killing the store connection mid-drain loses nothing: every event runs
// at least once after a new queue takes over.
func TestCrashAtLeastOnce(t *testing.T) {
	const events = 300
	cfg := Config{AckWait: time.Second, Parallel: 8, PerFunction: 8, Journal: filepath.Join(t.TempDir(), "journal")}
	e := newEnv(t, cfg)
	counted := 0.0
	e.inv.do["f"] = func(n int, in *invoke.Input) (*invoke.Output, error) {
		time.Sleep(20 * time.Millisecond)
		return &invoke.Output{Status: 200}, nil
	}
	ids := map[string]bool{}
	for range events {
		ids[e.enqueue(t, "f", `{}`)] = true
	}
	for round := 0; round < 3; round++ {
		// Crash while attempts are under way: once this round has run some.
		before := len(e.inv.callsOf("f"))
		eventually(t, 20*time.Second, "progress", func() error {
			if n := len(e.inv.callsOf("f")); n < before+10 && n < events {
				return fmt.Errorf("%d attempts", n)
			}
			return nil
		})
		t.Logf("crash %d after %d attempts", round+1, len(e.inv.callsOf("f")))
		e.nc.Close() // acks in flight are lost
		e.q.Close()
		counted += counterValue(e.q)
		dir := e.ns.DataDir()
		e.ns.Shutdown()
		ns, err := natsd.Start(natsd.Config{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ns.Shutdown)
		e.ns = ns
		e.open(t, cfg)
	}
	eventually(t, 30*time.Second, "all events ran", func() error {
		seen := map[string]int{}
		for _, c := range e.inv.callsOf("f") {
			seen[c.RequestID]++
		}
		missing := 0
		for id := range ids {
			if seen[id] == 0 {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d events not run", missing, events)
		}
		return nil
	})
	eventually(t, 10*time.Second, "queue empty", func() error {
		if d := e.q.depth(); d["f"] != 0 {
			return fmt.Errorf("depth %v", d)
		}
		return nil
	})
	seen := map[string]int{}
	for _, c := range e.inv.callsOf("f") {
		seen[c.RequestID]++
	}
	dups := 0
	for _, n := range seen {
		if n > 1 {
			dups++
		}
	}
	counted += counterValue(e.q)
	t.Logf("%d events, %d attempts, %d ran more than once; redeliveries counted: %v", events, len(e.inv.callsOf("f")), dups, counted)
	if attempts := len(e.inv.callsOf("f")); counted < float64(attempts-events) {
		t.Errorf("%d repeated attempts but only %v redeliveries counted", attempts-events, counted)
	}
}

func counterValue(q *Queue) float64 {
	reg := prometheus.NewRegistry()
	reg.MustRegister(q.redeliveries)
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 {
		return -1
	}
	return mfs[0].GetMetric()[0].GetCounter().GetValue()
}

// An idle function's drainer stops, and its next event starts it again.
func TestIdleDrainerRestarts(t *testing.T) {
	e := newEnv(t, Config{Idle: 50 * time.Millisecond})
	e.enqueue(t, "f", `{}`)
	e.waitCalls(t, "f", 1)
	eventually(t, 10*time.Second, "drainer retired", func() error {
		e.q.mu.Lock()
		defer e.q.mu.Unlock()
		if len(e.q.drainers) != 0 {
			return fmt.Errorf("%d drainers", len(e.q.drainers))
		}
		return nil
	})
	e.enqueue(t, "f", `{}`)
	e.waitCalls(t, "f", 2)
}

// Events stored before a queue starts run once it does.
func TestStoredEventsRunAfterStart(t *testing.T) {
	e := newEnv(t, Config{})
	e.q.Close()
	nc, err := e.ns.Connect("enqueue-only")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	q, err := Open(t.Context(), nc, Config{Settings: e.set, ARNs: testARNs})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := q.Enqueue(t.Context(), &invoke.Input{Ref: registry.Ref{Name: "later"}, Payload: []byte(`{}`), RequestID: awsproto.NewRequestID()}); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	if len(e.inv.callsOf("later")) != 0 {
		t.Fatal("an unstarted queue ran events")
	}
	e.open(t, Config{})
	e.waitCalls(t, "later", 5)
	eventually(t, 5*time.Second, "depth 0", func() error {
		if d := e.q.depth(); d["later"] != 0 {
			return fmt.Errorf("depth %v", d)
		}
		return nil
	})
}

// consumers lists the durable consumers of the async stream.
func (e *env) consumers(t *testing.T) []string {
	t.Helper()
	var out []string
	names := e.q.stream.ConsumerNames(t.Context())
	for n := range names.Name() {
		out = append(out, n)
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) noConsumers(t *testing.T) {
	t.Helper()
	eventually(t, 20*time.Second, "consumers deleted", func() error {
		e.q.mu.Lock()
		n := len(e.q.drainers)
		e.q.mu.Unlock()
		if c := e.consumers(t); len(c) > 0 || n > 0 {
			return fmt.Errorf("consumers %v, %d drainers", c, n)
		}
		return nil
	})
}

// A deleted function's durable consumer goes with it, once its queued
// events are discarded; consumers an earlier process left behind go after
// a restart. The queue's idle time (a minute) is not waited for.
func TestDeletedFunctionLeavesNoConsumer(t *testing.T) {
	e := newEnv(t, Config{PerFunction: 1})
	for i := range 10 {
		fn := fmt.Sprintf("f%d", i)
		e.enqueue(t, fn, `{}`)
		e.waitCalls(t, fn, 1)
	}
	// One function is deleted with events still queued: the attempt under
	// way finishes, the rest are dropped.
	block := make(chan struct{})
	e.inv.do["busy"] = func(n int, in *invoke.Input) (*invoke.Output, error) {
		<-block
		return &invoke.Output{Status: 200}, nil
	}
	for range 3 {
		e.enqueue(t, "busy", `{}`)
	}
	eventually(t, 20*time.Second, "busy started", func() error {
		if len(e.inv.callsOf("busy")) == 0 {
			return errors.New("not yet")
		}
		return nil
	})
	if c := e.consumers(t); len(c) != 11 {
		t.Fatalf("consumers %v, want 11", c)
	}
	for i := range 10 {
		e.set.del(fmt.Sprintf("f%d", i))
	}
	e.set.del("busy")
	close(block)
	e.noConsumers(t)
	if n := len(e.inv.callsOf("busy")); n != 1 {
		t.Errorf("deleted function ran %d times, want 1", n)
	}
	if d := e.q.depth(); d["busy"] != 0 {
		t.Errorf("depth %v", d)
	}

	// A consumer left behind by an earlier process.
	if _, err := e.q.consumer(t.Context(), "left"); err != nil {
		t.Fatal(err)
	}
	e.set.del("left")
	e.q.Close()
	e.open(t, Config{})
	e.noConsumers(t)
}

// A consumer deleted under a running drainer (by an operator, or lost in a
// store reset) is created again, and events keep running.
func TestLostConsumerRecreated(t *testing.T) {
	e := newEnv(t, Config{})
	e.enqueue(t, "f", `{}`)
	e.waitCalls(t, "f", 1)
	if err := e.q.stream.DeleteConsumer(t.Context(), natsd.AsyncConsumer("f")); err != nil {
		t.Fatal(err)
	}
	e.enqueue(t, "f", `{}`)
	e.waitCalls(t, "f", 2)
}

// While the store cannot take writes, Enqueue refuses at once with
// ErrUnavailable and stores nothing; afterwards events are accepted again.
// A stream deleted under the queue is created again by the next Enqueue.
func TestEnqueueRecovers(t *testing.T) {
	var mu sync.Mutex
	var refuse error
	e := newEnv(t, Config{Writable: func() error { mu.Lock(); defer mu.Unlock(); return refuse }})
	mu.Lock()
	refuse = errors.New("data disk nearly full")
	mu.Unlock()
	err := e.q.Enqueue(t.Context(), &invoke.Input{Ref: registry.Ref{Name: "f"}, Payload: []byte(`{}`), RequestID: awsproto.NewRequestID()})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "data disk nearly full") {
		t.Fatalf("Enqueue while the store refuses writes: %v", err)
	}
	mu.Lock()
	refuse = nil
	mu.Unlock()
	e.enqueue(t, "f", `{}`)
	e.waitCalls(t, "f", 1)

	js, err := jetstream.New(e.nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(t.Context(), natsd.AsyncStream); err != nil {
		t.Fatal(err)
	}
	e.enqueue(t, "f", `{}`)
	e.waitCalls(t, "f", 2)
}

// A store write that meets a full disk leaves JetStream's stream refusing
// (or never answering) writes; once space is back the store is reopened
// (natsd does it by itself) and the queue takes and runs events again,
// without a restart and without losing the events stored before.
func TestRecoversFromStoreWriteError(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a small tmpfs needs root")
	}
	disk := t.TempDir()
	if err := syscall.Mount("tmpfs", disk, "tmpfs", 0, "size=16m"); err != nil {
		t.Skipf("skipped: mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(disk, syscall.MNT_DETACH) })
	// A store cap above the disk's size lets a write reach the full disk.
	ns, err := natsd.Start(natsd.Config{DataDir: filepath.Join(disk, "data"), MaxStore: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	e := &env{ns: ns, inv: &fakeInvoker{do: map[string]func(int, *invoke.Input) (*invoke.Output, error){}}, set: &fakeSettings{}}
	block := make(chan struct{})
	e.inv.do["f"] = func(n int, in *invoke.Input) (*invoke.Output, error) {
		<-block
		return &invoke.Output{Status: 200}, nil
	}
	e.open(t, Config{PerFunction: 1})
	var once sync.Once
	release := func() { once.Do(func() { close(block) }) }
	t.Cleanup(release) // runs before the queue closes
	// This event is held in its attempt until block closes.
	first := e.enqueue(t, "f", `"before"`)

	filler := filepath.Join(disk, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for _, err = f.Write(make([]byte, 1<<20)); err == nil; _, err = f.Write(make([]byte, 1<<20)) {
	}
	f.Close()
	eventually(t, 60*time.Second, "store marked failed", func() error {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		err := e.q.Enqueue(ctx, &invoke.Input{Ref: registry.Ref{Name: "f"}, Payload: []byte(`"lost"`), RequestID: awsproto.NewRequestID()})
		cancel()
		if err == nil {
			return errors.New("an event was accepted on a full disk")
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Enqueue on a full disk: %v", err)
		}
		if err := ns.Writable(); !errors.Is(err, natsd.ErrStoreFailed) {
			return fmt.Errorf("Enqueue: %v; Writable: %v", err, err)
		}
		return nil
	})
	os.Remove(filler)
	release()
	var after string
	eventually(t, 60*time.Second, "events accepted again", func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		id := awsproto.NewRequestID()
		if err := e.q.Enqueue(ctx, &invoke.Input{Ref: registry.Ref{Name: "f"}, Payload: []byte(`"after"`), RequestID: id}); err != nil {
			return err
		}
		after = id
		return nil
	})
	eventually(t, 60*time.Second, "both events ran", func() error {
		ran := map[string]bool{}
		for _, c := range e.inv.callsOf("f") {
			ran[c.RequestID] = true
		}
		if !ran[first] || !ran[after] {
			return fmt.Errorf("ran %v", ran)
		}
		return nil
	})
}

// sentRecord is what fakeTargets received.
type sentRecord struct {
	ARN   string
	Body  []byte
	Attrs map[string]Attribute
}

// fakeTargets records sends; fail answers the first n sends to an ARN
// with an error.
type fakeTargets struct {
	mu   sync.Mutex
	sent []sentRecord
	fail map[string]error
	n    map[string]int
}

func (f *fakeTargets) Send(ctx context.Context, arn string, body []byte, attrs map[string]Attribute) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil {
		f.n = map[string]int{}
	}
	f.n[arn]++
	if err := f.fail[arn]; err != nil && f.n[arn] == 1 {
		return err
	}
	f.sent = append(f.sent, sentRecord{ARN: arn, Body: append([]byte(nil), body...), Attrs: attrs})
	return nil
}

func (f *fakeTargets) to(arn string) []sentRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []sentRecord
	for _, s := range f.sent {
		if s.ARN == arn {
			out = append(out, s)
		}
	}
	return out
}

// TestQueueAndTopicTargets: destination records and dead-letter events
// go to SQS queues and SNS topics through Targets, with the dead-letter
// message attributes Lambda sets; a refusal the target would repeat drops
// the record, any other failure is retried.
func TestQueueAndTopicTargets(t *testing.T) {
	const (
		dlq     = "arn:aws:sqs:us-east-1:123456789012:dlq"
		topic   = "arn:aws:sns:us-east-1:123456789012:failures"
		okQueue = "arn:aws:sqs:us-east-1:123456789012:done"
		gone    = "arn:aws:sqs:us-east-1:123456789012:gone"
	)
	tg := &fakeTargets{fail: map[string]error{
		topic: errors.New("connection reset"), // retried
		gone:  awsproto.Errorf(awsproto.ResourceNotFoundException, "no such queue"),
	}}
	e := newEnv(t, Config{Targets: tg})
	e.inv.do["bad"] = failing
	e.set.set("bad", registry.AsyncSettings{MaximumRetryAttempts: 0, MaximumEventAge: time.Hour, OnFailure: topic, DeadLetter: dlq})
	e.set.set("ok", registry.AsyncSettings{MaximumRetryAttempts: 0, MaximumEventAge: time.Hour, OnSuccess: okQueue})
	e.set.set("lost", registry.AsyncSettings{MaximumRetryAttempts: 0, MaximumEventAge: time.Hour, OnSuccess: gone})
	id := e.enqueue(t, "bad", `{"x":"y"}`)
	e.enqueue(t, "ok", `{"n":1}`)
	e.enqueue(t, "lost", `{"n":2}`)

	var got []sentRecord
	if err := poll.Wait(30*time.Second, func() error {
		got = tg.to(dlq)
		if len(got) == 0 || len(tg.to(topic)) == 0 || len(tg.to(okQueue)) == 0 {
			return errors.New("waiting for the three records")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if string(got[0].Body) != `{"x":"y"}` {
		t.Errorf("dead-letter body %s", got[0].Body)
	}
	want := map[string]Attribute{"RequestID": {"String", id}, "ErrorCode": {"Number", "200"}, "ErrorMessage": {"String", "boom"}}
	if fmt.Sprint(got[0].Attrs) != fmt.Sprint(want) {
		t.Errorf("dead-letter attributes %v, want %v", got[0].Attrs, want)
	}
	var r invocationRecord
	if err := json.Unmarshal(tg.to(topic)[0].Body, &r); err != nil || r.RequestContext.Condition != CondRetriesExhausted || r.RequestContext.RequestID != id {
		t.Errorf("failure record %s (%v)", tg.to(topic)[0].Body, err)
	}
	if tg.to(topic)[0].Attrs != nil {
		t.Errorf("a destination record with attributes %v", tg.to(topic)[0].Attrs)
	}
	if err := json.Unmarshal(tg.to(okQueue)[0].Body, &r); err != nil || r.RequestContext.Condition != CondSuccess {
		t.Errorf("success record %s (%v)", tg.to(okQueue)[0].Body, err)
	}
	// The refused record was tried once and dropped: the event was
	// acknowledged (the work-queue stream holds nothing of "lost") after
	// one send.
	js, err := jetstream.New(e.nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := poll.Wait(30*time.Second, func() error {
		st, err := js.Stream(t.Context(), natsd.AsyncStream)
		if err != nil {
			return err
		}
		info, err := st.Info(t.Context(), jetstream.WithSubjectFilter(natsd.AsyncSubject("lost")))
		if err != nil {
			return err
		}
		if n := info.State.Subjects[natsd.AsyncSubject("lost")]; n != 0 {
			return fmt.Errorf("%d events of lost stored", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tg.mu.Lock()
	if tg.n[gone] != 1 {
		t.Errorf("%d sends to the missing queue, want 1", tg.n[gone])
	}
	tg.mu.Unlock()
	if n := len(tg.to(topic)); n != 1 {
		t.Errorf("%d failure records after one retry", n)
	}
}

// An event whose delivery died with another process (a node of a cluster
// killed while running it) is run by a queue that never published an
// event of that function, once the ack wait hands it out again.
func TestDeliveryOfDeadQueueAdopted(t *testing.T) {
	const ackWait = 2 * time.Second
	cfg := Config{AckWait: ackWait, Scan: 100 * time.Millisecond}
	a := newEnv(t, cfg)
	taken, release := make(chan string, 1), make(chan struct{})
	t.Cleanup(func() { close(release) }) // before A closes: Close waits for attempts
	a.inv.do["f"] = func(n int, in *invoke.Input) (*invoke.Output, error) {
		taken <- in.RequestID
		<-release // the process dies while it runs the event
		return nil, errors.New("process gone")
	}
	// Queue B shares the store and has nothing of f when it starts.
	b := &env{ns: a.ns, inv: &fakeInvoker{do: map[string]func(int, *invoke.Input) (*invoke.Output, error){}}, set: a.set}
	b.open(t, cfg)

	id := a.enqueue(t, "f", `{"k":1}`)
	var got string
	select {
	case got = <-taken:
	case <-time.After(poll.Default):
		t.Fatal("queue A never ran the event")
	}
	if got != id {
		t.Fatalf("queue A ran %s, want %s", got, id)
	}
	// A dies: its connection goes, with the delivery it holds unacknowledged.
	a.nc.Close()
	eventually(t, 3*ackWait, "queue B runs the event A took", func() error {
		for _, c := range b.inv.callsOf("f") {
			if c.RequestID == id {
				return nil
			}
		}
		return fmt.Errorf("queue B made %d attempts", len(b.inv.callsOf("f")))
	})
	eventually(t, 10*time.Second, "event acknowledged", func() error {
		if d := b.q.depth(); d["f"] != 0 {
			return fmt.Errorf("%v of f's events stored", d["f"])
		}
		return nil
	})
}

// An event the consumer's ack floor has passed while the stream still holds
// it (a consumer whose state drifted from the stream after a leader change)
// is handed out again, though the drainer never goes idle long enough to
// retire (in a cluster, other nodes keep pull requests waiting).
func TestStrandedEventRestored(t *testing.T) {
	ns, err := natsd.Start(natsd.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	inv := &fakeInvoker{}
	q, err := Open(t.Context(), nc, Config{Settings: &fakeSettings{}, ARNs: testARNs, Idle: time.Hour, Scan: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Close)
	// The event of f is stored below an ack floor its consumer already
	// passed: the consumer handed out and took the acknowledgement of a
	// later message while filtering another subject.
	js, _ := jetstream.New(nc)
	b, _ := json.Marshal(envelope{RequestID: "stranded", Function: "f", Payload: json.RawMessage(`{}`), Enqueued: time.Now().UnixMilli()})
	if _, err := js.Publish(t.Context(), natsd.AsyncSubject("f"), b); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(t.Context(), natsd.AsyncSubject("other"), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	c, err := q.stream.CreateOrUpdateConsumer(t.Context(), jetstream.ConsumerConfig{
		Durable: natsd.AsyncConsumer("f"), FilterSubject: natsd.AsyncSubject("other"), AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.Fetch(1, jetstream.FetchMaxWait(poll.Default))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Start(t.Context(), inv); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the stranded event runs", func() error {
		if n := len(inv.callsOf("f")); n != 1 {
			return fmt.Errorf("%d attempts", n)
		}
		if d := q.depth(); d["f"] != 0 {
			return fmt.Errorf("%v of f's events stored", d["f"])
		}
		return nil
	})
}

// An attempt whose answer never comes (the node running it died) is
// retried once it has run for AttemptTimeout.
func TestHungAttemptRetried(t *testing.T) {
	e := newEnv(t, Config{AttemptTimeout: 200 * time.Millisecond})
	e.inv.mu.Lock()
	e.inv.hang = map[string]int{"f": 1}
	e.inv.mu.Unlock()
	e.enqueue(t, "f", `{}`)
	e.waitCalls(t, "f", 2)
}

// An attempt sent to a node that died with it runs again once the
// invoker's own bound (the function's timeout and a margin) has passed,
// not only after AttemptTimeout: the queue leaves that bound to the
// invoker rather than imposing its far longer one as the deadline.
func TestAttemptOnDeadNodeRetriedWithinInvokerBound(t *testing.T) {
	e := newEnv(t, Config{}) // AttemptTimeout: the default, 17 minutes
	e.inv.mu.Lock()
	e.inv.died = map[string]int{"f": 2}
	e.inv.mu.Unlock()
	e.enqueue(t, "f", `{}`)
	e.waitCalls(t, "f", 3)
}

// An attempt whose answer never comes, whatever step of the invoker waits
// for it, is cancelled and retried once its function's timeout and a
// margin have passed, not only after AttemptTimeout.
func TestHungAttemptRetriedAfterFunctionTimeout(t *testing.T) {
	e := newEnv(t, Config{}) // AttemptTimeout: the default, 17 minutes
	e.q.margin = 100 * time.Millisecond
	e.set.mu.Lock()
	e.set.timeout = map[string]int{"f": 1}
	e.set.mu.Unlock()
	e.inv.mu.Lock()
	e.inv.hang = map[string]int{"f": 1}
	e.inv.mu.Unlock()
	e.enqueue(t, "f", `{}`)
	e.waitCalls(t, "f", 2)
}

// The registry offers the function timeouts an attempt is bounded by.
var _ timeouts = (*registry.Registry)(nil)
