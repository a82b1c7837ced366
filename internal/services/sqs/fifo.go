package sqs

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/store"
)

// FIFO queues deliver by message group (see doc.go): a group's visible
// messages are on their own subject of the queue's stream, read in order
// with direct gets, and which of them are in flight is a record per group
// in the queue bucket ("f.<queue id>.<group token>"), written with
// compare-and-set before a receive answers. A group with a message in
// flight is held; the others flow.

const groupPrefix = "f."

// groupToken is a message group's id as one subject and key token.
func groupToken(group string) string { return base64.RawURLEncoding.EncodeToString([]byte(group)) }

func groupKey(qid, token string) string { return groupPrefix + qid + "." + token }

// inflight is one received message of a group: kept from its first
// receive until it is deleted (or moved to the dead-letter queue), so its
// receive count survives its visibility timeout.
type inflight struct {
	Seq   uint64 `json:"s"`
	Until int64  `json:"u"` // unix ms: invisible until then
	Count uint64 `json:"c"` // ApproximateReceiveCount
	First int64  `json:"f"` // ApproximateFirstReceiveTimestamp, unix ms
	Nonce string `json:"n"` // the latest receive's, in its receipt handle
}

// groupState is a message group's received messages, by sequence.
type groupState struct {
	Msgs []inflight `json:"m,omitempty"`
}

// held reports whether one of the group's messages is in flight at now.
func (g *groupState) held(now int64) bool {
	for _, m := range g.Msgs {
		if m.Until > now {
			return true
		}
	}
	return false
}

func (g *groupState) find(seq uint64) int {
	for i, m := range g.Msgs {
		if m.Seq == seq {
			return i
		}
	}
	return -1
}

// cachedGroup is this process's last view of a group record; the bucket
// is the truth, compare-and-set catches a stale view.
type cachedGroup struct {
	rev uint64 // 0: no record
	st  groupState
}

func (s *Service) cachedGroup(qid, token string) (cachedGroup, bool) {
	s.groupMu.Lock()
	defer s.groupMu.Unlock()
	c, ok := s.groups[groupKey(qid, token)]
	return c, ok
}

func (s *Service) cacheGroup(qid, token string, c *cachedGroup) {
	s.groupMu.Lock()
	defer s.groupMu.Unlock()
	k := groupKey(qid, token)
	if c == nil {
		delete(s.groups, k)
		return
	}
	if len(s.groups) >= maxInflight {
		clear(s.groups)
	}
	s.groups[k] = *c
}

// loadGroup reads a group's record: the cached view unless fresh is set
// or there is none.
func (s *Service) loadGroup(ctx context.Context, qid, token string, fresh bool) (cachedGroup, error) {
	if !fresh {
		if c, ok := s.cachedGroup(qid, token); ok {
			return c, nil
		}
	}
	e, err := s.cfg.KV.Get(ctx, groupKey(qid, token))
	if errors.Is(err, store.ErrNotFound) {
		c := cachedGroup{}
		s.cacheGroup(qid, token, &c)
		return c, nil
	}
	if err != nil {
		return cachedGroup{}, awsproto.Internal(fmt.Errorf("sqs: message group of %s: %w", qid, err))
	}
	var c cachedGroup
	if err := json.Unmarshal(e.Value, &c.st); err != nil {
		return cachedGroup{}, awsproto.Internal(fmt.Errorf("sqs: message group of %s: %w", qid, err))
	}
	c.rev = e.Revision
	s.cacheGroup(qid, token, &c)
	return c, nil
}

