package dynamodb

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/btree"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/services/dynamodb/attr"
)

// streamConfig is the configuration of a table's stream: one subject per
// item, whose every write rolls up (replaces) the item's previous message.
func (s *Service) streamConfig(id string) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        natsd.DynamoDBStream(id),
		Subjects:    []string{natsd.DynamoDBSubjects(id)},
		Storage:     jetstream.FileStorage,
		Replicas:    s.cfg.Replicas,
		AllowRollup: true,
		AllowDirect: true,
		Discard:     jetstream.DiscardOld,
	}
}

// record is the body of an item's message: the item, or a deletion.
type record struct {
	Item    attr.Item `json:"Item,omitempty"`
	Key     attr.Item `json:"Key,omitempty"`
	Deleted bool      `json:"Deleted,omitempty"`
}

// entry is one item in a table's ordered index.
type entry struct {
	ph   uint64 // the partition key's hash: the scan order
	pk   string // the partition key's bytes (attr.KeyBytes)
	sk   attr.Value
	edge int8 // -1/+1: a pivot before/after every sort key of pk
	item attr.Item
	size int
	hash string // the item's subject token
}

func less(a, b *entry) bool {
	if a.ph != b.ph {
		return a.ph < b.ph
	}
	if a.pk != b.pk {
		return a.pk < b.pk
	}
	if a.edge != b.edge || a.edge != 0 {
		if a.edge == 0 {
			return b.edge > 0
		}
		if b.edge == 0 {
			return a.edge < 0
		}
		return a.edge < b.edge
	}
	return attr.Compare(a.sk, b.sk) < 0
}

// slot is what the index knows of one item subject: its last sequence
// (a deletion's too) and the item, if it exists.
type slot struct {
	seq uint64
	e   *entry
}

// index is one table's items as this node has applied them from the
// table's stream. One goroutine (run) applies messages; readers hold mu
// for reading.
type index struct {
	s      *Service
	meta   *tableMeta // key schema: never changes
	stream string

	mu      sync.RWMutex
	tree    *btree.BTreeG[*entry]
	slots   map[string]slot
	applied uint64
	count   int64
	size    int64
	changed chan struct{} // closed and replaced after every apply

	loaded chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	stripes [64]sync.Mutex // one item's writes at a time on this node
}

func (s *Service) startIndex(m *tableMeta) *index {
	ctx, cancel := context.WithCancel(s.bg)
	x := &index{s: s, meta: m, stream: natsd.DynamoDBStream(m.ID), tree: btree.NewG(32, less), slots: map[string]slot{},
		changed: make(chan struct{}), loaded: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(x.done)
		x.run(ctx)
	}()
	return x
}

func (x *index) stop() { x.cancel() }

