package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/smithy-go"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/services/apigateway"
	"github.com/kumo-run/kumo/internal/services/apigateway/httpapi"
	"github.com/kumo-run/kumo/internal/store"
)

const (
	account    = "000000000000"
	rootKey    = "AKIAKUMOAPIGWTEST001"
	rootSecret = "kumo-apigw-test-secret-00000000000000000"
	fnARN      = "arn:aws:lambda:us-east-1:000000000000:function:fn"
)

type harness struct {
	dir  string
	ns   *natsd.Server
	st   *apigateway.State
	cl   *apigatewayv2.Client
	srv  *httptest.Server
	auth *authz.Static
	stop context.CancelFunc

	restartHook func()
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{dir: t.TempDir(), auth: &authz.Static{}}
	h.start(t)
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	az := authz.New(authz.Config{Directory: h.auth, Region: "us-east-1"})
	creds := &token.Store{Issuer: is, RootKeyID: rootKey, RootSecret: rootSecret, Root: token.Root("aws", account), Keys: h.auth}
	api := func() *httpapi.API {
		return httpapi.New(httpapi.Config{State: h.st, Region: "us-east-1", Account: account, Authorizer: az,
			EdgeURL: func() string { return "http://127.0.0.1:9070" }})
	}
	cur := api()
	h.srv = httptest.NewServer(edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: creds},
		Routes: []edge.Route{{Name: "apigatewayv2", Match: []edge.Matcher{{Service: httpapi.SigningName, PathPrefix: httpapi.PathPrefix}},
			Scope: httpapi.SigningName, Handler: handlerFunc(func() *httpapi.API { return cur }), Errors: httpapi.Errors}},
	}))
	t.Cleanup(h.srv.Close)
	h.restartHook = func() { cur = api() }
	h.cl = h.client(rootKey, rootSecret)
	t.Cleanup(h.close)
	return h
}

func (h *harness) client(key, secret string) *apigatewayv2.Client {
	return apigatewayv2.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient: h.srv.Client(), RetryMaxAttempts: 1}, func(o *apigatewayv2.Options) { o.BaseEndpoint = aws.String(h.srv.URL) })
}

