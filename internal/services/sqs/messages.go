package sqs

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/lazyregexp"
)

// MessageAttribute is one message attribute, as SendMessage takes it and
// ReceiveMessage returns it. DataType is String, Number or Binary,
// optionally followed by ".label"; Binary attributes carry BinaryValue,
// the others StringValue.
type MessageAttribute struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue,omitempty"`
	BinaryValue []byte `json:"BinaryValue,omitempty"`
}

// md5Hex is SQS's MD5OfMessageBody.
func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// md5Attrs is SQS's MD5OfMessageAttributes (and
// MD5OfMessageSystemAttributes): over the attributes sorted by name, each
// name, data type and value as a 4-byte big-endian length and its bytes,
// with a transport byte (1 string, 2 binary) before the value. "" when
// there are none.
func md5Attrs(attrs map[string]MessageAttribute) string {
	if len(attrs) == 0 {
		return ""
	}
	h := md5.New()
	var n [4]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range attrs {
			if !yield(k) {
				return
			}
		}
	}) {
		a := attrs[name]
		put([]byte(name))
		put([]byte(a.DataType))
		if isBinary(a.DataType) {
			h.Write([]byte{2})
			put(a.BinaryValue)
		} else {
			h.Write([]byte{1})
			put([]byte(a.StringValue))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func isBinary(dataType string) bool {
	return dataType == "Binary" || strings.HasPrefix(dataType, "Binary.")
}

var attrNameRE = lazyregexp.New(`^[A-Za-z0-9_.-]{1,256}$`)

// checkMessageAttrs validates message attributes as SQS does.
func checkMessageAttrs(attrs map[string]MessageAttribute) error {
	if len(attrs) > 10 {
		return invalidParam("Number of message attributes [%d] exceeds the allowed maximum [10].", len(attrs))
	}
	for name, a := range attrs {
		lower := strings.ToLower(name)
		if !attrNameRE.MatchString(name) || strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon.") ||
			strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
			return invalidParam("Message (user) attribute name '%s' is invalid. The attribute name can contain only A-Z, a-z, 0-9, underscore (_), hyphen (-), and period (.) characters.", clip(name))
		}
		if a.DataType == "" {
			return invalidParam("The message attribute '%s' must contain non-empty message attribute type.", clip(name))
		}
		base, _, _ := strings.Cut(a.DataType, ".")
		if len(a.DataType) > 256 {
			return invalidParam("The message attribute '%s' has a type longer than 256 characters.", clip(name))
		}
		switch base {
		case "String":
			if a.StringValue == "" {
				return invalidParam("The message attribute '%s' must contain non-empty message attribute value for message attribute type 'String'.", clip(name))
			}
			if err := checkChars(a.StringValue); err != nil {
				return err
			}
		case "Number":
			if a.StringValue == "" {
				return invalidParam("The message attribute '%s' must contain non-empty message attribute value for message attribute type 'Number'.", clip(name))
			}
			if _, err := strconv.ParseFloat(a.StringValue, 64); err != nil {
				return invalidParam("Can't cast the value of message (user) attribute '%s' to a number.", clip(name))
			}
		case "Binary":
			if len(a.BinaryValue) == 0 {
				return invalidParam("The message attribute '%s' must contain non-empty message attribute value for message attribute type 'Binary'.", clip(name))
			}
		default:
			return invalidParam("The type of message (user) attribute '%s' is invalid. You must use only the following supported type prefixes: Binary, Number, String.", clip(name))
		}
	}
	return nil
}

// checkChars refuses characters outside SQS's allowed set: #x9 #xA #xD
// #x20–#xD7FF #xE000–#xFFFD #x10000–#x10FFFF.
func checkChars(s string) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return invalidChars()
			}
		}
		if !(r == 0x9 || r == 0xA || r == 0xD || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF) {
			return invalidChars()
		}
	}
	return nil
}

