package sns_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SignatureVersion 1
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/natsd"
	kumosns "github.com/kumo-run/kumo/internal/services/sns"
	"github.com/kumo-run/kumo/internal/store"
)

const (
	account    = "000000000000"
	rootKey    = "AKIAKUMOSNSTEST00001"
	rootSecret = "kumo-sns-test-secret-000000000000000000000"
	fnARN      = "arn:aws:lambda:us-east-1:000000000000:function:fn"
	queueARN   = "arn:aws:sqs:us-east-1:000000000000:q"
)

// invoker records the invocations of lambda subscriptions; fail makes
// the next ones fail.
type invoker struct {
	mu    sync.Mutex
	calls []*invoke.Input
	fail  bool
}

func (f *invoker) Invoke(ctx context.Context, in *invoke.Input) (*invoke.Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return nil, errors.New("the queue is full")
	}
	f.calls = append(f.calls, in)
	return &invoke.Output{Status: http.StatusAccepted}, nil
}

func (f *invoker) snapshot() []*invoke.Input {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*invoke.Input(nil), f.calls...)
}

type sent struct {
	queue, body    string
	attrs          map[string]kumosns.QueueAttribute
	group, dedupID string
}

// queues records deliveries to queues.
type queues struct {
	mu   sync.Mutex
	sent []sent
}

func (q *queues) Deliver(ctx context.Context, queueARN, body string, attrs map[string]kumosns.QueueAttribute) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sent = append(q.sent, sent{queue: queueARN, body: body, attrs: attrs})
	return "id", nil
}

func (q *queues) DeliverFIFO(ctx context.Context, queueARN, body string, attrs map[string]kumosns.QueueAttribute, group, dedupID string) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sent = append(q.sent, sent{queueARN, body, attrs, group, dedupID})
	return "id", nil
}

func (q *queues) snapshot() []sent {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]sent(nil), q.sent...)
}

type harness struct {
	dir  string
	ns   *natsd.Server
	svc  *kumosns.Service
	cl   *sns.Client
	srv  *httptest.Server
	auth *authz.Static
	az   *authz.Authorizer
	inv  *invoker
	qs   *queues
	key  *rsa.PrivateKey
	full atomic.Pointer[error] // what the store's Writable answers; nil: writable
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{dir: t.TempDir(), auth: &authz.Static{}, inv: &invoker{}, qs: &queues{}, key: key}
	h.az = authz.New(authz.Config{Directory: h.auth, Region: "us-east-1"})
	h.start(t)
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	creds := &token.Store{Issuer: is, RootKeyID: rootKey, RootSecret: rootSecret, Root: token.Root("aws", account), Keys: h.auth}
	h.srv = httptest.NewServer(edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: creds},
		Routes: []edge.Route{{Name: "sns", Match: []edge.Matcher{{Service: kumosns.SigningName}}, Scope: kumosns.SigningName,
			Handler: h, Errors: kumosns.Errors}},
	}))
	t.Cleanup(h.srv.Close)
	h.cl = h.client(rootKey, rootSecret)
	t.Cleanup(func() { h.stop() })
	return h
}

func (h *harness) client(key, secret string) *sns.Client {
	return sns.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient: h.srv.Client(), RetryMaxAttempts: 1}, func(o *sns.Options) { o.BaseEndpoint = aws.String(h.srv.URL) })
}

