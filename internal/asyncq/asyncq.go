package asyncq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kumo-run/kumo/internal/awsproto"
	awsarn "github.com/kumo-run/kumo/internal/awsproto/arn"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/metrics"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/registry"
)

// Invoker runs one attempt of an event synchronously.
type Invoker interface {
	Invoke(ctx context.Context, in *invoke.Input) (*invoke.Output, error)
}

// Settings gives the asynchronous settings of a function qualifier; it
// returns registry.ErrFunctionGone when the qualifier no longer exists.
type Settings interface {
	AsyncSettings(ref registry.Ref) (registry.AsyncSettings, error)
}

// Defaults of Config.
var (
	DefaultRetryDelays = []time.Duration{time.Minute, 2 * time.Minute}
)

const (
	DefaultParallel        = 64
	DefaultPerFunction     = 16
	DefaultAckWait         = 30 * time.Second
	DefaultThrottleBackoff = time.Second
	DefaultMaxBackoff      = 5 * time.Minute
	DefaultIdle            = time.Minute
	DefaultScan            = 10 * time.Second
	// DefaultAttemptTimeout bounds an attempt: Lambda's longest function
	// timeout (900 s) and a margin for the sandbox's start.
	DefaultAttemptTimeout = 900*time.Second + 2*time.Minute
	fetchWait             = 500 * time.Millisecond
	fetchRetry            = 100 * time.Millisecond // after a failed fetch
	consumerRetry         = time.Second            // after failing to create a consumer
	enqueueTimeout        = 10 * time.Second       // Enqueue's wait for the store, when ctx has none
)

// Conditions of invocation records.
const (
	CondSuccess          = "Success"
	CondRetriesExhausted = "RetriesExhausted"
	CondEventAgeExceeded = "EventAgeExceeded"
)

// Config configures Open. Zero values take the defaults.
type Config struct {
	// Settings is required: the registry's view.
	Settings Settings
	// ARNs builds function ARNs and parses destination ARNs.
	ARNs registry.ARNs
	// Replicas of the stream (cluster mode); default 1.
	Replicas int
	// RetryDelays are the waits before the retries of a function error
	// (the last one repeats); default 1 min then 2 min, as in Lambda.
	RetryDelays []time.Duration
	// Parallel bounds the attempts running at once across functions;
	// PerFunction bounds one function's.
	Parallel, PerFunction int
	// AckWait is how long a delivered event may go without a heartbeat
	// before JetStream hands it out again (after a crash, say).
	AckWait time.Duration
	// ThrottleBackoff is the first wait after a throttling or service
	// error; it doubles up to MaxBackoff.
	ThrottleBackoff, MaxBackoff time.Duration
	// Idle is how long a function's drainer waits for work before it
	// stops; the next event of that function starts it again.
	Idle time.Duration
	// Scan is how often the queue looks for functions with stored events
	// that this process runs no drainer for: events published through
	// another node (in a cluster) whose drainer died with it, or events a
	// consumer lost track of. Default 10 s.
	Scan time.Duration
	// AttemptTimeout bounds one attempt; one that has not ended by then
	// (the node running it died and the answer never comes) is retried
	// like a throttled one. Default DefaultAttemptTimeout.
	AttemptTimeout time.Duration
	// Journal, if set, is a file recording which events were started, so
	// that duplicates after a crash are counted (see journal).
	Journal string
	// Writable, if set, is asked before an event is accepted: an error
	// (the data disk is nearly full, the store is being repaired) refuses
	// the event at once with that error, rather than after a store
	// timeout. Retries and outcomes of accepted events do not ask: they
	// are delayed by the store's own refusal.
	Writable func() error
	// Targets sends destination records and dead-letter events to
	// targets that are not Lambda functions (SQS queues, SNS topics);
	// nil drops them with a warning.
	Targets Targets
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	Now     func() time.Time
}

// Targets delivers to an SQS queue or SNS topic by its ARN, as Lambda
// sends destination records and dead-letter events there. An error the
// target would answer again (an *awsproto.Error that is not Retryable:
// the queue does not exist, Lambda may not send to it) drops the record
// with a warning, as on AWS; any other is retried with the event.
type Targets interface {
	Send(ctx context.Context, arn string, body []byte, attrs map[string]Attribute) error
}

// Attribute is a message attribute of a record sent to a target.
type Attribute struct {
	DataType, Value string // "String" or "Number"
}

// ErrUnavailable is wrapped by Enqueue's errors when the event could not be
// stored: the queue cannot take events right now, and the same request may
// succeed later.
var ErrUnavailable = errors.New("asyncq: the queue cannot store events now")

