package httpapi

import (
	"net/http"

	"github.com/kumo-run/kumo/internal/lazyregexp"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

// WebSocket APIs: what differs from HTTP APIs in the management API.

// validWebSocket checks CreateApi's input for a WEBSOCKET API: a route
// selection expression is required and quick create is HTTP's only.
func (in *apiInput) validWebSocket() error {
	if in.RouteSelectionExpression == nil {
		return badRequest("RouteSelectionExpression is required for WEBSOCKET APIs")
	}
	if in.Target != nil || in.RouteKey != nil || in.CredentialsARN != nil {
		return badRequest("Target, RouteKey and CredentialsArn (quick create) are supported only for HTTP APIs")
	}
	if in.CorsConfiguration != nil {
		return badRequest("CORS configuration is supported only for HTTP APIs")
	}
	return nil
}

// validRouteKeyOf checks a route key as the API's protocol has them.
func validRouteKeyOf(d *apigateway.Doc, key string) error {
	if d.API.ProtocolType != apigateway.ProtocolWebSocket {
		return validRouteKey(key)
	}
	if err := apigateway.ValidWebSocketRouteKey(key); err != nil {
		return badRequest("Invalid route key: %v", err)
	}
	return nil
}

// applyWebSocket applies and checks what a route input has that differs
// by protocol: the route response selection expression (WebSocket only,
// where "$default" is the only one AWS supports) and, for WebSocket
// routes, the authorization types this server serves.
func (in *routeInput) applyWebSocket(d *apigateway.Doc, rt *apigateway.Route) error {
	ws := d.API.ProtocolType == apigateway.ProtocolWebSocket
	if in.RouteResponseSelectionExpression != nil {
		if !ws {
			return badRequest("RouteResponseSelectionExpression is supported only for WebSocket APIs")
		}
		if e := *in.RouteResponseSelectionExpression; e != "" && e != "$default" {
			return badRequest("Invalid route response selection expression %q: only $default is supported", e)
		}
		rt.RouteResponseSelectionExpression = *in.RouteResponseSelectionExpression
	}
	if in.ModelSelectionExpression != nil && !ws {
		return badRequest("ModelSelectionExpression is supported only for WebSocket APIs")
	}
	if !ws {
		return nil
	}
	if in.AuthorizationType != nil && *in.AuthorizationType != apigateway.AuthNone {
		key := rt.RouteKey
		if in.RouteKey != nil {
			key = *in.RouteKey
		}
		if *in.AuthorizationType == apigateway.AuthJWT {
			return badRequest("JWT authorizers are supported only for HTTP APIs")
		}
		if key != apigateway.ConnectRoute {
			return badRequest("Currently, authorization is restricted to the $connect route only")
		}
	}
	if in.RouteKey != nil && *in.RouteKey != apigateway.ConnectRoute && rt.AuthorizationType != "" && rt.AuthorizationType != apigateway.AuthNone {
		return badRequest("Currently, authorization is restricted to the $connect route only")
	}
	if len(in.AuthorizationScopes) > 0 {
		return badRequest("AuthorizationScopes are supported only for HTTP APIs")
	}
	return nil
}

// webSocket gives a WEBSOCKET API's integration its defaults and checks
// what differs from HTTP APIs: payload format 1.0 only, a timeout of at
// most 29 seconds.
func (in *integrationInput) webSocket(d *apigateway.Doc, it *apigateway.Integration) error {
	if d.API.ProtocolType != apigateway.ProtocolWebSocket {
		return nil
	}
	if in.PayloadFormatVersion != nil && *in.PayloadFormatVersion != "1.0" {
		return badRequest("Invalid payload format version %q: WebSocket APIs support only 1.0", *in.PayloadFormatVersion)
	}
	if in.TimeoutInMillis != nil && (*in.TimeoutInMillis < 50 || *in.TimeoutInMillis > 29000) {
		return badRequest("Timeout must be between 50 milliseconds and 29 seconds for WebSocket APIs.")
	}
	if it.PayloadFormatVersion == "" {
		it.PayloadFormatVersion = "1.0"
	}
	if it.TimeoutInMillis > 29000 {
		it.TimeoutInMillis = 29000
	}
	return nil
}

// ---- authorizers

// wsIdentitySource is a WebSocket authorizer's identity source.
var wsIdentitySource = lazyregexp.New(`^route\.request\.(header|querystring)\.[^.\s]+$`)

// applyFor applies an authorizer input as the API's protocol has them:
// a WebSocket API's authorizers are REQUEST Lambda authorizers with IAM
// policy answers and identity sources route.request.header.<name> or
// route.request.querystring.<name>.
func (in *authorizerInput) applyFor(d *apigateway.Doc, az *apigateway.Authorizer) error {
	if d.API.ProtocolType != apigateway.ProtocolWebSocket {
		return in.apply(az)
	}
	if in.AuthorizerType != nil && *in.AuthorizerType != "REQUEST" {
		return badRequest("Invalid authorizer type %q: WebSocket APIs support REQUEST authorizers", *in.AuthorizerType)
	}
	if in.AuthorizerPayloadFormatVersion != nil || in.EnableSimpleResponses != nil || in.JWTConfiguration != nil {
		return badRequest("AuthorizerPayloadFormatVersion, EnableSimpleResponses and JwtConfiguration are supported only for HTTP APIs")
	}
	if in.Name != nil {
		if err := validName("Name", *in.Name); err != nil {
			return err
		}
		az.Name = *in.Name
	}
	az.AuthorizerType = "REQUEST"
	if in.AuthorizerURI != nil {
		az.AuthorizerURI = *in.AuthorizerURI
	}
	if in.AuthorizerCredentialsARN != nil {
		az.AuthorizerCredentialsARN = *in.AuthorizerCredentialsARN
	}
	if in.AuthorizerResultTTLInSeconds != nil {
		if *in.AuthorizerResultTTLInSeconds < 0 || *in.AuthorizerResultTTLInSeconds > 3600 {
			return badRequest("AuthorizerResultTtlInSeconds must be between 0 and 3600")
		}
		az.AuthorizerResultTTLInSeconds = in.AuthorizerResultTTLInSeconds
	}
	if in.IdentitySource != nil {
		az.IdentitySource = in.IdentitySource
	}
	if in.IdentityValidationExpression != nil {
		az.IdentityValidationExpression = *in.IdentityValidationExpression
	}
	for _, src := range az.IdentitySource {
		if !wsIdentitySource.MatchString(src) {
			return badRequest("Invalid identity source %q: must be route.request.header.<name> or route.request.querystring.<name>", src)
		}
	}
	if _, err := apigateway.FunctionRef(az.AuthorizerURI); err != nil {
		return badRequest("Invalid authorizer URI: %v", err)
	}
	return nil
}

// ---- route responses

type routeResponseInput struct {
	RouteResponseKey         *string `json:"routeResponseKey"`
	ModelSelectionExpression *string `json:"modelSelectionExpression"`
	ResponseModels           any     `json:"responseModels"`
	ResponseParameters       any     `json:"responseParameters"`
}

// wsRoute returns the WebSocket route of r's path from d.
func wsRoute(d *apigateway.Doc, id string) (*apigateway.Route, error) {
	if d.API.ProtocolType != apigateway.ProtocolWebSocket {
		return nil, badRequest("Route responses are supported only for WebSocket APIs")
	}
	rt := d.Routes[id]
	if rt == nil {
		return nil, notFound("Invalid Route identifier specified %s", id)
	}
	return rt, nil
}

func (a *API) createRouteResponse(w http.ResponseWriter, r *http.Request) error {
	var in routeResponseInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.RouteResponseKey == nil {
		return badRequest("RouteResponseKey is required")
	}
	if *in.RouteResponseKey != "$default" {
		return badRequest("Invalid route response key %q: only $default is supported", *in.RouteResponseKey)
	}
	if in.ResponseModels != nil || in.ResponseParameters != nil {
		return badRequest("ResponseModels and ResponseParameters are not supported for AWS_PROXY integrations")
	}
	routeID := r.PathValue("routeId")
	var out *apigateway.RouteResponse
	_, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		if _, err := wsRoute(d, routeID); err != nil {
			return nil, err
		}
		for _, o := range d.RouteResponses[routeID] {
			if o.RouteResponseKey == *in.RouteResponseKey {
				return nil, conflict("Route response with key %s already exists for this route", *in.RouteResponseKey)
			}
		}
		rr := &apigateway.RouteResponse{RouteResponseID: apigateway.NewID(6), RouteResponseKey: *in.RouteResponseKey}
		if in.ModelSelectionExpression != nil {
			rr.ModelSelectionExpression = *in.ModelSelectionExpression
		}
		if d.RouteResponses == nil {
			d.RouteResponses = map[string]map[string]*apigateway.RouteResponse{}
		}
		if d.RouteResponses[routeID] == nil {
			d.RouteResponses[routeID] = map[string]*apigateway.RouteResponse{}
		}
		d.RouteResponses[routeID][rr.RouteResponseID] = rr
		out = rr
		w := &apigateway.Write{Doc: d}
		a.autoDeploy(w, a.now())
		return w, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusCreated, out)
}

