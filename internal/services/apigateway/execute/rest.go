package execute

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/funcurl"
	"github.com/kumo-run/kumo/internal/lazyregexp"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

// REST APIs are served beside HTTP APIs: the same addressing and Router
// (a REST deployment compiles its methods to routes), with REST's own
// answers. The first path segment always names the stage; a path no
// resource matches is 403 Missing Authentication Token; a stage with a
// canary sends percentTraffic % of its requests, drawn at random, to the
// canary's deployment with the canary's stage variable overrides.

// restPlane is what the data plane keeps for REST APIs: the routers of
// canary deployments (a stage's own router is in the State's view) and
// the TOKEN/REQUEST authorizers' cached policies.
type restPlane struct {
	mu      sync.Mutex
	routers map[*apigateway.Snapshot]*apigateway.Router
	auth    map[string]restAuthEntry
}

const maxRestEntries = 10000

// router is the compiled router of a deployment's snapshot.
func (p *restPlane) router(sn *apigateway.Snapshot) *apigateway.Router {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.routers[sn]; ok {
		return r
	}
	if p.routers == nil || len(p.routers) >= maxRestEntries {
		p.routers = map[*apigateway.Snapshot]*apigateway.Router{}
	}
	r := apigateway.NewRouter(sn)
	p.routers[sn] = r
	return r
}

// restReply is one of API Gateway's own answers to a REST request, with
// its x-amzn-ErrorType.
func restReply(status int, errType, msg string) *funcurl.Reply {
	rep := platform(status, msg)
	if errType != "" {
		rep.Header["X-Amzn-Errortype"] = []string{errType}
	}
	return rep
}

