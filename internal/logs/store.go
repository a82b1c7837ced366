package logs

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/natsd"
)

// Defaults of Config.
const (
	DefaultFlushInterval = 50 * time.Millisecond
	DefaultFlushEvents   = 256
	DefaultStreamBudget  = 1 << 20
	DefaultGlobalBudget  = 16 << 20
	DefaultSweepInterval = time.Hour
	DefaultCloseTimeout  = 5 * time.Second
	// DefaultRetentionDays is the retention of the log groups the sink
	// creates for functions (Lambda leaves them to never expire; a server
	// on one disk cannot).
	DefaultRetentionDays = 30
	// DefaultGroupMaxBytes caps the message bytes one log group keeps:
	// past it the oldest events go first.
	DefaultGroupMaxBytes = 256 << 20
)

// timestampHeader carries an event's timestamp (ms since the epoch); the
// message body is the event's message.
const timestampHeader = "Kumo-Timestamp"

// eventsHeader marks a message holding a batch of events (their number):
// its body is, for each event, its timestamp (a varint), its message's
// length (a uvarint) and its message. A message without it holds one
// event, as timestampHeader says.
const eventsHeader = "Kumo-Events"

// An event's position is its message's stream sequence shifted left by
// posShift, plus its index in the message: tokens, event IDs and scans
// count in positions, which order events as they were stored.
const (
	posShift = 16
	posMask  = 1<<posShift - 1
)

// Limits of one stored batch: fewer events than a position can index, and
// small enough that a subscription's delivery (deliveryBytes) stays under
// what an asynchronous invocation takes.
const (
	maxBatchEvents = 2048
	maxBatchBytes  = 64 << 10
)

func position(seq uint64, idx int) uint64 { return seq<<posShift | uint64(idx) }

// encodeBatch is the body of a message holding evs.
func encodeBatch(evs []stored) []byte {
	n := 0
	for _, e := range evs {
		n += len(e.Message) + 2*binary.MaxVarintLen64
	}
	b := make([]byte, 0, n)
	for _, e := range evs {
		b = binary.AppendVarint(b, e.Time)
		b = binary.AppendUvarint(b, uint64(len(e.Message)))
		b = append(b, e.Message...)
	}
	return b
}

// errBadBatch is a stored message whose events cannot be read.
var errBadBatch = errors.New("logs: malformed stored batch")