func (a *API) routeResponse(r *http.Request) (*apigateway.RouteResponse, error) {
	d, err := a.doc(r.PathValue("apiId"))
	if err != nil {
		return nil, err
	}
	if _, err := wsRoute(d, r.PathValue("routeId")); err != nil {
		return nil, err
	}
	rr := d.RouteResponses[r.PathValue("routeId")][r.PathValue("routeResponseId")]
	if rr == nil {
		return nil, notFound("Invalid RouteResponse identifier specified %s", r.PathValue("routeResponseId"))
	}
	return rr, nil
}

func (a *API) getRouteResponse(w http.ResponseWriter, r *http.Request) error {
	rr, err := a.routeResponse(r)
	if err != nil {
		return err
	}
	return write(w, http.StatusOK, rr)
}

func (a *API) getRouteResponses(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	routeID := r.PathValue("routeId")
	if _, err := wsRoute(d, routeID); err != nil {
		return err
	}
	rrs := d.RouteResponses[routeID]
	if rrs == nil {
		rrs = map[string]*apigateway.RouteResponse{}
	}
	ids, next, err := page(r, keys(rrs))
	if err != nil {
		return err
	}
	out := make([]*apigateway.RouteResponse, 0, len(ids))
	for _, id := range ids {
		out = append(out, rrs[id])
	}
	return write(w, http.StatusOK, items{Items: out, NextToken: next})
}

func (a *API) deleteRouteResponse(w http.ResponseWriter, r *http.Request) error {
	routeID, id := r.PathValue("routeId"), r.PathValue("routeResponseId")
	_, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		if _, err := wsRoute(d, routeID); err != nil {
			return nil, err
		}
		if d.RouteResponses[routeID][id] == nil {
			return nil, notFound("Invalid RouteResponse identifier specified %s", id)
		}
		delete(d.RouteResponses[routeID], id)
		if len(d.RouteResponses[routeID]) == 0 {
			delete(d.RouteResponses, routeID)
		}
		w := &apigateway.Write{Doc: d}
		a.autoDeploy(w, a.now())
		return w, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusNoContent, nil)
}
