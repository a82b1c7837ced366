package execute_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/registry"
	apigw "github.com/kumo-run/kumo/internal/services/apigateway"
	"github.com/kumo-run/kumo/internal/services/apigateway/execute"
	"github.com/kumo-run/kumo/internal/services/apigateway/restapi"
	lambdaapi "github.com/kumo-run/kumo/internal/services/lambda"
	"github.com/kumo-run/kumo/internal/store"
)

// restHarness serves the REST control plane and the data plane on one
// edge, functions behind the real InvokeGuard, and a canary draw that is
// an even, deterministic sequence (the golden-ratio sequence).
type restHarness struct {
	*harness
	rc    *apigateway.Client
	draws atomic.Uint64
	quals sync.Map // function name → last qualifier invoked
}

// qualifier is the qualifier name was last invoked with.
func (h *restHarness) qualifier(name string) string {
	v, _ := h.quals.Load(name)
	s, _ := v.(string)
	return s
}

// recorder records the qualifier of each invocation on its way to the
// functions.
type recorder struct{ h *restHarness }

func (r recorder) Invoke(ctx context.Context, in *invoke.Input) (*invoke.Output, error) {
	r.h.quals.Store(in.Ref.Name, in.Ref.Qualifier)
	return r.h.fns.Invoke(ctx, in)
}

func newRestHarness(t testing.TB) *restHarness {
	t.Helper()
	h := &restHarness{harness: &harness{fns: &functions{fns: map[string]fn{}, calls: map[string]int{}, last: map[string][]byte{}},
		policies: map[string][]registry.Statement{}, clock: newClock()}}
	ns, err := natsd.Start(natsd.Config{DataDir: t.TempDir(), Sync: natsd.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect("rest-test")
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
	st, err := apigw.Open(ctx, kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.dir = &authz.Static{}
	az := authz.New(authz.Config{Directory: h.dir, Region: "us-east-1"})
	guard := &lambdaapi.InvokeGuard{Invoker: recorder{h}, Authorizer: az, ARNs: registry.ARNs{Partition: "aws", Region: "us-east-1", Account: account},
		Policies: &authz.FunctionPolicies{Statements: func(name, qualifier string) []registry.Statement {
			h.pmu.Lock()
			defer h.pmu.Unlock()
			return h.policies[name]
		}}}
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	verifier := &awsproto.Verifier{Region: "us-east-1", Credentials: &token.Store{Issuer: is, RootKeyID: rootKey, RootSecret: rootSecret,
		Root: token.Root("aws", account), Keys: h.dir}}
	usage, err := restapi.OpenUsage(t.Context(), kv)
	if err != nil {
		t.Fatal(err)
	}
	ctl := restapi.New(restapi.Config{State: st, Usage: usage, Region: "us-east-1", Account: account, Authorizer: az})
	data := execute.New(execute.Config{State: st, Invoker: guard, Verifier: verifier, Authorizer: az, Region: "us-east-1", Account: account,
		Now: h.clock.now, APIKeys: usage, CanaryRandom: func() float64 {
			n := h.draws.Add(1)
			_, f := math.Modf(float64(n) * 0.6180339887498949)
			return f
		}})
	t.Cleanup(data.Close)
	h.data = data
	h.srv = httptest.NewServer(edge.New(edge.Config{
		Verifier: verifier,
		Routes: []edge.Route{data.Route(),
			{Name: "apigateway", Match: restapi.Matchers(),
				Scope: restapi.SigningName, Handler: ctl, Errors: restapi.Errors}},
	}))
	t.Cleanup(h.srv.Close)
	h.host = strings.TrimPrefix(h.srv.URL, "http://")
	h.rc = apigateway.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(rootKey, rootSecret, ""),
		HTTPClient: h.srv.Client(), RetryMaxAttempts: 1}, func(o *apigateway.Options) { o.BaseEndpoint = aws.String(h.srv.URL) })
	return h
}

func lambdaURI(fn string) string {
	return "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fnARN(fn) + "/invocations"
}

// resource adds a resource under parent and returns its id.
func (h *restHarness) resource(t testing.TB, apiID, parent, part string) string {
	t.Helper()
	out, err := h.rc.CreateResource(t.Context(), &apigateway.CreateResourceInput{RestApiId: &apiID, ParentId: &parent, PathPart: &part})
	if err != nil {
		t.Fatalf("CreateResource %s: %v", part, err)
	}
	return aws.ToString(out.Id)
}

// proxyMethod puts a method with an AWS_PROXY integration to uri.
func (h *restHarness) proxyMethod(t testing.TB, apiID, res, method, uri string, mod func(*apigateway.PutMethodInput)) {
	t.Helper()
	in := &apigateway.PutMethodInput{RestApiId: &apiID, ResourceId: &res, HttpMethod: &method, AuthorizationType: aws.String("NONE")}
	if mod != nil {
		mod(in)
	}
	if _, err := h.rc.PutMethod(t.Context(), in); err != nil {
		t.Fatalf("PutMethod: %v", err)
	}
	h.proxyIntegration(t, apiID, res, method, uri)
}

func (h *restHarness) proxyIntegration(t testing.TB, apiID, res, method, uri string) {
	t.Helper()
	if _, err := h.rc.PutIntegration(t.Context(), &apigateway.PutIntegrationInput{RestApiId: &apiID, ResourceId: &res, HttpMethod: &method,
		Type: types.IntegrationTypeAwsProxy, IntegrationHttpMethod: aws.String("POST"), Uri: aws.String(uri)}); err != nil {
		t.Fatalf("PutIntegration: %v", err)
	}
}

func (h *restHarness) restAPI(t testing.TB, binary ...string) (id, root string) {
	t.Helper()
	out, err := h.rc.CreateRestApi(t.Context(), &apigateway.CreateRestApiInput{Name: aws.String("r"), BinaryMediaTypes: binary})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Id), aws.ToString(out.RootResourceId)
}