// Queue is the asynchronous invocation queue. Enqueue may be called
// concurrently and before Start; Close ends draining.
type Queue struct {
	cfg    Config
	log    *slog.Logger
	js     jetstream.JetStream
	stream jetstream.Stream
	inv    Invoker
	global chan struct{}

	redeliveries prometheus.Counter
	journal      *journal
	margin       time.Duration // attemptMargin; shorter in tests

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	started  bool
	drainers map[string]*drainer
	delayed  map[uint64]bool // stream sequences this process delayed itself
}

type drainer struct {
	fn    string
	pokes int
	// stranded is the stream sequence of the first event of fn the last
	// check found below the consumer's ack floor (see restore).
	stranded uint64
}

// envelope is one stored event.
type envelope struct {
	RequestID     string          `json:"requestId"`
	Function      string          `json:"function"`
	Qualifier     string          `json:"qualifier,omitempty"`
	ClientContext string          `json:"clientContext,omitempty"`
	Payload       json.RawMessage `json:"payload"`
	// Enqueued is when the event was first accepted (ms since the epoch).
	Enqueued int64 `json:"enqueued"`
	// Attempts counts attempts that ended in a function error.
	Attempts int `json:"attempts,omitempty"`
	// NotBefore is when the next attempt may start (ms since the epoch).
	NotBefore int64 `json:"notBefore,omitempty"`
}

// Open creates (or reuses) the stream. Draining begins with Start.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Queue, error) {
	if cfg.Settings == nil {
		return nil, errors.New("asyncq: Settings is required")
	}
	if cfg.Replicas < 1 {
		cfg.Replicas = 1
	}
	if len(cfg.RetryDelays) == 0 {
		cfg.RetryDelays = DefaultRetryDelays
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = DefaultParallel
	}
	if cfg.PerFunction <= 0 {
		cfg.PerFunction = DefaultPerFunction
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = DefaultAckWait
	}
	if cfg.ThrottleBackoff <= 0 {
		cfg.ThrottleBackoff = DefaultThrottleBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.Idle <= 0 {
		cfg.Idle = DefaultIdle
	}
	if cfg.Scan <= 0 {
		cfg.Scan = DefaultScan
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = DefaultAttemptTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("asyncq: %w", err)
	}
	stream, err := openStream(ctx, js, cfg.Replicas)
	if err != nil {
		return nil, err
	}
	q := &Queue{
		cfg: cfg, log: cfg.Logger.With("component", "asyncq"), js: js, stream: stream,
		global:   make(chan struct{}, cfg.Parallel),
		margin:   attemptMargin,
		drainers: map[string]*drainer{},
		delayed:  map[uint64]bool{},
		redeliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kumo_async_redeliveries_total",
			Help: "Asynchronous events handed out again after a crash or a lost heartbeat: attempts that may run twice.",
		}),
	}
	if cfg.Journal != "" {
		if q.journal, err = openJournal(cfg.Journal); err != nil {
			return nil, err
		}
	}
	q.ctx, q.cancel = context.WithCancel(context.Background())
	if cfg.Metrics != nil {
		cfg.Metrics.Register(q.redeliveries)
		cfg.Metrics.Register(metrics.GaugeFunc("kumo_async_queue_depth",
			"Asynchronous events stored and not yet finished, by function.", "function_name", q.depth))
	}
	return q, nil
}

// Start begins draining with inv running the attempts: every function with
// stored events gets a drainer.
func (q *Queue) Start(ctx context.Context, inv Invoker) error {
	q.mu.Lock()
	if q.started {
		q.mu.Unlock()
		return errors.New("asyncq: already started")
	}
	q.inv = inv
	q.started = true
	q.mu.Unlock()
	depth, err := q.depthBy(ctx)
	if err != nil {
		return err
	}
	for fn := range depth {
		q.ensure(fn)
	}
	// Consumers left by an earlier process whose functions have nothing
	// stored get a drainer too: it retires once idle (at once when the
	// function no longer exists) and deletes them.
	names := q.stream.ConsumerNames(ctx)
	pre := natsd.AsyncConsumer("")
	for name := range names.Name() {
		if fn, ok := strings.CutPrefix(name, pre); ok {
			q.ensure(fn)
		}
	}
	if err := names.Err(); err != nil {
		return fmt.Errorf("asyncq: list consumers: %w", err)
	}
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		q.scan()
	}()
	return nil
}