func (h *harness) start(t *testing.T) {
	t.Helper()
	ns, err := natsd.Start(natsd.Config{DataDir: h.dir, Sync: natsd.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ns.Connect("apigw-test")
	if err != nil {
		t.Fatal(err)
	}
	js, err := store.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KV(context.Background(), natsd.APIGatewayBucket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := apigateway.Open(ctx, kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.ns, h.st, h.stop = ns, st, cancel
}

func (h *harness) close() {
	if h.ns != nil {
		h.stop()
		h.ns.Shutdown()
		h.ns = nil
	}
}

// restart stops NATS and opens the state again from disk, as a process
// restart does.
func (h *harness) restart(t *testing.T) {
	h.close()
	h.start(t)
	h.restartHook()
}

type handlerFunc func() *httpapi.API

func (f handlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) { f().ServeHTTP(w, r) }

func wantCode(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || msg != "" && ae.ErrorMessage() != msg {
		t.Fatalf("error %v, want %s %q", err, code, msg)
	}
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

var endpoint = regexp.MustCompile(`^http://([a-z0-9]{10})\.execute-api\.us-east-1\.localhost:9070$`)

func TestAPILifecycle(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	c := must[*apigatewayv2.CreateApiOutput](t, "CreateApi")(h.cl.CreateApi(ctx, &apigatewayv2.CreateApiInput{
		Name: aws.String("shop"), ProtocolType: types.ProtocolTypeHttp, Description: aws.String("d"),
		Tags:              map[string]string{"team": "a"},
		CorsConfiguration: &types.Cors{AllowOrigins: []string{"https://a.example"}, AllowMethods: []string{"GET"}, MaxAge: aws.Int32(60)},
	}))
	m := endpoint.FindStringSubmatch(aws.ToString(c.ApiEndpoint))
	if m == nil || m[1] != aws.ToString(c.ApiId) {
		t.Fatalf("ApiEndpoint %q, ApiId %q", aws.ToString(c.ApiEndpoint), aws.ToString(c.ApiId))
	}
	if aws.ToString(c.RouteSelectionExpression) != "${request.method} ${request.path}" || c.CreatedDate == nil || c.Tags["team"] != "a" ||
		c.CorsConfiguration == nil || aws.ToInt32(c.CorsConfiguration.MaxAge) != 60 {
		t.Errorf("CreateApi = %+v", c)
	}
	id := c.ApiId
	g := must[*apigatewayv2.GetApiOutput](t, "GetApi")(h.cl.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: id}))
	if aws.ToString(g.Name) != "shop" || g.ProtocolType != types.ProtocolTypeHttp || aws.ToString(g.Description) != "d" {
		t.Errorf("GetApi = %+v", g)
	}
	u := must[*apigatewayv2.UpdateApiOutput](t, "UpdateApi")(h.cl.UpdateApi(ctx, &apigatewayv2.UpdateApiInput{ApiId: id, Name: aws.String("shop2")}))
	if aws.ToString(u.Name) != "shop2" || aws.ToString(u.Description) != "d" {
		t.Errorf("UpdateApi changed what it was not given: %+v", u)
	}
	must[*apigatewayv2.DeleteCorsConfigurationOutput](t, "DeleteCorsConfiguration")(h.cl.DeleteCorsConfiguration(ctx, &apigatewayv2.DeleteCorsConfigurationInput{ApiId: id}))
	g = must[*apigatewayv2.GetApiOutput](t, "GetApi")(h.cl.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: id}))
	if g.CorsConfiguration != nil {
		t.Errorf("CORS configuration still there: %+v", g.CorsConfiguration)
	}
	// A second API, then paging through both.
	must[*apigatewayv2.CreateApiOutput](t, "CreateApi")(h.cl.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("b"), ProtocolType: types.ProtocolTypeHttp}))
	p1 := must[*apigatewayv2.GetApisOutput](t, "GetApis")(h.cl.GetApis(ctx, &apigatewayv2.GetApisInput{MaxResults: aws.String("1")}))
	if len(p1.Items) != 1 || p1.NextToken == nil {
		t.Fatalf("GetApis page 1 = %d items, token %v", len(p1.Items), p1.NextToken)
	}
	p2 := must[*apigatewayv2.GetApisOutput](t, "GetApis")(h.cl.GetApis(ctx, &apigatewayv2.GetApisInput{MaxResults: aws.String("1"), NextToken: p1.NextToken}))
	if len(p2.Items) != 1 || aws.ToString(p2.Items[0].ApiId) == aws.ToString(p1.Items[0].ApiId) {
		t.Fatalf("GetApis page 2 = %+v", p2.Items)
	}

	// Tags on the API.
	apiARN := "arn:aws:apigateway:us-east-1::/apis/" + aws.ToString(id)
	must[*apigatewayv2.TagResourceOutput](t, "TagResource")(h.cl.TagResource(ctx, &apigatewayv2.TagResourceInput{ResourceArn: &apiARN, Tags: map[string]string{"env": "dev"}}))
	must[*apigatewayv2.UntagResourceOutput](t, "UntagResource")(h.cl.UntagResource(ctx, &apigatewayv2.UntagResourceInput{ResourceArn: &apiARN, TagKeys: []string{"team"}}))
	tags := must[*apigatewayv2.GetTagsOutput](t, "GetTags")(h.cl.GetTags(ctx, &apigatewayv2.GetTagsInput{ResourceArn: &apiARN}))
	if len(tags.Tags) != 1 || tags.Tags["env"] != "dev" {
		t.Errorf("tags = %v", tags.Tags)
	}

	// Survives a restart: the state is in the bucket.
	h.restart(t)
	g = must[*apigatewayv2.GetApiOutput](t, "GetApi after restart")(h.cl.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: id}))
	if aws.ToString(g.Name) != "shop2" || g.Tags["env"] != "dev" {
		t.Errorf("after restart: %+v", g)
	}

	must[*apigatewayv2.DeleteApiOutput](t, "DeleteApi")(h.cl.DeleteApi(ctx, &apigatewayv2.DeleteApiInput{ApiId: id}))
	_, err := h.cl.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: id})
	wantCode(t, err, "NotFoundException", "Invalid API identifier specified "+account+":"+aws.ToString(id))
	_, err = h.cl.DeleteApi(ctx, &apigatewayv2.DeleteApiInput{ApiId: id})
	wantCode(t, err, "NotFoundException", "")
}

