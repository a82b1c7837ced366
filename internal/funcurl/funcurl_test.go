package funcurl

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/registry"
)

const testID = "abcdefghijklmnopqrstuvwxyz012345"

func TestURL(t *testing.T) {
	tests := []struct{ hostport, want string }{
		{"127.0.0.1:9070", "http://" + testID + ".lambda-url.us-east-1.localhost:9070/"},
		{"localhost", "http://" + testID + ".lambda-url.us-east-1.localhost/"},
	}
	for _, tt := range tests {
		if got := URL(testID, "us-east-1", tt.hostport); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.hostport, got, tt.want)
		}
		if n := len(tt.want); n > 100 {
			t.Errorf("URL is %d characters; the FunctionUrl shape allows 100", n)
		}
	}
}

func TestMatch(t *testing.T) {
	s := New(Config{Region: "us-east-1"})
	tests := []struct {
		host, target     string
		id, path, domain string
		ok               bool
	}{
		{testID + ".lambda-url.us-east-1.localhost:9070", "/a/b?x=1", testID, "/a/b", testID + ".lambda-url.us-east-1.localhost", true},
		{strings.ToUpper(testID) + ".LAMBDA-URL.us-east-1.localhost", "/", testID, "/", testID + ".lambda-url.us-east-1.localhost", true},
		{"127.0.0.1:9070", "/lambda-url/" + testID + "/x/y%20z", testID, "/x/y%20z", testID + ".lambda-url.us-east-1.localhost", true},
		{"127.0.0.1:9070", "/lambda-url/" + testID, testID, "/", testID + ".lambda-url.us-east-1.localhost", true},
		{testID + ".lambda-url.eu-west-1.localhost", "/", "", "", "", false},
		{"short.lambda-url.us-east-1.localhost", "/", "", "", "", false},
		{"127.0.0.1:9070", "/2015-03-31/functions", "", "", "", false},
		{"127.0.0.1:9070", "/lambda-url/nope/", "", "", "", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.target, nil)
		r.Host = tt.host
		id, path, domain, ok := s.Match(r)
		if id != tt.id || path != tt.path || domain != tt.domain || ok != tt.ok {
			t.Errorf("Match(%s %s) = %q %q %q %v, want %q %q %q %v", tt.host, tt.target, id, path, domain, ok, tt.id, tt.path, tt.domain, tt.ok)
		}
	}
}

func TestEvent(t *testing.T) {
	r := httptest.NewRequest("POST", "/lambda-url/"+testID+"/p/q?a=1&b=x%20y&a=2&flag", strings.NewReader(`{"k":"v"}`))
	r.Host = "127.0.0.1:9070"
	r.RemoteAddr = "10.1.2.3:5555"
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "test-agent")
	r.Header.Add("X-Multi", "one")
	r.Header.Add("X-Multi", "two")
	r.Header.Add("Cookie", "c1=v1; c2=v2")
	r.Header.Add("Cookie", "c3=v3")
	now := time.Date(2026, 11, 21, 5, 12, 0, 0, time.UTC)
	e := newEvent(r, &request{id: testID, path: "/p/q", domain: testID + ".lambda-url.us-east-1.localhost", requestID: "rid",
		account: "000000000000", now: now, body: []byte(`{"k":"v"}`)})
	if e.Version != "2.0" || e.RouteKey != "$default" || e.RawPath != "/p/q" || e.RawQueryString != "a=1&b=x%20y&a=2&flag" {
		t.Errorf("event = %+v", e)
	}
	if want := []string{"c1=v1", "c2=v2", "c3=v3"}; !reflect.DeepEqual(e.Cookies, want) {
		t.Errorf("cookies = %v, want %v", e.Cookies, want)
	}
	if _, ok := e.Headers["cookie"]; ok {
		t.Error("cookie header kept in headers")
	}
	if e.Headers["x-multi"] != "one,two" || e.Headers["content-type"] != "application/json" || e.Headers["host"] != "127.0.0.1:9070" {
		t.Errorf("headers = %v", e.Headers)
	}
	if want := map[string]string{"a": "1,2", "b": "x y", "flag": ""}; !reflect.DeepEqual(e.QueryStringParameters, want) {
		t.Errorf("queryStringParameters = %v, want %v", e.QueryStringParameters, want)
	}
	if e.Body != `{"k":"v"}` || e.IsBase64Encoded {
		t.Errorf("body = %q base64 %v", e.Body, e.IsBase64Encoded)
	}
	rc := e.RequestContext
	if rc.APIID != testID || rc.DomainPrefix != testID || rc.Stage != "$default" || rc.RequestID != "rid" ||
		rc.Time != "21/Nov/2026:05:12:00 +0000" || rc.TimeEpoch != now.UnixMilli() ||
		rc.HTTP != (HTTP{Method: "POST", Path: "/p/q", Protocol: "HTTP/1.1", SourceIP: "10.1.2.3", UserAgent: "test-agent"}) {
		t.Errorf("requestContext = %+v", rc)
	}
	b, _ := json.Marshal(e)
	for _, key := range []string{`"version":"2.0"`, `"rawQueryString":`, `"requestContext":{`, `"timeEpoch":`, `"isBase64Encoded":false`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}

	// No query, no body: those members are absent.
	r = httptest.NewRequest("GET", "/", nil)
	e = newEvent(r, &request{path: "/", now: now})
	b, _ = json.Marshal(e)
	for _, key := range []string{`"queryStringParameters"`, `"body"`, `"cookies"`} {
		if strings.Contains(string(b), key) {
			t.Errorf("JSON has %s: %s", key, b)
		}
	}
}