func (h *restHarness) deploy(t testing.TB, apiID, stage string, vars map[string]string, canary *types.DeploymentCanarySettings) string {
	t.Helper()
	out, err := h.rc.CreateDeployment(t.Context(), &apigateway.CreateDeploymentInput{RestApiId: &apiID, StageName: &stage, Variables: vars, CanarySettings: canary})
	if err != nil {
		t.Fatalf("CreateDeployment: %v", err)
	}
	return aws.ToString(out.Id)
}

func wantREST(t *testing.T, what string, r response, status int, body string) {
	t.Helper()
	if r.status != status || r.body != body || len(r.header.Values("X-Amzn-Requestid")) != 1 || r.header.Get("X-Amz-Apigw-Id") == "" {
		t.Errorf("%s: %d %s (%v), want %d %s", what, r.status, r.body, r.header, status, body)
	}
}

// TestRESTProxy: a REST API with /items/{id} and a greedy /{proxy+}
// resource to functions: the payload 1.0 proxy event as REST APIs send
// it, by host name and path, binary bodies both ways, REST's own answers
// for unknown paths, malformed answers and missing permissions.
func TestRESTProxy(t *testing.T) {
	h := newRestHarness(t)
	id, root := h.restAPI(t, "image/png")
	anyARN := "arn:aws:execute-api:us-east-1:" + account + ":" + id + "/*"
	h.function("items", anyARN, answer(map[string]any{"statusCode": 201, "headers": map[string]string{"x-fn": "items"},
		"multiValueHeaders": map[string][]string{"x-multi": {"1", "2"}}, "body": "created"}))
	png := []byte{0x89, 'P', 'N', 'G', 0, 1, 2, 0xff}
	h.function("proxy", anyARN, answer(map[string]any{"statusCode": 200, "headers": map[string]string{"Content-Type": "image/png"},
		"body": base64.StdEncoding.EncodeToString(png), "isBase64Encoded": true}))
	h.function("bad", anyARN, answer(map[string]any{"body": "no status"}))
	h.function("extra", anyARN, answer(map[string]any{"statusCode": 200, "cookies": []string{"a=1"}}))
	h.function("nopolicy", "", answer(map[string]any{"statusCode": 200}))
	items := h.resource(t, id, root, "items")
	item := h.resource(t, id, items, "{id}")
	proxy := h.resource(t, id, root, "{proxy+}")
	h.proxyMethod(t, id, item, "GET", lambdaURI("items"), nil)
	h.proxyMethod(t, id, proxy, "ANY", lambdaURI("proxy"), nil)
	h.proxyMethod(t, id, h.resource(t, id, root, "bad"), "GET", lambdaURI("bad"), nil)
	h.proxyMethod(t, id, h.resource(t, id, root, "extra"), "GET", lambdaURI("extra"), nil)
	h.proxyMethod(t, id, h.resource(t, id, root, "nopolicy"), "GET", lambdaURI("nopolicy"), nil)
	h.deploy(t, id, "prod", map[string]string{"color": "blue"}, nil)

	for _, pathStyle := range []bool{false, true} {
		r := h.call(t, id, "GET", "/prod/items/42?a=1&a=2&b=x%20y", nil, map[string]string{"X-Custom": "c", "User-Agent": "ua/1"}, pathStyle)
		if r.status != 201 || r.body != "created" || r.header.Get("X-Fn") != "items" || len(r.header.Values("X-Multi")) != 2 ||
			r.header.Get("X-Amzn-Requestid") == "" || r.header.Get("X-Amz-Apigw-Id") == "" || r.header.Get("Apigw-Requestid") != "" {
			t.Fatalf("GET /prod/items/42 (path style %v): %d %q %v", pathStyle, r.status, r.body, r.header)
		}
		ev := h.fns.event(t, "items")
		checks := map[string][2]any{
			"resource":              {jget(ev, "resource"), "/items/{id}"},
			"path":                  {jget(ev, "path"), "/items/42"},
			"httpMethod":            {jget(ev, "httpMethod"), "GET"},
			"queryStringParameters": {jget(ev, "queryStringParameters", "a"), "2"},
			"decoded query":         {jget(ev, "queryStringParameters", "b"), "x y"},
			"pathParameters":        {jget(ev, "pathParameters", "id"), "42"},
			"stageVariables":        {jget(ev, "stageVariables", "color"), "blue"},
			"header":                {jget(ev, "headers", "X-Custom"), "c"},
			"body":                  {jget(ev, "body"), nil},
			"isBase64Encoded":       {jget(ev, "isBase64Encoded"), false},
			"ctx.resourcePath":      {jget(ev, "requestContext", "resourcePath"), "/items/{id}"},
			"ctx.resourceId":        {jget(ev, "requestContext", "resourceId"), item},
			"ctx.path":              {jget(ev, "requestContext", "path"), "/prod/items/42"},
			"ctx.stage":             {jget(ev, "requestContext", "stage"), "prod"},
			"ctx.apiId":             {jget(ev, "requestContext", "apiId"), id},
			"ctx.accountId":         {jget(ev, "requestContext", "accountId"), account},
			"ctx.domainName":        {jget(ev, "requestContext", "domainName"), id + ".execute-api.us-east-1.localhost"},
			"ctx.domainPrefix":      {jget(ev, "requestContext", "domainPrefix"), id},
			"ctx.httpMethod":        {jget(ev, "requestContext", "httpMethod"), "GET"},
			"ctx.extendedRequestId": {jget(ev, "requestContext", "extendedRequestId"), r.header.Get("X-Amz-Apigw-Id")},
			"ctx.identity.ua":       {jget(ev, "requestContext", "identity", "userAgent"), "ua/1"},
			"ctx.identity.sourceIp": {jget(ev, "requestContext", "identity", "sourceIp"), "127.0.0.1"},
			"ctx.requestTimeEpoch":  {jget(ev, "requestContext", "requestTimeEpoch"), float64(h.clock.now().UnixMilli())},
		}
		for name, c := range checks {
			if c[0] != c[1] {
				t.Errorf("path style %v: %s = %#v, want %#v", pathStyle, name, c[0], c[1])
			}
		}
		mv, _ := json.Marshal(jget(ev, "multiValueQueryStringParameters", "a"))
		if string(mv) != `["1","2"]` {
			t.Errorf("multiValueQueryStringParameters.a = %s", mv)
		}
		if _, ok := jget(ev, "requestContext", "identity").(map[string]any)["accessKey"]; !ok {
			t.Errorf("identity lacks its null members: %v", jget(ev, "requestContext", "identity"))
		}
		if v, _ := jget(ev, "requestContext", "requestId").(string); len(v) != 36 || v != r.header.Get("X-Amzn-Requestid") {
			t.Errorf("requestId %q, x-amzn-RequestId %q", v, r.header.Get("X-Amzn-Requestid"))
		}
		if jget(ev, "version") != nil {
			t.Errorf("a REST event has no version member: %v", jget(ev, "version"))
		}
	}

	// A binary body reaches the function base64-encoded; the function's
	// base64 answer is decoded for a client that accepts the binary type.
	r := h.call(t, id, "POST", "/prod/any/deep/path", bytes.NewReader(png), map[string]string{"Content-Type": "image/png", "Accept": "image/png"}, false)
	if r.status != 200 || r.body != string(png) || r.header.Get("Content-Type") != "image/png" {
		t.Fatalf("binary round trip: %d %q %v", r.status, r.body, r.header)
	}
	ev := h.fns.event(t, "proxy")
	if jget(ev, "isBase64Encoded") != true || jget(ev, "body") != base64.StdEncoding.EncodeToString(png) ||
		jget(ev, "pathParameters", "proxy") != "any/deep/path" || jget(ev, "resource") != "/{proxy+}" || jget(ev, "httpMethod") != "POST" {
		t.Fatalf("binary event: %v", ev)
	}
	// A text body is passed as text.
	h.call(t, id, "PUT", "/prod/any", strings.NewReader(`{"k":1}`), map[string]string{"Content-Type": "application/json"}, false)
	ev = h.fns.event(t, "proxy")
	if jget(ev, "isBase64Encoded") != false || jget(ev, "body") != `{"k":1}` {
		t.Fatalf("text event: %v", ev)
	}

	wantREST(t, "root without a method", h.call(t, id, "GET", "/prod/", nil, nil, false), 403, `{"message":"Missing Authentication Token"}`)
	wantREST(t, "unknown stage", h.call(t, id, "GET", "/dev/items/1", nil, nil, false), 403, `{"message":"Missing Authentication Token"}`)
	wantREST(t, "root, another method", h.call(t, id, "POST", "/prod", nil, nil, false), 403, `{"message":"Missing Authentication Token"}`)
	wantREST(t, "malformed answer", h.call(t, id, "GET", "/prod/bad", nil, nil, false), 502, `{"message":"Internal server error"}`)
	wantREST(t, "unknown member", h.call(t, id, "GET", "/prod/extra", nil, nil, false), 502, `{"message":"Internal server error"}`)
	wantREST(t, "no permission", h.call(t, id, "GET", "/prod/nopolicy", nil, nil, false), 500, `{"message":"Internal server error"}`)
	if n := h.fns.count("nopolicy"); n != 0 {
		t.Errorf("a function without a policy for API Gateway ran %d times", n)
	}
}