func TestValidation(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	_, err := h.cl.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("x"), ProtocolType: "SOAP"})
	wantCode(t, err, "BadRequestException", "")
	_, err = h.cl.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("x"), ProtocolType: types.ProtocolTypeHttp,
		CorsConfiguration: &types.Cors{AllowOrigins: []string{"*"}, AllowCredentials: aws.Bool(true)}})
	wantCode(t, err, "BadRequestException", "")
	_, err = h.cl.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("x"), ProtocolType: types.ProtocolTypeHttp, Target: aws.String("not-an-arn")})
	wantCode(t, err, "BadRequestException", "")
	if n := len(h.st.List()); n != 0 {
		t.Fatalf("refused requests left %d APIs", n)
	}
	api := must[*apigatewayv2.CreateApiOutput](t, "CreateApi")(h.cl.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("v"), ProtocolType: types.ProtocolTypeHttp}))
	id := api.ApiId
	for _, tc := range []struct {
		name string
		in   apigatewayv2.CreateIntegrationInput
	}{
		{"timeout over 30 s", apigatewayv2.CreateIntegrationInput{IntegrationType: types.IntegrationTypeAwsProxy, IntegrationUri: aws.String(fnARN), PayloadFormatVersion: aws.String("2.0"), TimeoutInMillis: aws.Int32(30001)}},
		{"timeout under 50 ms", apigatewayv2.CreateIntegrationInput{IntegrationType: types.IntegrationTypeAwsProxy, IntegrationUri: aws.String(fnARN), PayloadFormatVersion: aws.String("2.0"), TimeoutInMillis: aws.Int32(49)}},
		{"payload format 3.0", apigatewayv2.CreateIntegrationInput{IntegrationType: types.IntegrationTypeAwsProxy, IntegrationUri: aws.String(fnARN), PayloadFormatVersion: aws.String("3.0")}},
		{"no payload format", apigatewayv2.CreateIntegrationInput{IntegrationType: types.IntegrationTypeAwsProxy, IntegrationUri: aws.String(fnARN)}},
		{"not a function", apigatewayv2.CreateIntegrationInput{IntegrationType: types.IntegrationTypeAwsProxy, IntegrationUri: aws.String("arn:aws:sqs:us-east-1:000000000000:q"), PayloadFormatVersion: aws.String("2.0")}},
		{"HTTP_PROXY", apigatewayv2.CreateIntegrationInput{IntegrationType: types.IntegrationTypeHttpProxy, IntegrationUri: aws.String("https://example.com"), PayloadFormatVersion: aws.String("1.0")}},
	} {
		in := tc.in
		in.ApiId = id
		_, err := h.cl.CreateIntegration(ctx, &in)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "BadRequestException" {
			t.Errorf("%s: %v, want BadRequestException", tc.name, err)
		}
	}
	for _, key := range []string{"GET items", "FETCH /items", "GET /a//b", "GET /{proxy+}/x", "GET /{a}/{a}", "GET /a{b}"} {
		_, err := h.cl.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: id, RouteKey: aws.String(key)})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "BadRequestException" {
			t.Errorf("route key %q: %v, want BadRequestException", key, err)
		}
	}
	d, _ := h.st.Get(aws.ToString(id))
	if len(d.Integrations) != 0 || len(d.Routes) != 0 {
		t.Fatalf("refused requests changed the API: %d integrations, %d routes", len(d.Integrations), len(d.Routes))
	}
	must[*apigatewayv2.CreateRouteOutput](t, "CreateRoute")(h.cl.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: id, RouteKey: aws.String("GET /items")}))
	_, err = h.cl.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: id, RouteKey: aws.String("GET /items")})
	wantCode(t, err, "ConflictException", "")
	_, err = h.cl.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: id, RouteKey: aws.String("GET /x"), Target: aws.String("integrations/nope123")})
	wantCode(t, err, "BadRequestException", "")
	_, err = h.cl.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: id, RouteKey: aws.String("GET /y"), AuthorizationType: types.AuthorizationTypeCustom})
	wantCode(t, err, "BadRequestException", "")
	_, err = h.cl.GetRoute(ctx, &apigatewayv2.GetRouteInput{ApiId: id, RouteId: aws.String("nope123")})
	wantCode(t, err, "NotFoundException", "")
	_, err = h.cl.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: id, StageName: aws.String("bad name")})
	wantCode(t, err, "BadRequestException", "")
	_, err = h.cl.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: id, StageName: aws.String("s"), StageVariables: map[string]string{"bad-name": "v"}})
	wantCode(t, err, "BadRequestException", "")
	_, err = h.cl.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: id, StageName: aws.String("s"), DeploymentId: aws.String("nope123")})
	wantCode(t, err, "NotFoundException", "")
	_, err = h.cl.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: aws.String("nope123456"), RouteKey: aws.String("GET /z")})
	wantCode(t, err, "NotFoundException", "")
}

