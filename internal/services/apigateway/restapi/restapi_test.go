package restapi_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"github.com/aws/smithy-go"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/natsd"
	apigw "github.com/kumo-run/kumo/internal/services/apigateway"
	"github.com/kumo-run/kumo/internal/services/apigateway/httpapi"
	"github.com/kumo-run/kumo/internal/services/apigateway/restapi"
	"github.com/kumo-run/kumo/internal/store"
)

const (
	account    = "000000000000"
	rootKey    = "AKIAKUMOAPIGWTEST001"
	rootSecret = "kumo-apigw-test-secret-00000000000000000"
	fnURI      = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:fn/invocations"
)

type harness struct {
	dir   string
	ns    *natsd.Server
	st    *apigw.State
	cl    *apigateway.Client
	srv   *httptest.Server
	auth  *authz.Static
	stop  context.CancelFunc
	cur   *restapi.API
	az    *authz.Authorizer
	usage *restapi.Usage
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{dir: t.TempDir(), auth: &authz.Static{}}
	h.az = authz.New(authz.Config{Directory: h.auth, Region: "us-east-1"})
	h.start(t)
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	creds := &token.Store{Issuer: is, RootKeyID: rootKey, RootSecret: rootSecret, Root: token.Root("aws", account), Keys: h.auth}
	h.srv = httptest.NewServer(edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: creds},
		Routes: []edge.Route{{Name: "apigateway", Match: restapi.Matchers(),
			Scope: restapi.SigningName, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.cur.ServeHTTP(w, r) }),
			Errors: restapi.Errors}},
	}))
	t.Cleanup(h.srv.Close)
	h.cl = h.client(rootKey, rootSecret)
	t.Cleanup(h.close)
	return h
}

func (h *harness) client(key, secret string) *apigateway.Client {
	return apigateway.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient: h.srv.Client(), RetryMaxAttempts: 1}, func(o *apigateway.Options) { o.BaseEndpoint = aws.String(h.srv.URL) })
}

