package funcurl

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// Reply is the HTTP response a function's result becomes.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// errBadResponse is a function result that breaks the 2.0 response format;
// the client gets a 502.
var errBadResponse = errors.New("funcurl: function response is not a valid payload format 2.0 response")

// structured is a 2.0 response that sets statusCode.
type structured struct {
	StatusCode        *json.Number        `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Cookies           []string            `json:"cookies"`
	Body              *string             `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

// skipHeaders are response headers a function cannot set: the platform
// frames the response itself.
var skipHeaders = map[string]bool{
	"Content-Length": true, "Transfer-Encoding": true, "Connection": true, "Keep-Alive": true,
	"Upgrade": true, "Trailer": true, "Te": true, "X-Amzn-Requestid": true,
}

// MapResponse turns a function's result into an HTTP response by Lambda's
// payload format 2.0 rules: a JSON object with statusCode is a structured
// response (statusCode, headers, multiValueHeaders, cookies, body,
// isBase64Encoded); any other JSON value is a 200 application/json
// response whose body is that value — a JSON string's contents, else the
// JSON text.
func MapResponse(payload []byte) (*Reply, error) {
	p := bytes.TrimSpace(payload)
	if len(p) == 0 || p[0] != '{' || !hasStatusCode(p) {
		body := p
		if len(p) > 0 && p[0] == '"' {
			var s string
			if err := json.Unmarshal(p, &s); err != nil {
				return nil, errBadResponse
			}
			body = []byte(s)
		}
		return &Reply{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}, nil
	}
	var s structured
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		return nil, errBadResponse
	}
	code, err := s.StatusCode.Int64()
	if err != nil || code < 100 || code > 599 {
		return nil, errBadResponse
	}
	rep := &Reply{Status: int(code), Header: http.Header{}}
	for k, vs := range s.MultiValueHeaders {
		ck := http.CanonicalHeaderKey(k)
		if skipHeaders[ck] {
			continue
		}
		rep.Header[ck] = append(rep.Header[ck], vs...)
	}
	for k, v := range s.Headers {
		ck := http.CanonicalHeaderKey(k)
		if skipHeaders[ck] {
			continue
		}
		rep.Header[ck] = []string{v}
	}
	for _, c := range s.Cookies {
		rep.Header.Add("Set-Cookie", c)
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

// hasStatusCode reports whether a JSON object has a top-level statusCode
// member.
func hasStatusCode(p []byte) bool {
	if !bytes.Contains(p, []byte(`"statusCode"`)) {
		return false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(p, &m); err != nil {
		return false
	}
	_, ok := m["statusCode"]
	return ok
}

// Messages of the responses the platform makes itself, and their bodies.
var (
	bodyForbidden    = messageBody("Forbidden")
	bodyNotFound     = messageBody("Not Found")
	bodyTooLarge     = messageBody("Request Entity Too Large")
	bodyThrottled    = messageBody("Rate Exceeded.")
	bodyFunctionFail = messageBody("Internal Server Error")
	bodyInternal     = messageBody("Internal Server Error")
)

func messageBody(msg string) []byte {
	b, _ := json.Marshal(struct {
		Message string `json:"Message"`
	}{msg})
	return b
}

// platformReply is a response the platform answers with itself.
func platformReply(status int, body []byte) *Reply {
	return &Reply{Status: status, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
}

// isCORSHeader reports whether a response header is one CORS configuration
// controls; a URL with a Cors configuration replaces the function's own.
func isCORSHeader(name string) bool {
	return strings.HasPrefix(strings.ToLower(name), "access-control-")
}
