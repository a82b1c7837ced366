package restapi

import (
	"net/http"
	"strconv"

	"github.com/kumo-run/kumo/internal/lazyregexp"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

// stageVarRef is a stage variable in an integration's URI, as in
// …function:fn:${stageVariables.alias}/invocations.
var stageVarRef = lazyregexp.New(`\$\{stageVariables\.[A-Za-z0-9_]+\}`)

var httpMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "DELETE": true, "PATCH": true, "HEAD": true, "OPTIONS": true, "ANY": true}

func methodNotFound() error      { return notFound("Invalid Method identifier specified") }
func integrationNotFound() error { return notFound("Invalid Integration identifier specified") }
func responseNotFound() error    { return notFound("Invalid Response status code specified") }

// method finds the resource and method of a request's path in d.
func method(d *apigateway.Doc, r *http.Request) (*apigateway.RestResource, *apigateway.RestMethod, error) {
	res, ok := d.Rest.Resources[r.PathValue("resource_id")]
	if !ok {
		return nil, nil, resourceNotFound()
	}
	m, ok := res.ResourceMethods[r.PathValue("http_method")]
	if !ok {
		return res, nil, methodNotFound()
	}
	return res, m, nil
}

// methodIn is PutMethod's body.
type methodIn struct {
	AuthorizationType   string            `json:"authorizationType"`
	AuthorizerID        string            `json:"authorizerId"`
	APIKeyRequired      bool              `json:"apiKeyRequired"`
	OperationName       string            `json:"operationName"`
	RequestParameters   map[string]bool   `json:"requestParameters"`
	RequestModels       map[string]string `json:"requestModels"`
	RequestValidatorID  string            `json:"requestValidatorId"`
	AuthorizationScopes []string          `json:"authorizationScopes"`
}

func (a *API) putMethod(w http.ResponseWriter, r *http.Request) error {
	var in methodIn
	if err := decode(r, &in); err != nil {
		return err
	}
	hm := r.PathValue("http_method")
	if !httpMethods[hm] {
		return badRequest("Invalid HttpMethod specified. Valid options are GET,PUT,POST,DELETE,PATCH,OPTIONS,HEAD,ANY")
	}
	switch in.AuthorizationType {
	case apigateway.AuthNone, apigateway.AuthIAM, apigateway.AuthCustom:
	case "":
		return badRequest("Invalid authorization type specified. Valid options are NONE,AWS_IAM,CUSTOM,COGNITO_USER_POOLS")
	default:
		return badRequest("Invalid authorization type specified. Valid options are NONE,AWS_IAM,CUSTOM,COGNITO_USER_POOLS")
	}
	m := &apigateway.RestMethod{HTTPMethod: hm, AuthorizationType: in.AuthorizationType, AuthorizerID: in.AuthorizerID,
		APIKeyRequired: in.APIKeyRequired, OperationName: in.OperationName, RequestParameters: in.RequestParameters,
		RequestModels: in.RequestModels, RequestValidatorID: in.RequestValidatorID, AuthorizationScopes: in.AuthorizationScopes}
	_, err := a.update(r.Context(), r.PathValue("restapi_id"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		res, ok := d.Rest.Resources[r.PathValue("resource_id")]
		if !ok {
			return nil, resourceNotFound()
		}
		if _, ok := res.ResourceMethods[hm]; ok {
			return nil, conflict("Method already exists for this resource")
		}
		if m.AuthorizationType == apigateway.AuthCustom {
			if _, ok := d.Rest.Authorizers[m.AuthorizerID]; !ok {
				return nil, badRequest("Invalid authorizer ID specified. Setting the authorization type to CUSTOM requires a valid authorizer.")
			}
		} else {
			m.AuthorizerID = ""
		}
		if res.ResourceMethods == nil {
			res.ResourceMethods = map[string]*apigateway.RestMethod{}
		}
		res.ResourceMethods[hm] = m
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusCreated, m)
}

func (a *API) getMethod(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("restapi_id"))
	if err != nil {
		return err
	}
	_, m, err := method(d, r)
	if err != nil {
		return err
	}
	return write(w, http.StatusOK, m)
}