func (h *harness) start(t *testing.T) {
	t.Helper()
	ns, err := natsd.Start(natsd.Config{DataDir: h.dir, Sync: natsd.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ns.Connect("restapi-test")
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
	st, err := apigw.Open(ctx, kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	usage, err := restapi.OpenUsage(ctx, kv)
	if err != nil {
		t.Fatal(err)
	}
	h.ns, h.st, h.stop, h.usage = ns, st, cancel, usage
	h.cur = restapi.New(restapi.Config{State: st, Usage: usage, Region: "us-east-1", Account: account, Authorizer: h.az})
}

func (h *harness) close() {
	if h.ns != nil {
		h.stop()
		h.ns.Shutdown()
		h.ns = nil
	}
}

// restart stops NATS and opens the state again from disk.
func (h *harness) restart(t *testing.T) {
	h.close()
	h.start(t)
}

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

func patch(op types.Op, path, value string) types.PatchOperation {
	p := types.PatchOperation{Op: op, Path: aws.String(path)}
	if value != "" {
		p.Value = aws.String(value)
	}
	return p
}

// TestRestAPILifecycle: a REST API is created with its root resource,
// listed, patched (name, binary media types) and deleted; it survives a
// restart; apigatewayv2 does not see it.
func TestRestAPILifecycle(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	api := must[*apigateway.CreateRestApiOutput](t, "CreateRestApi")(h.cl.CreateRestApi(ctx, &apigateway.CreateRestApiInput{
		Name: aws.String("shop"), Description: aws.String("d"), BinaryMediaTypes: []string{"image/png"}}))
	if !apigw.IsAPIID(aws.ToString(api.Id)) || aws.ToString(api.RootResourceId) == "" || api.CreatedDate == nil ||
		api.ApiKeySource != types.ApiKeySourceTypeHeader || len(api.BinaryMediaTypes) != 1 {
		t.Fatalf("CreateRestApi: %+v", api)
	}
	if api.CreatedDate.Year() < 2020 {
		t.Fatalf("createdDate %v", api.CreatedDate)
	}
	res := must[*apigateway.GetResourcesOutput](t, "GetResources")(h.cl.GetResources(ctx, &apigateway.GetResourcesInput{RestApiId: api.Id}))
	if len(res.Items) != 1 || aws.ToString(res.Items[0].Path) != "/" || aws.ToString(res.Items[0].Id) != aws.ToString(api.RootResourceId) {
		t.Fatalf("resources %+v", res.Items)
	}
	up := must[*apigateway.UpdateRestApiOutput](t, "UpdateRestApi")(h.cl.UpdateRestApi(ctx, &apigateway.UpdateRestApiInput{RestApiId: api.Id,
		PatchOperations: []types.PatchOperation{patch(types.OpReplace, "/name", "shop2"), patch(types.OpAdd, "/binaryMediaTypes/image~1jpeg", ""),
			patch(types.OpRemove, "/binaryMediaTypes/image~1png", "")}}))
	if aws.ToString(up.Name) != "shop2" || len(up.BinaryMediaTypes) != 1 || up.BinaryMediaTypes[0] != "image/jpeg" {
		t.Fatalf("UpdateRestApi: %+v", up)
	}
	_, err := h.cl.UpdateRestApi(ctx, &apigateway.UpdateRestApiInput{RestApiId: api.Id,
		PatchOperations: []types.PatchOperation{patch(types.OpReplace, "/name", "x"), patch(types.OpReplace, "/nope", "y")}})
	wantCode(t, err, "BadRequestException", "")
	h.restart(t)
	g := must[*apigateway.GetRestApiOutput](t, "GetRestApi")(h.cl.GetRestApi(ctx, &apigateway.GetRestApiInput{RestApiId: api.Id}))
	if aws.ToString(g.Name) != "shop2" || aws.ToString(g.Description) != "d" {
		t.Fatalf("after restart: %+v", g)
	}
	list := must[*apigateway.GetRestApisOutput](t, "GetRestApis")(h.cl.GetRestApis(ctx, &apigateway.GetRestApisInput{}))
	if len(list.Items) != 1 {
		t.Fatalf("GetRestApis %+v", list.Items)
	}
	_, err = h.cl.GetRestApi(ctx, &apigateway.GetRestApiInput{RestApiId: aws.String("abcdefghij")})
	wantCode(t, err, "NotFoundException", "Invalid API identifier specified 000000000000:abcdefghij")
	_, err = h.cl.CreateRestApi(ctx, &apigateway.CreateRestApiInput{Name: aws.String("")})
	wantCode(t, err, "BadRequestException", "")
	must[*apigateway.DeleteRestApiOutput](t, "DeleteRestApi")(h.cl.DeleteRestApi(ctx, &apigateway.DeleteRestApiInput{RestApiId: api.Id}))
	_, err = h.cl.GetRestApi(ctx, &apigateway.GetRestApiInput{RestApiId: api.Id})
	wantCode(t, err, "NotFoundException", "")
	if n := len(h.st.List()); n != 0 {
		t.Fatalf("%d apis left", n)
	}
}

// build makes an API with /items/{id} GET (AWS_PROXY) and /{proxy+} ANY
// (MOCK); it returns the api id and the resource ids.
func build(t *testing.T, h *harness) (apiID, items, item, proxy string) {
	t.Helper()
	ctx := t.Context()
	api := must[*apigateway.CreateRestApiOutput](t, "CreateRestApi")(h.cl.CreateRestApi(ctx, &apigateway.CreateRestApiInput{Name: aws.String("a")}))
	apiID = aws.ToString(api.Id)
	r1 := must[*apigateway.CreateResourceOutput](t, "CreateResource")(h.cl.CreateResource(ctx, &apigateway.CreateResourceInput{RestApiId: api.Id, ParentId: api.RootResourceId, PathPart: aws.String("items")}))
	r2 := must[*apigateway.CreateResourceOutput](t, "CreateResource")(h.cl.CreateResource(ctx, &apigateway.CreateResourceInput{RestApiId: api.Id, ParentId: r1.Id, PathPart: aws.String("{id}")}))
	r3 := must[*apigateway.CreateResourceOutput](t, "CreateResource")(h.cl.CreateResource(ctx, &apigateway.CreateResourceInput{RestApiId: api.Id, ParentId: api.RootResourceId, PathPart: aws.String("{proxy+}")}))
	if aws.ToString(r2.Path) != "/items/{id}" || aws.ToString(r3.Path) != "/{proxy+}" || aws.ToString(r2.ParentId) != aws.ToString(r1.Id) {
		t.Fatalf("paths %q %q", aws.ToString(r2.Path), aws.ToString(r3.Path))
	}
	must[*apigateway.PutMethodOutput](t, "PutMethod")(h.cl.PutMethod(ctx, &apigateway.PutMethodInput{RestApiId: api.Id, ResourceId: r2.Id, HttpMethod: aws.String("GET"), AuthorizationType: aws.String("NONE")}))
	must[*apigateway.PutIntegrationOutput](t, "PutIntegration")(h.cl.PutIntegration(ctx, &apigateway.PutIntegrationInput{RestApiId: api.Id, ResourceId: r2.Id, HttpMethod: aws.String("GET"),
		Type: types.IntegrationTypeAwsProxy, IntegrationHttpMethod: aws.String("POST"), Uri: aws.String(fnURI)}))
	must[*apigateway.PutMethodOutput](t, "PutMethod")(h.cl.PutMethod(ctx, &apigateway.PutMethodInput{RestApiId: api.Id, ResourceId: r3.Id, HttpMethod: aws.String("ANY"), AuthorizationType: aws.String("NONE"), ApiKeyRequired: true}))
	must[*apigateway.PutIntegrationOutput](t, "PutIntegration")(h.cl.PutIntegration(ctx, &apigateway.PutIntegrationInput{RestApiId: api.Id, ResourceId: r3.Id, HttpMethod: aws.String("ANY"),
		Type: types.IntegrationTypeMock, RequestTemplates: map[string]string{"application/json": `{"statusCode": 200}`}}))
	must[*apigateway.PutMethodResponseOutput](t, "PutMethodResponse")(h.cl.PutMethodResponse(ctx, &apigateway.PutMethodResponseInput{RestApiId: api.Id, ResourceId: r3.Id, HttpMethod: aws.String("ANY"), StatusCode: aws.String("200")}))
	must[*apigateway.PutIntegrationResponseOutput](t, "PutIntegrationResponse")(h.cl.PutIntegrationResponse(ctx, &apigateway.PutIntegrationResponseInput{RestApiId: api.Id, ResourceId: r3.Id, HttpMethod: aws.String("ANY"), StatusCode: aws.String("200"),
		ResponseTemplates: map[string]string{"application/json": `{"mock": true}`}}))
	return apiID, aws.ToString(r1.Id), aws.ToString(r2.Id), aws.ToString(r3.Id)
}

// TestResourcesAndMethods: resources nest with {param} and {proxy+}
// parts, methods and integrations are stored and embedded, and bad input
// is refused without a change.
func TestResourcesAndMethods(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	apiID, items, item, proxy := build(t, h)
	id := aws.String(apiID)
	all := must[*apigateway.GetResourcesOutput](t, "GetResources")(h.cl.GetResources(ctx, &apigateway.GetResourcesInput{RestApiId: id, Embed: []string{"methods"}}))
	if len(all.Items) != 4 {
		t.Fatalf("%d resources", len(all.Items))
	}
	for _, r := range all.Items {
		if aws.ToString(r.Id) == item {
			m := r.ResourceMethods["GET"]
			if m.MethodIntegration == nil || aws.ToString(m.MethodIntegration.Uri) != fnURI || m.MethodIntegration.Type != types.IntegrationTypeAwsProxy {
				t.Fatalf("embedded method %+v", m)
			}
		}
	}
	m := must[*apigateway.GetMethodOutput](t, "GetMethod")(h.cl.GetMethod(ctx, &apigateway.GetMethodInput{RestApiId: id, ResourceId: aws.String(proxy), HttpMethod: aws.String("ANY")}))
	if !aws.ToBool(m.ApiKeyRequired) || m.MethodIntegration == nil || aws.ToString(m.MethodIntegration.IntegrationResponses["200"].StatusCode) != "200" {
		t.Fatalf("GetMethod %+v", m)
	}
	it := must[*apigateway.GetIntegrationOutput](t, "GetIntegration")(h.cl.GetIntegration(ctx, &apigateway.GetIntegrationInput{RestApiId: id, ResourceId: aws.String(item), HttpMethod: aws.String("GET")}))
	if it.TimeoutInMillis != 29000 || aws.ToString(it.HttpMethod) != "POST" {
		t.Fatalf("GetIntegration %+v", it)
	}
	_, err := h.cl.CreateResource(ctx, &apigateway.CreateResourceInput{RestApiId: id, ParentId: aws.String(items), PathPart: aws.String("{id}")})
	wantCode(t, err, "ConflictException", "Another resource with the same parent already has this name: {id}")
	_, err = h.cl.CreateResource(ctx, &apigateway.CreateResourceInput{RestApiId: id, ParentId: aws.String(items), PathPart: aws.String("{other}")})
	wantCode(t, err, "BadRequestException", "")
	_, err = h.cl.CreateResource(ctx, &apigateway.CreateResourceInput{RestApiId: id, ParentId: aws.String("nope"), PathPart: aws.String("x")})
	wantCode(t, err, "NotFoundException", "Invalid Resource identifier specified")
	_, err = h.cl.CreateResource(ctx, &apigateway.CreateResourceInput{RestApiId: id, ParentId: aws.String(items), PathPart: aws.String("a{b")})
	wantCode(t, err, "BadRequestException", "")
	_, err = h.cl.PutMethod(ctx, &apigateway.PutMethodInput{RestApiId: id, ResourceId: aws.String(item), HttpMethod: aws.String("GET"), AuthorizationType: aws.String("NONE")})
	wantCode(t, err, "ConflictException", "Method already exists for this resource")
	_, err = h.cl.PutMethod(ctx, &apigateway.PutMethodInput{RestApiId: id, ResourceId: aws.String(item), HttpMethod: aws.String("POST"), AuthorizationType: aws.String("CUSTOM"), AuthorizerId: aws.String("zzz")})
	wantCode(t, err, "BadRequestException", "")
	_, err = h.cl.PutIntegration(ctx, &apigateway.PutIntegrationInput{RestApiId: id, ResourceId: aws.String(item), HttpMethod: aws.String("GET"),
		Type: types.IntegrationTypeAwsProxy, IntegrationHttpMethod: aws.String("POST"), Uri: aws.String("not-an-arn")})
	wantCode(t, err, "BadRequestException", "")
	_, err = h.cl.GetMethod(ctx, &apigateway.GetMethodInput{RestApiId: id, ResourceId: aws.String(item), HttpMethod: aws.String("PUT")})
	wantCode(t, err, "NotFoundException", "Invalid Method identifier specified")
	// Deleting a resource takes its children.
	must[*apigateway.DeleteResourceOutput](t, "DeleteResource")(h.cl.DeleteResource(ctx, &apigateway.DeleteResourceInput{RestApiId: id, ResourceId: aws.String(items)}))
	all = must[*apigateway.GetResourcesOutput](t, "GetResources")(h.cl.GetResources(ctx, &apigateway.GetResourcesInput{RestApiId: id}))
	if len(all.Items) != 2 {
		t.Fatalf("%d resources after delete", len(all.Items))
	}
	_, err = h.cl.DeleteResource(ctx, &apigateway.DeleteResourceInput{RestApiId: id, ResourceId: aws.String(item)})
	wantCode(t, err, "NotFoundException", "")
	must[*apigateway.DeleteMethodOutput](t, "DeleteMethod")(h.cl.DeleteMethod(ctx, &apigateway.DeleteMethodInput{RestApiId: id, ResourceId: aws.String(proxy), HttpMethod: aws.String("ANY")}))
	_, err = h.cl.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: id, StageName: aws.String("prod")})
	wantCode(t, err, "BadRequestException", "The REST API doesn't contain any methods")
}

// TestDeploymentsAndCanary: CreateDeployment with a stage name creates
// the stage; with canarySettings it sets the stage's canary; UpdateStage
// patches variables and canary settings and promotes.
func TestDeploymentsAndCanary(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	apiID, _, _, _ := build(t, h)
	id := aws.String(apiID)
	d1 := must[*apigateway.CreateDeploymentOutput](t, "CreateDeployment")(h.cl.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: id,
		StageName: aws.String("prod"), Variables: map[string]string{"alias": "blue"}}))
	st := must[*apigateway.GetStageOutput](t, "GetStage")(h.cl.GetStage(ctx, &apigateway.GetStageInput{RestApiId: id, StageName: aws.String("prod")}))
	if aws.ToString(st.DeploymentId) != aws.ToString(d1.Id) || st.Variables["alias"] != "blue" || st.CanarySettings != nil {
		t.Fatalf("stage %+v", st)
	}
	if _, ok := h.st.Snapshot(apiID, aws.ToString(d1.Id)); !ok {
		t.Fatal("no snapshot stored for the deployment")
	}
	d2 := must[*apigateway.CreateDeploymentOutput](t, "CreateDeployment")(h.cl.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: id,
		StageName: aws.String("prod"), CanarySettings: &types.DeploymentCanarySettings{PercentTraffic: 25, StageVariableOverrides: map[string]string{"alias": "green"}}}))
	st = must[*apigateway.GetStageOutput](t, "GetStage")(h.cl.GetStage(ctx, &apigateway.GetStageInput{RestApiId: id, StageName: aws.String("prod")}))
	if aws.ToString(st.DeploymentId) != aws.ToString(d1.Id) || st.CanarySettings == nil || aws.ToString(st.CanarySettings.DeploymentId) != aws.ToString(d2.Id) ||
		st.CanarySettings.PercentTraffic != 25 || st.CanarySettings.StageVariableOverrides["alias"] != "green" {
		t.Fatalf("canary stage %+v %+v", st, st.CanarySettings)
	}
	_, err := h.cl.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: id, StageName: aws.String("nostage"),
		CanarySettings: &types.DeploymentCanarySettings{PercentTraffic: 10}})
	wantCode(t, err, "NotFoundException", "Invalid Stage identifier specified")
	up := must[*apigateway.UpdateStageOutput](t, "UpdateStage")(h.cl.UpdateStage(ctx, &apigateway.UpdateStageInput{RestApiId: id, StageName: aws.String("prod"),
		PatchOperations: []types.PatchOperation{patch(types.OpReplace, "/canarySettings/percentTraffic", "40"),
			patch(types.OpReplace, "/canarySettings/stageVariableOverrides/extra", "x"), patch(types.OpReplace, "/variables/color", "red")}}))
	if up.CanarySettings.PercentTraffic != 40 || up.CanarySettings.StageVariableOverrides["extra"] != "x" || up.Variables["color"] != "red" {
		t.Fatalf("UpdateStage %+v", up)
	}
	_, err = h.cl.UpdateStage(ctx, &apigateway.UpdateStageInput{RestApiId: id, StageName: aws.String("prod"),
		PatchOperations: []types.PatchOperation{patch(types.OpReplace, "/canarySettings/percentTraffic", "140")}})
	wantCode(t, err, "BadRequestException", "")
	_, err = h.cl.DeleteDeployment(ctx, &apigateway.DeleteDeploymentInput{RestApiId: id, DeploymentId: d2.Id})
	wantCode(t, err, "BadRequestException", "Active stages pointing to this deployment must be moved or deleted")
	// Promotion: the stage takes the canary's deployment; the canary goes.
	up = must[*apigateway.UpdateStageOutput](t, "UpdateStage")(h.cl.UpdateStage(ctx, &apigateway.UpdateStageInput{RestApiId: id, StageName: aws.String("prod"),
		PatchOperations: []types.PatchOperation{patch(types.OpReplace, "/deploymentId", aws.ToString(d2.Id)), patch(types.OpRemove, "/canarySettings", "")}}))
	if aws.ToString(up.DeploymentId) != aws.ToString(d2.Id) || up.CanarySettings != nil {
		t.Fatalf("promoted %+v", up)
	}
	deps := must[*apigateway.GetDeploymentsOutput](t, "GetDeployments")(h.cl.GetDeployments(ctx, &apigateway.GetDeploymentsInput{RestApiId: id}))
	if len(deps.Items) != 2 {
		t.Fatalf("%d deployments", len(deps.Items))
	}
	must[*apigateway.DeleteDeploymentOutput](t, "DeleteDeployment")(h.cl.DeleteDeployment(ctx, &apigateway.DeleteDeploymentInput{RestApiId: id, DeploymentId: d1.Id}))
	if _, ok := h.st.Snapshot(apiID, aws.ToString(d1.Id)); ok {
		t.Fatal("the deleted deployment's snapshot is still there")
	}
	// CreateStage, GetStages, DeleteStage.
	must[*apigateway.CreateStageOutput](t, "CreateStage")(h.cl.CreateStage(ctx, &apigateway.CreateStageInput{RestApiId: id, StageName: aws.String("dev"), DeploymentId: d2.Id}))
	_, err = h.cl.CreateStage(ctx, &apigateway.CreateStageInput{RestApiId: id, StageName: aws.String("dev"), DeploymentId: d2.Id})
	wantCode(t, err, "ConflictException", "Stage already exists")
	_, err = h.cl.CreateStage(ctx, &apigateway.CreateStageInput{RestApiId: id, StageName: aws.String("qa"), DeploymentId: aws.String("nope")})
	wantCode(t, err, "NotFoundException", "Invalid Deployment identifier specified")
	stages := must[*apigateway.GetStagesOutput](t, "GetStages")(h.cl.GetStages(ctx, &apigateway.GetStagesInput{RestApiId: id}))
	if len(stages.Item) != 2 {
		t.Fatalf("%d stages", len(stages.Item))
	}
	must[*apigateway.DeleteStageOutput](t, "DeleteStage")(h.cl.DeleteStage(ctx, &apigateway.DeleteStageInput{RestApiId: id, StageName: aws.String("dev")}))
	_, err = h.cl.GetStage(ctx, &apigateway.GetStageInput{RestApiId: id, StageName: aws.String("dev")})
	wantCode(t, err, "NotFoundException", "Invalid Stage identifier specified")
}

