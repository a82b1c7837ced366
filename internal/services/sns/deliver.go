package sns

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SignatureVersion 1 is SHA1withRSA by definition
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/eventpattern"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/registry"
)

// ackWait bounds one delivery attempt (an http endpoint has 15 seconds).
const ackWait = time.Minute

// maxInFlight bounds concurrent deliveries.
const maxInFlight = 64

// startDelivery starts the fan-out and delivery consumers.
func (s *Service) startDelivery(ctx context.Context) error {
	fan, err := natsd.EnsureConsumer(ctx, s.bus.stream, jetstream.ConsumerConfig{
		Durable: natsd.SNSFanoutConsumer, FilterSubject: natsd.SNSPublishSubject,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait, MaxAckPending: 256,
	})
	if err != nil {
		return fmt.Errorf("sns: consumer %s: %w", natsd.SNSFanoutConsumer, err)
	}
	del, err := natsd.EnsureConsumer(ctx, s.bus.stream, jetstream.ConsumerConfig{
		Durable: natsd.SNSDeliveryConsumer, FilterSubject: natsd.SNSDeliverySubject,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait, MaxAckPending: maxInFlight,
	})
	if err != nil {
		return fmt.Errorf("sns: consumer %s: %w", natsd.SNSDeliveryConsumer, err)
	}
	fc, err := fan.Consume(func(m jetstream.Msg) { s.fanout(ctx, m) })
	if err != nil {
		return fmt.Errorf("sns: consuming %s: %w", natsd.SNSPublishSubject, err)
	}
	s.bus.ctxs = append(s.bus.ctxs, fc)
	sem := make(chan struct{}, maxInFlight)
	dc, err := del.Consume(func(m jetstream.Msg) {
		sem <- struct{}{}
		s.closeMu.Lock()
		if s.closed {
			s.closeMu.Unlock()
			<-sem
			return // redelivered after the next start
		}
		s.done.Add(1)
		s.closeMu.Unlock()
		go func() {
			defer func() { <-sem; s.done.Done() }()
			s.deliver(ctx, m)
		}()
	})
	if err != nil {
		fc.Stop()
		return fmt.Errorf("sns: consuming %s: %w", natsd.SNSDeliverySubject, err)
	}
	s.bus.ctxs = append(s.bus.ctxs, dc)
	// FIFO deliveries: one at a time, in the order fan-out stored them; a
	// failing one holds back those after it until it is delivered or
	// given up.
	fifo, err := natsd.EnsureConsumer(ctx, s.bus.stream, jetstream.ConsumerConfig{
		Durable: natsd.SNSFIFOConsumer, FilterSubject: natsd.SNSFIFODeliverySubject,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait, MaxAckPending: 1,
	})
	if err != nil {
		return fmt.Errorf("sns: consumer %s: %w", natsd.SNSFIFOConsumer, err)
	}
	ffc, err := fifo.Consume(func(m jetstream.Msg) {
		s.closeMu.Lock()
		if s.closed {
			s.closeMu.Unlock()
			return
		}
		s.done.Add(1)
		s.closeMu.Unlock()
		defer s.done.Done()
		s.deliver(ctx, m)
	})
	if err != nil {
		return fmt.Errorf("sns: consuming %s: %w", natsd.SNSFIFODeliverySubject, err)
	}
	s.bus.ctxs = append(s.bus.ctxs, ffc)
	return nil
}

// fanout turns one accepted message into one delivery per subscription
// whose filter policy it matches. A failure leaves the message to be
// fanned out again; deliveries already stored are not stored twice
// (their message ids are the stream's deduplication ids).
func (s *Service) fanout(ctx context.Context, m jetstream.Msg) {
	var msg message
	if err := json.Unmarshal(m.Data(), &msg); err != nil {
		s.log.Error("sns: unreadable message in the stream; dropped", "error", err)
		_ = m.Term()
		return
	}
	subject := natsd.SNSDeliverySubject
	if msg.GroupID != "" {
		subject = natsd.SNSFIFODeliverySubject
		if md, err := m.Metadata(); err == nil {
			msg.Seq = md.Sequence.Stream
			msg.ID = fifoID(msg.TopicARN, msg.DedupID, msg.Seq)
		}
	}
	fa := filterAttributes(msg.Attrs) // once per message, for every subscription
	for _, sub := range s.view.subList(msg.TopicARN) {
		if sub.Pending || !matches(sub, &msg, fa) {
			continue
		}
		d := delivery{Kind: "Notification", Subscription: sub.ARN, Msg: &msg, ID: msg.ID, Timestamp: msg.Timestamp}
		if err := s.bus.put(ctx, subject, "d-"+msg.ID+"-"+sub.ARN, d); err != nil {
			s.log.Warn("sns: fan-out failed; retrying", "messageId", msg.ID, "error", err)
			_ = m.NakWithDelay(time.Second)
			return
		}
	}
	_ = m.Ack()
}

