package sqs

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/natsd"
)

// maxInflight is SQS's quota of in-flight messages of a standard queue.
const maxInflight = 120000

// dedupWindow is the stream's duplicate window: SQS's deduplication
// interval.
const dedupWindow = 5 * time.Minute

// envelope is a message as stored in the queue's stream.
type envelope struct {
	ID        string                      `json:"id"`
	Body      string                      `json:"b"`
	Attrs     map[string]MessageAttribute `json:"a,omitempty"`
	Sys       map[string]MessageAttribute `json:"s,omitempty"`
	Sent      int64                       `json:"t"`            // unix ms
	NotBefore int64                       `json:"nb,omitempty"` // unix ms; delayed messages
	Sender    string                      `json:"u,omitempty"`
	// Source is the queue a dead-lettered message came from (its ARN).
	Source string `json:"src,omitempty"`
	// Group and Dedup are a FIFO message's MessageGroupId and
	// MessageDeduplicationId.
	Group string `json:"g,omitempty"`
	Dedup string `json:"d,omitempty"`
}

// msgID is the JetStream message id that deduplicates m in a FIFO queue
// (its deduplication id, within its group when the queue deduplicates
// per group); "" for standard queues.
func msgID(q *queue, m *envelope) string {
	if !q.fifo() || m.Dedup == "" {
		return ""
	}
	if q.Attrs[attrDeduplicationScope] == "messageGroup" {
		return strconv.Itoa(len(m.Group)) + ":" + m.Group + m.Dedup
	}
	return m.Dedup
}

// runtime is a queue's stream and consumers.
type runtime struct {
	stream       jetstream.Stream
	ready, delay jetstream.Consumer
	ackWait      time.Duration
}

// ackWait is the consumer's AckWait for a visibility timeout: JetStream
// has no zero ack wait, so a zero timeout keeps 30 s and every delivery is
// made visible again at once (see receive).
func ackWait(vt int) time.Duration {
	if vt <= 0 {
		return 30 * time.Second
	}
	return time.Duration(vt) * time.Second
}

func (s *Service) streamConfig(q *queue) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:       natsd.SQSStream(q.ID),
		Subjects:   []string{natsd.SQSSubject(q.ID), natsd.SQSDelayedSubject(q.ID), natsd.SQSGroupSubjects(q.ID)},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.WorkQueuePolicy,
		Replicas:   s.cfg.Replicas,
		MaxAge:     time.Duration(q.intAttr(attrRetention)) * time.Second,
		Duplicates: dedupWindow,
		// A FIFO receive with many message groups scans the stream with
		// batched direct gets (fifo.go).
		AllowDirect: true,
	}
}

// runtime returns q's stream and consumers, creating (or updating) them
// on first use in this process.
func (s *Service) runtime(ctx context.Context, q *queue) (*runtime, error) {
	s.rtMu.Lock()
	rt, ok := s.rts[q.ID]
	s.rtMu.Unlock()
	if ok {
		return rt, nil
	}
	return s.configure(ctx, q)
}

// configure creates or updates q's stream and consumers to its
// attributes.
func (s *Service) configure(ctx context.Context, q *queue) (*runtime, error) {
	st, err := natsd.EnsureStream(ctx, s.js, s.streamConfig(q))
	if err != nil {
		return nil, awsproto.Internal(fmt.Errorf("sqs: stream of %s: %w", q.Name, err))
	}
	rt := &runtime{stream: st, ackWait: ackWait(q.intAttr(attrVisibilityTimeout))}
	// A FIFO queue's visible messages are on its group subjects, read
	// without a consumer (fifo.go); its ready consumer sees nothing.
	rt.ready, err = natsd.EnsureConsumer(ctx, st, jetstream.ConsumerConfig{
		Durable:       natsd.SQSConsumer(q.ID),
		FilterSubject: natsd.SQSSubject(q.ID),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       rt.ackWait,
		MaxDeliver:    -1,
		MaxAckPending: maxInflight,
	})
	if err != nil {
		return nil, awsproto.Internal(fmt.Errorf("sqs: consumer of %s: %w", q.Name, err))
	}
	rt.delay, err = natsd.EnsureConsumer(ctx, st, jetstream.ConsumerConfig{
		Durable:       natsd.SQSDelayConsumer(q.ID),
		FilterSubject: natsd.SQSDelayedSubject(q.ID),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1,
		MaxAckPending: maxInflight,
	})
	if err != nil {
		return nil, awsproto.Internal(fmt.Errorf("sqs: delay consumer of %s: %w", q.Name, err))
	}
	s.rtMu.Lock()
	s.rts[q.ID] = rt
	s.rtMu.Unlock()
	return rt, nil
}