// decodeEvents returns the events a stored message holds.
func decodeEvents(h nats.Header, data []byte) ([]stored, error) {
	count := h.Get(eventsHeader)
	if count == "" {
		ts, _ := strconv.ParseInt(h.Get(timestampHeader), 10, 64)
		return []stored{{Time: ts, Message: string(data)}}, nil
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 0 || n > posMask+1 {
		return nil, errBadBatch
	}
	out := make([]stored, 0, n)
	for range n {
		ts, k := binary.Varint(data)
		if k <= 0 {
			return nil, errBadBatch
		}
		data = data[k:]
		l, k := binary.Uvarint(data)
		if k <= 0 || l > uint64(len(data)-k) {
			return nil, errBadBatch
		}
		data = data[k:]
		out = append(out, stored{Time: ts, Message: string(data[:l])})
		data = data[l:]
	}
	return out, nil
}

// batchSpan bounds the timestamps one stored batch spans: retention
// deletes whole messages, so an old event shares a message with a young
// one only within this span of the cutoff.
const batchSpan = time.Minute

// batches cuts evs into the batches publish stores, each within
// maxBatchEvents, maxBatchBytes (a larger event alone) and batchSpan.
func batches(evs []stored) [][]stored {
	var out [][]stored
	for len(evs) > 0 {
		n, size := 0, 0
		lo, hi := evs[0].Time, evs[0].Time
		for n < len(evs) && n < maxBatchEvents {
			e := evs[n]
			size += len(e.Message) + 2*binary.MaxVarintLen64
			lo, hi = min(lo, e.Time), max(hi, e.Time)
			if n > 0 && (size > maxBatchBytes || hi-lo > batchSpan.Milliseconds()) {
				break
			}
			n++
		}
		out = append(out, evs[:n:n])
		evs = evs[n:]
	}
	return out
}

// eventOverhead is what CloudWatch Logs counts for each event on top of its
// message bytes.
const eventOverhead = 26

// Config configures Open. Zero values take the defaults.
type Config struct {
	// Region and Account go into log group ARNs.
	Region, Account string
	// Replicas is the number of servers storing the stream and bucket
	// (cluster mode); default 1. It applies when they are created.
	Replicas int
	// Logger receives storage failures; nil discards.
	Logger *slog.Logger
	// Now is the clock for retention, ingestion checks and metadata;
	// default time.Now.
	Now func() time.Time
	// FlushInterval and FlushEvents say when the sink writes what it holds:
	// after FlushInterval, or sooner once FlushEvents events wait.
	FlushInterval time.Duration
	FlushEvents   int
	// StreamBudget and GlobalBudget cap the bytes (message plus 26 bytes
	// an event) the sink holds for one log stream and overall, from Append
	// until the events are stored. Lines beyond them are dropped.
	StreamBudget, GlobalBudget int64
	// SweepInterval is how often events past their group's retention are
	// deleted; a negative value turns the sweeper off (Sweep still works).
	SweepInterval time.Duration
	// RetentionDays is the retention given to log groups the sink creates
	// (a function's first log line); default DefaultRetentionDays, a
	// negative value for never expire. Groups created through the API keep
	// CloudWatch Logs' default, never expire.
	RetentionDays int32
	// GroupMaxBytes caps the message bytes each log group keeps (default
	// DefaultGroupMaxBytes; negative for no cap): a group past it has its
	// oldest events deleted by the sweeper, at once rather than at the next
	// SweepInterval.
	GroupMaxBytes int64
	// Writable, if set, is asked before the sink stores a batch: while it
	// returns an error (a nearly full disk) the sink drops what it holds
	// and leaves a marker line once it can write again.
	Writable func() error
	// CloseTimeout bounds Close: what the sink could not store by then is
	// dropped, and a log line says how much; default DefaultCloseTimeout.
	CloseTimeout time.Duration
}

// Store holds log groups, log streams and their events. Its methods are
// safe for concurrent use.
type Store struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	js     jetstream.JetStream
	stream jetstream.Stream
	kv     jetstream.KeyValue

	mu     sync.Mutex
	groups map[string]*group // by name
	fns    Functions         // subscription filters' destinations; nil until SetFunctions

	dl      deliveries // subscription filters delivered by this node
	metrics *metricSet // metric filters' values

	sink *sink
	stop chan struct{}
	over chan string // log groups past GroupMaxBytes, for the sweeper
	wg   sync.WaitGroup
	once sync.Once
	// writes bounds the sink's writes; Close cancels it after CloseTimeout.
	writes      context.Context
	cancelWrite context.CancelFunc
}

type group struct {
	meta    groupMeta
	streams map[string]*streamMeta   // by name
	subs    map[string]*subFilter    // subscription filters by name
	mfs     map[string]*metricFilter // metric filters by name
}

// groupMeta is a log group's KV value.
type groupMeta struct {
	Name      string `json:"name"`
	Created   int64  `json:"created"`
	Retention int32  `json:"retentionInDays,omitempty"`
}

// streamMeta is a log stream's KV value.
type streamMeta struct {
	Name        string `json:"name"`
	Created     int64  `json:"created"`
	First       int64  `json:"first,omitempty"`
	Last        int64  `json:"last,omitempty"`
	LastIngest  int64  `json:"lastIngestion,omitempty"`
	StoredBytes int64  `json:"storedBytes,omitempty"`
}

