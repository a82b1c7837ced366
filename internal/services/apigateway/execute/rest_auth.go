package execute

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/funcurl"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

// APIKeys checks a REST request's API key: Use resolves the key's value,
// checks it is enabled and in a usage plan of the API's stage, and counts
// the request against the plan's throttle and quota. It answers the key's
// id, or the refusal: 403 Forbidden (no such key, or not for this
// stage), 429 Too Many Requests (throttle) or 429 Limit Exceeded (quota).
type APIKeys interface {
	Use(value, apiID, stage string, now time.Time) (keyID string, status int, message string)
}

type restKey struct{ id, value string }

// restAPIKey checks the x-api-key header of a method that requires a key
// (the API's apiKeySource HEADER; AUTHORIZER takes the authorizer's
// usageIdentifierKey).
func (s *Server) restAPIKey(q *restRequest) *funcurl.Reply {
	value := q.r.Header.Get("X-Api-Key")
	if q.live.Doc.Rest != nil && q.live.Doc.Rest.APIKeySource == "AUTHORIZER" {
		value = q.authzKey
	}
	if value == "" || s.cfg.APIKeys == nil {
		return restForbidden()
	}
	id, status, msg := s.cfg.APIKeys.Use(value, q.t.apiID, q.stage.Stage.StageName, q.now)
	if status != 0 {
		return restReply(status, "", msg)
	}
	q.apiKey = &restKey{id: id, value: value}
	return nil
}

// restAuthorize runs the method's authorization: nil lets it through.
func (s *Server) restAuthorize(q *restRequest) *funcurl.Reply {
	switch q.method.AuthorizationType {
	case apigateway.AuthIAM:
		if len(q.r.Header["Authorization"]) == 0 {
			return restMissingToken()
		}
		return s.authorizeIAM(q.request)
	case apigateway.AuthCustom:
		au := q.snap.Rest.Authorizers[q.method.AuthorizerID]
		if au == nil {
			return restInternal()
		}
		return s.restLambdaAuthorizer(q, au)
	}
	return nil
}

// restAuthEntry is a Lambda authorizer's cached answer: its policy is
// evaluated again for each method it is used for, as AWS does.
type restAuthEntry struct {
	principalID string
	policy      *policy
	context     map[string]any
	usageKey    string
	expires     time.Time
}

// restTokenEvent is a TOKEN authorizer's event.
type restTokenEvent struct {
	Type               string `json:"type"`
	AuthorizationToken string `json:"authorizationToken"`
	MethodArn          string `json:"methodArn"`
}

// restRequestAuthEvent is a REQUEST authorizer's event: the request, less
// its body.
type restRequestAuthEvent struct {
	Type      string `json:"type"`
	MethodArn string `json:"methodArn"`
	*restEvent
}

// identitySources reads a REQUEST authorizer's identity sources
// (method.request.header.X, method.request.querystring.X,
// stageVariables.X, context.X); ok is false when one is missing.
func identitySources(q *restRequest, spec string) (vals []string, ok bool) {
	for src := range strings.SplitSeq(spec, ",") {
		src = strings.TrimSpace(src)
		if src == "" {
			continue
		}
		var v string
		switch {
		case strings.HasPrefix(src, "method.request.header."):
			v = q.r.Header.Get(src[len("method.request.header."):])
		case strings.HasPrefix(src, "method.request.querystring."):
			v = q.r.URL.Query().Get(src[len("method.request.querystring."):])
		case strings.HasPrefix(src, "stageVariables."):
			v = q.stage.Stage.StageVariables[src[len("stageVariables."):]]
		case src == "context.stage":
			v = q.stage.Stage.StageName
		default:
			return nil, false
		}
		if v == "" {
			return nil, false
		}
		vals = append(vals, v)
	}
	return vals, true
}