// scan starts, every Scan, a drainer for each function with stored events
// that has none here. Only the publishing process starts a drainer at
// once; without the scan, an event whose delivery died with another node
// (or a consumer whose state lags the stream after a leader change) would
// wait for that function's next event published here.
func (q *Queue) scan() {
	t := time.NewTicker(q.cfg.Scan)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-q.ctx.Done():
			return
		}
		ctx, cancel := context.WithTimeout(q.ctx, max(q.cfg.Scan, 2*time.Second))
		depth, err := q.depthBy(ctx)
		cancel()
		if err != nil {
			if q.ctx.Err() == nil {
				q.log.Warn("async: scanning for stored events failed; trying again", "err", err)
			}
			continue
		}
		for fn, n := range depth {
			if n > 0 {
				q.adopt(fn)
			}
		}
	}
}

// Close stops the drainers and waits for the attempts running; events not
// finished stay stored and run after the next start.
func (q *Queue) Close() {
	q.cancel()
	q.wg.Wait()
	if q.journal != nil {
		q.journal.close()
	}
}

// Enqueue stores an Event invocation and returns once JetStream has
// acknowledged it. in must be validated; in.Payload is the event.
func (q *Queue) Enqueue(ctx context.Context, in *invoke.Input) error {
	if q.cfg.Writable != nil {
		if err := q.cfg.Writable(); err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	ev := envelope{
		RequestID: in.RequestID, Function: in.Ref.Name, Qualifier: in.Ref.Qualifier,
		ClientContext: in.ClientContext, Payload: in.Payload, Enqueued: q.cfg.Now().UnixMilli(),
	}
	if _, ok := ctx.Deadline(); !ok {
		// A stream that met a write error may never answer: bound the wait.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, enqueueTimeout)
		defer cancel()
	}
	if err := q.publish(ctx, &ev, ev.RequestID); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// publish stores ev on its function's subject; msgID makes a repeated
// publish (after a crash) a no-op within the duplicate window.
func (q *Queue) publish(ctx context.Context, ev *envelope, msgID string) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("asyncq: encode event: %w", err)
	}
	_, err = q.js.Publish(ctx, natsd.AsyncSubject(ev.Function), b, jetstream.WithMsgID(msgID))
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		// The stream is gone (deleted, lost with its files): create it
		// again rather than refuse every event until a restart.
		q.log.Warn("async stream missing; creating it again", "stream", natsd.AsyncStream)
		if _, err := openStream(ctx, q.js, q.cfg.Replicas); err != nil {
			return err
		}
		_, err = q.js.Publish(ctx, natsd.AsyncSubject(ev.Function), b, jetstream.WithMsgID(msgID))
	}
	if err != nil {
		return fmt.Errorf("asyncq: store event %s: %w", ev.RequestID, err)
	}
	q.ensure(ev.Function)
	return nil
}

func (q *Queue) depthBy(ctx context.Context) (map[string]uint64, error) {
	info, err := q.stream.Info(ctx, jetstream.WithSubjectFilter(natsd.AsyncSubjects))
	if err != nil {
		return nil, fmt.Errorf("asyncq: stream info: %w", err)
	}
	out := make(map[string]uint64, len(info.State.Subjects))
	pre := natsd.AsyncSubject("")
	for subj, n := range info.State.Subjects {
		out[strings.TrimPrefix(subj, pre)] = n
	}
	return out, nil
}

// stored counts the events of fn the stream holds.
func (q *Queue) stored(ctx context.Context, fn string) (uint64, error) {
	info, err := q.stream.Info(ctx, jetstream.WithSubjectFilter(natsd.AsyncSubject(fn)))
	if err != nil {
		return 0, fmt.Errorf("asyncq: stream info: %w", err)
	}
	return info.State.Subjects[natsd.AsyncSubject(fn)], nil
}

func (q *Queue) depth() map[string]float64 {
	ctx, cancel := context.WithTimeout(q.ctx, 2*time.Second)
	defer cancel()
	d, err := q.depthBy(ctx)
	out := make(map[string]float64, len(d))
	if err != nil {
		return out
	}
	for fn, n := range d {
		out[fn] = float64(n)
	}
	return out
}

// ensure starts fn's drainer unless it runs; a running drainer is told
// there is new work, so it does not stop as idle.
func (q *Queue) ensure(fn string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.started || q.ctx.Err() != nil {
		return
	}
	if d, ok := q.drainers[fn]; ok {
		d.pokes++
		return
	}
	d := &drainer{fn: fn}
	q.drainers[fn] = d
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		q.drain(d)
	}()
}

