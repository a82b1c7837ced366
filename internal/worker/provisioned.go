package worker

import (
	"context"
	"time"

	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/sandbox"
)

// Provisioned concurrency: for each configuration the registry holds, the
// worker keeps that many sandboxes of the target version initialized ahead
// of time (AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency). They
// live in their pool, not in the idle pool, so the reaper and the memory
// budget's eviction never take them; acquire prefers them for their version
// key. A sandbox that breaks is replaced; the pool's sandboxes are destroyed
// when its configuration is deleted or names another version.
//
// Pool state is guarded by Worker.mu.

// ProvisionedSource is the registry as the reconciler uses it.
type ProvisionedSource interface {
	ProvisionedTargets() []registry.ProvisionedTarget
	SetProvisionedStatus(ctx context.Context, t registry.ProvisionedTarget, allocated int, reason string) error
}

const (
	provisionedTick       = time.Second
	provisionedMaxBackoff = 30 * time.Second
)

// provPools is the worker's provisioned state.
type provPools struct {
	byID   map[string]*provPool // by configuration (function:qualifier)
	member map[string]*provPool // by sandbox id
}

// provPool is the sandboxes of one configuration.
type provPool struct {
	id   string
	key  string
	fn   Function
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

func (w *Worker) provLocked() *provPools {
	if w.prov.byID == nil {
		w.prov = provPools{byID: map[string]*provPool{}, member: map[string]*provPool{}}
	}
	return &w.prov
}

// initializationType is AWS_LAMBDA_INITIALIZATION_TYPE for a sandbox of fn.
func (fn *Function) initializationType() string {
	if fn.provisioned {
		return "provisioned-concurrency"
	}
	return "on-demand"
}

// acquireProvisionedLocked takes an idle provisioned sandbox of key, marking
// it busy, or returns nil.
func (w *Worker) acquireProvisionedLocked(key string) *instance {
	if w.prov.byID == nil {
		return nil
	}
	for _, p := range w.prov.byID {
		if p.key != key || p.closed {
			continue
		}
		for len(p.idle) > 0 {
			in := p.idle[len(p.idle)-1]
			p.idle[len(p.idle)-1] = nil
			p.idle = p.idle[:len(p.idle)-1]
			if isClosed(in.exited) {
				w.dropProvisionedLocked(in)
				in.life.To(sandbox.Broken)
				go w.destroy(in)
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
// pool; it reports false for sandboxes of no pool. A sandbox of a closed
// pool is destroyed.
func (w *Worker) releaseProvisionedLocked(in *instance) bool {
	p := w.prov.member[in.id]
	if p == nil {
		return false
	}
	if p.closed || p.key != in.key || len(p.ready) > p.want {
		w.dropProvisionedLocked(in)
		in.life.To(sandbox.Broken)
		go w.destroy(in)
		return true
	}
	p.idle = append(p.idle, in)
	return true
}

// dropProvisionedLocked forgets a sandbox in its pool.
func (w *Worker) dropProvisionedLocked(in *instance) {
	p := w.prov.member[in.id]
	if p == nil {
		return
	}
	delete(w.prov.member, in.id)
	delete(p.ready, in.id)
	for i, x := range p.idle {
		if x == in {
			p.idle = append(p.idle[:i:i], p.idle[i+1:]...)
			break
		}
	}
}

// closePoolLocked releases a pool: idle sandboxes are returned for
// destruction, busy ones are destroyed when their invocation ends.
func (w *Worker) closePoolLocked(p *provPool) []*instance {
	p.closed = true
	delete(w.prov.byID, p.id)
	out := p.idle
	for _, in := range out {
		w.dropProvisionedLocked(in)
	}
	p.idle = nil
	return out
}

// StartProvisioned starts the reconciler that keeps the worker's provisioned
// sandboxes in line with src, once now and then every second, until Close.
// Call it at most once.
func (w *Worker) StartProvisioned(src ProvisionedSource) {
	ctx, cancel := context.WithCancel(context.Background())
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		defer cancel()
		t := time.NewTicker(provisionedTick)
		defer t.Stop()
		for {
			w.reconcileProvisioned(ctx, src)
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
}

// poolStatus is what one reconciliation found for a target.
type poolStatus struct {
	target    registry.ProvisionedTarget
	allocated int
	failure   string
}

// reconcileProvisioned is one pass: pools follow the targets, dead
// sandboxes are dropped, missing ones started, and the registry told what
// is allocated.
func (w *Worker) reconcileProvisioned(ctx context.Context, src ProvisionedSource) {
	targets := src.ProvisionedTargets()
	var retire []*instance
	var launch []*provPool
	var status []poolStatus
	now := time.Now()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	pp := w.provLocked()
	seen := make(map[string]bool, len(targets))
	for _, t := range targets {
		id := t.ID()
		seen[id] = true
		p := pp.byID[id]
		if p != nil && p.key != t.Key {
			retire = append(retire, w.closePoolLocked(p)...)
			p = nil
		}
		if p == nil {
			v := t.Version
			p = &provPool{id: id, key: t.Key, ready: map[string]*instance{},
				fn: Function{Key: t.Key, Config: &v.Config, Blob: v.Code.Blob, provisioned: true}}
			pp.byID[id] = p
		}
		p.want = t.Config.Requested
		for _, in := range p.ready {
			if s, _ := in.life.State(); s == sandbox.Broken || s == sandbox.Destroyed || isClosed(in.exited) {
				w.dropProvisionedLocked(in)
				if s != sandbox.Destroyed {
					retire = append(retire, in)
				}
			}
		}
		for len(p.ready) > p.want && len(p.idle) > 0 {
			in := p.idle[0]
			w.dropProvisionedLocked(in)
			retire = append(retire, in)
		}
		if missing := p.want - len(p.ready) - p.starting; missing > 0 && !now.Before(p.retryAt) {
			for range missing {
				p.starting++
				launch = append(launch, p)
			}
		}
		status = append(status, poolStatus{target: t, allocated: min(len(p.ready), p.want), failure: p.failure})
	}
	for id, p := range pp.byID {
		if !seen[id] {
			retire = append(retire, w.closePoolLocked(p)...)
		}
	}
	w.mu.Unlock()
	for _, in := range retire {
		in.life.To(sandbox.Broken)
		go w.destroy(in)
	}
	for _, p := range launch {
		w.done.Add(1)
		go func() {
			defer w.done.Done()
			w.startProvisioned(ctx, p)
		}()
	}
	for _, s := range status {
		if s.target.Config.Status == registry.ProvisionedReady {
			continue
		}
		if err := src.SetProvisionedStatus(ctx, s.target, s.allocated, s.failure); err != nil && ctx.Err() == nil {
			w.log.Warn("worker: recording provisioned concurrency status", "config", s.target.ID(), "err", err)
		}
	}
}

// startProvisioned starts one sandbox for a pool and runs its init phase.
func (w *Worker) startProvisioned(ctx context.Context, p *provPool) {
	fn := p.fn
	in, out, err := w.start(ctx, &fn, "")
	failure := ""
	switch {
	case err != nil:
		failure = "Provisioned Concurrency could not be allocated: " + err.Error()
	case out != nil:
		failure = "FUNCTION_ERROR_INIT_FAILURE: " + out.ErrorType
	}
	w.mu.Lock()
	p.starting--
	if failure != "" {
		p.failure = failure
		p.backoff = min(max(2*p.backoff, time.Second), provisionedMaxBackoff)
		p.retryAt = time.Now().Add(p.backoff)
		w.mu.Unlock()
		w.log.Warn("worker: starting a provisioned sandbox", "config", p.id, "reason", failure)
		return
	}
	if p.closed || w.closed || len(p.ready) >= p.want {
		w.mu.Unlock()
		in.life.To(sandbox.Broken)
		w.destroy(in)
		return
	}
	if err := in.life.To(sandbox.Idle); err != nil {
		w.mu.Unlock()
		in.life.To(sandbox.Broken)
		w.destroy(in)
		return
	}
	in.lastUsed = time.Now()
	p.failure, p.backoff = "", 0
	p.ready[in.id] = in
	p.idle = append(p.idle, in)
	w.prov.member[in.id] = p
	w.mu.Unlock()
}
