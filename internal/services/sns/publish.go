package sns

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/lazyregexp"
	"github.com/kumo-run/kumo/internal/natsd"
)

// attribute is one message attribute as Publish takes it and the stream
// keeps it.
type attribute struct {
	DataType    string `json:"t"`
	StringValue string `json:"s,omitempty"`
	BinaryValue string `json:"b,omitempty"` // base64, as on the wire
}

// message is one accepted Publish, as the stream keeps it.
type message struct {
	ID        string               `json:"id"`
	TopicARN  string               `json:"topic"`
	Subject   string               `json:"subject,omitempty"`
	Message   string               `json:"message"`
	Structure string               `json:"structure,omitempty"` // "json": Message holds one per protocol
	Attrs     map[string]attribute `json:"attrs,omitempty"`
	Timestamp time.Time            `json:"ts"`
	// FIFO topics: the group and deduplication ids, and the sequence
	// number (the stream's, which gives ID too: see fifoID).
	GroupID string `json:"group,omitempty"`
	DedupID string `json:"dedup,omitempty"`
	Seq     uint64 `json:"seq,omitempty"`
}

// fifoID is the MessageId of a FIFO topic's message: a UUID derived from
// the topic, the deduplication id and the stream sequence of the first
// copy, so that a duplicate Publish answers the first one's id.
func fifoID(topicARN, dedupID string, seq uint64) string {
	sum := sha256.Sum256([]byte(topicARN + "\x00" + dedupID + "\x00" + strconv.FormatUint(seq, 10)))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// sequenceNumber is a FIFO message's SequenceNumber as SNS spells it:
// a decimal string, growing with every message.
func sequenceNumber(seq uint64) string { return fmt.Sprintf("%020d", seq) }

// delivery is one delivery to one subscription, as the stream keeps it.
type delivery struct {
	Kind         string   `json:"kind"` // "Notification" or "SubscriptionConfirmation"
	Subscription string   `json:"sub"`
	Msg          *message `json:"msg,omitempty"`
	Token        string   `json:"token,omitempty"`
	Timestamp    time.Time
	ID           string `json:"id"`
}

// bus is the stream of accepted messages and their deliveries.
type bus struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	ctxs   []jetstream.ConsumeContext
}

func openBus(ctx context.Context, nc *nats.Conn, replicas int) (*bus, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("sns: jetstream: %w", err)
	}
	stream, err := natsd.EnsureStream(ctx, js, jetstream.StreamConfig{
		Name:       natsd.SNSStream,
		Subjects:   []string{natsd.SNSSubjects},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.WorkQueuePolicy,
		Replicas:   max(replicas, 1),
		Duplicates: 5 * time.Minute, // SNS's deduplication window for FIFO topics
	})
	if err != nil {
		return nil, fmt.Errorf("sns: stream %s: %w", natsd.SNSStream, err)
	}
	return &bus{js: js, stream: stream}, nil
}

// put stores v on subject durably, once per msgID within the stream's
// duplicate window.
func (b *bus) put(ctx context.Context, subject, msgID string, v any) error {
	_, err := b.putAck(ctx, subject, msgID, v)
	return err
}

// putAck is put, returning the stream's acknowledgement: the sequence of
// the message, or of the first copy when msgID was a duplicate.
func (b *bus) putAck(ctx context.Context, subject, msgID string, v any) (*jetstream.PubAck, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return b.js.Publish(ctx, subject, data, jetstream.WithMsgID(msgID))
}

func (b *bus) stopConsumers() {
	for _, c := range b.ctxs {
		c.Stop()
	}
}

var attrName = lazyregexp.New(`^[A-Za-z0-9_\-.]{1,256}$`)