// forget drops q's cached runtime (the queue was deleted).
func (s *Service) forget(id string) {
	s.rtMu.Lock()
	delete(s.rts, id)
	s.rtMu.Unlock()
}

// publish stores one message; it returns once JetStream has acknowledged
// it (written to disk with the store's fsync setting). delay is in
// seconds.
func (s *Service) publish(ctx context.Context, q *queue, m *envelope, delay int) (*jetstream.PubAck, error) {
	if _, err := s.runtime(ctx, q); err != nil {
		return nil, err
	}
	subj := visibleSubject(q, m)
	if delay > 0 {
		m.NotBefore = m.Sent + int64(delay)*1000
		subj = natsd.SQSDelayedSubject(q.ID)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	var opts []jetstream.PublishOpt
	if id := msgID(q, m); id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	ack, err := s.js.Publish(ctx, subj, b, opts...)
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		// The stream went away (an operator deleted it): make it again.
		s.forget(q.ID)
		if _, err := s.runtime(ctx, q); err != nil {
			return nil, err
		}
		ack, err = s.js.Publish(ctx, subj, b, opts...)
	}
	if err != nil {
		return nil, awsproto.Internal(fmt.Errorf("sqs: publishing to %s: %w", q.Name, err))
	}
	return ack, nil
}

// publishAll stores the messages of envs that are not nil, in flight
// together, and returns each one's error once JetStream has answered for
// all of them.
func (s *Service) publishAll(ctx context.Context, q *queue, envs []*envelope, delays []int) ([]*jetstream.PubAck, []error) {
	acks := make([]*jetstream.PubAck, len(envs))
	errs := make([]error, len(envs))
	if _, err := s.runtime(ctx, q); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return acks, errs
	}
	futures := make([]jetstream.PubAckFuture, len(envs))
	for i, m := range envs {
		if m == nil {
			continue
		}
		subj := visibleSubject(q, m)
		if delays[i] > 0 {
			m.NotBefore = m.Sent + int64(delays[i])*1000
			subj = natsd.SQSDelayedSubject(q.ID)
		}
		var opts []jetstream.PublishOpt
		if id := msgID(q, m); id != "" {
			opts = append(opts, jetstream.WithMsgID(id))
		}
		b, err := json.Marshal(m)
		if err == nil {
			futures[i], err = s.js.PublishAsync(subj, b, opts...)
		}
		if err != nil {
			errs[i] = awsproto.Internal(fmt.Errorf("sqs: publishing to %s: %w", q.Name, err))
		}
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case acks[i] = <-f.Ok():
		case err := <-f.Err():
			errs[i] = awsproto.Internal(fmt.Errorf("sqs: publishing to %s: %w", q.Name, err))
		case <-ctx.Done():
			errs[i] = awsproto.Internal(fmt.Errorf("sqs: publishing to %s: %w", q.Name, ctx.Err()))
		}
	}
	return acks, errs
}

// promote moves q's delayed messages that are due to its visible subject
// and returns without waiting for those still delayed.
func (s *Service) promote(ctx context.Context, q *queue, rt *runtime) error {
	for {
		batch, err := rt.delay.FetchNoWait(100)
		if err != nil {
			return awsproto.Internal(fmt.Errorf("sqs: delayed messages of %s: %w", q.Name, err))
		}
		n := 0
		now := s.cfg.Now().UnixMilli()
		for m := range batch.Messages() {
			n++
			var env envelope
			if err := json.Unmarshal(m.Data(), &env); err != nil {
				_ = m.Term()
				continue
			}
			if left := env.NotBefore - now; left > 0 {
				_ = m.NakWithDelay(time.Duration(left) * time.Millisecond)
				continue
			}
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			env.NotBefore = 0
			b, _ := json.Marshal(&env)
			// The message id makes a second move of the same message (after
			// a crash between publish and ack) a duplicate JetStream drops.
			if _, err := s.js.Publish(ctx, visibleSubject(q, &env), b, jetstream.WithMsgID("delayed-"+strconv.FormatUint(md.Sequence.Stream, 10))); err != nil {
				_ = m.Nak()
				return awsproto.Internal(fmt.Errorf("sqs: moving a delayed message of %s: %w", q.Name, err))
			}
			_ = m.DoubleAck(ctx)
		}
		if n < 100 {
			return nil
		}
	}
}