// Open opens (creating on first use) the log stream and the metadata
// bucket through nc and starts the sink's flusher and the retention
// sweeper. The caller owns nc and must Close the Store before closing nc.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Store, error) {
	if nc == nil {
		return nil, errors.New("logs: nil NATS connection")
	}
	if cfg.Replicas < 1 {
		cfg.Replicas = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.FlushEvents <= 0 {
		cfg.FlushEvents = DefaultFlushEvents
	}
	if cfg.StreamBudget <= 0 {
		cfg.StreamBudget = DefaultStreamBudget
	}
	if cfg.GlobalBudget <= 0 {
		cfg.GlobalBudget = DefaultGlobalBudget
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.RetentionDays == 0 {
		cfg.RetentionDays = DefaultRetentionDays
	}
	if cfg.GroupMaxBytes == 0 {
		cfg.GroupMaxBytes = DefaultGroupMaxBytes
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = DefaultCloseTimeout
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Account == "" {
		cfg.Account = "000000000000"
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	stream, err := natsd.EnsureStream(ctx, js, jetstream.StreamConfig{
		Name:        natsd.LogsStream,
		Subjects:    []string{natsd.LogsSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    cfg.Replicas,
		AllowDirect: true,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("logs: stream %s: %w", natsd.LogsStream, err)
	}
	kv, err := natsd.EnsureKeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:   natsd.LogsBucket,
		Storage:  jetstream.FileStorage,
		Replicas: cfg.Replicas,
		History:  1,
	})
	if err != nil {
		return nil, fmt.Errorf("logs: bucket %s: %w", natsd.LogsBucket, err)
	}
	s := &Store{
		cfg: cfg, log: cfg.Logger, now: cfg.Now, js: js, stream: stream, kv: kv,
		groups:  map[string]*group{},
		metrics: newMetricSet(),
		stop:    make(chan struct{}),
		over:    make(chan string, 64),
	}
	s.writes, s.cancelWrite = context.WithCancel(context.Background())
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	s.sink = newSink(s)
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.sink.run(s.stop) }()
	if cfg.SweepInterval > 0 {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.sweeper() }()
	}
	if cfg.GroupMaxBytes > 0 {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.capper() }()
	}
	return s, nil
}

// Close stops the sweeper and the sink's flusher after a last flush of what
// the sink holds, and waits for them. It returns within CloseTimeout (plus
// a moment) even when the store cannot be written: the sink's writes are
// then cancelled, what it held is dropped, and a warning says how many
// events were lost. Lines appended afterwards are not stored. It is
// idempotent; the caller closes nc after it.
func (s *Store) Close() error {
	s.once.Do(func() {
		failed := s.sink.failedEvents()
		close(s.stop)
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		t := time.NewTimer(s.cfg.CloseTimeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			s.cancelWrite()
			<-done
		}
		s.cancelWrite()
		if n := s.sink.failedEvents() - failed; n > 0 {
			s.log.Warn("log events could not be stored before shutdown and were dropped",
				"events", n, "close_timeout", s.cfg.CloseTimeout)
		}
	})
	return nil
}

// load reads every group and stream from the bucket.
func (s *Store) load(ctx context.Context) error {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("logs: list metadata: %w", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	streams := map[string][]streamMeta{}
	var subs []subFilter
	var mfs []metricFilter
	for _, k := range keys {
		e, err := s.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("logs: read metadata %s: %w", k, err)
		}
		switch {
		case strings.HasPrefix(k, "g."):
			var g groupMeta
			if err := json.Unmarshal(e.Value(), &g); err != nil {
				s.log.Warn("skipping bad log group metadata", "key", k, "err", err)
				continue
			}
			s.groups[g.Name] = &group{meta: g, streams: map[string]*streamMeta{}}
		case strings.HasPrefix(k, "s."):
			parts := strings.SplitN(k, ".", 3)
			name, err := decodeToken(parts[1])
			if len(parts) != 3 || err != nil {
				continue
			}
			var m streamMeta
			if err := json.Unmarshal(e.Value(), &m); err != nil {
				s.log.Warn("skipping bad log stream metadata", "key", k, "err", err)
				continue
			}
			streams[name] = append(streams[name], m)
		case strings.HasPrefix(k, "sf."):
			var f subFilter
			if err := json.Unmarshal(e.Value(), &f); err != nil {
				s.log.Warn("skipping bad subscription filter", "key", k, "err", err)
				continue
			}
			subs = append(subs, f)
		case strings.HasPrefix(k, "mf."):
			var f metricFilter
			if err := json.Unmarshal(e.Value(), &f); err != nil {
				s.log.Warn("skipping bad metric filter", "key", k, "err", err)
				continue
			}
			mfs = append(mfs, f)
		}
	}
	for i := range subs {
		if g := s.groups[subs[i].Group]; g != nil {
			if g.subs == nil {
				g.subs = map[string]*subFilter{}
			}
			g.subs[subs[i].Name] = &subs[i]
		}
	}
	for i := range mfs {
		if g := s.groups[mfs[i].Group]; g != nil {
			if err := mfs[i].compile(); err != nil {
				continue
			}
			if g.mfs == nil {
				g.mfs = map[string]*metricFilter{}
			}
			g.mfs[mfs[i].Name] = &mfs[i]
		}
	}
	for gname, ms := range streams {
		g := s.groups[gname]
		if g == nil {
			continue // the group was deleted half way; its streams are leftovers
		}
		for i := range ms {
			m := ms[i]
			g.streams[m.Name] = &m
		}
	}
	return nil
}