// checkAttributes validates message attributes as SNS does.
func checkAttributes(attrs map[string]attribute) error {
	if len(attrs) > 10 {
		return awsproto.Errorf(awsproto.SNSParameterValueInvalid, "Number of message attributes [%d] exceeds the allowed maximum [10].", len(attrs))
	}
	for name, a := range attrs {
		if !attrName.MatchString(name) || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") ||
			strings.HasPrefix(strings.ToLower(name), "aws.") || strings.HasPrefix(strings.ToLower(name), "amazon.") {
			return awsproto.Errorf(awsproto.SNSParameterValueInvalid, "The message attribute name '%s' is invalid.", clip(name))
		}
		base, _, _ := strings.Cut(a.DataType, ".")
		switch base {
		case "String", "Number":
			if a.StringValue == "" {
				return awsproto.Errorf(awsproto.SNSParameterValueInvalid, "The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", clip(name), clip(a.DataType))
			}
			if base == "Number" {
				if _, err := strconv.ParseFloat(a.StringValue, 64); err != nil {
					return awsproto.Errorf(awsproto.SNSParameterValueInvalid, "Could not cast message attribute '%s' value to number.", clip(name))
				}
			}
			if a.DataType == "String.Array" {
				var arr []any
				if json.Unmarshal([]byte(a.StringValue), &arr) != nil {
					return awsproto.Errorf(awsproto.SNSParameterValueInvalid, "The message attribute '%s' with type 'String.Array' has an invalid value: it must be a JSON array.", clip(name))
				}
			}
		case "Binary":
			if a.BinaryValue == "" {
				return awsproto.Errorf(awsproto.SNSParameterValueInvalid, "The message attribute '%s' must contain non-empty message attribute value for message attribute type 'Binary'.", clip(name))
			}
		default:
			return awsproto.Errorf(awsproto.SNSParameterValueInvalid, "The message attribute '%s' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.", clip(name))
		}
	}
	return nil
}

// publishInput is one message of Publish or one entry of PublishBatch.
type publishInput struct {
	TopicArn, TargetArn, PhoneNumber string
	Id                               string //nolint:revive // the wire's name
	Message, Subject                 string
	MessageStructure                 string
	MessageAttributes                map[string]attribute `query:"MessageAttributes,key=Name,value=Value"`
	MessageGroupId                   string
	MessageDeduplicationId           string
}

// UnmarshalQuery reads attribute's members by their wire names.
type attributeWire struct {
	DataType, StringValue, BinaryValue string
}

// readAttributes decodes MessageAttributes of the entry at prefix.
func readAttributes(q map[string][]string, prefix string) (map[string]attribute, error) {
	var in struct {
		MessageAttributes map[string]attributeWire `query:"MessageAttributes,key=Name,value=Value"`
	}
	sub := map[string][]string{}
	for k, v := range q {
		if strings.HasPrefix(k, prefix+"MessageAttributes.") {
			sub[strings.TrimPrefix(k, prefix)] = v
		}
	}
	if len(sub) == 0 {
		return nil, nil
	}
	if err := awsproto.UnmarshalQuery(sub, &in); err != nil {
		return nil, err
	}
	out := make(map[string]attribute, len(in.MessageAttributes))
	for k, a := range in.MessageAttributes {
		out[k] = attribute(a)
	}
	return out, nil
}

