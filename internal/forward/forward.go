package forward

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/placement"
	"github.com/kumo-run/kumo/internal/worker"
	"github.com/nats-io/nats.go"
)

// Local runs invocations on this node: the worker.
type Local interface {
	Invoke(ctx context.Context, spec *worker.Spec, req *worker.Request) (*worker.Outcome, error)
}

// Reporter is what this node tells the others of itself: the worker. A
// Local that is not a Reporter reports no budget (the others never choose
// it for its load or warm sandboxes, only when they are full).
type Reporter interface {
	IdleVersions(max int) map[string]int
	MemoryUsedMB() int
	MemoryBudgetMB() int
}

// Runner is an invoke.Runner that places invocations across the cluster
// and counts this node's share of the concurrency limits. Safe for
// concurrent use.
type Runner struct {
	local Local
	rep   Reporter // nil: reports no budget
	nc    *nats.Conn
	node  string
	zone  string
	log   *slog.Logger
	subs  []*nats.Subscription
	stop  chan struct{}
	done  sync.WaitGroup

	mu      sync.Mutex
	peers   []string
	peersAt time.Time
	asking  bool // a discovery runs in the background

	// view is the cluster as last heard (state.go); the hot path reads
	// it without a lock.
	view atomic.Pointer[view]
	// vmu guards heard and sent, the reports received and the last sent.
	vmu   sync.Mutex
	heard map[string]heard
	sent  report

	lim   limits
	stats stats

	// margin is answerMargin; tests shorten it.
	margin time.Duration
	// now is the clock of peers' liveness; tests replace it.
	now func() time.Time
}

// peersTTL is how long a list of the other nodes is reused.
const peersTTL = 5 * time.Second

// discoverWait is how long Runner waits for nodes to answer.
const discoverWait = 200 * time.Millisecond

// New returns a Runner for node over nc and starts answering forwarded
// invocations, discovery requests and the others' reports, and sending
// its own. Close stops that.
func New(nc *nats.Conn, node string, local Local, log *slog.Logger) (*Runner, error) {
	return NewInZone(nc, node, "", local, log)
}