var (
	restMissingToken = func() *funcurl.Reply {
		return restReply(http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	restForbidden    = func() *funcurl.Reply { return restReply(http.StatusForbidden, "ForbiddenException", "Forbidden") }
	restInternal     = func() *funcurl.Reply { return restReply(http.StatusInternalServerError, "", "Internal server error") }
	restBadGateway   = func() *funcurl.Reply { return restReply(http.StatusBadGateway, "", "Internal server error") }
	restTimedOut     = func() *funcurl.Reply { return restReply(http.StatusGatewayTimeout, "", "Endpoint request timed out") }
	restTooLarge     = func() *funcurl.Reply { return restReply(http.StatusRequestEntityTooLarge, "", "Request Too Long") }
	restThrottled    = func() *funcurl.Reply { return restReply(http.StatusTooManyRequests, "", "Too Many Requests") }
	restUnauthorized = func() *funcurl.Reply {
		return restReply(http.StatusUnauthorized, "UnauthorizedException", "Unauthorized")
	}
)

// restDenied is a Lambda authorizer's Deny, with the capital-M member AWS
// answers it with.
func restDenied() *funcurl.Reply {
	b, _ := json.Marshal(struct {
		Message string `json:"Message"`
	}{"User is not authorized to access this resource"})
	return &funcurl.Reply{Status: http.StatusForbidden, Header: http.Header{"Content-Type": {"application/json"},
		"X-Amzn-Errortype": {"AccessDeniedException"}}, Body: b}
}

// restRequest is a REST request being served, beside request's members.
type restRequest struct {
	*request
	snap     *apigateway.Snapshot
	method   *apigateway.RestMethod
	resource string // the resource's path
	canary   bool
	apiKey   *restKey
	authzKey string // the authorizer's usageIdentifierKey
}

// serveREST answers a request to a REST API.
func (s *Server) serveREST(r *http.Request, requestID string, t target, live *apigateway.Live) *funcurl.Reply {
	rep := s.restServe(r, requestID, t, live)
	rep.Header["X-Amz-Apigw-Id"] = []string{requestID}
	return rep
}

func (s *Server) restServe(r *http.Request, requestID string, t target, live *apigateway.Live) *funcurl.Reply {
	if live.Doc.API.DisableExecuteAPIEndpoint {
		return restForbidden()
	}
	first, rest, _ := strings.Cut(strings.TrimPrefix(t.path, "/"), "/")
	ls, ok := live.Stages[unescape(first)]
	if !ok || ls.Router == nil {
		return restMissingToken()
	}
	q := &restRequest{request: &request{r: r, requestID: requestID, t: t, live: live, path: "/" + rest, rawPath: t.path, now: s.now()}}
	st := ls.Stage
	router := ls.Router
	q.snap, _ = s.cfg.State.Snapshot(t.apiID, st.DeploymentID)
	if cs := st.CanarySettings; cs != nil && cs.PercentTraffic > 0 && cs.DeploymentID != "" {
		draw := rand.Float64
		if s.cfg.CanaryRandom != nil {
			draw = s.cfg.CanaryRandom
		}
		if draw()*100 < cs.PercentTraffic {
			if sn, ok := s.cfg.State.Snapshot(t.apiID, cs.DeploymentID); ok {
				q.snap, router, q.canary = sn, s.rest.router(sn), true
				c := *st
				c.StageVariables = make(map[string]string, len(st.StageVariables)+len(cs.StageVariableOverrides))
				for k, v := range st.StageVariables {
					c.StageVariables[k] = v
				}
				for k, v := range cs.StageVariableOverrides {
					c.StageVariables[k] = v
				}
				st = &c
			}
		}
	}
	if q.snap == nil || q.snap.Rest == nil {
		return restInternal()
	}
	q.stage = &apigateway.LiveStage{Stage: st, Router: router}
	b, params, ok := router.Match(r.Method, q.path)
	if !ok || b.Integration == nil {
		return restMissingToken()
	}
	q.binding, q.params = b, params
	q.method = q.snap.Rest.Methods[b.Route.RouteID]
	if q.method == nil || q.method.MethodIntegration == nil {
		return restInternal()
	}
	_, q.resource, _ = strings.Cut(b.Route.RouteKey, " ")
	if !s.allow(q.request) {
		return restThrottled()
	}
	if r.ContentLength > MaxRequestBody {
		return restTooLarge()
	}
	reserve := int64(MaxRequestBody)
	if r.ContentLength >= 0 {
		reserve = r.ContentLength
	}
	if s.inFlight.Add(reserve) > s.maxInFlight {
		s.inFlight.Add(-reserve)
		return restThrottled()
	}
	defer s.inFlight.Add(-reserve)
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBody+1))
	if err != nil {
		return restReply(http.StatusBadRequest, "", "Bad Request")
	}
	if len(body) > MaxRequestBody {
		return restTooLarge()
	}
	q.body = body
	if rep := s.restAuthorize(q); rep != nil {
		return rep
	}
	if q.method.APIKeyRequired {
		if rep := s.restAPIKey(q); rep != nil {
			return rep
		}
	}
	switch q.method.MethodIntegration.Type {
	case "MOCK":
		return restMock(q)
	case "AWS_PROXY":
		return s.restProxy(q)
	}
	return restInternal()
}

// methodARN is the ARN of the request's method as authorizers and IAM see
// it: arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH.
func (s *Server) methodARN(q *restRequest) string {
	return "arn:aws:execute-api:" + s.cfg.Region + ":" + s.cfg.Account + ":" + q.t.apiID + "/" + q.stage.Stage.StageName + "/" + q.r.Method + q.path
}

// ---- MOCK

// stageVarRef is a stage variable in an integration's URI.
var stageVarRef = lazyregexp.New(`\$\{stageVariables\.[A-Za-z0-9_]+\}`)

var statusInTemplate = lazyregexp.New(`"statusCode"\s*:\s*"?(\d{3})`)