// TestQuickCreate: CreateApi with Target makes the integration, the
// $default route and an auto-deployed $default stage, as AWS does.
func TestQuickCreate(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	api := must[*apigatewayv2.CreateApiOutput](t, "CreateApi")(h.cl.CreateApi(ctx, &apigatewayv2.CreateApiInput{
		Name: aws.String("quick"), ProtocolType: types.ProtocolTypeHttp, Target: aws.String(fnARN)}))
	id := api.ApiId
	routes := must[*apigatewayv2.GetRoutesOutput](t, "GetRoutes")(h.cl.GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: id}))
	integs := must[*apigatewayv2.GetIntegrationsOutput](t, "GetIntegrations")(h.cl.GetIntegrations(ctx, &apigatewayv2.GetIntegrationsInput{ApiId: id}))
	stages := must[*apigatewayv2.GetStagesOutput](t, "GetStages")(h.cl.GetStages(ctx, &apigatewayv2.GetStagesInput{ApiId: id}))
	if len(routes.Items) != 1 || aws.ToString(routes.Items[0].RouteKey) != "$default" || !aws.ToBool(routes.Items[0].ApiGatewayManaged) {
		t.Fatalf("routes = %+v", routes.Items)
	}
	if len(integs.Items) != 1 || aws.ToString(integs.Items[0].PayloadFormatVersion) != "2.0" || integs.Items[0].IntegrationType != types.IntegrationTypeAwsProxy ||
		aws.ToString(integs.Items[0].IntegrationUri) != fnARN || aws.ToInt32(integs.Items[0].TimeoutInMillis) != 30000 {
		t.Fatalf("integrations = %+v", integs.Items)
	}
	if aws.ToString(routes.Items[0].Target) != "integrations/"+aws.ToString(integs.Items[0].IntegrationId) {
		t.Errorf("route target %q", aws.ToString(routes.Items[0].Target))
	}
	if len(stages.Items) != 1 || aws.ToString(stages.Items[0].StageName) != "$default" || !aws.ToBool(stages.Items[0].AutoDeploy) || stages.Items[0].DeploymentId == nil {
		t.Fatalf("stages = %+v", stages.Items)
	}
	dep := must[*apigatewayv2.GetDeploymentOutput](t, "GetDeployment")(h.cl.GetDeployment(ctx, &apigatewayv2.GetDeploymentInput{ApiId: id, DeploymentId: stages.Items[0].DeploymentId}))
	if !aws.ToBool(dep.AutoDeployed) || dep.DeploymentStatus != types.DeploymentStatusDeployed {
		t.Errorf("deployment = %+v", dep)
	}
	l, ok := h.st.Live(aws.ToString(id))
	if !ok || l.Stages["$default"].Router == nil {
		t.Fatal("the data plane has no router for the $default stage")
	}
	if b, _, ok := l.Stages["$default"].Router.Match("POST", "/any/thing"); !ok || b.Integration == nil {
		t.Fatal("the $default route does not take every request")
	}
}