// NewInZone is New for a node in zone ("" when none): provisioned
// concurrency is spread over the zones.
func NewInZone(nc *nats.Conn, node, zone string, local Local, log *slog.Logger) (*Runner, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{local: local, nc: nc, node: node, zone: zone, log: log, margin: answerMargin, now: time.Now,
		heard: map[string]heard{}, stop: make(chan struct{})}
	r.rep, _ = local.(Reporter)
	r.view.Store(&view{members: []string{node}})
	s1, err := nc.Subscribe(natsd.NodesSubject, func(m *nats.Msg) { m.Respond([]byte(node)) })
	if err != nil {
		return nil, err
	}
	r.subs = append(r.subs, s1)
	s2, err := nc.Subscribe(natsd.InvokeSubject(node), r.serve)
	if err != nil {
		r.Close()
		return nil, err
	}
	r.subs = append(r.subs, s2)
	if err := r.startReports(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Close stops answering and reporting; invocations under way finish.
func (r *Runner) Close() {
	for _, s := range r.subs {
		s.Unsubscribe()
	}
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	r.done.Wait()
}

// request is a forwarded invocation; reply its result.
type request struct {
	Spec    *worker.Spec    `json:"spec"`
	Request *worker.Request `json:"request"`
}

type reply struct {
	Outcome  *worker.Outcome `json:"outcome,omitempty"`
	Capacity bool            `json:"capacity,omitempty"` // the node had no room either
	Limit    bool            `json:"limit,omitempty"`    // the node's share of the limit was taken
	Error    string          `json:"error,omitempty"`
}

// answerMargin is how much longer than a function's timeout a forwarded
// invocation may take to be answered: the serving node's own 5 s past the
// deadline, and the way there and back.
const answerMargin = 15 * time.Second

// errRemote is a forwarded invocation that failed on another node.
var errRemote = errors.New("forward: the invocation failed on another node")

// Invoke runs the invocation where package placement chooses from the
// nodes' last reports: here when this node has an idle sandbox of the
// version, or no other node has one and this node is among the least
// loaded; else on the node with an idle sandbox (unless, checked first, one
// is idle here after all), else on the least loaded node with room. When
// the chosen node has no room, or no share left of the function's
// concurrency limit, the others are tried in turn, this node first; a
// forwarded invocation is never forwarded again. With no node able to take
// it the caller gets worker.ErrCapacity or a *worker.LimitError.
func (r *Runner) Invoke(ctx context.Context, spec *worker.Spec, req *worker.Request) (*worker.Outcome, error) {
	v := r.view.Load()
	var buf [8]placement.Node
	nodes := v.nodes(spec.Key, buf[:0])
	tried := -1
	// A streamed response stays on the node its caller reads it from.
	stream := req.Invocation.Stream != nil
	if i, why := placement.Choose(v.self.node(spec.Key), nodes, spec.MemoryMB); !stream && i >= 0 && r.lim.hasShare(spec, v.members, nodes[i].ID) {
		// Another node is preferred; an idle sandbox here still wins.
		if release, ok := r.lim.acquire(spec, v.members, r.node); ok {
			warm := *req
			warm.WarmOnly = true
			out, err := r.local.Invoke(ctx, spec, &warm)
			release()
			if !errors.Is(err, worker.ErrNotWarm) {
				r.stats.here.Add(1)
				return out, err
			}
		}
		if out, err, done := r.forward(ctx, nodes[i].ID, spec, req); done {
			r.stats.count(why)
			return out, err
		}
		tried = i
	}
	var lastErr error
	if release, ok := r.lim.acquire(spec, v.members, r.node); ok {
		out, err := r.local.Invoke(ctx, spec, req)
		release()
		if !errors.Is(err, worker.ErrCapacity) {
			r.stats.here.Add(1)
			return out, err
		}
		lastErr = err
	} else {
		lastErr = &worker.LimitError{Reserved: spec.ReservedConcurrency != nil}
	}
	limited := !errors.Is(lastErr, worker.ErrCapacity)
	for _, peer := range r.fallback(ctx, v, nodes, tried, spec) {
		if out, err, done := r.forward(ctx, peer, spec, req); done {
			if limited {
				r.stats.limit.Add(1)
			} else {
				r.stats.capacity.Add(1)
			}
			return out, err
		}
	}
	return nil, lastErr
}

// fallback lists the nodes to try when this node cannot run an
// invocation: the reporting nodes, idle sandboxes of the version first,
// then the least loaded, skipping the one already tried (tried indexes
// nodes) and those whose share of the function's limit is zero; or, when
// no node has reported yet, the nodes that answer discovery.
func (r *Runner) fallback(ctx context.Context, v *view, nodes []placement.Node, tried int, spec *worker.Spec) []string {
	order := make([]int, 0, len(nodes))
	for i := range nodes {
		if i != tried && r.lim.hasShare(spec, v.members, nodes[i].ID) {
			order = append(order, i)
		}
	}
	placement.Rank(nodes, order)
	out := make([]string, 0, len(order))
	for _, i := range order {
		out = append(out, nodes[i].ID)
	}
	if len(nodes) == 0 {
		// No report heard yet: the nodes that answer discovery.
		out = append(out, r.others(ctx)...)
	}
	return out
}

// forward sends the invocation to peer. done is false when the peer did
// not take it (no room, no share, unreachable): another may be tried.
func (r *Runner) forward(ctx context.Context, peer string, spec *worker.Spec, req *worker.Request) (*worker.Outcome, error, bool) {
	fwd := *req
	fwd.WarmOnly = false
	// Another node answers whole: a response the function streams
	// reaches the caller in one piece.
	fwd.Invocation.Stream = nil
	if d, ok := ctx.Deadline(); ok && fwd.Invocation.Deadline.IsZero() {
		fwd.Invocation.Deadline = d
	}
	data, err := json.Marshal(request{Spec: spec, Request: &fwd})
	if err != nil {
		return nil, fmt.Errorf("forward: encoding the invocation: %w", err), true
	}
	// A peer that took the request may die with it: without a deadline
	// of the caller's, wait no longer than the peer itself lets the
	// invocation run (its timeout, init included, plus the peer's 5 s)
	// and a margin.
	rctx, cancel := ctx, context.CancelFunc(func() {})
	bounded := false
	if _, ok := ctx.Deadline(); !ok && spec.Timeout > 0 {
		rctx, cancel = context.WithTimeout(ctx, spec.Timeout+r.margin)
		bounded = true
	}
	msg, rerr := r.nc.RequestWithContext(rctx, natsd.InvokeSubject(peer), data)
	cancel()
	if rerr != nil {
		r.log.Debug("forwarding an invocation failed", "node", peer, "err", rerr)
		if ctx.Err() != nil {
			return nil, ctx.Err(), true
		}
		if bounded && errors.Is(rerr, context.DeadlineExceeded) {
			// The peer may have run it: trying another could run it
			// twice for a synchronous caller.
			return nil, fmt.Errorf("%w: %s did not answer within %s", errRemote, peer, spec.Timeout+r.margin), true
		}
		return nil, nil, false
	}
	var rep reply
	if jerr := json.Unmarshal(msg.Data, &rep); jerr != nil {
		return nil, fmt.Errorf("%w: %s: bad reply: %v", errRemote, peer, jerr), true
	}
	switch {
	case rep.Capacity, rep.Limit:
		return nil, nil, false
	case rep.Error != "":
		return nil, fmt.Errorf("%w: %s: %s", errRemote, peer, rep.Error), true
	}
	return rep.Outcome, nil, true
}

// serve runs a forwarded invocation on the local worker only.
func (r *Runner) serve(m *nats.Msg) {
	go func() {
		var in request
		if err := json.Unmarshal(m.Data, &in); err != nil || in.Spec == nil || in.Request == nil {
			r.respond(m, reply{Error: "bad request"})
			return
		}
		ctx, cancel := context.Background(), func() {}
		if d := in.Request.Invocation.Deadline; !d.IsZero() {
			ctx, cancel = context.WithDeadline(ctx, d.Add(5*time.Second))
		} else if in.Spec.Timeout > 0 {
			ctx, cancel = context.WithTimeout(ctx, in.Spec.Timeout+5*time.Second)
		}
		defer cancel()
		release, ok := r.lim.acquire(in.Spec, r.view.Load().members, r.node)
		if !ok {
			r.respond(m, reply{Limit: true})
			return
		}
		defer release()
		r.stats.served.Add(1)
		out, err := r.local.Invoke(ctx, in.Spec, in.Request)
		switch {
		case errors.Is(err, worker.ErrCapacity):
			r.respond(m, reply{Capacity: true})
		case err != nil:
			r.respond(m, reply{Error: err.Error()})
		default:
			r.respond(m, reply{Outcome: out})
		}
	}()
}

func (r *Runner) respond(m *nats.Msg, rep reply) {
	b, _ := json.Marshal(rep)
	if err := m.Respond(b); err != nil {
		r.log.Warn("answering a forwarded invocation", "err", err)
	}
}

// others lists the other nodes, asking them at most every peersTTL: the
// first time it waits for their answers; later a stale list is returned at
// once while a fresh one is asked for in the background.
func (r *Runner) others(ctx context.Context) []string {
	r.mu.Lock()
	p, fresh, known := r.peers, time.Since(r.peersAt) < peersTTL, !r.peersAt.IsZero()
	if !fresh && known && !r.asking {
		r.asking = true
		go func() {
			r.discover(context.Background())
			r.mu.Lock()
			r.asking = false
			r.mu.Unlock()
		}()
	}
	r.mu.Unlock()
	if fresh || known {
		return p
	}
	return r.discover(ctx)
}

// discover asks every node for its id and keeps the others'.
func (r *Runner) discover(ctx context.Context) []string {
	inbox := r.nc.NewRespInbox()
	sub, err := r.nc.SubscribeSync(inbox)
	if err != nil {
		return nil
	}
	defer sub.Unsubscribe()
	if err := r.nc.PublishRequest(natsd.NodesSubject, inbox, nil); err != nil {
		return nil
	}
	var peers []string
	deadline := time.Now().Add(discoverWait)
	for {
		wait := time.Until(deadline)
		if wait <= 0 || ctx.Err() != nil {
			break
		}
		m, err := sub.NextMsg(wait)
		if err != nil {
			break
		}
		if id := string(m.Data); id != r.node {
			peers = append(peers, id)
		}
	}
	if len(peers) > 0 { // none answered: ask again next time
		r.mu.Lock()
		r.peers, r.peersAt = peers, time.Now()
		r.mu.Unlock()
	}
	return peers
}
