package worker

import (
	"context"
	"slices"
	"time"

	"github.com/kumo-run/kumo/internal/sandbox"
)

// Provisioned concurrency: for each configuration pushed with
// SetProvisioned, the worker keeps that many sandboxes of the target
// version initialized ahead of time
// (AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency). They live in
// their pool, not in the idle pool, so the reaper and the memory budget's
// eviction never take them; takeIdleLocked prefers them for their version
// key. A sandbox that breaks is replaced; the pool's sandboxes are retired
// when its configuration is gone or names another version.
//
// Pool state is guarded by Worker.mu.

// ProvisionedTarget is one provisioned-concurrency configuration: Want
// sandboxes of Spec kept initialized.
type ProvisionedTarget struct {
	// ID names the configuration: function:qualifier.
	ID string
	// Spec is the version kept warm; its Provisioned is true.
	Spec *Spec
	Want int
	// Settled: the configuration's status needs no more reports (it is
	// READY).
	Settled bool
}

// ProvisionedReporter is told, for each configuration not Settled, how
// many of its sandboxes are ready and why the last start failed ("" when
// it did not). Calls come from the worker's reconciler, one at a time,
// about once a second per unsettled configuration and after each push.
type ProvisionedReporter interface {
	ReportProvisioned(ctx context.Context, id string, allocated int, failure string) error
}

const (
	provisionedTick       = time.Second
	provisionedMaxBackoff = 30 * time.Second
)

// provPools is the worker's provisioned state.
type provPools struct {
	targets []ProvisionedTarget  // as last pushed
	byID    map[string]*provPool // by configuration (function:qualifier)
	member  map[string]*provPool // by sandbox id
	kick    chan struct{}        // a push happened; buffered 1
}

// provPool is the sandboxes of one configuration.
type provPool struct {
	id   string
	key  string
	spec *Spec
	want int
	// ready are the pool's initialized sandboxes, idle or busy; idle
	// those waiting for an invocation, the most recently used last.
	ready    map[string]*instance
	idle     []*instance
	starting int
	failure  string
	backoff  time.Duration
	retryAt  time.Time
	closed   bool
}

// SetProvisioned replaces the provisioned-concurrency configurations the
// worker keeps: pools follow them at once, in the background. Call it with
// every configuration whenever one changes (from the registry's watch).
// targets must not be modified afterwards.
func (w *Worker) SetProvisioned(targets []ProvisionedTarget) {
	w.mu.Lock()
	w.prov.targets = targets
	w.mu.Unlock()
	w.kickProvisioned()
}

// kickProvisioned asks the reconciler for a pass soon.
func (w *Worker) kickProvisioned() {
	select {
	case w.prov.kick <- struct{}{}:
	default:
	}
}

func (w *Worker) provLocked() *provPools {
	if w.prov.byID == nil {
		w.prov.byID, w.prov.member = map[string]*provPool{}, map[string]*provPool{}
	}
	return &w.prov
}

// provIdleLocked counts the idle provisioned sandboxes of key.
func (w *Worker) provIdleLocked(key string) int {
	n := 0
	for _, p := range w.prov.byID {
		if p.key == key && !p.closed {
			n += len(p.idle)
		}
	}
	return n
}

// takeProvisionedLocked takes an idle provisioned sandbox of key, marking
// it busy, or returns nil.
func (w *Worker) takeProvisionedLocked(key string) *instance {
	for _, p := range w.prov.byID {
		if p.key != key || p.closed {
			continue
		}
		for len(p.idle) > 0 {
			in := p.idle[len(p.idle)-1]
			p.idle[len(p.idle)-1] = nil
			p.idle = p.idle[:len(p.idle)-1]
			if isClosed(in.exited) {
				if w.retireLocked(in) {
					go w.teardown(in, "provisioned runtime exited while idle")
				}
				continue
			}
			if in.credsStale(w.cfg.Now()) {
				if w.retireLocked(in) {
					go w.teardown(in, "role credentials expiring")
				}
				continue
			}
			if in.life.To(sandbox.Busy) == nil {
				return in
			}
		}
	}
	return nil
}

// releaseProvisionedLocked takes back a healthy sandbox that belongs to a
// pool; it reports false for sandboxes of no pool. A sandbox its pool no
// longer wants is retired.
func (w *Worker) releaseProvisionedLocked(in *instance) bool {
	p := w.prov.member[in.id]
	if p == nil {
		return false
	}
	if p.closed || p.key != in.key || len(p.ready) > p.want {
		if w.retireLocked(in) {
			go w.teardown(in, "provisioned concurrency lowered")
		}
		return true
	}
	p.idle = append(p.idle, in)
	return true
}

// dropProvisionedLocked forgets a sandbox in its pool, and has the
// reconciler replace it if the pool still wants it.
func (w *Worker) dropProvisionedLocked(in *instance) {
	p := w.prov.member[in.id]
	if p == nil {
		return
	}
	w.kickProvisioned()
	delete(w.prov.member, in.id)
	delete(p.ready, in.id)
	for i, x := range p.idle {
		if x == in {
			p.idle = append(p.idle[:i:i], p.idle[i+1:]...)
			break
		}
	}
}

// closePoolLocked releases a pool: idle sandboxes are retired, busy ones
// when their invocation ends.
func (w *Worker) closePoolLocked(p *provPool, retire func(*instance)) {
	p.closed = true
	delete(w.prov.byID, p.id)
	for _, in := range append([]*instance(nil), p.idle...) {
		retire(in)
	}
	p.idle = nil
}