// TestAuthorizers: TOKEN and REQUEST authorizers are created, listed,
// refused while a method uses them, and deleted.
func TestAuthorizers(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	apiID, _, item, _ := build(t, h)
	id := aws.String(apiID)
	au := must[*apigateway.CreateAuthorizerOutput](t, "CreateAuthorizer")(h.cl.CreateAuthorizer(ctx, &apigateway.CreateAuthorizerInput{RestApiId: id,
		Name: aws.String("tok"), Type: types.AuthorizerTypeToken, AuthorizerUri: aws.String(fnURI), IdentitySource: aws.String("method.request.header.Authorization")}))
	if aws.ToInt32(au.AuthorizerResultTtlInSeconds) != 300 || au.Type != types.AuthorizerTypeToken {
		t.Fatalf("CreateAuthorizer %+v", au)
	}
	_, err := h.cl.CreateAuthorizer(ctx, &apigateway.CreateAuthorizerInput{RestApiId: id, Name: aws.String("bad"), Type: types.AuthorizerTypeToken,
		AuthorizerUri: aws.String(fnURI), IdentitySource: aws.String("method.request.querystring.x")})
	wantCode(t, err, "BadRequestException", "")
	must[*apigateway.PutMethodOutput](t, "PutMethod")(h.cl.PutMethod(ctx, &apigateway.PutMethodInput{RestApiId: id, ResourceId: aws.String(item), HttpMethod: aws.String("POST"),
		AuthorizationType: aws.String("CUSTOM"), AuthorizerId: au.Id}))
	_, err = h.cl.DeleteAuthorizer(ctx, &apigateway.DeleteAuthorizerInput{RestApiId: id, AuthorizerId: au.Id})
	wantCode(t, err, "ConflictException", "")
	list := must[*apigateway.GetAuthorizersOutput](t, "GetAuthorizers")(h.cl.GetAuthorizers(ctx, &apigateway.GetAuthorizersInput{RestApiId: id}))
	if len(list.Items) != 1 || aws.ToString(list.Items[0].Name) != "tok" {
		t.Fatalf("GetAuthorizers %+v", list.Items)
	}
	must[*apigateway.DeleteMethodOutput](t, "DeleteMethod")(h.cl.DeleteMethod(ctx, &apigateway.DeleteMethodInput{RestApiId: id, ResourceId: aws.String(item), HttpMethod: aws.String("POST")}))
	must[*apigateway.DeleteAuthorizerOutput](t, "DeleteAuthorizer")(h.cl.DeleteAuthorizer(ctx, &apigateway.DeleteAuthorizerInput{RestApiId: id, AuthorizerId: au.Id}))
	_, err = h.cl.GetAuthorizer(ctx, &apigateway.GetAuthorizerInput{RestApiId: id, AuthorizerId: au.Id})
	wantCode(t, err, "NotFoundException", "")
	// An API has at most 10 authorizers.
	in := &apigateway.CreateAuthorizerInput{RestApiId: id, Name: aws.String("n"), Type: types.AuthorizerTypeRequest, AuthorizerUri: aws.String(fnURI),
		IdentitySource: aws.String("method.request.header.X")}
	for i := 0; i < restapi.MaxAuthorizers; i++ {
		must[*apigateway.CreateAuthorizerOutput](t, "CreateAuthorizer")(h.cl.CreateAuthorizer(ctx, in))
	}
	_, err = h.cl.CreateAuthorizer(ctx, in)
	wantCode(t, err, "LimitExceededException", "Cannot create more than 10 authorizers in a REST API")
}