// TestRESTSourceArn: the function's policy sees
// API/STAGE/METHOD/RESOURCE-PATH.
func TestRESTSourceArn(t *testing.T) {
	h := newRestHarness(t)
	id, root := h.restAPI(t)
	h.function("fn", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/prod/GET/items/{id}", answer(map[string]any{"statusCode": 200, "body": "ok"}))
	item := h.resource(t, id, h.resource(t, id, root, "items"), "{id}")
	h.proxyMethod(t, id, item, "ANY", lambdaURI("fn"), nil)
	h.deploy(t, id, "prod", nil, nil)
	wantREST(t, "GET", h.call(t, id, "GET", "/prod/items/7", nil, nil, false), 200, "ok")
	wantREST(t, "POST", h.call(t, id, "POST", "/prod/items/7", nil, nil, false), 500, `{"message":"Internal server error"}`)
}

// TestRESTMock: MOCK integrations answer from their templates; a method
// that needs an API key is 403 Forbidden without a valid one and 429
// Limit Exceeded past its usage plan's daily quota.
func TestRESTMock(t *testing.T) {
	h := newRestHarness(t)
	ctx := t.Context()
	id, root := h.restAPI(t)
	for _, c := range []struct {
		part   string
		status string
		key    bool
	}{{"mock", "200", false}, {"keyed", "200", true}, {"teapot", "418", false}} {
		res := h.resource(t, id, root, c.part)
		if _, err := h.rc.PutMethod(ctx, &apigateway.PutMethodInput{RestApiId: &id, ResourceId: &res, HttpMethod: aws.String("GET"),
			AuthorizationType: aws.String("NONE"), ApiKeyRequired: c.key}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.rc.PutIntegration(ctx, &apigateway.PutIntegrationInput{RestApiId: &id, ResourceId: &res, HttpMethod: aws.String("GET"),
			Type: types.IntegrationTypeMock, RequestTemplates: map[string]string{"application/json": `{"statusCode": ` + c.status + `}`}}); err != nil {
			t.Fatal(err)
		}
		for _, code := range []string{"200", "418"} {
			if _, err := h.rc.PutMethodResponse(ctx, &apigateway.PutMethodResponseInput{RestApiId: &id, ResourceId: &res, HttpMethod: aws.String("GET"), StatusCode: aws.String(code)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := h.rc.PutIntegrationResponse(ctx, &apigateway.PutIntegrationResponseInput{RestApiId: &id, ResourceId: &res, HttpMethod: aws.String("GET"),
			StatusCode: aws.String("200"), ResponseTemplates: map[string]string{"application/json": `{"mock":"` + c.part + `"}`},
			ResponseParameters: map[string]string{"method.response.header.X-Mock": "'yes'"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.rc.PutIntegrationResponse(ctx, &apigateway.PutIntegrationResponseInput{RestApiId: &id, ResourceId: &res, HttpMethod: aws.String("GET"),
			StatusCode: aws.String("418"), SelectionPattern: aws.String("4\\d{2}"), ResponseTemplates: map[string]string{"application/json": `{"teapot":true}`}}); err != nil {
			t.Fatal(err)
		}
	}
	h.deploy(t, id, "prod", nil, nil)
	key, err := h.rc.CreateApiKey(ctx, &apigateway.CreateApiKeyInput{Name: aws.String("k"), Enabled: true, Value: aws.String("secret-key-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := h.rc.CreateUsagePlan(ctx, &apigateway.CreateUsagePlanInput{Name: aws.String("p"), ApiStages: []types.ApiStage{{ApiId: &id, Stage: aws.String("prod")}},
		Quota: &types.QuotaSettings{Limit: 2, Period: types.QuotaPeriodTypeDay}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.rc.CreateUsagePlanKey(ctx, &apigateway.CreateUsagePlanKeyInput{UsagePlanId: plan.Id, KeyId: key.Id, KeyType: aws.String("API_KEY")}); err != nil {
		t.Fatal(err)
	}
	r := h.call(t, id, "GET", "/prod/mock", nil, nil, false)
	wantREST(t, "mock", r, 200, `{"mock":"mock"}`)
	if r.header.Get("X-Mock") != "yes" {
		t.Errorf("mock header: %v", r.header)
	}
	wantREST(t, "selection pattern", h.call(t, id, "GET", "/prod/teapot", nil, nil, false), 418, `{"teapot":true}`)
	wantREST(t, "no key", h.call(t, id, "GET", "/prod/keyed", nil, nil, false), 403, `{"message":"Forbidden"}`)
	wantREST(t, "wrong key", h.call(t, id, "GET", "/prod/keyed", nil, map[string]string{"X-Api-Key": "nope"}, false), 403, `{"message":"Forbidden"}`)
	for i := 0; i < 2; i++ {
		wantREST(t, "key", h.call(t, id, "GET", "/prod/keyed", nil, map[string]string{"X-Api-Key": "secret-key-0123456789"}, false), 200, `{"mock":"keyed"}`)
	}
	wantREST(t, "quota", h.call(t, id, "GET", "/prod/keyed", nil, map[string]string{"X-Api-Key": "secret-key-0123456789"}, false), 429, `{"message":"Limit Exceeded"}`)
	// The next day the quota starts afresh.
	h.clock.add(24 * time.Hour)
	wantREST(t, "next day", h.call(t, id, "GET", "/prod/keyed", nil, map[string]string{"X-Api-Key": "secret-key-0123456789"}, false), 200, `{"mock":"keyed"}`)
}

// TestRESTCanary: a stage with a 25 % canary to a second deployment sends
// a quarter of 1,000 requests there, with the canary's stage variable
// overrides; after promotion every request goes to the new deployment.
func TestRESTCanary(t *testing.T) {
	h := newRestHarness(t)
	ctx := t.Context()
	id, root := h.restAPI(t)
	anyARN := "arn:aws:execute-api:us-east-1:" + account + ":" + id + "/*"
	for _, v := range []string{"v1", "v2"} {
		h.function(v, anyARN, func(_ context.Context, ev []byte) (*invoke.Output, error) {
			var e struct {
				StageVariables map[string]string `json:"stageVariables"`
			}
			json.Unmarshal(ev, &e)
			b, _ := json.Marshal(map[string]any{"statusCode": 200, "body": v + "/" + e.StageVariables["color"]})
			return &invoke.Output{Status: 200, Payload: b}, nil
		})
	}
	res := h.resource(t, id, root, "version")
	h.proxyMethod(t, id, res, "GET", lambdaURI("v1"), nil)
	h.deploy(t, id, "prod", map[string]string{"color": "blue"}, nil)
	h.proxyIntegration(t, id, res, "GET", lambdaURI("v2"))
	canary := h.deploy(t, id, "prod", nil, &types.DeploymentCanarySettings{PercentTraffic: 25, StageVariableOverrides: map[string]string{"color": "green"}})
	counts := map[string]int{}
	for i := 0; i < 1000; i++ {
		r := h.call(t, id, "GET", "/prod/version", nil, nil, false)
		if r.status != 200 {
			t.Fatalf("call %d: %d %s", i, r.status, r.body)
		}
		counts[r.body]++
	}
	if counts["v1/blue"]+counts["v2/green"] != 1000 {
		t.Fatalf("answers %v: want only v1/blue and v2/green", counts)
	}
	if n := counts["v2/green"]; n < 200 || n > 300 {
		t.Fatalf("canary share %d/1000, want 250 ± 50", n)
	}
	if _, err := h.rc.UpdateStage(ctx, &apigateway.UpdateStageInput{RestApiId: &id, StageName: aws.String("prod"), PatchOperations: []types.PatchOperation{
		{Op: types.OpReplace, Path: aws.String("/deploymentId"), Value: &canary}, {Op: types.OpRemove, Path: aws.String("/canarySettings")}}}); err != nil {
		t.Fatalf("promote: %v", err)
	}
	for i := 0; i < 100; i++ {
		if r := h.call(t, id, "GET", "/prod/version", nil, nil, false); r.body != "v2/blue" {
			t.Fatalf("after promotion call %d: %d %s", i, r.status, r.body)
		}
	}
}

// TestRESTStageVariableURI: an integration URI naming its alias by stage
// variable invokes the qualifier the stage gives it.
func TestRESTStageVariableURI(t *testing.T) {
	h := newRestHarness(t)
	id, root := h.restAPI(t)
	h.function("fn", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/*", func(ctx context.Context, ev []byte) (*invoke.Output, error) {
		return &invoke.Output{Status: 200, Payload: []byte(`{"statusCode":200,"body":"ok"}`)}, nil
	})
	h.pmu.Lock()
	h.policies["fn"][0].Resource = fnARN("fn") + ":live"
	h.pmu.Unlock()
	res := h.resource(t, id, root, "x")
	h.proxyMethod(t, id, res, "GET", "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"+fnARN("fn")+":${stageVariables.alias}/invocations", nil)
	h.deploy(t, id, "prod", map[string]string{"alias": "live"}, nil)
	wantREST(t, "alias", h.call(t, id, "GET", "/prod/x", nil, nil, false), 200, "ok")
	if q := h.qualifier("fn"); q != "live" {
		t.Fatalf("invoked qualifier %q, want live", q)
	}
}

// TestRESTTokenAuthorizer: a TOKEN authorizer is asked with the token and
// the method's ARN; no token is 401 without a call, a Deny is 403, an
// Allow passes its principal and context to the function; answers are
// cached by token for the TTL, the policy evaluated for each method.
func TestRESTTokenAuthorizer(t *testing.T) {
	h := newRestHarness(t)
	ctx := t.Context()
	id, root := h.restAPI(t)
	anyARN := "arn:aws:execute-api:us-east-1:" + account + ":" + id + "/*"
	h.function("auth", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/authorizers/*", func(_ context.Context, ev []byte) (*invoke.Output, error) {
		var e struct {
			Type, AuthorizationToken, MethodArn string
		}
		json.Unmarshal(ev, &e)
		effect := "Deny"
		if e.AuthorizationToken == "allow" && e.Type == "TOKEN" {
			effect = "Allow"
		}
		b, _ := json.Marshal(map[string]any{"principalId": "bob", "context": map[string]any{"tier": "gold"},
			"policyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": effect, "Action": "execute-api:Invoke",
				"Resource": "arn:aws:execute-api:us-east-1:" + account + ":" + id + "/prod/GET/*"}}}})
		return &invoke.Output{Status: 200, Payload: b}, nil
	})
	h.function("fn", anyARN, answer(map[string]any{"statusCode": 200, "body": "secret"}))
	au, err := h.rc.CreateAuthorizer(ctx, &apigateway.CreateAuthorizerInput{RestApiId: &id, Name: aws.String("tok"), Type: types.AuthorizerTypeToken,
		AuthorizerUri: aws.String(lambdaURI("auth")), IdentitySource: aws.String("method.request.header.Authorization"), AuthorizerResultTtlInSeconds: aws.Int32(60)})
	if err != nil {
		t.Fatal(err)
	}
	res := h.resource(t, id, root, "secure")
	for _, m := range []string{"GET", "POST"} {
		h.proxyMethod(t, id, res, m, lambdaURI("fn"), func(in *apigateway.PutMethodInput) {
			in.AuthorizationType, in.AuthorizerId = aws.String("CUSTOM"), au.Id
		})
	}
	h.deploy(t, id, "prod", nil, nil)

	wantREST(t, "no token", h.call(t, id, "GET", "/prod/secure", nil, nil, false), 401, `{"message":"Unauthorized"}`)
	if n := h.fns.count("auth"); n != 0 {
		t.Fatalf("authorizer called %d times without a token", n)
	}
	wantREST(t, "deny", h.call(t, id, "GET", "/prod/secure", nil, map[string]string{"Authorization": "deny"}, false), 403,
		`{"Message":"User is not authorized to access this resource"}`)
	wantREST(t, "allow", h.call(t, id, "GET", "/prod/secure", nil, map[string]string{"Authorization": "allow"}, false), 200, "secret")
	ev := h.fns.event(t, "auth")
	if jget(ev, "type") != "TOKEN" || jget(ev, "authorizationToken") != "allow" ||
		jget(ev, "methodArn") != "arn:aws:execute-api:us-east-1:"+account+":"+id+"/prod/GET/secure" {
		t.Fatalf("TOKEN event %v", ev)
	}
	fev := h.fns.event(t, "fn")
	if jget(fev, "requestContext", "authorizer", "principalId") != "bob" || jget(fev, "requestContext", "authorizer", "tier") != "gold" {
		t.Fatalf("authorizer context %v", jget(fev, "requestContext"))
	}
	calls := h.fns.count("auth")
	wantREST(t, "cached allow", h.call(t, id, "GET", "/prod/secure", nil, map[string]string{"Authorization": "allow"}, false), 200, "secret")
	// The cached policy allows GET only: POST is denied without a call.
	wantREST(t, "cached policy, other method", h.call(t, id, "POST", "/prod/secure", nil, map[string]string{"Authorization": "allow"}, false), 403,
		`{"Message":"User is not authorized to access this resource"}`)
	if n := h.fns.count("auth"); n != calls {
		t.Fatalf("authorizer called %d more times within its TTL", n-calls)
	}
	h.clock.add(61 * time.Second)
	wantREST(t, "after TTL", h.call(t, id, "GET", "/prod/secure", nil, map[string]string{"Authorization": "allow"}, false), 200, "secret")
	if n := h.fns.count("auth"); n != calls+1 {
		t.Fatalf("authorizer calls %d after its TTL, want %d", n, calls+1)
	}
}

// TestRESTRequestAuthorizer: a REQUEST authorizer gets the request's
// headers and query string; a missing identity source is 401.
func TestRESTRequestAuthorizer(t *testing.T) {
	h := newRestHarness(t)
	ctx := t.Context()
	id, root := h.restAPI(t)
	h.function("auth", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/authorizers/*", func(_ context.Context, ev []byte) (*invoke.Output, error) {
		var e struct {
			Type                  string            `json:"type"`
			MethodArn             string            `json:"methodArn"`
			QueryStringParameters map[string]string `json:"queryStringParameters"`
		}
		json.Unmarshal(ev, &e)
		effect := "Deny"
		if e.Type == "REQUEST" && e.QueryStringParameters["token"] == "ok" {
			effect = "Allow"
		}
		b, _ := json.Marshal(map[string]any{"principalId": "p", "policyDocument": map[string]any{"Statement": map[string]any{
			"Effect": effect, "Action": "execute-api:Invoke", "Resource": e.MethodArn}}})
		return &invoke.Output{Status: 200, Payload: b}, nil
	})
	h.function("fn", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/*", answer(map[string]any{"statusCode": 200, "body": "in"}))
	au, err := h.rc.CreateAuthorizer(ctx, &apigateway.CreateAuthorizerInput{RestApiId: &id, Name: aws.String("req"), Type: types.AuthorizerTypeRequest,
		AuthorizerUri: aws.String(lambdaURI("auth")), IdentitySource: aws.String("method.request.querystring.token"), AuthorizerResultTtlInSeconds: aws.Int32(0)})
	if err != nil {
		t.Fatal(err)
	}
	h.proxyMethod(t, id, h.resource(t, id, root, "r"), "GET", lambdaURI("fn"), func(in *apigateway.PutMethodInput) {
		in.AuthorizationType, in.AuthorizerId = aws.String("CUSTOM"), au.Id
	})
	h.deploy(t, id, "prod", nil, nil)
	wantREST(t, "missing source", h.call(t, id, "GET", "/prod/r", nil, nil, false), 401, `{"message":"Unauthorized"}`)
	wantREST(t, "deny", h.call(t, id, "GET", "/prod/r?token=no", nil, nil, false), 403, `{"Message":"User is not authorized to access this resource"}`)
	wantREST(t, "allow", h.call(t, id, "GET", "/prod/r?token=ok", nil, nil, false), 200, "in")
}

// BenchmarkServeREST is what the data plane adds to an invocation through
// a REST API: a GET to /items/{id} beside a /{proxy+} resource — the
// resource matched, the proxy event built, the function policy checked,
// the answer strictly mapped — with the function a no-op in process.
func BenchmarkServeREST(b *testing.B) {
	h := newRestHarness(b)
	id, root := h.restAPI(b)
	h.function("f", "arn:aws:execute-api:us-east-1:"+account+":"+id+"/*", answer(map[string]any{"statusCode": 200, "body": "ok"}))
	h.proxyMethod(b, id, h.resource(b, id, h.resource(b, id, root, "items"), "{id}"), "GET", lambdaURI("f"), nil)
	h.proxyMethod(b, id, h.resource(b, id, root, "{proxy+}"), "ANY", lambdaURI("f"), nil)
	h.deploy(b, id, "prod", nil, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := httptest.NewRequest("GET", "/prod/items/42?a=1&b=2", nil)
		r.Host = id + ".execute-api.us-east-1.localhost:9070"
		r.Header.Set("User-Agent", "bench")
		w := httptest.NewRecorder()
		h.data.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}
