package execute

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/funcurl"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

// authorize runs the route's authorization: nil lets the request through
// (q.authz then holds what the integration's event carries of it), a
// reply refuses it.
func (s *Server) authorize(q *request) *funcurl.Reply {
	rt := q.binding.Route
	switch rt.AuthorizationType {
	case apigateway.AuthIAM:
		return s.authorizeIAM(q)
	case apigateway.AuthCustom:
		if q.binding.Authorizer == nil {
			return platform(http.StatusInternalServerError, msgInternal)
		}
		return s.authorizeLambda(q, q.binding.Authorizer)
	case apigateway.AuthJWT:
		if q.binding.Authorizer == nil {
			return platform(http.StatusInternalServerError, msgInternal)
		}
		return s.authorizeJWT(q, q.binding.Authorizer)
	}
	return nil
}

// ---- AWS_IAM

// authorizeIAM checks a SigV4 signature for service execute-api and that
// the signer may call execute-api:Invoke on the route's ARN.
func (s *Server) authorizeIAM(q *request) *funcurl.Reply {
	v := s.cfg.Verifier
	if v == nil {
		return nil
	}
	r := q.r
	if len(r.Header["Authorization"]) == 0 {
		return platform(http.StatusForbidden, msgForbidden)
	}
	sum := sha256.Sum256(q.body)
	hash := hex.EncodeToString(sum[:])
	if c := r.Header.Get("X-Amz-Content-Sha256"); c == "UNSIGNED-PAYLOAD" {
		hash = c
	} else if c != "" && c != hash {
		return platform(http.StatusForbidden, awsproto.PayloadHashMismatch().Message)
	}
	a, err := v.VerifyHash(r, hash)
	if err != nil {
		return platform(http.StatusForbidden, awsproto.AsError(err).Message)
	}
	if a.Service != "execute-api" {
		return platform(http.StatusForbidden, "Credential should be scoped to correct service: 'execute-api'. ")
	}
	if az := s.cfg.Authorizer; az != nil {
		res := "arn:aws:execute-api:" + s.cfg.Region + ":" + s.cfg.Account + ":" + q.t.apiID + "/" + q.stage.Stage.StageName + "/" + r.Method + q.path
		ctx := awsproto.WithCaller(r.Context(), awsproto.Caller{AccessKeyID: a.AccessKeyID, Identity: a.Identity})
		if err := az.Authorize(ctx, authz.Check{Action: "execute-api:Invoke", Resource: res, SourceIP: authz.SourceIP(r),
			Denied: awsproto.APIGatewayAccessDenied}); err != nil {
			return platform(http.StatusForbidden, msgForbidden)
		}
	}
	id := &funcurl.IAM{AccessKey: a.AccessKeyID, AccountID: a.Identity.Account, CallerID: a.Identity.UserID,
		UserARN: a.Identity.ARN, UserID: a.Identity.UserID}
	if a.Identity.ARN == "" { // the account root's own key
		id.AccountID, id.CallerID, id.UserID = s.cfg.Account, s.cfg.Account, s.cfg.Account
		id.UserARN = "arn:aws:iam::" + s.cfg.Account + ":root"
	}
	q.authz = &funcurl.Authorizer{IAM: id}
	return nil
}

// ---- Lambda REQUEST authorizers

// authCache holds Lambda authorizers' answers by authorizer and identity
// source values, for the authorizer's TTL.
type authCache struct {
	mu      sync.Mutex
	entries map[string]authEntry
}

type authEntry struct {
	allow   bool
	context map[string]any
	expires time.Time
}

const maxAuthCache = 100000

func (c *authCache) get(key string, now time.Time) (authEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if ok && !now.Before(e.expires) {
		delete(c.entries, key)
		return authEntry{}, false
	}
	return e, ok
}

func (c *authCache) put(key string, e authEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxAuthCache {
		clear(c.entries)
	}
	c.entries[key] = e
}