// TestIAM: an IAM user needs apigateway:<METHOD> on the path's
// resource; a denied write changes nothing.
func TestIAM(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	userARN := "arn:aws:iam::" + account + ":user/dev"
	pol, err := iam.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"apigateway:GET","Resource":"arn:aws:apigateway:us-east-1::/restapis"}]}`, iam.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	h.auth.SetUser(awsproto.Identity{ARN: userARN, Account: account, UserID: "AIDADEV"}, authz.Principal{Policies: []*iam.Policy{pol}})
	h.auth.SetAccessKey("AKIADEVUSER000000001", "dev-secret", userARN)
	dev := h.client("AKIADEVUSER000000001", "dev-secret")
	if _, err := dev.GetRestApis(ctx, &apigateway.GetRestApisInput{}); err != nil {
		t.Fatalf("GetRestApis allowed by policy: %v", err)
	}
	_, err = dev.CreateRestApi(ctx, &apigateway.CreateRestApiInput{Name: aws.String("x")})
	wantCode(t, err, "AccessDeniedException", "")
	if n := len(h.st.List()); n != 0 {
		t.Fatalf("a denied CreateRestApi made %d APIs", n)
	}
}

// TestUsagePlans: API keys and usage plans are stored durably; Use lets a
// key of a plan covering the stage through, within the plan's throttle
// and quota, and refuses other keys and stages.
func TestUsagePlans(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	apiID, _, _, _ := build(t, h)
	if _, err := h.cl.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: &apiID, StageName: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	key := must[*apigateway.CreateApiKeyOutput](t, "CreateApiKey")(h.cl.CreateApiKey(ctx, &apigateway.CreateApiKeyInput{Name: aws.String("k"), Enabled: true}))
	if len(aws.ToString(key.Value)) != 40 || !key.Enabled || key.CreatedDate == nil {
		t.Fatalf("CreateApiKey %+v", key)
	}
	off := must[*apigateway.CreateApiKeyOutput](t, "CreateApiKey")(h.cl.CreateApiKey(ctx, &apigateway.CreateApiKeyInput{Name: aws.String("off"), Value: aws.String("disabled-key-0123456789")}))
	_, err := h.cl.CreateApiKey(ctx, &apigateway.CreateApiKeyInput{Name: aws.String("dup"), Value: aws.String("disabled-key-0123456789")})
	wantCode(t, err, "ConflictException", "")
	_, err = h.cl.CreateUsagePlan(ctx, &apigateway.CreateUsagePlanInput{Name: aws.String("bad"), ApiStages: []types.ApiStage{{ApiId: &apiID, Stage: aws.String("nope")}}})
	wantCode(t, err, "BadRequestException", "")
	plan := must[*apigateway.CreateUsagePlanOutput](t, "CreateUsagePlan")(h.cl.CreateUsagePlan(ctx, &apigateway.CreateUsagePlanInput{Name: aws.String("gold"),
		ApiStages: []types.ApiStage{{ApiId: &apiID, Stage: aws.String("prod")}}, Throttle: &types.ThrottleSettings{BurstLimit: 2, RateLimit: 1},
		Quota: &types.QuotaSettings{Limit: 3, Period: types.QuotaPeriodTypeMonth}}))
	for _, k := range []*string{key.Id, off.Id} {
		must[*apigateway.CreateUsagePlanKeyOutput](t, "CreateUsagePlanKey")(h.cl.CreateUsagePlanKey(ctx, &apigateway.CreateUsagePlanKeyInput{UsagePlanId: plan.Id, KeyId: k, KeyType: aws.String("API_KEY")}))
	}
	_, err = h.cl.CreateUsagePlanKey(ctx, &apigateway.CreateUsagePlanKeyInput{UsagePlanId: plan.Id, KeyId: aws.String("nope"), KeyType: aws.String("API_KEY")})
	wantCode(t, err, "NotFoundException", "")
	h.restart(t)
	keys := must[*apigateway.GetUsagePlanKeysOutput](t, "GetUsagePlanKeys")(h.cl.GetUsagePlanKeys(ctx, &apigateway.GetUsagePlanKeysInput{UsagePlanId: plan.Id}))
	if len(keys.Items) != 2 {
		t.Fatalf("after restart: %d plan keys", len(keys.Items))
	}
	g := must[*apigateway.GetApiKeyOutput](t, "GetApiKey")(h.cl.GetApiKey(ctx, &apigateway.GetApiKeyInput{ApiKey: key.Id}))
	if g.Value != nil {
		t.Fatalf("GetApiKey without includeValue shows the value")
	}
	u := h.usage
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	value := aws.ToString(key.Value)
	if id, st, _ := u.Use(value, apiID, "prod", now); st != 0 || id != aws.ToString(key.Id) {
		t.Fatalf("Use: %q %d", id, st)
	}
	if _, st, msg := u.Use(value, apiID, "dev", now); st != 403 || msg != "Forbidden" {
		t.Fatalf("another stage: %d %s", st, msg)
	}
	if _, st, _ := u.Use("disabled-key-0123456789", apiID, "prod", now); st != 403 {
		t.Fatalf("a disabled key: %d", st)
	}
	if _, st, _ := u.Use(value, apiID, "prod", now); st != 0 {
		t.Fatalf("within the burst: %d", st)
	}
	if _, st, msg := u.Use(value, apiID, "prod", now); st != 429 || msg != "Too Many Requests" {
		t.Fatalf("past the burst: %d %s", st, msg)
	}
	if _, st, _ := u.Use(value, apiID, "prod", now.Add(2*time.Second)); st != 0 {
		t.Fatalf("after the throttle refills: %d", st)
	}
	if _, st, msg := u.Use(value, apiID, "prod", now.Add(10*time.Second)); st != 429 || msg != "Limit Exceeded" {
		t.Fatalf("past the quota: %d %s", st, msg)
	}
	if _, st, _ := u.Use(value, apiID, "prod", time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC)); st != 0 {
		t.Fatalf("next month: %d", st)
	}
	must[*apigateway.DeleteApiKeyOutput](t, "DeleteApiKey")(h.cl.DeleteApiKey(ctx, &apigateway.DeleteApiKeyInput{ApiKey: key.Id}))
	if _, st, _ := u.Use(value, apiID, "prod", time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)); st != 403 {
		t.Fatalf("a deleted key: %d", st)
	}
	must[*apigateway.DeleteUsagePlanOutput](t, "DeleteUsagePlan")(h.cl.DeleteUsagePlan(ctx, &apigateway.DeleteUsagePlanInput{UsagePlanId: plan.Id}))
	_, err = h.cl.GetUsagePlan(ctx, &apigateway.GetUsagePlanInput{UsagePlanId: plan.Id})
	wantCode(t, err, "NotFoundException", "")
}

const restDefinition = `openapi: "3.0.1"
info:
  title: petstore
  version: "1.0"