// TestStagesAndDeployments: a named stage serves its deployment; an
// auto-deployed stage follows every change; deployments in use cannot be
// deleted.
func TestStagesAndDeployments(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	id := must[*apigatewayv2.CreateApiOutput](t, "CreateApi")(h.cl.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("s"), ProtocolType: types.ProtocolTypeHttp})).ApiId
	integ := must[*apigatewayv2.CreateIntegrationOutput](t, "CreateIntegration")(h.cl.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: id,
		IntegrationType: types.IntegrationTypeAwsProxy, PayloadFormatVersion: aws.String("1.0"), TimeoutInMillis: aws.Int32(5000),
		IntegrationUri: aws.String("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fnARN + ":live/invocations")}))
	if aws.ToString(integ.IntegrationMethod) != "POST" || aws.ToString(integ.PayloadFormatVersion) != "1.0" || aws.ToInt32(integ.TimeoutInMillis) != 5000 {
		t.Errorf("integration = %+v", integ)
	}
	target := aws.String("integrations/" + aws.ToString(integ.IntegrationId))
	r1 := must[*apigatewayv2.CreateRouteOutput](t, "CreateRoute")(h.cl.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: id, RouteKey: aws.String("GET /items/{id}"), Target: target}))
	if r1.AuthorizationType != types.AuthorizationTypeNone {
		t.Errorf("route authorization type %q", r1.AuthorizationType)
	}
	_, err := h.cl.DeleteIntegration(ctx, &apigatewayv2.DeleteIntegrationInput{ApiId: id, IntegrationId: integ.IntegrationId})
	wantCode(t, err, "ConflictException", "")

	dep := must[*apigatewayv2.CreateDeploymentOutput](t, "CreateDeployment")(h.cl.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: id, Description: aws.String("v1")}))
	st := must[*apigatewayv2.CreateStageOutput](t, "CreateStage")(h.cl.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: id, StageName: aws.String("prod"),
		DeploymentId: dep.DeploymentId, StageVariables: map[string]string{"color": "blue"},
		DefaultRouteSettings: &types.RouteSettings{ThrottlingBurstLimit: aws.Int32(5), ThrottlingRateLimit: aws.Float64(10)}}))
	if aws.ToString(st.DeploymentId) != aws.ToString(dep.DeploymentId) || st.StageVariables["color"] != "blue" || aws.ToInt32(st.DefaultRouteSettings.ThrottlingBurstLimit) != 5 {
		t.Errorf("stage = %+v", st)
	}
	// A route added after the deployment is not served by prod until
	// the next deployment.
	must[*apigatewayv2.CreateRouteOutput](t, "CreateRoute")(h.cl.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: id, RouteKey: aws.String("POST /orders"), Target: target}))
	l, _ := h.st.Live(aws.ToString(id))
	if _, _, ok := l.Stages["prod"].Router.Match("POST", "/orders"); ok {
		t.Fatal("prod serves a route that was never deployed to it")
	}
	if b, p, ok := l.Stages["prod"].Router.Match("GET", "/items/42"); !ok || p["id"] != "42" || b.Integration == nil {
		t.Fatalf("prod does not serve GET /items/{id}: %v %v", ok, p)
	}
	_, err = h.cl.DeleteDeployment(ctx, &apigatewayv2.DeleteDeploymentInput{ApiId: id, DeploymentId: dep.DeploymentId})
	wantCode(t, err, "BadRequestException", "")
	dep2 := must[*apigatewayv2.CreateDeploymentOutput](t, "CreateDeployment")(h.cl.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: id, StageName: aws.String("prod")}))
	l, _ = h.st.Live(aws.ToString(id))
	if _, _, ok := l.Stages["prod"].Router.Match("POST", "/orders"); !ok {
		t.Fatal("prod does not serve POST /orders after its deployment")
	}
	must[*apigatewayv2.DeleteDeploymentOutput](t, "DeleteDeployment")(h.cl.DeleteDeployment(ctx, &apigatewayv2.DeleteDeploymentInput{ApiId: id, DeploymentId: dep.DeploymentId}))
	deps := must[*apigatewayv2.GetDeploymentsOutput](t, "GetDeployments")(h.cl.GetDeployments(ctx, &apigatewayv2.GetDeploymentsInput{ApiId: id}))
	if len(deps.Items) != 1 || aws.ToString(deps.Items[0].DeploymentId) != aws.ToString(dep2.DeploymentId) {
		t.Errorf("deployments = %+v", deps.Items)
	}
	if _, ok := h.st.Snapshot(aws.ToString(id), aws.ToString(dep.DeploymentId)); ok {
		t.Error("the deleted deployment's snapshot is still stored")
	}

	// An auto-deployed stage follows every change.
	must[*apigatewayv2.CreateStageOutput](t, "CreateStage")(h.cl.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: id, StageName: aws.String("$default"), AutoDeploy: aws.Bool(true)}))
	r3 := must[*apigatewayv2.CreateRouteOutput](t, "CreateRoute")(h.cl.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: id, RouteKey: aws.String("ANY /{proxy+}"), Target: target}))
	l, _ = h.st.Live(aws.ToString(id))
	if b, p, ok := l.Stages["$default"].Router.Match("DELETE", "/a/b/c"); !ok || p["proxy"] != "a/b/c" || b.Route.RouteKey != "ANY /{proxy+}" {
		t.Fatalf("$default does not serve the new route: %v %v", ok, p)
	}
	u := must[*apigatewayv2.UpdateRouteOutput](t, "UpdateRoute")(h.cl.UpdateRoute(ctx, &apigatewayv2.UpdateRouteInput{ApiId: id, RouteId: r3.RouteId, RouteKey: aws.String("ANY /v2/{proxy+}")}))
	if aws.ToString(u.RouteKey) != "ANY /v2/{proxy+}" || aws.ToString(u.Target) != aws.ToString(target) {
		t.Errorf("UpdateRoute = %+v", u)
	}
	l, _ = h.st.Live(aws.ToString(id))
	if _, _, ok := l.Stages["$default"].Router.Match("DELETE", "/a/b/c"); ok {
		t.Fatal("the $default stage still serves the old route key")
	}
	dd := must[*apigatewayv2.GetDeploymentsOutput](t, "GetDeployments")(h.cl.GetDeployments(ctx, &apigatewayv2.GetDeploymentsInput{ApiId: id}))
	if len(dd.Items) != 2 {
		t.Errorf("%d deployments kept; superseded auto-deployments should be gone: %+v", len(dd.Items), dd.Items)
	}
	us := must[*apigatewayv2.UpdateStageOutput](t, "UpdateStage")(h.cl.UpdateStage(ctx, &apigatewayv2.UpdateStageInput{ApiId: id, StageName: aws.String("prod"),
		StageVariables: map[string]string{"size": "L"}, RouteSettings: map[string]types.RouteSettings{"GET /items/{id}": {ThrottlingBurstLimit: aws.Int32(1), ThrottlingRateLimit: aws.Float64(1)}}}))
	if us.StageVariables["color"] != "blue" || us.StageVariables["size"] != "L" || aws.ToInt32(us.RouteSettings["GET /items/{id}"].ThrottlingBurstLimit) != 1 {
		t.Errorf("UpdateStage = %+v", us)
	}
	stageARN := "arn:aws:apigateway:us-east-1::/apis/" + aws.ToString(id) + "/stages/prod"
	must[*apigatewayv2.TagResourceOutput](t, "TagResource stage")(h.cl.TagResource(ctx, &apigatewayv2.TagResourceInput{ResourceArn: &stageARN, Tags: map[string]string{"k": "v"}}))
	gs := must[*apigatewayv2.GetStageOutput](t, "GetStage")(h.cl.GetStage(ctx, &apigatewayv2.GetStageInput{ApiId: id, StageName: aws.String("prod")}))
	if gs.Tags["k"] != "v" {
		t.Errorf("stage tags = %v", gs.Tags)
	}
	must[*apigatewayv2.DeleteStageOutput](t, "DeleteStage")(h.cl.DeleteStage(ctx, &apigatewayv2.DeleteStageInput{ApiId: id, StageName: aws.String("prod")}))
	_, err = h.cl.GetStage(ctx, &apigatewayv2.GetStageInput{ApiId: id, StageName: aws.String("prod")})
	wantCode(t, err, "NotFoundException", "")
	must[*apigatewayv2.DeleteRouteOutput](t, "DeleteRoute")(h.cl.DeleteRoute(ctx, &apigatewayv2.DeleteRouteInput{ApiId: id, RouteId: r1.RouteId}))
	_, err = h.cl.GetRoute(ctx, &apigatewayv2.GetRouteInput{ApiId: id, RouteId: r1.RouteId})
	wantCode(t, err, "NotFoundException", "")
}

