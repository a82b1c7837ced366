package forward

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/worker"
	"github.com/nats-io/nats.go"
)

// Local runs invocations on this node: the worker.
type Local interface {
	Invoke(ctx context.Context, spec *worker.Spec, req *worker.Request) (*worker.Outcome, error)
}

// Runner is an invoke.Runner that forwards what this node cannot run.
// Safe for concurrent use.
type Runner struct {
	local Local
	nc    *nats.Conn
	node  string
	log   *slog.Logger
	subs  []*nats.Subscription

	mu      sync.Mutex
	peers   []string
	peersAt time.Time
	asking  bool // a discovery runs in the background

	// margin is answerMargin; tests shorten it.
	margin time.Duration
}

// peersTTL is how long a list of the other nodes is reused.
const peersTTL = 5 * time.Second

// discoverWait is how long Runner waits for nodes to answer.
const discoverWait = 200 * time.Millisecond

// New returns a Runner for node over nc and starts answering forwarded
// invocations and discovery requests. Close stops that.
func New(nc *nats.Conn, node string, local Local, log *slog.Logger) (*Runner, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{local: local, nc: nc, node: node, log: log, margin: answerMargin}
	s1, err := nc.Subscribe(natsd.NodesSubject, func(m *nats.Msg) { m.Respond([]byte(node)) })
	if err != nil {
		return nil, err
	}
	s2, err := nc.Subscribe(natsd.InvokeSubject(node), r.serve)
	if err != nil {
		s1.Unsubscribe()
		return nil, err
	}
	r.subs = []*nats.Subscription{s1, s2}
	return r, nil
}

// Close stops answering; invocations under way finish.
func (r *Runner) Close() {
	for _, s := range r.subs {
		s.Unsubscribe()
	}
}

// request is a forwarded invocation; reply its result.
type request struct {
	Spec    *worker.Spec    `json:"spec"`
	Request *worker.Request `json:"request"`
}

type reply struct {
	Outcome  *worker.Outcome `json:"outcome,omitempty"`
	Capacity bool            `json:"capacity,omitempty"` // the node had no room either
	Error    string          `json:"error,omitempty"`
}

// answerMargin is how much longer than a function's timeout a forwarded
// invocation may take to be answered: the serving node's own 5 s past the
// deadline, and the way there and back.
const answerMargin = 15 * time.Second

// errRemote is a forwarded invocation that failed on the other node.
var errRemote = errors.New("forward: the invocation failed on another node")

// Invoke runs the invocation here, or, when this node has no memory left
// for it, on the first other node that has.
func (r *Runner) Invoke(ctx context.Context, spec *worker.Spec, req *worker.Request) (*worker.Outcome, error) {
	out, err := r.local.Invoke(ctx, spec, req)
	if !errors.Is(err, worker.ErrCapacity) {
		return out, err
	}
	fwd := *req
	if d, ok := ctx.Deadline(); ok && fwd.Invocation.Deadline.IsZero() {
		fwd.Invocation.Deadline = d
	}
	data, merr := json.Marshal(request{Spec: spec, Request: &fwd})
	if merr != nil {
		return nil, err
	}
	for _, peer := range r.others(ctx) {
		// A peer that took the request may die with it: without a
		// deadline of the caller's, wait no longer than the peer itself
		// lets the invocation run (its timeout, init included, plus the
		// peer's 5 s) and a margin.
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
				return nil, err
			}
			if bounded && errors.Is(rerr, context.DeadlineExceeded) {
				// The peer may have run it: trying another could run it
				// twice for a synchronous caller.
				return nil, fmt.Errorf("%w: %s did not answer within %s", errRemote, peer, spec.Timeout+r.margin)
			}
			continue
		}
		var rep reply
		if jerr := json.Unmarshal(msg.Data, &rep); jerr != nil {
			return nil, fmt.Errorf("%w: %s: bad reply: %v", errRemote, peer, jerr)
		}
		switch {
		case rep.Capacity:
			continue
		case rep.Error != "":
			return nil, fmt.Errorf("%w: %s: %s", errRemote, peer, rep.Error)
		}
		return rep.Outcome, nil
	}
	return nil, err
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
