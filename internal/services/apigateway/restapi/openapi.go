package restapi

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

// MaxDefinition is the largest OpenAPI definition ImportRestApi and
// PutRestApi take.
const MaxDefinition = 6 << 20

// restDefinition is the part of an OpenAPI 3 or Swagger 2 definition a
// REST API is built from, with API Gateway's extensions.
type restDefinition struct {
	Info struct {
		Title       string `json:"title"`
		Version     string `json:"version"`
		Description string `json:"description"`
	} `json:"info"`
	Paths            map[string]map[string]json.RawMessage `json:"paths"`
	Security         []map[string][]string                 `json:"security"`
	BinaryMediaTypes []string                              `json:"x-amazon-apigateway-binary-media-types"`
	APIKeySource     string                                `json:"x-amazon-apigateway-api-key-source"`
	Components       struct {
		SecuritySchemes map[string]restScheme `json:"securitySchemes"`
	} `json:"components"`
	SecurityDefinitions map[string]restScheme `json:"securityDefinitions"`
}

type restScheme struct {
	Type       string `json:"type"`
	Name       string `json:"name"`
	In         string `json:"in"`
	Authorizer *struct {
		Type                         string `json:"type"`
		AuthorizerURI                string `json:"authorizerUri"`
		AuthorizerResultTTLInSeconds *int   `json:"authorizerResultTtlInSeconds"`
		IdentitySource               string `json:"identitySource"`
		IdentityValidationExpression string `json:"identityValidationExpression"`
	} `json:"x-amazon-apigateway-authorizer"`
}

type restOperation struct {
	OperationID string                     `json:"operationId"`
	Security    []map[string][]string      `json:"security"`
	Responses   map[string]json.RawMessage `json:"responses"`
	Integration *struct {
		Type             string            `json:"type"`
		URI              string            `json:"uri"`
		HTTPMethod       string            `json:"httpMethod"`
		TimeoutInMillis  *int              `json:"timeoutInMillis"`
		RequestTemplates map[string]string `json:"requestTemplates"`
		PassthroughBehav string            `json:"passthroughBehavior"`
		ContentHandling  string            `json:"contentHandling"`
		Responses        map[string]struct {
			StatusCode         string            `json:"statusCode"`
			ResponseTemplates  map[string]string `json:"responseTemplates"`
			ResponseParameters map[string]string `json:"responseParameters"`
		} `json:"responses"`
	} `json:"x-amazon-apigateway-integration"`
}

var restOpenAPIMethods = map[string]string{
	"get": "GET", "put": "PUT", "post": "POST", "delete": "DELETE", "options": "OPTIONS",
	"head": "HEAD", "patch": "PATCH", "x-amazon-apigateway-any-method": "ANY",
}