// delivery is one received message.
type delivery struct {
	seq     uint64 // stream sequence: a FIFO message's SequenceNumber
	env     *envelope
	handle  string
	count   uint64 // ApproximateReceiveCount
	firstMs int64
}

// receive takes up to max visible messages of q, waiting up to wait for
// the first one, and makes them invisible for vt seconds.
func (s *Service) receive(ctx context.Context, q *queue, max int, wait time.Duration, vt int) ([]delivery, error) {
	rt, err := s.runtime(ctx, q)
	if err != nil {
		return nil, err
	}
	if q.fifo() {
		return s.receiveFIFO(ctx, q, rt, max, wait, vt)
	}
	deadline := s.cfg.Now().Add(wait)
	var out []delivery
	for {
		if err := s.promote(ctx, q, rt); err != nil {
			return nil, err
		}
		batch, err := rt.ready.FetchNoWait(max - len(out))
		if err != nil {
			return nil, awsproto.Internal(fmt.Errorf("sqs: receiving from %s: %w", q.Name, err))
		}
		for m := range batch.Messages() {
			if d, ok := s.deliver(ctx, q, rt, m, vt); ok {
				out = append(out, d)
			}
		}
		left := deadline.Sub(s.cfg.Now())
		if len(out) > 0 || left <= 0 || ctx.Err() != nil {
			return out, nil
		}
		step := min(left, s.cfg.MaxPollInterval)
		batch, err = rt.ready.Fetch(1, jetstream.FetchMaxWait(step))
		if err != nil {
			return nil, awsproto.Internal(fmt.Errorf("sqs: receiving from %s: %w", q.Name, err))
		}
		for m := range batch.Messages() {
			if d, ok := s.deliver(ctx, q, rt, m, vt); ok {
				out = append(out, d)
			}
		}
		if len(out) > 0 && len(out) < max {
			// Take what else is there without waiting.
			more, err := rt.ready.FetchNoWait(max - len(out))
			if err == nil {
				for m := range more.Messages() {
					if d, ok := s.deliver(ctx, q, rt, m, vt); ok {
						out = append(out, d)
					}
				}
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
}

// deliver turns one delivery into a received message, or moves it to the
// dead-letter queue when it has been received more than maxReceiveCount
// times (ok false).
func (s *Service) deliver(ctx context.Context, q *queue, rt *runtime, m jetstream.Msg, vt int) (delivery, bool) {
	md, err := m.Metadata()
	if err != nil {
		return delivery{}, false
	}
	penv, ok := decodeEnvelope(m)
	if !ok {
		s.log.Warn("sqs: dropping an unreadable message", "queue", q.Name, "seq", md.Sequence.Stream)
		_ = m.Term()
		return delivery{}, false
	}
	env := *penv
	if rp := q.redrive; rp != nil && md.NumDelivered > uint64(rp.MaxReceiveCount) {
		if dlq, ok := s.queueByARN(rp.DeadLetterTargetArn); ok {
			moved := env
			moved.Source = s.arn(q.Name)
			moved.Sent = env.Sent
			// A FIFO dead-letter queue deduplicates the move by the source
			// message, should a crash make it happen twice.
			moved.Dedup = "moved-" + q.ID + "-" + strconv.FormatUint(md.Sequence.Stream, 10)
			if _, err := s.publish(ctx, dlq, &moved, 0); err != nil {
				s.log.Warn("sqs: moving a message to its dead-letter queue", "queue", q.Name, "dlq", dlq.Name, "error", err)
				_ = m.Nak()
				return delivery{}, false
			}
			_ = m.DoubleAck(ctx)
			s.forgetFirst(q.ID, md.Sequence.Stream)
			return delivery{}, false
		}
	}
	if d := time.Duration(vt) * time.Second; d != rt.ackWait {
		if vt == 0 {
			_ = m.Nak()
		} else {
			_ = m.NakWithDelay(d)
		}
	}
	return delivery{
		seq:     md.Sequence.Stream,
		env:     &env,
		handle:  encodeHandle(q.ID, m.Reply()),
		count:   md.NumDelivered,
		firstMs: s.firstReceive(q.ID, md.Sequence.Stream, md.NumDelivered, vt),
	}, true
}

// decodeEnvelope reads a stored message.
func decodeEnvelope(m jetstream.Msg) (*envelope, bool) {
	var env envelope
	if err := json.Unmarshal(m.Data(), &env); err != nil {
		return nil, false
	}
	return &env, true
}

// msgState is what this process knows of a standard queue's message it
// delivered: its first receive (ApproximateFirstReceiveTimestamp) and
// until when its latest delivery (JetStream's delivery count) is
// invisible. It is kept in memory only: a restart loses it, and then the
// first receive after it stands in for the first, and a visibility change
// is not checked against it.
type msgState struct {
	first, until int64 // unix ms
	count        uint64
}

// firstReceive records a delivery of a message (its count-th, invisible
// for vt seconds) and returns its ApproximateFirstReceiveTimestamp.
func (s *Service) firstReceive(id string, seq, count uint64, vt int) int64 {
	key := id + "/" + strconv.FormatUint(seq, 10)
	now := s.cfg.Now().UnixMilli()
	s.firstMu.Lock()
	defer s.firstMu.Unlock()
	st, ok := s.first[key]
	if !ok || count <= 1 {
		st.first = now
	}
	if !ok && len(s.first) >= maxInflight {
		clear(s.first)
	}
	st.count, st.until = count, now+int64(vt)*1000
	s.first[key] = st
	return st.first
}

// inflightHere reports whether this process delivered the delivery
// count of message seq and it is invisible now; known is false when
// this process has no record of the message.
func (s *Service) inflightHere(id string, seq, count uint64) (inflight, known bool) {
	s.firstMu.Lock()
	defer s.firstMu.Unlock()
	st, ok := s.first[id+"/"+strconv.FormatUint(seq, 10)]
	if !ok {
		return false, false
	}
	return st.count == count && st.until > s.cfg.Now().UnixMilli(), true
}

// setUntil records a visibility change of a delivered message.
func (s *Service) setUntil(id string, seq uint64, vt int) {
	s.firstMu.Lock()
	defer s.firstMu.Unlock()
	key := id + "/" + strconv.FormatUint(seq, 10)
	if st, ok := s.first[key]; ok {
		st.until = s.cfg.Now().UnixMilli() + int64(vt)*1000
		s.first[key] = st
	}
}

func (s *Service) forgetFirst(id string, seq uint64) {
	s.firstMu.Lock()
	delete(s.first, id+"/"+strconv.FormatUint(seq, 10))
	s.firstMu.Unlock()
}

// A receipt handle is the queue's id and the delivery's JetStream ack
// subject, base64url-encoded: opaque to the client, and all that acking
// or delaying that delivery needs.
func encodeHandle(id, reply string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(id + " " + reply))
}

// decodeHandle returns the ack subject a handle names, checked to be a
// delivery of q's consumer.
func decodeHandle(q *queue, handle string) (subject string, seq uint64, err error) {
	bad := awsproto.Errorf(awsproto.SQSReceiptHandleIsInvalid, "The input receipt handle \"%s\" is not a valid receipt handle.", clip(handle))
	b, derr := base64.RawURLEncoding.DecodeString(handle)
	if derr != nil {
		return "", 0, bad
	}
	id, subj, ok := strings.Cut(string(b), " ")
	if !ok || id != q.ID || strings.ContainsAny(subj, " \t\r\n*>") {
		return "", 0, bad
	}
	t := strings.Split(subj, ".")
	// $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>,
	// or the form with domain and account hash before the stream.
	if len(t) < 9 || t[0] != "$JS" || t[1] != "ACK" {
		return "", 0, bad
	}
	si := 2
	if len(t) >= 12 {
		si = 4
	}
	if t[si] != natsd.SQSStream(q.ID) || t[si+1] != natsd.SQSConsumer(q.ID) {
		return "", 0, bad
	}
	seq, perr := strconv.ParseUint(t[si+3], 10, 64)
	if perr != nil {
		return "", 0, bad
	}
	return subj, seq, nil
}

// ack deletes the delivery an ack subject names; JetStream confirms once
// the message is gone.
func (s *Service) ack(ctx context.Context, q *queue, subject string, seq uint64) error {
	return s.control(ctx, q, subject, []byte("+ACK"), seq)
}

// changeVisibility makes a delivery visible again after vt seconds:
// MessageNotInflight when this process knows the delivery is no longer
// invisible, InvalidParameterValue when the message is gone.
func (s *Service) changeVisibility(ctx context.Context, q *queue, handle, subject string, seq uint64, vt int) error {
	inflight, known := s.inflightHere(q.ID, seq, deliveryCount(subject))
	if known && !inflight {
		return errNotInflight()
	}
	if !known {
		rt, err := s.runtime(ctx, q)
		if err != nil {
			return err
		}
		if _, err := rt.stream.GetMsg(ctx, seq); errors.Is(err, jetstream.ErrMsgNotFound) {
			return errGoneForVisibility(handle)
		}
	}
	msg := []byte("-NAK")
	if vt > 0 {
		msg = fmt.Appendf(nil, `-NAK {"delay": %d}`, (time.Duration(vt) * time.Second).Nanoseconds())
	}
	if err := s.control(ctx, q, subject, msg, 0); err != nil {
		return err
	}
	s.setUntil(q.ID, seq, vt)
	return nil
}

// deliveryCount is the delivery count an ack subject carries; 0 when it
// carries none.
func deliveryCount(subject string) uint64 {
	t := strings.Split(subject, ".")
	si := 2
	if len(t) >= 12 {
		si = 4
	}
	if len(t) < si+3 {
		return 0
	}
	n, _ := strconv.ParseUint(t[si+2], 10, 64)
	return n
}

func errGoneForVisibility(handle string) error {
	return invalidParam("Value %s for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.", clip(handle))
}

func (s *Service) control(parent context.Context, q *queue, subject string, msg []byte, seq uint64) error {
	ctx, cancel := context.WithTimeout(parent, s.ackTimeout)
	defer cancel()
	if _, err := s.cfg.NC.RequestWithContext(ctx, subject, msg); err != nil {
		switch {
		case errors.Is(err, nats.ErrNoResponders):
			// The consumer is gone (the queue was deleted): nothing is
			// in flight any more.
			return nil
		case errors.Is(err, context.DeadlineExceeded) && parent.Err() == nil:
			// JetStream answers every ack of a delivery it made; silence
			// means the handle names a delivery that never happened.
			return awsproto.Errorf(awsproto.SQSReceiptHandleIsInvalid, "The input receipt handle is not a valid receipt handle.")
		}
		return awsproto.Internal(fmt.Errorf("sqs: %s on %s: %w", msg, q.Name, err))
	}
	if seq > 0 {
		s.forgetFirst(q.ID, seq)
	}
	return nil
}

// counts are the approximate numbers of a queue's messages.
type counts struct{ visible, inflight, delayed uint64 }

func (s *Service) counts(ctx context.Context, q *queue) (counts, error) {
	rt, err := s.runtime(ctx, q)
	if err != nil {
		return counts{}, err
	}
	if err := s.promote(ctx, q, rt); err != nil {
		return counts{}, err
	}
	ri, err := rt.ready.Info(ctx)
	if err != nil {
		return counts{}, awsproto.Internal(err)
	}
	di, err := rt.delay.Info(ctx)
	if err != nil {
		return counts{}, awsproto.Internal(err)
	}
	c := counts{visible: ri.NumPending, inflight: uint64(ri.NumAckPending), delayed: di.NumPending + uint64(di.NumAckPending)}
	if q.fifo() {
		info, err := rt.stream.Info(ctx, jetstream.WithSubjectFilter(natsd.SQSGroupSubjects(q.ID)))
		if err != nil {
			return counts{}, awsproto.Internal(err)
		}
		var stored uint64
		for _, n := range info.State.Subjects {
			stored += n
		}
		if c.inflight, err = s.fifoInflight(ctx, q); err != nil {
			return counts{}, err
		}
		c.visible = stored - min(stored, c.inflight)
	}
	return c, nil
}