// Tokens: names are encoded as unpadded base64url, which is both a valid
// subject token and a valid KV key token, and reversible.

func encodeToken(name string) string { return base64.RawURLEncoding.EncodeToString([]byte(name)) }

func decodeToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	return string(b), err
}

func groupKey(g string) string      { return "g." + encodeToken(g) }
func streamKey(g, st string) string { return "s." + encodeToken(g) + "." + encodeToken(st) }
func subject(g, st string) string   { return natsd.LogsSubject(encodeToken(g), encodeToken(st)) }

// streamOfSubject returns the log stream name of an event's subject.
func streamOfSubject(subj string) string {
	i := strings.LastIndexByte(subj, '.')
	name, _ := decodeToken(subj[i+1:])
	return name
}

var (
	errGroupExists  = errors.New("log group exists")
	errStreamExists = errors.New("log stream exists")
	errNoGroup      = errors.New("log group does not exist")
	errNoStream     = errors.New("log stream does not exist")
)

func (s *Store) putMeta(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = s.kv.Put(ctx, key, b)
	return err
}

// createGroup creates a group that never expires; errGroupExists if it
// exists.
func (s *Store) createGroup(ctx context.Context, name string) error {
	return s.createGroupRetained(ctx, name, 0)
}

// createGroupRetained creates a group with a retention in days (0: never
// expire); errGroupExists if it exists.
func (s *Store) createGroupRetained(ctx context.Context, name string, retention int32) error {
	s.mu.Lock()
	if s.groups[name] != nil {
		s.mu.Unlock()
		return errGroupExists
	}
	g := &group{meta: groupMeta{Name: name, Created: s.now().UnixMilli(), Retention: retention}, streams: map[string]*streamMeta{}}
	s.groups[name] = g
	meta := g.meta
	s.mu.Unlock()
	if err := s.putMeta(ctx, groupKey(name), meta); err != nil {
		s.mu.Lock()
		if s.groups[name] == g {
			delete(s.groups, name)
		}
		s.mu.Unlock()
		return err
	}
	return nil
}

// createStream creates a stream in an existing group.
func (s *Store) createStream(ctx context.Context, gname, name string) error {
	s.mu.Lock()
	g := s.groups[gname]
	if g == nil {
		s.mu.Unlock()
		return errNoGroup
	}
	if g.streams[name] != nil {
		s.mu.Unlock()
		return errStreamExists
	}
	m := &streamMeta{Name: name, Created: s.now().UnixMilli()}
	g.streams[name] = m
	meta := *m
	s.mu.Unlock()
	if err := s.putMeta(ctx, streamKey(gname, name), meta); err != nil {
		s.mu.Lock()
		if g.streams[name] == m {
			delete(g.streams, name)
		}
		s.mu.Unlock()
		return err
	}
	return nil
}

// ensure creates the group and stream if missing, as Lambda does on a
// function's first log line.
func (s *Store) ensure(ctx context.Context, gname, name string) error {
	s.mu.Lock()
	g := s.groups[gname]
	ok := g != nil && g.streams[name] != nil
	s.mu.Unlock()
	if ok {
		return nil
	}
	if err := s.createGroupRetained(ctx, gname, max(s.cfg.RetentionDays, 0)); err != nil && !errors.Is(err, errGroupExists) {
		return err
	}
	if err := s.createStream(ctx, gname, name); err != nil && !errors.Is(err, errStreamExists) {
		return err
	}
	return nil
}

// deleteGroup removes a group, its streams' metadata and its events.
func (s *Store) deleteGroup(ctx context.Context, name string) error {
	s.mu.Lock()
	g := s.groups[name]
	if g == nil {
		s.mu.Unlock()
		return errNoGroup
	}
	delete(s.groups, name)
	var streams []string
	for n := range g.streams {
		streams = append(streams, n)
	}
	var subs []subFilter
	for _, f := range g.subs {
		subs = append(subs, *f)
	}
	var mfs []string
	for n := range g.mfs {
		mfs = append(mfs, n)
	}
	s.mu.Unlock()
	if err := s.kv.Delete(ctx, groupKey(name)); err != nil {
		return err
	}
	// A group's filters go with it, as in CloudWatch Logs.
	for _, f := range subs {
		if err := s.deleteSub(ctx, f); err != nil {
			return err
		}
	}
	for _, n := range mfs {
		if err := s.kv.Delete(ctx, metricKey(name, n)); err != nil {
			return err
		}
	}
	for _, st := range streams {
		if err := s.kv.Delete(ctx, streamKey(name, st)); err != nil {
			return err
		}
	}
	err := s.stream.Purge(ctx, jetstream.WithPurgeSubject(natsd.LogsGroupSubjects(encodeToken(name))))
	return err
}

