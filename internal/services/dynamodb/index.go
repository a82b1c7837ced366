package dynamodb

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/btree"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/services/dynamodb/attr"
)

// streamConfig is the configuration of the items stream: one subject per
// item, whose every write rolls up (replaces) the item's previous message;
// atomic batches for transactions; a 10-minute duplicate window for their
// ClientRequestTokens.
func (s *Service) streamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:               natsd.DynamoDBStream,
		Subjects:           []string{natsd.DynamoDBSubjects},
		Storage:            jetstream.FileStorage,
		Replicas:           s.cfg.Replicas,
		AllowRollup:        true,
		AllowDirect:        true,
		AllowAtomicPublish: true,
		AllowMsgTTL:        true,
		Duplicates:         tokenWindow,
		Discard:            jetstream.DiscardOld,
	}
}

// tokenWindow is how long a TransactWriteItems ClientRequestToken is
// remembered: 10 minutes, as DynamoDB does.
const tokenWindow = 10 * time.Minute

// record is the body of an item's message: the item, or a deletion, with
// the names of the table's key attributes (so that a node can index an
// item before it has seen the table's metadata).
type record struct {
	Item    attr.Item `json:"Item,omitempty"`
	Key     attr.Item `json:"Key,omitempty"`
	Deleted bool      `json:"Deleted,omitempty"`
	H       string    `json:"H"`
	R       string    `json:"R,omitempty"`
	// T and I: a transaction's message count and this message's place
	// in it; a transaction is applied when its last message arrives.
	T int `json:"T,omitempty"`
	I int `json:"I,omitempty"`
	// Req is a ClientRequestToken's request hash (subject
	// DynamoDBTokenSubject).
	Req string `json:"Req,omitempty"`
	// TTL marks a deletion by the TTL sweeper (the service, not a user).
	TTL bool `json:"TTL,omitempty"`
	// Log is a stream's change record (subject DynamoDBLogSubject).
	Log *change `json:"Log,omitempty"`
}

// pendingMsg is a message of a transaction not yet complete.
type pendingMsg struct {
	id, kind, hash string
	seq            uint64
	rec            record
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
	tie  string // in a secondary index: the item's hash, after the sort key
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
	if c := attr.Compare(a.sk, b.sk); c != 0 {
		return c < 0
	}
	return a.tie < b.tie
}

// slot is what the index knows of one item subject: its last sequence
// (a deletion's too) and the item, if it exists.
type slot struct {
	seq uint64
	e   *entry
}

// index is one table's items as this node has applied them from the
// stream. Only the follower writes it; readers hold mu for reading.
type index struct {
	s    *Service
	id   string
	h, r string // key attribute names

	mu    sync.RWMutex
	tree  *btree.BTreeG[*entry]
	slots map[string]slot
	count int64
	size  int64
	// secondaries are the table's secondary indexes, by name, as its
	// metadata defines them (setSecondaries).
	secondaries map[string]*secondary

	stripes [64]sync.Mutex // one item's writes at a time on this node
}

// indexFor returns the index of table id, made on first use.
func (s *Service) indexFor(id, h, r string) *index {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	x := s.indexes[id]
	if x == nil {
		x = &index{s: s, id: id, h: h, r: r, tree: btree.NewG(32, less), slots: map[string]slot{}}
		s.indexes[id] = x
	}
	return x
}

// dropIndex forgets a deleted table's index; messages of the table still
// in the stream (written before the purge) are ignored from then on.
func (s *Service) dropIndex(id string) {
	s.idxMu.Lock()
	x := s.indexes[id]
	delete(s.indexes, id)
	s.dropped[id] = true
	s.idxMu.Unlock()
	if x != nil {
		x.mu.Lock()
		s.held.Add(-x.size)
		x.mu.Unlock()
	}
}

// liveIndex is indexFor, except for a dropped table: nil.
func (s *Service) liveIndex(id, h, r string) *index {
	s.idxMu.Lock()
	gone := s.dropped[id]
	s.idxMu.Unlock()
	if gone {
		return nil
	}
	return s.indexFor(id, h, r)
}

