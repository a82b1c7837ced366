package esm_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/kumo-run/kumo/internal/asyncq"
	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/esm"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/poll"
	"github.com/kumo-run/kumo/internal/registry"
	kumoddb "github.com/kumo-run/kumo/internal/services/dynamodb"
	lambdaapi "github.com/kumo-run/kumo/internal/services/lambda"
	kumosqs "github.com/kumo-run/kumo/internal/services/sqs"
	"github.com/kumo-run/kumo/internal/store"
)

const (
	account    = "123456789012"
	rootKey    = "AKIAKUMOESMTEST00001"
	rootSecret = "kumo-esm-test-secret-0000000000000000000"
)

var arns = registry.ARNs{Partition: "aws", Region: "us-east-1", Account: account}

// recorder is the invoker: it records every batch and answers with what
// respond returns (nil: success with a null payload).
type recorder struct {
	mu       sync.Mutex
	batches  [][]record
	payloads [][]byte
	respond  func(recs []record) (*invoke.Output, error)
}

type record struct {
	MessageID         string            `json:"messageId"`
	ReceiptHandle     string            `json:"receiptHandle"`
	Body              string            `json:"body"`
	Attributes        map[string]string `json:"attributes"`
	MessageAttributes map[string]struct {
		StringValue      *string  `json:"stringValue"`
		DataType         string   `json:"dataType"`
		StringListValues []string `json:"stringListValues"`
	} `json:"messageAttributes"`
	MD5OfBody      string `json:"md5OfBody"`
	EventSource    string `json:"eventSource"`
	EventSourceARN string `json:"eventSourceARN"`
	AWSRegion      string `json:"awsRegion"`
}

func (r *recorder) Invoke(_ context.Context, in *invoke.Input) (*invoke.Output, error) {
	var ev struct{ Records []record }
	if err := json.Unmarshal(in.Payload, &ev); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.batches = append(r.batches, ev.Records)
	r.payloads = append(r.payloads, in.Payload)
	respond := r.respond
	r.mu.Unlock()
	if respond != nil {
		return respond(ev.Records)
	}
	return &invoke.Output{Status: 200, Payload: []byte("null")}, nil
}

func (r *recorder) bodies() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, b := range r.batches {
		for _, rec := range b {
			out[rec.Body]++
		}
	}
	return out
}

func (r *recorder) all() [][]record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

type harness struct {
	inv *recorder
	svc *esm.Service
	sqs *kumosqs.Service
	lc  *lambda.Client
	qc  *sqs.Client
	reg *registry.Registry
	cfg esm.Config
	ddb *kumoddb.Service
	dir *authz.Static // users of the Lambda API besides root
	url string
	// clock is how far the DynamoDB service's and the mappings' clock is
	// ahead of time.Now, in nanoseconds.
	clock *atomic.Int64
}

// sqsTargets delivers on-failure records to the SQS service.
type sqsTargets struct{ q *kumosqs.Service }

func (t sqsTargets) Send(ctx context.Context, arn string, body []byte, _ map[string]asyncq.Attribute) error {
	_, err := t.q.Deliver(ctx, arn, string(body), nil)
	return err
}

