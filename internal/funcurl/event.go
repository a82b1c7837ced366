package funcurl

import (
	"encoding/base64"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Event is the payload format 2.0 request event a function receives.
type Event struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	PathParameters        map[string]string `json:"pathParameters,omitempty"`
	StageVariables        map[string]string `json:"stageVariables,omitempty"`
	RequestContext        RequestContext    `json:"requestContext"`
	Body                  string            `json:"body,omitempty"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
}

// RequestContext is the event's requestContext.
type RequestContext struct {
	AccountID    string      `json:"accountId"`
	APIID        string      `json:"apiId"`
	Authorizer   *Authorizer `json:"authorizer,omitempty"`
	DomainName   string      `json:"domainName"`
	DomainPrefix string      `json:"domainPrefix"`
	HTTP         HTTP        `json:"http"`
	RequestID    string      `json:"requestId"`
	RouteKey     string      `json:"routeKey"`
	Stage        string      `json:"stage"`
	Time         string      `json:"time"`
	TimeEpoch    int64       `json:"timeEpoch"`
}

// HTTP is requestContext.http.
type HTTP struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// Authorizer is requestContext.authorizer: present for AWS_IAM URLs, and
// for API Gateway routes with an authorizer (iam, lambda's context, or a
// JWT's claims and scopes).
type Authorizer struct {
	IAM    *IAM           `json:"iam,omitempty"`
	Lambda map[string]any `json:"lambda,omitempty"`
	JWT    *JWT           `json:"jwt,omitempty"`
}

// JWT is requestContext.authorizer.jwt of a route with a JWT authorizer.
type JWT struct {
	Claims map[string]any `json:"claims"`
	Scopes []string       `json:"scopes"`
}

// IAM describes the SigV4 caller of an AWS_IAM URL.
type IAM struct {
	AccessKey string `json:"accessKey"`
	AccountID string `json:"accountId"`
	CallerID  string `json:"callerId"`
	UserARN   string `json:"userArn"`
	UserID    string `json:"userId"`
}

// EventTimeLayout is requestContext.time: 21/Nov/2026:05:12:00 +0000.
const EventTimeLayout = "02/Jan/2006:15:04:05 -0700"

// request is what newEvent needs besides the HTTP request.
type request struct {
	id        string // url-id
	path      string // rawPath: the path after any /lambda-url/<id> prefix
	domain    string // host name without port
	requestID string
	account   string
	now       time.Time
	body      []byte
	iam       *IAM
}

// newEvent builds the function URL's 2.0 event for r.
func newEvent(r *http.Request, q *request) *Event {
	in := &EventInput{APIID: q.id, DomainName: q.domain, DomainPrefix: q.id, Path: q.path, RouteKey: "$default",
		Stage: "$default", RequestID: q.requestID, AccountID: "anonymous", Now: q.now, Body: q.body}
	if q.iam != nil {
		in.AccountID = q.account
		in.Authorizer = &Authorizer{IAM: q.iam}
	}
	return NewEvent(r, in)
}

// EventInput is what NewEvent needs besides the HTTP request: the
// addressing, the route and stage, and what the platform adds.
type EventInput struct {
	// APIID, DomainName and DomainPrefix name the API (a function URL's
	// url-id and host, or an API Gateway API's).
	APIID, DomainName, DomainPrefix string
	// Path is rawPath and requestContext.http.path, escaped.
	Path string
	// RouteKey and Stage are "$default" for function URLs.
	RouteKey, Stage string
	RequestID       string
	// AccountID is requestContext.accountId: "anonymous" for a public
	// function URL.
	AccountID      string
	Now            time.Time
	Body           []byte
	PathParameters map[string]string
	StageVariables map[string]string
	Authorizer     *Authorizer
}

// NewEvent builds the payload format 2.0 event of r, as function URLs and
// API Gateway HTTP APIs send it: lower-case headers with repeated values
// joined by commas, cookies apart, query parameters decoded and joined by
// commas, a body that is not text (see IsText) base64-encoded.
func NewEvent(r *http.Request, q *EventInput) *Event {
	e := &Event{
		Version:        "2.0",
		RouteKey:       q.RouteKey,
		RawPath:        q.Path,
		RawQueryString: r.URL.RawQuery,
		Headers:        make(map[string]string, len(r.Header)+4),
		PathParameters: q.PathParameters,
		StageVariables: q.StageVariables,
	}
	for name, vs := range r.Header {
		ln := strings.ToLower(name)
		if ln == "cookie" {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						e.Cookies = append(e.Cookies, c)
					}
				}
			}
			continue
		}
		if prev, ok := e.Headers[ln]; ok {
			e.Headers[ln] = prev + "," + strings.Join(vs, ",")
		} else {
			e.Headers[ln] = strings.Join(vs, ",")
		}
	}
	e.Headers["host"] = r.Host
	ip := SourceIP(r)
	if xff := e.Headers["x-forwarded-for"]; xff != "" {
		e.Headers["x-forwarded-for"] = xff + ", " + ip
	} else {
		e.Headers["x-forwarded-for"] = ip
	}
	e.Headers["x-forwarded-proto"] = "http"
	if _, port, err := net.SplitHostPort(r.Host); err == nil {
		e.Headers["x-forwarded-port"] = port
	} else {
		e.Headers["x-forwarded-port"] = "80"
	}
	e.QueryStringParameters = QueryParameters(r.URL.RawQuery)
	if len(q.Body) > 0 {
		if IsText(r.Header.Get("Content-Type")) && utf8.Valid(q.Body) {
			e.Body = string(q.Body)
		} else {
			e.Body = base64.StdEncoding.EncodeToString(q.Body)
			e.IsBase64Encoded = true
		}
	}
	e.RequestContext = RequestContext{
		AccountID:    q.AccountID,
		APIID:        q.APIID,
		Authorizer:   q.Authorizer,
		DomainName:   q.DomainName,
		DomainPrefix: q.DomainPrefix,
		HTTP: HTTP{
			Method:    r.Method,
			Path:      q.Path,
			Protocol:  r.Proto,
			SourceIP:  ip,
			UserAgent: r.UserAgent(),
		},
		RequestID: q.RequestID,
		RouteKey:  q.RouteKey,
		Stage:     q.Stage,
		Time:      q.Now.UTC().Format(EventTimeLayout),
		TimeEpoch: q.Now.UnixMilli(),
	}
	return e
}

// QueryParameters decodes a raw query string; a parameter given more than
// once has its values joined with commas, as Lambda does. nil when empty.
func QueryParameters(raw string) map[string]string {
	if raw == "" {
		return nil
	}
	out := map[string]string{}
	for part := range strings.SplitSeq(raw, "&") {
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
		if prev, ok := out[k]; ok {
			out[k] = prev + "," + v
		} else {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// SourceIP is the client's address: the host of r.RemoteAddr.
func SourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// IsText reports whether a body of this content type reaches the function
// as text rather than base64: text/*, JSON, XML, JavaScript and YAML types.
// A body without a content type is treated as binary.
func IsText(contentType string) bool {
	if contentType == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0]))
	}
	if strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml") {
		return true
	}
	switch mt {
	case "application/json", "application/javascript", "application/x-javascript", "application/ecmascript",
		"application/xml", "application/yaml", "application/x-yaml", "application/graphql":
		return true
	}
	return false
}
