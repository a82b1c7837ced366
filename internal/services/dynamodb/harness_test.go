package dynamodb_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/nats-io/nats.go"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/natsd"
	kumoddb "github.com/kumo-run/kumo/internal/services/dynamodb"
	"github.com/kumo-run/kumo/internal/store"
)

const (
	account    = "000000000000"
	rootKey    = "AKIAKUMODDBTEST00001"
	rootSecret = "kumo-ddb-test-secret-000000000000000000000"
)

type harness struct {
	dir  string
	mu   sync.Mutex
	ns   *natsd.Server
	nc   *nats.Conn
	svc  *kumoddb.Service
	cl   *dynamodb.Client
	srv  *httptest.Server
	auth *authz.Static
	az   *authz.Authorizer
	// skew moves the service's clock (nanoseconds ahead of real time).
	skew atomic.Int64
	// maxItemBytes is the service's Config.MaxItemBytes from the next
	// start on.
	maxItemBytes int64
}

// newHarness starts NATS, opens the service on the kumo-dynamodb bucket
// and serves it through an edge that verifies SigV4.
func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{dir: t.TempDir(), auth: &authz.Static{}}
	h.az = authz.New(authz.Config{Directory: h.auth, Region: "us-east-1"})
	h.start(t)
	t.Cleanup(h.stop)
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	creds := &token.Store{Issuer: is, RootKeyID: rootKey, RootSecret: rootSecret, Root: token.Root("aws", account), Keys: h.auth}
	h.srv = httptest.NewServer(edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: creds},
		Routes: []edge.Route{{Name: "dynamodb", Match: []edge.Matcher{{Service: kumoddb.SigningName}}, Scope: kumoddb.SigningName,
			Handler: h, Errors: kumoddb.Errors, MaxBody: func(*http.Request) int64 { return kumoddb.MaxRequestBody }}},
	}))
	t.Cleanup(h.srv.Close)
	h.cl = h.client(rootKey, rootSecret)
	return h
}

func (h *harness) client(key, secret string) *dynamodb.Client {
	return dynamodb.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient:       h.srv.Client(),
		RetryMaxAttempts: 1,
	}, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(h.srv.URL) })
}

func (h *harness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	svc := h.svc
	h.mu.Unlock()
	svc.ServeHTTP(w, r)
}

func (h *harness) start(t testing.TB) {
	t.Helper()
	ns, err := natsd.Start(natsd.Config{DataDir: h.dir, Sync: natsd.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ns.Connect("ddb-test")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := st.KV(context.Background(), natsd.DynamoDBBucket)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := kumoddb.Open(context.Background(), kumoddb.Config{KV: kv, NC: nc, Region: "us-east-1", Account: account, Authorizer: h.az,
		Now: func() time.Time { return time.Now().Add(time.Duration(h.skew.Load())) }, TTLInterval: 50 * time.Millisecond, MaxItemBytes: h.maxItemBytes})
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.ns, h.nc, h.svc = ns, nc, svc
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

func (h *harness) restart(t testing.TB) {
	t.Helper()
	h.stop()
	h.start(t)
}

// createTable makes a table keyed by pk (S) and, if sk is not "", sk (N).
func (h *harness) createTable(t testing.TB, name, sk string) {
	t.Helper()
	in := &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}}}
	if sk != "" {
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: aws.String(sk), KeyType: types.KeyTypeRange})
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(sk), AttributeType: types.ScalarAttributeTypeN})
	}
	if _, err := h.cl.CreateTable(t.Context(), in); err != nil {
		t.Fatal(err)
	}
}

func wantCode(t testing.TB, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || (msg != "" && ae.ErrorMessage() != msg) {
		t.Fatalf("error %v, want %s %q", err, code, msg)
	}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

func asErr[T error](err error, target *T) bool { return errors.As(err, target) }

// serve sends one request to svc directly (no authorization) and returns
// the answer's body; a status other than 200 fails the test.
func serve(t testing.TB, svc http.Handler, op, body string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", kumoddb.TargetPrefix+op)
	svc.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("%s: %d %s", op, rec.Code, rec.Body)
	}
	return rec.Body.String()
}