// matches reports whether msg, whose attributes are fa, passes sub's
// filter policy.
func matches(sub *subscription, msg *message, fa map[string]eventpattern.Attribute) bool {
	if sub.filter == nil {
		return true
	}
	if sub.Attributes["FilterPolicyScope"] == "MessageBody" {
		return sub.filter.MatchJSON([]byte(msg.Message))
	}
	return sub.filter.MatchAttributes(fa)
}

// deliver makes one delivery attempt; a failed one is retried after the
// next of RetryDelays, and once they are spent it goes to the
// subscription's dead-letter queue, or is dropped and logged.
func (s *Service) deliver(ctx context.Context, m jetstream.Msg) {
	var d delivery
	if err := json.Unmarshal(m.Data(), &d); err != nil {
		s.log.Error("sns: unreadable delivery in the stream; dropped", "error", err)
		_ = m.Term()
		return
	}
	sub, ok := s.view.sub(d.Subscription)
	if !ok {
		_ = m.Ack() // unsubscribed since
		return
	}
	err := s.attempt(ctx, sub, &d)
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
	log := s.log.With("subscriptionArn", sub.ARN, "protocol", sub.Protocol, "messageId", d.ID, "attempt", attempt, "error", err)
	if delays := s.retryDelays(sub); attempt <= len(delays) && !errors.Is(err, errPermanent) {
		log.Warn("sns: delivery failed; retrying")
		_ = m.NakWithDelay(delays[attempt-1])
		return
	}
	if d.Kind == "Notification" && s.redrive(ctx, sub, &d) {
		log.Warn("sns: delivery failed; moved to the subscription's dead-letter queue")
	} else {
		log.Error("sns: delivery failed; dropped")
	}
	_ = m.Ack()
}

// errPermanent marks a failure that retrying cannot fix.
var errPermanent = errors.New("permanent failure")

// attempt delivers once.
func (s *Service) attempt(ctx context.Context, sub *subscription, d *delivery) error {
	if d.Kind == "SubscriptionConfirmation" {
		return s.postHTTP(ctx, sub, d, s.confirmationBody(sub, d), false)
	}
	switch sub.Protocol {
	case "lambda":
		return s.deliverLambda(ctx, sub, d)
	case "sqs":
		return s.deliverSQS(ctx, sub.Endpoint, sub, d)
	case "http", "https":
		raw := sub.Attributes["RawMessageDelivery"] == "true"
		body := []byte(messageFor(d.Msg, sub.Protocol))
		if !raw {
			body = s.envelope(sub, d)
		}
		return s.postHTTP(ctx, sub, d, body, raw)
	}
	return fmt.Errorf("%w: protocol %s", errPermanent, sub.Protocol)
}

// messageFor is the message a protocol receives: with MessageStructure
// json, its own entry or the default one.
func messageFor(m *message, protocol string) string {
	if m.Structure != "json" {
		return m.Message
	}
	var per map[string]any
	_ = json.Unmarshal([]byte(m.Message), &per)
	if v, ok := per[protocol].(string); ok {
		return v
	}
	v, _ := per["default"].(string)
	return v
}

// lambdaRecord is one record of the event Lambda receives from SNS
// (aws-lambda-go's events.SNSEventRecord).
type lambdaRecord struct {
	EventSource          string       `json:"EventSource"`
	EventVersion         string       `json:"EventVersion"`
	EventSubscriptionArn string       `json:"EventSubscriptionArn"`
	Sns                  lambdaEntity `json:"Sns"`
}

