package s3

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/store"
)

// Delivery settings; see the package doc.
const (
	// defaultCommitGrace is how long a pending event waits for its
	// write's record before it is dropped as the event of a write that
	// never committed.
	defaultCommitGrace = time.Minute
	// defaultRetryDelay is the first delay after a failed delivery; it
	// doubles up to maxRetryDelay.
	defaultRetryDelay = time.Second
	maxRetryDelay     = 5 * time.Minute
	// maxEventAge is how long a delivery is retried before it is dropped.
	maxEventAge = 24 * time.Hour
	// ackWait bounds one delivery attempt.
	ackWait = time.Minute
	// maxInFlight bounds concurrent deliveries.
	maxInFlight = 32
	// recentWrites is how many earlier writes of a key its record
	// remembers (writeRef), for the events of overwritten writes.
	recentWrites = 16
)

// writeRef names one committed write of a key: its id and the record's
// revision it made.
type writeRef struct {
	ID  string `json:"id"`
	Rev uint64 `json:"rev"`
}

// pendingEvent is what a write publishes to the outbox before it commits:
// the event, without the sequencer (the committed record's revision), and
// the destinations that want it.
type pendingEvent struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	// Name is the event's name without "s3:" ("ObjectCreated:Put").
	Name string `json:"name"`
	// WriteID is the write a create event commits, or the one whose
	// record a remove event deletes (then Rev is that record's revision).
	WriteID string `json:"writeId"`
	Rev     uint64 `json:"rev,omitempty"`
	Removed bool   `json:"removed,omitempty"`
	// RecordKey is the KV key of the version a remove event deletes,
	// when not the key's latest record.
	RecordKey string `json:"recordKey,omitempty"`
	// VersionID is the version written or deleted, in a bucket whose
	// versioning was ever configured; Marker marks a delete marker's
	// creation (no size or ETag).
	VersionID string    `json:"versionId,omitempty"`
	Marker    bool      `json:"marker,omitempty"`
	Size      int64     `json:"size"`
	ETag      string    `json:"etag,omitempty"` // unquoted
	Time      time.Time `json:"time"`
	Region    string    `json:"region"`
	// RequestID, Principal and SourceIP are the writing request's.
	RequestID string        `json:"requestId"`
	Principal string        `json:"principal"`
	SourceIP  string        `json:"sourceIp"`
	Dests     []pendingDest `json:"dests"`
}

type pendingDest struct {
	ID  string `json:"id"`
	ARN string `json:"arn"`
}

// delivery is one committed event for one destination.
type delivery struct {
	ARN    string          `json:"arn"`
	Bucket string          `json:"bucket"`
	Body   json.RawMessage `json:"body"`
}

// eventRecord is one record of an S3 event notification, in S3's shape
// (event message structure version 2.1).
type eventRecord struct {
	EventVersion      string            `json:"eventVersion"`
	EventSource       string            `json:"eventSource"`
	AWSRegion         string            `json:"awsRegion"`
	EventTime         string            `json:"eventTime"`
	EventName         string            `json:"eventName"`
	UserIdentity      principalID       `json:"userIdentity"`
	RequestParameters sourceIP          `json:"requestParameters"`
	ResponseElements  map[string]string `json:"responseElements"`
	S3                eventS3           `json:"s3"`
}

type principalID struct {
	PrincipalID string `json:"principalId"`
}

type sourceIP struct {
	SourceIPAddress string `json:"sourceIPAddress"`
}

type eventS3 struct {
	SchemaVersion   string      `json:"s3SchemaVersion"`
	ConfigurationID string      `json:"configurationId"`
	Bucket          eventBucket `json:"bucket"`
	Object          eventObject `json:"object"`
}

type eventBucket struct {
	Name          string      `json:"name"`
	OwnerIdentity principalID `json:"ownerIdentity"`
	ARN           string      `json:"arn"`
}

type eventObject struct {
	Key       string `json:"key"`
	Size      *int64 `json:"size,omitempty"`
	ETag      string `json:"eTag,omitempty"`
	VersionID string `json:"versionId,omitempty"`
	Sequencer string `json:"sequencer"`
}

// eventKey is a key as event records carry it: URL-encoded as a form
// value (a space is "+"), with "/" left as it is.
func eventKey(k string) string {
	parts := strings.Split(k, "/")
	for i, p := range parts {
		parts[i] = url.QueryEscape(p)
	}
	return strings.Join(parts, "/")
}