// follow applies the stream's messages in order until ctx ends,
// reopening its consumer after a failure where it left off.
func (s *Service) follow(ctx context.Context) {
	defer close(s.followDone)
	for ctx.Err() == nil {
		err := s.followOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("dynamodb: following the items stream", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (s *Service) followOnce(ctx context.Context) error {
	st, err := s.js.Stream(ctx, natsd.DynamoDBStream)
	if err != nil {
		return err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return err
	}
	s.fMu.Lock()
	start := s.applied + 1
	s.fMu.Unlock()
	s.pending = s.pending[:0] // a transaction's messages come again from start
	if info.State.LastSeq < start {
		s.markLoaded()
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
		s.applyMsg(m.Subject(), md.Sequence.Stream, m.Data())
		if md.Sequence.Stream >= info.State.LastSeq || md.NumPending == 0 {
			s.markLoaded()
		}
	}
}

func (s *Service) markLoaded() {
	select {
	case <-s.loaded:
	default:
		close(s.loaded)
	}
}

// applyMsg applies one message: an item's new image or deletion, or a
// condition check (which changes nothing). A transaction's messages are
// held until its last one arrives and then applied together, under
// applyMu, so that no reader that takes applyMu sees half of one.
func (s *Service) applyMsg(subject string, seq uint64, data []byte) {
	// kumo.ddb.<id>.<i|c>.<hash>
	parts := strings.Split(subject, ".")
	if len(parts) != 5 {
		s.advance(seq)
		return
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		s.log.Error("dynamodb: unreadable item record", "subject", subject, "seq", seq, "error", err)
		s.advance(seq)
		return
	}
	s.pending = append(s.pending, pendingMsg{id: parts[2], kind: parts[3], hash: parts[4], seq: seq, rec: rec})
	if rec.T > 1 && rec.I < rec.T-1 {
		return
	}
	s.applyMu.Lock()
	for _, p := range s.pending {
		if p.kind == "i" {
			if x := s.liveIndex(p.id, p.rec.H, p.rec.R); x != nil {
				x.apply(p.hash, p.seq, &p.rec)
			}
		}
	}
	s.applyMu.Unlock()
	s.pending = s.pending[:0]
	s.advance(seq)
}

// advance records that this node has applied the stream up to seq.
func (s *Service) advance(seq uint64) {
	s.fMu.Lock()
	if seq > s.applied {
		s.applied = seq
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.fMu.Unlock()
}

func (x *index) apply(hash string, seq uint64, rec *record) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if seq <= x.slots[hash].seq {
		return
	}
	if old := x.slots[hash].e; old != nil {
		x.tree.Delete(old)
		x.count--
		x.size -= int64(old.size)
		x.s.held.Add(-int64(old.size))
		for _, sx := range x.secondaries {
			if se := sx.entryOf(old); se != nil {
				sx.tree.Delete(se)
			}
		}
	}
	sl := slot{seq: seq}
	if !rec.Deleted && rec.Item != nil {
		e := x.entryOf(rec.Item)
		e.hash = hash
		x.tree.ReplaceOrInsert(e)
		x.count++
		x.size += int64(e.size)
		x.s.held.Add(int64(e.size))
		sl.e = e
		for _, sx := range x.secondaries {
			if se := sx.entryOf(e); se != nil {
				sx.tree.ReplaceOrInsert(se)
			}
		}
	}
	x.slots[hash] = sl
}

// entryOf makes the index entry of an item with a valid key.
func (x *index) entryOf(it attr.Item) *entry {
	pk := string(attr.KeyBytes(it[x.h]))
	e := &entry{ph: partHash(pk), pk: pk, item: it, size: attr.ItemSize(it)}
	if x.r != "" {
		e.sk = it[x.r]
	}
	return e
}

func partHash(pk string) uint64 {
	h := sha256.Sum256([]byte(pk))
	return binary.BigEndian.Uint64(h[:8])
}

// itemHash is the subject token of an item's key: 32 hex digits of the
// SHA-256 of its key values.
func itemHash(hk, rk string, key attr.Item) string {
	h := sha256.New()
	pk := attr.KeyBytes(key[hk])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(pk)))
	h.Write(n[:])
	h.Write(pk)
	if rk != "" {
		h.Write(attr.KeyBytes(key[rk]))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (x *index) stats() (int64, int64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.count, x.size
}

// ready waits until this node has replayed the stream as it was when
// the service opened.
func (s *Service) ready(ctx context.Context) error {
	select {
	case <-s.loaded:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitApplied waits until this node has applied seq.
func (s *Service) waitApplied(ctx context.Context, seq uint64) error {
	for {
		s.fMu.Lock()
		applied, ch := s.applied, s.changed
		s.fMu.Unlock()
		if applied >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.followDone:
			return awsproto.Internal(errors.New("the items stream is no longer followed"))
		}
	}
}

// sync makes this node's indexes current for a read: loaded, and for a
// strongly consistent one, caught up with the last write the stream
// acknowledged to anyone (on any node).
func (s *Service) sync(ctx context.Context, consistent bool) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	if !consistent {
		return nil
	}
	st, err := s.js.Stream(ctx, natsd.DynamoDBStream)
	if err != nil {
		return awsproto.Internal(err)
	}
	return s.catchUp(ctx, st, st.CachedInfo().State.LastSeq)
}

// catchUp waits until this node has applied every message of the stream
// up to target. A message can be gone before this node sees it (a purged
// table's, an expired token record, an image rolled up by a newer one),
// so it waits for the next message that still exists, not for target
// itself.
func (s *Service) catchUp(ctx context.Context, st jetstream.Stream, target uint64) error {
	for {
		s.fMu.Lock()
		applied := s.applied
		s.fMu.Unlock()
		if applied >= target {
			return nil
		}
		m, err := st.GetMsg(ctx, applied+1, jetstream.WithGetMsgSubject(natsd.DynamoDBSubjects))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil // nothing left to apply
		}
		if err != nil {
			return awsproto.Internal(fmt.Errorf("looking for the next message to apply: %w", err))
		}
		if m.Sequence > target {
			return nil
		}
		wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err = s.waitApplied(wctx, m.Sequence)
		cancel()
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// stripeOf is the stripe lock of an item's writes on this node.
func (x *index) stripeOf(hash string) int {
	return (int(hash[0])*31 + int(hash[1])) % len(x.stripes)
}

// waitWrite waits until this node has applied a write it published:
// at once as a rule, through catchUp when the message is slow to come (it
// may be gone: a table purged in between).
func (s *Service) waitWrite(ctx context.Context, seq uint64) error {
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	err := s.waitApplied(wctx, seq)
	cancel()
	if err == nil || ctx.Err() != nil {
		return err
	}
	st, err := s.js.Stream(ctx, natsd.DynamoDBStream)
	if err != nil {
		return awsproto.Internal(err)
	}
	return s.catchUp(ctx, st, seq)
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
	return x.writeRecord(ctx, key, false, fn)
}

// writeRecord is write; ttl marks a deletion as the TTL sweeper's.
func (x *index) writeRecord(ctx context.Context, key attr.Item, ttl bool, fn func(old attr.Item) (attr.Item, error)) (old, cur attr.Item, err error) {
	hash := itemHash(x.h, x.r, key)
	mu := &x.stripes[x.stripeOf(hash)]
	mu.Lock()
	defer mu.Unlock()
	if err := x.s.ready(ctx); err != nil {
		return nil, nil, err
	}
	subject := natsd.DynamoDBItemSubject(x.id, hash)
	for attempt := 0; ; attempt++ {
		old, seq := x.get(hash)
		cur, err := fn(old)
		if errors.Is(err, errNoWrite) {
			return old, old, nil
		}
		if err != nil {
			return old, nil, err
		}
		if err := x.s.budget(int64(attr.ItemSize(cur) - attr.ItemSize(old))); err != nil {
			return old, nil, err
		}
		rec := record{Item: cur, H: x.h, R: x.r}
		if cur == nil {
			rec = record{Key: key, Deleted: true, H: x.h, R: x.r, TTL: ttl}
		}
		body, err := json.Marshal(rec)
		if err != nil {
			return old, nil, awsproto.Internal(err)
		}
		msg := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
		if lm := x.s.changeMsg(x.s.logOf(x.id), keyNames(x.h, x.r), old, cur, ttl); lm != nil {
			// the item and its stream record are stored together or not at all
			setTI(msg, 2, 0)
			setTI(lm, 2, 1)
			msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(seq, 10))
			last, code, err := x.s.commit([]*nats.Msg{msg, lm})
			switch {
			case err != nil:
				return old, nil, awsproto.Internal(fmt.Errorf("writing an item: %w", err))
			case (code == jetstream.JSErrCodeStreamWrongLastSequence || code == jetstream.JSErrCodeStreamWrongLastSequenceConstant) && attempt < 50:
				if err := x.s.sync(ctx, true); err != nil {
					return old, nil, err
				}
				continue
			case code != 0:
				return old, nil, awsproto.Internal(fmt.Errorf("writing an item: batch refused: code %d", code))
			}
			if err := x.s.waitWrite(ctx, last); err != nil {
				return old, nil, err
			}
			return old, cur, nil
		}
		ack, err := x.s.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(seq), jetstream.WithExpectStream(natsd.DynamoDBStream))
		if err != nil {
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
				apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) && attempt < 50 {
				if err := x.s.sync(ctx, true); err != nil {
					return old, nil, err
				}
				continue
			}
			return old, nil, awsproto.Internal(fmt.Errorf("writing an item: %w", err))
		}
		if err := x.s.waitWrite(ctx, ack.Sequence); err != nil {
			return old, nil, err
		}
		return old, cur, nil
	}
}