type lambdaEntity struct {
	Type              string                    `json:"Type"`
	MessageID         string                    `json:"MessageId"`
	TopicArn          string                    `json:"TopicArn"`
	Subject           *string                   `json:"Subject"`
	Message           string                    `json:"Message"`
	Timestamp         string                    `json:"Timestamp"`
	SignatureVersion  string                    `json:"SignatureVersion"`
	Signature         string                    `json:"Signature"`
	SigningCertURL    string                    `json:"SigningCertUrl"`
	UnsubscribeURL    string                    `json:"UnsubscribeUrl"`
	MessageAttributes map[string]envelopeAttrib `json:"MessageAttributes"`
}

type envelopeAttrib struct {
	Type  string `json:"Type"`
	Value string `json:"Value"`
}

func envelopeAttributes(attrs map[string]attribute) map[string]envelopeAttrib {
	out := make(map[string]envelopeAttrib, len(attrs))
	for k, a := range attrs {
		v := a.StringValue
		if strings.HasPrefix(a.DataType, "Binary") {
			v = a.BinaryValue
		}
		out[k] = envelopeAttrib{a.DataType, v}
	}
	return out
}

// deliverLambda queues an asynchronous invocation of the function as
// sns.amazonaws.com for the topic; the function's policy decides.
func (s *Service) deliverLambda(ctx context.Context, sub *subscription, d *delivery) error {
	if s.cfg.Invoker == nil {
		return fmt.Errorf("%w: this server delivers to no functions", errPermanent)
	}
	ref, err := functionRef(sub.Endpoint)
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	msg := messageFor(d.Msg, "lambda")
	sig := s.sign(sub.TopicARN, d, msg, "Notification")
	e := lambdaEntity{Type: "Notification", MessageID: d.Msg.ID, TopicArn: d.Msg.TopicARN, Message: msg,
		Timestamp: stamp(d.Msg.Timestamp), SignatureVersion: s.signatureVersion(sub.TopicARN), Signature: sig,
		SigningCertURL: s.certURL(), UnsubscribeURL: s.unsubscribeURL(sub.ARN), MessageAttributes: envelopeAttributes(d.Msg.Attrs)}
	if d.Msg.Subject != "" {
		e.Subject = &d.Msg.Subject
	}
	payload, err := json.Marshal(struct {
		Records []lambdaRecord `json:"Records"`
	}{[]lambdaRecord{{EventSource: "aws:sns", EventVersion: "1.0", EventSubscriptionArn: sub.ARN, Sns: e}}})
	if err != nil {
		return err
	}
	ictx := authz.WithService(ctx, ServicePrincipal, sub.TopicARN, s.cfg.Account)
	_, err = s.cfg.Invoker.Invoke(ictx, &invoke.Input{Ref: ref, InvocationType: invoke.TypeEvent, Payload: payload, RequestID: newID()})
	return err
}

// functionRef is the function and qualifier a lambda endpoint names:
// arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER].
func functionRef(endpoint string) (registry.Ref, error) {
	parts := strings.Split(endpoint, ":")
	if len(parts) < 7 || len(parts) > 8 || parts[5] != "function" || parts[6] == "" {
		return registry.Ref{}, fmt.Errorf("not a function ARN: %q", endpoint)
	}
	ref := registry.Ref{Name: parts[6]}
	if len(parts) == 8 {
		ref.Qualifier = parts[7]
	}
	return ref, nil
}