func TestEventBody(t *testing.T) {
	bin := []byte{0, 1, 2, 0xff, 0xfe}
	tests := []struct {
		contentType string
		body        []byte
		base64      bool
	}{
		{"text/plain; charset=utf-8", []byte("héllo"), false},
		{"text/html", []byte("<p>x</p>"), false},
		{"application/json", []byte(`{}`), false},
		{"application/xml", []byte(`<a/>`), false},
		{"application/javascript", []byte(`x()`), false},
		{"application/vnd.api+json", []byte(`{}`), false},
		{"application/octet-stream", bin, true},
		{"image/png", bin, true},
		{"", []byte("no type"), true},
		{"application/x-www-form-urlencoded", []byte("a=1"), true},
		{"text/plain", bin, true}, // not UTF-8
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/", nil)
		if tt.contentType != "" {
			r.Header.Set("Content-Type", tt.contentType)
		}
		e := newEvent(r, &request{path: "/", body: tt.body})
		if e.IsBase64Encoded != tt.base64 {
			t.Errorf("%q: isBase64Encoded = %v, want %v", tt.contentType, e.IsBase64Encoded, tt.base64)
			continue
		}
		got := []byte(e.Body)
		if tt.base64 {
			got, _ = base64.StdEncoding.DecodeString(e.Body)
		}
		if string(got) != string(tt.body) {
			t.Errorf("%q: body round trip = %q, want %q", tt.contentType, got, tt.body)
		}
	}
}

func TestMapResponse(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		status  int
		header  http.Header
		body    string
		bad     bool
	}{
		{name: "object", payload: `{"message":"hi"}`, status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: `{"message":"hi"}`},
		{name: "string", payload: `"Hello, world!"`, status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: `Hello, world!`},
		{name: "number", payload: `42`, status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: `42`},
		{name: "null", payload: `null`, status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: `null`},
		{name: "nested statusCode is not structured", payload: `{"a":{"statusCode":201}}`, status: 200,
			header: http.Header{"Content-Type": {"application/json"}}, body: `{"a":{"statusCode":201}}`},
		{name: "structured", payload: `{"statusCode":201,"headers":{"x-custom":"1","content-type":"text/plain"},"body":"made"}`, status: 201,
			header: http.Header{"X-Custom": {"1"}, "Content-Type": {"text/plain"}}, body: "made"},
		{name: "default content type", payload: `{"statusCode":404}`, status: 404, header: http.Header{"Content-Type": {"application/json"}}},
		{name: "cookies and multi", payload: `{"statusCode":200,"cookies":["a=1; Path=/","b=2"],"multiValueHeaders":{"x-m":["1","2"]},"body":"ok"}`,
			status: 200, header: http.Header{"Set-Cookie": {"a=1; Path=/", "b=2"}, "X-M": {"1", "2"}, "Content-Type": {"application/json"}}, body: "ok"},
		{name: "base64", payload: `{"statusCode":200,"isBase64Encoded":true,"body":"AAEC/w==","headers":{"content-type":"application/octet-stream"}}`,
			status: 200, header: http.Header{"Content-Type": {"application/octet-stream"}}, body: "\x00\x01\x02\xff"},
		{name: "framing headers dropped", payload: `{"statusCode":200,"headers":{"content-length":"99","transfer-encoding":"chunked"}}`,
			status: 200, header: http.Header{"Content-Type": {"application/json"}}},
		{name: "bad status", payload: `{"statusCode":"abc"}`, bad: true},
		{name: "status out of range", payload: `{"statusCode":700}`, bad: true},
		{name: "bad base64", payload: `{"statusCode":200,"isBase64Encoded":true,"body":"%%%"}`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := MapResponse([]byte(tt.payload))
			if tt.bad {
				if err == nil {
					t.Fatalf("MapResponse = %+v, want an error", rep)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.Status != tt.status || !reflect.DeepEqual(rep.Header, tt.header) || string(rep.Body) != tt.body {
				t.Errorf("MapResponse = %d %v %q, want %d %v %q", rep.Status, rep.Header, rep.Body, tt.status, tt.header, tt.body)
			}
		})
	}
}

