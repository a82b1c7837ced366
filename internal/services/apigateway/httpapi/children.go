package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/lazyregexp"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

// autoDeploy deploys the document w carries to its AutoDeploy stages, as
// API Gateway does after every change: a new deployment with its
// snapshot, and the auto-deployed deployments no stage serves any more
// removed.
func (a *API) autoDeploy(w *apigateway.Write, now time.Time) {
	d := w.Doc
	var auto []*apigateway.Stage
	for _, st := range d.Stages {
		if st.AutoDeploy {
			auto = append(auto, st)
		}
	}
	if len(auto) == 0 {
		return
	}
	dep := &apigateway.Deployment{DeploymentID: apigateway.NewID(7), DeploymentStatus: "DEPLOYED", AutoDeployed: true, CreatedDate: now}
	a.deploy(w, dep, auto, now)
}

// deploy adds dep with a snapshot of w.Doc and points stages at it.
func (a *API) deploy(w *apigateway.Write, dep *apigateway.Deployment, stages []*apigateway.Stage, now time.Time) {
	d := w.Doc
	d.Deployments[dep.DeploymentID] = dep
	if w.Snapshots == nil {
		w.Snapshots = map[string]*apigateway.Snapshot{}
	}
	w.Snapshots[dep.DeploymentID] = d.Snapshot()
	for _, st := range stages {
		st.DeploymentID = dep.DeploymentID
		st.LastUpdatedDate = now
		st.LastDeploymentStatusMessage = fmt.Sprintf("Successfully deployed stage with deployment ID '%s'", dep.DeploymentID)
	}
	// Auto-deployed deployments that no stage serves are superseded.
	used := map[string]bool{}
	for _, st := range d.Stages {
		used[st.DeploymentID] = true
	}
	for id, old := range d.Deployments {
		if old.AutoDeployed && !used[id] {
			delete(d.Deployments, id)
			w.Drop = append(w.Drop, id)
		}
	}
}

// ---- routes

type routeInput struct {
	RouteKey            *string  `json:"routeKey"`
	Target              *string  `json:"target"`
	AuthorizationType   *string  `json:"authorizationType"`
	AuthorizerID        *string  `json:"authorizerId"`
	AuthorizationScopes []string `json:"authorizationScopes"`
	APIKeyRequired      *bool    `json:"apiKeyRequired"`
	OperationName       *string  `json:"operationName"`
	RequestParameters   any      `json:"requestParameters"`
	RequestModels       any      `json:"requestModels"`

	RouteResponseSelectionExpression *string `json:"routeResponseSelectionExpression"`
	ModelSelectionExpression         *string `json:"modelSelectionExpression"`
}

func validRouteKey(key string) error {
	if key == apigateway.DefaultRoute {
		return nil
	}
	if _, err := apigateway.ParseRouteKey(key); err != nil {
		return badRequest("Invalid route key: %v", err)
	}
	return nil
}