// start starts NATS on the harness's directory and opens the service, as
// a process start does.
func (h *harness) start(t testing.TB) {
	t.Helper()
	ns, err := natsd.Start(natsd.Config{DataDir: h.dir, Sync: natsd.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ns.Connect("sns-test")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := st.KV(context.Background(), natsd.SNSBucket)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := kumosns.Open(context.Background(), kumosns.Config{KV: kv, NATS: nc, Region: "us-east-1", Account: account,
		Invoker: h.inv, Queues: h.qs, Authorizer: h.az, SigningKey: h.key, RetryDelays: []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond},
		EdgeURL: func() string { return "http://edge.test" },
		Writable: func() error {
			if e := h.full.Load(); e != nil {
				return *e
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	h.ns, h.svc = ns, svc
}

func (h *harness) stop() {
	if h.svc != nil {
		h.svc.Close()
		h.ns.Shutdown()
		h.svc = nil
	}
}

func (h *harness) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.svc.ServeHTTP(w, r) }

func wantCode(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || msg != "" && ae.ErrorMessage() != msg {
		t.Fatalf("error %v, want %s %q", err, code, msg)
	}
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTopicsAndSubscriptions(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	out, err := h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("orders"), Attributes: map[string]string{"DisplayName": "Orders"},
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("core")}}})
	if err != nil {
		t.Fatal(err)
	}
	topicARN := aws.ToString(out.TopicArn)
	if topicARN != "arn:aws:sns:us-east-1:000000000000:orders" {
		t.Fatalf("TopicArn = %s", topicARN)
	}
	again, err := h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("orders")})
	if err != nil || aws.ToString(again.TopicArn) != topicARN {
		t.Fatalf("CreateTopic again: %v %v", again, err)
	}
	_, err = h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("orders"), Attributes: map[string]string{"DisplayName": "Other"}})
	wantCode(t, err, "InvalidParameter", "Invalid parameter: Attributes Reason: Topic already exists with different attributes")
	const fifoName = "Invalid parameter: Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long."
	_, err = h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("orders.fifo")})
	wantCode(t, err, "InvalidParameter", fifoName)
	_, err = h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("orders2"), Attributes: map[string]string{"FifoTopic": "true"}})
	wantCode(t, err, "InvalidParameter", fifoName)
	_, err = h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("bad name")})
	wantCode(t, err, "InvalidParameter", "Invalid parameter: Topic Name")

	ta, err := h.cl.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: out.TopicArn})
	if err != nil {
		t.Fatal(err)
	}
	if ta.Attributes["DisplayName"] != "Orders" || ta.Attributes["TopicArn"] != topicARN || ta.Attributes["Owner"] != account || ta.Attributes["Policy"] == "" {
		t.Errorf("attributes %v", ta.Attributes)
	}
	if _, err := h.cl.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: out.TopicArn, AttributeName: aws.String("DisplayName"), AttributeValue: aws.String("New")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: out.TopicArn, AttributeName: aws.String("Colour"), AttributeValue: aws.String("x")})
	wantCode(t, err, "InvalidParameter", "Invalid parameter: AttributeName")
	ta, _ = h.cl.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: out.TopicArn})
	if ta.Attributes["DisplayName"] != "New" {
		t.Errorf("DisplayName after set = %q", ta.Attributes["DisplayName"])
	}
	_, err = h.cl.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String("arn:aws:sns:us-east-1:000000000000:nope")})
	wantCode(t, err, "NotFound", "Topic does not exist")

	lt, err := h.cl.ListTopics(ctx, &sns.ListTopicsInput{})
	if err != nil || len(lt.Topics) != 1 || aws.ToString(lt.Topics[0].TopicArn) != topicARN {
		t.Fatalf("ListTopics = %+v, %v", lt, err)
	}

	// Tags.
	if _, err := h.cl.TagResource(ctx, &sns.TagResourceInput{ResourceArn: out.TopicArn, Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.UntagResource(ctx, &sns.UntagResourceInput{ResourceArn: out.TopicArn, TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := h.cl.ListTagsForResource(ctx, &sns.ListTagsForResourceInput{ResourceArn: out.TopicArn})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "env" {
		t.Fatalf("tags = %+v, %v", tags, err)
	}
	_, err = h.cl.ListTagsForResource(ctx, &sns.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:sns:us-east-1:000000000000:nope")})
	wantCode(t, err, "ResourceNotFound", "")

	// Subscriptions.
	sub, err := h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: out.TopicArn, Protocol: aws.String("lambda"), Endpoint: aws.String(fnARN),
		Attributes: map[string]string{"FilterPolicy": `{"store":["example_corp"]}`}})
	if err != nil {
		t.Fatal(err)
	}
	subARN := aws.ToString(sub.SubscriptionArn)
	if !strings.HasPrefix(subARN, topicARN+":") || len(subARN) != len(topicARN)+37 {
		t.Fatalf("SubscriptionArn = %s", subARN)
	}
	again2, _ := h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: out.TopicArn, Protocol: aws.String("lambda"), Endpoint: aws.String(fnARN)})
	if aws.ToString(again2.SubscriptionArn) != subARN {
		t.Errorf("Subscribe again = %s, want %s", aws.ToString(again2.SubscriptionArn), subARN)
	}
	_, err = h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: out.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(queueARN),
		Attributes: map[string]string{"FilterPolicy": `{"a":[{"numeric":["<","100"]}]}`}})
	wantCode(t, err, "InvalidParameter", "Invalid parameter: FilterPolicy: Value of < must be numeric")
	_, err = h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: out.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(queueARN),
		Attributes: map[string]string{"FilterPolicy": `{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}`}})
	wantCode(t, err, "InvalidParameter", "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys")
	_, err = h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: out.TopicArn, Protocol: aws.String("email"), Endpoint: aws.String("a@example.com")})
	wantCode(t, err, "InvalidParameter", "Invalid parameter: Amazon SNS does not support this protocol string: email")
	for _, ep := range []string{"fn", "arn:aws:lambda:eu-west-1:000000000000:function:fn", "arn:aws:lambda:us-east-1:111111111111:function:fn", fnARN + ":a:b"} {
		_, err = h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: out.TopicArn, Protocol: aws.String("lambda"), Endpoint: aws.String(ep)})
		wantCode(t, err, "InvalidParameter", "Invalid parameter: Lambda endpoint ARN")
	}

	sa, err := h.cl.GetSubscriptionAttributes(ctx, &sns.GetSubscriptionAttributesInput{SubscriptionArn: sub.SubscriptionArn})
	if err != nil {
		t.Fatal(err)
	}
	if sa.Attributes["FilterPolicyScope"] != "MessageAttributes" || sa.Attributes["Protocol"] != "lambda" || sa.Attributes["PendingConfirmation"] != "false" || sa.Attributes["RawMessageDelivery"] != "false" {
		t.Errorf("subscription attributes %v", sa.Attributes)
	}
	_, err = h.cl.SetSubscriptionAttributes(ctx, &sns.SetSubscriptionAttributesInput{SubscriptionArn: sub.SubscriptionArn,
		AttributeName: aws.String("FilterPolicyScope"), AttributeValue: aws.String("Body")})
	wantCode(t, err, "InvalidParameter", "Invalid parameter: FilterPolicyScope: Invalid value [Body]. Please use either MessageBody or MessageAttributes")
	if _, err := h.cl.SetSubscriptionAttributes(ctx, &sns.SetSubscriptionAttributesInput{SubscriptionArn: sub.SubscriptionArn,
		AttributeName: aws.String("FilterPolicyScope"), AttributeValue: aws.String("MessageBody")}); err != nil {
		t.Fatal(err)
	}
	ls, err := h.cl.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: out.TopicArn})
	if err != nil || len(ls.Subscriptions) != 1 || aws.ToString(ls.Subscriptions[0].Endpoint) != fnARN {
		t.Fatalf("ListSubscriptionsByTopic = %+v, %v", ls, err)
	}
	if _, err := h.cl.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: sub.SubscriptionArn}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.GetSubscriptionAttributes(ctx, &sns.GetSubscriptionAttributesInput{SubscriptionArn: sub.SubscriptionArn})
	wantCode(t, err, "NotFound", "Subscription does not exist")

	// The state is the bucket's: a restart finds it.
	h.stop()
	h.start(t)
	ta, err = h.cl.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: out.TopicArn})
	if err != nil || ta.Attributes["DisplayName"] != "New" {
		t.Fatalf("after restart: %v %v", ta, err)
	}
	if _, err := h.cl.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: out.TopicArn}); err != nil {
		t.Fatal(err)
	}
	lt, _ = h.cl.ListTopics(ctx, &sns.ListTopicsInput{})
	if len(lt.Topics) != 0 {
		t.Fatalf("topics after delete: %+v", lt.Topics)
	}
}