func TestAuthorizers(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	id := must[*apigatewayv2.CreateApiOutput](t, "CreateApi")(h.cl.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("a"), ProtocolType: types.ProtocolTypeHttp})).ApiId
	az := must[*apigatewayv2.CreateAuthorizerOutput](t, "CreateAuthorizer")(h.cl.CreateAuthorizer(ctx, &apigatewayv2.CreateAuthorizerInput{ApiId: id,
		Name: aws.String("lam"), AuthorizerType: types.AuthorizerTypeRequest, AuthorizerUri: aws.String(fnARN),
		AuthorizerPayloadFormatVersion: aws.String("2.0"), EnableSimpleResponses: aws.Bool(true), IdentitySource: []string{"$request.header.Authorization"}}))
	if aws.ToInt32(az.AuthorizerResultTtlInSeconds) != 300 {
		t.Errorf("default TTL %d", aws.ToInt32(az.AuthorizerResultTtlInSeconds))
	}
	_, err := h.cl.CreateAuthorizer(ctx, &apigatewayv2.CreateAuthorizerInput{ApiId: id, Name: aws.String("bad"), AuthorizerType: types.AuthorizerTypeRequest,
		AuthorizerUri: aws.String(fnARN), AuthorizerPayloadFormatVersion: aws.String("1.0"), EnableSimpleResponses: aws.Bool(true), IdentitySource: []string{"$request.header.A"}})
	wantCode(t, err, "BadRequestException", "")
	_, err = h.cl.CreateAuthorizer(ctx, &apigatewayv2.CreateAuthorizerInput{ApiId: id, Name: aws.String("bad2"), AuthorizerType: types.AuthorizerTypeRequest,
		AuthorizerUri: aws.String(fnARN), AuthorizerPayloadFormatVersion: aws.String("2.0"), IdentitySource: []string{"header.A"}})
	wantCode(t, err, "BadRequestException", "")
	rt := must[*apigatewayv2.CreateRouteOutput](t, "CreateRoute")(h.cl.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: id, RouteKey: aws.String("GET /secret"),
		AuthorizationType: types.AuthorizationTypeCustom, AuthorizerId: az.AuthorizerId}))
	if aws.ToString(rt.AuthorizerId) != aws.ToString(az.AuthorizerId) {
		t.Errorf("route = %+v", rt)
	}
	_, err = h.cl.DeleteAuthorizer(ctx, &apigatewayv2.DeleteAuthorizerInput{ApiId: id, AuthorizerId: az.AuthorizerId})
	wantCode(t, err, "ConflictException", "")
	ua := must[*apigatewayv2.UpdateAuthorizerOutput](t, "UpdateAuthorizer")(h.cl.UpdateAuthorizer(ctx, &apigatewayv2.UpdateAuthorizerInput{ApiId: id, AuthorizerId: az.AuthorizerId, AuthorizerResultTtlInSeconds: aws.Int32(0)}))
	if aws.ToInt32(ua.AuthorizerResultTtlInSeconds) != 0 || aws.ToString(ua.Name) != "lam" {
		t.Errorf("UpdateAuthorizer = %+v", ua)
	}
	list := must[*apigatewayv2.GetAuthorizersOutput](t, "GetAuthorizers")(h.cl.GetAuthorizers(ctx, &apigatewayv2.GetAuthorizersInput{ApiId: id}))
	if len(list.Items) != 1 {
		t.Errorf("authorizers = %+v", list.Items)
	}
	must[*apigatewayv2.UpdateRouteOutput](t, "UpdateRoute")(h.cl.UpdateRoute(ctx, &apigatewayv2.UpdateRouteInput{ApiId: id, RouteId: rt.RouteId, AuthorizationType: types.AuthorizationTypeNone}))
	must[*apigatewayv2.DeleteAuthorizerOutput](t, "DeleteAuthorizer")(h.cl.DeleteAuthorizer(ctx, &apigatewayv2.DeleteAuthorizerInput{ApiId: id, AuthorizerId: az.AuthorizerId}))
}