// restMock answers from the method's integration: the status code its
// request template names (200 without one), mapped through the
// integration response whose selection pattern matches it (else the
// default one) with its response template as the body and its static
// header mappings. Templates are passed through, not evaluated.
func restMock(q *restRequest) *funcurl.Reply {
	it := q.method.MethodIntegration
	status := "200"
	if tpl, ok := pickTemplate(it.RequestTemplates, q.r.Header.Get("Content-Type")); ok {
		if m := statusInTemplate.FindStringSubmatch(tpl); m != nil {
			status = m[1]
		}
	}
	var chosen *apigateway.RestIntegrationResponse
	for _, ir := range it.IntegrationResponses {
		if ir.SelectionPattern == "" {
			if chosen == nil {
				chosen = ir
			}
			continue
		}
		if re, err := regexp.Compile("^(?:" + ir.SelectionPattern + ")$"); err == nil && re.MatchString(status) {
			chosen = ir
			break
		}
	}
	if chosen == nil {
		return restInternal()
	}
	code, err := strconv.Atoi(chosen.StatusCode)
	if err != nil {
		return restInternal()
	}
	rep := &funcurl.Reply{Status: code, Header: http.Header{}}
	for k, v := range chosen.ResponseParameters {
		name, ok := strings.CutPrefix(k, "method.response.header.")
		if ok && len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			rep.Header.Set(name, v[1:len(v)-1])
		}
	}
	if tpl, ok := pickTemplate(chosen.ResponseTemplates, q.r.Header.Get("Accept")); ok {
		rep.Body = []byte(tpl)
	}
	if rep.Header.Get("Content-Type") == "" {
		rep.Header.Set("Content-Type", "application/json")
	}
	return rep
}

// pickTemplate chooses a template by media type: the one for ct, else
// application/json, else any.
func pickTemplate(tpls map[string]string, ct string) (string, bool) {
	if len(tpls) == 0 {
		return "", false
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		if t, ok := tpls[mt]; ok {
			return t, true
		}
	}
	if t, ok := tpls["application/json"]; ok {
		return t, true
	}
	for _, t := range tpls {
		return t, true
	}
	return "", false
}

// isBinary reports whether a media type is one of the API's binary media
// types ("image/png", "image/*", "*/*").
func isBinary(ct string, types []string) bool {
	if len(types) == 0 || ct == "" {
		return false
	}
	for part := range strings.SplitSeq(ct, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		typ, _, _ := strings.Cut(mt, "/")
		for _, t := range types {
			t = strings.ToLower(t)
			if t == "*/*" || t == mt || t == typ+"/*" {
				return true
			}
		}
	}
	return false
}

// ---- AWS_PROXY

// restEvent is the Lambda proxy integration's event as REST APIs send it.
type restEvent struct {
	Resource                        string              `json:"resource"`
	Path                            string              `json:"path"`
	HTTPMethod                      string              `json:"httpMethod"`
	Headers                         map[string]string   `json:"headers"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`
	PathParameters                  map[string]string   `json:"pathParameters"`
	StageVariables                  map[string]string   `json:"stageVariables"`
	RequestContext                  restContext         `json:"requestContext"`
	Body                            *string             `json:"body"`
	IsBase64Encoded                 bool                `json:"isBase64Encoded"`
}

type restContext struct {
	ResourceID        string         `json:"resourceId"`
	ResourcePath      string         `json:"resourcePath"`
	HTTPMethod        string         `json:"httpMethod"`
	ExtendedRequestID string         `json:"extendedRequestId"`
	RequestTime       string         `json:"requestTime"`
	Path              string         `json:"path"`
	AccountID         string         `json:"accountId"`
	Protocol          string         `json:"protocol"`
	Stage             string         `json:"stage"`
	DomainPrefix      string         `json:"domainPrefix"`
	RequestTimeEpoch  int64          `json:"requestTimeEpoch"`
	RequestID         string         `json:"requestId"`
	Identity          restIdentity   `json:"identity"`
	DomainName        string         `json:"domainName"`
	APIID             string         `json:"apiId"`
	Authorizer        map[string]any `json:"authorizer,omitempty"`
}