// verify checks an SNS signature (SignatureVersion 1) over fields.
func verify(t *testing.T, key *rsa.PrivateKey, sig string, fields ...string) {
	t.Helper()
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f + "\n")
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte(b.String())) //nolint:gosec // SignatureVersion 1
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA1, sum[:], raw); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
}

// TestPublishDeliversThroughFilters: lambda, sqs and raw sqs
// subscriptions receive exactly the messages their filter policies let
// through, in the shapes AWS sends.
func TestPublishDeliversThroughFilters(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	tp, err := h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("events")})
	if err != nil {
		t.Fatal(err)
	}
	lsub, err := h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: tp.TopicArn, Protocol: aws.String("lambda"), Endpoint: aws.String(fnARN + ":live"),
		Attributes: map[string]string{"FilterPolicy": `{"store":["example_corp"],"price_usd":[{"numeric":[">=",100]}]}`}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: tp.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(queueARN + "-raw"),
		Attributes: map[string]string{"RawMessageDelivery": "true", "FilterPolicyScope": "MessageBody", "FilterPolicy": `{"order":{"state":[{"anything-but":"cancelled"}]}}`}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: tp.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(queueARN)}); err != nil {
		t.Fatal(err)
	}
	pub := func(msg, subject string, a map[string]types.MessageAttributeValue) string {
		t.Helper()
		in := &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String(msg), MessageAttributes: a}
		if subject != "" {
			in.Subject = aws.String(subject)
		}
		out, err := h.cl.Publish(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.MessageId)
	}
	str := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	num := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(v)}
	}
	m1 := pub(`{"order":{"state":"placed"}}`, "hello", map[string]types.MessageAttributeValue{"store": str("example_corp"), "price_usd": num("210.75")})
	pub(`{"order":{"state":"cancelled"}}`, "", map[string]types.MessageAttributeValue{"store": str("example_corp"), "price_usd": num("99")})
	pub(`not json`, "", map[string]types.MessageAttributeValue{"store": str("other_corp"), "price_usd": num("500")})
	// All three reached the unfiltered queue: every earlier decision has
	// been made.
	eventually(t, "three messages on the unfiltered queue", func() bool {
		n := 0
		for _, s := range h.qs.snapshot() {
			if s.queue == queueARN {
				n++
			}
		}
		return n == 3
	})
	eventually(t, "the lambda delivery", func() bool { return len(h.inv.snapshot()) == 1 })
	var raw []sent
	for _, s := range h.qs.snapshot() {
		if s.queue == queueARN+"-raw" {
			raw = append(raw, s)
		}
	}
	if len(raw) != 1 || raw[0].body != `{"order":{"state":"placed"}}` || raw[0].attrs["store"].StringValue != "example_corp" || raw[0].attrs["price_usd"].DataType != "Number" {
		t.Fatalf("raw deliveries = %+v", raw)
	}

	// Lambda: an Event invocation of the qualified function, with the SNS
	// event aws-lambda-go reads.
	calls := h.inv.snapshot()
	if len(calls) != 1 {
		t.Fatalf("lambda deliveries = %d, want 1 (the filter lets one through)", len(calls))
	}
	c := calls[0]
	if c.InvocationType != invoke.TypeEvent || c.Ref.Name != "fn" || c.Ref.Qualifier != "live" {
		t.Errorf("invocation %+v", c)
	}
	var ev events.SNSEvent
	if err := json.Unmarshal(c.Payload, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) != 1 {
		t.Fatalf("records: %s", c.Payload)
	}
	r := ev.Records[0]
	e := r.SNS
	if r.EventSource != "aws:sns" || r.EventVersion != "1.0" || r.EventSubscriptionArn != aws.ToString(lsub.SubscriptionArn) ||
		e.Type != "Notification" || e.MessageID != m1 || e.TopicArn != aws.ToString(tp.TopicArn) || e.Subject != "hello" ||
		e.Message != `{"order":{"state":"placed"}}` || e.SignatureVersion != "1" || e.SigningCertURL != "http://edge.test"+kumosns.CertPath ||
		!strings.HasPrefix(e.UnsubscribeURL, "http://edge.test/?Action=Unsubscribe&SubscriptionArn=") ||
		!mapEq(e.MessageAttributes["store"], "String", "example_corp") {
		t.Errorf("event %s", c.Payload)
	}
	if !mapEq(e.MessageAttributes["price_usd"], "Number", "210.75") {
		t.Errorf("price attribute %v", e.MessageAttributes["price_usd"])
	}
	verify(t, h.key, e.Signature, "Message", e.Message, "MessageId", e.MessageID, "Subject", "hello",
		"Timestamp", e.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z"), "TopicArn", e.TopicArn, "Type", "Notification")

	// SQS: the envelope.
	var env map[string]any
	for _, s := range h.qs.snapshot() {
		if s.queue == queueARN {
			if err := json.Unmarshal([]byte(s.body), &env); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if env["Type"] != "Notification" || env["MessageId"] != m1 || env["Subject"] != "hello" || env["SignatureVersion"] != "1" ||
		env["SigningCertURL"] == nil || env["UnsubscribeURL"] == nil || env["MessageAttributes"] == nil {
		t.Errorf("envelope %v", env)
	}
}

func mapEq(v any, typ, val string) bool {
	m, ok := v.(map[string]any)
	return ok && m["Type"] == typ && m["Value"] == val
}

func TestPublishValidation(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	tp, err := h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("v")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String("")})
	wantCode(t, err, "InvalidParameter", "Invalid parameter: Empty message")
	_, err = h.cl.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String(strings.Repeat("x", 256*1024+1))})
	wantCode(t, err, "InvalidParameter", "Invalid parameter: Message too long")
	_, err = h.cl.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String(`{"sqs":"x"}`), MessageStructure: aws.String("json")})
	wantCode(t, err, "InvalidParameter", "Invalid parameter: Message Structure - No default entry in JSON message body")
	_, err = h.cl.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String("m"),
		MessageAttributes: map[string]types.MessageAttributeValue{"n": {DataType: aws.String("Number"), StringValue: aws.String("abc")}}})
	wantCode(t, err, "ParameterValueInvalid", "Could not cast message attribute 'n' value to number.")
	_, err = h.cl.Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:000000000000:none"), Message: aws.String("m")})
	wantCode(t, err, "NotFound", "Topic does not exist")

	out, err := h.cl.PublishBatch(ctx, &sns.PublishBatchInput{TopicArn: tp.TopicArn, PublishBatchRequestEntries: []types.PublishBatchRequestEntry{
		{Id: aws.String("a"), Message: aws.String("one"), MessageAttributes: map[string]types.MessageAttributeValue{"k": {DataType: aws.String("String"), StringValue: aws.String("v")}}},
		{Id: aws.String("b"), Message: aws.String("")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Successful) != 1 || aws.ToString(out.Successful[0].Id) != "a" || len(out.Failed) != 1 ||
		aws.ToString(out.Failed[0].Code) != "InvalidParameter" || !out.Failed[0].SenderFault {
		t.Errorf("PublishBatch = %+v %+v", out.Successful, out.Failed)
	}
	_, err = h.cl.PublishBatch(ctx, &sns.PublishBatchInput{TopicArn: tp.TopicArn, PublishBatchRequestEntries: []types.PublishBatchRequestEntry{
		{Id: aws.String("a"), Message: aws.String("one")}, {Id: aws.String("a"), Message: aws.String("two")}}})
	wantCode(t, err, "BatchEntryIdsNotDistinct", "")
}

// TestHTTPSubscription: an http endpoint gets the signed
// SubscriptionConfirmation, is pending until confirmed with its token,
// then gets notifications, retried when it fails.
func TestHTTPSubscription(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	type post struct {
		header http.Header
		body   map[string]any
	}
	var (
		mu    sync.Mutex
		posts []post
		fails = 1 // the first notification fails
	)
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		mu.Lock()
		defer mu.Unlock()
		posts = append(posts, post{r.Header.Clone(), m})
		if r.Header.Get("x-amz-sns-message-type") == "Notification" && fails > 0 {
			fails--
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer ep.Close()
	got := func() []post {
		mu.Lock()
		defer mu.Unlock()
		return append([]post(nil), posts...)
	}
	tp, err := h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: tp.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(ep.URL + "/hook")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(sub.SubscriptionArn) != "pending confirmation" {
		t.Errorf("SubscriptionArn = %s", aws.ToString(sub.SubscriptionArn))
	}
	eventually(t, "the confirmation", func() bool { return len(got()) == 1 })
	conf := got()[0]
	if conf.header.Get("x-amz-sns-message-type") != "SubscriptionConfirmation" || conf.body["Type"] != "SubscriptionConfirmation" ||
		conf.body["TopicArn"] != aws.ToString(tp.TopicArn) || !strings.Contains(conf.body["SubscribeURL"].(string), "Action=ConfirmSubscription") {
		t.Fatalf("confirmation %v %v", conf.header, conf.body)
	}
	verify(t, h.key, conf.body["Signature"].(string), "Message", conf.body["Message"].(string), "MessageId", conf.body["MessageId"].(string),
		"SubscribeURL", conf.body["SubscribeURL"].(string), "Timestamp", conf.body["Timestamp"].(string), "Token", conf.body["Token"].(string),
		"TopicArn", aws.ToString(tp.TopicArn), "Type", "SubscriptionConfirmation")
	ls, _ := h.cl.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: tp.TopicArn})
	if len(ls.Subscriptions) != 1 || aws.ToString(ls.Subscriptions[0].SubscriptionArn) != "PendingConfirmation" {
		t.Fatalf("pending subscription listed as %+v", ls.Subscriptions)
	}
	// Not delivered while pending.
	if _, err := h.cl.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String("early")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.ConfirmSubscription(ctx, &sns.ConfirmSubscriptionInput{TopicArn: tp.TopicArn, Token: aws.String("wrong")})
	wantCode(t, err, "InvalidParameter", "Invalid token")
	cs, err := h.cl.ConfirmSubscription(ctx, &sns.ConfirmSubscriptionInput{TopicArn: tp.TopicArn, Token: aws.String(conf.body["Token"].(string))})
	if err != nil {
		t.Fatal(err)
	}
	subARN := aws.ToString(cs.SubscriptionArn)
	if !strings.HasPrefix(subARN, aws.ToString(tp.TopicArn)+":") {
		t.Fatalf("confirmed ARN %s", subARN)
	}
	pr, err := h.cl.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String("hi"), Subject: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the retried notification", func() bool { return len(got()) == 3 })
	for _, p := range got()[1:] {
		if p.header.Get("x-amz-sns-message-type") != "Notification" || p.header.Get("x-amz-sns-subscription-arn") != subARN ||
			p.header.Get("x-amz-sns-message-id") != aws.ToString(pr.MessageId) || p.body["Message"] != "hi" || p.body["Subject"] != "s" {
			t.Errorf("notification %v %v", p.header, p.body)
		}
	}
}

// TestAcceptedPublishSurvivesRestart: a message accepted while its
// delivery cannot happen is delivered after the server restarts.
func TestAcceptedPublishSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	tp, err := h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("durable")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: tp.TopicArn, Protocol: aws.String("lambda"), Endpoint: aws.String(fnARN)}); err != nil {
		t.Fatal(err)
	}
	h.svc.Close() // deliveries stop; the API still accepts
	out, err := h.cl.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String("kept")})
	if err != nil {
		t.Fatal(err)
	}
	h.ns.Shutdown()
	h.svc = nil
	if n := len(h.inv.snapshot()); n != 0 {
		t.Fatalf("%d deliveries before the restart", n)
	}
	h.start(t)
	eventually(t, "the delivery after restart", func() bool { return len(h.inv.snapshot()) == 1 })
	var ev events.SNSEvent
	_ = json.Unmarshal(h.inv.snapshot()[0].Payload, &ev)
	if ev.Records[0].SNS.MessageID != aws.ToString(out.MessageId) || ev.Records[0].SNS.Message != "kept" {
		t.Errorf("delivered %+v", ev.Records[0].SNS)
	}
}