// setRetention sets a group's retention; days 0 means never expire.
func (s *Store) setRetention(ctx context.Context, name string, days int32) error {
	s.mu.Lock()
	g := s.groups[name]
	if g == nil {
		s.mu.Unlock()
		return errNoGroup
	}
	g.meta.Retention = days
	meta := g.meta
	s.mu.Unlock()
	return s.putMeta(ctx, groupKey(name), meta)
}

// groupInfo returns a copy of a group's metadata and its streams.
func (s *Store) groupInfo(name string) (groupMeta, []streamMeta, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[name]
	if g == nil {
		return groupMeta{}, nil, false
	}
	out := make([]streamMeta, 0, len(g.streams))
	for _, m := range g.streams {
		out = append(out, *m)
	}
	return g.meta, out, true
}

// stored is an event as written.
type stored struct {
	Time    int64
	Message string
}

// noteStored updates a stream's metadata after events were stored and
// writes it to the bucket.
func (s *Store) noteStored(ctx context.Context, gname, name string, evs []stored) error {
	if len(evs) == 0 {
		return nil
	}
	s.mu.Lock()
	g := s.groups[gname]
	var m *streamMeta
	if g != nil {
		m = g.streams[name]
	}
	if m == nil {
		s.mu.Unlock()
		return nil // deleted meanwhile
	}
	for _, e := range evs {
		if m.First == 0 || e.Time < m.First {
			m.First = e.Time
		}
		if e.Time > m.Last {
			m.Last = e.Time
		}
		m.StoredBytes += int64(len(e.Message))
	}
	m.LastIngest = s.now().UnixMilli()
	meta := *m
	over := s.cfg.GroupMaxBytes > 0 && groupBytes(g) > s.cfg.GroupMaxBytes
	s.mu.Unlock()
	if over {
		select {
		case s.over <- gname:
		default: // the capper is busy; a later batch asks again
		}
	}
	return s.putMeta(ctx, streamKey(gname, name), meta)
}

// groupBytes is the message bytes a group stores. Caller holds s.mu.
func groupBytes(g *group) int64 {
	var n int64
	for _, m := range g.streams {
		n += m.StoredBytes
	}
	return n
}

// capper deletes the oldest events of the groups noteStored finds past
// GroupMaxBytes, down to 90% of it.
func (s *Store) capper() {
	base, stop := context.WithCancel(context.Background())
	defer stop()
	go func() { <-s.stop; stop() }()
	for {
		select {
		case <-s.stop:
			return
		case name := <-s.over:
			ctx, cancel := context.WithTimeout(base, 10*time.Minute)
			if err := s.capGroup(ctx, name, s.cfg.GroupMaxBytes/10*9); err != nil && base.Err() == nil {
				s.log.Warn("deleting the oldest events of a log group past its size cap", "logGroup", name, "err", err)
			}
			cancel()
		}
	}
}

// capGroup deletes a group's oldest events (in the order they were
// stored) until it keeps at most keep message bytes.
func (s *Store) capGroup(ctx context.Context, name string, keep int64) error {
	s.mu.Lock()
	g := s.groups[name]
	var excess int64
	if g != nil {
		excess = groupBytes(g) - keep
	}
	s.mu.Unlock()
	if excess <= 0 {
		return nil
	}
	type cut struct {
		to    uint64 // first sequence kept
		freed int64
	}
	cuts := map[string]*cut{}
	var freed int64
	err := s.scan(ctx, []string{natsd.LogsGroupSubjects(encodeToken(name))}, 0, time.Time{}, func(e event) bool {
		c := cuts[e.Stream]
		if c == nil {
			c = &cut{}
			cuts[e.Stream] = c
		}
		c.to = e.Msg + 1
		c.freed += int64(len(e.Message))
		freed += int64(len(e.Message))
		return freed < excess || !e.Last // purges delete whole messages
	})
	if err != nil {
		return err
	}
	for st, c := range cuts {
		if err := s.stream.Purge(ctx, jetstream.WithPurgeSubject(subject(name, st)), jetstream.WithPurgeSequence(c.to)); err != nil {
			return err
		}
		s.mu.Lock()
		var meta streamMeta
		var m *streamMeta
		if g := s.groups[name]; g != nil {
			m = g.streams[st]
		}
		if m != nil {
			m.StoredBytes = max(0, m.StoredBytes-c.freed)
			meta = *m
		}
		s.mu.Unlock()
		if m != nil {
			if err := s.putMeta(ctx, streamKey(name, st), meta); err != nil {
				return err
			}
		}
	}
	s.log.Info("log group past its size cap: oldest events deleted", "logGroup", name, "bytes", freed, "cap", s.cfg.GroupMaxBytes)
	return nil
}

