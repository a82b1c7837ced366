package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/asyncq"
	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/registry"
)

// Envelope is an event as EventBridge delivers it.
type Envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// timeFormat is the envelope's time: RFC 3339 in UTC, whole seconds.
const timeFormat = "2006-01-02T15:04:05Z"

// maxEntriesSize is PutEvents' limit on its entries' total size.
const maxEntriesSize = 256 * 1024

// accepted is an event the stream holds before rules match it.
type accepted struct {
	Bus string `json:"bus"`
	// Rule, when set, is the only rule the event goes to: a scheduled
	// rule's own event.
	Rule  string          `json:"rule,omitempty"`
	Event json.RawMessage `json:"event"`
	At    time.Time       `json:"at"`
}

// delivery is one matched event for one target, or a Direct delivery
// (Event then is the body).
type delivery struct {
	Bus    string          `json:"bus"`
	Rule   string          `json:"rule"`
	Target string          `json:"target"`
	Event  json.RawMessage `json:"event"`
	At     time.Time       `json:"at"`
	Direct *Direct         `json:"direct,omitempty"`
}

// Direct is a delivery another service makes through EventBridge's
// delivery path (EventBridge Scheduler's schedules): its own target and
// body, with the target's retries and dead-letter queue.
type Direct struct {
	// Source is the ARN the delivery is for (a schedule); dead-letter
	// events carry it as RULE_ARN.
	Source string `json:"source"`
	// Target is where the body goes; its Input, InputPath and
	// InputTransformer are not used.
	Target Target `json:"target"`
	// Role is the role a Lambda target is invoked as (the schedule's
	// execution role, whose policies decide); "" invokes as
	// events.amazonaws.com.
	Role string `json:"role,omitempty"`
}

// DeliverDirect stores a Direct delivery of body durably, once per msgID
// within the stream's duplicate window, and returns once the stream has
// it; the delivery path makes it.
func (s *Service) DeliverDirect(ctx context.Context, msgID string, d Direct, body []byte) error {
	if !json.Valid(body) {
		body, _ = marshal(string(body))
	}
	return s.bus.put(ctx, natsd.EventsDeliverySubject, "x-"+msgID, delivery{Event: body, At: s.now(), Direct: &d})
}

// stream is the JetStream stream of accepted events and deliveries.
type stream struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	ctxs   []jetstream.ConsumeContext
}

func openStream(ctx context.Context, nc *nats.Conn, replicas int) (*stream, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("events: jetstream: %w", err)
	}
	st, err := natsd.EnsureStream(ctx, js, jetstream.StreamConfig{
		Name:      natsd.EventsStream,
		Subjects:  []string{natsd.EventsSubjects},
		Storage:   jetstream.FileStorage,
		Retention: jetstream.WorkQueuePolicy,
		Replicas:  max(replicas, 1),
		// Scheduled events carry their period in their message id: a
		// period fired twice (two servers, or a restart between firing
		// and recording it) is stored once.
		Duplicates: 10 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("events: stream %s: %w", natsd.EventsStream, err)
	}
	return &stream{js: js, stream: st}, nil
}

func (b *stream) put(ctx context.Context, subject, msgID string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = b.js.Publish(ctx, subject, data, jetstream.WithMsgID(msgID))
	return err
}

func (b *stream) stopConsumers() {
	for _, c := range b.ctxs {
		c.Stop()
	}
}

// ackWait bounds one delivery attempt.
const ackWait = time.Minute

// maxInFlight bounds concurrent deliveries.
const maxInFlight = 64

