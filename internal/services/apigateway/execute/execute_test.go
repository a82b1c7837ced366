package execute_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/services/apigateway"
	"github.com/kumo-run/kumo/internal/services/apigateway/execute"
	"github.com/kumo-run/kumo/internal/services/apigateway/httpapi"
	lambdaapi "github.com/kumo-run/kumo/internal/services/lambda"
	"github.com/kumo-run/kumo/internal/store"
)

const (
	account    = "000000000000"
	rootKey    = "AKIAKUMOAPIGWTEST001"
	rootSecret = "kumo-apigw-test-secret-00000000000000000"
)

func fnARN(name string) string { return "arn:aws:lambda:us-east-1:" + account + ":function:" + name }

// fn is a function the fake invoker runs: it gets the event and answers.
type fn func(ctx context.Context, event []byte) (*invoke.Output, error)

// functions is the invoker behind the guard: it runs fns by name and
// counts their calls. It stands in for the worker; the guard in front of
// it is the real one.
type functions struct {
	mu    sync.Mutex
	fns   map[string]fn
	calls map[string]int
	last  map[string][]byte
}

func (f *functions) Invoke(ctx context.Context, in *invoke.Input) (*invoke.Output, error) {
	f.mu.Lock()
	h := f.fns[in.Ref.Name]
	f.calls[in.Ref.Name]++
	f.last[in.Ref.Name] = in.Payload
	f.mu.Unlock()
	if in.RequestID == "" {
		return nil, errors.New("an invocation without a request id")
	}
	if h == nil {
		return nil, awsproto.Errorf(awsproto.ResourceNotFoundException, "Function not found: %s", in.Ref.Name)
	}
	return h(ctx, in.Payload)
}

func (f *functions) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

func (f *functions) event(t *testing.T, name string) map[string]any {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var m map[string]any
	if err := json.Unmarshal(f.last[name], &m); err != nil {
		t.Fatalf("event of %s: %v", name, err)
	}
	return m
}

func answer(v any) fn {
	return func(context.Context, []byte) (*invoke.Output, error) {
		b, _ := json.Marshal(v)
		return &invoke.Output{Status: 200, Payload: b}, nil
	}
}

// clock is an injected clock.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }
func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

type harness struct {
	fns      *functions
	policies map[string][]registry.Statement
	pmu      sync.Mutex
	cl       *apigatewayv2.Client
	srv      *httptest.Server
	clock    *clock
	host     string // the edge's host:port
	dir      *authz.Static
	data     *execute.Server
}