func invalidChars() error {
	return awsproto.Errorf(awsproto.SQSInvalidMessageContents,
		"Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
}

// size is what counts against MaximumMessageSize: the body and each
// attribute's name, type and value.
func size(body string, attrs map[string]MessageAttribute) int {
	n := len(body)
	for k, a := range attrs {
		n += len(k) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
	}
	return n
}

// newMessageID is a random UUID (version 4), as SQS's message ids are.
func newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	x := hex.EncodeToString(b[:])
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// sendEntry is one message to send (SendMessage, a batch entry, Deliver).
type sendEntry struct {
	Id                      string // batch entries only
	MessageBody             *string
	DelaySeconds            *int
	MessageAttributes       map[string]MessageAttribute
	MessageSystemAttributes map[string]MessageAttribute
	MessageDeduplicationId  string
	MessageGroupId          string
}

type sendResult struct {
	Id                           string `json:",omitempty"`
	MessageId                    string
	SequenceNumber               string `json:",omitempty"`
	MD5OfMessageBody             string
	MD5OfMessageAttributes       string `json:",omitempty"`
	MD5OfMessageSystemAttributes string `json:",omitempty"`
}

// send validates and stores one message.
func (s *Service) send(ctx context.Context, q *queue, e *sendEntry, sender string) (sendResult, error) {
	env, delay, err := s.prepare(q, e, sender)
	if err != nil {
		return sendResult{}, err
	}
	ack, err := s.publish(ctx, q, env, delay)
	if err != nil {
		return sendResult{}, err
	}
	return s.result(ctx, q, e, env, ack), nil
}

// result is what SendMessage answers for a stored message. A FIFO
// message JetStream dropped as a duplicate is answered with the id of the
// message it duplicates while that one is still stored.
func (s *Service) result(ctx context.Context, q *queue, e *sendEntry, env *envelope, ack *jetstream.PubAck) sendResult {
	r := sendResult{Id: e.Id, MessageId: env.ID, MD5OfMessageBody: md5Hex(env.Body),
		MD5OfMessageAttributes: md5Attrs(e.MessageAttributes), MD5OfMessageSystemAttributes: md5Attrs(e.MessageSystemAttributes)}
	if q.fifo() && ack != nil {
		r.SequenceNumber = sequenceNumber(ack.Sequence)
		if ack.Duplicate {
			if rt, err := s.runtime(ctx, q); err == nil {
				if m, err := rt.stream.GetMsg(ctx, ack.Sequence); err == nil {
					var orig envelope
					if json.Unmarshal(m.Data, &orig) == nil && orig.ID != "" {
						r.MessageId = orig.ID
					}
				}
			}
		}
	}
	return r
}

// sequenceNumber is a FIFO message's SequenceNumber: its stream sequence,
// as the 20-digit decimal string SQS sends.
func sequenceNumber(seq uint64) string { return fmt.Sprintf("%020d", seq) }

// prepare validates one message and returns it as stored, with its delay
// in seconds.
func (s *Service) prepare(q *queue, e *sendEntry, sender string) (*envelope, int, error) {
	if e.MessageBody == nil || *e.MessageBody == "" {
		return nil, 0, missing("MessageBody")
	}
	body := *e.MessageBody
	if err := checkChars(body); err != nil {
		return nil, 0, err
	}
	var group, dedup string
	if q.fifo() {
		if e.MessageGroupId == "" {
			return nil, 0, missing("MessageGroupId")
		}
		if e.DelaySeconds != nil && *e.DelaySeconds != 0 {
			return nil, 0, invalidParam("Value %d for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.", *e.DelaySeconds)
		}
		if !fifoIDRE.MatchString(e.MessageGroupId) {
			return nil, 0, invalidParam("Value %s for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.", clip(e.MessageGroupId))
		}
		group, dedup = e.MessageGroupId, e.MessageDeduplicationId
		switch {
		case dedup != "" && !fifoIDRE.MatchString(dedup):
			return nil, 0, invalidParam("Value %s for parameter MessageDeduplicationId is invalid. Reason: MessageDeduplicationId can only include alphanumeric and punctuation characters. 1 to 128 in length.", clip(dedup))
		case dedup == "" && q.Attrs[attrContentBasedDedup] == "true":
			sum := sha256.Sum256([]byte(body))
			dedup = hex.EncodeToString(sum[:])
		case dedup == "":
			return nil, 0, invalidParam("The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
		}
	} else if e.MessageDeduplicationId != "" {
		return nil, 0, invalidParam("The request include parameter MessageDeduplicationId which is not valid for this queue type")
	}
	if err := checkMessageAttrs(e.MessageAttributes); err != nil {
		return nil, 0, err
	}
	for name, a := range e.MessageSystemAttributes {
		if name != "AWSTraceHeader" || a.DataType != "String" || a.StringValue == "" {
			return nil, 0, invalidParam("Message system attribute name '%s' is invalid.", clip(name))
		}
	}
	if max := q.intAttr(attrMaximumMessageSize); size(body, e.MessageAttributes) > max {
		return nil, 0, invalidParam("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", max)
	}
	delay := q.intAttr(attrDelaySeconds)
	if e.DelaySeconds != nil {
		if *e.DelaySeconds < 0 || *e.DelaySeconds > 900 {
			return nil, 0, invalidParam("Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.", *e.DelaySeconds)
		}
		delay = *e.DelaySeconds
	}
	return &envelope{ID: newMessageID(), Body: body, Attrs: e.MessageAttributes, Sys: e.MessageSystemAttributes,
		Sent: s.cfg.Now().UnixMilli(), Sender: sender, Group: group, Dedup: dedup}, delay, nil
}

// fifoIDRE is what MessageGroupId and MessageDeduplicationId may hold:
// alphanumeric and punctuation characters, 1 to 128.
var fifoIDRE = lazyregexp.New("^[A-Za-z0-9!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~]{1,128}$")

// senderID is the SenderId of messages the caller sends: the account id
// for the root, the user's or role session's id otherwise.
func (s *Service) senderID(ctx context.Context) string {
	if c, ok := awsproto.CallerFrom(ctx); ok && c.Identity.UserID != "" {
		return c.Identity.UserID
	}
	return s.cfg.Account
}

func (s *Service) sendMessage(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		QueueUrl string
		sendEntry
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.resolve(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "SendMessage", q); err != nil {
		return nil, err
	}
	return s.send(ctx, q, &in.sendEntry, s.senderID(ctx))
}

// batchError is a failed entry of a batch.
type batchError struct {
	Id          string
	SenderFault bool
	Code        string
	Message     string
}

func failed(id string, err error) batchError {
	ae := awsproto.AsError(err)
	code := ae.Code.Name()
	if spec, ok := awsproto.Lookup(ae.Code); ok && spec.QueryCode != "" {
		code = spec.QueryCode
	}
	msg := ae.Message
	if ae.Unwrap() != nil {
		code, msg = "InternalError", "An internal error occurred."
	}
	return batchError{Id: id, SenderFault: ae.Status() < 500, Code: code, Message: msg}
}

var batchIDRE = lazyregexp.New(`^[A-Za-z0-9_-]{1,80}$`)

// checkBatch validates a batch's entry ids and count.
func checkBatch(ids []string, entry string) error {
	if len(ids) == 0 {
		return awsproto.Errorf(awsproto.SQSEmptyBatchRequest, "There should be at least one %s in the request.", entry)
	}
	if len(ids) > 10 {
		return awsproto.Errorf(awsproto.SQSTooManyEntriesInBatchRequest, "Maximum number of entries per request are 10. You have sent %d.", len(ids))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !batchIDRE.MatchString(id) {
			return awsproto.Errorf(awsproto.SQSInvalidBatchEntryId, "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")
		}
		if seen[id] {
			return awsproto.Errorf(awsproto.SQSBatchEntryIdsNotDistinct, "Id %s repeated.", id)
		}
		seen[id] = true
	}
	return nil
}

func (s *Service) sendMessageBatch(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		QueueUrl string
		Entries  []sendEntry
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.resolve(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "SendMessageBatch", q); err != nil {
		return nil, err
	}
	ids := make([]string, len(in.Entries))
	total := 0
	for i, e := range in.Entries {
		ids[i] = e.Id
		if e.MessageBody != nil {
			total += size(*e.MessageBody, e.MessageAttributes)
		}
	}
	if err := checkBatch(ids, "SendMessageBatchRequestEntry"); err != nil {
		return nil, err
	}
	if max := q.intAttr(attrMaximumMessageSize); total > max {
		return nil, awsproto.Errorf(awsproto.SQSBatchRequestTooLong, "Batch requests cannot be longer than %d bytes. You have sent %d bytes.", max, total)
	}
	out := struct {
		Successful []sendResult
		Failed     []batchError
	}{Successful: []sendResult{}, Failed: []batchError{}}
	// Valid entries are published together and answered once JetStream
	// has acknowledged each: one fsync wait for the batch, not ten.
	sender := s.senderID(ctx)
	envs := make([]*envelope, len(in.Entries))
	delays := make([]int, len(in.Entries))
	for i := range in.Entries {
		env, delay, err := s.prepare(q, &in.Entries[i], sender)
		if err != nil {
			out.Failed = append(out.Failed, failed(in.Entries[i].Id, err))
			continue
		}
		envs[i], delays[i] = env, delay
	}
	acks, errs := s.publishAll(ctx, q, envs, delays)
	for i, env := range envs {
		if env == nil {
			continue
		}
		if errs[i] != nil {
			out.Failed = append(out.Failed, failed(in.Entries[i].Id, errs[i]))
			continue
		}
		out.Successful = append(out.Successful, s.result(ctx, q, &in.Entries[i], env, acks[i]))
	}
	return out, nil
}

// System attribute names ReceiveMessage returns (the last three for FIFO
// queues only).
var systemAttrs = []string{"SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp",
	"AWSTraceHeader", "DeadLetterQueueSourceArn", "SequenceNumber", "MessageDeduplicationId", "MessageGroupId"}

type message struct {
	MessageId              string
	ReceiptHandle          string
	MD5OfBody              string
	Body                   string
	Attributes             map[string]string           `json:",omitempty"`
	MessageAttributes      map[string]MessageAttribute `json:",omitempty"`
	MD5OfMessageAttributes string                      `json:",omitempty"`
}

func (s *Service) receiveMessage(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		QueueUrl                    string
		AttributeNames              []string
		MessageSystemAttributeNames []string
		MessageAttributeNames       []string
		MaxNumberOfMessages         *int
		VisibilityTimeout           *int
		WaitTimeSeconds             *int
		ReceiveRequestAttemptId     string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.resolve(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "ReceiveMessage", q); err != nil {
		return nil, err
	}
	max := 1
	if in.MaxNumberOfMessages != nil {
		max = *in.MaxNumberOfMessages
		if max < 1 || max > 10 {
			return nil, invalidParam("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", max)
		}
	}
	wait := q.intAttr(attrWaitTime)
	if in.WaitTimeSeconds != nil {
		wait = *in.WaitTimeSeconds
		if wait < 0 || wait > 20 {
			return nil, invalidParam("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", wait)
		}
	}
	vt := q.intAttr(attrVisibilityTimeout)
	if in.VisibilityTimeout != nil {
		vt = *in.VisibilityTimeout
		if vt < 0 || vt > 43200 {
			return nil, invalidParam("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.", vt)
		}
	}
	want := map[string]bool{}
	for _, n := range append(in.AttributeNames, in.MessageSystemAttributeNames...) {
		switch {
		case n == "All":
			for _, a := range systemAttrs {
				want[a] = true
			}
		case slices.Contains(systemAttrs, n):
			want[n] = true
		case slices.Contains(readOnly, n), settable(n):
			// Queue attributes: accepted, nothing to return.
		default:
			return nil, awsproto.Errorf(awsproto.SQSInvalidAttributeName, "Unknown Attribute %s.", clip(n))
		}
	}
	var ds []delivery
	if q.fifo() && in.ReceiveRequestAttemptId != "" {
		if len(in.ReceiveRequestAttemptId) > 128 {
			return nil, invalidParam("Value %s for parameter ReceiveRequestAttemptId is invalid. Reason: Must be at most 128 characters.", clip(in.ReceiveRequestAttemptId))
		}
		ds, err = s.receiveAttempt(ctx, q, in.ReceiveRequestAttemptId, max, time.Duration(wait)*time.Second, vt)
	} else {
		ds, err = s.receive(ctx, q, max, time.Duration(wait)*time.Second, vt)
	}
	if err != nil {
		return nil, err
	}
	msgs := make([]message, 0, len(ds))
	for _, d := range ds {
		m := message{MessageId: d.env.ID, ReceiptHandle: d.handle, MD5OfBody: md5Hex(d.env.Body), Body: d.env.Body}
		if len(want) > 0 {
			m.Attributes = map[string]string{}
			set := func(k, v string) {
				if want[k] && v != "" {
					m.Attributes[k] = v
				}
			}
			set("SenderId", d.env.Sender)
			set("SentTimestamp", strconv.FormatInt(d.env.Sent, 10))
			set("ApproximateReceiveCount", strconv.FormatUint(d.count, 10))
			set("ApproximateFirstReceiveTimestamp", strconv.FormatInt(d.firstMs, 10))
			set("AWSTraceHeader", d.env.Sys["AWSTraceHeader"].StringValue)
			set("DeadLetterQueueSourceArn", d.env.Source)
			if q.fifo() {
				set("SequenceNumber", sequenceNumber(d.seq))
				set("MessageDeduplicationId", d.env.Dedup)
				set("MessageGroupId", d.env.Group)
			}
		}
		if sel := selectAttrs(d.env.Attrs, in.MessageAttributeNames); len(sel) > 0 {
			m.MessageAttributes = sel
			m.MD5OfMessageAttributes = md5Attrs(sel)
		}
		msgs = append(msgs, m)
	}
	return struct{ Messages []message }{msgs}, nil
}

// selectAttrs is the message attributes names asks for: "All" or ".*"
// for every one, "prefix.*" for those starting with prefix, else by name.
func selectAttrs(attrs map[string]MessageAttribute, names []string) map[string]MessageAttribute {
	if len(attrs) == 0 || len(names) == 0 {
		return nil
	}
	out := map[string]MessageAttribute{}
	for k, a := range attrs {
		for _, n := range names {
			if n == "All" || n == ".*" || n == k ||
				strings.HasSuffix(n, ".*") && strings.HasPrefix(k, strings.TrimSuffix(n, "*")) {
				out[k] = a
				break
			}
		}
	}
	return out
}

func (s *Service) deleteMessage(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct{ QueueUrl, ReceiptHandle string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.resolve(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "DeleteMessage", q); err != nil {
		return nil, err
	}
	return nil, s.deleteOne(ctx, q, in.ReceiptHandle)
}

func (s *Service) deleteOne(ctx context.Context, q *queue, handle string) error {
	if handle == "" {
		return missing("ReceiptHandle")
	}
	if q.fifo() {
		return s.deleteFIFO(ctx, q, handle)
	}
	subj, seq, err := decodeHandle(q, handle)
	if err != nil {
		return err
	}
	return s.ack(ctx, q, subj, seq)
}

type batchID struct{ Id string }

// parallel runs f for 0..n-1 at once (a batch's entries: at most ten) and
// returns their errors in order.
func parallel(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	return errs
}

func (s *Service) deleteMessageBatch(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		QueueUrl string
		Entries  []struct{ Id, ReceiptHandle string }
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.resolve(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "DeleteMessageBatch", q); err != nil {
		return nil, err
	}
	ids := make([]string, len(in.Entries))
	for i, e := range in.Entries {
		ids[i] = e.Id
	}
	return runBatch(ids, "DeleteMessageBatchRequestEntry", func(i int) error { return s.deleteOne(ctx, q, in.Entries[i].ReceiptHandle) })
}

// runBatch checks a batch's entry ids, runs do for every entry at once and
// answers which entries succeeded and which failed, as the batch
// operations that return no more than an entry's id do.
func runBatch(ids []string, entry string, do func(i int) error) (any, error) {
	if err := checkBatch(ids, entry); err != nil {
		return nil, err
	}
	out := struct {
		Successful []batchID
		Failed     []batchError
	}{Successful: []batchID{}, Failed: []batchError{}}
	errs := parallel(len(ids), do)
	for i, id := range ids {
		if errs[i] != nil {
			out.Failed = append(out.Failed, failed(id, errs[i]))
			continue
		}
		out.Successful = append(out.Successful, batchID{id})
	}
	return out, nil
}

func (s *Service) changeOne(ctx context.Context, q *queue, handle string, vt *int) error {
	if handle == "" {
		return missing("ReceiptHandle")
	}
	if vt == nil {
		return missing("VisibilityTimeout")
	}
	if *vt < 0 || *vt > 43200 {
		return invalidParam("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200.", *vt)
	}
	if q.fifo() {
		return s.changeFIFO(ctx, q, handle, *vt)
	}
	subj, seq, err := decodeHandle(q, handle)
	if err != nil {
		return err
	}
	return s.changeVisibility(ctx, q, handle, subj, seq, *vt)
}

func (s *Service) changeMessageVisibility(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		QueueUrl, ReceiptHandle string
		VisibilityTimeout       *int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.resolve(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "ChangeMessageVisibility", q); err != nil {
		return nil, err
	}
	return nil, s.changeOne(ctx, q, in.ReceiptHandle, in.VisibilityTimeout)
}

func (s *Service) changeMessageVisibilityBatch(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		QueueUrl string
		Entries  []struct {
			Id, ReceiptHandle string
			VisibilityTimeout *int
		}
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.resolve(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "ChangeMessageVisibilityBatch", q); err != nil {
		return nil, err
	}
	ids := make([]string, len(in.Entries))
	for i, e := range in.Entries {
		ids[i] = e.Id
	}
	return runBatch(ids, "ChangeMessageVisibilityBatchRequestEntry", func(i int) error {
		return s.changeOne(ctx, q, in.Entries[i].ReceiptHandle, in.Entries[i].VisibilityTimeout)
	})
}

// Deliver sends a message to the queue queueARN names as SendMessage
// would. It returns the message id, or awsproto errors as SendMessage does
// (QueueDoesNotExist for an unknown queue). A service principal ctx
// carries (authz.WithService: SNS for a topic) is authorized as
// sqs:SendMessage against the queue's policy alone, as SQS checks a
// delivery from SNS; a ctx without one (Lambda's destinations, whose
// execution role is checked elsewhere, or a signed caller's request) is
// not checked. Safe for concurrent use.
func (s *Service) Deliver(ctx context.Context, queueARN, body string, attrs map[string]MessageAttribute) (messageID string, err error) {
	return s.DeliverFIFO(ctx, queueARN, body, attrs, "", "")
}

// DeliverFIFO is Deliver with a FIFO queue's message group and
// deduplication id (an SNS FIFO topic's). On a FIFO queue an empty group
// is "kumo" and an empty deduplication id the body's SHA-256, so a FIFO
// queue keeps the order of what it is delivered; on a standard queue both
// are ignored.
func (s *Service) DeliverFIFO(ctx context.Context, queueARN, body string, attrs map[string]MessageAttribute, groupID, dedupID string) (messageID string, err error) {
	q, ok := s.queueByARN(queueARN)
	if !ok {
		return "", noQueue()
	}
	if err := s.refuseFull("SendMessage"); err != nil {
		return "", err
	}
	// A signed caller's ctx (a service delivering while it serves a
	// request) was checked by that service; only a service principal's is
	// checked here.
	if _, signed := awsproto.CallerFrom(ctx); s.cfg.Authorizer != nil && !signed {
		if err := s.cfg.Authorizer.Authorize(ctx, authz.Check{Action: "sqs:SendMessage", Resource: queueARN,
			ResourcePolicy: q.policy, ResourceTags: q.Tags, Denied: awsproto.SQSAccessDenied}); err != nil {
			return "", err
		}
	}
	e := &sendEntry{MessageBody: &body, MessageAttributes: attrs}
	if q.fifo() {
		e.MessageGroupId, e.MessageDeduplicationId = groupID, dedupID
		if groupID == "" {
			e.MessageGroupId = "kumo"
		}
		if dedupID == "" {
			sum := sha256.Sum256([]byte(body))
			e.MessageDeduplicationId = hex.EncodeToString(sum[:])
		}
	}
	res, err := s.send(ctx, q, e, s.cfg.Account)
	if err != nil {
		return "", fmt.Errorf("sqs: delivering to %s: %w", queueARN, err)
	}
	return res.MessageId, nil
}
