package forward

import (
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/placement"
	"github.com/kumo-run/kumo/internal/worker"
	"github.com/nats-io/nats.go"
)

// What nodes tell each other. Each node sends a report of itself on
// natsd.NodeStateSubject when it changes (checked every reportEvery) and
// at least every heartbeatEvery; a node not heard for peerTTL is gone.
// Reports are soft state: kept in memory only, rebuilt from the peers'
// next reports after a restart, and only ever used as hints.
const (
	reportEvery    = 100 * time.Millisecond
	heartbeatEvery = time.Second
	peerTTL        = 5 * time.Second
	// maxIdleVersions bounds the versions one report lists.
	maxIdleVersions = 4096
	// idleLinger is how long a version stays in the reports after its
	// sandboxes were last seen idle: a sandbox busy for the few
	// milliseconds of a warm invocation when the worker is asked is still
	// the warm one to send the next invocation to; one busy throughout is
	// dropped (a forwarded invocation that finds none idle starts one
	// there).
	idleLinger = time.Second
)

// lingering keeps the versions seen idle within idleLinger.
type lingering map[string]seen

type seen struct {
	n  int
	at time.Time
}

// update merges the idle counts sampled at now and returns what to
// report: for each version, its count when last seen idle, if within
// idleLinger.
func (l lingering) update(idle map[string]int, now time.Time) map[string]int {
	for k, n := range idle {
		l[k] = seen{n: n, at: now}
	}
	var out map[string]int
	for k, s := range l {
		if now.Sub(s.at) > idleLinger {
			delete(l, k)
			continue
		}
		if out == nil {
			out = make(map[string]int, len(l))
		}
		out[k] = s.n
	}
	return out
}

// report is what a node tells the others of itself.
type report struct {
	Node     string         `json:"node"`
	Zone     string         `json:"zone,omitempty"`
	BudgetMB int            `json:"budgetMB,omitempty"`
	UsedMB   int            `json:"usedMB,omitempty"`
	Idle     map[string]int `json:"idle,omitempty"` // idle sandboxes by version key
	// Prov is the node's provisioned-concurrency pools, by configuration.
	Prov map[string]worker.PoolState `json:"prov,omitempty"`
}

func (p *report) node(key string) placement.Node {
	return placement.Node{ID: p.Node, Idle: p.Idle[key], UsedMB: p.UsedMB, BudgetMB: p.BudgetMB}
}

func (p *report) equal(q *report) bool {
	return p.Node == q.Node && p.Zone == q.Zone && p.BudgetMB == q.BudgetMB && p.UsedMB == q.UsedMB &&
		maps.Equal(p.Idle, q.Idle) && maps.Equal(p.Prov, q.Prov)
}

// heard is a peer's last report and when it came.
type heard struct {
	rep *report
	at  time.Time
}

// view is the cluster as this node last heard it; immutable once stored.
type view struct {
	// members are the live nodes' ids, this one's included, sorted: what
	// the concurrency shares are computed over.
	members []string
	// zones are the live nodes with their zones, for provisioned
	// concurrency's shares.
	zones []placement.Member
	// peers are the other live nodes' reports, by id.
	peers []*report
	// self is this node's last report.
	self report
}

// nodes appends the peers as placement sees them for key.
func (v *view) nodes(key string, buf []placement.Node) []placement.Node {
	for _, p := range v.peers {
		buf = append(buf, p.node(key))
	}
	return buf
}

// pools is a Local that keeps provisioned-concurrency pools: the worker.
type pools interface {
	ProvisionedPools() map[string]worker.PoolState
}

// startReports subscribes to the others' reports, asks for them, and
// starts sending this node's.
func (r *Runner) startReports() error {
	s, err := r.nc.Subscribe(natsd.NodeStateSubject, r.heardReport)
	if err != nil {
		return err
	}
	r.subs = append(r.subs, s)
	inbox := r.nc.NewRespInbox()
	s2, err := r.nc.Subscribe(inbox, r.heardReport)
	if err != nil {
		return err
	}
	r.subs = append(r.subs, s2)
	// Ask every node for its report with this node's first one.
	rep := r.ownReport(nil, r.now())
	r.vmu.Lock()
	r.sent = rep
	r.rebuildLocked()
	r.vmu.Unlock()
	if data, err := json.Marshal(&rep); err == nil {
		if err := r.nc.PublishRequest(natsd.NodeStateSubject, inbox, data); err != nil {
			r.log.Warn("cluster: sending this node's report", "err", err)
		}
	}
	r.done.Add(1)
	go r.reportLoop()
	return nil
}

// ownReport is this node's report now; linger, if set, keeps versions
// seen idle lately.
func (r *Runner) ownReport(linger lingering, now time.Time) report {
	rep := report{Node: r.node, Zone: r.zone}
	if p, ok := r.local.(pools); ok {
		if rep.Prov = p.ProvisionedPools(); len(rep.Prov) == 0 {
			rep.Prov = nil
		}
	}
	if r.rep != nil {
		rep.BudgetMB, rep.UsedMB, rep.Idle = r.rep.MemoryBudgetMB(), r.rep.MemoryUsedMB(), r.rep.IdleVersions(maxIdleVersions)
		if linger != nil {
			rep.Idle = linger.update(rep.Idle, now)
		}
		if len(rep.Idle) == 0 {
			rep.Idle = nil
		}
	}
	return rep
}