// TestAuthorization: a user allowed only to publish is refused the rest
// with SNS's AuthorizationError; a topic policy can grant what identity
// policies do not.
func TestAuthorization(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	tp, err := h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("guarded")})
	if err != nil {
		t.Fatal(err)
	}
	const (
		bobKey, bobSecret = "AKIAKUMOSNSBOB000001", "kumo-sns-test-bob-secret-0000000000000000"
		bobARN            = "arn:aws:iam::000000000000:user/bob"
	)
	p, err := iam.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sns:Publish","Resource":"*"}]}`, iam.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	h.auth.SetUser(awsproto.Identity{Account: account, ARN: bobARN, UserID: "AIDABOB"}, authz.Principal{Policies: []*iam.Policy{p}})
	h.auth.SetAccessKey(bobKey, bobSecret, bobARN)
	bob := h.client(bobKey, bobSecret)
	if _, err := bob.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String("ok")}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	_, err = bob.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("mine")})
	wantCode(t, err, "AuthorizationError", "")
	_, err = bob.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: tp.TopicArn})
	wantCode(t, err, "AuthorizationError", "")
	// The topic's policy grants bob GetTopicAttributes.
	pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + bobARN + `"},"Action":"sns:GetTopicAttributes","Resource":"` + aws.ToString(tp.TopicArn) + `"}]}`
	if _, err := h.cl.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: tp.TopicArn, AttributeName: aws.String("Policy"), AttributeValue: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: tp.TopicArn}); err != nil {
		t.Fatalf("GetTopicAttributes with the topic policy: %v", err)
	}
	// A service principal publishing in process (EventBridge for a rule)
	// is let in by the topic's policy alone.
	const rule = "arn:aws:events:us-east-1:000000000000:rule/alarms"
	asEvents := authz.WithService(ctx, "events.amazonaws.com", rule, account)
	denied := func(err error) {
		t.Helper()
		if err == nil || awsproto.AsError(err).Code != awsproto.SNSAuthorizationError {
			t.Fatalf("Publish as events.amazonaws.com: %v, want AuthorizationError", err)
		}
	}
	_, err = h.svc.Publish(asEvents, aws.ToString(tp.TopicArn), "from a rule", nil)
	denied(err)
	pol = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sns:Publish","Resource":"` +
		aws.ToString(tp.TopicArn) + `","Condition":{"ArnEquals":{"aws:SourceArn":"` + rule + `"}}}]}`
	if _, err := h.cl.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: tp.TopicArn, AttributeName: aws.String("Policy"), AttributeValue: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Publish(asEvents, aws.ToString(tp.TopicArn), "from a rule", nil); err != nil {
		t.Fatalf("Publish as events.amazonaws.com with the topic's policy: %v", err)
	}
	_, err = h.svc.Publish(authz.WithService(ctx, "events.amazonaws.com", rule+"-other", account), aws.ToString(tp.TopicArn), "from another rule", nil)
	denied(err)
}