// adopt starts fn's drainer unless it runs. Unlike ensure it does not tell
// a running drainer there is new work: a drainer whose consumer has
// nothing pending must still retire (see retire), or the scan would keep
// it alive forever.
func (q *Queue) adopt(fn string) {
	q.mu.Lock()
	_, ok := q.drainers[fn]
	q.mu.Unlock()
	if !ok {
		q.ensure(fn)
	}
}

// openStream creates the stream, or updates it to this configuration.
func openStream(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.Stream, error) {
	stream, err := natsd.EnsureStream(ctx, js, jetstream.StreamConfig{
		Name:       natsd.AsyncStream,
		Subjects:   []string{natsd.AsyncSubjects},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.WorkQueuePolicy,
		Replicas:   replicas,
		Duplicates: 2 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("asyncq: stream %s: %w", natsd.AsyncStream, err)
	}
	return stream, nil
}

// consumer creates (or finds) fn's durable consumer. A stream that is
// missing (deleted by an operator, lost with its files) is created again
// first, so that the queue keeps working.
func (q *Queue) consumer(ctx context.Context, fn string) (jetstream.Consumer, error) {
	c, err := q.createConsumer(ctx, fn)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		q.log.Warn("async stream missing; creating it again", "stream", natsd.AsyncStream)
		if _, err := openStream(ctx, q.js, q.cfg.Replicas); err != nil {
			return nil, err
		}
		c, err = q.createConsumer(ctx, fn)
	}
	return c, err
}

func (q *Queue) createConsumer(ctx context.Context, fn string) (jetstream.Consumer, error) {
	return natsd.EnsureConsumer(ctx, q.stream, jetstream.ConsumerConfig{
		Durable:       natsd.AsyncConsumer(fn),
		FilterSubject: natsd.AsyncSubject(fn),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       q.cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: 100000,
	})
}

// drain runs one function's events until the queue closes or the function
// has had no work for Idle (at once when the function no longer exists).
// A consumer that JetStream lost (deleted, or its stream reset) is created
// again.
func (q *Queue) drain(d *drainer) {
	ctx := q.ctx
	local := make(chan struct{}, q.cfg.PerFunction)
	var running sync.WaitGroup
	defer running.Wait()
	var cons jetstream.Consumer
	idleSince := time.Now()
	var checked time.Time
	for ctx.Err() == nil {
		if cons == nil {
			c, err := q.consumer(ctx, d.fn)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				q.log.Warn("async consumer unavailable; retrying", "function", d.fn, "err", err)
				sleep(ctx, consumerRetry)
				continue
			}
			cons = c
		}
		select {
		case local <- struct{}{}:
		case <-ctx.Done():
			return
		}
		q.mu.Lock()
		pokes := d.pokes
		q.mu.Unlock()
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(fetchWait))
		var msg jetstream.Msg
		if err == nil {
			for m := range batch.Messages() {
				msg = m
			}
			err = batch.Error()
			if errors.Is(err, nats.ErrTimeout) {
				err = nil
			}
		}
		if msg == nil {
			<-local
			if err != nil && ctx.Err() == nil {
				q.log.Warn("async fetch failed", "function", d.fn, "err", err)
				if lost(err) {
					cons = nil
				}
				sleep(ctx, fetchRetry)
				continue
			}
			if time.Since(idleSince) >= q.cfg.Scan && time.Since(checked) >= q.cfg.Scan {
				checked = time.Now()
				q.restore(ctx, d, cons)
			}
			if len(local) == 0 && (time.Since(idleSince) >= q.cfg.Idle || q.gone(d.fn)) {
				retired, deleted := q.retire(ctx, d, cons, pokes)
				if retired {
					return
				}
				if deleted {
					cons = nil
				}
			}
			continue
		}
		idleSince = time.Now()
		running.Add(1)
		go func() {
			defer running.Done()
			defer func() { <-local }()
			q.handle(ctx, msg)
		}()
	}
}

