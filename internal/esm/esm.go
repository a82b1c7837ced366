package esm

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/services/sqs"
	"github.com/kumo-run/kumo/internal/store"
)

// Functions is what mappings need of the registry.
type Functions interface {
	GetFunctionConfiguration(ctx context.Context, ref registry.Ref) (registry.FunctionConfig, error)
	GetFunctionConcurrency(ctx context.Context, ref registry.Ref) (*int, error)
}

// Queues is what pollers need of the SQS service (sqs.Service).
type Queues interface {
	QueueExists(queueARN string) bool
	QueueFIFO(queueARN string) bool
	QueueVisibilityTimeout(queueARN string) time.Duration
	Receive(ctx context.Context, queueARN string, n int, wait, visibility time.Duration) ([]sqs.Message, error)
	Delete(ctx context.Context, queueARN, handle string) error
	ChangeVisibility(ctx context.Context, queueARN, handle string, visibility time.Duration) error
}

var _ Queues = (*sqs.Service)(nil)

// RoleChecker is what Queues may also offer: whether a function's
// execution role may call an SQS action on a queue (its policies and the
// queue's). With it, a mapping whose role may not poll its queue is
// refused.
type RoleChecker interface {
	RoleAllowed(ctx context.Context, roleARN, action, queueARN string) bool
}

var _ RoleChecker = (*sqs.Service)(nil)

// Config configures the service.
type Config struct {
	// KV is the natsd.ESMBucket bucket.
	KV        store.KV
	Functions Functions
	Queues    Queues
	// Streams reads DynamoDB streams (dynamodb.Service); nil refuses
	// stream ARNs.
	Streams Streams
	// Targets sends stream mappings' on-failure records; nil refuses
	// DestinationConfig.
	Targets Targets
	// Invoker runs the batches, synchronously, as the function's own
	// poller: no caller identity is checked.
	Invoker invoke.Invoker
	ARNs    registry.ARNs
	Logger  *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// DefaultConcurrency bounds the concurrent batches of a mapping without
	// ScalingConfig.MaximumConcurrency; 10 when zero.
	DefaultConcurrency int
	// PollWait is the long poll of an idle poller; 20 s (Lambda's) when
	// zero. Stopping a poller waits for at most about one MaxPollInterval
	// of the SQS service, not for this.
	PollWait time.Duration
	// Backoff is the first pause after a throttled or failed invoke,
	// doubled up to 30 s; 100 ms when zero.
	Backoff time.Duration
	// Node names this node in mapping leases (lease.go); "kumo" when
	// empty. Nodes sharing the bucket need distinct names; a node keeps
	// its name across restarts.
	Node string
	// LeaseTTL is how long a lease holds without renewal; 15 s when zero.
	LeaseTTL time.Duration
}

// Service serves the event source mapping API and runs the pollers of the
// mappings it owns. Safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger

	writeMu sync.Mutex // serialises API writes: the duplicate check and its write
	view    view

	kickc      chan struct{}
	reconciled chan struct{}   // closed when the reconciler has ended
	hard       context.Context // cancelled by Close: in-flight invokes stop too
	cancel     context.CancelFunc
	done       chan struct{}

	mu       sync.Mutex // guards pollers and stopping
	pollers  map[string]*poller
	stopping map[string]*poller // stopped, with workers still finishing
	leases   map[string]held    // the leases this node holds; the reconciler's only
	wg       sync.WaitGroup

	resultMu sync.Mutex
	results  map[string]string // LastProcessingResult by UUID (result.go)
}

// Open loads the mappings, starts the watch that keeps the view current
// and the pollers of enabled mappings, and returns once the view holds
// what the store held.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	s := &Service{cfg: cfg, log: cfg.Logger, kickc: make(chan struct{}, 1), pollers: map[string]*poller{}, stopping: map[string]*poller{}, leases: map[string]held{}, done: make(chan struct{}), results: map[string]string{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	if s.cfg.DefaultConcurrency <= 0 {
		s.cfg.DefaultConcurrency = 10
	}
	if s.cfg.PollWait <= 0 {
		s.cfg.PollWait = 20 * time.Second
	}
	if s.cfg.Backoff <= 0 {
		s.cfg.Backoff = 100 * time.Millisecond
	}
	if s.cfg.Node == "" {
		s.cfg.Node = "kumo"
	}
	if s.cfg.LeaseTTL <= 0 {
		s.cfg.LeaseTTL = 15 * time.Second
	}
	s.view.m = map[string]entry{}
	s.hard, s.cancel = context.WithCancel(context.Background())
	ch, err := cfg.KV.Watch(s.hard, recordPrefix)
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("esm: watching mappings: %w", err)
	}
	rch, err := cfg.KV.Watch(s.hard, resultPrefix)
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("esm: watching processing results: %w", err)
	}
	go s.watchResults(rch)
	loaded := make(chan struct{})
	go s.watch(ch, loaded)
	select {
	case <-loaded:
	case <-ctx.Done():
		s.cancel()
		<-s.done
		return nil, ctx.Err()
	}
	s.reconciled = make(chan struct{})
	go s.reconciler()
	s.kick()
	return s, nil
}

// Close stops every poller (an in-flight invoke is cancelled: its batch
// returns to the queue after its visibility timeout) and the watch.
func (s *Service) Close() {
	s.cancel()
	<-s.done
	<-s.reconciled
	s.mu.Lock()
	for _, p := range s.pollers {
		p.stop()
	}
	s.mu.Unlock()
	s.wg.Wait()
	// Leases go last, once nothing polls: another node may take over at
	// once.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for uuid := range s.leases {
		s.release(ctx, uuid)
	}
}