func (in *routeInput) apply(d *apigateway.Doc, rt *apigateway.Route) error {
	if err := in.applyWebSocket(d, rt); err != nil {
		return err
	}
	if in.RouteKey != nil {
		if err := validRouteKeyOf(d, *in.RouteKey); err != nil {
			return err
		}
		for _, o := range d.Routes {
			if o.RouteID != rt.RouteID && o.RouteKey == *in.RouteKey {
				return conflict("Route with key %s already exists for this API", *in.RouteKey)
			}
		}
		rt.RouteKey = *in.RouteKey
	}
	if in.Target != nil {
		if *in.Target != "" {
			id, ok := strings.CutPrefix(*in.Target, "integrations/")
			if !ok || d.Integrations[id] == nil {
				return badRequest("Invalid target %q: must be integrations/<integration-id> of this API", *in.Target)
			}
		}
		rt.Target = *in.Target
	}
	if in.AuthorizationType != nil {
		switch *in.AuthorizationType {
		case apigateway.AuthNone, apigateway.AuthIAM, apigateway.AuthCustom, apigateway.AuthJWT:
			rt.AuthorizationType = *in.AuthorizationType
		default:
			return badRequest("Invalid authorization type %q: must be NONE, AWS_IAM, CUSTOM or JWT", *in.AuthorizationType)
		}
	}
	if in.AuthorizerID != nil {
		rt.AuthorizerID = *in.AuthorizerID
	}
	if in.AuthorizationScopes != nil {
		rt.AuthorizationScopes = in.AuthorizationScopes
	}
	if in.APIKeyRequired != nil {
		if *in.APIKeyRequired {
			return badRequest("API keys are not supported for HTTP APIs")
		}
		rt.APIKeyRequired = false
	}
	if in.OperationName != nil {
		rt.OperationName = *in.OperationName
	}
	switch rt.AuthorizationType {
	case apigateway.AuthCustom, apigateway.AuthJWT:
		az := d.Authorizers[rt.AuthorizerID]
		want := "REQUEST"
		if rt.AuthorizationType == apigateway.AuthJWT {
			want = "JWT"
		}
		if az == nil || az.AuthorizerType != want {
			return badRequest("AuthorizationType %s requires the id of a %s authorizer of this API", rt.AuthorizationType, want)
		}
	default:
		if in.AuthorizerID != nil && *in.AuthorizerID != "" {
			return badRequest("AuthorizerId can only be set with AuthorizationType CUSTOM or JWT")
		}
		rt.AuthorizerID = ""
	}
	if len(rt.AuthorizationScopes) > 0 && rt.AuthorizationType != apigateway.AuthJWT {
		return badRequest("AuthorizationScopes can only be set with AuthorizationType JWT")
	}
	return nil
}

func (a *API) createRoute(w http.ResponseWriter, r *http.Request) error {
	var in routeInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.RouteKey == nil {
		return badRequest("RouteKey is required")
	}
	var out *apigateway.Route
	_, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		if len(d.Routes) >= 300 {
			return nil, badRequest("An HTTP API can have at most 300 routes")
		}
		rt := &apigateway.Route{RouteID: apigateway.NewID(7), AuthorizationType: apigateway.AuthNone}
		if err := in.apply(d, rt); err != nil {
			return nil, err
		}
		d.Routes[rt.RouteID] = rt
		out = rt
		w := &apigateway.Write{Doc: d}
		a.autoDeploy(w, a.now())
		return w, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusCreated, out)
}

func (a *API) route(r *http.Request) (*apigateway.Doc, *apigateway.Route, error) {
	d, err := a.doc(r.PathValue("apiId"))
	if err != nil {
		return nil, nil, err
	}
	rt := d.Routes[r.PathValue("routeId")]
	if rt == nil {
		return nil, nil, notFound("Invalid Route identifier specified %s", r.PathValue("routeId"))
	}
	return d, rt, nil
}

func (a *API) getRoute(w http.ResponseWriter, r *http.Request) error {
	_, rt, err := a.route(r)
	if err != nil {
		return err
	}
	return write(w, http.StatusOK, rt)
}

func (a *API) getRoutes(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	ids, next, err := page(r, keys(d.Routes))
	if err != nil {
		return err
	}
	out := make([]*apigateway.Route, 0, len(ids))
	for _, id := range ids {
		out = append(out, d.Routes[id])
	}
	return write(w, http.StatusOK, items{Items: out, NextToken: next})
}

func (a *API) updateRoute(w http.ResponseWriter, r *http.Request) error {
	var in routeInput
	if err := decode(r, &in); err != nil {
		return err
	}
	id := r.PathValue("routeId")
	var out *apigateway.Route
	_, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		rt := d.Routes[id]
		if rt == nil {
			return nil, notFound("Invalid Route identifier specified %s", id)
		}
		if err := in.apply(d, rt); err != nil {
			return nil, err
		}
		out = rt
		w := &apigateway.Write{Doc: d}
		a.autoDeploy(w, a.now())
		return w, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusOK, out)
}

func (a *API) deleteRoute(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("routeId")
	_, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		if d.Routes[id] == nil {
			return nil, notFound("Invalid Route identifier specified %s", id)
		}
		delete(d.Routes, id)
		delete(d.RouteResponses, id)
		w := &apigateway.Write{Doc: d}
		a.autoDeploy(w, a.now())
		return w, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusNoContent, nil)
}

// ---- integrations