func (a *API) deleteMethod(w http.ResponseWriter, r *http.Request) error {
	_, err := a.update(r.Context(), r.PathValue("restapi_id"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		res, _, err := method(d, r)
		if err != nil {
			return nil, err
		}
		delete(res.ResourceMethods, r.PathValue("http_method"))
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusNoContent, nil)
}

func validStatus(s string) error {
	if n, err := strconv.Atoi(s); err != nil || n < 100 || n > 599 {
		return badRequest("Invalid status code specified: %s", s)
	}
	return nil
}

func (a *API) putMethodResponse(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ResponseParameters map[string]bool   `json:"responseParameters"`
		ResponseModels     map[string]string `json:"responseModels"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	code := r.PathValue("status_code")
	if err := validStatus(code); err != nil {
		return err
	}
	out := &apigateway.RestMethodResponse{StatusCode: code, ResponseParameters: in.ResponseParameters, ResponseModels: in.ResponseModels}
	_, err := a.update(r.Context(), r.PathValue("restapi_id"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		_, m, err := method(d, r)
		if err != nil {
			return nil, err
		}
		if m.MethodResponses == nil {
			m.MethodResponses = map[string]*apigateway.RestMethodResponse{}
		}
		m.MethodResponses[code] = out
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusCreated, out)
}

func (a *API) getMethodResponse(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("restapi_id"))
	if err != nil {
		return err
	}
	_, m, err := method(d, r)
	if err != nil {
		return err
	}
	mr, ok := m.MethodResponses[r.PathValue("status_code")]
	if !ok {
		return responseNotFound()
	}
	return write(w, http.StatusOK, mr)
}

// Integration types a method may have here: Lambda proxy and mock.
const (
	IntegrationAWSProxy = "AWS_PROXY"
	IntegrationMock     = "MOCK"
)

func (a *API) putIntegration(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Type                  string            `json:"type"`
		IntegrationHTTPMethod string            `json:"httpMethod"`
		URI                   string            `json:"uri"`
		ConnectionType        string            `json:"connectionType"`
		Credentials           string            `json:"credentials"`
		RequestParameters     map[string]string `json:"requestParameters"`
		RequestTemplates      map[string]string `json:"requestTemplates"`
		PassthroughBehavior   string            `json:"passthroughBehavior"`
		CacheNamespace        string            `json:"cacheNamespace"`
		CacheKeyParameters    []string          `json:"cacheKeyParameters"`
		ContentHandling       string            `json:"contentHandling"`
		TimeoutInMillis       *int              `json:"timeoutInMillis"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	switch in.Type {
	case IntegrationAWSProxy:
		if in.IntegrationHTTPMethod == "" {
			return badRequest("Enumeration value for HttpMethod must be non-empty")
		}
		if _, err := apigateway.FunctionRef(stageVarRef.ReplaceAllString(in.URI, "v")); err != nil {
			return badRequest("Invalid ARN specified in the request")
		}
	case IntegrationMock:
	case "":
		return badRequest("Invalid integration type specified. Valid options are HTTP,HTTP_PROXY,AWS,AWS_PROXY,MOCK")
	default:
		return badRequest("Integration type %s is not supported; use AWS_PROXY or MOCK", in.Type)
	}
	timeout := 29000
	if in.TimeoutInMillis != nil {
		if *in.TimeoutInMillis < 50 || *in.TimeoutInMillis > 29000 {
			return badRequest("Timeout should be between 50 ms and 29000 ms")
		}
		timeout = *in.TimeoutInMillis
	}
	if in.PassthroughBehavior == "" {
		in.PassthroughBehavior = "WHEN_NO_MATCH"
	}
	if in.CacheKeyParameters == nil {
		in.CacheKeyParameters = []string{}
	}
	it := &apigateway.RestIntegration{Type: in.Type, HTTPMethod: in.IntegrationHTTPMethod, URI: in.URI, ConnectionType: in.ConnectionType,
		Credentials: in.Credentials, RequestParameters: in.RequestParameters, RequestTemplates: in.RequestTemplates,
		PassthroughBehavior: in.PassthroughBehavior, ContentHandling: in.ContentHandling, TimeoutInMillis: timeout,
		CacheNamespace: in.CacheNamespace, CacheKeyParameters: in.CacheKeyParameters}
	_, err := a.update(r.Context(), r.PathValue("restapi_id"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		res, m, err := method(d, r)
		if err != nil {
			return nil, err
		}
		if it.CacheNamespace == "" {
			it.CacheNamespace = res.ID
		}
		m.MethodIntegration = it
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusCreated, it)
}

func (a *API) getIntegration(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("restapi_id"))
	if err != nil {
		return err
	}
	_, m, err := method(d, r)
	if err != nil {
		return err
	}
	if m.MethodIntegration == nil {
		return integrationNotFound()
	}
	return write(w, http.StatusOK, m.MethodIntegration)
}

func (a *API) deleteIntegration(w http.ResponseWriter, r *http.Request) error {
	_, err := a.update(r.Context(), r.PathValue("restapi_id"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		_, m, err := method(d, r)
		if err != nil {
			return nil, err
		}
		if m.MethodIntegration == nil {
			return nil, integrationNotFound()
		}
		m.MethodIntegration = nil
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusNoContent, nil)
}

func (a *API) putIntegrationResponse(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		SelectionPattern   string            `json:"selectionPattern"`
		ResponseParameters map[string]string `json:"responseParameters"`
		ResponseTemplates  map[string]string `json:"responseTemplates"`
		ContentHandling    string            `json:"contentHandling"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	code := r.PathValue("status_code")
	if err := validStatus(code); err != nil {
		return err
	}
	out := &apigateway.RestIntegrationResponse{StatusCode: code, SelectionPattern: in.SelectionPattern,
		ResponseParameters: in.ResponseParameters, ResponseTemplates: in.ResponseTemplates, ContentHandling: in.ContentHandling}
	_, err := a.update(r.Context(), r.PathValue("restapi_id"), func(d *apigateway.Doc) (*apigateway.Write, error) {
		_, m, err := method(d, r)
		if err != nil {
			return nil, err
		}
		if m.MethodIntegration == nil {
			return nil, integrationNotFound()
		}
		if _, ok := m.MethodResponses[code]; !ok {
			return nil, badRequest("Invalid method response status code specified: %s", code)
		}
		if m.MethodIntegration.IntegrationResponses == nil {
			m.MethodIntegration.IntegrationResponses = map[string]*apigateway.RestIntegrationResponse{}
		}
		m.MethodIntegration.IntegrationResponses[code] = out
		return nil, nil
	})
	if err != nil {
		return err
	}
	return write(w, http.StatusCreated, out)
}

func (a *API) getIntegrationResponse(w http.ResponseWriter, r *http.Request) error {
	d, err := a.doc(r.PathValue("restapi_id"))
	if err != nil {
		return err
	}
	_, m, err := method(d, r)
	if err != nil {
		return err
	}
	if m.MethodIntegration == nil {
		return integrationNotFound()
	}
	ir, ok := m.MethodIntegration.IntegrationResponses[r.PathValue("status_code")]
	if !ok {
		return responseNotFound()
	}
	return write(w, http.StatusOK, ir)
}