// sequencer orders the events of one key: the revision, as fixed-width
// upper-case hex, so later events compare greater as strings.
func sequencer(rev uint64) string { return fmt.Sprintf("%018X", rev) }

// hostID is the x-amz-id-2 of a request.
func hostID(requestID string) string {
	sum := sha256.Sum256([]byte("kumo-s3/" + requestID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// principalOf is the userIdentity.principalId of a request's caller.
func principalOf(ctx context.Context) string {
	c, ok := awsproto.CallerFrom(ctx)
	switch {
	case !ok || c.Anonymous:
		return "ANONYMOUS_PRINCIPAL"
	case c.Identity.UserID == "" || c.Identity.UserID == c.Identity.Account:
		return c.Identity.Account
	}
	return "AWS:" + c.Identity.UserID
}

// outbox is the stream of pending events and deliveries, and its
// consumers.
type outbox struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	ctxs   []jetstream.ConsumeContext
}

// Start opens the event outbox (natsd.S3EventsStream) and starts
// delivering from it. Without Config.NATS it does nothing: buckets then
// take no notification configurations with destinations. Call it once,
// before serving; Close stops it.
func (s *Service) Start(ctx context.Context) error {
	if iv := s.cfg.LifecycleInterval; iv >= 0 {
		if iv == 0 {
			iv = defaultLifecycleInterval
		}
		lcCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		s.stopLC = cancel
		s.done.Add(1)
		go func() {
			defer s.done.Done()
			s.runLifecycle(lcCtx, iv)
		}()
	}
	if s.cfg.NATS == nil {
		return nil
	}
	js, err := jetstream.New(s.cfg.NATS)
	if err != nil {
		return fmt.Errorf("s3: jetstream: %w", err)
	}
	stream, err := natsd.EnsureStream(ctx, js, jetstream.StreamConfig{
		Name:       natsd.S3EventsStream,
		Subjects:   []string{natsd.S3EventsSubjects},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.WorkQueuePolicy,
		Replicas:   max(s.cfg.Replicas, 1),
		Duplicates: 5 * time.Minute,
	})
	if err != nil {
		return fmt.Errorf("s3: stream %s: %w", natsd.S3EventsStream, err)
	}
	ob := &outbox{js: js, stream: stream}
	pend, err := natsd.EnsureConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable: natsd.S3PendingConsumer, FilterSubject: natsd.S3PendingSubject,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait, MaxAckPending: 256,
	})
	if err != nil {
		return fmt.Errorf("s3: consumer %s: %w", natsd.S3PendingConsumer, err)
	}
	del, err := natsd.EnsureConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable: natsd.S3DeliveryConsumer, FilterSubject: natsd.S3DeliverySubject,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait, MaxAckPending: maxInFlight,
	})
	if err != nil {
		return fmt.Errorf("s3: consumer %s: %w", natsd.S3DeliveryConsumer, err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = cancel
	run := func(h func(context.Context, jetstream.Msg)) func(jetstream.Msg) {
		return func(m jetstream.Msg) {
			s.closeMu.Lock()
			if s.closed {
				s.closeMu.Unlock()
				_ = m.Nak() // for the next start
				return
			}
			s.done.Add(1)
			s.closeMu.Unlock()
			defer s.done.Done()
			h(runCtx, m)
		}
	}
	pc, err := pend.Consume(run(s.confirm))
	if err != nil {
		return fmt.Errorf("s3: consuming %s: %w", natsd.S3PendingSubject, err)
	}
	ob.ctxs = append(ob.ctxs, pc)
	sem := make(chan struct{}, maxInFlight)
	deliver := run(s.deliver)
	dc, err := del.Consume(func(m jetstream.Msg) {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			deliver(m)
		}()
	})
	if err != nil {
		pc.Stop()
		return fmt.Errorf("s3: consuming %s: %w", natsd.S3DeliverySubject, err)
	}
	ob.ctxs = append(ob.ctxs, dc)
	s.outbox = ob
	return nil
}