// deliverSQS sends the envelope, or the raw message with its attributes,
// to the queue.
func (s *Service) deliverSQS(ctx context.Context, queueARN string, sub *subscription, d *delivery) (err error) {
	if s.cfg.Queues == nil {
		return fmt.Errorf("%w: this server delivers to no SQS queues", errPermanent)
	}
	// SNS sends as sns.amazonaws.com for the topic: the queue's policy
	// decides, and a refusal is not retried.
	ctx = authz.WithService(ctx, ServicePrincipal, sub.TopicARN, s.cfg.Account)
	defer func() {
		if err != nil && awsproto.AsError(err).Code == awsproto.SQSAccessDenied {
			err = fmt.Errorf("%w: %v", errPermanent, err)
		}
	}()
	if d.Msg.GroupID != "" {
		fq, ok := s.cfg.Queues.(FIFOQueues)
		if !ok {
			return fmt.Errorf("%w: this server delivers FIFO topics to no SQS queues", errPermanent)
		}
		body, attrs := string(s.envelope(sub, d)), map[string]QueueAttribute(nil)
		if sub.Attributes["RawMessageDelivery"] == "true" {
			body, attrs = messageFor(d.Msg, "sqs"), queueAttributes(d.Msg.Attrs)
		}
		_, err := fq.DeliverFIFO(ctx, queueARN, body, attrs, d.Msg.GroupID, d.Msg.DedupID)
		return err
	}
	if sub.Attributes["RawMessageDelivery"] == "true" {
		_, err := s.cfg.Queues.Deliver(ctx, queueARN, messageFor(d.Msg, "sqs"), queueAttributes(d.Msg.Attrs))
		return err
	}
	_, err = s.cfg.Queues.Deliver(ctx, queueARN, string(s.envelope(sub, d)), nil)
	return err
}

// queueAttributes are a message's attributes as SQS takes them.
func queueAttributes(in map[string]attribute) map[string]QueueAttribute {
	attrs := make(map[string]QueueAttribute, len(in))
	for k, a := range in {
		qa := QueueAttribute{DataType: a.DataType, StringValue: a.StringValue}
		if a.BinaryValue != "" {
			qa.BinaryValue, _ = base64.StdEncoding.DecodeString(a.BinaryValue)
		}
		attrs[k] = qa
	}
	return attrs
}

// redrive sends a notification that could not be delivered to the
// subscription's dead-letter queue; false when it has none or that
// failed too.
func (s *Service) redrive(ctx context.Context, sub *subscription, d *delivery) bool {
	rp := sub.Attributes["RedrivePolicy"]
	if rp == "" || s.cfg.Queues == nil {
		return false
	}
	var p struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	}
	if json.Unmarshal([]byte(rp), &p) != nil || p.DeadLetterTargetArn == "" {
		return false
	}
	_, err := s.cfg.Queues.Deliver(authz.WithService(ctx, ServicePrincipal, sub.TopicARN, s.cfg.Account), p.DeadLetterTargetArn, string(s.envelope(sub, d)), nil)
	if err != nil {
		s.log.Error("sns: dead-letter queue refused a message", "queue", p.DeadLetterTargetArn, "error", err)
	}
	return err == nil
}

// envelope is the JSON document SQS queues and http endpoints receive.
func (s *Service) envelope(sub *subscription, d *delivery) []byte {
	msg := messageFor(d.Msg, sub.Protocol)
	type env struct {
		Type              string                    `json:"Type"`
		MessageID         string                    `json:"MessageId"`
		TopicArn          string                    `json:"TopicArn"`
		Subject           string                    `json:"Subject,omitempty"`
		Message           string                    `json:"Message"`
		Timestamp         string                    `json:"Timestamp"`
		SignatureVersion  string                    `json:"SignatureVersion"`
		Signature         string                    `json:"Signature"`
		SigningCertURL    string                    `json:"SigningCertURL"`
		UnsubscribeURL    string                    `json:"UnsubscribeURL"`
		MessageAttributes map[string]envelopeAttrib `json:"MessageAttributes,omitempty"`
		SequenceNumber    string                    `json:"SequenceNumber,omitempty"`
	}
	e := env{"Notification", d.Msg.ID, d.Msg.TopicARN, d.Msg.Subject, msg, stamp(d.Msg.Timestamp),
		s.signatureVersion(sub.TopicARN), s.sign(sub.TopicARN, d, msg, "Notification"), s.certURL(), s.unsubscribeURL(sub.ARN),
		envelopeAttributes(d.Msg.Attrs), ""}
	if d.Msg.GroupID != "" {
		e.SequenceNumber = sequenceNumber(d.Msg.Seq)
	}
	b, _ := json.Marshal(e)
	return b
}