type restIdentity struct {
	CognitoIdentityPoolID         *string `json:"cognitoIdentityPoolId"`
	AccountID                     *string `json:"accountId"`
	CognitoIdentityID             *string `json:"cognitoIdentityId"`
	Caller                        *string `json:"caller"`
	APIKey                        *string `json:"apiKey,omitempty"`
	APIKeyID                      *string `json:"apiKeyId,omitempty"`
	SourceIP                      string  `json:"sourceIp"`
	PrincipalOrgID                *string `json:"principalOrgId"`
	AccessKey                     *string `json:"accessKey"`
	CognitoAuthenticationType     *string `json:"cognitoAuthenticationType"`
	CognitoAuthenticationProvider *string `json:"cognitoAuthenticationProvider"`
	UserARN                       *string `json:"userArn"`
	UserAgent                     string  `json:"userAgent"`
	User                          *string `json:"user"`
}

// restProxyEvent builds the request's proxy event. Header names keep the
// case they arrived in (Go's canonical form); a body is base64 when its
// Content-Type is one of the API's binary media types.
func (s *Server) restProxyEvent(q *restRequest) *restEvent {
	r := q.r
	e := &restEvent{Resource: q.resource, Path: q.path, HTTPMethod: r.Method, PathParameters: q.params}
	if p, err := url.PathUnescape(q.path); err == nil {
		e.Path = p
	}
	if len(q.stage.Stage.StageVariables) > 0 {
		e.StageVariables = q.stage.Stage.StageVariables
	}
	e.Headers = make(map[string]string, len(r.Header)+4)
	e.MultiValueHeaders = make(map[string][]string, len(r.Header)+4)
	for name, vs := range r.Header {
		e.Headers[name] = vs[len(vs)-1]
		e.MultiValueHeaders[name] = append([]string(nil), vs...)
	}
	ip := funcurl.SourceIP(r)
	extra := map[string]string{"Host": r.Host, "X-Forwarded-Proto": "http", "X-Forwarded-For": ip, "X-Forwarded-Port": "80"}
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		extra["X-Forwarded-For"] = xff + ", " + ip
	}
	if i := strings.LastIndexByte(r.Host, ':'); i >= 0 && !strings.Contains(r.Host[i:], "]") {
		extra["X-Forwarded-Port"] = r.Host[i+1:]
	}
	for k, v := range extra {
		e.Headers[k] = v
		e.MultiValueHeaders[k] = []string{v}
	}
	if r.URL.RawQuery != "" {
		for part := range strings.SplitSeq(r.URL.RawQuery, "&") {
			if part == "" {
				continue
			}
			k, v, _ := strings.Cut(part, "=")
			if u, err := url.QueryUnescape(k); err == nil {
				k = u
			}
			if u, err := url.QueryUnescape(v); err == nil {
				v = u
			}
			if e.QueryStringParameters == nil {
				e.QueryStringParameters = map[string]string{}
				e.MultiValueQueryStringParameters = map[string][]string{}
			}
			e.QueryStringParameters[k] = v
			e.MultiValueQueryStringParameters[k] = append(e.MultiValueQueryStringParameters[k], v)
		}
	}
	if len(q.body) > 0 {
		var b string
		if isBinary(r.Header.Get("Content-Type"), q.snap.Rest.BinaryMediaTypes) {
			b = base64.StdEncoding.EncodeToString(q.body)
			e.IsBase64Encoded = true
		} else {
			b = string(q.body)
		}
		e.Body = &b
	}
	resourceID, _, _ := strings.Cut(q.binding.Route.RouteID, "-")
	fullPath := q.rawPath
	if p, err := url.PathUnescape(fullPath); err == nil {
		fullPath = p
	}
	e.RequestContext = restContext{ResourceID: resourceID, ResourcePath: q.resource, HTTPMethod: r.Method, ExtendedRequestID: q.requestID,
		RequestTime: q.now.UTC().Format(funcurl.EventTimeLayout), Path: fullPath, AccountID: s.cfg.Account, Protocol: r.Proto,
		Stage: q.stage.Stage.StageName, DomainPrefix: q.t.apiID, RequestTimeEpoch: q.now.UnixMilli(), RequestID: restRequestID(r),
		Identity: restIdentity{SourceIP: ip, UserAgent: r.UserAgent()}, DomainName: q.t.domain, APIID: q.t.apiID}
	if q.authz != nil {
		if q.authz.Lambda != nil {
			e.RequestContext.Authorizer = q.authz.Lambda
		}
		if id := q.authz.IAM; id != nil {
			id := id
			e.RequestContext.Identity.AccessKey, e.RequestContext.Identity.AccountID = &id.AccessKey, &id.AccountID
			e.RequestContext.Identity.Caller, e.RequestContext.Identity.User = &id.CallerID, &id.UserID
			e.RequestContext.Identity.UserARN = &id.UserARN
		}
	}
	if k := q.apiKey; k != nil {
		e.RequestContext.Identity.APIKey, e.RequestContext.Identity.APIKeyID = &k.value, &k.id
	}
	return e
}