// Close stops delivering and waits for the deliveries under way. What was
// not delivered stays in the stream for the next Start: attempts under way
// are cut short and, like the messages the consumers had fetched but not
// handled, given back at once (not after ackWait).
func (s *Service) Close() {
	s.closeMu.Lock()
	s.closed = true
	s.closeMu.Unlock()
	if s.stop != nil {
		s.stop()
	}
	if s.stopLC != nil {
		s.stopLC()
	}
	if s.outbox != nil {
		for _, c := range s.outbox.ctxs {
			c.Drain() // the fetched messages reach the handlers, which give them back
		}
		for _, c := range s.outbox.ctxs {
			select {
			case <-c.Closed():
			case <-time.After(10 * time.Second):
			}
		}
	}
	s.done.Wait()
}

// announce publishes the event a write is about to commit to the outbox,
// if the bucket's configuration wants it. It runs after the data is
// stored and before the record is written: when it fails, so does the
// write. ev has the write's fields; announce adds the request's and the
// destinations.
//
// It returns the event published (nil when no destination wants it), for
// dispatch once the write has committed.
func (s *Service) announce(q *request, b bucketMeta, ev pendingEvent) (*pendingEvent, error) {
	if q.lifecycle {
		ev.Name = strings.Replace(ev.Name, "ObjectRemoved:", "LifecycleExpiration:", 1)
	}
	for _, d := range b.Notification.destinations() {
		if d.matches(ev.Name, ev.Key) {
			ev.Dests = append(ev.Dests, pendingDest{ID: d.id, ARN: d.arn})
		}
	}
	if len(ev.Dests) == 0 {
		return nil, nil
	}
	if s.outbox == nil {
		return nil, awsproto.Internal(errors.New("s3: a notification configuration but no event outbox"))
	}
	ev.Bucket, ev.Region = b.Name, s.region(b)
	ev.RequestID = awsproto.RequestID(q.ctx())
	ev.Principal = principalOf(q.ctx())
	ev.SourceIP = authz.SourceIP(q.r)
	if q.lifecycle {
		ev.Principal, ev.SourceIP = ServicePrincipal, ServicePrincipal
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	msgID := "p-" + ev.Name + "-" + ev.WriteID
	if _, err := s.outbox.js.Publish(q.ctx(), natsd.S3PendingSubject, data, jetstream.WithMsgID(msgID)); err != nil {
		return nil, awsproto.Internal(fmt.Errorf("s3: event outbox: %w", err))
	}
	return &ev, nil
}

// dispatch stores the deliveries of an announced event whose write has
// committed as revision rev, at once (the pending event does the same
// when it is confirmed; the stream keeps one copy of each delivery). A
// failure is left to the pending event.
func (s *Service) dispatch(ctx context.Context, ev *pendingEvent, rev uint64) {
	if ev == nil {
		return
	}
	seq := rev
	if ev.Removed {
		seq = ev.Rev + 1
	}
	if err := s.publishDeliveries(context.WithoutCancel(ctx), ev, seq); err != nil {
		s.log.Debug("s3: storing an event's deliveries failed; left to its pending event", "error", err)
	}
}

// publishDeliveries stores one delivery of ev per destination, each once
// (the deduplication id is the write's, the event's and the
// configuration's).
func (s *Service) publishDeliveries(ctx context.Context, ev *pendingEvent, seq uint64) error {
	for _, d := range ev.Dests {
		body, err := json.Marshal(struct {
			Records []eventRecord `json:"Records"`
		}{[]eventRecord{s.record(ev, d.ID, seq)}})
		if err != nil {
			return err
		}
		data, err := json.Marshal(delivery{ARN: d.ARN, Bucket: ev.Bucket, Body: body})
		if err != nil {
			return err
		}
		msgID := "d-" + ev.Name + "-" + ev.WriteID + "-" + d.ID
		if _, err := s.outbox.js.Publish(ctx, natsd.S3DeliverySubject, data, jetstream.WithMsgID(msgID)); err != nil {
			return err
		}
	}
	return nil
}

// confirm turns a pending event into its deliveries once its write is
// known to be committed, or drops it once the write is known not to be
// (the grace has passed and the record does not show it).
func (s *Service) confirm(ctx context.Context, m jetstream.Msg) {
	var ev pendingEvent
	if err := json.Unmarshal(m.Data(), &ev); err != nil {
		s.log.Error("s3: unreadable pending event; dropped", "error", err)
		_ = m.Term()
		return
	}
	var o objectMeta
	recordKey := objectKey(ev.Bucket, ev.Key)
	if ev.RecordKey != "" {
		recordKey = ev.RecordKey
	}
	rev, err := s.getJSON(ctx, recordKey, &o)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		_ = m.NakWithDelay(time.Second)
		return
	}
	found := err == nil
	var seq uint64
	committed := false
	switch {
	case ev.Removed:
		// The record the delete read is gone (or replaced since).
		committed = !found || o.WriteID != ev.WriteID
		seq = ev.Rev + 1
	case found && o.WriteID == ev.WriteID:
		committed, seq = true, rev
	case found:
		for _, w := range o.Recent {
			if w.ID == ev.WriteID {
				committed, seq = true, w.Rev
			}
		}
	}
	if !committed {
		age := time.Duration(0)
		if md, err := m.Metadata(); err == nil {
			age = s.now().Sub(md.Timestamp)
		}
		if age < s.commitGrace() {
			_ = m.NakWithDelay(s.commitGrace() / 20)
			return
		}
		// The write did not commit, or committed, was dispatched and
		// its record is gone since (deleted): nothing to send.
		s.log.Debug("s3: no committed record for a pending event; dropped", "bucket", ev.Bucket, "key", ev.Key, "event", ev.Name, "requestId", ev.RequestID)
		_ = m.Ack()
		return
	}
	if err := s.publishDeliveries(ctx, &ev, seq); err != nil {
		s.log.Warn("s3: storing an event's deliveries failed; retrying", "error", err)
		_ = m.NakWithDelay(time.Second)
		return
	}
	_ = m.Ack()
}

