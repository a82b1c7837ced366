package edge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/version"
)

const (
	testAKID   = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

// seen is what a fake service handler observed of one request.
type seen struct {
	method, rawPath, query string
	body                   []byte
	contentLength          int64
	requestID              string
	caller                 awsproto.Caller
	hasCaller              bool
}

// fakeService records requests and answers {"ok":true}; a body of "panic"
// makes it panic, "panic-late" panics after starting the response.
type fakeService struct {
	mu   sync.Mutex
	reqs []seen
}

func (f *fakeService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		panic(err)
	}
	c, ok := awsproto.CallerFrom(r.Context())
	f.mu.Lock()
	f.reqs = append(f.reqs, seen{
		method: r.Method, rawPath: r.URL.EscapedPath(), query: r.URL.RawQuery, body: body,
		contentLength: r.ContentLength, requestID: awsproto.RequestID(r.Context()), caller: c, hasCaller: ok,
	})
	f.mu.Unlock()
	switch string(body) {
	case "panic":
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		panic("boom")
	case "panic-late":
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"partial":`)
		w.(http.Flusher).Flush()
		panic("late boom")
	case "teapot":
		awsproto.WriteError(w, awsproto.Errorf(awsproto.TooManyRequestsException, "Rate exceeded"))
		return
	}
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	awsproto.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (f *fakeService) last(t *testing.T) seen {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("service handler was not called")
	}
	return f.reqs[len(f.reqs)-1]
}

func (f *fakeService) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

type harness struct {
	srv    *httptest.Server
	lambda *fakeService
	logs   *fakeService
	log    *syncBuffer
	ready  atomic.Bool
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHarness(t *testing.T, auth bool, maxBody int64) *harness {
	h := &harness{lambda: &fakeService{}, logs: &fakeService{}, log: &syncBuffer{}}
	h.ready.Store(true)
	cfg := Config{
		Routes:       testRoutes(h.lambda, h.logs),
		Ready:        h.ready.Load,
		Logger:       slog.New(slog.NewJSONHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MaxBodyBytes: maxBody,
	}
	if auth {
		cfg.Verifier = &awsproto.Verifier{Region: "us-east-1", Credentials: awsproto.StaticCredentials{testAKID: testSecret}}
	}
	h.srv = httptest.NewServer(New(cfg))
	t.Cleanup(h.srv.Close)
	return h
}

// lambdaDates are the API versions of Lambda's REST paths.
var lambdaDates = []string{"2014-11-13", "2015-03-31", "2016-08-19", "2017-03-31", "2017-10-31",
	"2018-10-31", "2019-09-25", "2019-09-30", "2020-04-22", "2020-06-30", "2021-10-31"}

// testRoutes routes the way Kumo's server does: Lambda by scope or REST
// path, logs by scope or X-Amz-Target.
func testRoutes(lambda, logs http.Handler) []Route {
	lm := []Matcher{{Service: "lambda"}}
	for _, d := range lambdaDates {
		lm = append(lm, Matcher{PathPrefix: "/" + d + "/"})
	}
	return []Route{
		{Name: "lambda", Match: lm, Scope: "lambda", Handler: lambda,
			MaxBody: BodyLimits(map[string]int64{"POST /2015-03-31/functions": 69905067})},
		{Name: "logs", Match: []Matcher{{Service: "logs"}, {Target: "Logs_20140328."}}, Scope: "logs", Handler: logs,
			Errors: awsproto.JSON{Version: "1.1"}},
	}
}

func (h *harness) lambdaClient(secret string) *lambda.Client {
	return lambda.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(testAKID, secret, ""),
		HTTPClient:       h.srv.Client(),
		RetryMaxAttempts: 1,
	}, func(o *lambda.Options) { o.BaseEndpoint = aws.String(h.srv.URL) })
}

// do sends a request, signed for service when service is not "", and
// returns the response with its body read.
func (h *harness) do(t *testing.T, method, target string, body []byte, service string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if service != "" {
		sum := sha256.Sum256(body)
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
			req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// wantError checks an AWS JSON error response.
func wantError(t *testing.T, resp *http.Response, body []byte, status int, code awsproto.Code, msg string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if got := headerValue(resp.Header, "x-amzn-ErrorType"); got != string(code) {
		t.Fatalf("x-amzn-ErrorType = %q, want %q", got, code)
	}
	if headerValue(resp.Header, "x-amzn-RequestId") == "" {
		t.Fatal("no x-amzn-RequestId")
	}
	if ct := headerValue(resp.Header, "Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	got, _ := m["message"].(string)
	if got == "" {
		got, _ = m["Message"].(string)
	}
	if !strings.Contains(got, msg) {
		t.Fatalf("message = %q, want it to contain %q", got, msg)
	}
}

func TestSDKClientThroughEdge(t *testing.T) {
	h := newHarness(t, true, 0)
	c := h.lambdaClient(testSecret)
	payload := []byte(`{"key":"value","list":[1,2,3]}`)
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName: aws.String("arn:aws:lambda:us-east-1:123456789012:function:my-fn"),
		Qualifier:    aws.String("$LATEST"),
		Payload:      payload,
	})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if string(out.Payload) != `{"ok":true}` || aws.ToString(out.ExecutedVersion) != "$LATEST" {
		t.Fatalf("Invoke output: payload %s, version %v", out.Payload, aws.ToString(out.ExecutedVersion))
	}
	got := h.lambda.last(t)
	if !bytes.Equal(got.body, payload) || got.contentLength != int64(len(payload)) {
		t.Fatalf("handler body %q (ContentLength %d), want %q", got.body, got.contentLength, payload)
	}
	if got.rawPath != "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn/invocations" || got.query != "Qualifier=%24LATEST" {
		t.Fatalf("handler saw %s?%s", got.rawPath, got.query)
	}
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	if id == "" || got.requestID != id {
		t.Fatalf("request id in context %q, in response %q", got.requestID, id)
	}
	if !got.hasCaller || got.caller != (awsproto.Caller{AccessKeyID: testAKID}) {
		t.Fatalf("caller = %+v (present %v)", got.caller, got.hasCaller)
	}

	// The SDK sees the edge's errors as the AWS errors they are.
	_, err = h.lambdaClient("wrong-secret").Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("my-fn")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidSignatureException" {
		t.Fatalf("wrong secret: err = %v", err)
	}
	// And a service's own errors pass through untouched.
	_, err = c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("my-fn"), Payload: []byte("teapot")})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "TooManyRequestsException" {
		t.Fatalf("service error: err = %v", err)
	}
}

func TestSignedRequests(t *testing.T) {
	h := newHarness(t, true, 4<<20)
	big := bytes.Repeat([]byte("0123456789abcdef"), (3<<20)/16) // beyond the pooled size
	tests := []struct {
		name    string
		method  string
		target  string
		body    []byte
		service string
		hdr     map[string]string
		to      *fakeService
	}{
		{"GET with query", "GET", "/2015-03-31/functions/?MaxItems=10&Marker=a%20b", nil, "lambda", nil, h.lambda},
		{"POST JSON", "POST", "/2015-03-31/functions", []byte(`{"FunctionName":"f"}`), "lambda", map[string]string{"Content-Type": "application/json"}, h.lambda},
		{"large body", "POST", "/2015-03-31/functions", big, "lambda", nil, h.lambda},
		{"routed by scope service", "POST", "/", []byte(`{}`), "logs", map[string]string{"X-Amz-Target": "Logs_20140328.DescribeLogGroups"}, h.logs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.do(t, tc.method, tc.target, tc.body, tc.service, tc.hdr)
			if resp.StatusCode != 200 || string(body) != `{"ok":true}` {
				t.Fatalf("status %d body %s", resp.StatusCode, body)
			}
			got := tc.to.last(t)
			if !bytes.Equal(got.body, tc.body) || got.contentLength != int64(len(tc.body)) {
				t.Fatalf("body mangled: %d bytes (ContentLength %d), want %d", len(got.body), got.contentLength, len(tc.body))
			}
			if id := headerValue(resp.Header, "x-amzn-RequestId"); id == "" || id != got.requestID {
				t.Fatalf("request id header %q, context %q", id, got.requestID)
			}
		})
	}
}

func TestChunkedBody(t *testing.T) {
	h := newHarness(t, false, 1024)
	post := func(n int) *http.Response {
		// An io.Reader of unknown length makes the client send chunked.
		req, _ := http.NewRequest("POST", h.srv.URL+"/2015-03-31/functions", io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("x"), n))))
		resp, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := post(1024); resp.StatusCode != 200 {
		t.Fatalf("at the cap: status %d", resp.StatusCode)
	}
	if got := h.lambda.last(t); len(got.body) != 1024 || got.contentLength != 1024 {
		t.Fatalf("handler saw %d bytes, ContentLength %d", len(got.body), got.contentLength)
	}
	if resp := post(1025); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("over the cap: status %d", resp.StatusCode)
	}
}

func TestRejected(t *testing.T) {
	h := newHarness(t, true, 1024)
	t.Run("unsigned", func(t *testing.T) {
		resp, body := h.do(t, "GET", "/2015-03-31/functions", nil, "", nil)
		wantError(t, resp, body, 403, awsproto.MissingAuthenticationTokenException, "Missing Authentication Token")
		var m map[string]string
		json.Unmarshal(body, &m)
		if m["Type"] != "User" || m["message"] != "Missing Authentication Token" {
			t.Fatalf("body = %s", body)
		}
	})
	t.Run("bad signature", func(t *testing.T) {
		resp, body := h.do(t, "GET", "/2015-03-31/functions", nil, "", map[string]string{"Authorization": "x"})
		wantError(t, resp, body, 403, awsproto.IncompleteSignatureException, "requires 'Credential' parameter")
		req, _ := http.NewRequest("GET", h.srv.URL+"/2015-03-31/functions", nil)
		v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: "nope"},
			req, hex.EncodeToString(sha256.New().Sum(nil)), "lambda", "us-east-1", time.Now())
		resp, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		wantError(t, resp, body, 403, awsproto.InvalidSignatureException, "does not match the signature you provided")
	})
	t.Run("unknown signed service", func(t *testing.T) {
		resp, body := h.do(t, "GET", "/", nil, "s3", nil)
		wantError(t, resp, body, 404, awsproto.UnknownOperationException, "Unknown service or operation")
	})
	t.Run("oversized body", func(t *testing.T) {
		resp, body := h.do(t, "POST", "/2015-03-31/functions", bytes.Repeat([]byte("x"), 1025), "lambda", nil)
		wantError(t, resp, body, 413, awsproto.RequestEntityTooLargeException, "Request must be smaller than 1024 bytes for the operation")
	})
	if n := h.lambda.count(); n != 0 {
		t.Fatalf("service handler called %d times for rejected requests", n)
	}
	if !strings.Contains(h.log.String(), `"errorType":"InvalidSignatureException"`) {
		t.Fatalf("failed request not logged:\n%s", h.log.String())
	}
}

// countingReader counts what the edge read of a body.
type countingReader struct{ n atomic.Int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}

func TestOversizedNotRead(t *testing.T) {
	for _, auth := range []bool{false, true} {
		cfg := Config{Routes: testRoutes(&fakeService{}, &fakeService{})}
		if auth {
			cfg.Verifier = &awsproto.Verifier{Region: "us-east-1", Credentials: awsproto.StaticCredentials{testAKID: testSecret}}
		}
		body := &countingReader{}
		req := httptest.NewRequest("POST", "/2015-03-31/functions", body)
		req.ContentLength = 69905067 + 1
		// Signed over a hash the body is never read to check.
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
			req, strings.Repeat("0", 64), "lambda", "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		New(cfg).ServeHTTP(rec, req)
		resp := rec.Result()
		wantError(t, resp, rec.Body.Bytes(), 413, awsproto.RequestEntityTooLargeException, "Request must be smaller than 69905067 bytes for the operation")
		if n := body.n.Load(); n != 0 {
			t.Fatalf("read %d bytes of an oversized body", n)
		}
	}
}

func TestPanicRecovered(t *testing.T) {
	h := newHarness(t, false, 0)
	resp, body := h.do(t, "POST", "/2015-03-31/functions/f/invocations", []byte("panic"), "", nil)
	wantError(t, resp, body, 500, awsproto.ServiceException, "internal error")
	if headerValue(resp.Header, "X-Amz-Function-Error") != "" {
		t.Fatal("headers the handler set before panicking were sent")
	}
	id := headerValue(resp.Header, "x-amzn-RequestId")
	logged := h.log.String()
	if !strings.Contains(logged, `"requestId":"`+id+`"`) || !strings.Contains(logged, "boom") {
		t.Fatalf("panic not logged with request id %s:\n%s", id, logged)
	}

	// Another route's panic is answered in its own protocol.
	resp, body = h.do(t, "POST", "/", []byte("panic"), "", map[string]string{"X-Amz-Target": "Logs_20140328.PutLogEvents"})
	if resp.StatusCode != 500 || resp.Header.Get("Content-Type") != "application/x-amz-json-1.1" || !strings.Contains(string(body), `"__type":`) {
		t.Errorf("logs panic: %d %v %s", resp.StatusCode, resp.Header, body)
	}

	// After the response began, the connection is cut instead.
	req, _ := http.NewRequest("POST", h.srv.URL+"/2015-03-31/functions/f/invocations", strings.NewReader("panic-late"))
	if resp, err := h.srv.Client().Do(req); err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Fatal("a response cut by a panic read as complete")
		}
	}

	// The server goes on serving.
	resp, body = h.do(t, "GET", "/2015-03-31/functions", nil, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("after panics: status %d %s", resp.StatusCode, body)
	}
}

func TestHealthz(t *testing.T) {
	h := newHarness(t, true, 0)
	resp, body := h.do(t, "GET", "/healthz", nil, "", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "ok\nversion: ") || !strings.Contains(string(body), version.String()) {
		t.Fatalf("ready: %d %q", resp.StatusCode, body)
	}
	h.ready.Store(false)
	resp, _ = h.do(t, "GET", "/healthz", nil, "", nil)
	if resp.StatusCode != 503 {
		t.Fatalf("not ready: %d", resp.StatusCode)
	}
	rec := httptest.NewRecorder()
	New(Config{}).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 {
		t.Fatalf("nil Ready: %d", rec.Code)
	}
}

func TestAuthOff(t *testing.T) {
	h := newHarness(t, false, 0)
	resp, body := h.do(t, "GET", "/2019-09-25/functions/f/event-invoke-config", nil, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
	got := h.lambda.last(t)
	if got.caller != (awsproto.Caller{Anonymous: true}) || got.requestID != headerValue(resp.Header, "x-amzn-RequestId") {
		t.Fatalf("caller %+v, request id %q", got.caller, got.requestID)
	}
	resp, _ = h.do(t, "POST", "/", []byte(`{}`), "", map[string]string{"X-Amz-Target": "Logs_20140328.PutLogEvents"})
	if resp.StatusCode != 200 || h.logs.count() != 1 {
		t.Fatalf("logs target: status %d, logs calls %d", resp.StatusCode, h.logs.count())
	}
	// A signed request is routed by what it looks like, signature unchecked.
	resp, _ = h.do(t, "GET", "/2015-03-31/functions", nil, "lambda", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("signed request with auth off: %d", resp.StatusCode)
	}
	resp, body = h.do(t, "GET", "/nope", nil, "", nil)
	wantError(t, resp, body, 404, awsproto.UnknownOperationException, "Unknown service or operation")
}

// headerValue looks a header up case-insensitively: Kumo sends some headers
// in AWS's own casing, which a recorded response keeps as it was set.
func headerValue(h http.Header, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}
