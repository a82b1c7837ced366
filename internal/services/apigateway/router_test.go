package apigateway

import (
	"testing"

	"github.com/kumo-run/kumo/internal/registry"
)

func TestParseRouteKey(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"GET /", true}, {"ANY /{proxy+}", true}, {"GET /items/{id}", true}, {"POST /a/b/{rest+}", true},
		{"OPTIONS /x", true}, {"GET /a-b_c.d~e", true},
		{"GET", false}, {"get /x", false}, {"FETCH /x", false}, {"GET x", false}, {"GET /a//b", false},
		{"GET /{proxy+}/x", false}, {"GET /{a}/{a}", false}, {"GET /a{b}", false}, {"GET /{}", false},
		{"GET /{+}", false}, {"GET /x?y", false}, {"GET  /x", false},
	} {
		if _, err := ParseRouteKey(tc.key); (err == nil) != tc.ok {
			t.Errorf("ParseRouteKey(%q) = %v, want ok %v", tc.key, err, tc.ok)
		}
	}
}

// TestRouterPrecedence: the route AWS documents for each request.
func TestRouterPrecedence(t *testing.T) {
	keys := []string{"GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "ANY /pets/dog/1", "GET /", DefaultRoute}
	s := &Snapshot{Routes: map[string]*Route{}}
	for i, k := range keys {
		id := string(rune('a' + i))
		s.Routes[id] = &Route{RouteID: id, RouteKey: k}
	}
	r := NewRouter(s)
	for _, tc := range []struct {
		method, path, want string
		params             map[string]string
	}{
		{"GET", "/pets/dog/1", "GET /pets/dog/1", nil},
		{"GET", "/pets/dog/2", "GET /pets/dog/{id}", map[string]string{"id": "2"}},
		{"GET", "/pets/cat/1", "GET /pets/{proxy+}", map[string]string{"proxy": "cat/1"}},
		{"POST", "/pets/dog/1", "ANY /pets/dog/1", nil},
		{"POST", "/pets/cat", "ANY /{proxy+}", map[string]string{"proxy": "pets/cat"}},
		{"GET", "/", "GET /", nil},
		{"POST", "/", DefaultRoute, nil},
		{"GET", "/pets/dog/a%20b", "GET /pets/dog/{id}", map[string]string{"id": "a b"}},
		{"GET", "/pets/dog/1/", "GET /pets/{proxy+}", map[string]string{"proxy": "dog/1/"}},
	} {
		b, p, ok := r.Match(tc.method, tc.path)
		if !ok || b.Route.RouteKey != tc.want {
			got := ""
			if b != nil {
				got = b.Route.RouteKey
			}
			t.Errorf("%s %s → %q, want %q", tc.method, tc.path, got, tc.want)
			continue
		}
		if len(p) != len(tc.params) {
			t.Errorf("%s %s: params %v, want %v", tc.method, tc.path, p, tc.params)
		}
		for k, v := range tc.params {
			if p[k] != v {
				t.Errorf("%s %s: params %v, want %v", tc.method, tc.path, p, tc.params)
			}
		}
	}
	// Without a $default route an unmatched request matches nothing.
	delete(s.Routes, "g")
	if b, _, ok := NewRouter(s).Match("POST", "/"); ok {
		t.Errorf("POST / matched %q without a $default route", b.Route.RouteKey)
	}
}

func TestFunctionRef(t *testing.T) {
	fn := "arn:aws:lambda:us-east-1:000000000000:function:f"
	for _, tc := range []struct {
		uri string
		ref registry.Ref
		ok  bool
	}{
		{fn, registry.Ref{Name: "f"}, true},
		{fn + ":live", registry.Ref{Name: "f", Qualifier: "live"}, true},
		{"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fn + ":3/invocations", registry.Ref{Name: "f", Qualifier: "3"}, true},
		{"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fn, registry.Ref{}, false},
		{"arn:aws:apigateway:us-east-1:s3:path/bucket/key", registry.Ref{}, false},
		{"arn:aws:sqs:us-east-1:000000000000:q", registry.Ref{}, false},
		{fn + ":a:b", registry.Ref{}, false},
		{"https://example.com", registry.Ref{}, false},
	} {
		ref, err := FunctionRef(tc.uri)
		if (err == nil) != tc.ok || ref != tc.ref {
			t.Errorf("FunctionRef(%q) = %+v, %v; want %+v ok %v", tc.uri, ref, err, tc.ref, tc.ok)
		}
	}
}

// FuzzRouter: route keys and request paths from outside never panic the
// parser or the router, and a route that matches is one that parsed.
func FuzzRouter(f *testing.F) {
	f.Add("GET /items/{id}", "GET", "/items/1")
	f.Add("ANY /{proxy+}", "POST", "/a/b%2Fc")
	f.Add("GET /", "GET", "")
	f.Fuzz(func(t *testing.T, key, method, path string) {
		_, perr := ParseRouteKey(key)
		r := NewRouter(&Snapshot{Routes: map[string]*Route{"r": {RouteID: "r", RouteKey: key}}})
		if b, _, ok := r.Match(method, path); ok && perr != nil && key != DefaultRoute {
			t.Fatalf("route %q does not parse (%v) but matched %s %q", b.Route.RouteKey, perr, method, path)
		}
	})
}