// reportLoop sends this node's report when it changed, and as a
// heartbeat; and forgets the peers gone silent.
func (r *Runner) reportLoop() {
	defer r.done.Done()
	t := time.NewTicker(reportEvery)
	defer t.Stop()
	last := r.now()
	linger := lingering{}
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		now := r.now()
		rep := r.ownReport(linger, now)
		r.vmu.Lock()
		changed := !rep.equal(&r.sent)
		beat := now.Sub(last) >= heartbeatEvery
		if changed {
			r.sent = rep
		}
		r.rebuildLocked()
		r.vmu.Unlock()
		if !changed && !beat {
			continue
		}
		last = now
		data, err := json.Marshal(&rep)
		if err != nil {
			continue
		}
		if err := r.nc.Publish(natsd.NodeStateSubject, data); err != nil {
			r.log.Debug("cluster: sending this node's report", "err", err)
		}
	}
}

// heardReport keeps a peer's report, and answers one that asks for this
// node's.
func (r *Runner) heardReport(m *nats.Msg) {
	var rep report
	if err := json.Unmarshal(m.Data, &rep); err != nil || rep.Node == "" {
		return
	}
	r.vmu.Lock()
	if rep.Node != r.node {
		r.heard[rep.Node] = heard{rep: &rep, at: r.now()}
		r.rebuildLocked()
	}
	own := r.sent
	r.vmu.Unlock()
	if m.Reply != "" && rep.Node != r.node {
		if data, err := json.Marshal(&own); err == nil {
			m.Respond(data)
		}
	}
}

// rebuildLocked stores a new view from the reports heard, forgetting
// peers silent for peerTTL. Under vmu.
func (r *Runner) rebuildLocked() {
	now := r.now()
	v := &view{members: []string{r.node}, zones: []placement.Member{{ID: r.node, Zone: r.zone}}, self: r.sent}
	for id, h := range r.heard {
		if now.Sub(h.at) > peerTTL {
			delete(r.heard, id)
			continue
		}
		v.members = append(v.members, id)
		v.zones = append(v.zones, placement.Member{ID: id, Zone: h.rep.Zone})
		v.peers = append(v.peers, h.rep)
	}
	slices.Sort(v.members)
	slices.SortFunc(v.peers, func(a, b *report) int {
		switch {
		case a.Node < b.Node:
			return -1
		case a.Node > b.Node:
			return 1
		}
		return 0
	})
	r.view.Store(v)
}

// limits counts the invocations running on this node against its share
// of each concurrency limit (placement.Share over the live members): a
// function's reserved concurrency, or the account's unreserved pool.
// Safe for concurrent use.
type limits struct {
	mu         sync.Mutex
	unreserved int
	running    map[string]int // by function, reserved ones only
}

// unlimited reports whether spec carries no limits to count.
func unlimited(spec *worker.Spec) bool {
	return spec.ReservedConcurrency == nil && spec.UnreservedConcurrency <= 0
}

// share is node's share of the limit spec's invocation counts against.
func share(spec *worker.Spec, members []string, node string) int {
	if spec.ReservedConcurrency != nil {
		return placement.Share(*spec.ReservedConcurrency, spec.FunctionName, members, node)
	}
	return placement.Share(spec.UnreservedConcurrency, "", members, node)
}

// hasShare reports whether node has any share of spec's limit.
func (l *limits) hasShare(spec *worker.Spec, members []string, node string) bool {
	return unlimited(spec) || share(spec, members, node) > 0
}

// acquire takes a slot of this node's share for one invocation of spec;
// release gives it back and must be called exactly once.
func (l *limits) acquire(spec *worker.Spec, members []string, node string) (release func(), ok bool) {
	if unlimited(spec) {
		return func() {}, true
	}
	n := share(spec, members, node)
	fn := spec.FunctionName
	l.mu.Lock()
	defer l.mu.Unlock()
	if spec.ReservedConcurrency != nil {
		if l.running[fn] >= n {
			return nil, false
		}
		if l.running == nil {
			l.running = map[string]int{}
		}
		l.running[fn]++
		var once sync.Once
		return func() {
			once.Do(func() {
				l.mu.Lock()
				defer l.mu.Unlock()
				if l.running[fn] <= 1 {
					delete(l.running, fn)
				} else {
					l.running[fn]--
				}
			})
		}, true
	}
	if l.unreserved >= n {
		return nil, false
	}
	l.unreserved++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.unreserved--
		})
	}, true
}

// stats counts where this node's invocations ran.
type stats struct {
	here     atomic.Int64 // on this node
	warm     atomic.Int64 // sent to a node reporting an idle sandbox
	load     atomic.Int64 // sent to a less loaded node
	capacity atomic.Int64 // sent on because this node had no room
	limit    atomic.Int64 // sent on because this node's share was taken
	served   atomic.Int64 // sent here by another node
}

func (s *stats) count(why placement.Reason) {
	switch why {
	case placement.Warm:
		s.warm.Add(1)
	case placement.Load:
		s.load.Add(1)
	default:
		s.here.Add(1)
	}
}

// Stats are a Runner's counts since it started.
type Stats struct {
	// Here ran on this node; Warm, Load, Capacity and Limit were
	// forwarded (to an idle sandbox, to a less loaded node, because this
	// node had no room, because its share of a limit was taken); Served
	// were forwarded here by other nodes.
	Here, Warm, Load, Capacity, Limit, Served int64
	// Peers is the number of other live nodes; PeerIdle the idle
	// sandboxes they last reported.
	Peers, PeerIdle int
}

// Stats returns the counts and what the node knows of the others.
func (r *Runner) Stats() Stats {
	v := r.view.Load()
	s := Stats{Here: r.stats.here.Load(), Warm: r.stats.warm.Load(), Load: r.stats.load.Load(),
		Capacity: r.stats.capacity.Load(), Limit: r.stats.limit.Load(), Served: r.stats.served.Load(), Peers: len(v.peers)}
	for _, p := range v.peers {
		for _, n := range p.Idle {
			s.PeerIdle += n
		}
	}
	return s
}
