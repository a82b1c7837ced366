package sqs_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/nats-io/nats.go"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/natsd"
	kumosqs "github.com/kumo-run/kumo/internal/services/sqs"
	"github.com/kumo-run/kumo/internal/store"
)

const (
	account    = "000000000000"
	rootKey    = "AKIAKUMOSQSTEST00001"
	rootSecret = "kumo-sqs-test-secret-000000000000000000000"
)

type harness struct {
	dir  string
	ns   *natsd.Server
	nc   *nats.Conn
	kv   store.KV
	mu   sync.Mutex
	svc  *kumosqs.Service
	cl   *sqs.Client
	srv  *httptest.Server
	auth *authz.Static
	az   *authz.Authorizer
	skew atomic.Int64          // nanoseconds the service's clock is ahead of time.Now
	full atomic.Pointer[error] // what the store's Writable answers; nil: writable
}

// newHarness starts NATS, opens the service on the kumo-sqs bucket and
// serves it through an edge that verifies SigV4.
func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{dir: t.TempDir(), auth: &authz.Static{}}
	h.az = authz.New(authz.Config{Directory: h.auth, Region: "us-east-1"})
	h.start(t)
	t.Cleanup(func() { h.stop() })
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	creds := &token.Store{Issuer: is, RootKeyID: rootKey, RootSecret: rootSecret, Root: token.Root("aws", account), Keys: h.auth}
	h.srv = httptest.NewServer(edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: creds},
		Routes: []edge.Route{{Name: "sqs", Match: []edge.Matcher{{Service: kumosqs.SigningName}}, Scope: kumosqs.SigningName,
			Handler: h, Errors: kumosqs.Errors, MaxBody: func(*http.Request) int64 { return kumosqs.MaxRequestBody }}},
	}))
	t.Cleanup(h.srv.Close)
	h.cl = h.client(rootKey, rootSecret)
	return h
}

func (h *harness) client(key, secret string) *sqs.Client {
	return sqs.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient:       h.srv.Client(),
		RetryMaxAttempts: 1,
	}, func(o *sqs.Options) { o.BaseEndpoint = aws.String(h.srv.URL) })
}