func (s *Service) startDelivery(ctx context.Context) error {
	match, err := natsd.EnsureConsumer(ctx, s.bus.stream, jetstream.ConsumerConfig{
		Durable: natsd.EventsMatchConsumer, FilterSubject: natsd.EventsPutSubject,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait, MaxAckPending: 2 * maxInFlight,
	})
	if err != nil {
		return fmt.Errorf("events: consumer %s: %w", natsd.EventsMatchConsumer, err)
	}
	del, err := natsd.EnsureConsumer(ctx, s.bus.stream, jetstream.ConsumerConfig{
		Durable: natsd.EventsDeliveryConsumer, FilterSubject: natsd.EventsDeliverySubject,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait, MaxAckPending: maxInFlight,
	})
	if err != nil {
		return fmt.Errorf("events: consumer %s: %w", natsd.EventsDeliveryConsumer, err)
	}
	// Events are matched concurrently (EventBridge keeps no order), at
	// most maxInFlight at once.
	msem := make(chan struct{}, maxInFlight)
	mc, err := match.Consume(func(m jetstream.Msg) {
		msem <- struct{}{}
		if !s.track() {
			<-msem
			return // matched after the next start
		}
		go func() {
			defer func() { <-msem; s.done.Done() }()
			s.match(ctx, m)
		}()
	})
	if err != nil {
		return fmt.Errorf("events: consuming %s: %w", natsd.EventsPutSubject, err)
	}
	s.bus.ctxs = append(s.bus.ctxs, mc)
	sem := make(chan struct{}, maxInFlight)
	dc, err := del.Consume(func(m jetstream.Msg) {
		sem <- struct{}{}
		if !s.track() {
			<-sem
			return // redelivered after the next start
		}
		go func() {
			defer func() { <-sem; s.done.Done() }()
			s.deliver(ctx, m)
		}()
	})
	if err != nil {
		return fmt.Errorf("events: consuming %s: %w", natsd.EventsDeliverySubject, err)
	}
	s.bus.ctxs = append(s.bus.ctxs, dc)
	return nil
}

// track counts a goroutine Close waits for; false once Close began.
func (s *Service) track() bool {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return false
	}
	s.done.Add(1)
	return true
}

// match turns one accepted event into one delivery per target of every
// enabled rule whose pattern it matches. A failure leaves the event to be
// matched again; deliveries already stored are not stored twice (their
// message ids are the stream's deduplication ids).
func (s *Service) match(ctx context.Context, m jetstream.Msg) {
	var a accepted
	if err := json.Unmarshal(m.Data(), &a); err != nil {
		s.log.Error("events: unreadable event in the stream; dropped", "error", err)
		_ = m.Term()
		return
	}
	var id struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(a.Event, &id)
	for _, r := range s.view.ruleList(a.Bus) {
		if r.State == "DISABLED" || len(r.Targets) == 0 {
			continue
		}
		if a.Rule != "" {
			if r.Name != a.Rule {
				continue
			}
		} else if r.pattern == nil || !r.pattern.MatchJSON(a.Event) {
			continue
		}
		for _, t := range r.Targets {
			d := delivery{Bus: a.Bus, Rule: r.Name, Target: t.ID, Event: a.Event, At: a.At}
			if err := s.bus.put(ctx, natsd.EventsDeliverySubject, "d-"+id.ID+"-"+r.ARN+"-"+t.ID, d); err != nil {
				if ctx.Err() == nil {
					s.log.Warn("events: storing a delivery failed; matching again", "eventId", id.ID, "error", err)
					_ = m.NakWithDelay(time.Second)
				}
				return
			}
		}
	}
	_ = m.Ack()
}

// errPermanent marks a failure that retrying cannot fix.
var errPermanent = errors.New("permanent failure")

