package forward

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/placement"
	"github.com/kumo-run/kumo/internal/worker"
)

// Provisioned concurrency across a cluster: each node keeps its share of
// every configuration's count (placement.ZoneShare over the live nodes,
// zones in turn), not the whole count, and the configuration's status
// counts the ready sandboxes of every node, as their reports last gave
// them. Shares follow membership: when a node joins or is gone the others'
// pools grow or shrink within a second or so. Warm affinity then sends an
// invocation of the version to a node holding an idle one.

// ProvisionedSink keeps provisioned sandboxes: the worker's SetProvisioned.
type ProvisionedSink interface {
	SetProvisioned(targets []worker.ProvisionedTarget)
}

// provStatusEvery is how often the status of unsettled configurations is
// recorded.
const provStatusEvery = time.Second

// Provisioned returns the sink to push provisioned-concurrency
// configurations to instead of sink (the worker): it hands sink this
// node's share of each, and records each unsettled configuration's status
// through status with the ready sandboxes of every node. The worker then
// reports nothing itself (its targets are marked settled). It stops with
// the Runner.
func (r *Runner) Provisioned(sink ProvisionedSink, status worker.ProvisionedReporter) ProvisionedSink {
	p := &provShare{r: r, sink: sink, status: status}
	r.done.Add(1)
	go p.loop()
	return p
}

// provShare is the sink Provisioned returns. Safe for concurrent use.
type provShare struct {
	r      *Runner
	sink   ProvisionedSink
	status worker.ProvisionedReporter

	mu      sync.Mutex
	targets []worker.ProvisionedTarget // as last pushed, whole counts
	pushed  string                     // the membership of the last push
}

// SetProvisioned keeps targets and pushes this node's shares of them.
func (p *provShare) SetProvisioned(targets []worker.ProvisionedTarget) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.targets = targets
	p.pushLocked(p.r.view.Load())
}

// pushLocked hands the sink this node's share of every target under v's
// membership. Under mu.
func (p *provShare) pushLocked(v *view) {
	out := make([]worker.ProvisionedTarget, len(p.targets))
	for i, t := range p.targets {
		t.Want = placement.ZoneShare(t.Want, t.ID, v.zones, p.r.node)
		t.Settled = true // the status is recorded here, for the cluster
		out[i] = t
	}
	p.pushed = membership(v)
	p.sink.SetProvisioned(out)
}

// membership is v's live nodes and zones as one comparable string.
func membership(v *view) string {
	ms := slices.Clone(v.zones)
	slices.SortFunc(ms, func(a, b placement.Member) int { return strings.Compare(a.ID, b.ID) })
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.ID + "@" + m.Zone + ",")
	}
	return b.String()
}

// loop pushes the shares again when the membership changed, and records
// the status of the configurations not yet settled.
func (p *provShare) loop() {
	defer p.r.done.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-p.r.stop
		cancel()
	}()
	t := time.NewTicker(provStatusEvery)
	defer t.Stop()
	for {
		select {
		case <-p.r.stop:
			return
		case <-t.C:
		}
		v := p.r.view.Load()
		p.mu.Lock()
		if membership(v) != p.pushed && p.targets != nil {
			p.pushLocked(v)
		}
		targets := p.targets
		p.mu.Unlock()
		if p.status == nil {
			continue
		}
		own := map[string]worker.PoolState{}
		if l, ok := p.r.local.(pools); ok {
			own = l.ProvisionedPools()
		}
		for _, t := range targets {
			if t.Settled {
				continue
			}
			ready, failure := clusterPool(t.ID, own, v)
			if err := p.status.ReportProvisioned(ctx, t.ID, min(ready, t.Want), failure); err != nil && ctx.Err() == nil {
				p.r.log.Warn("cluster: recording provisioned concurrency status", "config", t.ID, "err", err)
			}
		}
	}
}

// clusterPool sums a configuration's ready sandboxes over this node (own)
// and the live peers, and gives a failure any of them reported.
func clusterPool(id string, own map[string]worker.PoolState, v *view) (ready int, failure string) {
	s := own[id]
	ready, failure = s.Ready, s.Failure
	for _, peer := range v.peers {
		ps := peer.Prov[id]
		ready += ps.Ready
		if failure == "" {
			failure = ps.Failure
		}
	}
	return ready, failure
}