// start starts NATS on the harness's data dir and opens the service.
func (h *harness) start(t testing.TB) {
	t.Helper()
	ns, err := natsd.Start(natsd.Config{DataDir: h.dir, Sync: natsd.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ns.Connect("sqs-test")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := st.KV(context.Background(), natsd.SQSBucket)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := kumosqs.Open(context.Background(), kumosqs.Config{KV: kv, NC: nc, Region: "us-east-1", Account: account,
		Authorizer: h.az, MaxPollInterval: 200 * time.Millisecond, Now: func() time.Time { return time.Now().Add(time.Duration(h.skew.Load())) },
		Writable: func() error {
			if e := h.full.Load(); e != nil {
				return *e
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.ns, h.nc, h.kv, h.svc = ns, nc, kv, svc
	h.mu.Unlock()
}

func (h *harness) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.svc != nil {
		h.svc.Close()
		h.nc.Close()
		h.ns.Shutdown()
		h.svc = nil
	}
}

// restart stops the service and NATS and starts them again on the same
// data, as a server restart does.
func (h *harness) restart(t testing.TB) {
	h.stop()
	h.start(t)
}

func (h *harness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	svc := h.svc
	h.mu.Unlock()
	svc.ServeHTTP(w, r)
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

func (h *harness) createQueue(t *testing.T, name string, attrs map[string]string) string {
	t.Helper()
	out, err := h.cl.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("CreateQueue %s: %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}

func (h *harness) queueAttrs(t *testing.T, url string, names ...types.QueueAttributeName) map[string]string {
	t.Helper()
	out, err := h.cl.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: names})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	return out.Attributes
}

// eventually polls cond until it holds, failing the test after a minute.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestQueueLifecycle(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	url := h.createQueue(t, "orders", map[string]string{"VisibilityTimeout": "45", "DelaySeconds": "0"})
	if want := h.srv.URL + "/" + account + "/orders"; url != want {
		t.Fatalf("QueueUrl %s, want %s", url, want)
	}
	// The same attributes: the existing queue; different ones: refused.
	if again := h.createQueue(t, "orders", map[string]string{"VisibilityTimeout": "45"}); again != url {
		t.Fatalf("CreateQueue again: %s", again)
	}
	_, err := h.cl.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders"), Attributes: map[string]string{"VisibilityTimeout": "46"}})
	wantCode(t, err, "QueueAlreadyExists")
	var qne *types.QueueNameExists
	if !errors.As(err, &qne) {
		t.Fatalf("CreateQueue with other attributes: %T %v, want QueueNameExists", err, err)
	}
	for _, name := range []string{"orders-dlq", "payments", "bad name", "x.fifo"} {
		_, err := h.cl.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
		if name == "bad name" || name == "x.fifo" {
			wantCode(t, err, "InvalidParameterValue")
		} else if err != nil {
			t.Fatal(err)
		}
	}
	for attr, v := range map[string]string{"VisibilityTimeout": "43201", "DelaySeconds": "-1", "MaximumMessageSize": "1023",
		"MessageRetentionPeriod": "59", "ReceiveMessageWaitTimeSeconds": "21", "Policy": "{not json",
		"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:orders-dlq","maxReceiveCount":0}`} {
		_, err := h.cl.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("invalid"), Attributes: map[string]string{attr: v}})
		wantCode(t, err, "InvalidAttributeValue")
	}
	_, err = h.cl.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("invalid"), Attributes: map[string]string{"Colour": "blue"}})
	wantCode(t, err, "InvalidAttributeName")
	_, err = h.cl.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("invalid"), Attributes: map[string]string{"FifoQueue": "true"}})
	wantCode(t, err, "InvalidParameterValue")
	_, err = h.cl.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("invalid"), Attributes: map[string]string{"ContentBasedDeduplication": "true"}})
	wantCode(t, err, "InvalidAttributeName")

	got, err := h.cl.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("orders")})
	if err != nil || aws.ToString(got.QueueUrl) != url {
		t.Fatalf("GetQueueUrl: %v %v", got, err)
	}
	_, err = h.cl.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("nope")})
	wantCode(t, err, "AWS.SimpleQueueService.NonExistentQueue")
	var dne *types.QueueDoesNotExist
	if !errors.As(err, &dne) {
		t.Fatalf("GetQueueUrl of a missing queue: %T, want QueueDoesNotExist", err)
	}

	list, err := h.cl.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String("orders")})
	if err != nil || len(list.QueueUrls) != 2 || list.QueueUrls[0] != url {
		t.Fatalf("ListQueues orders*: %v %v", list, err)
	}
	var all []string
	p := sqs.NewListQueuesPaginator(h.cl, &sqs.ListQueuesInput{MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.QueueUrls) > 2 {
			t.Fatalf("page of %d", len(page.QueueUrls))
		}
		all = append(all, page.QueueUrls...)
	}
	if len(all) != 3 {
		t.Fatalf("paged ListQueues: %v", all)
	}

	attrs := h.queueAttrs(t, url, types.QueueAttributeNameAll)
	for k, v := range map[string]string{"VisibilityTimeout": "45", "DelaySeconds": "0", "MaximumMessageSize": "1048576",
		"MessageRetentionPeriod": "345600", "ReceiveMessageWaitTimeSeconds": "0", "SqsManagedSseEnabled": "true",
		"QueueArn": "arn:aws:sqs:us-east-1:000000000000:orders", "ApproximateNumberOfMessages": "0",
		"ApproximateNumberOfMessagesNotVisible": "0", "ApproximateNumberOfMessagesDelayed": "0"} {
		if attrs[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], v)
		}
	}
	if ts, err := strconv.ParseInt(attrs["CreatedTimestamp"], 10, 64); err != nil || ts < time.Now().Add(-time.Hour).Unix() {
		t.Errorf("CreatedTimestamp %q", attrs["CreatedTimestamp"])
	}
	if _, err := h.cl.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{
		"VisibilityTimeout": "10", "MessageRetentionPeriod": "3600",
		"RedrivePolicy":      `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:orders-dlq","maxReceiveCount":"3"}`,
		"RedriveAllowPolicy": `{"redrivePermission":"allowAll"}`,
	}}); err != nil {
		t.Fatal(err)
	}
	attrs = h.queueAttrs(t, url, "VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy")
	if attrs["VisibilityTimeout"] != "10" || attrs["MessageRetentionPeriod"] != "3600" ||
		attrs["RedrivePolicy"] != `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:orders-dlq","maxReceiveCount":3}` || len(attrs) != 3 {
		t.Fatalf("after SetQueueAttributes: %v", attrs)
	}
	_, err = h.cl.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{
		"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:missing","maxReceiveCount":3}`}})
	wantCode(t, err, "InvalidParameterValue")
	srcs, err := h.cl.ListDeadLetterSourceQueues(ctx, &sqs.ListDeadLetterSourceQueuesInput{QueueUrl: aws.String(h.srv.URL + "/" + account + "/orders-dlq")})
	if err != nil || len(srcs.QueueUrls) != 1 || srcs.QueueUrls[0] != url {
		t.Fatalf("ListDeadLetterSourceQueues: %v %v", srcs, err)
	}

	if _, err := h.cl.TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: aws.String(url), Tags: map[string]string{"team": "a", "env": "dev"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.UntagQueue(ctx, &sqs.UntagQueueInput{QueueUrl: aws.String(url), TagKeys: []string{"env"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := h.cl.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(url)})
	if err != nil || len(tags.Tags) != 1 || tags.Tags["team"] != "a" {
		t.Fatalf("ListQueueTags: %v %v", tags, err)
	}

	if _, err := h.cl.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url)})
	wantCode(t, err, "AWS.SimpleQueueService.NonExistentQueue")
	_, err = h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x")})
	wantCode(t, err, "AWS.SimpleQueueService.NonExistentQueue")
}

// TestQueueDeletedRecently: a deleted queue's name cannot be used again
// for 60 seconds, also across a restart.
func TestQueueDeletedRecently(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	url := h.createQueue(t, "again", nil)
	if _, err := h.cl.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatal(err)
	}
	h.restart(t)
	h.skew.Store(int64(59 * time.Second))
	_, err := h.cl.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("again")})
	wantCode(t, err, "AWS.SimpleQueueService.QueueDeletedRecently")
	h.createQueue(t, "other", nil) // other names are free
	h.skew.Store(int64(61 * time.Second))
	h.createQueue(t, "again", nil)
}

// TestStoreFull: while the store cannot take more data, what would add
// data is ServiceUnavailable (503, Retry-After) in either protocol, and
// what reads or frees space goes on.
func TestStoreFull(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	url := h.createQueue(t, "full", nil)
	if _, err := h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("before")}); err != nil {
		t.Fatal(err)
	}
	full := errors.New("Kumo's data disk is nearly full (/data: 1.0 MiB free)")
	h.full.Store(&full)
	_, err := h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("during")})
	wantCode(t, err, "ServiceUnavailable")
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 503 || re.Response.Header.Get("Retry-After") != "30" || !strings.Contains(err.Error(), "data disk") {
		t.Fatalf("refusal %v", err)
	}
	_, err = h.cl.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("more")})
	wantCode(t, err, "ServiceUnavailable")
	if _, err := h.svc.Deliver(ctx, "arn:aws:sqs:us-east-1:"+account+":full", "delivered", nil); awsproto.AsError(err).Code != awsproto.SQSServiceUnavailable {
		t.Fatalf("in-process delivery: %v", err)
	}
	// The query protocol answers in XML.
	form := "Action=SendMessage&Version=2012-11-05&MessageBody=x&QueueUrl=" + url
	req, _ := http.NewRequest("POST", "/", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.svc.ServeHTTP(rec, req)
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "<Code>ServiceUnavailable</Code>") {
		t.Fatalf("query refusal %d %s", rec.Code, rec.Body)
	}
	// Reading and freeing space go on.
	m := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
	if len(m) != 1 || aws.ToString(m[0].Body) != "before" {
		t.Fatalf("receive while full: %v", m)
	}
	if _, err := h.cl.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	h.queueAttrs(t, url, types.QueueAttributeNameAll)
	h.full.Store(nil)
	if _, err := h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("after")}); err != nil {
		t.Fatalf("with room again: %v", err)
	}
}