// deliver makes one delivery attempt. A failed one is retried after
// Config.RetryDelay while the target's RetryPolicy allows; then, or at
// once for a failure no retry can fix (no permission, no such function),
// the event goes to the target's dead-letter queue, or is dropped with a
// log line. The stream's copy is acknowledged only then.
func (s *Service) deliver(ctx context.Context, m jetstream.Msg) {
	var d delivery
	if err := json.Unmarshal(m.Data(), &d); err != nil {
		s.log.Error("events: unreadable delivery in the stream; dropped", "error", err)
		_ = m.Term()
		return
	}
	r, ok := s.view.rule(d.Bus, d.Rule)
	var t *Target
	if ok {
		t, ok = r.target(d.Target)
	}
	if d.Direct != nil {
		r, t, ok = &rule{ARN: d.Direct.Source}, &d.Direct.Target, true
		t.Input, t.InputPath, t.InputTransformer = nil, nil, nil
	}
	if !ok {
		_ = m.Ack() // the rule or target was removed since
		return
	}
	err := s.attempt(ctx, r, t, &d)
	if err == nil {
		_ = m.Ack()
		return
	}
	if ctx.Err() != nil {
		return // shutting down: the stream redelivers it after the next start
	}
	attempt := 1
	if md, merr := m.Metadata(); merr == nil {
		attempt = int(md.NumDelivered)
	}
	log := s.log.With("rule", r.ARN, "target", t.ARN, "attempt", attempt, "error", err)
	permanent := errors.Is(err, errPermanent)
	var ae *awsproto.Error
	if errors.As(err, &ae) && !ae.Retryable() {
		permanent = true
	}
	delay := s.cfg.RetryDelay(attempt)
	condition := "MaximumRetryAttempts"
	switch {
	case permanent:
		condition = ""
	case attempt > t.retries():
	case s.now().Add(delay).Sub(d.At) > t.maxAge():
		condition = "MaximumEventAgeInSeconds"
	default:
		log.Warn("events: delivery failed; retrying")
		_ = m.NakWithDelay(delay)
		return
	}
	if t.DeadLetterConfig == nil || t.DeadLetterConfig.ARN == "" {
		log.Error("events: delivery failed; dropped")
		_ = m.Ack()
		return
	}
	attrs := map[string]asyncq.Attribute{
		"RULE_ARN":       {DataType: "String", Value: r.ARN},
		"TARGET_ARN":     {DataType: "String", Value: t.ARN},
		"RETRY_ATTEMPTS": {DataType: "Number", Value: strconv.Itoa(attempt - 1)},
		"ERROR_CODE":     {DataType: "String", Value: errorCode(err)},
		"ERROR_MESSAGE":  {DataType: "String", Value: clip(errorMessage(err))},
	}
	if condition != "" {
		attrs["EXHAUSTED_RETRY_CONDITION"] = asyncq.Attribute{DataType: "String", Value: condition}
	}
	if s.cfg.Targets == nil {
		log.Error("events: delivery failed and this server has no dead-letter queues; dropped")
		_ = m.Ack()
		return
	}
	if derr := s.cfg.Targets.Send(s.senderCtx(ctx, r, &d), t.DeadLetterConfig.ARN, d.Event, attrs); derr != nil {
		var de *awsproto.Error
		if errors.As(derr, &de) && !de.Retryable() {
			log.Error("events: delivery failed and the dead-letter queue refused the event; dropped", "dlq", t.DeadLetterConfig.ARN, "dlqError", derr)
			_ = m.Ack()
			return
		}
		log.Warn("events: the dead-letter queue refused the event; trying again", "dlq", t.DeadLetterConfig.ARN, "dlqError", derr)
		_ = m.NakWithDelay(delay)
		return
	}
	log.Warn("events: delivery failed; moved to the target's dead-letter queue", "dlq", t.DeadLetterConfig.ARN)
	_ = m.Ack()
}

func errorCode(err error) string {
	var ae *awsproto.Error
	if errors.As(err, &ae) {
		return ae.Code.Name()
	}
	return "InternalException"
}

func errorMessage(err error) string {
	var ae *awsproto.Error
	if errors.As(err, &ae) {
		return ae.Message
	}
	return err.Error()
}

// attempt delivers once.
func (s *Service) attempt(ctx context.Context, r *rule, t *Target, d *delivery) error {
	body, err := input(t, d.Event, r.ARN, r.Name)
	if err != nil {
		return fmt.Errorf("%w: input: %v", errPermanent, err)
	}
	service := ""
	if parts := strings.SplitN(t.ARN, ":", 4); len(parts) == 4 {
		service = parts[2]
	}
	switch service {
	case "lambda":
		if s.cfg.Invoker == nil {
			return fmt.Errorf("%w: this server invokes no functions", errPermanent)
		}
		ref, err := functionRef(t.ARN)
		if err != nil {
			return fmt.Errorf("%w: %v", errPermanent, err)
		}
		var id struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(d.Event, &id)
		ictx := authz.WithService(ctx, ServicePrincipal, r.ARN, s.cfg.Account)
		if d.Direct != nil && d.Direct.Role != "" {
			ictx = asRole(ctx, d.Direct.Role)
		}
		_, err = s.cfg.Invoker.Invoke(ictx, &invoke.Input{Ref: ref, InvocationType: invoke.TypeEvent, Payload: body, RequestID: awsproto.NewRequestID()})
		return err
	case "sqs", "sns":
		if s.cfg.Targets == nil {
			return fmt.Errorf("%w: this server delivers to no queues or topics", errPermanent)
		}
		return s.cfg.Targets.Send(s.senderCtx(ctx, r, d), t.ARN, body, nil)
	}
	return fmt.Errorf("%w: Kumo does not deliver to %s", errPermanent, t.ARN)
}