// publish stores events in one log stream, as few messages as the batch
// limits allow, and waits for their acks. It returns the last message's
// stream sequence.
func (s *Store) publish(ctx context.Context, gname, name string, evs []stored) (uint64, error) {
	subj := subject(gname, name)
	var last uint64
	const window = 1024
	futures := make([]jetstream.PubAckFuture, 0, min(len(evs), window))
	wait := func() error {
		for _, f := range futures {
			select {
			case ack := <-f.Ok():
				last = max(last, ack.Sequence)
			case err := <-f.Err():
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		futures = futures[:0]
		return nil
	}
	for _, b := range batches(evs) {
		msg := &nats.Msg{Subject: subj, Header: nats.Header{}}
		if len(b) == 1 {
			msg.Data = []byte(b[0].Message)
			msg.Header.Set(timestampHeader, strconv.FormatInt(b[0].Time, 10))
		} else {
			msg.Data = encodeBatch(b)
			msg.Header.Set(eventsHeader, strconv.Itoa(len(b)))
		}
		f, err := s.js.PublishMsgAsync(msg)
		if err != nil {
			return last, err
		}
		futures = append(futures, f)
		if len(futures) == window {
			if err := wait(); err != nil {
				return last, err
			}
		}
	}
	if err := wait(); err != nil {
		return last, err
	}
	s.countMetrics(gname, evs)
	return last, s.noteStored(ctx, gname, name, evs)
}

// event is an event as read back.
type event struct {
	Seq     uint64 // position (see posShift)
	Msg     uint64 // stream sequence of the message holding it
	Last    bool   // the last event of its message
	Stream  string
	Time    int64
	Ingest  int64
	Message string
}

// scanBatch is how many messages a scan fetches at a time.
const scanBatch = 256

// scan calls fn for each event on subjects (wildcards allowed) with a
// position of at least from, in position order, until fn returns false or
// the events present when the scan began are exhausted. With from at most
// the first message's first position and a non-zero since, the scan
// starts at the first message stored at or after since instead.
func (s *Store) scan(ctx context.Context, subjects []string, from uint64, since time.Time, fn func(event) bool) error {
	cc := jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       max(from>>posShift, 1),
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
		Replicas:          1,
	}
	if from <= position(1, 0) && !since.IsZero() {
		cc.DeliverPolicy, cc.OptStartSeq, cc.OptStartTime = jetstream.DeliverByStartTimePolicy, 0, &since
	}
	if len(subjects) == 1 {
		cc.FilterSubject = subjects[0]
	} else {
		cc.FilterSubjects = subjects
	}
	cons, err := s.stream.CreateConsumer(ctx, cc)
	if err != nil {
		return err
	}
	info := cons.CachedInfo()
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.stream.DeleteConsumer(dctx, info.Name)
	}()
	pending := info.NumPending
	for pending > 0 {
		n := int(min(pending, scanBatch))
		batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return err
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				return err
			}
			pending = md.NumPending
			evs, err := decodeEvents(m.Headers(), m.Data())
			if err != nil {
				s.log.Warn("skipping a stored log message", "seq", md.Sequence.Stream, "err", err)
				continue
			}
			st := streamOfSubject(m.Subject())
			for i, se := range evs {
				e := event{Seq: position(md.Sequence.Stream, i), Msg: md.Sequence.Stream, Last: i == len(evs)-1,
					Stream: st, Time: se.Time, Ingest: md.Timestamp.UnixMilli(), Message: se.Message}
				if e.Seq < from {
					continue
				}
				if !fn(e) {
					return nil
				}
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return err
		}
		if got == 0 {
			return nil // the rest was deleted meanwhile
		}
	}
	return nil
}