// storeGroup writes a group's record if it is still at c.rev (deleting it
// when no message is left): store.ErrConflict when another receive or
// another node wrote it first.
func (s *Service) storeGroup(ctx context.Context, qid, token string, c cachedGroup) error {
	key := groupKey(qid, token)
	var err error
	switch {
	case len(c.st.Msgs) == 0 && c.rev == 0:
		return nil
	case len(c.st.Msgs) == 0:
		err = s.cfg.KV.Delete(ctx, key, c.rev)
		if errors.Is(err, store.ErrNotFound) {
			err = store.ErrConflict
		}
		c.rev = 0
	default:
		b, _ := json.Marshal(&c.st)
		if c.rev == 0 {
			c.rev, err = s.cfg.KV.Create(ctx, key, b)
			if errors.Is(err, store.ErrExists) {
				err = store.ErrConflict
			}
		} else {
			c.rev, err = s.cfg.KV.Update(ctx, key, b, c.rev)
		}
	}
	if errors.Is(err, store.ErrConflict) {
		s.cacheGroup(qid, token, nil)
		return err
	}
	if err != nil {
		return awsproto.Internal(fmt.Errorf("sqs: message group of %s: %w", qid, err))
	}
	s.cacheGroup(qid, token, &c)
	return nil
}

// updateGroup applies f to a group's record until the write does not
// conflict; f returning an error leaves the record alone.
func (s *Service) updateGroup(ctx context.Context, qid, token string, f func(c *cachedGroup) error) error {
	fresh := false
	for {
		c, err := s.loadGroup(ctx, qid, token, fresh)
		if err != nil {
			return err
		}
		c.st.Msgs = slices.Clone(c.st.Msgs)
		if err := f(&c); err != nil {
			return err
		}
		err = s.storeGroup(ctx, qid, token, c)
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
		if err := ctx.Err(); err != nil {
			return awsproto.Internal(err)
		}
		fresh = true
	}
}

// subject is where a visible message of q goes: its group's subject in a
// FIFO queue.
func visibleSubject(q *queue, m *envelope) string {
	if q.fifo() {
		return natsd.SQSGroupSubject(q.ID, groupToken(m.Group))
	}
	return natsd.SQSSubject(q.ID)
}