type integrationInput struct {
	IntegrationType      *string           `json:"integrationType"`
	IntegrationURI       *string           `json:"integrationUri"`
	IntegrationMethod    *string           `json:"integrationMethod"`
	PayloadFormatVersion *string           `json:"payloadFormatVersion"`
	TimeoutInMillis      *int              `json:"timeoutInMillis"`
	ConnectionType       *string           `json:"connectionType"`
	Description          *string           `json:"description"`
	CredentialsARN       *string           `json:"credentialsArn"`
	RequestParameters    map[string]string `json:"requestParameters"`
}

func (in *integrationInput) apply(it *apigateway.Integration) error {
	if in.IntegrationType != nil {
		if *in.IntegrationType != "AWS_PROXY" {
			return badRequest("Unsupported integration type %q: this server serves AWS_PROXY integrations with Lambda functions", *in.IntegrationType)
		}
		it.IntegrationType = *in.IntegrationType
	}
	if in.IntegrationURI != nil {
		if _, err := apigateway.FunctionRef(*in.IntegrationURI); err != nil {
			return badRequest("Invalid integration URI specified: %v", err)
		}
		it.IntegrationURI = *in.IntegrationURI
	}
	if in.IntegrationMethod != nil {
		it.IntegrationMethod = *in.IntegrationMethod
	}
	if in.PayloadFormatVersion != nil {
		if *in.PayloadFormatVersion != "1.0" && *in.PayloadFormatVersion != "2.0" {
			return badRequest("Invalid payload format version %q: must be 1.0 or 2.0", *in.PayloadFormatVersion)
		}
		it.PayloadFormatVersion = *in.PayloadFormatVersion
	}
	if in.TimeoutInMillis != nil {
		if *in.TimeoutInMillis < 50 || *in.TimeoutInMillis > 30000 {
			return badRequest("Timeout must be between 50 milliseconds and 30 seconds.")
		}
		it.TimeoutInMillis = *in.TimeoutInMillis
	}
	if in.ConnectionType != nil {
		if *in.ConnectionType != "INTERNET" {
			return badRequest("Unsupported connection type %q", *in.ConnectionType)
		}
		it.ConnectionType = *in.ConnectionType
	}
	if in.Description != nil {
		it.Description = *in.Description
	}
	if in.CredentialsARN != nil {
		it.CredentialsARN = *in.CredentialsARN
	}
	if in.RequestParameters != nil {
		it.RequestParameters = in.RequestParameters
	}
	if it.IntegrationURI == "" {
		return badRequest("IntegrationUri is required for AWS_PROXY integrations")
	}
	if it.PayloadFormatVersion == "" {
		return badRequest("PayloadFormatVersion is required for AWS_PROXY integrations of HTTP APIs")
	}
	return nil
}

func (a *API) createIntegration(w http.ResponseWriter, r *http.Request) error {
	var in integrationInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.IntegrationType == nil {
		return badRequest("IntegrationType is required")
	}
	var out *apigateway.Integration
	_, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		it := &apigateway.Integration{IntegrationID: apigateway.NewID(7), IntegrationMethod: "POST", TimeoutInMillis: 30000, ConnectionType: "INTERNET"}
		if err := in.webSocket(d, it); err != nil {
			return nil, err
		}
		if err := in.apply(it); err != nil {
			return nil, err
		}
		d.Integrations[it.IntegrationID] = it
		out = it
		w := &apigateway.Write{Doc: d}
		a.autoDeploy(w, a.now())
		return w, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusCreated, out)
}

func (a *API) getIntegration(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	it := d.Integrations[r.PathValue("integrationId")]
	if it == nil {
		return notFound("Invalid Integration identifier specified %s", r.PathValue("integrationId"))
	}
	return write(w, http.StatusOK, it)
}

func (a *API) getIntegrations(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	ids, next, err := page(r, keys(d.Integrations))
	if err != nil {
		return err
	}
	out := make([]*apigateway.Integration, 0, len(ids))
	for _, id := range ids {
		out = append(out, d.Integrations[id])
	}
	return write(w, http.StatusOK, items{Items: out, NextToken: next})
}