// BenchmarkPublish: Publish through the SDK and the SigV4 edge, each
// answered once the message is in the stream (fsync on every write), with
// one lambda subscription taking every message.
func BenchmarkPublish(b *testing.B) {
	h := newHarness(b)
	ctx := b.Context()
	tp, err := h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("bench")})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := h.cl.Subscribe(ctx, &sns.SubscribeInput{TopicArn: tp.TopicArn, Protocol: aws.String("lambda"), Endpoint: aws.String(fnARN)}); err != nil {
		b.Fatal(err)
	}
	in := &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String("hello"),
		MessageAttributes: map[string]types.MessageAttributeValue{"k": {DataType: aws.String("String"), StringValue: aws.String("v")}}}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.cl.Publish(ctx, in); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	n := b.N
	deadline := time.Now().Add(time.Minute)
	for len(h.inv.snapshot()) < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := len(h.inv.snapshot()); got < n {
		b.Errorf("%d of %d delivered", got, n)
	}
}

// TestStoreFull: while the store cannot take more data, what would add
// data is ServiceUnavailable (503, Retry-After), in process too, and what
// reads or frees space goes on.
func TestStoreFull(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	tp, err := h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("full")})
	if err != nil {
		t.Fatal(err)
	}
	full := errors.New("Kumo's data disk is nearly full (/data: 1.0 MiB free)")
	h.full.Store(&full)
	_, err = h.cl.Publish(ctx, &sns.PublishInput{TopicArn: tp.TopicArn, Message: aws.String("during")})
	wantCode(t, err, "ServiceUnavailable", full.Error())
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 503 || re.Response.Header.Get("Retry-After") != "30" {
		t.Fatalf("refusal %v", err)
	}
	_, err = h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("more")})
	wantCode(t, err, "ServiceUnavailable", "")
	if _, err := h.svc.Publish(ctx, aws.ToString(tp.TopicArn), "in process", nil); awsproto.AsError(err).Code != awsproto.SNSServiceUnavailable {
		t.Fatalf("in-process publish: %v", err)
	}
	if _, err := h.cl.ListTopics(ctx, &sns.ListTopicsInput{}); err != nil {
		t.Fatalf("ListTopics while full: %v", err)
	}
	if _, err := h.cl.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: tp.TopicArn}); err != nil {
		t.Fatalf("DeleteTopic while full: %v", err)
	}
	h.full.Store(nil)
	if _, err := h.cl.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("more")}); err != nil {
		t.Fatalf("with room again: %v", err)
	}
}