x-amazon-apigateway-binary-media-types: ["image/png"]
components:
  securitySchemes:
    api_key:
      type: apiKey
      name: x-api-key
      in: header
    tok:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: token
        authorizerUri: ` + fnURI + `
        authorizerResultTtlInSeconds: 60
paths:
  /pets/{id}:
    get:
      security: [{tok: []}]
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: ` + fnURI + `
  /health:
    get:
      security: [{api_key: []}]
      responses:
        "200": {description: ok}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {"application/json": "{\"statusCode\": 200}"}
        responses:
          default:
            statusCode: "200"
            responseTemplates: {"application/json": "{\"ok\": true}"}
`

// TestImportAndPutRestAPI: ImportRestApi builds resources, methods,
// integrations, a TOKEN authorizer and API key requirements from an
// OpenAPI definition; PutRestApi merges paths in or overwrites them; a
// bad definition changes nothing.
func TestImportAndPutRestAPI(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	api := must[*apigateway.ImportRestApiOutput](t, "ImportRestApi")(h.cl.ImportRestApi(ctx, &apigateway.ImportRestApiInput{Body: []byte(restDefinition)}))
	id := api.Id
	if aws.ToString(api.Name) != "petstore" || len(api.BinaryMediaTypes) != 1 {
		t.Fatalf("ImportRestApi %+v", api)
	}
	res := must[*apigateway.GetResourcesOutput](t, "GetResources")(h.cl.GetResources(ctx, &apigateway.GetResourcesInput{RestApiId: id, Embed: []string{"methods"}}))
	paths := map[string]types.Resource{}
	for _, r := range res.Items {
		paths[aws.ToString(r.Path)] = r
	}
	if len(paths) != 4 || paths["/pets"].Id == nil {
		t.Fatalf("imported resources %v", keysOf(paths))
	}
	pet := paths["/pets/{id}"].ResourceMethods["GET"]
	if aws.ToString(pet.AuthorizationType) != "CUSTOM" || pet.MethodIntegration == nil || pet.MethodIntegration.Type != types.IntegrationTypeAwsProxy {
		t.Fatalf("GET /pets/{id}: %+v", pet)
	}
	health := paths["/health"].ResourceMethods["GET"]
	if !aws.ToBool(health.ApiKeyRequired) || health.MethodIntegration == nil || health.MethodIntegration.Type != types.IntegrationTypeMock {
		t.Fatalf("GET /health: %+v", health)
	}
	auths := must[*apigateway.GetAuthorizersOutput](t, "GetAuthorizers")(h.cl.GetAuthorizers(ctx, &apigateway.GetAuthorizersInput{RestApiId: id}))
	if len(auths.Items) != 1 || auths.Items[0].Type != types.AuthorizerTypeToken || aws.ToString(auths.Items[0].IdentitySource) != "method.request.header.Authorization" ||
		aws.ToString(auths.Items[0].Id) != aws.ToString(pet.AuthorizerId) {
		t.Fatalf("imported authorizers %+v", auths.Items)
	}
	must[*apigateway.CreateDeploymentOutput](t, "CreateDeployment")(h.cl.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: id, StageName: aws.String("prod")}))

	merge := "openapi: \"3.0.1\"\ninfo: {title: petstore}\npaths:\n  /extra:\n    post:\n      x-amazon-apigateway-integration: {type: aws_proxy, httpMethod: POST, uri: " + fnURI + "}\n"
	must[*apigateway.PutRestApiOutput](t, "PutRestApi merge")(h.cl.PutRestApi(ctx, &apigateway.PutRestApiInput{RestApiId: id, Body: []byte(merge)}))
	res = must[*apigateway.GetResourcesOutput](t, "GetResources")(h.cl.GetResources(ctx, &apigateway.GetResourcesInput{RestApiId: id}))
	if len(res.Items) != 5 {
		t.Fatalf("after merge: %d resources", len(res.Items))
	}
	_, err := h.cl.PutRestApi(ctx, &apigateway.PutRestApiInput{RestApiId: id, Mode: types.PutModeOverwrite,
		Body: []byte("openapi: \"3.0.1\"\ninfo: {title: x}\npaths:\n  /bad:\n    get:\n      x-amazon-apigateway-integration: {type: http, uri: http://example.com}\n")})
	wantCode(t, err, "BadRequestException", "")
	must[*apigateway.PutRestApiOutput](t, "PutRestApi overwrite")(h.cl.PutRestApi(ctx, &apigateway.PutRestApiInput{RestApiId: id, Mode: types.PutModeOverwrite, Body: []byte(merge)}))
	res = must[*apigateway.GetResourcesOutput](t, "GetResources")(h.cl.GetResources(ctx, &apigateway.GetResourcesInput{RestApiId: id}))
	if len(res.Items) != 2 {
		t.Fatalf("after overwrite: %d resources", len(res.Items))
	}
	st := must[*apigateway.GetStageOutput](t, "GetStage")(h.cl.GetStage(ctx, &apigateway.GetStageInput{RestApiId: id, StageName: aws.String("prod")}))
	if st.DeploymentId == nil {
		t.Fatal("overwrite lost the stage")
	}
	_, err = h.cl.ImportRestApi(ctx, &apigateway.ImportRestApiInput{Body: []byte("{not yaml: [")})
	wantCode(t, err, "BadRequestException", "")
	if n := len(h.st.List()); n != 1 {
		t.Fatalf("%d APIs after a failed import", n)
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestNotAnHTTPAPI: apigatewayv2 neither lists, shows, changes nor
// deletes a REST API.
func TestNotAnHTTPAPI(t *testing.T) {
	h := newHarness(t)
	api := must[*apigateway.CreateRestApiOutput](t, "CreateRestApi")(h.cl.CreateRestApi(t.Context(), &apigateway.CreateRestApiInput{Name: aws.String("r")}))
	v2 := httpapi.New(httpapi.Config{State: h.st, Region: "us-east-1", Account: account})
	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/v2/apis", 200, `{"items":[]}`},
		{"GET", "/v2/apis/" + aws.ToString(api.Id), 404, ""},
		{"PATCH", "/v2/apis/" + aws.ToString(api.Id), 404, ""},
		{"DELETE", "/v2/apis/" + aws.ToString(api.Id), 404, ""},
	} {
		w := httptest.NewRecorder()
		v2.ServeHTTP(w, httptest.NewRequest(c.method, c.path, strings.NewReader(`{"name":"x"}`)))
		if w.Code != c.status || c.body != "" && strings.TrimSpace(w.Body.String()) != c.body {
			t.Errorf("%s %s: %d %s", c.method, c.path, w.Code, w.Body)
		}
	}
	if _, err := h.cl.GetRestApi(t.Context(), &apigateway.GetRestApiInput{RestApiId: api.Id}); err != nil {
		t.Fatalf("the REST API is gone: %v", err)
	}
}