func (a *API) updateIntegration(w http.ResponseWriter, r *http.Request) error {
	var in integrationInput
	if err := decode(r, &in); err != nil {
		return err
	}
	id := r.PathValue("integrationId")
	var out *apigateway.Integration
	_, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		it := d.Integrations[id]
		if it == nil {
			return nil, notFound("Invalid Integration identifier specified %s", id)
		}
		if err := in.webSocket(d, it); err != nil {
			return nil, err
		}
		if err := in.apply(it); err != nil {
			return nil, err
		}
		out = it
		w := &apigateway.Write{Doc: d}
		a.autoDeploy(w, a.now())
		return w, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusOK, out)
}

func (a *API) deleteIntegration(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("integrationId")
	_, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		if d.Integrations[id] == nil {
			return nil, notFound("Invalid Integration identifier specified %s", id)
		}
		for _, rt := range d.Routes {
			if rt.Target == "integrations/"+id {
				return nil, conflict("Integration %s is the target of route %s (%s); change the route first", id, rt.RouteID, rt.RouteKey)
			}
		}
		delete(d.Integrations, id)
		w := &apigateway.Write{Doc: d}
		a.autoDeploy(w, a.now())
		return w, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusNoContent, nil)
}

// ---- authorizers

type authorizerInput struct {
	Name                           *string                      `json:"name"`
	AuthorizerType                 *string                      `json:"authorizerType"`
	AuthorizerURI                  *string                      `json:"authorizerUri"`
	AuthorizerCredentialsARN       *string                      `json:"authorizerCredentialsArn"`
	AuthorizerPayloadFormatVersion *string                      `json:"authorizerPayloadFormatVersion"`
	AuthorizerResultTTLInSeconds   *int                         `json:"authorizerResultTtlInSeconds"`
	EnableSimpleResponses          *bool                        `json:"enableSimpleResponses"`
	IdentitySource                 []string                     `json:"identitySource"`
	IdentityValidationExpression   *string                      `json:"identityValidationExpression"`
	JWTConfiguration               *apigateway.JWTConfiguration `json:"jwtConfiguration"`
}

var identitySource = lazyregexp.New(`^\$(request\.header\.[A-Za-z0-9!#$%&'*+.^_` + "`" + `|~-]+|request\.querystring\.[^\s]+|context\.[A-Za-z0-9.]+|stageVariables\.[A-Za-z0-9_]+)$`)

func (in *authorizerInput) apply(az *apigateway.Authorizer) error {
	if in.Name != nil {
		if err := validName("Name", *in.Name); err != nil {
			return err
		}
		az.Name = *in.Name
	}
	if in.AuthorizerType != nil {
		if *in.AuthorizerType != "REQUEST" && *in.AuthorizerType != "JWT" {
			return badRequest("Invalid authorizer type %q: must be REQUEST or JWT", *in.AuthorizerType)
		}
		az.AuthorizerType = *in.AuthorizerType
	}
	if in.AuthorizerURI != nil {
		az.AuthorizerURI = *in.AuthorizerURI
	}
	if in.AuthorizerCredentialsARN != nil {
		az.AuthorizerCredentialsARN = *in.AuthorizerCredentialsARN
	}
	if in.AuthorizerPayloadFormatVersion != nil {
		az.AuthorizerPayloadFormatVersion = *in.AuthorizerPayloadFormatVersion
	}
	if in.AuthorizerResultTTLInSeconds != nil {
		if *in.AuthorizerResultTTLInSeconds < 0 || *in.AuthorizerResultTTLInSeconds > 3600 {
			return badRequest("AuthorizerResultTtlInSeconds must be between 0 and 3600")
		}
		az.AuthorizerResultTTLInSeconds = in.AuthorizerResultTTLInSeconds
	}
	if in.EnableSimpleResponses != nil {
		az.EnableSimpleResponses = *in.EnableSimpleResponses
	}
	if in.IdentitySource != nil {
		az.IdentitySource = in.IdentitySource
	}
	if in.IdentityValidationExpression != nil {
		az.IdentityValidationExpression = *in.IdentityValidationExpression
	}
	if in.JWTConfiguration != nil {
		az.JWTConfiguration = in.JWTConfiguration
	}
	for _, s := range az.IdentitySource {
		if !identitySource.MatchString(s) {
			return badRequest("Invalid identity source %q: must be $request.header.<name>, $request.querystring.<name>, $context.<variable> or $stageVariables.<name>", s)
		}
	}
	switch az.AuthorizerType {
	case "REQUEST":
		if _, err := apigateway.FunctionRef(az.AuthorizerURI); err != nil {
			return badRequest("Invalid authorizer URI: %v", err)
		}
		switch az.AuthorizerPayloadFormatVersion {
		case "1.0", "2.0":
		default:
			return badRequest("AuthorizerPayloadFormatVersion must be 1.0 or 2.0 for a REQUEST authorizer")
		}
		if az.EnableSimpleResponses && az.AuthorizerPayloadFormatVersion != "2.0" {
			return badRequest("Simple responses require AuthorizerPayloadFormatVersion 2.0")
		}
		ttl := 0
		if az.AuthorizerResultTTLInSeconds != nil {
			ttl = *az.AuthorizerResultTTLInSeconds
		}
		if ttl > 0 && len(az.IdentitySource) == 0 {
			return badRequest("IdentitySource is required when authorizer caching is enabled")
		}
	case "JWT":
		if az.JWTConfiguration == nil || az.JWTConfiguration.Issuer == "" || len(az.JWTConfiguration.Audience) == 0 {
			return badRequest("A JWT authorizer requires JwtConfiguration with an Issuer and at least one Audience")
		}
		if len(az.IdentitySource) != 1 {
			return badRequest("A JWT authorizer takes exactly one identity source")
		}
	}
	return nil
}