// receiveFIFO is receive for a FIFO queue: it waits up to wait for a
// group that is not held, then takes up to max messages, as many as it can
// of one group before the next, oldest group first.
func (s *Service) receiveFIFO(ctx context.Context, q *queue, rt *runtime, max int, wait time.Duration, vt int) ([]delivery, error) {
	deadline := s.cfg.Now().Add(wait)
	var kick chan struct{}
	for {
		if err := s.promote(ctx, q, rt); err != nil {
			return nil, err
		}
		out, err := s.takeFIFO(ctx, q, rt, max, vt)
		if err != nil || len(out) > 0 {
			return out, err
		}
		left := deadline.Sub(s.cfg.Now())
		if left <= 0 || ctx.Err() != nil {
			return nil, nil
		}
		if kick == nil {
			// A publish to any group wakes the poll at once; expiring
			// visibility and due delayed messages are seen at the next
			// look, at most MaxPollInterval away.
			kick = make(chan struct{}, 1)
			sub, err := s.cfg.NC.Subscribe(natsd.SQSGroupSubjects(q.ID), func(*nats.Msg) {
				select {
				case kick <- struct{}{}:
				default:
				}
			})
			if err != nil {
				return nil, awsproto.Internal(fmt.Errorf("sqs: waiting on %s: %w", q.Name, err))
			}
			defer func() { _ = sub.Unsubscribe() }()
			if err := s.cfg.NC.FlushWithContext(ctx); err != nil && ctx.Err() == nil {
				return nil, awsproto.Internal(fmt.Errorf("sqs: waiting on %s: %w", q.Name, err))
			}
			continue // look again: a message may have come before the subscription
		}
		t := time.NewTimer(min(left, s.cfg.MaxPollInterval))
		select {
		case <-kick:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// head is the oldest visible message of a group.
type head struct {
	token, subject string
	msg            *jetstream.RawStreamMsg
}

// perGroupHeads is how many groups that are not held a receive reads the
// heads of one by one; with more, it scans the stream in order instead.
const perGroupHeads = 32

// scanBatch is how many messages one direct get of a scan returns.
const scanBatch = 256

// takeFIFO takes what is visible now: the heads of the groups that are
// not held, oldest first, and from each as many of its messages as the
// receive may take. With few such groups their heads are read one by
// one; with many, the stream is read in order (batched direct gets), the
// first message seen of a group being its head.
func (s *Service) takeFIFO(ctx context.Context, q *queue, rt *runtime, limit int, vt int) ([]delivery, error) {
	info, err := rt.stream.Info(ctx, jetstream.WithSubjectFilter(natsd.SQSGroupSubjects(q.ID)))
	if err != nil {
		return nil, awsproto.Internal(fmt.Errorf("sqs: message groups of %s: %w", q.Name, err))
	}
	now := s.cfg.Now().UnixMilli()
	var open []string // subjects of the groups not held
	for subj := range info.State.Subjects {
		if c, ok := s.cachedGroup(q.ID, subjectToken(subj)); !ok || !c.st.held(now) {
			open = append(open, subj)
		}
	}
	first := max(info.State.FirstSeq, 1)
	if len(open) > perGroupHeads {
		return s.scanFIFO(ctx, q, rt, first, limit, vt)
	}
	var heads []head
	for _, subj := range open {
		m, err := rt.stream.GetMsg(ctx, first, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, awsproto.Internal(fmt.Errorf("sqs: message group of %s: %w", q.Name, err))
		}
		heads = append(heads, head{token: subjectToken(subj), subject: subj, msg: m})
	}
	slices.SortFunc(heads, func(a, b head) int { return cmp.Compare(a.msg.Sequence, b.msg.Sequence) })
	var out []delivery
	for _, h := range heads {
		if len(out) >= limit {
			break
		}
		ds, err := s.takeGroup(ctx, q, rt, h, limit-len(out), vt)
		if err != nil {
			return out, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

func subjectToken(subj string) string { return subj[strings.LastIndexByte(subj, '.')+1:] }

// scanFIFO is takeFIFO over the stream in order from seq.
func (s *Service) scanFIFO(ctx context.Context, q *queue, rt *runtime, seq uint64, limit int, vt int) ([]delivery, error) {
	seen := map[string]bool{}
	var out []delivery
	for len(out) < limit {
		msgs, err := s.directBatch(ctx, q, seq, scanBatch)
		if err != nil {
			return out, err
		}
		if len(msgs) == 0 {
			break
		}
		now := s.cfg.Now().UnixMilli()
		for _, m := range msgs {
			seq = m.Sequence + 1
			token := subjectToken(m.Subject)
			if seen[token] || len(out) >= limit {
				continue
			}
			seen[token] = true
			if c, ok := s.cachedGroup(q.ID, token); ok && c.st.held(now) {
				continue
			}
			ds, err := s.takeGroup(ctx, q, rt, head{token: token, subject: m.Subject, msg: m}, limit-len(out), vt)
			if err != nil {
				return out, err
			}
			out = append(out, ds...)
		}
		if len(msgs) < scanBatch {
			break
		}
	}
	return out, nil
}

// directBatch reads up to n of q's group messages from seq on in one
// direct get (the stream allows direct gets).
func (s *Service) directBatch(parent context.Context, q *queue, seq uint64, n int) ([]*jetstream.RawStreamMsg, error) {
	ctx, cancel := context.WithTimeout(parent, s.ackTimeout)
	defer cancel()
	inbox := nats.NewInbox()
	sub, err := s.cfg.NC.SubscribeSync(inbox)
	if err != nil {
		return nil, awsproto.Internal(fmt.Errorf("sqs: scanning %s: %w", q.Name, err))
	}
	defer func() { _ = sub.Unsubscribe() }()
	req, _ := json.Marshal(map[string]any{"seq": seq, "next_by_subj": natsd.SQSGroupSubjects(q.ID), "batch": n})
	if err := s.cfg.NC.PublishRequest("$JS.API.DIRECT.GET."+natsd.SQSStream(q.ID), inbox, req); err != nil {
		return nil, awsproto.Internal(fmt.Errorf("sqs: scanning %s: %w", q.Name, err))
	}
	var out []*jetstream.RawStreamMsg
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, awsproto.Internal(fmt.Errorf("sqs: scanning %s: %w", q.Name, err))
		}
		switch m.Header.Get("Status") {
		case "204", "404": // end of the batch; nothing (more) there
			return out, nil
		case "":
		default:
			return nil, awsproto.Internal(fmt.Errorf("sqs: scanning %s: status %s %s", q.Name, m.Header.Get("Status"), m.Header.Get("Description")))
		}
		sq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return nil, awsproto.Internal(fmt.Errorf("sqs: scanning %s: sequence %q", q.Name, m.Header.Get(jetstream.SequenceHeader)))
		}
		out = append(out, &jetstream.RawStreamMsg{Subject: m.Header.Get(jetstream.SubjectHeader), Sequence: sq, Data: m.Data})
	}
}

// takeGroup receives up to n messages of one group, from its head on,
// unless the group is held. Messages received more than maxReceiveCount
// times go to the dead-letter queue instead.
func (s *Service) takeGroup(ctx context.Context, q *queue, rt *runtime, h head, n int, vt int) ([]delivery, error) {
	c, err := s.loadGroup(ctx, q.ID, h.token, false)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		now := s.cfg.Now().UnixMilli()
		if c.st.held(now) {
			return nil, nil
		}
		// The head again, read after the record: a message deleted
		// since the record was read changes the record, and the write
		// below then conflicts.
		head, err := s.leaderGet(ctx, q, h.msg.Sequence, h.subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, awsproto.Internal(fmt.Errorf("sqs: message group of %s: %w", q.Name, err))
		}
		h.msg = head
		st := groupState{}
		// Records of messages gone before the head (deleted, expired,
		// purged) are dropped.
		for _, m := range c.st.Msgs {
			if m.Seq >= h.msg.Sequence {
				st.Msgs = append(st.Msgs, m)
			}
		}
		var out []delivery
		var moved []uint64
		m := h.msg
		for len(out) < n && m != nil {
			var env envelope
			if err := json.Unmarshal(m.Data, &env); err != nil {
				s.log.Warn("sqs: dropping an unreadable message", "queue", q.Name, "seq", m.Sequence)
				moved = append(moved, m.Sequence)
			} else {
				i := st.find(m.Sequence)
				if i < 0 {
					st.Msgs = append(st.Msgs, inflight{Seq: m.Sequence, First: now})
					i = len(st.Msgs) - 1
				}
				e := &st.Msgs[i]
				if rp := q.redrive; rp != nil && e.Count >= uint64(rp.MaxReceiveCount) && s.deadLetter(ctx, q, rp.DeadLetterTargetArn, env, m.Sequence) {
					moved = append(moved, m.Sequence)
					st.Msgs = slices.Delete(st.Msgs, i, i+1)
				} else {
					e.Count++
					e.Until = now + int64(vt)*1000
					e.Nonce = nonce()
					out = append(out, delivery{seq: m.Sequence, env: &env, count: e.Count, firstMs: e.First,
						handle: encodeFIFOHandle(q.ID, h.token, m.Sequence, e.Nonce)})
				}
			}
			next, err := s.leaderGet(ctx, q, m.Sequence+1, h.subject)
			switch {
			case errors.Is(err, jetstream.ErrMsgNotFound):
				m = nil
			case err != nil:
				return nil, awsproto.Internal(fmt.Errorf("sqs: message group of %s: %w", q.Name, err))
			default:
				m = next
			}
		}
		for _, seq := range moved {
			if err := rt.stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
				return nil, awsproto.Internal(fmt.Errorf("sqs: removing a moved message of %s: %w", q.Name, err))
			}
		}
		next := cachedGroup{rev: c.rev, st: st}
		err = s.storeGroup(ctx, q.ID, h.token, next)
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, store.ErrConflict) || attempt >= 2 {
			if errors.Is(err, store.ErrConflict) {
				return nil, nil // another receive has this group
			}
			return nil, err
		}
		if c, err = s.loadGroup(ctx, q.ID, h.token, true); err != nil {
			return nil, err
		}
		if len(moved) > 0 {
			return nil, nil // the head moved; the next look starts again
		}
	}
}

