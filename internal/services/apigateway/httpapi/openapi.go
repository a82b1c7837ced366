package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

// MaxDefinition is the largest OpenAPI definition ImportApi takes.
const MaxDefinition = 6 << 20

// openAPI is the part of an OpenAPI 3 definition an HTTP API is built
// from, with API Gateway's extensions.
type openAPI struct {
	OpenAPI string `json:"openapi"`
	Swagger string `json:"swagger"`
	Info    struct {
		Title       string `json:"title"`
		Version     string `json:"version"`
		Description string `json:"description"`
	} `json:"info"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Security   []map[string][]string                 `json:"security"`
	Components struct {
		SecuritySchemes map[string]securityScheme `json:"securitySchemes"`
	} `json:"components"`
	Cors *struct {
		AllowOrigins     []string `json:"allowOrigins"`
		AllowMethods     []string `json:"allowMethods"`
		AllowHeaders     []string `json:"allowHeaders"`
		ExposeHeaders    []string `json:"exposeHeaders"`
		MaxAge           *int     `json:"maxAge"`
		AllowCredentials *bool    `json:"allowCredentials"`
	} `json:"x-amazon-apigateway-cors"`
}

type securityScheme struct {
	Type       string `json:"type"`
	AuthType   string `json:"x-amazon-apigateway-authtype"`
	Authorizer *struct {
		Type                           string                       `json:"type"`
		AuthorizerURI                  string                       `json:"authorizerUri"`
		AuthorizerPayloadFormatVersion string                       `json:"authorizerPayloadFormatVersion"`
		AuthorizerResultTTLInSeconds   *int                         `json:"authorizerResultTtlInSeconds"`
		EnableSimpleResponses          bool                         `json:"enableSimpleResponses"`
		IdentitySource                 string                       `json:"identitySource"`
		JWTConfiguration               *apigateway.JWTConfiguration `json:"jwtConfiguration"`
	} `json:"x-amazon-apigateway-authorizer"`
}

type openAPIOperation struct {
	OperationID string                `json:"operationId"`
	Security    []map[string][]string `json:"security"`
	Integration *struct {
		Type                 string `json:"type"`
		URI                  string `json:"uri"`
		HTTPMethod           string `json:"httpMethod"`
		PayloadFormatVersion string `json:"payloadFormatVersion"`
		TimeoutInMillis      *int   `json:"timeoutInMillis"`
		ConnectionType       string `json:"connectionType"`
		Credentials          string `json:"credentials"`
	} `json:"x-amazon-apigateway-integration"`
}

// openAPIMethods maps an OpenAPI operation's key to a route method.
var openAPIMethods = map[string]string{
	"get": "GET", "put": "PUT", "post": "POST", "delete": "DELETE", "options": "OPTIONS",
	"head": "HEAD", "patch": "PATCH", "x-amazon-apigateway-any-method": "ANY",
}

// definition is what an OpenAPI definition makes of an API.
type definition struct {
	api          apigateway.API
	cors         *apigateway.Cors
	routes       map[string]*apigateway.Route
	integrations map[string]*apigateway.Integration
	authorizers  map[string]*apigateway.Authorizer
	warnings     []string
}

// parseDefinition reads an OpenAPI 3 definition (JSON or YAML) into
// routes, integrations and authorizers, validated as CreateRoute,
// CreateIntegration and CreateAuthorizer validate theirs. What API
// Gateway would ignore is a warning. The servers' base paths are ignored
// (basepath=ignore, the default; prepend and split are taken as ignore).
func parseDefinition(body string) (*definition, error) {
	if len(body) > MaxDefinition {
		return nil, badRequest("The definition is larger than %d bytes", MaxDefinition)
	}
	raw, err := yaml.YAMLToJSON([]byte(body))
	if err != nil {
		return nil, badRequest("The definition is neither JSON nor YAML: %v", err)
	}
	var doc openAPI
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, badRequest("Invalid OpenAPI definition: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		return nil, badRequest("Only OpenAPI 3 definitions can be imported into an HTTP API")
	}
	if doc.Info.Title == "" {
		return nil, badRequest("The definition has no info.title to name the API")
	}
	d := &definition{routes: map[string]*apigateway.Route{}, integrations: map[string]*apigateway.Integration{}, authorizers: map[string]*apigateway.Authorizer{}}
	d.api = apigateway.API{Name: doc.Info.Title, Version: doc.Info.Version, Description: doc.Info.Description}
	if c := doc.Cors; c != nil {
		d.cors = &apigateway.Cors{AllowOrigins: c.AllowOrigins, AllowMethods: c.AllowMethods, AllowHeaders: c.AllowHeaders,
			ExposeHeaders: c.ExposeHeaders, MaxAge: c.MaxAge, AllowCredentials: c.AllowCredentials}
		if err := validCors(d.cors); err != nil {
			return nil, err
		}
	}
	// Authorizers, by scheme name.
	byScheme := map[string]*apigateway.Authorizer{}
	iamSchemes := map[string]bool{}
	names := keys(doc.Components.SecuritySchemes)
	sort.Strings(names)
	for _, name := range names {
		sc := doc.Components.SecuritySchemes[name]
		switch {
		case strings.EqualFold(sc.AuthType, "awsSigv4"):
			iamSchemes[name] = true
		case sc.Authorizer != nil:
			a := sc.Authorizer
			in := authorizerInput{Name: &name, AuthorizerType: ptr(strings.ToUpper(a.Type)), AuthorizerURI: &a.AuthorizerURI,
				AuthorizerPayloadFormatVersion: &a.AuthorizerPayloadFormatVersion, AuthorizerResultTTLInSeconds: a.AuthorizerResultTTLInSeconds,
				EnableSimpleResponses: &a.EnableSimpleResponses, JWTConfiguration: a.JWTConfiguration}
			for _, s := range strings.Split(a.IdentitySource, ",") {
				if s = strings.TrimSpace(s); s != "" {
					in.IdentitySource = append(in.IdentitySource, s)
				}
			}
			az := &apigateway.Authorizer{AuthorizerID: apigateway.NewID(7)}
			if *in.AuthorizerType == "REQUEST" && a.AuthorizerResultTTLInSeconds == nil {
				az.AuthorizerResultTTLInSeconds = ptr(300)
			}
			if err := in.apply(az); err != nil {
				return nil, badRequest("Security scheme %s: %s", name, awsproto.AsError(err).Message)
			}
			byScheme[name] = az
			d.authorizers[az.AuthorizerID] = az
		default:
			d.warnings = append(d.warnings, fmt.Sprintf("Security scheme %s is not an API Gateway authorizer; ignored", name))
		}
	}
	paths := keys(doc.Paths)
	sort.Strings(paths)
	for _, p := range paths {
		ops := doc.Paths[p]
		methods := keys(ops)
		sort.Strings(methods)
		for _, m := range methods {
			method, ok := openAPIMethods[strings.ToLower(m)]
			if !ok {
				continue // parameters, summary, servers…
			}
			var op openAPIOperation
			if err := json.Unmarshal(ops[m], &op); err != nil {
				return nil, badRequest("Invalid operation %s %s: %v", m, p, err)
			}
			key := method + " " + p
			if p == "$default" || p == "/$default" {
				key = apigateway.DefaultRoute
			}
			if err := validRouteKey(key); err != nil {
				return nil, err
			}
			rt := &apigateway.Route{RouteID: apigateway.NewID(7), RouteKey: key, AuthorizationType: apigateway.AuthNone, OperationName: op.OperationID}
			if ig := op.Integration; ig != nil {
				if !strings.EqualFold(ig.Type, "aws_proxy") {
					d.warnings = append(d.warnings, fmt.Sprintf("%s: integration type %s is not supported; the route has no integration", key, ig.Type))
				} else {
					pfv := ig.PayloadFormatVersion
					if pfv == "" {
						pfv = "2.0"
					}
					in := integrationInput{IntegrationType: ptr("AWS_PROXY"), IntegrationURI: &ig.URI, PayloadFormatVersion: &pfv, TimeoutInMillis: ig.TimeoutInMillis}
					if ig.Credentials != "" {
						in.CredentialsARN = &ig.Credentials
					}
					it := &apigateway.Integration{IntegrationID: apigateway.NewID(7), IntegrationMethod: "POST", TimeoutInMillis: 30000, ConnectionType: "INTERNET"}
					if err := in.apply(it); err != nil {
						return nil, badRequest("%s: %s", key, awsproto.AsError(err).Message)
					}
					d.integrations[it.IntegrationID] = it
					rt.Target = "integrations/" + it.IntegrationID
				}
			} else {
				d.warnings = append(d.warnings, fmt.Sprintf("%s has no x-amazon-apigateway-integration", key))
			}
			security := doc.Security
			if op.Security != nil {
				security = op.Security
			}
			for _, req := range security {
				for name, scopes := range req {
					switch {
					case iamSchemes[name]:
						rt.AuthorizationType = apigateway.AuthIAM
					case byScheme[name] != nil:
						az := byScheme[name]
						rt.AuthorizerID = az.AuthorizerID
						rt.AuthorizationType = apigateway.AuthCustom
						if az.AuthorizerType == "JWT" {
							rt.AuthorizationType, rt.AuthorizationScopes = apigateway.AuthJWT, scopes
						}
					default:
						return nil, badRequest("%s uses security scheme %s, which the definition does not define", key, name)
					}
				}
			}
			for _, o := range d.routes {
				if o.RouteKey == key {
					return nil, badRequest("Route %s is defined twice", key)
				}
			}
			d.routes[rt.RouteID] = rt
		}
	}
	if len(d.routes) > 300 {
		return nil, badRequest("An HTTP API can have at most 300 routes")
	}
	return d, nil
}

// importOutput is ImportApi's and ReimportApi's answer: the API, and the
// warnings of its definition.
type importOutput struct {
	apiOut
	Warnings []string `json:"warnings,omitempty"`
}

func (a *API) readDefinition(r *http.Request) (*definition, error) {
	var in struct {
		Body string `json:"body"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if in.Body == "" {
		return nil, badRequest("Body is required")
	}
	q := r.URL.Query()
	if bp := q.Get("basepath"); bp != "" && bp != "ignore" && bp != "prepend" && bp != "split" {
		return nil, badRequest("Invalid basepath %q: must be ignore, prepend or split", bp)
	}
	d, err := parseDefinition(in.Body)
	if err != nil {
		return nil, err
	}
	if q.Get("failOnWarnings") == "true" && len(d.warnings) > 0 {
		return nil, badRequest("Warnings found during import:\n\t%s", strings.Join(d.warnings, "\n\t"))
	}
	return d, nil
}