// TestAccessDenied: an IAM user needs apigateway:<METHOD> on the path's
// resource.
func TestAccessDenied(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	userARN := "arn:aws:iam::" + account + ":user/dev"
	pol, err := iam.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"apigateway:GET","Resource":"arn:aws:apigateway:us-east-1::/apis"}]}`, iam.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	h.auth.SetUser(awsproto.Identity{ARN: userARN, Account: account, UserID: "AIDADEV"}, authz.Principal{Policies: []*iam.Policy{pol}})
	h.auth.SetAccessKey("AKIADEVUSER000000001", "dev-secret", userARN)
	dev := h.client("AKIADEVUSER000000001", "dev-secret")
	if _, err := dev.GetApis(ctx, &apigatewayv2.GetApisInput{}); err != nil {
		t.Fatalf("GetApis allowed by policy: %v", err)
	}
	_, err = dev.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("x"), ProtocolType: types.ProtocolTypeHttp})
	wantCode(t, err, "AccessDeniedException", "")
	if n := len(h.st.List()); n != 0 {
		t.Fatalf("a denied CreateApi made %d APIs", n)
	}
}

const definition = `openapi: "3.0.1"
info:
  title: petstore
  version: "1.0"
x-amazon-apigateway-cors:
  allowOrigins: ["https://pets.example"]
  allowMethods: ["GET"]
components:
  securitySchemes:
    gate:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authorizer:
        type: request
        authorizerUri: ` + fnARN + `
        authorizerPayloadFormatVersion: "2.0"
        enableSimpleResponses: true
        identitySource: "$request.header.Authorization"
    sigv4:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: awsSigv4
paths:
  /pets/{id}:
    get:
      operationId: getPet
      security:
        - gate: []
      x-amazon-apigateway-integration:
        type: aws_proxy
        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/` + fnARN + `/invocations
        httpMethod: POST
        payloadFormatVersion: "1.0"
        timeoutInMillis: 10000
  /admin:
    x-amazon-apigateway-any-method:
      security:
        - sigv4: []
      x-amazon-apigateway-integration:
        type: aws_proxy
        uri: ` + fnARN + `
        payloadFormatVersion: "2.0"
  /docs:
    get:
      summary: no integration