// run applies the stream's messages in order until ctx ends, reopening
// its consumer after a failure.
func (x *index) run(ctx context.Context) {
	for ctx.Err() == nil {
		err := x.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		x.s.log.Warn("dynamodb: following a table's stream", "stream", x.stream, "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (x *index) follow(ctx context.Context) error {
	st, err := x.s.js.Stream(ctx, x.stream)
	if err != nil {
		return err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return err
	}
	x.mu.Lock()
	start := x.applied + 1
	x.mu.Unlock()
	if info.State.LastSeq < start {
		x.markLoaded()
	}
	c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: start})
	if err != nil {
		return err
	}
	it, err := c.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	for {
		m, err := it.Next()
		if err != nil {
			return err
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		x.applyMsg(m.Subject(), md.Sequence.Stream, m.Data())
		if md.Sequence.Stream >= info.State.LastSeq || md.NumPending == 0 {
			x.markLoaded()
		}
	}
}

func (x *index) markLoaded() {
	select {
	case <-x.loaded:
	default:
		close(x.loaded)
	}
}

func (x *index) applyMsg(subject string, seq uint64, data []byte) {
	hash := subject[len(subject)-32:]
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		x.s.log.Error("dynamodb: unreadable item record", "stream", x.stream, "seq", seq, "error", err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if seq <= x.applied {
		return
	}
	if old := x.slots[hash].e; old != nil {
		x.tree.Delete(old)
		x.count--
		x.size -= int64(old.size)
	}
	sl := slot{seq: seq}
	if !rec.Deleted && rec.Item != nil {
		e := x.entryOf(rec.Item)
		e.hash = hash
		x.tree.ReplaceOrInsert(e)
		x.count++
		x.size += int64(e.size)
		sl.e = e
	}
	x.slots[hash] = sl
	x.applied = seq
	close(x.changed)
	x.changed = make(chan struct{})
}

// entryOf makes the index entry of an item with a valid key.
func (x *index) entryOf(it attr.Item) *entry {
	pk := string(attr.KeyBytes(it[x.meta.hashKey()]))
	e := &entry{ph: partHash(pk), pk: pk, item: it, size: attr.ItemSize(it)}
	if r := x.meta.rangeKey(); r != "" {
		e.sk = it[r]
	}
	return e
}

func partHash(pk string) uint64 {
	h := sha256.Sum256([]byte(pk))
	return binary.BigEndian.Uint64(h[:8])
}

// itemHash is the subject token of an item's key: 32 hex digits of the
// SHA-256 of its key values.
func itemHash(m *tableMeta, key attr.Item) string {
	h := sha256.New()
	pk := attr.KeyBytes(key[m.hashKey()])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(pk)))
	h.Write(n[:])
	h.Write(pk)
	if r := m.rangeKey(); r != "" {
		h.Write(attr.KeyBytes(key[r]))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (x *index) stats() (int64, int64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.count, x.size
}

// ready waits until the index has replayed the stream as it was when the
// index started.
func (x *index) ready(ctx context.Context) error {
	select {
	case <-x.loaded:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-x.done:
		return notFound()
	}
}

// waitApplied waits until the index has applied seq.
func (x *index) waitApplied(ctx context.Context, seq uint64) error {
	for {
		x.mu.RLock()
		applied, ch := x.applied, x.changed
		x.mu.RUnlock()
		if applied >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-x.done:
			return notFound()
		}
	}
}

// sync makes the index current for a read: loaded, and for a strongly
// consistent one, caught up with the last write the stream acknowledged
// to anyone (on any node).
func (x *index) sync(ctx context.Context, consistent bool) error {
	if err := x.ready(ctx); err != nil {
		return err
	}
	if !consistent {
		return nil
	}
	st, err := x.s.js.Stream(ctx, x.stream)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return notFound()
		}
		return awsproto.Internal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return awsproto.Internal(err)
	}
	return x.waitApplied(ctx, info.State.LastSeq)
}

// get returns the item with key (nil if none) and its subject's last
// sequence.
func (x *index) get(hash string) (attr.Item, uint64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	sl := x.slots[hash]
	if sl.e == nil {
		return nil, sl.seq
	}
	return sl.e.item, sl.seq
}

// errNoWrite from a write's fn: nothing to write (deleting a missing item).
var errNoWrite = errors.New("dynamodb: nothing to write")

// write changes one item: fn sees the current item (nil if none) and
// returns the new one (nil: delete). The write is published with the
// item's last sequence as its precondition, so no write in between (from
// this node or another) is lost: on a conflict the index catches up with
// the stream and fn runs again. It returns once the index has applied the
// write.
func (x *index) write(ctx context.Context, key attr.Item, fn func(old attr.Item) (attr.Item, error)) (old, cur attr.Item, err error) {
	hash := itemHash(x.meta, key)
	mu := &x.stripes[(int(hash[0])*31+int(hash[1]))%len(x.stripes)]
	mu.Lock()
	defer mu.Unlock()
	if err := x.ready(ctx); err != nil {
		return nil, nil, err
	}
	subject := natsd.DynamoDBItemSubject(x.meta.ID, hash)
	for attempt := 0; ; attempt++ {
		old, seq := x.get(hash)
		cur, err := fn(old)
		if errors.Is(err, errNoWrite) {
			return old, old, nil
		}
		if err != nil {
			return old, nil, err
		}
		rec := record{Item: cur}
		if cur == nil {
			rec = record{Key: key, Deleted: true}
		}
		body, err := json.Marshal(rec)
		if err != nil {
			return old, nil, awsproto.Internal(err)
		}
		msg := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
		ack, err := x.s.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(seq), jetstream.WithExpectStream(x.stream))
		if err != nil {
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
				apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) && attempt < 50 {
				if err := x.sync(ctx, true); err != nil {
					return old, nil, err
				}
				continue
			}
			if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, jetstream.ErrStreamNotFound) {
				select {
				case <-x.done:
					return old, nil, notFound()
				default:
				}
			}
			return old, nil, awsproto.Internal(fmt.Errorf("writing an item: %w", err))
		}
		if err := x.waitApplied(ctx, ack.Sequence); err != nil {
			return old, nil, err
		}
		return old, cur, nil
	}
}