// restore hands out again the events of d's function that the stream
// holds below the consumer's ack floor. The consumer never delivers those:
// its state drifted from the stream's (after a leader change, a replica
// took an acknowledgement the stream never applied, or the reverse). Such
// an event is stored again under a new sequence, then deleted where it
// was; a crash in between runs it twice, never not at all. An event counts
// as stranded only when two checks Scan apart find it, so one whose
// acknowledgement the stream is still applying is left alone. At most
// maxRestore events are restored per check.
func (q *Queue) restore(ctx context.Context, d *drainer, cons jetstream.Consumer) {
	const maxRestore = 100
	info, err := cons.Info(ctx)
	if err != nil {
		return
	}
	floor := info.AckFloor.Stream
	subj := natsd.AsyncSubject(d.fn)
	first, err := q.stream.GetMsg(ctx, 0, jetstream.WithGetMsgSubject(subj))
	if err != nil || first.Sequence > floor {
		d.stranded = 0 // nothing stored, or an error: look again next time
		return
	}
	if d.stranded != first.Sequence {
		d.stranded = first.Sequence
		return
	}
	d.stranded = 0
	for m, n := first, 0; m != nil && m.Sequence <= floor && n < maxRestore; n++ {
		q.log.Warn("async: an event stored below its consumer's ack floor is handed out again", "function", d.fn, "seq", m.Sequence)
		id := fmt.Sprintf("restored.%d", m.Sequence)
		if _, err := q.js.Publish(ctx, subj, m.Data, jetstream.WithMsgID(id)); err != nil {
			q.log.Warn("async: restoring a stranded event failed; trying again", "function", d.fn, "err", err)
			return
		}
		if err := q.stream.DeleteMsg(ctx, m.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			q.log.Warn("async: deleting a restored event failed; it may run twice", "function", d.fn, "err", err)
		}
		if m, err = q.stream.GetMsg(ctx, m.Sequence+1, jetstream.WithGetMsgSubject(subj)); err != nil {
			return
		}
	}
}

// lost reports whether a fetch failed because the consumer no longer
// exists, so that it must be created again.
func lost(err error) bool {
	return errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
		errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, jetstream.ErrStreamNotFound)
}

// gone reports whether fn no longer exists, so its drainer need not wait
// for Idle before it retires.
func (q *Queue) gone(fn string) bool {
	_, err := q.cfg.Settings.AsyncSettings(registry.Ref{Name: fn})
	return errors.Is(err, registry.ErrFunctionGone)
}

// retire ends an idle drainer when nothing of its function is stored or
// pending and no event arrived since pokes was read. It deletes the
// function's durable consumer, so that a function deleted or long unused
// leaves nothing behind; the next event creates it again. deleted reports
// that the consumer was deleted even though the drainer must go on (an
// event arrived meanwhile): it must create the consumer again.
func (q *Queue) retire(ctx context.Context, d *drainer, cons jetstream.Consumer, pokes int) (retired, deleted bool) {
	info, err := cons.Info(ctx)
	if err != nil || info.NumPending > 0 || info.NumAckPending > 0 || info.NumWaiting > 0 {
		return false, false
	}
	q.mu.Lock()
	poked := d.pokes != pokes
	q.mu.Unlock()
	if poked {
		return false, false
	}
	// An event stored from here on stays in the stream (work-queue
	// retention keeps it until a consumer acknowledges it) and pokes d.
	if err := q.stream.DeleteConsumer(ctx, natsd.AsyncConsumer(d.fn)); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		if ctx.Err() == nil {
			q.log.Warn("async: deleting an idle consumer failed", "function", d.fn, "err", err)
		}
		return false, true
	}
	// The consumer had nothing pending, yet the stream may still hold
	// events of fn: a consumer whose leader died between taking an
	// acknowledgement and the stream removing the message, or a delivery
	// it lost track of. The consumer created again starts at the stream's
	// first message and hands them out.
	if n, err := q.stored(ctx, d.fn); err != nil || n > 0 {
		if err == nil {
			q.log.Warn("async: events stored that the consumer did not hand out; creating it again", "function", d.fn, "events", n)
		}
		return false, true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if d.pokes != pokes {
		return false, true
	}
	delete(q.drainers, d.fn)
	return true, true
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// heartbeat keeps a held message from being handed out again until stop
// is closed.
// An attempt held longer than AckWait is logged, then every
// 4*AckWait, so that an event kept from running (an attempt whose answer
// does not come) shows in the log.
func (q *Queue) heartbeat(m jetstream.Msg, stop <-chan struct{}) {
	t := time.NewTicker(q.cfg.AckWait / 3)
	defer t.Stop()
	start, logged := time.Now(), time.Time{}
	for {
		select {
		case <-t.C:
			if err := m.InProgress(); err != nil {
				q.log.Debug("async: heartbeat failed", "err", err)
			}
			if held := time.Since(start); held >= q.cfg.AckWait && time.Since(logged) >= 4*q.cfg.AckWait {
				logged = time.Now()
				var seq uint64
				if md, err := m.Metadata(); err == nil {
					seq = md.Sequence.Stream
				}
				q.log.Info("async: event still held by a running attempt", "subject", m.Subject(), "seq", seq, "held", held.Round(time.Second))
			}
		case <-stop:
			return
		}
	}
}

// delay hands the message out again after d; this process remembers it so
// the redelivery is not counted as a duplicate.
func (q *Queue) delay(m jetstream.Msg, seq uint64, d time.Duration) {
	q.mu.Lock()
	q.delayed[seq] = true
	q.mu.Unlock()
	if err := m.NakWithDelay(d); err != nil {
		q.log.Warn("async: delaying an event failed; it is handed out again after the ack wait", "err", err)
	}
}

func (q *Queue) wasDelayed(seq uint64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	ok := q.delayed[seq]
	delete(q.delayed, seq)
	return ok
}

func (q *Queue) backoff(n uint64) time.Duration {
	d := q.cfg.ThrottleBackoff
	for i := uint64(1); i < n && d < q.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, q.cfg.MaxBackoff)
}