func (a *API) importAPI(w http.ResponseWriter, r *http.Request) error {
	def, err := a.readDefinition(r)
	if err != nil {
		return err
	}
	now := a.now()
	api := def.api
	api.APIID, api.ProtocolType, api.CreatedDate = apigateway.NewID(10), apigateway.ProtocolHTTP, now
	api.RouteSelectionExpression, api.APIKeySelectionExpression, api.IPAddressType = "${request.method} ${request.path}", "$request.header.x-api-key", "ipv4"
	api.CorsConfiguration = def.cors
	d := apigateway.NewDoc(api)
	d.Routes, d.Integrations, d.Authorizers = def.routes, def.integrations, def.authorizers
	if err := a.st.Create(r.Context(), apigateway.Write{Doc: d}); err != nil {
		return awsproto.Internal(err)
	}
	return write(w, http.StatusCreated, importOutput{apiOut: a.out(d), Warnings: def.warnings})
}

// reimportAPI replaces an API's routes, integrations, authorizers and
// settings with a definition's, and deploys them to AutoDeploy stages.
func (a *API) reimportAPI(w http.ResponseWriter, r *http.Request) error {
	def, err := a.readDefinition(r)
	if err != nil {
		return err
	}
	d, err := a.update(r.Context(), r.PathValue("apiId"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		if d.API.ProtocolType != apigateway.ProtocolHTTP {
			return nil, badRequest("Only HTTP APIs can be reimported")
		}
		d.API.Name, d.API.Version, d.API.Description, d.API.CorsConfiguration = def.api.Name, def.api.Version, def.api.Description, def.cors
		d.Routes, d.Integrations, d.Authorizers = def.routes, def.integrations, def.authorizers
		w := &apigateway.Write{Doc: d}
		a.autoDeploy(w, a.now())
		return w, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusCreated, importOutput{apiOut: a.out(d), Warnings: def.warnings})
}
