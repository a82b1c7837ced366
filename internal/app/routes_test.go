package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/funcurl"
	"github.com/kumo-run/kumo/internal/invoke"
	lambdaapi "github.com/kumo-run/kumo/internal/services/lambda"
)

const (
	testAKID   = "AKIDAPP"
	testSecret = "app-secret"
	urlID      = "abcdefghijklmnopqrstuvwxyz012345"
)

// answer is a handler that answers with its name.
type answer string

func (a answer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	io.WriteString(w, string(a))
}

func testServices() services {
	return services{lambda: answer("lambda"), logs: answer("logs"), metrics: answer("metrics"), sts: answer("sts"), ec2: answer("ec2"), iam: answer("iam"), sqs: answer("sqs"), s3: answer("s3"), kms: answer("kms"), secrets: answer("secretsmanager"),
		dynamodb: answer("dynamodb"), events: answer("events"), scheduler: answer("scheduler"), region: "us-east-1",
		sns: answer("sns"), snsCert: answer("sns-cert"), snsLink: answer("sns-confirm"), snsUnsub: answer("sns-unsubscribe"), urls: funcurl.New(funcurl.Config{Region: "us-east-1"}), code: &lambdaapi.CodeURLs{},
		apigw: answer("apigatewayv2"), execute: answer("execute-api"), restapi: answer("apigateway")}
}

