package httpapi_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
)

// TestWebSocketAPI: a WEBSOCKET API with its route selection expression,
// reserved and custom route keys, payload 1.0 integrations, a route
// response, and an auto-deployed named stage; what AWS refuses is
// refused and changes nothing.
func TestWebSocketAPI(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	ws := types.ProtocolTypeWebsocket
	_, err := h.cl.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("chat"), ProtocolType: ws})
	wantCode(t, err, "BadRequestException", "RouteSelectionExpression is required for WEBSOCKET APIs")
	_, err = h.cl.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("chat"), ProtocolType: ws,
		RouteSelectionExpression: aws.String("$request.body.action"), Target: aws.String(fnARN)})
	wantCode(t, err, "BadRequestException", "")
	_, err = h.cl.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("chat"), ProtocolType: ws,
		RouteSelectionExpression: aws.String("${request.method} ${request.path}")})
	wantCode(t, err, "BadRequestException", "")
	if n := len(h.st.List()); n != 0 {
		t.Fatalf("refused requests left %d APIs", n)
	}
	api := must[*apigatewayv2.CreateApiOutput](t, "CreateApi")(h.cl.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("chat"),
		ProtocolType: ws, RouteSelectionExpression: aws.String("$request.body.action")}))
	if got, want := aws.ToString(api.ApiEndpoint), "ws://"+aws.ToString(api.ApiId)+".execute-api.us-east-1.localhost:9070"; got != want {
		t.Errorf("ApiEndpoint %s, want %s", got, want)
	}
	if aws.ToString(api.RouteSelectionExpression) != "$request.body.action" || api.ProtocolType != ws {
		t.Errorf("CreateApi answered %+v", api)
	}
	id := api.ApiId
	integ := must[*apigatewayv2.CreateIntegrationOutput](t, "CreateIntegration")(h.cl.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{
		ApiId: id, IntegrationType: types.IntegrationTypeAwsProxy, IntegrationUri: aws.String(fnARN)}))
	if aws.ToString(integ.PayloadFormatVersion) != "1.0" || aws.ToInt32(integ.TimeoutInMillis) != 29000 {
		t.Errorf("a WebSocket integration's defaults: format %s, timeout %d", aws.ToString(integ.PayloadFormatVersion), aws.ToInt32(integ.TimeoutInMillis))
	}
	_, err = h.cl.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: id, IntegrationType: types.IntegrationTypeAwsProxy,
		IntegrationUri: aws.String(fnARN), PayloadFormatVersion: aws.String("2.0")})
	wantCode(t, err, "BadRequestException", "")
	_, err = h.cl.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: id, IntegrationType: types.IntegrationTypeAwsProxy,
		IntegrationUri: aws.String(fnARN), TimeoutInMillis: aws.Int32(29001)})
	wantCode(t, err, "BadRequestException", "")
	target := aws.String("integrations/" + aws.ToString(integ.IntegrationId))
	for _, key := range []string{"$connect", "$disconnect", "$default", "sendmessage"} {
		must[*apigatewayv2.CreateRouteOutput](t, "CreateRoute "+key)(h.cl.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: id, RouteKey: aws.String(key), Target: target}))
	}
	for _, tc := range []struct {
		name string
		in   apigatewayv2.CreateRouteInput
	}{
		{"a reserved key", apigatewayv2.CreateRouteInput{RouteKey: aws.String("$other")}},
		{"an HTTP key is fine but a duplicate is not", apigatewayv2.CreateRouteInput{RouteKey: aws.String("sendmessage")}},
		{"a JWT authorizer", apigatewayv2.CreateRouteInput{RouteKey: aws.String("x"), AuthorizationType: types.AuthorizationTypeJwt}},
		{"a route response selection other than $default", apigatewayv2.CreateRouteInput{RouteKey: aws.String("y"), RouteResponseSelectionExpression: aws.String("$request.body.x")}},
	} {
		in := tc.in
		in.ApiId = id
		if _, err := h.cl.CreateRoute(ctx, &in); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	rt := must[*apigatewayv2.CreateRouteOutput](t, "CreateRoute echo")(h.cl.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: id,
		RouteKey: aws.String("echo"), Target: target, RouteResponseSelectionExpression: aws.String("$default")}))
	if aws.ToString(rt.RouteResponseSelectionExpression) != "$default" {
		t.Errorf("RouteResponseSelectionExpression %q", aws.ToString(rt.RouteResponseSelectionExpression))
	}
	_, err = h.cl.CreateRouteResponse(ctx, &apigatewayv2.CreateRouteResponseInput{ApiId: id, RouteId: rt.RouteId, RouteResponseKey: aws.String("$other")})
	wantCode(t, err, "BadRequestException", "")
	rr := must[*apigatewayv2.CreateRouteResponseOutput](t, "CreateRouteResponse")(h.cl.CreateRouteResponse(ctx, &apigatewayv2.CreateRouteResponseInput{
		ApiId: id, RouteId: rt.RouteId, RouteResponseKey: aws.String("$default")}))
	_, err = h.cl.CreateRouteResponse(ctx, &apigatewayv2.CreateRouteResponseInput{ApiId: id, RouteId: rt.RouteId, RouteResponseKey: aws.String("$default")})
	wantCode(t, err, "ConflictException", "")
	list := must[*apigatewayv2.GetRouteResponsesOutput](t, "GetRouteResponses")(h.cl.GetRouteResponses(ctx, &apigatewayv2.GetRouteResponsesInput{ApiId: id, RouteId: rt.RouteId}))
	if len(list.Items) != 1 || aws.ToString(list.Items[0].RouteResponseId) != aws.ToString(rr.RouteResponseId) || aws.ToString(list.Items[0].RouteResponseKey) != "$default" {
		t.Errorf("GetRouteResponses %+v", list.Items)
	}
	st := must[*apigatewayv2.CreateStageOutput](t, "CreateStage")(h.cl.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: id, StageName: aws.String("prod"), AutoDeploy: aws.Bool(true)}))
	if aws.ToString(st.DeploymentId) == "" {
		t.Fatalf("the auto-deployed stage has no deployment")
	}
	sn, ok := h.st.Snapshot(aws.ToString(id), aws.ToString(st.DeploymentId))
	if !ok || len(sn.Routes) != 5 || len(sn.RouteResponses[aws.ToString(rt.RouteId)]) != 1 {
		t.Fatalf("the deployment froze %d routes and route responses %v", len(sn.Routes), sn.RouteResponses)
	}
	must[*apigatewayv2.DeleteRouteResponseOutput](t, "DeleteRouteResponse")(h.cl.DeleteRouteResponse(ctx, &apigatewayv2.DeleteRouteResponseInput{ApiId: id, RouteId: rt.RouteId, RouteResponseId: rr.RouteResponseId}))
	_, err = h.cl.GetRouteResponse(ctx, &apigatewayv2.GetRouteResponseInput{ApiId: id, RouteId: rt.RouteId, RouteResponseId: rr.RouteResponseId})
	wantCode(t, err, "NotFoundException", "")
	// Survives a restart.
	h.restart(t)
	got := must[*apigatewayv2.GetApiOutput](t, "GetApi")(h.cl.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: id}))
	if got.ProtocolType != ws || aws.ToString(got.RouteSelectionExpression) != "$request.body.action" {
		t.Errorf("after a restart: %+v", got)
	}
	routes := must[*apigatewayv2.GetRoutesOutput](t, "GetRoutes")(h.cl.GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: id}))
	if len(routes.Items) != 5 {
		t.Errorf("after a restart: %d routes", len(routes.Items))
	}
	// Route responses are WebSocket APIs' only.
	httpAPI := must[*apigatewayv2.CreateApiOutput](t, "CreateApi")(h.cl.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("h"), ProtocolType: types.ProtocolTypeHttp}))
	_, err = h.cl.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: httpAPI.ApiId, RouteKey: aws.String("sendmessage")})
	wantCode(t, err, "BadRequestException", "")
}