func (a *API) createAuthorizer(w http.ResponseWriter, r *http.Request) error {
	var in authorizerInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Name == nil || in.AuthorizerType == nil {
		return badRequest("Name and AuthorizerType are required")
	}
	var out *apigateway.Authorizer
	_, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		az := &apigateway.Authorizer{AuthorizerID: apigateway.NewID(7)}
		if *in.AuthorizerType == "REQUEST" && in.AuthorizerResultTTLInSeconds == nil {
			az.AuthorizerResultTTLInSeconds = ptr(300)
		}
		if err := in.applyFor(d, az); err != nil {
			return nil, err
		}
		for _, o := range d.Authorizers {
			if o.Name == az.Name {
				return nil, conflict("An authorizer named %s already exists for this API", az.Name)
			}
		}
		d.Authorizers[az.AuthorizerID] = az
		out = az
		w := &apigateway.Write{Doc: d}
		a.autoDeploy(w, a.now())
		return w, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusCreated, out)
}

func (a *API) getAuthorizer(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	az := d.Authorizers[r.PathValue("authorizerId")]
	if az == nil {
		return notFound("Invalid Authorizer identifier specified %s", r.PathValue("authorizerId"))
	}
	return write(w, http.StatusOK, az)
}

func (a *API) getAuthorizers(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	ids, next, err := page(r, keys(d.Authorizers))
	if err != nil {
		return err
	}
	out := make([]*apigateway.Authorizer, 0, len(ids))
	for _, id := range ids {
		out = append(out, d.Authorizers[id])
	}
	return write(w, http.StatusOK, items{Items: out, NextToken: next})
}

func (a *API) updateAuthorizer(w http.ResponseWriter, r *http.Request) error {
	var in authorizerInput
	if err := decode(r, &in); err != nil {
		return err
	}
	id := r.PathValue("authorizerId")
	var out *apigateway.Authorizer
	_, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		az := d.Authorizers[id]
		if az == nil {
			return nil, notFound("Invalid Authorizer identifier specified %s", id)
		}
		if in.AuthorizerType != nil && *in.AuthorizerType != az.AuthorizerType {
			return nil, badRequest("AuthorizerType cannot be changed")
		}
		if err := in.applyFor(d, az); err != nil {
			return nil, err
		}
		out = az
		w := &apigateway.Write{Doc: d}
		a.autoDeploy(w, a.now())
		return w, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusOK, out)
}

func (a *API) deleteAuthorizer(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("authorizerId")
	_, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		if d.Authorizers[id] == nil {
			return nil, notFound("Invalid Authorizer identifier specified %s", id)
		}
		for _, rt := range d.Routes {
			if rt.AuthorizerID == id {
				return nil, conflict("Authorizer %s is used by route %s (%s); change the route first", id, rt.RouteID, rt.RouteKey)
			}
		}
		delete(d.Authorizers, id)
		w := &apigateway.Write{Doc: d}
		a.autoDeploy(w, a.now())
		return w, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusNoContent, nil)
}