// confirmationBody is the SubscriptionConfirmation an http endpoint
// receives.
func (s *Service) confirmationBody(sub *subscription, d *delivery) []byte {
	text := "You have chosen to subscribe to the topic " + sub.TopicARN + ".\nTo confirm the subscription, visit the SubscribeURL included in this message."
	subscribeURL := s.cfg.EdgeURL() + "/?Action=ConfirmSubscription&TopicArn=" + url.QueryEscape(sub.TopicARN) + "&Token=" + d.Token
	type env struct {
		Type             string `json:"Type"`
		MessageID        string `json:"MessageId"`
		Token            string `json:"Token"`
		TopicArn         string `json:"TopicArn"`
		Message          string `json:"Message"`
		SubscribeURL     string `json:"SubscribeURL"`
		Timestamp        string `json:"Timestamp"`
		SignatureVersion string `json:"SignatureVersion"`
		Signature        string `json:"Signature"`
		SigningCertURL   string `json:"SigningCertURL"`
	}
	fields := []string{"Message", text, "MessageId", d.ID, "SubscribeURL", subscribeURL, "Timestamp", stamp(d.Timestamp),
		"Token", d.Token, "TopicArn", sub.TopicARN, "Type", "SubscriptionConfirmation"}
	b, _ := json.Marshal(env{"SubscriptionConfirmation", d.ID, d.Token, sub.TopicARN, text, subscribeURL, stamp(d.Timestamp),
		s.signatureVersion(sub.TopicARN), s.signFields(sub.TopicARN, fields), s.certURL()})
	return b
}

// postHTTP posts one message to an http/https endpoint; any 2xx is a
// delivery.
func (s *Service) postHTTP(ctx context.Context, sub *subscription, d *delivery, body []byte, raw bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.Endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	h := req.Header
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("User-Agent", "Amazon Simple Notification Service Agent")
	h.Set("x-amz-sns-message-type", d.Kind)
	h.Set("x-amz-sns-message-id", d.ID)
	h.Set("x-amz-sns-topic-arn", sub.TopicARN)
	if d.Kind == "Notification" {
		h.Set("x-amz-sns-subscription-arn", sub.ARN)
	}
	if raw {
		h.Set("x-amz-sns-rawdelivery", "true")
	}
	resp, err := s.httpc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("endpoint answered %s", resp.Status)
	}
	return nil
}

// stamp is SNS's timestamp format: ISO 8601 with milliseconds, UTC.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (s *Service) certURL() string {
	return s.cfg.EdgeURL() + CertPath
}

func (s *Service) unsubscribeURL(subARN string) string {
	return s.cfg.EdgeURL() + "/?Action=Unsubscribe&SubscriptionArn=" + url.QueryEscape(subARN)
}

// signatureVersion is the topic's SignatureVersion attribute: "1" unless
// set to "2".
func (s *Service) signatureVersion(topicARN string) string {
	if name, ok := s.topicName(topicARN); ok {
		if t, ok := s.view.topic(name); ok && t.Attributes["SignatureVersion"] == "2" {
			return "2"
		}
	}
	return "1"
}

// sign signs a notification as SNS does: the string of its fields, in
// order, each name and value on a line of its own.
func (s *Service) sign(topicARN string, d *delivery, msg, typ string) string {
	fields := []string{"Message", msg, "MessageId", d.Msg.ID}
	if d.Msg.Subject != "" {
		fields = append(fields, "Subject", d.Msg.Subject)
	}
	fields = append(fields, "Timestamp", stamp(d.Msg.Timestamp), "TopicArn", d.Msg.TopicARN, "Type", typ)
	return s.signFields(topicARN, fields)
}

func (s *Service) signFields(topicARN string, fields []string) string {
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f)
		b.WriteByte('\n')
	}
	var (
		sum  []byte
		hash crypto.Hash
	)
	if s.signatureVersion(topicARN) == "2" {
		h := sha256.Sum256([]byte(b.String()))
		sum, hash = h[:], crypto.SHA256
	} else {
		h := sha1.Sum([]byte(b.String())) //nolint:gosec // SignatureVersion 1
		sum, hash = h[:], crypto.SHA1
	}
	sig, err := rsa.SignPKCS1v15(nil, s.cfg.SigningKey, hash, sum)
	if err != nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(sig)
}