// newHarness starts an embedded NATS with the registry, SQS and the
// mappings on it, and serves the Lambda and SQS APIs through an edge that
// verifies SigV4.
func newHarness(t testing.TB) *harness {
	t.Helper()
	ctx := context.Background()
	ns, err := natsd.Start(natsd.Config{DataDir: t.TempDir(), Sync: natsd.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect("esm-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	st, err := store.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv := func(name string) store.KV {
		b, err := st.KV(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	code, err := st.Blobs(ctx, natsd.CodeBucket)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(ctx, registry.Config{ARNs: arns, KV: kv(natsd.RegistryBucket), Code: code})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	// The functions' execution role may poll every queue; mappings check
	// it against the queue service's authorizer.
	dir := &authz.Static{}
	pollSQS, err := iam.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:ReceiveMessage","sqs:DeleteMessage","sqs:GetQueueAttributes","sqs:SendMessage","dynamodb:GetRecords","dynamodb:GetShardIterator","dynamodb:DescribeStream","dynamodb:ListStreams"],"Resource":"*"}]}`, iam.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	dir.SetRole(authz.Role{ARN: lambdaRole, ID: "AROALAMBDA"}, authz.Principal{Policies: []*iam.Policy{pollSQS}})
	q, err := kumosqs.Open(ctx, kumosqs.Config{KV: kv(natsd.SQSBucket), NC: nc, Region: "us-east-1", Account: account,
		MaxPollInterval: 100 * time.Millisecond, Authorizer: authz.New(authz.Config{Directory: dir, Region: "us-east-1"})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Close)
	clock := new(atomic.Int64)
	now := func() time.Time { return time.Now().Add(time.Duration(clock.Load())) }
	ddb, err := kumoddb.Open(ctx, kumoddb.Config{KV: kv(natsd.DynamoDBBucket), NC: nc, Region: "us-east-1", Account: account,
		Authorizer: authz.New(authz.Config{Directory: dir, Region: "us-east-1"}), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ddb.Close)
	h := &harness{inv: &recorder{}, sqs: q, reg: reg, ddb: ddb, clock: clock}
	h.cfg = esm.Config{KV: kv(natsd.ESMBucket), Functions: reg, Queues: q, Streams: ddb, Invoker: h.inv, ARNs: arns,
		PollWait: 200 * time.Millisecond, Backoff: 10 * time.Millisecond, Targets: sqsTargets{q}, Now: now}
	h.svc, err = esm.Open(ctx, h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.svc.Close)
	h.dir = dir
	api := lambdaapi.New(lambdaapi.Config{Registry: reg, ARNs: arns, Invoker: h.inv, ESM: h.svc,
		Authorizer: authz.New(authz.Config{Directory: h.dir, Region: "us-east-1"})})
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	keys := &token.Store{Issuer: is, RootKeyID: rootKey, RootSecret: rootSecret, Root: token.Root("aws", account), Keys: h.dir}
	srv := httptest.NewServer(edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: keys},
		Routes: []edge.Route{
			{Name: "lambda", Match: []edge.Matcher{{Service: "lambda"}}, Scope: "lambda", Handler: api},
			{Name: "sqs", Match: []edge.Matcher{{Service: kumosqs.SigningName}}, Scope: kumosqs.SigningName,
				Handler: q, Errors: kumosqs.Errors, MaxBody: func(*http.Request) int64 { return kumosqs.MaxRequestBody }},
		},
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(rootKey, rootSecret, ""),
		HTTPClient: srv.Client(), RetryMaxAttempts: 1}
	h.lc = h.client(rootKey, rootSecret)
	h.qc = sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return h
}

// client is a Lambda client signing with the given key.
func (h *harness) client(key, secret string) *lambda.Client {
	return lambda.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient: http.DefaultClient, RetryMaxAttempts: 1}, func(o *lambda.Options) { o.BaseEndpoint = aws.String(h.url) })
}

func zipFile(t testing.TB) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	f, err := w.Create("index.py")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("def handler(e, c):\n    return e\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// lambdaRole is the execution role of the harness's functions.
const lambdaRole = "arn:aws:iam::123456789012:role/lambda"

func (h *harness) function(t testing.TB, name string) {
	t.Helper()
	h.functionWithRole(t, name, lambdaRole)
}

func (h *harness) functionWithRole(t testing.TB, name, role string) {
	t.Helper()
	_, err := h.lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: ltypes.RuntimePython312, Handler: aws.String("index.handler"),
		Role: aws.String(role), Code: &ltypes.FunctionCode{ZipFile: zipFile(t)},
	})
	if err != nil {
		t.Fatalf("CreateFunction(%s): %v", name, err)
	}
}

// queue creates a queue and returns its URL and ARN.
func (h *harness) queue(t testing.TB, name string, attrs map[string]string) (string, string) {
	t.Helper()
	out, err := h.qc.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("CreateQueue(%s): %v", name, err)
	}
	return aws.ToString(out.QueueUrl), "arn:aws:sqs:us-east-1:" + account + ":" + name
}

func (h *harness) send(t testing.TB, url string, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		if _, err := h.qc.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
}

func (h *harness) waitState(t testing.TB, uuid string, want string) {
	t.Helper()
	poll.Until(t, 0, "mapping "+uuid+" "+want, func() error {
		out, err := h.lc.GetEventSourceMapping(t.Context(), &lambda.GetEventSourceMappingInput{UUID: aws.String(uuid)})
		if err != nil {
			return err
		}
		if s := aws.ToString(out.State); s != want {
			return fmt.Errorf("state %s", s)
		}
		return nil
	})
}

func wantError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || msg != "" && ae.ErrorMessage() != msg {
		t.Fatalf("error %v, want %s %q", err, code, msg)
	}
}

// queueCounts is the approximate visible and in-flight numbers.
func (h *harness) queueCounts(t testing.TB, url string) (int, int) {
	out, err := h.qc.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if err != nil {
		t.Fatal(err)
	}
	var v, n int
	fmt.Sscan(out.Attributes["ApproximateNumberOfMessages"], &v)
	fmt.Sscan(out.Attributes["ApproximateNumberOfMessagesNotVisible"], &n)
	return v, n
}

var errStill = errors.New("still there")

func wantErrorOneOf(t *testing.T, err error, got *string, codes ...string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || !slices.Contains(codes, ae.ErrorCode()) {
		t.Fatalf("error %v, want one of %v", err, codes)
	}
	*got = ae.ErrorCode()
}

type sqstypesMAV = sqstypes.MessageAttributeValue