`

// TestImport: ImportApi builds routes, integrations and authorizers from
// an OpenAPI 3 definition with API Gateway's extensions; ReimportApi
// replaces them.
func TestImport(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	_, err := h.cl.ImportApi(ctx, &apigatewayv2.ImportApiInput{Body: aws.String(definition), FailOnWarnings: aws.Bool(true)})
	wantCode(t, err, "BadRequestException", "")
	if n := len(h.st.List()); n != 0 {
		t.Fatalf("a refused import made %d APIs", n)
	}
	imp := must[*apigatewayv2.ImportApiOutput](t, "ImportApi")(h.cl.ImportApi(ctx, &apigatewayv2.ImportApiInput{Body: aws.String(definition)}))
	if aws.ToString(imp.Name) != "petstore" || aws.ToString(imp.Version) != "1.0" || imp.ProtocolType != types.ProtocolTypeHttp ||
		len(imp.Warnings) != 1 || imp.CorsConfiguration == nil || imp.CorsConfiguration.AllowOrigins[0] != "https://pets.example" {
		t.Fatalf("ImportApi = %+v", imp)
	}
	id := imp.ApiId
	routes := must[*apigatewayv2.GetRoutesOutput](t, "GetRoutes")(h.cl.GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: id}))
	byKey := map[string]types.Route{}
	for _, r := range routes.Items {
		byKey[aws.ToString(r.RouteKey)] = r
	}
	pet, admin, docs := byKey["GET /pets/{id}"], byKey["ANY /admin"], byKey["GET /docs"]
	if len(byKey) != 3 || pet.AuthorizationType != types.AuthorizationTypeCustom || aws.ToString(pet.OperationName) != "getPet" ||
		admin.AuthorizationType != types.AuthorizationTypeAwsIam || docs.Target != nil {
		t.Fatalf("routes = %+v", byKey)
	}
	azs := must[*apigatewayv2.GetAuthorizersOutput](t, "GetAuthorizers")(h.cl.GetAuthorizers(ctx, &apigatewayv2.GetAuthorizersInput{ApiId: id}))
	if len(azs.Items) != 1 || aws.ToString(azs.Items[0].Name) != "gate" || aws.ToString(pet.AuthorizerId) != aws.ToString(azs.Items[0].AuthorizerId) {
		t.Fatalf("authorizers = %+v", azs.Items)
	}
	integ := must[*apigatewayv2.GetIntegrationOutput](t, "GetIntegration")(h.cl.GetIntegration(ctx, &apigatewayv2.GetIntegrationInput{ApiId: id,
		IntegrationId: aws.String(strings.TrimPrefix(aws.ToString(pet.Target), "integrations/"))}))
	if aws.ToString(integ.PayloadFormatVersion) != "1.0" || aws.ToInt32(integ.TimeoutInMillis) != 10000 {
		t.Errorf("integration = %+v", integ)
	}

	// Reimport: the definition's routes replace the API's, and an
	// auto-deployed stage serves them.
	must[*apigatewayv2.CreateStageOutput](t, "CreateStage")(h.cl.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: id, StageName: aws.String("$default"), AutoDeploy: aws.Bool(true)}))
	smaller := `{"openapi":"3.0.1","info":{"title":"petstore2","version":"2"},"paths":{"/v2/pets":{"post":{"x-amazon-apigateway-integration":{"type":"AWS_PROXY","uri":"` + fnARN + `","payloadFormatVersion":"2.0"}}}}}`
	re := must[*apigatewayv2.ReimportApiOutput](t, "ReimportApi")(h.cl.ReimportApi(ctx, &apigatewayv2.ReimportApiInput{ApiId: id, Body: aws.String(smaller)}))
	if aws.ToString(re.Name) != "petstore2" || aws.ToString(re.ApiId) != aws.ToString(id) {
		t.Errorf("ReimportApi = %+v", re)
	}
	routes = must[*apigatewayv2.GetRoutesOutput](t, "GetRoutes")(h.cl.GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: id}))
	if len(routes.Items) != 1 || aws.ToString(routes.Items[0].RouteKey) != "POST /v2/pets" {
		t.Fatalf("routes after reimport = %+v", routes.Items)
	}
	l, _ := h.st.Live(aws.ToString(id))
	if _, _, ok := l.Stages["$default"].Router.Match("POST", "/v2/pets"); !ok {
		t.Error("the auto-deployed stage does not serve the reimported route")
	}
	for _, bad := range []string{"not: [valid", `{"swagger":"2.0","info":{"title":"x"}}`, `{"openapi":"3.0.1","info":{"title":"x"},"paths":{"/a":{"get":{"security":[{"nope":[]}]}}}}`,
		`{"openapi":"3.0.1","info":{"title":"x"},"paths":{"/a":{"get":{"x-amazon-apigateway-integration":{"type":"aws_proxy","uri":"` + fnARN + `","timeoutInMillis":40000}}}}}`} {
		_, err := h.cl.ReimportApi(ctx, &apigatewayv2.ReimportApiInput{ApiId: id, Body: aws.String(bad)})
		wantCode(t, err, "BadRequestException", "")
	}
	routes = must[*apigatewayv2.GetRoutesOutput](t, "GetRoutes")(h.cl.GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: id}))
	if len(routes.Items) != 1 {
		t.Fatalf("a refused reimport changed the routes: %+v", routes.Items)
	}
}
