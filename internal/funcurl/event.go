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

// Authorizer is requestContext.authorizer, present for AWS_IAM URLs.
type Authorizer struct {
	IAM *IAM `json:"iam,omitempty"`
}

// IAM describes the SigV4 caller of an AWS_IAM URL.
type IAM struct {
	AccessKey string `json:"accessKey"`
	AccountID string `json:"accountId"`
	CallerID  string `json:"callerId"`
	UserARN   string `json:"userArn"`
	UserID    string `json:"userId"`
}

// eventTimeLayout is requestContext.time: 21/Nov/2026:05:12:00 +0000.
const eventTimeLayout = "02/Jan/2006:15:04:05 -0700"

// request is what NewEvent needs besides the HTTP request.
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

// newEvent builds the 2.0 event for r.
func newEvent(r *http.Request, q *request) *Event {
	e := &Event{
		Version:        "2.0",
		RouteKey:       "$default",
		RawPath:        q.path,
		RawQueryString: r.URL.RawQuery,
		Headers:        make(map[string]string, len(r.Header)+4),
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
	ip := sourceIP(r)
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
	e.QueryStringParameters = queryParameters(r.URL.RawQuery)
	if len(q.body) > 0 {
		if isText(r.Header.Get("Content-Type")) && utf8.Valid(q.body) {
			e.Body = string(q.body)
		} else {
			e.Body = base64.StdEncoding.EncodeToString(q.body)
			e.IsBase64Encoded = true
		}
	}
	e.RequestContext = RequestContext{
		AccountID:    "anonymous",
		APIID:        q.id,
		DomainName:   q.domain,
		DomainPrefix: q.id,
		HTTP: HTTP{
			Method:    r.Method,
			Path:      q.path,
			Protocol:  r.Proto,
			SourceIP:  ip,
			UserAgent: r.UserAgent(),
		},
		RequestID: q.requestID,
		RouteKey:  "$default",
		Stage:     "$default",
		Time:      q.now.UTC().Format(eventTimeLayout),
		TimeEpoch: q.now.UnixMilli(),
	}
	if q.iam != nil {
		e.RequestContext.AccountID = q.account
		e.RequestContext.Authorizer = &Authorizer{IAM: q.iam}
	}
	return e
}

// queryParameters decodes a raw query string; a parameter given more than
// once has its values joined with commas, as Lambda does. nil when empty.
func queryParameters(raw string) map[string]string {
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

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// isText reports whether a body of this content type reaches the function
// as text rather than base64: text/*, JSON, XML, JavaScript and YAML types.
// A body without a content type is treated as binary.
func isText(contentType string) bool {
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