func (q *Queue) retryDelay(attempts int) time.Duration {
	i := min(attempts-1, len(q.cfg.RetryDelays)-1)
	return q.cfg.RetryDelays[max(i, 0)]
}

// handle decides one delivery of an event. The message is acknowledged
// only after everything its outcome requires is stored; any failure on
// the way leaves it to be handed out again.
func (q *Queue) handle(ctx context.Context, m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		q.log.Error("async: message without metadata", "err", err)
		return
	}
	seq := md.Sequence.Stream
	var ev envelope
	if err := json.Unmarshal(m.Data(), &ev); err != nil {
		q.log.Error("async: undecodable event discarded", "seq", seq, "err", err)
		m.Term()
		return
	}
	again := md.NumDelivered > 1 && !q.wasDelayed(seq)
	if wait := time.UnixMilli(ev.NotBefore).Sub(q.cfg.Now()); ev.NotBefore != 0 && wait > 0 {
		q.delay(m, seq, wait)
		return
	}
	stop := make(chan struct{})
	defer close(stop)
	go q.heartbeat(m, stop)
	select {
	case q.global <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-q.global }()
	now := q.cfg.Now()

	log := q.log.With("request_id", ev.RequestID, "function", ev.Function)
	ref := registry.Ref{Name: ev.Function, Qualifier: ev.Qualifier}
	set, err := q.cfg.Settings.AsyncSettings(ref)
	if err != nil {
		log.Warn("async: function no longer exists; event discarded", "err", err)
		q.ack(ctx, m, log)
		return
	}
	enqueued := time.UnixMilli(ev.Enqueued)
	if now.Sub(enqueued) >= set.MaximumEventAge {
		q.finish(ctx, m, &ev, set, CondEventAgeExceeded, nil, log)
		return
	}
	if q.journal != nil {
		before, err := q.journal.started(seq)
		if err != nil {
			log.Warn("async: journal write failed; a duplicate after a crash may go uncounted", "err", err)
		}
		again = again || before
		defer q.journal.finished(seq)
	}
	if again {
		q.redeliveries.Inc()
	}
	// The attempt's context carries no deadline: the invoker bounds the
	// call by the function's own timeout, which the queue does not know
	// (package forward waits for a node that took the invocation and
	// died no longer than that timeout and a margin). A deadline here
	// would replace that bound with AttemptTimeout, and an event whose
	// attempt went to a node killed meanwhile would wait that long,
	// heartbeated, before running again. AttemptTimeout only backs the
	// invoker's bound up, by cancelling the attempt.
	bound := q.attemptBound(ref)
	actx, cancel := context.WithCancel(ctx)
	var expired atomic.Bool
	timer := time.AfterFunc(bound, func() {
		expired.Store(true)
		cancel()
	})
	started := time.Now()
	out, err := q.inv.Invoke(actx, &invoke.Input{
		Ref: ref, InvocationType: invoke.TypeRequestReponse, ClientContext: ev.ClientContext,
		Payload: ev.Payload, RequestID: ev.RequestID,
	})
	timer.Stop()
	cancel()
	timedOut := expired.Load()
	if took := time.Since(started); took >= q.cfg.AckWait {
		log.Info("async: long attempt ended", "seq", seq, "delivered", md.NumDelivered, "took", took.Round(time.Millisecond), "err", err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		e := awsproto.AsError(err)
		if timedOut {
			// The answer never came (the node running the attempt
			// died, say): whatever the error says, try again.
			log.Warn("async: attempt did not end in time; retrying", "timeout", bound, "err", err)
		} else if e.Code == awsproto.ResourceNotFoundException {
			log.Warn("async: function no longer exists; event discarded", "err", err)
			q.ack(ctx, m, log)
			return
		}
		// A function that is Pending or mid-update answers
		// ResourceConflictException: not retryable for a client that sent
		// the request, but the queue waits for the function to settle.
		if !timedOut && !e.Retryable() && e.Code != awsproto.ResourceConflictException {
			// The same request would fail the same way: the event has
			// failed for good, as Lambda treats errors it does not retry.
			log.Warn("async: attempt refused with a permanent error; event failed", "err", err)
			q.finish(ctx, m, &ev, set, CondRetriesExhausted, nil, log)
			return
		}
		wait := q.backoff(md.NumDelivered)
		if q.cfg.Now().Add(wait).Sub(enqueued) >= set.MaximumEventAge {
			q.finish(ctx, m, &ev, set, CondEventAgeExceeded, nil, log)
			return
		}
		log.Info("async: attempt not run; retrying", "err", err, "retry_in", wait)
		q.delay(m, seq, wait)
		return
	}
	ev.Attempts++
	if out.FunctionError == "" {
		q.finish(ctx, m, &ev, set, CondSuccess, out, log)
		return
	}
	if ev.Attempts > set.MaximumRetryAttempts {
		q.finish(ctx, m, &ev, set, CondRetriesExhausted, out, log)
		return
	}
	next := q.cfg.Now().Add(q.retryDelay(ev.Attempts))
	if next.Sub(enqueued) >= set.MaximumEventAge {
		q.finish(ctx, m, &ev, set, CondEventAgeExceeded, out, log)
		return
	}
	ev.NotBefore = (next.UnixNano() + int64(time.Millisecond) - 1) / int64(time.Millisecond) // rounded up: never early
	if err := q.publish(ctx, &ev, ev.RequestID+"."+strconv.Itoa(ev.Attempts)); err != nil {
		log.Warn("async: storing the retry failed; the attempt's event is handed out again", "err", err)
		q.delay(m, seq, q.backoff(md.NumDelivered))
		return
	}
	q.ack(ctx, m, log)
}