// record is the event record of ev for configuration id.
func (s *Service) record(ev *pendingEvent, id string, seq uint64) eventRecord {
	r := eventRecord{
		EventVersion: "2.1", EventSource: "aws:s3", AWSRegion: ev.Region,
		EventTime: ev.Time.UTC().Format(timeFormat), EventName: ev.Name,
		UserIdentity:      principalID{ev.Principal},
		RequestParameters: sourceIP{ev.SourceIP},
		ResponseElements:  map[string]string{"x-amz-request-id": ev.RequestID, "x-amz-id-2": hostID(ev.RequestID)},
		S3: eventS3{SchemaVersion: "1.0", ConfigurationID: id,
			Bucket: eventBucket{Name: ev.Bucket, OwnerIdentity: principalID{s.cfg.Account}, ARN: arn(ev.Bucket, "")},
			Object: eventObject{Key: eventKey(ev.Key), Sequencer: sequencer(seq)}},
	}
	r.S3.Object.VersionID = ev.VersionID
	if !ev.Removed && !ev.Marker {
		size := ev.Size
		r.S3.Object.Size, r.S3.Object.ETag = &size, ev.ETag
	}
	return r
}

// deliver makes one delivery attempt. A failure is retried with growing
// delays for up to maxEventAge; a destination that is gone or refuses the
// bucket drops the delivery, as S3 does.
func (s *Service) deliver(ctx context.Context, m jetstream.Msg) {
	var d delivery
	if err := json.Unmarshal(m.Data(), &d); err != nil {
		s.log.Error("s3: unreadable delivery; dropped", "error", err)
		_ = m.Term()
		return
	}
	err := s.cfg.Destinations.Send(ctx, d.ARN, arn(d.Bucket, ""), d.Body)
	if err == nil {
		_ = m.Ack()
		return
	}
	if ctx.Err() != nil {
		_ = m.Nak() // closing: for the next start
		return
	}
	md, _ := m.Metadata()
	attempt, age := 1, time.Duration(0)
	if md != nil {
		attempt, age = int(md.NumDelivered), s.now().Sub(md.Timestamp)
	}
	log := s.log.With("bucket", d.Bucket, "destination", d.ARN, "attempt", attempt, "error", err)
	if errors.Is(err, ErrDestination) || age > maxEventAge {
		log.Error("s3: event notification failed; dropped")
		_ = m.Ack()
		return
	}
	log.Warn("s3: event notification failed; retrying")
	_ = m.NakWithDelay(s.retryDelay(attempt))
}

func (s *Service) retryDelay(attempt int) time.Duration {
	d := s.cfg.RetryDelay
	if d <= 0 {
		d = defaultRetryDelay
	}
	for i := 1; i < attempt && d < maxRetryDelay; i++ {
		d *= 2
	}
	return min(d, maxRetryDelay)
}

func (s *Service) commitGrace() time.Duration {
	if s.cfg.CommitGrace > 0 {
		return s.cfg.CommitGrace
	}
	return defaultCommitGrace
}