// newHarness serves the control plane and the data plane on one edge
// with authorization on: functions run only where their policy lets
// apigateway.amazonaws.com invoke them.
func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{fns: &functions{fns: map[string]fn{}, calls: map[string]int{}, last: map[string][]byte{}},
		policies: map[string][]registry.Statement{}, clock: newClock()}
	ns, err := natsd.Start(natsd.Config{DataDir: t.TempDir(), Sync: natsd.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect("execute-test")
	if err != nil {
		t.Fatal(err)
	}
	js, err := store.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KV(t.Context(), natsd.APIGatewayBucket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := apigateway.Open(ctx, kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.dir = &authz.Static{}
	az := authz.New(authz.Config{Directory: h.dir, Region: "us-east-1"})
	guard := &lambdaapi.InvokeGuard{Invoker: h.fns, Authorizer: az, ARNs: registry.ARNs{Partition: "aws", Region: "us-east-1", Account: account},
		Policies: &authz.FunctionPolicies{Statements: func(name, qualifier string) []registry.Statement {
			h.pmu.Lock()
			defer h.pmu.Unlock()
			return h.policies[name]
		}}}
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	var edgeURL atomic.Pointer[string]
	ctl := httpapi.New(httpapi.Config{State: st, Region: "us-east-1", Account: account, EdgeURL: func() string { return *edgeURL.Load() }})
	verifier := &awsproto.Verifier{Region: "us-east-1", Credentials: &token.Store{Issuer: is, RootKeyID: rootKey, RootSecret: rootSecret,
		Root: token.Root("aws", account), Keys: h.dir}}
	data := execute.New(execute.Config{State: st, Invoker: guard, Verifier: verifier, Authorizer: az, Region: "us-east-1", Account: account, Now: h.clock.now})
	t.Cleanup(data.Close)
	h.data = data
	h.srv = httptest.NewServer(edge.New(edge.Config{
		Verifier: verifier,
		Routes: []edge.Route{data.Route(),
			{Name: "apigatewayv2", Match: []edge.Matcher{{Service: httpapi.SigningName, PathPrefix: httpapi.PathPrefix}},
				Scope: httpapi.SigningName, Handler: ctl, Errors: httpapi.Errors}},
	}))
	t.Cleanup(h.srv.Close)
	edgeURL.Store(&h.srv.URL)
	h.host = strings.TrimPrefix(h.srv.URL, "http://")
	h.cl = apigatewayv2.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(rootKey, rootSecret, ""),
		HTTPClient: h.srv.Client(), RetryMaxAttempts: 1}, func(o *apigatewayv2.Options) { o.BaseEndpoint = aws.String(h.srv.URL) })
	return h
}

// function adds a function whose policy lets API Gateway invoke it from
// sourceArn (ArnLike); "" gives it no policy.
func (h *harness) function(name, sourceArn string, f fn) {
	h.fns.mu.Lock()
	h.fns.fns[name] = f
	h.fns.mu.Unlock()
	if sourceArn == "" {
		return
	}
	h.pmu.Lock()
	defer h.pmu.Unlock()
	h.policies[name] = []registry.Statement{{Sid: "apigw", Effect: "Allow", Principal: map[string]string{"Service": "apigateway.amazonaws.com"},
		Action: "lambda:InvokeFunction", Resource: fnARN(name), Condition: map[string]map[string]string{"ArnLike": {"AWS:SourceArn": sourceArn}}}}
}

// response is one answer of the data plane.
type response struct {
	status int
	header http.Header
	body   string
}

// call sends a request to an API, by host name (path "/stage/…") or,
// with pathStyle, through /execute-api/<id>.
func (h *harness) call(t *testing.T, apiID, method, path string, body io.Reader, header map[string]string, pathStyle bool) response {
	t.Helper()
	url := h.srv.URL + path
	if pathStyle {
		url = h.srv.URL + "/execute-api/" + apiID + path
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if !pathStyle {
		req.Host = apiID + ".execute-api.us-east-1.localhost:" + strings.Split(h.host, ":")[1]
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

func (h *harness) api(t testing.TB, name string) string {
	t.Helper()
	out, err := h.cl.CreateApi(t.Context(), &apigatewayv2.CreateApiInput{Name: aws.String(name), ProtocolType: types.ProtocolTypeHttp})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ApiId)
}

func (h *harness) integration(t testing.TB, apiID, function, format string, timeout int32) string {
	t.Helper()
	out, err := h.cl.CreateIntegration(t.Context(), &apigatewayv2.CreateIntegrationInput{ApiId: &apiID, IntegrationType: types.IntegrationTypeAwsProxy,
		IntegrationUri: aws.String(fnARN(function)), PayloadFormatVersion: &format, TimeoutInMillis: aws.Int32(timeout)})
	if err != nil {
		t.Fatal(err)
	}
	return "integrations/" + aws.ToString(out.IntegrationId)
}

func (h *harness) route(t testing.TB, apiID, key, target string, mod func(*apigatewayv2.CreateRouteInput)) {
	t.Helper()
	in := &apigatewayv2.CreateRouteInput{ApiId: &apiID, RouteKey: &key, Target: &target}
	if mod != nil {
		mod(in)
	}
	if _, err := h.cl.CreateRoute(t.Context(), in); err != nil {
		t.Fatalf("CreateRoute %s: %v", key, err)
	}
}

func (h *harness) stage(t testing.TB, apiID, name string, mod func(*apigatewayv2.CreateStageInput)) {
	t.Helper()
	in := &apigatewayv2.CreateStageInput{ApiId: &apiID, StageName: &name, AutoDeploy: aws.Bool(true)}
	if mod != nil {
		mod(in)
	}
	if _, err := h.cl.CreateStage(t.Context(), in); err != nil {
		t.Fatalf("CreateStage %s: %v", name, err)
	}
}

func jget(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func wantMessage(t *testing.T, what string, r response, status int, msg string) {
	t.Helper()
	if r.status != status || r.body != `{"message":"`+msg+`"}` || r.header.Get("Apigw-Requestid") == "" {
		t.Errorf("%s: %d %s (apigw-requestid %q), want %d {\"message\":%q}", what, r.status, r.body, r.header.Get("Apigw-Requestid"), status, msg)
	}
}

// TestPayloadFormats: routes to functions with payload format 2.0 and
// 1.0, addressed by host name and by path, with path parameters, query
// strings, cookies, binary bodies and stage variables, and their answers
// mapped back.
func TestPayloadFormats(t *testing.T) {
	h := newHarness(t)
	id := h.api(t, "shop")
	anyRoute := "arn:aws:execute-api:us-east-1:" + account + ":" + id + "/*"
	h.function("items", anyRoute, func(ctx context.Context, ev []byte) (*invoke.Output, error) {
		b, _ := json.Marshal(map[string]any{"statusCode": 201, "headers": map[string]string{"x-fn": "items"}, "cookies": []string{"a=1", "b=2"}, "body": "created"})
		return &invoke.Output{Status: 200, Payload: b}, nil
	})
	h.function("catch", anyRoute, answer("plain string"))
	h.function("v1", anyRoute, answer(map[string]any{"statusCode": 202, "multiValueHeaders": map[string][]string{"x-multi": {"1", "2"}},
		"body": base64.StdEncoding.EncodeToString([]byte{0, 1, 2}), "isBase64Encoded": true}))
	h.route(t, id, "GET /items/{id}", h.integration(t, id, "items", "2.0", 30000), nil)
	h.route(t, id, "ANY /{proxy+}", h.integration(t, id, "catch", "2.0", 30000), nil)
	h.route(t, id, "POST /v1/echo", h.integration(t, id, "v1", "1.0", 30000), nil)
	h.stage(t, id, "prod", func(in *apigatewayv2.CreateStageInput) { in.StageVariables = map[string]string{"color": "blue"} })
	h.stage(t, id, "$default", nil)

	r := h.call(t, id, "GET", "/prod/items/42?a=1&a=2&b=x%20y", nil, map[string]string{"Cookie": "c1=v1; c2=v2", "X-Multi": "m"}, false)
	if r.status != 201 || r.body != "created" || r.header.Get("X-Fn") != "items" || len(r.header.Values("Set-Cookie")) != 2 {
		t.Fatalf("GET /prod/items/42: %d %q %v", r.status, r.body, r.header)
	}
	ev := h.fns.event(t, "items")
	checks := map[string][2]any{
		"version":               {jget(ev, "version"), "2.0"},
		"routeKey":              {jget(ev, "routeKey"), "GET /items/{id}"},
		"rawPath":               {jget(ev, "rawPath"), "/prod/items/42"},
		"rawQueryString":        {jget(ev, "rawQueryString"), "a=1&a=2&b=x%20y"},
		"queryStringParameters": {jget(ev, "queryStringParameters", "a"), "1,2"},
		"decoded query":         {jget(ev, "queryStringParameters", "b"), "x y"},
		"pathParameters":        {jget(ev, "pathParameters", "id"), "42"},
		"stageVariables":        {jget(ev, "stageVariables", "color"), "blue"},
		"header":                {jget(ev, "headers", "x-multi"), "m"},
		"accountId":             {jget(ev, "requestContext", "accountId"), account},
		"apiId":                 {jget(ev, "requestContext", "apiId"), id},
		"domainName":            {jget(ev, "requestContext", "domainName"), id + ".execute-api.us-east-1.localhost"},
		"domainPrefix":          {jget(ev, "requestContext", "domainPrefix"), id},
		"http.method":           {jget(ev, "requestContext", "http", "method"), "GET"},
		"http.path":             {jget(ev, "requestContext", "http", "path"), "/prod/items/42"},
		"stage":                 {jget(ev, "requestContext", "stage"), "prod"},
		"requestContext.route":  {jget(ev, "requestContext", "routeKey"), "GET /items/{id}"},
		"requestId":             {jget(ev, "requestContext", "requestId"), r.header.Get("Apigw-Requestid")},
		"time":                  {jget(ev, "requestContext", "time"), "05/Dec/2026:12:00:00 +0000"},
		"isBase64Encoded":       {jget(ev, "isBase64Encoded"), false},
	}
	for what, c := range checks {
		if c[0] != c[1] {
			t.Errorf("2.0 event %s = %v, want %v", what, c[0], c[1])
		}
	}
	if c, _ := jget(ev, "cookies").([]any); len(c) != 2 || c[0] != "c1=v1" {
		t.Errorf("cookies = %v", jget(ev, "cookies"))
	}

	// Path style reaches the same route; the $default stage needs no
	// stage segment.
	if r := h.call(t, id, "GET", "/prod/items/7", nil, nil, true); r.status != 201 || jget(h.fns.event(t, "items"), "pathParameters", "id") != "7" {
		t.Fatalf("path style: %d %s", r.status, r.body)
	}
	if r := h.call(t, id, "GET", "/items/8", nil, nil, false); r.status != 201 ||
		jget(h.fns.event(t, "items"), "requestContext", "stage") != "$default" || jget(h.fns.event(t, "items"), "rawPath") != "/items/8" {
		t.Fatalf("$default stage: %d %s %v", r.status, r.body, h.fns.event(t, "items"))
	}

	// A longer path goes to the greedy route; a binary body arrives in
	// base64; a plain string answer is a 200 JSON response.
	bin := []byte{0xff, 0x00, 0x10, 0x80}
	r = h.call(t, id, "PUT", "/prod/items/7/photo", strings.NewReader(string(bin)), map[string]string{"Content-Type": "application/octet-stream"}, false)
	if r.status != 200 || r.body != "plain string" || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("greedy route: %d %q %v", r.status, r.body, r.header)
	}
	ev = h.fns.event(t, "catch")
	if jget(ev, "pathParameters", "proxy") != "items/7/photo" || jget(ev, "isBase64Encoded") != true || jget(ev, "body") != base64.StdEncoding.EncodeToString(bin) {
		t.Errorf("catch-all event = %v", ev)
	}

	// Payload format 1.0.
	r = h.call(t, id, "POST", "/prod/v1/echo?x=1&x=2", strings.NewReader(`{"k":"v"}`), map[string]string{"Content-Type": "application/json"}, false)
	if r.status != 202 || r.body != "\x00\x01\x02" || strings.Join(r.header.Values("X-Multi"), ",") != "1,2" {
		t.Fatalf("1.0 route: %d %q %v", r.status, r.body, r.header)
	}
	ev = h.fns.event(t, "v1")
	for what, c := range map[string][2]any{
		"version":         {jget(ev, "version"), "1.0"},
		"resource":        {jget(ev, "resource"), "/v1/echo"},
		"path":            {jget(ev, "path"), "/prod/v1/echo"},
		"httpMethod":      {jget(ev, "httpMethod"), "POST"},
		"query":           {jget(ev, "queryStringParameters", "x"), "2"},
		"body":            {jget(ev, "body"), `{"k":"v"}`},
		"stage":           {jget(ev, "requestContext", "stage"), "prod"},
		"resourcePath":    {jget(ev, "requestContext", "resourcePath"), "/v1/echo"},
		"identity.source": {jget(ev, "requestContext", "identity", "sourceIp"), "127.0.0.1"},
		"pathParameters":  {jget(ev, "pathParameters"), nil},
	} {
		if c[0] != c[1] {
			t.Errorf("1.0 event %s = %v, want %v", what, c[0], c[1])
		}
	}
	if mv, _ := jget(ev, "multiValueQueryStringParameters", "x").([]any); len(mv) != 2 {
		t.Errorf("multiValueQueryStringParameters = %v", jget(ev, "multiValueQueryStringParameters"))
	}
	if _, ok := ev["multiValueHeaders"].(map[string]any); !ok {
		t.Errorf("multiValueHeaders = %v", ev["multiValueHeaders"])
	}
}

// TestErrors: API Gateway's own answers.
func TestErrors(t *testing.T) {
	h := newHarness(t)
	id := h.api(t, "errs")
	anyRoute := "arn:aws:execute-api:us-east-1:" + account + ":" + id + "/*"
	h.function("failing", anyRoute, func(context.Context, []byte) (*invoke.Output, error) {
		return &invoke.Output{Status: 200, FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"boom"}`)}, nil
	})
	h.function("strict", anyRoute, answer("not an object"))
	h.function("bad", anyRoute, answer(map[string]any{"statusCode": "abc"}))
	h.function("slow", anyRoute, func(ctx context.Context, _ []byte) (*invoke.Output, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	h.function("nopolicy", "", answer("never"))
	h.route(t, id, "GET /failing", h.integration(t, id, "failing", "2.0", 30000), nil)
	h.route(t, id, "GET /strict", h.integration(t, id, "strict", "1.0", 30000), nil)
	h.route(t, id, "GET /bad", h.integration(t, id, "bad", "2.0", 30000), nil)
	h.route(t, id, "GET /slow", h.integration(t, id, "slow", "2.0", 50), nil)
	h.route(t, id, "GET /nopolicy", h.integration(t, id, "nopolicy", "2.0", 30000), nil)
	h.route(t, id, "GET /gone", h.integration(t, id, "missing", "2.0", 30000), nil)
	h.stage(t, id, "$default", nil)

	wantMessage(t, "function error", h.call(t, id, "GET", "/failing", nil, nil, false), 500, "Internal Server Error")
	wantMessage(t, "1.0 answer without statusCode", h.call(t, id, "GET", "/strict", nil, nil, false), 500, "Internal Server Error")
	wantMessage(t, "2.0 answer with a bad statusCode", h.call(t, id, "GET", "/bad", nil, nil, false), 500, "Internal Server Error")
	wantMessage(t, "integration timeout", h.call(t, id, "GET", "/slow", nil, nil, false), 503, "Service Unavailable")
	wantMessage(t, "no permission", h.call(t, id, "GET", "/nopolicy", nil, nil, false), 500, "Internal Server Error")
	if n := h.fns.count("nopolicy"); n != 0 {
		t.Errorf("a function without permission ran %d times", n)
	}
	wantMessage(t, "function that does not exist", h.call(t, id, "GET", "/gone", nil, nil, false), 500, "Internal Server Error")
	wantMessage(t, "no route", h.call(t, id, "GET", "/nothing", nil, nil, false), 404, "Not Found")
	wantMessage(t, "no route for the method", h.call(t, id, "POST", "/failing", nil, nil, false), 404, "Not Found")
	wantMessage(t, "unknown API", h.call(t, "zzzzzzzzzz", "GET", "/failing", nil, nil, false), 404, "Not Found")
	wantMessage(t, "unknown API, path style", h.call(t, "zzzzzzzzzz", "GET", "/x", nil, nil, true), 404, "Not Found")
	// An API without a $default stage answers only under its stages.
	id2 := h.api(t, "staged")
	h.stage(t, id2, "prod", nil)
	wantMessage(t, "no such stage", h.call(t, id2, "GET", "/dev/x", nil, nil, false), 404, "Not Found")
}

// TestSourceArn: API Gateway invokes as apigateway.amazonaws.com with
// SourceArn API/STAGE/METHOD/ROUTE-PATH, so a permission for one route
// lets only that route through.
func TestSourceArn(t *testing.T) {
	h := newHarness(t)
	id := h.api(t, "perm")
	h.function("one", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/*/GET/items/{id}", answer("ok"))
	integ := h.integration(t, id, "one", "2.0", 30000)
	h.route(t, id, "GET /items/{id}", integ, nil)
	h.route(t, id, "GET /other/{id}", integ, nil)
	h.stage(t, id, "prod", nil)
	if r := h.call(t, id, "GET", "/prod/items/1", nil, nil, false); r.status != 200 || r.body != "ok" {
		t.Fatalf("permitted route: %d %s", r.status, r.body)
	}
	wantMessage(t, "route the permission does not name", h.call(t, id, "GET", "/prod/other/1", nil, nil, false), 500, "Internal Server Error")
}

// TestCORS: preflights are answered from the API's CorsConfiguration
// without a route; other answers carry its headers instead of the
// function's.
func TestCORS(t *testing.T) {
	h := newHarness(t)
	id := h.api(t, "cors")
	if _, err := h.cl.UpdateApi(t.Context(), &apigatewayv2.UpdateApiInput{ApiId: &id, CorsConfiguration: &types.Cors{
		AllowOrigins: []string{"https://app.example"}, AllowMethods: []string{"GET", "POST"}, AllowHeaders: []string{"content-type"}, MaxAge: aws.Int32(600)}}); err != nil {
		t.Fatal(err)
	}
	h.function("f", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/*", answer(map[string]any{"statusCode": 200,
		"headers": map[string]string{"access-control-allow-origin": "*"}, "body": "x"}))
	h.route(t, id, "GET /data", h.integration(t, id, "f", "2.0", 30000), nil)
	h.stage(t, id, "$default", nil)
	r := h.call(t, id, "OPTIONS", "/data", nil, map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}, false)
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" || r.header.Get("Access-Control-Allow-Methods") != "GET,POST" ||
		r.header.Get("Access-Control-Max-Age") != "600" {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
	if h.fns.count("f") != 0 {
		t.Fatal("a preflight invoked the function")
	}
	r = h.call(t, id, "GET", "/data", nil, map[string]string{"Origin": "https://app.example"}, false)
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("GET with Origin: %d %v", r.status, r.header)
	}
	r = h.call(t, id, "GET", "/data", nil, map[string]string{"Origin": "https://evil.example"}, false)
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("a foreign origin got %q", r.header.Get("Access-Control-Allow-Origin"))
	}
}

// TestThrottling: a stage's route settings bound the rate; the clock is
// injected, so the bucket refills only when the test says.
func TestThrottling(t *testing.T) {
	h := newHarness(t)
	id := h.api(t, "thr")
	h.function("f", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/*", answer("ok"))
	integ := h.integration(t, id, "f", "2.0", 30000)
	h.route(t, id, "GET /a", integ, nil)
	h.route(t, id, "GET /b", integ, nil)
	h.stage(t, id, "$default", func(in *apigatewayv2.CreateStageInput) {
		in.DefaultRouteSettings = &types.RouteSettings{ThrottlingBurstLimit: aws.Int32(2), ThrottlingRateLimit: aws.Float64(1)}
		in.RouteSettings = map[string]types.RouteSettings{"GET /b": {ThrottlingBurstLimit: aws.Int32(0), ThrottlingRateLimit: aws.Float64(0)}}
	})
	for i := range 2 {
		if r := h.call(t, id, "GET", "/a", nil, nil, false); r.status != 200 {
			t.Fatalf("request %d within the burst: %d %s", i, r.status, r.body)
		}
	}
	wantMessage(t, "over the burst", h.call(t, id, "GET", "/a", nil, nil, false), 429, "Too Many Requests")
	h.clock.add(time.Second)
	if r := h.call(t, id, "GET", "/a", nil, nil, false); r.status != 200 {
		t.Fatalf("after a second's refill: %d %s", r.status, r.body)
	}
	wantMessage(t, "a route throttled to zero", h.call(t, id, "GET", "/b", nil, nil, false), 429, "Too Many Requests")
}

// TestLambdaAuthorizer: a REQUEST authorizer with simple responses allows
// and denies by the identity source, its answers are cached for its TTL
// by identity source value, and its context reaches the integration.
func TestLambdaAuthorizer(t *testing.T) {
	h := newHarness(t)
	id := h.api(t, "authz")
	h.function("f", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/*", func(ctx context.Context, ev []byte) (*invoke.Output, error) {
		return &invoke.Output{Status: 200, Payload: []byte(`"ok"`)}, nil
	})
	h.function("auth", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/authorizers/*", func(ctx context.Context, ev []byte) (*invoke.Output, error) {
		var e struct {
			Type           string            `json:"type"`
			RouteArn       string            `json:"routeArn"`
			IdentitySource []string          `json:"identitySource"`
			Headers        map[string]string `json:"headers"`
		}
		json.Unmarshal(ev, &e)
		ok := e.Type == "REQUEST" && len(e.IdentitySource) == 1 && e.IdentitySource[0] == "Bearer good" &&
			strings.HasSuffix(e.RouteArn, ":"+id+"/$default/GET/secret")
		b, _ := json.Marshal(map[string]any{"isAuthorized": ok, "context": map[string]any{"user": "alice"}})
		return &invoke.Output{Status: 200, Payload: b}, nil
	})
	h.function("policy", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/authorizers/*", func(ctx context.Context, ev []byte) (*invoke.Output, error) {
		var e struct {
			RouteArn string `json:"routeArn"`
		}
		json.Unmarshal(ev, &e)
		b, _ := json.Marshal(map[string]any{"principalId": "bob", "policyDocument": map[string]any{"Version": "2012-10-17",
			"Statement": []map[string]any{{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:us-east-1:" + account + ":" + id + "/*/GET/open*"}}}})
		return &invoke.Output{Status: 200, Payload: b}, nil
	})
	simple, err := h.cl.CreateAuthorizer(t.Context(), &apigatewayv2.CreateAuthorizerInput{ApiId: &id, Name: aws.String("simple"), AuthorizerType: types.AuthorizerTypeRequest,
		AuthorizerUri: aws.String(fnARN("auth")), AuthorizerPayloadFormatVersion: aws.String("2.0"), EnableSimpleResponses: aws.Bool(true),
		IdentitySource: []string{"$request.header.Authorization"}, AuthorizerResultTtlInSeconds: aws.Int32(300)})
	if err != nil {
		t.Fatal(err)
	}
	iamAz, err := h.cl.CreateAuthorizer(t.Context(), &apigatewayv2.CreateAuthorizerInput{ApiId: &id, Name: aws.String("iam"), AuthorizerType: types.AuthorizerTypeRequest,
		AuthorizerUri: aws.String(fnARN("policy")), AuthorizerPayloadFormatVersion: aws.String("2.0"),
		IdentitySource: []string{"$request.header.X-Key"}, AuthorizerResultTtlInSeconds: aws.Int32(0)})
	if err != nil {
		t.Fatal(err)
	}
	integ := h.integration(t, id, "f", "2.0", 30000)
	custom := func(az *string) func(*apigatewayv2.CreateRouteInput) {
		return func(in *apigatewayv2.CreateRouteInput) {
			in.AuthorizationType, in.AuthorizerId = types.AuthorizationTypeCustom, az
		}
	}
	h.route(t, id, "GET /secret", integ, custom(simple.AuthorizerId))
	h.route(t, id, "GET /open", integ, custom(iamAz.AuthorizerId))
	h.route(t, id, "GET /closed", integ, custom(iamAz.AuthorizerId))
	h.stage(t, id, "$default", nil)

	wantMessage(t, "no identity source", h.call(t, id, "GET", "/secret", nil, nil, false), 401, "Unauthorized")
	if n := h.fns.count("auth"); n != 0 {
		t.Fatalf("the authorizer ran %d times for a request without its identity source", n)
	}
	wantMessage(t, "denied", h.call(t, id, "GET", "/secret", nil, map[string]string{"Authorization": "Bearer bad"}, false), 403, "Forbidden")
	if h.fns.count("f") != 0 {
		t.Fatal("a denied request reached the integration")
	}
	for i := range 2 {
		if r := h.call(t, id, "GET", "/secret", nil, map[string]string{"Authorization": "Bearer good"}, false); r.status != 200 {
			t.Fatalf("allowed request %d: %d %s", i, r.status, r.body)
		}
	}
	if got := jget(h.fns.event(t, "f"), "requestContext", "authorizer", "lambda", "user"); got != "alice" {
		t.Errorf("authorizer context in the event = %v", got)
	}
	if n := h.fns.count("auth"); n != 2 {
		t.Fatalf("authorizer calls = %d, want 2 (bad, then good once: cached)", n)
	}
	h.clock.add(301 * time.Second)
	h.call(t, id, "GET", "/secret", nil, map[string]string{"Authorization": "Bearer good"}, false)
	if n := h.fns.count("auth"); n != 3 {
		t.Fatalf("authorizer calls after the TTL = %d, want 3", n)
	}

	// A 1.0 authorizer: methodArn and a comma-joined identitySource in,
	// an IAM policy out, its principalId passed on.
	h.function("v1auth", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/authorizers/*", func(ctx context.Context, ev []byte) (*invoke.Output, error) {
		var e struct {
			Version, Type, MethodArn, IdentitySource string
		}
		json.Unmarshal(ev, &e)
		effect := "Deny"
		if e.Version == "1.0" && e.Type == "REQUEST" && e.IdentitySource == "k,v" {
			effect = "Allow"
		}
		b, _ := json.Marshal(map[string]any{"principalId": "carol", "policyDocument": map[string]any{"Version": "2012-10-17",
			"Statement": map[string]any{"Effect": effect, "Action": "execute-api:*", "Resource": e.MethodArn}}})
		return &invoke.Output{Status: 200, Payload: b}, nil
	})
	v1az, err := h.cl.CreateAuthorizer(t.Context(), &apigatewayv2.CreateAuthorizerInput{ApiId: &id, Name: aws.String("v1"), AuthorizerType: types.AuthorizerTypeRequest,
		AuthorizerUri: aws.String(fnARN("v1auth")), AuthorizerPayloadFormatVersion: aws.String("1.0"),
		IdentitySource: []string{"$request.header.X-Key", "$request.querystring.v"}, AuthorizerResultTtlInSeconds: aws.Int32(0)})
	if err != nil {
		t.Fatal(err)
	}
	h.route(t, id, "GET /legacy", integ, custom(v1az.AuthorizerId))
	if r := h.call(t, id, "GET", "/legacy?v=v", nil, map[string]string{"X-Key": "k"}, false); r.status != 200 {
		t.Fatalf("1.0 authorizer allows: %d %s", r.status, r.body)
	}
	if got := jget(h.fns.event(t, "f"), "requestContext", "authorizer", "lambda", "principalId"); got != "carol" {
		t.Errorf("principalId in the event = %v", got)
	}
	wantMessage(t, "1.0 authorizer denies", h.call(t, id, "GET", "/legacy?v=w", nil, map[string]string{"X-Key": "k"}, false), 403, "Forbidden")
	wantMessage(t, "1.0 authorizer without its query string", h.call(t, id, "GET", "/legacy", nil, map[string]string{"X-Key": "k"}, false), 401, "Unauthorized")

	// IAM policy answers: the policy allows GET /open* only.
	if r := h.call(t, id, "GET", "/open", nil, map[string]string{"X-Key": "k"}, false); r.status != 200 {
		t.Fatalf("policy allows: %d %s", r.status, r.body)
	}
	wantMessage(t, "policy does not allow", h.call(t, id, "GET", "/closed", nil, map[string]string{"X-Key": "k"}, false), 403, "Forbidden")
}

// TestIAMAuthorization: an AWS_IAM route takes requests signed for
// execute-api by a caller allowed execute-api:Invoke on the route's ARN.
func TestIAMAuthorization(t *testing.T) {
	h := newHarness(t)
	id := h.api(t, "iam")
	h.function("f", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/*", func(ctx context.Context, ev []byte) (*invoke.Output, error) {
		return &invoke.Output{Status: 200, Payload: []byte(`"ok"`)}, nil
	})
	integ := h.integration(t, id, "f", "2.0", 30000)
	iamRoute := func(in *apigatewayv2.CreateRouteInput) { in.AuthorizationType = types.AuthorizationTypeAwsIam }
	h.route(t, id, "POST /orders", integ, iamRoute)
	h.route(t, id, "POST /admin", integ, iamRoute)
	h.stage(t, id, "prod", nil)
	userARN := "arn:aws:iam::" + account + ":user/app"
	pol, err := iam.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:`+account+`:`+id+`/prod/POST/orders"}]}`, iam.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	h.dir.SetUser(awsproto.Identity{ARN: userARN, Account: account, UserID: "AIDAAPP"}, authz.Principal{Policies: []*iam.Policy{pol}})
	h.dir.SetAccessKey("AKIAAPPUSER000000001", "app-secret", userARN)

	send := func(path, service, key, secret string, body string) response {
		t.Helper()
		req, err := http.NewRequest("POST", h.srv.URL+"/execute-api/"+id+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if service != "" {
			sum := sha256.Sum256([]byte(body))
			if err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, req,
				hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{resp.StatusCode, resp.Header, string(b)}
	}
	if r := send("/prod/orders", "execute-api", "AKIAAPPUSER000000001", "app-secret", `{"n":1}`); r.status != 200 {
		t.Fatalf("allowed caller: %d %s", r.status, r.body)
	}
	if got := jget(h.fns.event(t, "f"), "requestContext", "authorizer", "iam", "userArn"); got != userARN {
		t.Errorf("requestContext.authorizer.iam.userArn = %v", got)
	}
	wantMessage(t, "unsigned", send("/prod/orders", "", "", "", `{}`), 403, "Forbidden")
	wantMessage(t, "not allowed on this route", send("/prod/admin", "execute-api", "AKIAAPPUSER000000001", "app-secret", `{}`), 403, "Forbidden")
	if r := send("/prod/orders", "execute-api", "AKIAAPPUSER000000001", "wrong-secret", `{}`); r.status != 403 || h.fns.count("f") != 1 {
		t.Errorf("bad signature: %d %s (%d invocations)", r.status, r.body, h.fns.count("f"))
	}
	if r := send("/prod/orders", "lambda", "AKIAAPPUSER000000001", "app-secret", `{}`); r.status != 403 || !strings.Contains(r.body, "execute-api") {
		t.Errorf("signed for another service: %d %s", r.status, r.body)
	}
	if r := send("/prod/admin", "execute-api", rootKey, rootSecret, `{}`); r.status != 200 {
		t.Errorf("the account root: %d %s", r.status, r.body)
	}
	if got := jget(h.fns.event(t, "f"), "requestContext", "authorizer", "iam", "userArn"); got != "arn:aws:iam::"+account+":root" {
		t.Errorf("the root's requestContext.authorizer.iam.userArn = %v", got)
	}
}