// parseRestDefinition reads a definition into a REST API's settings, its
// resource tree (rooted at rootID) and authorizers.
func parseRestDefinition(body []byte, rootID string) (*apigateway.API, *apigateway.RestDoc, error) {
	var def restDefinition
	if err := yaml.Unmarshal(body, &def); err != nil {
		return nil, nil, badRequest("Invalid OpenAPI input: %v", err)
	}
	if len(def.Paths) == 0 && def.Info.Title == "" {
		return nil, nil, badRequest("Invalid OpenAPI input: no info or paths")
	}
	api := &apigateway.API{Name: def.Info.Title, Version: def.Info.Version, Description: def.Info.Description}
	rd := &apigateway.RestDoc{RootResourceID: rootID, BinaryMediaTypes: def.BinaryMediaTypes, APIKeySource: "HEADER",
		Resources: map[string]*apigateway.RestResource{rootID: {ID: rootID, Path: "/"}}, Authorizers: map[string]*apigateway.RestAuthorizer{}}
	if def.APIKeySource != "" {
		rd.APIKeySource = strings.ToUpper(def.APIKeySource)
	}
	schemes := def.Components.SecuritySchemes
	if len(schemes) == 0 {
		schemes = def.SecurityDefinitions
	}
	authByName := map[string]string{}
	apiKeySchemes := map[string]bool{}
	names := keys(schemes)
	sort.Strings(names)
	for _, name := range names {
		sc := schemes[name]
		if sc.Type == "apiKey" && strings.EqualFold(sc.Name, "x-api-key") && sc.Authorizer == nil {
			apiKeySchemes[name] = true
			continue
		}
		if sc.Authorizer == nil {
			continue
		}
		typ := strings.ToUpper(sc.Authorizer.Type)
		if typ != "TOKEN" && typ != "REQUEST" {
			return nil, nil, badRequest("Unsupported authorizer type %q in security scheme %s", sc.Authorizer.Type, name)
		}
		if _, err := apigateway.FunctionRef(sc.Authorizer.AuthorizerURI); err != nil {
			return nil, nil, badRequest("Invalid authorizerUri in security scheme %s", name)
		}
		src := sc.Authorizer.IdentitySource
		if src == "" && typ == "TOKEN" && sc.In == "header" && sc.Name != "" {
			src = "method.request.header." + sc.Name
		}
		ttl := 300
		if sc.Authorizer.AuthorizerResultTTLInSeconds != nil {
			ttl = *sc.Authorizer.AuthorizerResultTTLInSeconds
		}
		au := &apigateway.RestAuthorizer{ID: apigateway.NewID(6), Name: name, Type: typ, AuthorizerURI: sc.Authorizer.AuthorizerURI,
			IdentitySource: src, IdentityValidationExpression: sc.Authorizer.IdentityValidationExpression, AuthorizerResultTTLInSeconds: &ttl}
		if len(rd.Authorizers) >= MaxAuthorizers {
			return nil, nil, limitExceeded("Cannot create more than %d authorizers in a REST API", MaxAuthorizers)
		}
		rd.Authorizers[au.ID] = au
		authByName[name] = au.ID
	}
	paths := keys(def.Paths)
	sort.Strings(paths)
	for _, p := range paths {
		res, err := ensureResource(rd, p)
		if err != nil {
			return nil, nil, err
		}
		for key, raw := range def.Paths[p] {
			hm, ok := restOpenAPIMethods[strings.ToLower(key)]
			if !ok {
				continue
			}
			var op restOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, nil, badRequest("Invalid OpenAPI operation %s %s: %v", key, p, err)
			}
			m := &apigateway.RestMethod{HTTPMethod: hm, AuthorizationType: apigateway.AuthNone, OperationName: op.OperationID}
			security := op.Security
			if security == nil {
				security = def.Security
			}
			for _, req := range security {
				for name := range req {
					if apiKeySchemes[name] {
						m.APIKeyRequired = true
					} else if id, ok := authByName[name]; ok {
						m.AuthorizationType, m.AuthorizerID = apigateway.AuthCustom, id
					} else if sc, ok := schemes[name]; ok && sc.Type == "apiKey" && strings.Contains(strings.ToLower(name), "sigv4") {
						m.AuthorizationType = apigateway.AuthIAM
					}
				}
			}
			for code := range op.Responses {
				if validStatus(code) == nil {
					if m.MethodResponses == nil {
						m.MethodResponses = map[string]*apigateway.RestMethodResponse{}
					}
					m.MethodResponses[code] = &apigateway.RestMethodResponse{StatusCode: code}
				}
			}
			if in := op.Integration; in != nil {
				typ := strings.ToUpper(in.Type)
				if typ != IntegrationAWSProxy && typ != IntegrationMock {
					return nil, nil, badRequest("Integration type %s of %s %s is not supported; use aws_proxy or mock", in.Type, hm, p)
				}
				if typ == IntegrationAWSProxy {
					if _, err := apigateway.FunctionRef(stageVarRef.ReplaceAllString(in.URI, "v")); err != nil {
						return nil, nil, badRequest("Invalid ARN specified in the request: %s", in.URI)
					}
				}
				timeout := 29000
				if in.TimeoutInMillis != nil {
					timeout = *in.TimeoutInMillis
				}
				it := &apigateway.RestIntegration{Type: typ, HTTPMethod: in.HTTPMethod, URI: in.URI, RequestTemplates: in.RequestTemplates,
					PassthroughBehavior: in.PassthroughBehav, ContentHandling: in.ContentHandling, TimeoutInMillis: timeout,
					CacheNamespace: res.ID, CacheKeyParameters: []string{}}
				if it.PassthroughBehavior == "" {
					it.PassthroughBehavior = "WHEN_NO_MATCH"
				}
				for pattern, ir := range in.Responses {
					if it.IntegrationResponses == nil {
						it.IntegrationResponses = map[string]*apigateway.RestIntegrationResponse{}
					}
					sel := pattern
					if pattern == "default" {
						sel = ""
					}
					it.IntegrationResponses[ir.StatusCode] = &apigateway.RestIntegrationResponse{StatusCode: ir.StatusCode, SelectionPattern: sel,
						ResponseTemplates: ir.ResponseTemplates, ResponseParameters: ir.ResponseParameters}
				}
				m.MethodIntegration = it
			}
			if res.ResourceMethods == nil {
				res.ResourceMethods = map[string]*apigateway.RestMethod{}
			}
			res.ResourceMethods[hm] = m
		}
	}
	return api, rd, nil
}