// provisioner reconciles the pools with the pushed targets after each push
// and every provisionedTick (to replace broken sandboxes and retry failed
// starts), until Close.
func (w *Worker) provisioner() {
	defer w.done.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // aborts provisioned starts still running
	t := time.NewTicker(provisionedTick)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-w.prov.kick:
		case <-t.C:
		}
		w.reconcileProvisioned(ctx)
	}
}

// poolStatus is what one reconciliation found for a target.
type poolStatus struct {
	id        string
	allocated int
	failure   string
}

// reconcileProvisioned is one pass: pools follow the targets, dead
// sandboxes are dropped, missing ones started, and the reporter told what
// is allocated.
func (w *Worker) reconcileProvisioned(ctx context.Context) {
	var retired []*instance
	var launch []*provPool
	var status []poolStatus
	now := w.cfg.Now()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	retire := func(in *instance) {
		w.dropProvisionedLocked(in)
		if w.retireLocked(in) {
			retired = append(retired, in)
		}
	}
	pp := w.provLocked()
	targets := pp.targets
	seen := make(map[string]bool, len(targets))
	for _, t := range targets {
		seen[t.ID] = true
		p := pp.byID[t.ID]
		if p != nil && p.key != t.Spec.Key {
			w.closePoolLocked(p, retire)
			p = nil
		}
		if p == nil {
			p = &provPool{id: t.ID, key: t.Spec.Key, spec: t.Spec, ready: map[string]*instance{}}
			pp.byID[t.ID] = p
		}
		p.want = t.Want
		for _, in := range p.ready {
			if s, _ := in.life.State(); s == sandbox.Broken || s == sandbox.Destroyed || isClosed(in.exited) {
				retire(in)
			}
		}
		for _, in := range slices.Clone(p.idle) {
			if in.credsStale(now) {
				retire(in) // renewed: started again below
			}
		}
		for len(p.ready) > p.want && len(p.idle) > 0 {
			retire(p.idle[0])
		}
		if missing := p.want - len(p.ready) - p.starting; missing > 0 && !now.Before(p.retryAt) {
			for range missing {
				p.starting++
				launch = append(launch, p)
			}
		}
		if !t.Settled {
			status = append(status, poolStatus{id: t.ID, allocated: min(len(p.ready), p.want), failure: p.failure})
		}
	}
	for id, p := range pp.byID {
		if !seen[id] {
			w.closePoolLocked(p, retire)
		}
	}
	// Counted here, under mu while open; startProvisioned ends it.
	w.done.Add(len(launch))
	w.mu.Unlock()
	for _, in := range retired {
		go w.teardown(in, "provisioned concurrency changed")
	}
	for _, p := range launch {
		go w.startProvisioned(ctx, p)
	}
	if w.cfg.Provisioned == nil {
		return
	}
	for _, s := range status {
		if err := w.cfg.Provisioned.ReportProvisioned(ctx, s.id, s.allocated, s.failure); err != nil && ctx.Err() == nil {
			w.log.Warn("worker: recording provisioned concurrency status", "config", s.id, "err", err)
		}
	}
}

// startProvisioned starts one sandbox for a pool and runs its init phase.
func (w *Worker) startProvisioned(ctx context.Context, p *provPool) {
	defer w.done.Done()
	var in *instance
	var out *Outcome
	g, err := w.reserve(p.spec)
	if err == nil {
		in, out, err = w.start(ctx, p.spec, "", g)
	}
	failure := ""
	switch {
	case err != nil:
		failure = "Provisioned Concurrency could not be allocated: " + err.Error()
	case out != nil:
		failure = "FUNCTION_ERROR_INIT_FAILURE: " + out.ErrorType
	}
	defer w.kickProvisioned() // report it, or retry when due
	w.mu.Lock()
	defer w.mu.Unlock()
	p.starting--
	if failure != "" {
		p.failure = failure
		p.backoff = min(max(2*p.backoff, time.Second), provisionedMaxBackoff)
		p.retryAt = w.cfg.Now().Add(p.backoff)
		w.log.Warn("worker: starting a provisioned sandbox", "config", p.id, "reason", failure)
		return
	}
	if p.closed || w.closed || len(p.ready) >= p.want || in.life.To(sandbox.Idle) != nil {
		if w.retireLocked(in) {
			go w.teardown(in, "provisioned sandbox no longer wanted")
		}
		return
	}
	in.lastUsed = w.cfg.Now()
	p.failure, p.backoff = "", 0
	p.ready[in.id] = in
	p.idle = append(p.idle, in)
	w.prov.member[in.id] = p
}

// PoolState is what a provisioned-concurrency pool holds: its ready
// sandboxes and why its last start failed ("" when it did not).
type PoolState struct {
	Ready   int    `json:"ready,omitempty"`
	Failure string `json:"failure,omitempty"`
}

// ProvisionedPools reports each configuration's pool on this node, by
// configuration id: what a cluster node tells the others, so that the
// status of a configuration spread over the nodes counts them all.
func (w *Worker) ProvisionedPools() map[string]PoolState {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]PoolState, len(w.prov.byID))
	for id, p := range w.prov.byID {
		if !p.closed {
			out[id] = PoolState{Ready: min(len(p.ready), p.want), Failure: p.failure}
		}
	}
	return out
}
