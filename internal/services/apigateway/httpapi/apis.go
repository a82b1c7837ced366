package httpapi

import (
	"net/http"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/lazyregexp"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

// handlers maps every pattern of the API to its handler; authz.go's table
// names each one's IAM action.
func (a *API) handlers() map[string]handler {
	return map[string]handler{
		"POST /v2/apis":                                        a.createAPI,
		"PUT /v2/apis":                                         a.importAPI,
		"PUT /v2/apis/{apiId}":                                 a.reimportAPI,
		"GET /v2/apis":                                         a.getAPIs,
		"GET /v2/apis/{apiId}":                                 a.getAPI,
		"PATCH /v2/apis/{apiId}":                               a.updateAPI,
		"DELETE /v2/apis/{apiId}":                              a.deleteAPI,
		"DELETE /v2/apis/{apiId}/cors":                         a.deleteCors,
		"POST /v2/apis/{apiId}/routes":                         a.createRoute,
		"GET /v2/apis/{apiId}/routes":                          a.getRoutes,
		"GET /v2/apis/{apiId}/routes/{routeId}":                a.getRoute,
		"PATCH /v2/apis/{apiId}/routes/{routeId}":              a.updateRoute,
		"DELETE /v2/apis/{apiId}/routes/{routeId}":             a.deleteRoute,
		"POST /v2/apis/{apiId}/integrations":                   a.createIntegration,
		"GET /v2/apis/{apiId}/integrations":                    a.getIntegrations,
		"GET /v2/apis/{apiId}/integrations/{integrationId}":    a.getIntegration,
		"PATCH /v2/apis/{apiId}/integrations/{integrationId}":  a.updateIntegration,
		"DELETE /v2/apis/{apiId}/integrations/{integrationId}": a.deleteIntegration,
		"POST /v2/apis/{apiId}/authorizers":                    a.createAuthorizer,
		"GET /v2/apis/{apiId}/authorizers":                     a.getAuthorizers,
		"GET /v2/apis/{apiId}/authorizers/{authorizerId}":      a.getAuthorizer,
		"PATCH /v2/apis/{apiId}/authorizers/{authorizerId}":    a.updateAuthorizer,
		"DELETE /v2/apis/{apiId}/authorizers/{authorizerId}":   a.deleteAuthorizer,
		"POST /v2/apis/{apiId}/stages":                         a.createStage,
		"GET /v2/apis/{apiId}/stages":                          a.getStages,
		"GET /v2/apis/{apiId}/stages/{stageName}":              a.getStage,
		"PATCH /v2/apis/{apiId}/stages/{stageName}":            a.updateStage,
		"DELETE /v2/apis/{apiId}/stages/{stageName}":           a.deleteStage,
		"POST /v2/apis/{apiId}/deployments":                    a.createDeployment,
		"GET /v2/apis/{apiId}/deployments":                     a.getDeployments,
		"GET /v2/apis/{apiId}/deployments/{deploymentId}":      a.getDeployment,
		"DELETE /v2/apis/{apiId}/deployments/{deploymentId}":   a.deleteDeployment,
		"POST /v2/tags/{arn...}":                               a.tagResource,
		"GET /v2/tags/{arn...}":                                a.getTags,
		"DELETE /v2/tags/{arn...}":                             a.untagResource,

		// Route responses (WebSocket APIs, websocket.go).
		"POST /v2/apis/{apiId}/routes/{routeId}/routeresponses":                     a.createRouteResponse,
		"GET /v2/apis/{apiId}/routes/{routeId}/routeresponses":                      a.getRouteResponses,
		"GET /v2/apis/{apiId}/routes/{routeId}/routeresponses/{routeResponseId}":    a.getRouteResponse,
		"DELETE /v2/apis/{apiId}/routes/{routeId}/routeresponses/{routeResponseId}": a.deleteRouteResponse,
	}
}

// apiOut is an API as the wire has it.
type apiOut struct {
	apigateway.API
	APIEndpoint string `json:"apiEndpoint"`
}

func (a *API) out(d *apigateway.Doc) apiOut {
	ep := a.endpoint(d.API.APIID)
	if d.API.ProtocolType == apigateway.ProtocolWebSocket {
		ep = "ws" + strings.TrimPrefix(ep, "http")
	}
	return apiOut{API: d.API, APIEndpoint: ep}
}

type apiInput struct {
	Name                      *string           `json:"name"`
	ProtocolType              string            `json:"protocolType"`
	Description               *string           `json:"description"`
	Version                   *string           `json:"version"`
	RouteSelectionExpression  *string           `json:"routeSelectionExpression"`
	APIKeySelectionExpression *string           `json:"apiKeySelectionExpression"`
	DisableExecuteAPIEndpoint *bool             `json:"disableExecuteApiEndpoint"`
	DisableSchemaValidation   *bool             `json:"disableSchemaValidation"`
	IPAddressType             *string           `json:"ipAddressType"`
	CorsConfiguration         *apigateway.Cors  `json:"corsConfiguration"`
	CredentialsARN            *string           `json:"credentialsArn"`
	RouteKey                  *string           `json:"routeKey"`
	Target                    *string           `json:"target"`
	Tags                      map[string]string `json:"tags"`
}

// apply sets what in names on api, validated.
func (in *apiInput) apply(api *apigateway.API) error {
	if in.Name != nil {
		if err := validName("Name", *in.Name); err != nil {
			return err
		}
		api.Name = *in.Name
	}
	if in.Description != nil {
		if len(*in.Description) > 1024 {
			return badRequest("Description must be at most 1024 characters")
		}
		api.Description = *in.Description
	}
	if in.Version != nil {
		if len(*in.Version) > 64 {
			return badRequest("Version must be at most 64 characters")
		}
		api.Version = *in.Version
	}
	if in.RouteSelectionExpression != nil {
		if api.ProtocolType == apigateway.ProtocolHTTP && *in.RouteSelectionExpression != "${request.method} ${request.path}" {
			return badRequest("Only '${request.method} ${request.path}' is supported as the route selection expression of an HTTP API")
		}
		if api.ProtocolType == apigateway.ProtocolWebSocket {
			if _, err := apigateway.ParseSelection(*in.RouteSelectionExpression); err != nil {
				return badRequest("Invalid route selection expression: %v", err)
			}
		}
		api.RouteSelectionExpression = *in.RouteSelectionExpression
	}
	if in.APIKeySelectionExpression != nil {
		api.APIKeySelectionExpression = *in.APIKeySelectionExpression
	}
	if in.DisableExecuteAPIEndpoint != nil {
		api.DisableExecuteAPIEndpoint = *in.DisableExecuteAPIEndpoint
	}
	if in.DisableSchemaValidation != nil {
		api.DisableSchemaValidation = *in.DisableSchemaValidation
	}
	if in.IPAddressType != nil {
		if *in.IPAddressType != "ipv4" && *in.IPAddressType != "dualstack" {
			return badRequest("Invalid IpAddressType %q: must be ipv4 or dualstack", *in.IPAddressType)
		}
		api.IPAddressType = *in.IPAddressType
	}
	if in.CorsConfiguration != nil {
		if api.ProtocolType == apigateway.ProtocolWebSocket {
			return badRequest("CORS configuration is supported only for HTTP APIs")
		}
		if err := validCors(in.CorsConfiguration); err != nil {
			return err
		}
		api.CorsConfiguration = in.CorsConfiguration
	}
	return nil
}

func validCors(c *apigateway.Cors) error {
	if c.MaxAge != nil && (*c.MaxAge < -1 || *c.MaxAge > 86400) {
		return badRequest("CORS maxAge must be between -1 and 86400")
	}
	if c.AllowCredentials != nil && *c.AllowCredentials {
		for _, o := range c.AllowOrigins {
			if o == "*" {
				return badRequest("allow-credentials is not supported when allow-origins includes '*'")
			}
		}
	}
	for _, m := range c.AllowMethods {
		if m != "*" && !methodToken.MatchString(m) {
			return badRequest("Invalid CORS allow-methods value %q", m)
		}
	}
	return nil
}

var methodToken = lazyregexp.New(`^[A-Z]+$`)

func (a *API) createAPI(w http.ResponseWriter, r *http.Request) error {
	var in apiInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Name == nil {
		return badRequest("Name is required")
	}
	switch in.ProtocolType {
	case apigateway.ProtocolHTTP:
	case apigateway.ProtocolWebSocket:
		if err := in.validWebSocket(); err != nil {
			return err
		}
	case "":
		return badRequest("ProtocolType is required")
	default:
		return badRequest("Invalid ProtocolType %q: must be HTTP or WEBSOCKET", in.ProtocolType)
	}
	if err := validTags(in.Tags); err != nil {
		return err
	}
	now := a.now()
	api := apigateway.API{APIID: apigateway.NewID(10), ProtocolType: in.ProtocolType, CreatedDate: now,
		RouteSelectionExpression: "${request.method} ${request.path}", APIKeySelectionExpression: "$request.header.x-api-key",
		IPAddressType: "ipv4", Tags: in.Tags}
	if in.ProtocolType == apigateway.ProtocolWebSocket {
		api.RouteSelectionExpression = ""
	}
	if err := in.apply(&api); err != nil {
		return err
	}
	d := apigateway.NewDoc(api)
	w0 := &apigateway.Write{Doc: d}
	if in.Target != nil {
		// Quick create: an integration, a route to it and an
		// auto-deployed $default stage, all managed by API Gateway.
		if _, err := apigateway.FunctionRef(*in.Target); err != nil {
			return badRequest("Invalid target %q: %v", *in.Target, err)
		}
		key := apigateway.DefaultRoute
		if in.RouteKey != nil {
			key = *in.RouteKey
		}
		if err := validRouteKey(key); err != nil {
			return err
		}
		integ := &apigateway.Integration{IntegrationID: apigateway.NewID(7), IntegrationType: "AWS_PROXY", IntegrationURI: *in.Target,
			IntegrationMethod: "POST", PayloadFormatVersion: "2.0", TimeoutInMillis: 30000, ConnectionType: "INTERNET", APIGatewayManaged: true}
		if in.CredentialsARN != nil {
			integ.CredentialsARN = *in.CredentialsARN
		}
		d.Integrations[integ.IntegrationID] = integ
		rt := &apigateway.Route{RouteID: apigateway.NewID(7), RouteKey: key, Target: "integrations/" + integ.IntegrationID,
			AuthorizationType: apigateway.AuthNone, APIGatewayManaged: true}
		d.Routes[rt.RouteID] = rt
		d.Stages[apigateway.DefaultStage] = &apigateway.Stage{StageName: apigateway.DefaultStage, AutoDeploy: true, APIGatewayManaged: true,
			DefaultRouteSettings: &apigateway.RouteSettings{DetailedMetricsEnabled: ptr(false)}, RouteSettings: map[string]*apigateway.RouteSettings{},
			StageVariables: map[string]string{}, Tags: map[string]string{}, CreatedDate: now, LastUpdatedDate: now}
		a.autoDeploy(w0, now)
	} else if in.RouteKey != nil || in.CredentialsARN != nil {
		return badRequest("RouteKey and CredentialsArn can only be set with Target (quick create)")
	}
	if err := a.st.Create(r.Context(), *w0); err != nil {
		return awsproto.Internal(err)
	}
	return write(w, http.StatusCreated, a.out(d))
}

func (a *API) getAPIs(w http.ResponseWriter, r *http.Request) error {
	docs := a.st.List()
	byID := make(map[string]*apigateway.Doc, len(docs))
	for _, d := range docs {
		if d.API.ProtocolType == apigateway.ProtocolREST {
			continue
		}
		byID[d.API.APIID] = d
	}
	ids, next, err := page(r, keys(byID))
	if err != nil {
		return err
	}
	out := make([]apiOut, 0, len(ids))
	for _, id := range ids {
		out = append(out, a.out(byID[id]))
	}
	return write(w, http.StatusOK, items{Items: out, NextToken: next})
}

func (a *API) getAPI(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	return write(w, http.StatusOK, a.out(d))
}

func (a *API) updateAPI(w http.ResponseWriter, r *http.Request) error {
	var in apiInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.ProtocolType != "" {
		return badRequest("ProtocolType cannot be changed")
	}
	d, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		if err := in.apply(&d.API); err != nil {
			return nil, err
		}
		w := &apigateway.Write{Doc: d}
		if in.Target != nil || in.RouteKey != nil {
			// Quick update: the managed integration and route.
			changed := false
			for _, integ := range d.Integrations {
				if integ.APIGatewayManaged && in.Target != nil {
					if _, err := apigateway.FunctionRef(*in.Target); err != nil {
						return nil, badRequest("Invalid target %q: %v", *in.Target, err)
					}
					integ.IntegrationURI, changed = *in.Target, true
				}
			}
			for _, rt := range d.Routes {
				if rt.APIGatewayManaged && in.RouteKey != nil {
					if err := validRouteKey(*in.RouteKey); err != nil {
						return nil, err
					}
					rt.RouteKey, changed = *in.RouteKey, true
				}
			}
			if !changed {
				return nil, badRequest("Target and RouteKey can only be updated on an API made by quick create")
			}
			a.autoDeploy(w, a.now())
		}
		return w, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusOK, a.out(d))
}

func (a *API) deleteAPI(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("apiId")
	if _, err := a.doc(id); err != nil {
		return err
	}
	if err := a.st.Delete(r.Context(), id); err != nil {
		if err == apigateway.ErrNotFound {
			return a.apiNotFound(id)
		}
		return awsproto.Internal(err)
	}
	return write(w, http.StatusNoContent, nil)
}

func (a *API) deleteCors(w http.ResponseWriter, r *http.Request) error {
	_, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		d.API.CorsConfiguration = nil
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusNoContent, nil)
}

func ptr[T any](v T) *T { return &v }