// identityValues reads the authorizer's identity sources from the
// request; ok is false when one is missing or empty.
func (s *Server) identityValues(q *request, az *apigateway.Authorizer) (vals []string, ok bool) {
	for _, src := range az.IdentitySource {
		var v string
		switch {
		case strings.HasPrefix(src, "$request.header."):
			v = strings.Join(q.r.Header.Values(src[len("$request.header."):]), ",")
		case strings.HasPrefix(src, "$request.querystring."):
			v = strings.Join(q.r.URL.Query()[src[len("$request.querystring."):]], ",")
		case strings.HasPrefix(src, "$stageVariables."):
			v = q.stage.Stage.StageVariables[src[len("$stageVariables."):]]
		case src == "$context.routeKey":
			v = q.routeKey()
		case src == "$context.stage":
			v = q.stage.Stage.StageName
		case src == "$context.httpMethod":
			v = q.r.Method
		case src == "$context.path":
			v = q.rawPath
		default:
			v = ""
		}
		if v == "" {
			return nil, false
		}
		vals = append(vals, v)
	}
	return vals, true
}

// authorizerEventV2 is a 2.0 REQUEST authorizer's event: the request's
// 2.0 event without its body, with type, routeArn and identitySource.
type authorizerEventV2 struct {
	Type           string   `json:"type"`
	RouteArn       string   `json:"routeArn"`
	IdentitySource []string `json:"identitySource"`
	*funcurl.Event
}

// authorizerEventV1 is a 1.0 REQUEST authorizer's event.
type authorizerEventV1 struct {
	Type           string `json:"type"`
	MethodArn      string `json:"methodArn"`
	IdentitySource string `json:"identitySource"`
	*EventV1
}

// authorizerAnswer is what a Lambda authorizer returns: a simple response
// or an IAM policy.
type authorizerAnswer struct {
	IsAuthorized   *bool          `json:"isAuthorized"`
	PrincipalID    string         `json:"principalId"`
	PolicyDocument *policy        `json:"policyDocument"`
	Context        map[string]any `json:"context"`
}

type policy struct {
	Statement statements `json:"Statement"`
}

type statement struct {
	Effect   string      `json:"Effect"`
	Action   stringOrSet `json:"Action"`
	Resource stringOrSet `json:"Resource"`
}

// statements is a policy's Statement: one object or a list.
type statements []statement

func (s *statements) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '{' {
		var one statement
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = statements{one}
		return nil
	}
	return json.Unmarshal(b, (*[]statement)(s))
}

// stringOrSet is a policy's string-or-list member.
type stringOrSet []string

func (s *stringOrSet) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = stringOrSet{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(s))
}

// allows evaluates an authorizer's policy for execute-api:Invoke on arn:
// an explicit Deny wins, else an Allow is needed.
func (p *policy) allows(arn string) bool {
	allowed := false
	for _, st := range p.Statement {
		if !matchAny(st.Action, "execute-api:Invoke") || !matchAny(st.Resource, arn) {
			continue
		}
		switch {
		case strings.EqualFold(st.Effect, "Deny"):
			return false
		case strings.EqualFold(st.Effect, "Allow"):
			allowed = true
		}
	}
	return allowed
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if wildcard(strings.ToLower(p), strings.ToLower(s)) {
			return true
		}
	}
	return false
}

// wildcard matches s against p, where '*' is any run of characters and
// '?' any one character.
func wildcard(p, s string) bool {
	star, mark := -1, 0
	i, j := 0, 0
	for j < len(s) {
		switch {
		case i < len(p) && (p[i] == '?' || p[i] == s[j]):
			i++
			j++
		case i < len(p) && p[i] == '*':
			star, mark = i, j
			i++
		case star >= 0:
			i = star + 1
			mark++
			j = mark
		default:
			return false
		}
	}
	for i < len(p) && p[i] == '*' {
		i++
	}
	return i == len(p)
}