// senderCtx is ctx for sending d to a queue or topic (its target or its
// dead-letter queue): as events.amazonaws.com for the rule, so the
// queue's or topic's policy decides, or as the schedule's role.
func (s *Service) senderCtx(ctx context.Context, r *rule, d *delivery) context.Context {
	if d.Direct != nil && d.Direct.Role != "" {
		return asRole(ctx, d.Direct.Role)
	}
	return authz.WithService(ctx, ServicePrincipal, r.ARN, s.cfg.Account)
}

// asRole is ctx for a call made as a session of the role roleARN.
func asRole(ctx context.Context, roleARN string) context.Context {
	id := awsproto.Identity{RoleARN: roleARN, SessionName: "kumo-scheduler"}
	if parts := strings.SplitN(roleARN, ":", 6); len(parts) == 6 {
		id.Account = parts[4]
		name := parts[5][strings.LastIndexByte(parts[5], '/')+1:]
		id.ARN = "arn:" + parts[1] + ":sts::" + parts[4] + ":assumed-role/" + name + "/" + id.SessionName
	}
	return awsproto.WithCaller(ctx, awsproto.Caller{Identity: id})
}

// functionRef is the function and qualifier of a function ARN:
// arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER].
func functionRef(a string) (registry.Ref, error) {
	parts := strings.Split(a, ":")
	if len(parts) < 7 || len(parts) > 8 || parts[5] != "function" || parts[6] == "" {
		return registry.Ref{}, fmt.Errorf("not a function ARN: %q", a)
	}
	ref := registry.Ref{Name: parts[6]}
	if len(parts) == 8 {
		ref.Qualifier = parts[7]
	}
	return ref, nil
}

// --- PutEvents ---

type putEntry struct {
	Time         *epoch   `json:"Time"`
	Source       *string  `json:"Source"`
	Resources    []string `json:"Resources"`
	DetailType   *string  `json:"DetailType"`
	Detail       *string  `json:"Detail"`
	EventBusName string   `json:"EventBusName"`
	TraceHeader  string   `json:"TraceHeader"`
}

type putResult struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

// size is an entry's size as EventBridge counts it against the 256 KB.
func (e *putEntry) size() int {
	n := 0
	if e.Time != nil {
		n += 14
	}
	for _, p := range []*string{e.Source, e.DetailType, e.Detail} {
		if p != nil {
			n += len(*p)
		}
	}
	for _, r := range e.Resources {
		n += len(r)
	}
	return n
}

