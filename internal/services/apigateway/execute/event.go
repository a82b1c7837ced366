package execute

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/kumo-run/kumo/internal/funcurl"
)

// EventV1 is the payload format 1.0 request event: REST API's proxy
// event, as HTTP APIs send it to 1.0 integrations. Members that have no
// value are null, as AWS sends them.
type EventV1 struct {
	Version                         string              `json:"version"`
	Resource                        string              `json:"resource"`
	Path                            string              `json:"path"`
	HTTPMethod                      string              `json:"httpMethod"`
	Headers                         map[string]string   `json:"headers"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`
	RequestContext                  ContextV1           `json:"requestContext"`
	PathParameters                  map[string]string   `json:"pathParameters"`
	StageVariables                  map[string]string   `json:"stageVariables"`
	Body                            *string             `json:"body"`
	IsBase64Encoded                 bool                `json:"isBase64Encoded"`
}

// ContextV1 is a 1.0 event's requestContext.
type ContextV1 struct {
	AccountID         string         `json:"accountId"`
	APIID             string         `json:"apiId"`
	Authorizer        map[string]any `json:"authorizer,omitempty"`
	DomainName        string         `json:"domainName"`
	DomainPrefix      string         `json:"domainPrefix"`
	ExtendedRequestID string         `json:"extendedRequestId"`
	HTTPMethod        string         `json:"httpMethod"`
	Identity          IdentityV1     `json:"identity"`
	Path              string         `json:"path"`
	Protocol          string         `json:"protocol"`
	RequestID         string         `json:"requestId"`
	RequestTime       string         `json:"requestTime"`
	RequestTimeEpoch  int64          `json:"requestTimeEpoch"`
	ResourceID        string         `json:"resourceId"`
	ResourcePath      string         `json:"resourcePath"`
	Stage             string         `json:"stage"`
}

// IdentityV1 is requestContext.identity; what API Gateway does not know
// is null.
type IdentityV1 struct {
	AccessKey                     *string `json:"accessKey"`
	AccountID                     *string `json:"accountId"`
	Caller                        *string `json:"caller"`
	CognitoAuthenticationProvider *string `json:"cognitoAuthenticationProvider"`
	CognitoAuthenticationType     *string `json:"cognitoAuthenticationType"`
	CognitoIdentityID             *string `json:"cognitoIdentityId"`
	CognitoIdentityPoolID         *string `json:"cognitoIdentityPoolId"`
	PrincipalOrgID                *string `json:"principalOrgId"`
	SourceIP                      string  `json:"sourceIp"`
	User                          *string `json:"user"`
	UserAgent                     string  `json:"userAgent"`
	UserARN                       *string `json:"userArn"`
}

// newEventV1 builds the 1.0 event of r from what the 2.0 event has.
func newEventV1(r *http.Request, in *funcurl.EventInput, resource string) *EventV1 {
	e := &EventV1{
		Version:    "1.0",
		Resource:   resource,
		Path:       in.Path,
		HTTPMethod: r.Method,
		Headers:    make(map[string]string, len(r.Header)+4), MultiValueHeaders: make(map[string][]string, len(r.Header)+4),
		PathParameters: in.PathParameters,
		StageVariables: in.StageVariables,
	}
	if p, err := url.PathUnescape(in.Path); err == nil {
		e.Path = p
	}
	for name, vs := range r.Header {
		ln := strings.ToLower(name)
		e.Headers[ln] = vs[len(vs)-1]
		e.MultiValueHeaders[ln] = append(e.MultiValueHeaders[ln], vs...)
	}
	ip := funcurl.SourceIP(r)
	extra := map[string]string{"host": r.Host, "x-forwarded-proto": "http", "x-forwarded-for": ip, "x-forwarded-port": "80"}
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		extra["x-forwarded-for"] = xff + ", " + ip
	}
	if i := strings.LastIndexByte(r.Host, ':'); i >= 0 && !strings.Contains(r.Host[i:], "]") {
		extra["x-forwarded-port"] = r.Host[i+1:]
	}
	for k, v := range extra {
		e.Headers[k] = v
		e.MultiValueHeaders[k] = []string{v}
	}
	if r.URL.RawQuery != "" {
		e.QueryStringParameters = map[string]string{}
		e.MultiValueQueryStringParameters = map[string][]string{}
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
			e.QueryStringParameters[k] = v
			e.MultiValueQueryStringParameters[k] = append(e.MultiValueQueryStringParameters[k], v)
		}
	}
	if len(in.Body) > 0 {
		var b string
		if funcurl.IsText(r.Header.Get("Content-Type")) && utf8.Valid(in.Body) {
			b = string(in.Body)
		} else {
			b = base64.StdEncoding.EncodeToString(in.Body)
			e.IsBase64Encoded = true
		}
		e.Body = &b
	}
	e.RequestContext = ContextV1{
		AccountID:         in.AccountID,
		APIID:             in.APIID,
		DomainName:        in.DomainName,
		DomainPrefix:      in.DomainPrefix,
		ExtendedRequestID: in.RequestID,
		HTTPMethod:        r.Method,
		Identity:          IdentityV1{SourceIP: ip, UserAgent: r.UserAgent()},
		Path:              e.Path,
		Protocol:          r.Proto,
		RequestID:         in.RequestID,
		RequestTime:       in.Now.UTC().Format(funcurl.EventTimeLayout),
		RequestTimeEpoch:  in.Now.UnixMilli(),
		ResourceID:        in.RouteKey,
		ResourcePath:      resource,
		Stage:             in.Stage,
	}
	if a := in.Authorizer; a != nil && a.Lambda != nil {
		e.RequestContext.Authorizer = a.Lambda
	}
	return e
}

// errBadResponse is a function result that breaks the payload format's
// response rules; the client gets a 500.
var errBadResponse = errors.New("apigateway: function response is not a valid proxy integration response")

// responseV1 is a 1.0 integration's answer.
type responseV1 struct {
	StatusCode        *json.Number        `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              *string             `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

// mapResponseV1 turns a 1.0 integration's answer into the reply: it must
// be a JSON object with statusCode; nothing is inferred.
func mapResponseV1(payload []byte) (*funcurl.Reply, error) {
	p := bytes.TrimSpace(payload)
	if len(p) == 0 || p[0] != '{' {
		return nil, errBadResponse
	}
	var s responseV1
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil || s.StatusCode == nil {
		return nil, errBadResponse
	}
	code, err := s.StatusCode.Int64()
	if err != nil || code < 100 || code > 599 {
		return nil, errBadResponse
	}
	rep := &funcurl.Reply{Status: int(code), Header: http.Header{}}
	for k, vs := range s.MultiValueHeaders {
		ck := http.CanonicalHeaderKey(k)
		if !skipHeader(ck) {
			rep.Header[ck] = append(rep.Header[ck], vs...)
		}
	}
	for k, v := range s.Headers {
		ck := http.CanonicalHeaderKey(k)
		if !skipHeader(ck) {
			rep.Header[ck] = []string{v}
		}
	}
	if s.Body != nil {
		if s.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(*s.Body)
			if err != nil {
				return nil, errBadResponse
			}
			rep.Body = b
		} else {
			rep.Body = []byte(*s.Body)
		}
	}
	if len(rep.Header["Content-Type"]) == 0 {
		rep.Header["Content-Type"] = []string{"application/json"}
	}
	return rep, nil
}

func skipHeader(ck string) bool {
	switch ck {
	case "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "Trailer", "Te":
		return true
	}
	return false
}