type entry struct {
	rec *record
	rev uint64
}

// view is the mappings by UUID, as the watch and this node's writes leave
// them; a change never replaces a newer revision.
type view struct {
	mu sync.RWMutex
	m  map[string]entry
}

func (v *view) get(uuid string) (*record, uint64, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	e, ok := v.m[uuid]
	if !ok {
		return nil, 0, false
	}
	return e.rec.clone(), e.rev, true
}

func (v *view) all() []*record {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make([]*record, 0, len(v.m))
	for _, e := range v.m {
		out = append(out, e.rec.clone())
	}
	return out
}

func (v *view) put(r *record, rev uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.m[r.M.UUID]; ok && e.rev >= rev {
		return
	}
	v.m[r.M.UUID] = entry{rec: r.clone(), rev: rev}
}

func (v *view) remove(uuid string, rev uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.m[uuid]; ok && (rev == 0 || e.rev < rev) {
		delete(v.m, uuid)
	}
}

func (s *Service) watch(ch <-chan store.Entry, loaded chan struct{}) {
	defer close(s.done)
	for e := range ch {
		switch {
		case e.Key == "":
			if loaded != nil {
				close(loaded)
				loaded = nil
			}
			continue
		case e.Deleted:
			s.view.remove(strings.TrimPrefix(e.Key, recordPrefix), e.Revision)
		default:
			var r record
			if err := json.Unmarshal(e.Value, &r); err != nil {
				s.log.Warn("esm: unreadable mapping", "key", e.Key, "error", err)
				continue
			}
			s.view.put(&r, e.Revision)
		}
		s.kick()
	}
}

// kick asks the reconciler to look at the view again.
func (s *Service) kick() {
	select {
	case s.kickc <- struct{}{}:
	default:
	}
}

// reconciler reconciles on every change and every third of the lease
// TTL (renewing this node's leases, taking over expired ones).
func (s *Service) reconciler() {
	defer close(s.reconciled)
	t := time.NewTicker(s.cfg.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-s.hard.Done():
			return
		case <-s.kickc:
		case <-t.C:
		}
		s.reconcile()
	}
}

// reconcile makes the pollers follow the view and settles transitions:
// a poller runs for every mapping that is enabled and not being deleted,
// with the mapping's current settings; Creating, Enabling, Disabling and
// Updating settle to Enabled or Disabled once that holds, and Deleting
// ends with the mapping's removal once its poller has stopped.
func (s *Service) reconcile() {
	ctx, cancel := context.WithTimeout(s.hard, 10*time.Second)
	defer cancel()
	seen := map[string]bool{}
	for _, r := range s.view.all() {
		uuid := r.M.UUID
		seen[uuid] = true
		owner := s.own(ctx, uuid)
		run := owner && r.Enabled && r.M.State != Deleting && r.M.State != Disabling
		s.mu.Lock()
		p := s.pollers[uuid]
		if p != nil && (!run || !p.same(r)) {
			s.retire(uuid, p)
			p = nil
		}
		_, draining := s.stopping[uuid]
		if run && p == nil && !draining {
			s.pollers[uuid] = s.startPoller(r)
		}
		s.mu.Unlock()
		if owner && !draining {
			s.settle(r)
		}
	}
	s.mu.Lock()
	for uuid, p := range s.pollers {
		if !seen[uuid] {
			s.retire(uuid, p)
		}
	}
	// The leases of removed mappings go once their pollers have stopped.
	var gone []string
	for uuid := range s.leases {
		_, draining := s.stopping[uuid]
		if !seen[uuid] && !draining {
			gone = append(gone, uuid)
		}
	}
	s.mu.Unlock()
	for _, uuid := range gone {
		s.release(ctx, uuid)
	}
}

// retire stops p and keeps it among the stopping pollers until its last
// worker has finished, then looks at the view again: a transition settles
// only once no poller of the old settings receives any more. s.mu is held.
func (s *Service) retire(uuid string, p *poller) {
	p.stop()
	delete(s.pollers, uuid)
	s.stopping[uuid] = p
	go func() {
		<-p.stopped
		s.mu.Lock()
		if s.stopping[uuid] == p {
			delete(s.stopping, uuid)
		}
		s.mu.Unlock()
		s.kick()
	}()
}

// settle writes the end of r's transition; a conflict (a newer change)
// is left to the next reconcile, which that change triggers.
func (s *Service) settle(r *record) {
	ctx, cancel := context.WithTimeout(s.hard, 10*time.Second)
	defer cancel()
	cur, rev, ok := s.view.get(r.M.UUID)
	if !ok || !cur.M.State.transient() {
		return
	}
	if cur.M.State == Deleting {
		if err := s.cfg.KV.Delete(ctx, key(cur.M.UUID), rev); err != nil {
			s.log.Debug("esm: removing a deleted mapping", "uuid", cur.M.UUID, "error", err)
			return
		}
		s.view.remove(cur.M.UUID, 0)
		s.dropResult(ctx, cur.M.UUID)
		return
	}
	to := Disabled
	if cur.Enabled {
		to = Enabled
	}
	if err := cur.M.State.to(to); err != nil {
		s.log.Error("esm: settling a mapping", "uuid", cur.M.UUID, "error", err)
		return
	}
	cur.M.State = to
	if err := s.write(ctx, cur, rev); err != nil {
		s.log.Debug("esm: settling a mapping", "uuid", cur.M.UUID, "error", err)
	}
}