// restLambdaAuthorizer runs a TOKEN or REQUEST authorizer: its cached
// answer for the token (or identity sources) within its TTL, else a call
// of its function as API Gateway. A missing token or identity source is
// 401 without a call, as is a token that fails the validation expression
// or an authorizer that fails with "Unauthorized"; a policy that does not
// allow the method is 403.
func (s *Server) restLambdaAuthorizer(q *restRequest, au *apigateway.RestAuthorizer) *funcurl.Reply {
	methodARN := s.methodARN(q)
	var vals []string
	var token string
	if au.Type == "TOKEN" {
		token = q.r.Header.Get(strings.TrimPrefix(au.IdentitySource, "method.request.header."))
		if token == "" {
			return restUnauthorized()
		}
		if au.IdentityValidationExpression != "" {
			re, err := regexp.Compile("^(?:" + au.IdentityValidationExpression + ")$")
			if err != nil || !re.MatchString(token) {
				return restUnauthorized()
			}
		}
		vals = []string{token}
	} else {
		var ok bool
		if vals, ok = identitySources(q, au.IdentitySource); !ok {
			return restUnauthorized()
		}
	}
	ttl := 0
	if au.AuthorizerResultTTLInSeconds != nil {
		ttl = *au.AuthorizerResultTTLInSeconds
	}
	key := ""
	if ttl > 0 && len(vals) > 0 {
		key = q.t.apiID + "\x00" + au.ID + "\x00" + strings.Join(vals, "\x00")
		if e, ok := s.rest.authGet(key, q.now); ok {
			return s.restAuthorized(q, e, methodARN)
		}
	}
	ref, err := apigateway.FunctionRef(au.AuthorizerURI)
	if err != nil {
		return restInternal()
	}
	var payload []byte
	if au.Type == "TOKEN" {
		payload, err = json.Marshal(restTokenEvent{Type: "TOKEN", AuthorizationToken: token, MethodArn: methodARN})
	} else {
		ev := s.restProxyEvent(q)
		ev.Body, ev.IsBase64Encoded = nil, false
		payload, err = json.Marshal(restRequestAuthEvent{Type: "REQUEST", MethodArn: methodARN, restEvent: ev})
	}
	if err != nil {
		return restInternal()
	}
	sourceARN := "arn:aws:execute-api:" + s.cfg.Region + ":" + s.cfg.Account + ":" + q.t.apiID + "/authorizers/" + au.ID
	out, err := s.invoke(q.request, ref, sourceARN, payload, 10*time.Second)
	if err != nil {
		s.log.Debug("execute-api: REST authorizer failed", "requestId", q.requestID, "authorizer", au.ID, "err", err)
		return authorizerFailed()
	}
	if out.FunctionError != "" {
		var fe struct {
			ErrorMessage string `json:"errorMessage"`
		}
		if json.Unmarshal(out.Payload, &fe) == nil && fe.ErrorMessage == "Unauthorized" {
			return restUnauthorized()
		}
		return authorizerFailed()
	}
	var ans struct {
		PrincipalID        string         `json:"principalId"`
		PolicyDocument     *policy        `json:"policyDocument"`
		Context            map[string]any `json:"context"`
		UsageIdentifierKey string         `json:"usageIdentifierKey"`
	}
	if err := json.Unmarshal(out.Payload, &ans); err != nil || ans.PolicyDocument == nil {
		return authorizerFailed()
	}
	e := restAuthEntry{principalID: ans.PrincipalID, policy: ans.PolicyDocument, context: ans.Context, usageKey: ans.UsageIdentifierKey}
	if key != "" {
		e.expires = q.now.Add(time.Duration(ttl) * time.Second)
		s.rest.authPut(key, e)
	}
	return s.restAuthorized(q, e, methodARN)
}

// authorizerFailed is API Gateway's answer to an authorizer that failed
// or answered without a policy: 500 with a null message.
func authorizerFailed() *funcurl.Reply {
	return &funcurl.Reply{Status: http.StatusInternalServerError, Header: http.Header{"Content-Type": {"application/json"},
		"X-Amzn-Errortype": {"AuthorizerConfigurationException"}}, Body: []byte(`{"message":null}`)}
}

func (s *Server) restAuthorized(q *restRequest, e restAuthEntry, methodARN string) *funcurl.Reply {
	if !e.policy.allows(methodARN) {
		return restDenied()
	}
	ctx := make(map[string]any, len(e.context)+2)
	for k, v := range e.context {
		ctx[k] = v
	}
	ctx["principalId"] = e.principalID
	ctx["integrationLatency"] = 0
	q.authz = &funcurl.Authorizer{Lambda: ctx}
	q.authzKey = e.usageKey
	return nil
}

func (p *restPlane) authGet(key string, now time.Time) (restAuthEntry, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.auth[key]
	if ok && !now.Before(e.expires) {
		delete(p.auth, key)
		return restAuthEntry{}, false
	}
	return e, ok
}

func (p *restPlane) authPut(key string, e restAuthEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.auth == nil || len(p.auth) >= maxRestEntries {
		p.auth = map[string]restAuthEntry{}
	}
	p.auth[key] = e
}