// deadLetter publishes a message of q to its dead-letter queue, reporting
// whether it did (the caller then removes it from q).
func (s *Service) deadLetter(ctx context.Context, q *queue, dlqARN string, env envelope, seq uint64) bool {
	dlq, ok := s.queueByARN(dlqARN)
	if !ok {
		return false
	}
	env.Source = s.arn(q.Name)
	// A FIFO dead-letter queue deduplicates the move by the source
	// message, should a crash make it happen twice.
	env.Dedup = "moved-" + q.ID + "-" + strconv.FormatUint(seq, 10)
	if _, err := s.publish(ctx, dlq, &env, 0); err != nil {
		s.log.Warn("sqs: moving a message to its dead-letter queue", "queue", q.Name, "dlq", dlq.Name, "error", err)
		return false
	}
	return true
}

func nonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// A FIFO receipt handle names the queue, the group, the message's stream
// sequence and the receive's nonce: "<id> f <token> <seq> <nonce>",
// base64url-encoded.
func encodeFIFOHandle(qid, token string, seq uint64, nonce string) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s f %s %d %s", qid, token, seq, nonce))
}

type fifoHandle struct {
	token string
	seq   uint64
	nonce string
}

func decodeFIFOHandle(q *queue, handle string) (fifoHandle, error) {
	bad := awsproto.Errorf(awsproto.SQSReceiptHandleIsInvalid, "The input receipt handle \"%s\" is not a valid receipt handle.", clip(handle))
	b, err := base64.RawURLEncoding.DecodeString(handle)
	if err != nil {
		return fifoHandle{}, bad
	}
	f := strings.Split(string(b), " ")
	if len(f) != 5 || f[0] != q.ID || f[1] != "f" || f[2] == "" || f[4] == "" {
		return fifoHandle{}, bad
	}
	if _, err := base64.RawURLEncoding.DecodeString(f[2]); err != nil {
		return fifoHandle{}, bad
	}
	seq, err := strconv.ParseUint(f[3], 10, 64)
	if err != nil || seq == 0 {
		return fifoHandle{}, bad
	}
	return fifoHandle{token: f[2], seq: seq, nonce: f[4]}, nil
}