func signed(t *testing.T, r *http.Request, service string) *http.Request {
	t.Helper()
	sum := sha256.Sum256(nil)
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
		r, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRoutes checks the server's route table: which route takes what.
func TestRoutes(t *testing.T) {
	var tb edge.Table
	rs := routes(testServices())
	for i := range rs {
		if rs[i].Handler == nil { // edge.Health: the edge fills it in
			rs[i].Handler = answer("healthz")
		}
	}
	if err := tb.Add(rs...); err != nil {
		t.Fatalf("the route table is ambiguous: %v", err)
	}
	tests := []struct {
		name, method, host, target, xAmzTarget, service, want string
	}{
		{"function URL by host", "POST", urlID + ".lambda-url.us-east-1.localhost:9070", "/any/path", "", "", "function-url"},
		{"function URL's own /healthz and /metrics", "GET", urlID + ".lambda-url.us-east-1.localhost", "/metrics", "", "", "function-url"},
		{"function URL by path", "GET", "127.0.0.1:9070", "/lambda-url/" + urlID + "/", "", "", "function-url"},
		{"metrics", "GET", "127.0.0.1:9070", "/metrics", "", "", "metrics"},
		{"healthz, even signed for lambda", "GET", "127.0.0.1:9070", "/healthz", "", "lambda", "healthz"},
		{"code links", "GET", "127.0.0.1:9070", lambdaapi.CodePath + "blob?Expires=1&Signature=x", "", "", "code"},
		{"lambda by path", "GET", "127.0.0.1:9070", "/2015-03-31/functions/", "", "", "lambda"},
		{"lambda by scope", "GET", "127.0.0.1:9070", "/2015-03-31/functions/", "", "lambda", "lambda"},
		{"logs by target", "POST", "127.0.0.1:9070", "/", "Logs_20140328.PutLogEvents", "", "logs"},
		{"logs by scope", "POST", "127.0.0.1:9070", "/", "", "logs", "logs"},
		{"sts by scope", "POST", "127.0.0.1:9070", "/", "", "sts", "sts"},
		{"sts by query", "GET", "127.0.0.1:9070", "/?Action=GetCallerIdentity&Version=2011-06-15", "", "", "sts"},
		{"ec2 by scope", "POST", "127.0.0.1:9070", "/", "", "ec2", "ec2"},
		{"ec2 by query", "GET", "127.0.0.1:9070", "/?Action=DescribeVpcs&Version=2016-11-15", "", "", "ec2"},
		{"iam by scope", "POST", "127.0.0.1:9070", "/", "", "iam", "iam"},
		{"iam by query", "GET", "127.0.0.1:9070", "/?Action=ListUsers&Version=2010-05-08", "", "", "iam"},
		{"sqs by scope", "POST", "127.0.0.1:9070", "/", "", "sqs", "sqs"},
		{"sqs by target", "POST", "127.0.0.1:9070", "/", "AmazonSQS.SendMessage", "", "sqs"},
		{"kms by scope", "POST", "127.0.0.1:9070", "/", "", "kms", "kms"},
		{"kms by target", "POST", "127.0.0.1:9070", "/", "TrentService.Encrypt", "", "kms"},
		{"secretsmanager by scope", "POST", "127.0.0.1:9070", "/", "", "secretsmanager", "secretsmanager"},
		{"secretsmanager by target", "POST", "127.0.0.1:9070", "/", "secretsmanager.GetSecretValue", "", "secretsmanager"},
		{"sqs by query", "GET", "127.0.0.1:9070", "/000000000000/q?Action=ReceiveMessage&Version=2012-11-05", "", "", "sqs"},
		{"sns by scope", "POST", "127.0.0.1:9070", "/", "", "sns", "sns"},
		{"dynamodb by scope", "POST", "127.0.0.1:9070", "/", "DynamoDB_20120810.PutItem", "dynamodb", "dynamodb"},
		{"dynamodb by target", "POST", "127.0.0.1:9070", "/", "DynamoDB_20120810.ListTables", "", "dynamodb"},
		{"sns by query", "GET", "127.0.0.1:9070", "/?Action=ListTopics&Version=2010-03-31", "", "", "sns"},
		{"events by scope", "POST", "127.0.0.1:9070", "/", "", "events", "events"},
		{"events by target", "POST", "127.0.0.1:9070", "/", "AWSEvents.PutEvents", "", "events"},
		{"scheduler by scope", "GET", "127.0.0.1:9070", "/schedules", "", "scheduler", "scheduler"},
		{"sns signing certificate", "GET", "127.0.0.1:9070", "/SimpleNotificationService-kumo.pem", "", "", "sns-cert"},
		{"sns SubscribeURL", "GET", "127.0.0.1:9070", "/?Action=ConfirmSubscription&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A000000000000%3At&Token=ab", "", "", "sns-confirm"},
		{"sns ConfirmSubscription signed", "GET", "127.0.0.1:9070", "/?Action=ConfirmSubscription&Version=2010-03-31&Token=ab", "", "sns", "sns"},
		{"sns UnsubscribeURL", "GET", "127.0.0.1:9070", "/?Action=Unsubscribe&SubscriptionArn=arn%3Aaws%3Asns%3Aus-east-1%3A000000000000%3At%3Aid", "", "", "sns-unsubscribe"},
		{"s3 by scope", "PUT", "127.0.0.1:9070", "/bucket/key.txt", "", "s3", "s3"},
		{"s3 listing by scope", "GET", "127.0.0.1:9070", "/bucket?list-type=2&prefix=a", "", "s3", "s3"},
		{"s3 virtual-hosted", "GET", "bucket.s3.us-east-1.localhost:9070", "/key", "", "s3", "s3"},
		{"s3 virtual-hosted, no region", "GET", "bucket.s3.localhost", "/key", "", "", "s3"},
		{"s3 presigned URL", "GET", "127.0.0.1:9070", "/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261205%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261205T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00", "", "", "s3"},
		{"s3 presigned URL, SigV2", "GET", "127.0.0.1:9070", "/bucket/key?AWSAccessKeyId=AKID&Signature=x&Expires=1", "", "", "s3"},
		{"apigatewayv2 by scope", "POST", "127.0.0.1:9070", "/v2/apis", "", "apigateway", "apigatewayv2"},
		{"apigateway REST APIs by scope", "POST", "127.0.0.1:9070", "/restapis", "", "apigateway", "apigateway"},
		{"apigateway usage plans by scope", "GET", "127.0.0.1:9070", "/usageplans/abc/keys", "", "apigateway", "apigateway"},
		{"execute-api by host", "GET", "abcde12345.execute-api.us-east-1.localhost:9070", "/prod/items/1", "", "", "execute-api"},
		{"execute-api by host, signed for another service", "GET", "abcde12345.execute-api.us-east-1.localhost", "/v2/apis", "", "apigateway", "execute-api"},
		{"execute-api by path", "POST", "127.0.0.1:9070", "/execute-api/abcde12345/prod/items", "", "", "execute-api"},
		{"nothing", "GET", "127.0.0.1:9070", "/nope", "", "", ""},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		r.Host = tc.host
		if tc.xAmzTarget != "" {
			r.Header.Set("X-Amz-Target", tc.xAmzTarget)
		}
		if tc.service != "" {
			signed(t, r, tc.service)
		}
		got := ""
		if rt := tb.Match(r); rt != nil {
			got = rt.Name
		}
		if got != tc.want {
			t.Errorf("%s: route %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestMetricsNeedAuth: on the edge port /metrics is an API call like any
// other, refused unsigned.
func TestMetricsNeedAuth(t *testing.T) {
	h := edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: awsproto.StaticCredentials{testAKID: testSecret}},
		Routes:   routes(testServices()),
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	//lint:ignore SA1008 awsproto.WriteError sets x-amzn-ErrorType in AWS's casing
	if rec.Code != 403 || strings.Join(rec.Header()["x-amzn-ErrorType"], "") != string(awsproto.MissingAuthenticationTokenException) || strings.Contains(rec.Body.String(), "metrics") {
		t.Fatalf("unsigned GET /metrics: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), "ok\nversion: ") {
		t.Fatalf("GET /healthz: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, signed(t, httptest.NewRequest("GET", "/metrics", nil), "kumo"))
	if rec.Code != 200 || rec.Body.String() != "metrics" {
		t.Fatalf("signed GET /metrics: %d %s", rec.Code, rec.Body)
	}
}

func TestLambdaBodyLimits(t *testing.T) {
	tests := []struct {
		method, target string
		want           int64
	}{
		{"POST", "/2015-03-31/functions/f/invocations", invoke.MaxSyncPayload + 64<<10},
		{"POST", "/2015-03-31/functions", 69905067},
		{"PUT", "/2015-03-31/functions/f/code", 69905067},
		{"POST", "/2018-10-31/layers/l/versions", 69905067},
		{"PUT", "/2015-03-31/functions/f/configuration", edge.DefaultMaxBody},
		{"POST", "/2014-11-13/functions/f/invoke-async/", edge.DefaultMaxBody},
		{"GET", "/2015-03-31/functions/", edge.DefaultMaxBody},
	}
	for _, tc := range tests {
		if got := lambdaBodyLimit(httptest.NewRequest(tc.method, tc.target, nil)); got != tc.want {
			t.Errorf("%s %s: limit %d, want %d", tc.method, tc.target, got, tc.want)
		}
	}
}

// TestSTSRefusalsInQueryProtocol: the edge refuses an STS request in STS's
// own protocol, so the SDKs' query parsers read the code.
func TestSTSRefusalsInQueryProtocol(t *testing.T) {
	h := edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: awsproto.StaticCredentials{testAKID: testSecret}},
		Routes:   routes(testServices()),
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/?Action=GetCallerIdentity&Version=2011-06-15", nil))
	if rec.Code != 403 || rec.Header().Get("Content-Type") != "text/xml" ||
		!strings.Contains(rec.Body.String(), "<Code>MissingAuthenticationToken</Code>") {
		t.Fatalf("unsigned STS request: %d %s", rec.Code, rec.Body)
	}
}

// TestSQSRefusalsInEachProtocol: the edge refuses an unsigned SQS request
// in the protocol it came in: XML to the query protocol, JSON to JSON 1.0.
func TestSQSRefusalsInEachProtocol(t *testing.T) {
	h := edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: awsproto.StaticCredentials{testAKID: testSecret}},
		Routes:   routes(testServices()),
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/000000000000/q?Action=ReceiveMessage&Version=2012-11-05", nil))
	if rec.Code != 403 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/xml") ||
		!strings.Contains(rec.Body.String(), "<Code>MissingAuthenticationToken</Code>") {
		t.Fatalf("unsigned SQS query request: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/", strings.NewReader("{}"))
	r.Header.Set("X-Amz-Target", "AmazonSQS.ListQueues")
	r.Header.Set("Content-Type", "application/x-amz-json-1.0")
	h.ServeHTTP(rec, r)
	if rec.Code != 403 || rec.Header().Get("Content-Type") != "application/x-amz-json-1.0" || !strings.Contains(rec.Body.String(), `"__type":"com.amazonaws.sqs#MissingAuthenticationToken`) {
		t.Fatalf("unsigned SQS JSON request: %d %s %v", rec.Code, rec.Body, rec.Header())
	}
}