// restProxy invokes the method's function with the proxy event and maps
// its answer strictly: anything but a JSON object with a valid statusCode
// (and only the proxy response's members) is 502, as REST APIs answer.
func (s *Server) restProxy(q *restRequest) *funcurl.Reply {
	it := q.method.MethodIntegration
	uri := it.URI
	if strings.Contains(uri, "${") {
		uri = stageVarRef.ReplaceAllStringFunc(uri, func(m string) string {
			return q.stage.Stage.StageVariables[m[len("${stageVariables."):len(m)-1]]
		})
	}
	ref, err := apigateway.FunctionRef(uri)
	if err != nil {
		return restInternal()
	}
	payload, err := json.Marshal(s.restProxyEvent(q))
	if err != nil {
		return restInternal()
	}
	timeout := time.Duration(it.TimeoutInMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = 29 * time.Second
	}
	sourceARN := "arn:aws:execute-api:" + s.cfg.Region + ":" + s.cfg.Account + ":" + q.t.apiID + "/" + q.stage.Stage.StageName + "/" + q.r.Method + q.resource
	out, err := s.invoke(q.request, ref, sourceARN, payload, timeout)
	if err != nil {
		rep := s.invokeFailed(q.request, err)
		switch rep.Status {
		case http.StatusServiceUnavailable:
			return restTimedOut()
		case http.StatusInternalServerError:
			return restInternal()
		}
		return rep
	}
	if out.FunctionError != "" {
		return restBadGateway()
	}
	if !strictProxyResponse(out.Payload) {
		return restBadGateway()
	}
	rep, err := mapResponseV1(out.Payload)
	if err != nil {
		return restBadGateway()
	}
	// A base64 body is decoded when the client accepts, or the function
	// answers, one of the API's binary media types; otherwise the client
	// gets the base64 text, as REST APIs do.
	var raw struct {
		IsBase64Encoded bool `json:"isBase64Encoded"`
	}
	json.Unmarshal(out.Payload, &raw)
	if raw.IsBase64Encoded && !isBinary(q.r.Header.Get("Accept"), q.snap.Rest.BinaryMediaTypes) &&
		!isBinary(rep.Header.Get("Content-Type"), q.snap.Rest.BinaryMediaTypes) {
		rep.Body = []byte(base64.StdEncoding.EncodeToString(rep.Body))
	}
	return rep
}

// strictProxyResponse checks a proxy response has only the members REST
// APIs accept, each of its type.
func strictProxyResponse(p []byte) bool {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(p, &m); err != nil {
		return false
	}
	if _, ok := m["statusCode"]; !ok {
		return false
	}
	for k, v := range m {
		switch k {
		case "statusCode":
			var n json.Number
			if json.Unmarshal(v, &n) != nil {
				return false
			}
		case "headers":
			var h map[string]any
			if json.Unmarshal(v, &h) != nil {
				return false
			}
		case "multiValueHeaders":
			var h map[string][]any
			if json.Unmarshal(v, &h) != nil {
				return false
			}
		case "body":
			var b *string
			if json.Unmarshal(v, &b) != nil {
				return false
			}
		case "isBase64Encoded":
			var b bool
			if json.Unmarshal(v, &b) != nil {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// restRequestID is the request's x-amzn-RequestId, which the edge gives
// every request.
func restRequestID(r *http.Request) string {
	if id := awsproto.RequestID(r.Context()); id != "" {
		return id
	}
	return awsproto.NewRequestID()
}