// attemptMargin is how much longer than its function's timeout an attempt
// may take before the queue gives up on its answer: the runtime's init, a
// cold start's code download and the forwarding margins.
const attemptMargin = 2 * time.Minute

// timeouts is what a Settings may also offer (the registry does): the
// function version an invocation of ref runs, and so its timeout.
type timeouts interface {
	ResolveInvoke(ref registry.Ref, roll float64) (registry.Target, error)
}

// attemptBound is how long an attempt of ref may run before it is
// cancelled and retried: its function's timeout and attemptMargin when
// Settings knows it, at most AttemptTimeout. An answer that never comes
// (the node running the attempt died, a step on the way waits for a
// stream leader that moved) keeps the event from running no longer than
// that.
func (q *Queue) attemptBound(ref registry.Ref) time.Duration {
	r, ok := q.cfg.Settings.(timeouts)
	if !ok || q.margin <= 0 {
		return q.cfg.AttemptTimeout
	}
	tg, err := r.ResolveInvoke(ref, 0)
	if err != nil || tg.Version.Config.Timeout <= 0 {
		return q.cfg.AttemptTimeout
	}
	return min(time.Duration(tg.Version.Config.Timeout)*time.Second+q.margin, q.cfg.AttemptTimeout)
}

func (q *Queue) ack(ctx context.Context, m jetstream.Msg, log *slog.Logger) {
	if err := m.DoubleAck(ctx); err != nil && ctx.Err() == nil {
		log.Warn("async: acknowledging failed; the event may run again", "err", err)
	}
}

// finish delivers what a decided event owes (destination record, dead-
// letter event) and then acknowledges it.
func (q *Queue) finish(ctx context.Context, m jetstream.Msg, ev *envelope, set registry.AsyncSettings, cond string, out *invoke.Output, log *slog.Logger) {
	var sends []func() error
	dest := set.OnFailure
	if cond == CondSuccess {
		dest = set.OnSuccess
	} else {
		log.Info("async: event failed", "condition", cond, "attempts", ev.Attempts)
	}
	if dest != "" {
		sends = append(sends, func() error {
			return q.deliver(ctx, dest, ev.RequestID+"."+cond, record(q.cfg, ev, cond, out), nil, log)
		})
	}
	if cond != CondSuccess && set.DeadLetter != "" {
		sends = append(sends, func() error {
			return q.deliver(ctx, set.DeadLetter, ev.RequestID+".dlq", ev.Payload, deadLetterAttributes(ev, out), log)
		})
	}
	for _, send := range sends {
		if err := send(); err != nil {
			log.Warn("async: delivering the outcome failed; the event is handed out again", "err", err)
			md, _ := m.Metadata()
			if md != nil {
				q.delay(m, md.Sequence.Stream, q.backoff(md.NumDelivered))
			}
			return
		}
	}
	q.ack(ctx, m, log)
}