// deleteFIFO deletes the message a FIFO handle names if the handle is its
// latest receive's; an older handle succeeds and deletes nothing, as SQS
// answers.
func (s *Service) deleteFIFO(ctx context.Context, q *queue, handle string) error {
	h, err := decodeFIFOHandle(q, handle)
	if err != nil {
		return err
	}
	c, err := s.loadGroup(ctx, q.ID, h.token, false)
	if err != nil {
		return err
	}
	if i := c.st.find(h.seq); i < 0 || c.st.Msgs[i].Nonce != h.nonce {
		// The cache may be behind another node's receive: ask the bucket.
		if c, err = s.loadGroup(ctx, q.ID, h.token, true); err != nil {
			return err
		}
		if i := c.st.find(h.seq); i < 0 || c.st.Msgs[i].Nonce != h.nonce {
			return nil
		}
	}
	rt, err := s.runtime(ctx, q)
	if err != nil {
		return err
	}
	// The message goes first: a crash before the record is updated leaves
	// a record that holds the group no longer than its visibility.
	if err := rt.stream.DeleteMsg(ctx, h.seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return awsproto.Internal(fmt.Errorf("sqs: deleting a message of %s: %w", q.Name, err))
	}
	return s.updateGroup(ctx, q.ID, h.token, func(c *cachedGroup) error {
		if i := c.st.find(h.seq); i >= 0 {
			c.st.Msgs = slices.Delete(c.st.Msgs, i, i+1)
		}
		return nil
	})
}