// lastPos is the last position the stream's last message can hold.
func (s *Store) lastPos(ctx context.Context) (uint64, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, err
	}
	return position(info.State.LastSeq, posMask), nil
}

// Sweep deletes the events older than their group's retention.
func (s *Store) Sweep(ctx context.Context) error {
	s.mu.Lock()
	type job struct {
		name string
		days int32
	}
	var jobs []job
	for n, g := range s.groups {
		if g.meta.Retention > 0 {
			jobs = append(jobs, job{n, g.meta.Retention})
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, j := range jobs {
		cutoff := s.now().Add(-time.Duration(j.days) * 24 * time.Hour).UnixMilli()
		if err := s.sweepGroup(ctx, j.name, cutoff); err != nil {
			errs = append(errs, fmt.Errorf("log group %s: %w", j.name, err))
		}
	}
	return errors.Join(errs...)
}

// sweepGroup deletes a group's events timestamped before cutoff: the old
// events at the head of each log stream with one purge, any later ones
// (events put out of order) one by one.
func (s *Store) sweepGroup(ctx context.Context, name string, cutoff int64) error {
	type head struct {
		purgeTo uint64 // first sequence to keep; 0: no young event seen yet
		old     bool   // some head events are old
		freed   int64  // message bytes deleted
		first   int64  // earliest timestamp kept; 0 if none
	}
	heads := map[string]*head{}
	var singles []uint64
	// A message goes when all its events are old; one holding a young
	// event stays whole.
	var msgOld bool
	var msgBytes, msgFirst int64
	err := s.scan(ctx, []string{natsd.LogsGroupSubjects(encodeToken(name))}, 0, time.Time{}, func(e event) bool {
		if e.Seq&posMask == 0 {
			msgOld, msgBytes, msgFirst = true, 0, 0
		}
		msgOld = msgOld && e.Time < cutoff
		msgBytes += int64(len(e.Message))
		if msgFirst == 0 || e.Time < msgFirst {
			msgFirst = e.Time
		}
		if !e.Last {
			return true
		}
		h := heads[e.Stream]
		if h == nil {
			h = &head{}
			heads[e.Stream] = h
		}
		if msgOld {
			h.freed += msgBytes
			if h.purgeTo == 0 {
				h.old = true
			} else {
				singles = append(singles, e.Msg)
			}
		} else {
			if h.purgeTo == 0 {
				h.purgeTo = e.Msg
			}
			if h.first == 0 || msgFirst < h.first {
				h.first = msgFirst
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	for st, h := range heads {
		if !h.old {
			continue
		}
		opts := []jetstream.StreamPurgeOpt{jetstream.WithPurgeSubject(subject(name, st))}
		if h.purgeTo > 0 {
			opts = append(opts, jetstream.WithPurgeSequence(h.purgeTo))
		}
		if err := s.stream.Purge(ctx, opts...); err != nil {
			return err
		}
	}
	for _, seq := range singles {
		if err := s.stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return err
		}
	}
	for st, h := range heads {
		if h.freed == 0 {
			continue
		}
		s.mu.Lock()
		var meta streamMeta
		g := s.groups[name]
		m := (*streamMeta)(nil)
		if g != nil {
			m = g.streams[st]
		}
		if m != nil {
			m.StoredBytes = max(0, m.StoredBytes-h.freed)
			m.First = h.first
			meta = *m
		}
		s.mu.Unlock()
		if m != nil {
			if err := s.putMeta(ctx, streamKey(name, st), meta); err != nil {
				return err
			}
		}
	}
	return nil
}

// sweeper runs Sweep a minute after Open (or after SweepInterval, if
// shorter) and then every SweepInterval.
func (s *Store) sweeper() {
	t := time.NewTimer(min(time.Minute, s.cfg.SweepInterval))
	defer t.Stop()
	base, stop := context.WithCancel(context.Background())
	defer stop()
	go func() { <-s.stop; stop() }()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(base, max(s.cfg.SweepInterval, 10*time.Minute))
		if err := s.Sweep(ctx); err != nil && base.Err() == nil {
			s.log.Warn("deleting expired log events", "err", err)
		}
		cancel()
		t.Reset(s.cfg.SweepInterval)
	}
}