func TestCORS(t *testing.T) {
	yes := true
	age := 300
	c := &registry.Cors{AllowOrigins: []string{"https://app.example"}, AllowMethods: []string{"GET", "POST"},
		AllowHeaders: []string{"x-custom", "content-type"}, ExposeHeaders: []string{"x-out"}, MaxAge: &age, AllowCredentials: &yes}

	pre := httptest.NewRequest("OPTIONS", "/", nil)
	pre.Header.Set("Origin", "https://app.example")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	if !isPreflight(pre) {
		t.Fatal("not a preflight")
	}
	rep := Preflight(c, pre)
	want := http.Header{
		"Access-Control-Allow-Origin": {"https://app.example"}, "Access-Control-Allow-Methods": {"GET,POST"},
		"Access-Control-Allow-Headers": {"x-custom,content-type"}, "Access-Control-Expose-Headers": {"x-out"},
		"Access-Control-Max-Age": {"300"}, "Access-Control-Allow-Credentials": {"true"}, "Vary": {"Origin"},
	}
	if rep.Status != 200 || !reflect.DeepEqual(rep.Header, want) {
		t.Errorf("preflight = %d %v\nwant %v", rep.Status, rep.Header, want)
	}

	pre.Header.Set("Origin", "https://evil.example")
	if rep := Preflight(c, pre); rep.Status != 200 || len(rep.Header) != 0 {
		t.Errorf("preflight from a disallowed origin = %d %v", rep.Status, rep.Header)
	}

	get := httptest.NewRequest("GET", "/", nil)
	get.Header.Set("Origin", "https://app.example")
	h := http.Header{"Access-Control-Allow-Origin": {"*"}, "X-Fn": {"1"}}
	AddCORS(c, get, h)
	want = http.Header{"X-Fn": {"1"}, "Access-Control-Allow-Origin": {"https://app.example"}, "Vary": {"Origin"},
		"Access-Control-Expose-Headers": {"x-out"}, "Access-Control-Allow-Credentials": {"true"}}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("AddCORS = %v\nwant %v", h, want)
	}

	star := &registry.Cors{AllowOrigins: []string{"*"}}
	h = http.Header{}
	AddCORS(star, get, h)
	if h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Vary") != "" {
		t.Errorf("AddCORS(*) = %v", h)
	}
	// Without a configuration the function's own headers stay.
	h = http.Header{"Access-Control-Allow-Origin": {"https://fn.example"}}
	AddCORS(nil, get, h)
	if h.Get("Access-Control-Allow-Origin") != "https://fn.example" {
		t.Errorf("AddCORS(nil) = %v", h)
	}
}

func TestPublicAllowed(t *testing.T) {
	arn := "arn:aws:lambda:us-east-1:000000000000:function:f"
	urlNone := map[string]map[string]string{"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
	tests := []struct {
		name  string
		stmts []registry.Statement
		want  bool
	}{
		{"no policy", nil, false},
		{"add-permission --function-url-auth-type NONE", []registry.Statement{{Effect: "Allow", Principal: "*", Action: "lambda:InvokeFunctionUrl", Resource: arn, Condition: urlNone}}, true},
		{"AWS star principal", []registry.Statement{{Effect: "Allow", Principal: map[string]any{"AWS": "*"}, Action: "lambda:InvokeFunctionUrl"}}, true},
		{"lambda star", []registry.Statement{{Effect: "Allow", Principal: "*", Action: "lambda:*"}}, true},
		{"InvokeFunction only", []registry.Statement{{Effect: "Allow", Principal: "*", Action: "lambda:InvokeFunction"}}, false},
		{"account principal", []registry.Statement{{Effect: "Allow", Principal: map[string]any{"AWS": "arn:aws:iam::000000000000:root"}, Action: "lambda:InvokeFunctionUrl"}}, false},
		{"IAM auth type condition", []registry.Statement{{Effect: "Allow", Principal: "*", Action: "lambda:InvokeFunctionUrl",
			Condition: map[string]map[string]string{"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}}}, false},
		{"source account condition", []registry.Statement{{Effect: "Allow", Principal: "*", Action: "lambda:InvokeFunctionUrl",
			Condition: map[string]map[string]string{"StringEquals": {"AWS:SourceAccount": "000000000000"}}}}, false},
	}
	for _, tt := range tests {
		if got := PublicAllowed(tt.stmts); got != tt.want {
			t.Errorf("%s: PublicAllowed = %v, want %v", tt.name, got, tt.want)
		}
	}
}