// authorizeLambda runs a REQUEST authorizer: its cached answer for the
// identity source values, or a call of its function as API Gateway.
// Missing identity sources are 401 without a call; a deny is 403; an
// authorizer that fails or answers nonsense is 500.
func (s *Server) authorizeLambda(q *request, az *apigateway.Authorizer) *funcurl.Reply {
	vals, ok := s.identityValues(q, az)
	if !ok {
		return platform(http.StatusUnauthorized, msgUnauthorized)
	}
	ttl := 0
	if az.AuthorizerResultTTLInSeconds != nil {
		ttl = *az.AuthorizerResultTTLInSeconds
	}
	cacheKey := ""
	if ttl > 0 && len(vals) > 0 {
		cacheKey = q.t.apiID + "\x00" + az.AuthorizerID + "\x00" + strings.Join(vals, "\x00")
		if e, ok := s.auth.get(cacheKey, q.now); ok {
			return s.authorized(q, e)
		}
	}
	ref, err := apigateway.FunctionRef(az.AuthorizerURI)
	if err != nil {
		return platform(http.StatusInternalServerError, msgInternal)
	}
	routeARN := "arn:aws:execute-api:" + s.cfg.Region + ":" + s.cfg.Account + ":" + q.t.apiID + "/" + q.stage.Stage.StageName + "/" + q.r.Method + q.path
	in := s.eventInput(q)
	in.Body = nil
	var payload []byte
	if az.AuthorizerPayloadFormatVersion == "1.0" {
		resource := q.routeKey()
		if resource != apigateway.DefaultRoute {
			_, resource, _ = strings.Cut(resource, " ")
		}
		payload, err = json.Marshal(authorizerEventV1{Type: "REQUEST", MethodArn: routeARN, IdentitySource: strings.Join(vals, ","), EventV1: newEventV1(q.r, in, resource)})
	} else {
		payload, err = json.Marshal(authorizerEventV2{Type: "REQUEST", RouteArn: routeARN, IdentitySource: vals, Event: funcurl.NewEvent(q.r, in)})
	}
	if err != nil {
		return platform(http.StatusInternalServerError, msgInternal)
	}
	sourceARN := "arn:aws:execute-api:" + s.cfg.Region + ":" + s.cfg.Account + ":" + q.t.apiID + "/authorizers/" + az.AuthorizerID
	out, err := s.invoke(q, ref, sourceARN, payload, 10*time.Second)
	if err != nil {
		s.log.Debug("execute-api: authorizer failed", "requestId", q.requestID, "authorizer", az.AuthorizerID, "err", err)
		return platform(http.StatusInternalServerError, msgInternal)
	}
	if out.FunctionError != "" {
		return platform(http.StatusInternalServerError, msgInternal)
	}
	var ans authorizerAnswer
	if err := json.Unmarshal(out.Payload, &ans); err != nil {
		return platform(http.StatusInternalServerError, msgInternal)
	}
	var e authEntry
	switch {
	case az.EnableSimpleResponses && ans.IsAuthorized != nil:
		e = authEntry{allow: *ans.IsAuthorized, context: ans.Context}
	case ans.PolicyDocument != nil:
		e = authEntry{allow: ans.PolicyDocument.allows(routeARN), context: ans.Context}
		if az.AuthorizerPayloadFormatVersion == "1.0" {
			if e.context == nil {
				e.context = map[string]any{}
			}
			e.context["principalId"] = ans.PrincipalID
		}
	default:
		return platform(http.StatusInternalServerError, msgInternal)
	}
	if cacheKey != "" {
		e.expires = q.now.Add(time.Duration(ttl) * time.Second)
		s.auth.put(cacheKey, e)
	}
	return s.authorized(q, e)
}

func (s *Server) authorized(q *request, e authEntry) *funcurl.Reply {
	if !e.allow {
		return platform(http.StatusForbidden, msgForbidden)
	}
	ctx := e.context
	if ctx == nil {
		ctx = map[string]any{}
	}
	q.authz = &funcurl.Authorizer{Lambda: ctx}
	return nil
}
