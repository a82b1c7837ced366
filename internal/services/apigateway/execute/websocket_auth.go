package execute

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/funcurl"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

// wsAuthorizerEvent is a WebSocket REQUEST authorizer's event.
type wsAuthorizerEvent struct {
	Type                            string              `json:"type"`
	MethodArn                       string              `json:"methodArn"`
	Headers                         map[string]string   `json:"headers,omitempty"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders,omitempty"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters,omitempty"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters,omitempty"`
	StageVariables                  map[string]string   `json:"stageVariables,omitempty"`
	RequestContext                  wsContext           `json:"requestContext"`
}

// wsAuthorize runs a $connect route's Lambda REQUEST authorizer: a nil
// reply admits the connection, with what requestContext.authorizer
// carries from then on (principalId and the answer's context); a reply
// refuses it — 401 when an identity source is missing, 403 when the
// policy does not allow execute-api:Invoke on the route's ARN, 500 when
// the authorizer fails. Answers are cached by identity source values for
// the authorizer's TTL.
func (s *Server) wsAuthorize(r *http.Request, c *wsConn, ls *apigateway.LiveStage, az *apigateway.Authorizer, requestID string, now time.Time) (map[string]any, *funcurl.Reply) {
	var vals []string
	query := r.URL.Query()
	for _, src := range az.IdentitySource {
		var v string
		if name, ok := strings.CutPrefix(src, "route.request.header."); ok {
			v = r.Header.Get(name)
		} else if name, ok := strings.CutPrefix(src, "route.request.querystring."); ok {
			v = query.Get(name)
		}
		if v == "" {
			return nil, platform(http.StatusUnauthorized, msgUnauthorized)
		}
		vals = append(vals, v)
	}
	methodARN := "arn:aws:execute-api:" + s.cfg.Region + ":" + s.cfg.Account + ":" + c.apiID + "/" + c.stage + "/" + apigateway.ConnectRoute
	ttl := 0
	if az.AuthorizerResultTTLInSeconds != nil {
		ttl = *az.AuthorizerResultTTLInSeconds
	}
	cacheKey := ""
	if ttl > 0 && len(vals) > 0 {
		cacheKey = c.apiID + "\x00" + c.stage + "\x00" + az.AuthorizerID + "\x00" + strings.Join(vals, "\x00")
		if e, ok := s.auth.get(cacheKey, now); ok {
			return wsAdmit(e)
		}
	}
	ref, err := apigateway.FunctionRef(az.AuthorizerURI)
	if err != nil {
		return nil, platform(http.StatusInternalServerError, msgInternal)
	}
	ev := s.wsEvent(c, ls.Stage, apigateway.ConnectRoute, "CONNECT", requestID, now)
	payload, err := json.Marshal(wsAuthorizerEvent{Type: "REQUEST", MethodArn: methodARN,
		Headers: singleValues(c.header), MultiValueHeaders: c.header, QueryStringParameters: singleValues(c.query),
		MultiValueQueryStringParameters: c.query, StageVariables: ev.StageVariables, RequestContext: ev.RequestContext})
	if err != nil {
		return nil, platform(http.StatusInternalServerError, msgInternal)
	}
	sourceARN := "arn:aws:execute-api:" + s.cfg.Region + ":" + s.cfg.Account + ":" + c.apiID + "/authorizers/" + az.AuthorizerID
	out, err := s.invoke(&request{r: r, requestID: requestID}, ref, sourceARN, payload, 10*time.Second)
	if err != nil || out.FunctionError != "" {
		s.log.Debug("execute-api: websocket authorizer failed", "requestId", requestID, "authorizer", az.AuthorizerID, "err", err)
		return nil, platform(http.StatusInternalServerError, msgInternal)
	}
	var ans authorizerAnswer
	if err := json.Unmarshal(out.Payload, &ans); err != nil || ans.PolicyDocument == nil {
		return nil, platform(http.StatusInternalServerError, msgInternal)
	}
	ctx := map[string]any{}
	for k, v := range ans.Context {
		ctx[k] = v
	}
	ctx["principalId"] = ans.PrincipalID
	e := authEntry{allow: ans.PolicyDocument.allows(methodARN), context: ctx}
	if cacheKey != "" {
		e.expires = now.Add(time.Duration(ttl) * time.Second)
		s.auth.put(cacheKey, e)
	}
	return wsAdmit(e)
}

func wsAdmit(e authEntry) (map[string]any, *funcurl.Reply) {
	if !e.allow {
		return nil, platform(http.StatusForbidden, msgForbidden)
	}
	return e.context, nil
}