// prepare validates one message for topic t and returns what the stream
// keeps.
func (s *Service) prepareMessage(t *topic, in *publishInput) (*message, error) {
	switch {
	case !t.fifo() && in.MessageGroupId != "":
		return nil, invalid("Invalid parameter: MessageGroupId Reason: The request includes MessageGroupId parameter that is not valid for this topic type")
	case !t.fifo() && in.MessageDeduplicationId != "":
		return nil, invalid("Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type")
	case t.fifo() && in.MessageGroupId == "":
		return nil, invalid("Invalid parameter: The MessageGroupId parameter is required for FIFO topics")
	case t.fifo() && !fifoToken.MatchString(in.MessageGroupId):
		return nil, invalid("Invalid parameter: MessageGroupId")
	case t.fifo() && in.MessageDeduplicationId == "" && t.Attributes["ContentBasedDeduplication"] != "true":
		return nil, invalid("Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
	case t.fifo() && in.MessageDeduplicationId != "" && !fifoToken.MatchString(in.MessageDeduplicationId):
		return nil, invalid("Invalid parameter: MessageDeduplicationId")
	}
	if in.Message == "" {
		return nil, invalid("Invalid parameter: Empty message")
	}
	if len(in.Subject) > maxSubject || strings.ContainsAny(in.Subject, "\n\r") {
		return nil, invalid("Invalid parameter: Subject")
	}
	if err := checkAttributes(in.MessageAttributes); err != nil {
		return nil, err
	}
	size := len(in.Message)
	for k, a := range in.MessageAttributes {
		size += len(k) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
	}
	if size > maxMessageSize {
		return nil, invalid("Invalid parameter: Message too long")
	}
	switch in.MessageStructure {
	case "":
	case "json":
		var per map[string]any
		if json.Unmarshal([]byte(in.Message), &per) != nil {
			return nil, invalid("Invalid parameter: Message Structure - JSON message body failed to parse")
		}
		if _, ok := per["default"].(string); !ok {
			return nil, invalid("Invalid parameter: Message Structure - No default entry in JSON message body")
		}
	default:
		return nil, invalid("Invalid parameter: MessageStructure")
	}
	m := &message{ID: newID(), TopicARN: t.ARN, Subject: in.Subject, Message: in.Message, Structure: in.MessageStructure,
		Attrs: in.MessageAttributes, Timestamp: s.now().Truncate(time.Millisecond)}
	if t.fifo() {
		m.ID, m.GroupID, m.DedupID = "", in.MessageGroupId, in.MessageDeduplicationId
		if m.DedupID == "" {
			sum := sha256.Sum256([]byte(in.Message))
			m.DedupID = hex.EncodeToString(sum[:])
		}
	}
	return m, nil
}

// fifoToken: MessageGroupId and MessageDeduplicationId, 1 to 128 of
// printable ASCII.
var fifoToken = lazyregexp.New(`^[!-~]{1,128}$`)

// accept stores m durably; a Publish is acknowledged only after it. A
// FIFO topic's message is stored once per deduplication id within the
// stream's duplicate window (SNS's five minutes); accept fills in its
// MessageId and sequence number, the first copy's for a duplicate.
func (s *Service) accept(ctx context.Context, m *message) error {
	if m.GroupID == "" {
		return s.bus.put(ctx, natsd.SNSPublishSubject, "p-"+m.ID, m)
	}
	ack, err := s.bus.putAck(ctx, natsd.SNSPublishSubject, "f-"+m.TopicARN+"-"+m.DedupID, m)
	if err != nil {
		return err
	}
	m.Seq = ack.Sequence
	m.ID = fifoID(m.TopicARN, m.DedupID, m.Seq)
	return nil
}

func (s *Service) publish(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	in := publishInput{TopicArn: q.Params.Get("TopicArn"), TargetArn: q.Params.Get("TargetArn"), PhoneNumber: q.Params.Get("PhoneNumber"),
		Message: q.Params.Get("Message"), Subject: q.Params.Get("Subject"), MessageStructure: q.Params.Get("MessageStructure"),
		MessageGroupId: q.Params.Get("MessageGroupId"), MessageDeduplicationId: q.Params.Get("MessageDeduplicationId")}
	attrs, err := readAttributes(q.Params, "")
	if err != nil {
		return nil, err
	}
	in.MessageAttributes = attrs
	target := in.TopicArn
	if target == "" {
		target = in.TargetArn
	}
	if target == "" {
		if in.PhoneNumber != "" {
			return nil, invalid("Invalid parameter: PhoneNumber Reason: SMS is not supported by this server")
		}
		return nil, invalid("Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter")
	}
	t, err := s.lookupTopic(target)
	if err != nil {
		return nil, err
	}
	m, err := s.prepareMessage(t, &in)
	if err != nil {
		return nil, err
	}
	if err := s.accept(ctx, m); err != nil {
		return nil, awsproto.Internal(err)
	}
	out := struct {
		MessageId      string `xml:"MessageId"`
		SequenceNumber string `xml:"SequenceNumber,omitempty"`
	}{MessageId: m.ID}
	if m.GroupID != "" {
		out.SequenceNumber = sequenceNumber(m.Seq)
	}
	return out, nil
}

var batchID = lazyregexp.New(`^[A-Za-z0-9_-]{1,80}$`)

func (s *Service) publishBatch(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	t, err := s.lookupTopic(q.Params.Get("TopicArn"))
	if err != nil {
		return nil, err
	}
	var in struct {
		PublishBatchRequestEntries []struct {
			Id, Message, Subject, MessageStructure string //nolint:revive // the wire's names
			MessageGroupId, MessageDeduplicationId string
		}
	}
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	entries := in.PublishBatchRequestEntries
	switch {
	case len(entries) == 0:
		return nil, awsproto.Errorf(awsproto.SNSEmptyBatchRequest, "The batch request doesn't contain any entries.")
	case len(entries) > maxBatch:
		return nil, awsproto.Errorf(awsproto.SNSTooManyEntriesInBatchRequest, "The batch request contains more entries than permissible.")
	}
	seen := map[string]bool{}
	total := 0
	for _, e := range entries {
		if !batchID.MatchString(e.Id) {
			return nil, awsproto.Errorf(awsproto.SNSInvalidBatchEntryID, "The Id of a batch entry in a batch request doesn't abide by the specification.")
		}
		if seen[e.Id] {
			return nil, awsproto.Errorf(awsproto.SNSBatchEntryIdsNotDistinct, "Two or more batch entries in the request have the same Id.")
		}
		seen[e.Id] = true
		total += len(e.Message)
	}
	if total > maxMessageSize {
		return nil, awsproto.Errorf(awsproto.SNSBatchRequestTooLong, "The length of all the messages put together is more than the limit.")
	}
	type ok struct {
		Id             string `xml:"Id"`        //nolint:revive // the wire's name
		MessageId      string `xml:"MessageId"` //nolint:revive // the wire's name
		SequenceNumber string `xml:"SequenceNumber,omitempty"`
	}
	type failed struct {
		Id          string `xml:"Id"` //nolint:revive // the wire's name
		Code        string `xml:"Code"`
		Message     string `xml:"Message"`
		SenderFault bool   `xml:"SenderFault"`
	}
	out := struct {
		Successful []ok     `xml:"Successful>member"`
		Failed     []failed `xml:"Failed>member"`
	}{Successful: []ok{}, Failed: []failed{}}
	for i, e := range entries {
		attrs, err := readAttributes(q.Params, fmt.Sprintf("PublishBatchRequestEntries.member.%d.", i+1))
		if err == nil {
			var m *message
			m, err = s.prepareMessage(t, &publishInput{Message: e.Message, Subject: e.Subject, MessageStructure: e.MessageStructure,
				MessageAttributes: attrs, MessageGroupId: e.MessageGroupId, MessageDeduplicationId: e.MessageDeduplicationId})
			if err == nil {
				if err = s.accept(ctx, m); err == nil {
					r := ok{Id: e.Id, MessageId: m.ID}
					if m.GroupID != "" {
						r.SequenceNumber = sequenceNumber(m.Seq)
					}
					out.Successful = append(out.Successful, r)
					continue
				}
				err = awsproto.Internal(err)
			}
		}
		ae := awsproto.AsError(err)
		spec, _ := awsproto.Lookup(ae.Code)
		out.Failed = append(out.Failed, failed{e.Id, ae.Code.Name(), ae.Message, spec.Fault == awsproto.Client})
	}
	return out, nil
}

// enqueueConfirmation queues the SubscriptionConfirmation of a pending
// subscription.
func (s *Service) enqueueConfirmation(ctx context.Context, sub *subscription) error {
	d := delivery{Kind: "SubscriptionConfirmation", Subscription: sub.ARN, Token: sub.Token, ID: newID(), Timestamp: s.now().Truncate(time.Millisecond)}
	return s.bus.put(ctx, natsd.SNSDeliverySubject, "c-"+sub.ARN, d)
}

// Publish publishes message, with String attributes attrs, to the topic
// topicARN names, as Publish would but without authorization: the caller
// (Lambda sending a destination record or a dead-letter event) has done
// its own. A FIFO topic's message is in group "kumo", deduplicated by
// content. It returns the message id, or the errors Publish answers
// (NotFound for an unknown topic).
func (s *Service) Publish(ctx context.Context, topicARN, message string, attrs map[string]QueueAttribute) (string, error) {
	t, err := s.lookupTopic(topicARN)
	if err != nil {
		return "", err
	}
	if err := s.refuseFull("Publish"); err != nil {
		return "", err
	}
	// A signed caller's ctx was checked by the service serving it; a
	// service principal's (EventBridge for a rule) is checked here, by
	// the topic's policy.
	if _, signed := awsproto.CallerFrom(ctx); s.cfg.Authorizer != nil && !signed {
		if err := s.cfg.Authorizer.Authorize(ctx, authz.Check{Action: "sns:Publish", Resource: topicARN,
			ResourcePolicy: t.policy, ResourceTags: t.Tags, Denied: awsproto.SNSAuthorizationError}); err != nil {
			return "", err
		}
	}
	in := publishInput{Message: message}
	if len(attrs) > 0 {
		in.MessageAttributes = make(map[string]attribute, len(attrs))
		for k, a := range attrs {
			v := attribute{DataType: a.DataType, StringValue: a.StringValue}
			if a.BinaryValue != nil {
				v.BinaryValue = base64.StdEncoding.EncodeToString(a.BinaryValue)
			}
			in.MessageAttributes[k] = v
		}
	}
	if t.fifo() {
		in.MessageGroupId = "kumo"
		sum := sha256.Sum256([]byte(message))
		in.MessageDeduplicationId = hex.EncodeToString(sum[:])
	}
	m, err := s.prepareMessage(t, &in)
	if err != nil {
		return "", err
	}
	if err := s.accept(ctx, m); err != nil {
		return "", awsproto.Internal(err)
	}
	return m.ID, nil
}