// deliver queues payload for the Lambda function arn names, or sends it
// (with attrs) to the queue or topic through Config.Targets.
func (q *Queue) deliver(ctx context.Context, arn, msgID string, payload []byte, attrs map[string]Attribute, log *slog.Logger) error {
	a, err := awsarn.Parse(arn)
	if err != nil {
		log.Warn("async: destination is not an ARN; record dropped", "destination", arn)
		return nil
	}
	if a.Service != "lambda" {
		if q.cfg.Targets == nil {
			log.Warn("async: no delivery to this destination type; record dropped", "destination", arn)
			return nil
		}
		err := q.cfg.Targets.Send(ctx, arn, payload, attrs)
		var ae *awsproto.Error
		if errors.As(err, &ae) && !ae.Retryable() {
			log.Warn("async: the destination refused the record; dropped", "destination", arn, "err", err)
			return nil
		}
		return err
	}
	ref, err := q.cfg.ARNs.ParseRef(arn, 256)
	if err != nil {
		log.Warn("async: destination is not a function ARN; record dropped", "destination", arn, "err", err)
		return nil
	}
	ev := envelope{
		RequestID: awsproto.NewRequestID(), Function: ref.Name, Qualifier: ref.Qualifier,
		Payload: payload, Enqueued: q.cfg.Now().UnixMilli(),
	}
	if err := q.publish(ctx, &ev, msgID); err != nil {
		if errors.Is(err, nats.ErrMaxPayload) {
			log.Warn("async: destination record too large; dropped", "destination", arn, "bytes", len(payload))
			return nil
		}
		return err
	}
	return nil
}

// deadLetterAttributes are the message attributes of a dead-letter event:
// the request id, the status code and the function's error message.
func deadLetterAttributes(ev *envelope, out *invoke.Output) map[string]Attribute {
	code, msg := "200", ""
	if out != nil {
		code = strconv.Itoa(out.Status)
		var fe struct {
			ErrorMessage string `json:"errorMessage"`
		}
		if json.Unmarshal(out.Payload, &fe) == nil {
			msg = fe.ErrorMessage
		}
	}
	if len(msg) > 1024 {
		msg = strings.ToValidUTF8(msg[:1024], "")
	}
	attrs := map[string]Attribute{
		"RequestID": {DataType: "String", Value: ev.RequestID},
		"ErrorCode": {DataType: "Number", Value: code},
	}
	if msg != "" {
		attrs["ErrorMessage"] = Attribute{DataType: "String", Value: msg}
	}
	return attrs
}

// invocationRecord is what Lambda sends to destinations.
type invocationRecord struct {
	Version         string           `json:"version"`
	Timestamp       string           `json:"timestamp"`
	RequestContext  requestContext   `json:"requestContext"`
	RequestPayload  json.RawMessage  `json:"requestPayload"`
	ResponseContext *responseContext `json:"responseContext,omitempty"`
	ResponsePayload json.RawMessage  `json:"responsePayload,omitempty"`
}

type requestContext struct {
	RequestID              string `json:"requestId"`
	FunctionArn            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

type responseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

func record(cfg Config, ev *envelope, cond string, out *invoke.Output) []byte {
	q := ev.Qualifier
	if q == "" {
		q = registry.Latest
	}
	r := invocationRecord{
		Version:   "1.0",
		Timestamp: cfg.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		RequestContext: requestContext{
			RequestID: ev.RequestID, FunctionArn: cfg.ARNs.Qualified(ev.Function, q),
			Condition: cond, ApproximateInvokeCount: ev.Attempts,
		},
		RequestPayload: ev.Payload,
	}
	if out != nil {
		r.ResponseContext = &responseContext{StatusCode: out.Status, ExecutedVersion: out.ExecutedVersion, FunctionError: out.FunctionError}
		if json.Valid(out.Payload) {
			r.ResponsePayload = out.Payload
		} else if len(out.Payload) > 0 {
			r.ResponsePayload, _ = json.Marshal(string(out.Payload))
		}
	}
	b, _ := json.Marshal(r)
	if len(b) > invoke.MaxSyncPayload {
		// The destination could not be invoked with it; keep the request
		// and the outcome, drop the response.
		r.ResponsePayload = nil
		b, _ = json.Marshal(r)
	}
	return b
}