// changeFIFO sets the visibility of the in-flight message a FIFO handle
// names to vt seconds from now: MessageNotInflight when it is not in
// flight under that handle.
func (s *Service) changeFIFO(ctx context.Context, q *queue, handle string, vt int) error {
	h, err := decodeFIFOHandle(q, handle)
	if err != nil {
		return err
	}
	return s.updateGroup(ctx, q.ID, h.token, func(c *cachedGroup) error {
		now := s.cfg.Now().UnixMilli()
		i := c.st.find(h.seq)
		if i < 0 || c.st.Msgs[i].Nonce != h.nonce {
			return errGoneForVisibility(handle)
		}
		if c.st.Msgs[i].Until <= now {
			return errNotInflight()
		}
		c.st.Msgs[i].Until = now + int64(vt)*1000
		return nil
	})
}

func errNotInflight() error {
	return awsproto.Errorf(awsproto.SQSMessageNotInflight, "Message does not exist or is not available for visibility timeout change.")
}

// fifoInflight counts q's messages in flight, from the bucket.
func (s *Service) fifoInflight(ctx context.Context, q *queue) (uint64, error) {
	es, err := s.cfg.KV.List(ctx, groupPrefix+q.ID+".")
	if err != nil {
		return 0, awsproto.Internal(err)
	}
	now := s.cfg.Now().UnixMilli()
	var n uint64
	for _, e := range es {
		var st groupState
		if json.Unmarshal(e.Value, &st) != nil {
			continue
		}
		for _, m := range st.Msgs {
			if m.Until > now {
				n++
			}
		}
	}
	return n, nil
}

// dropGroups deletes q's group records (the queue was purged or deleted).
func (s *Service) dropGroups(ctx context.Context, qid string) error {
	es, err := s.cfg.KV.List(ctx, groupPrefix+qid+".")
	if err != nil {
		return err
	}
	for _, e := range es {
		if err := s.cfg.KV.Delete(ctx, e.Key, 0); err != nil {
			return err
		}
	}
	s.groupMu.Lock()
	for k := range s.groups {
		if strings.HasPrefix(k, groupPrefix+qid+".") {
			delete(s.groups, k)
		}
	}
	s.groupMu.Unlock()
	return nil
}

// attempt is a FIFO receive remembered by its ReceiveRequestAttemptId.
type attempt struct {
	Handles []string `json:"h"`
}

// attempts returns the bucket of remembered receives, creating it on first
// use; its TTL is SQS's five-minute window.
func (s *Service) attempts(ctx context.Context) (jetstream.KeyValue, error) {
	s.attemptMu.Lock()
	defer s.attemptMu.Unlock()
	if s.attemptKV != nil {
		return s.attemptKV, nil
	}
	kv, err := natsd.EnsureKeyValue(ctx, s.js, jetstream.KeyValueConfig{Bucket: natsd.SQSAttemptBucket, TTL: dedupWindow,
		Storage: jetstream.FileStorage, Replicas: s.cfg.Replicas, History: 1})
	if err != nil {
		return nil, awsproto.Internal(fmt.Errorf("sqs: receive attempts: %w", err))
	}
	s.attemptKV = kv
	return kv, nil
}

func attemptKey(qid, id string) string {
	sum := sha256.Sum256([]byte(qid + " " + id))
	return hex.EncodeToString(sum[:])
}