func putEvents(s *Service, ctx context.Context, body []byte) (any, error) {
	var in struct {
		Entries    []putEntry `json:"Entries"`
		EndpointID string     `json:"EndpointId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Entries) == 0 || len(in.Entries) > 10 {
		return nil, constraint("[...]", "entries", "Member must have length less than or equal to 10")
	}
	total := 0
	for i := range in.Entries {
		total += in.Entries[i].size()
	}
	if total > maxEntriesSize {
		return nil, validation("Total size of the entries in the request is over the limit.")
	}
	out := make([]putResult, len(in.Entries))
	var batch []pending
	failed := 0
	for i := range in.Entries {
		res, p := s.checkEntry(&in.Entries[i])
		if res.ErrorCode != "" {
			failed++
		} else {
			p.index = i
			batch = append(batch, p)
		}
		out[i] = res
	}
	// The accepted entries go to the stream together; the answer waits
	// until the stream has every one.
	if err := s.putAll(ctx, batch); err != nil {
		return nil, awsproto.Internal(err)
	}
	for _, p := range batch {
		out[p.index] = putResult{EventID: p.id}
	}
	return map[string]any{"FailedEntryCount": failed, "Entries": out}, nil
}

// pending is an accepted entry on its way to the stream.
type pending struct {
	index int
	id    string
	msg   accepted
}

// putAll stores the events of batch, at once, and returns when the stream
// has acknowledged each.
func (s *Service) putAll(ctx context.Context, batch []pending) error {
	futures := make([]jetstream.PubAckFuture, 0, len(batch))
	for _, p := range batch {
		data, err := json.Marshal(p.msg)
		if err != nil {
			return err
		}
		f, err := s.bus.js.PublishAsync(natsd.EventsPutSubject, data, jetstream.WithMsgID("e-"+p.id))
		if err != nil {
			return err
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// checkEntry validates one entry and builds its event; a refused entry
// is its result's error.
func (s *Service) checkEntry(e *putEntry) (putResult, pending) {
	invalidArg := func(member, reason string) (putResult, pending) {
		return putResult{ErrorCode: "InvalidArgument", ErrorMessage: "Parameter " + member + " is not valid. Reason: " + reason}, pending{}
	}
	switch {
	case e.Source == nil || *e.Source == "":
		return invalidArg("Source", "Source is a required argument.")
	case e.DetailType == nil || *e.DetailType == "":
		return invalidArg("DetailType", "DetailType is a required argument.")
	case e.Detail == nil || *e.Detail == "":
		return invalidArg("Detail", "Detail is a required argument.")
	case len(*e.DetailType) > 128:
		return invalidArg("DetailType", "DetailType is longer than 128 characters.")
	case !utf8.ValidString(*e.Source) || !utf8.ValidString(*e.DetailType):
		return invalidArg("Source", "Source and DetailType must be UTF-8.")
	}
	detail := bytes.TrimSpace([]byte(*e.Detail))
	if !json.Valid(detail) || len(detail) == 0 || detail[0] != '{' {
		return putResult{ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed."}, pending{}
	}
	name, err := s.busName(e.EventBusName)
	if err != nil {
		return putResult{ErrorCode: "ResourceNotFoundException", ErrorMessage: "Event bus " + clip(e.EventBusName) + " does not exist."}, pending{}
	}
	if name != DefaultBus {
		if _, ok := s.view.bus(name); !ok {
			return putResult{ErrorCode: "ResourceNotFoundException", ErrorMessage: "Event bus " + name + " does not exist."}, pending{}
		}
	}
	at := s.now()
	when := at
	if e.Time != nil {
		when = time.Time(*e.Time)
	}
	ev := Envelope{Version: "0", ID: newEventID(), DetailType: *e.DetailType, Source: *e.Source, Account: s.cfg.Account,
		Time: when.UTC().Format(timeFormat), Region: s.cfg.Region, Resources: nonNil(e.Resources), Detail: detail}
	raw, err := marshal(&ev)
	if err != nil {
		return putResult{ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed."}, pending{}
	}
	return putResult{}, pending{id: ev.ID, msg: accepted{Bus: name, Event: raw, At: at}}
}

// storeEvent stores ev on the bus busName durably (once per msgID within the
// stream's duplicate window); rules match it after. With rule set only
// that rule's targets get it (a scheduled rule's own event). It returns
// once the stream has the event.
func (s *Service) storeEvent(ctx context.Context, busName, rule string, ev *Envelope, msgID string) error {
	raw, err := marshal(ev)
	if err != nil {
		return err
	}
	return s.bus.put(ctx, natsd.EventsPutSubject, "e-"+msgID, accepted{Bus: busName, Rule: rule, Event: raw, At: s.now()})
}

// PutEvent stores an event an AWS service emits (source, detail-type,
// resources, detail) on the bus busARN names, which must be this server's
// and exist: what Lambda's destinations send to an event bus. It returns
// the event's id once the stream has it.
func (s *Service) PutEvent(ctx context.Context, busARN, source, detailType string, resources []string, detail []byte) (string, error) {
	name, err := s.busName(busARN)
	if err != nil {
		return "", err
	}
	if name != DefaultBus {
		if _, ok := s.view.bus(name); !ok {
			return "", notFound("Event bus %s does not exist.", name)
		}
	}
	if !json.Valid(detail) {
		return "", validation("Detail is malformed.")
	}
	ev := Envelope{Version: "0", ID: newEventID(), DetailType: detailType, Source: source, Account: s.cfg.Account,
		Time: s.now().Format(timeFormat), Region: s.cfg.Region, Resources: nonNil(resources), Detail: detail}
	if err := s.storeEvent(ctx, name, "", &ev, ev.ID); err != nil {
		return "", awsproto.Internal(err)
	}
	return ev.ID, nil
}

// marshal is json.Marshal without escaping <, > and &.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