// ensureResource finds or creates the resource of path p, and its
// parents, in rd.
func ensureResource(rd *apigateway.RestDoc, p string) (*apigateway.RestResource, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, badRequest("Invalid path %q: must start with '/'", p)
	}
	byPath := make(map[string]*apigateway.RestResource, len(rd.Resources))
	for _, r := range rd.Resources {
		byPath[r.Path] = r
	}
	cur := rd.Resources[rd.RootResourceID]
	for part := range strings.SplitSeq(strings.Trim(p, "/"), "/") {
		if part == "" {
			continue
		}
		if err := validPathPart(part); err != nil {
			return nil, err
		}
		path := strings.TrimSuffix(cur.Path, "/") + "/" + part
		if r, ok := byPath[path]; ok {
			cur = r
			continue
		}
		if _, err := apigateway.ParseRouteKey("GET " + path); err != nil {
			return nil, badRequest("Invalid resource path %s: %v", path, err)
		}
		if len(rd.Resources) >= MaxResources {
			return nil, limitExceeded("Cannot create more than %d resources in a REST API", MaxResources)
		}
		r := &apigateway.RestResource{ID: apigateway.NewID(10), ParentID: cur.ID, PathPart: part, Path: path}
		rd.Resources[r.ID] = r
		byPath[path] = r
		cur = r
	}
	return cur, nil
}

func readDefinition(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxDefinition+1))
	if err != nil {
		return nil, badRequest("Could not read the request body")
	}
	if len(b) > MaxDefinition {
		return nil, badRequest("The OpenAPI definition exceeds %d bytes", MaxDefinition)
	}
	return b, nil
}

// importRestAPI is ImportRestApi: POST /restapis?mode=import with the
// definition as the body.
func (a *API) importRestAPI(w http.ResponseWriter, r *http.Request) error {
	body, err := readDefinition(r)
	if err != nil {
		return err
	}
	if err := a.restAPIQuota(); err != nil {
		return err
	}
	root := apigateway.NewID(10)
	api, rd, err := parseRestDefinition(body, root)
	if err != nil {
		return err
	}
	if api.Name == "" {
		return badRequest("Invalid OpenAPI input: info.title is required")
	}
	api.APIID, api.ProtocolType, api.CreatedDate = apigateway.NewID(10), apigateway.ProtocolREST, a.now()
	rd.EndpointConfiguration = &apigateway.EndpointConfiguration{Types: []string{"EDGE"}}
	d := apigateway.NewDoc(*api)
	d.Rest = rd
	if err := a.st.Create(r.Context(), apigateway.Write{Doc: d}); err != nil {
		return awsproto.Internal(err)
	}
	return write(w, http.StatusCreated, restAPI(d))
}

// putRestAPI is PutRestApi: PUT /restapis/{id}?mode=merge|overwrite.
// Overwrite replaces the resources and authorizers (keeping the root
// resource's id, stages and deployments); merge adds the definition's
// paths and methods to them.
func (a *API) putRestAPI(w http.ResponseWriter, r *http.Request) error {
	mode := r.URL.Query().Get("mode")
	if mode == "" {
		mode = "merge"
	}
	if mode != "merge" && mode != "overwrite" {
		return badRequest("Invalid mode %q: must be merge or overwrite", mode)
	}
	body, err := readDefinition(r)
	if err != nil {
		return err
	}
	d, err := a.update(r.Context(), r.PathValue("restapi_id"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		api, rd, err := parseRestDefinition(body, d.Rest.RootResourceID)
		if err != nil {
			return nil, err
		}
		if mode == "overwrite" {
			if api.Name != "" {
				d.API.Name = api.Name
			}
			d.API.Version, d.API.Description = api.Version, api.Description
			rd.EndpointConfiguration, rd.Policy, rd.MinimumCompressionSize = d.Rest.EndpointConfiguration, d.Rest.Policy, d.Rest.MinimumCompressionSize
			d.Rest = rd
			return nil, nil
		}
		if d.Rest.Authorizers == nil {
			d.Rest.Authorizers = map[string]*apigateway.RestAuthorizer{}
		}
		for id, au := range rd.Authorizers {
			d.Rest.Authorizers[id] = au
		}
		if len(d.Rest.Authorizers) > MaxAuthorizers {
			return nil, limitExceeded("Cannot create more than %d authorizers in a REST API", MaxAuthorizers)
		}
		for _, t := range rd.BinaryMediaTypes {
			d.Rest.BinaryMediaTypes = append(removeString(d.Rest.BinaryMediaTypes, t), t)
		}
		for _, res := range rd.Resources {
			if len(res.ResourceMethods) == 0 {
				continue
			}
			dst, err := ensureResource(d.Rest, res.Path)
			if err != nil {
				return nil, err
			}
			if dst.ResourceMethods == nil {
				dst.ResourceMethods = map[string]*apigateway.RestMethod{}
			}
			for hm, m := range res.ResourceMethods {
				dst.ResourceMethods[hm] = m
			}
		}
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusOK, restAPI(d))
}