// receiveAttempt is a FIFO receive with a ReceiveRequestAttemptId: a
// retry within five minutes answers the same messages with the same
// receipt handles (those still received under them) and restarts their
// visibility timeout; a first attempt receives and is remembered.
func (s *Service) receiveAttempt(ctx context.Context, q *queue, id string, max int, wait time.Duration, vt int) ([]delivery, error) {
	kv, err := s.attempts(ctx)
	if err != nil {
		return nil, err
	}
	key := attemptKey(q.ID, id)
	e, err := kv.Get(ctx, key)
	switch {
	case err == nil:
		var a attempt
		if json.Unmarshal(e.Value(), &a) == nil {
			return s.replay(ctx, q, a.Handles, vt)
		}
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, awsproto.Internal(fmt.Errorf("sqs: receive attempts: %w", err))
	}
	ds, err := s.receive(ctx, q, max, wait, vt)
	if err != nil || len(ds) == 0 {
		return ds, err
	}
	a := attempt{}
	for _, d := range ds {
		a.Handles = append(a.Handles, d.handle)
	}
	b, _ := json.Marshal(&a)
	if _, err := kv.Put(ctx, key, b); err != nil {
		s.log.Warn("sqs: remembering a receive attempt", "queue", q.Name, "error", err)
	}
	return ds, nil
}

// replay answers a remembered receive again.
func (s *Service) replay(ctx context.Context, q *queue, handles []string, vt int) ([]delivery, error) {
	rt, err := s.runtime(ctx, q)
	if err != nil {
		return nil, err
	}
	var out []delivery
	for _, handle := range handles {
		h, err := decodeFIFOHandle(q, handle)
		if err != nil {
			continue
		}
		m, err := rt.stream.GetMsg(ctx, h.seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, awsproto.Internal(fmt.Errorf("sqs: receive attempt on %s: %w", q.Name, err))
		}
		var env envelope
		if json.Unmarshal(m.Data, &env) != nil {
			continue
		}
		var d *delivery
		err = s.updateGroup(ctx, q.ID, h.token, func(c *cachedGroup) error {
			d = nil
			i := c.st.find(h.seq)
			if i < 0 || c.st.Msgs[i].Nonce != h.nonce {
				return nil
			}
			e := &c.st.Msgs[i]
			e.Until = s.cfg.Now().UnixMilli() + int64(vt)*1000
			d = &delivery{seq: h.seq, env: &env, handle: handle, count: e.Count, firstMs: e.First}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if d != nil {
			out = append(out, *d)
		}
	}
	return out, nil
}

// leaderGet reads the first message of subject from seq on through the
// stream's leader (not a direct get, which a replica may answer from
// behind): what a receive takes must not be a message already deleted.
// jetstream.ErrMsgNotFound when there is none.
func (s *Service) leaderGet(ctx context.Context, q *queue, seq uint64, subject string) (*jetstream.RawStreamMsg, error) {
	req, _ := json.Marshal(map[string]any{"seq": seq, "next_by_subj": subject})
	rctx, cancel := context.WithTimeout(ctx, s.ackTimeout)
	defer cancel()
	m, err := s.cfg.NC.RequestWithContext(rctx, "$JS.API.STREAM.MSG.GET."+natsd.SQSStream(q.ID), req)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Message *struct {
			Subject string `json:"subject"`
			Seq     uint64 `json:"seq"`
			Data    []byte `json:"data"`
		} `json:"message"`
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return nil, err
	}
	switch {
	case resp.Error != nil && resp.Error.Code == 404:
		return nil, jetstream.ErrMsgNotFound
	case resp.Error != nil:
		return nil, fmt.Errorf("%d %s", resp.Error.Code, resp.Error.Description)
	case resp.Message == nil:
		return nil, jetstream.ErrMsgNotFound
	}
	return &jetstream.RawStreamMsg{Subject: resp.Message.Subject, Sequence: resp.Message.Seq, Data: resp.Message.Data}, nil
}
