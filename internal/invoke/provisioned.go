package invoke

import (
	"context"
	"sync"

	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/worker"
)

// ProvisionedSource is the registry as provisioned concurrency uses it.
type ProvisionedSource interface {
	ProvisionedTargets() []registry.ProvisionedTarget
	SetProvisionedStatus(ctx context.Context, t registry.ProvisionedTarget, allocated int, reason string) error
}

// ProvisionedSink keeps provisioned sandboxes: the worker's SetProvisioned.
type ProvisionedSink interface {
	SetProvisioned(targets []worker.ProvisionedTarget)
}

// Provisioned hands the worker the provisioned-concurrency configurations
// as worker targets, built from the registry's view whenever it changes
// (Sync, from the registry's watch), and records in the registry what the
// worker allocated (it is the worker's ProvisionedReporter). The worker
// never sees the registry. Safe for concurrent use.
type Provisioned struct {
	src ProvisionedSource

	mu   sync.Mutex
	dst  ProvisionedSink
	byID map[string]registry.ProvisionedTarget // as last pushed
}

var _ worker.ProvisionedReporter = (*Provisioned)(nil)

// NewProvisioned returns a bridge from src; Attach names the worker.
func NewProvisioned(src ProvisionedSource) *Provisioned {
	return &Provisioned{src: src, byID: map[string]registry.ProvisionedTarget{}}
}

// Attach sets the sink Sync pushes to and pushes the current targets.
func (p *Provisioned) Attach(dst ProvisionedSink) {
	p.mu.Lock()
	p.dst = dst
	p.mu.Unlock()
	p.Sync()
}

// Sync pushes every current configuration to the worker. Call it after
// each change of the registry's view; pushes are serialized, so the last
// call's view wins.
func (p *Provisioned) Sync() {
	ts := p.src.ProvisionedTargets()
	out := make([]worker.ProvisionedTarget, len(ts))
	byID := make(map[string]registry.ProvisionedTarget, len(ts))
	for i, t := range ts {
		s := Spec(t.Key, &t.Version)
		s.Provisioned = true
		out[i] = worker.ProvisionedTarget{ID: t.ID(), Spec: s, Want: t.Config.Requested,
			Settled: t.Config.Status == registry.ProvisionedReady}
		byID[t.ID()] = t
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byID = byID
	if p.dst != nil {
		p.dst.SetProvisioned(out)
	}
}

// ReportProvisioned records the worker's allocation for a configuration,
// as of the view it was pushed from; a configuration replaced or deleted
// since is left alone.
func (p *Provisioned) ReportProvisioned(ctx context.Context, id string, allocated int, failure string) error {
	p.mu.Lock()
	t, ok := p.byID[id]
	p.mu.Unlock()
	if !ok {
		return nil
	}
	return p.src.SetProvisionedStatus(ctx, t, allocated, failure)
}
