package apigateway

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Methods a route key may name.
var routeMethods = map[string]bool{
	"ANY": true, "GET": true, "POST": true, "PUT": true, "DELETE": true,
	"PATCH": true, "HEAD": true, "OPTIONS": true,
}

// segment kinds, in order of precedence: a literal segment is more
// specific than a path variable, which is more specific than a greedy
// one.
const (
	segGreedy uint8 = iota
	segVar
	segLiteral
)

type segment struct {
	kind uint8
	text string // the literal, or the variable's name
}

// RouteKey is a parsed route key: "GET /items/{id}", "ANY /{proxy+}".
type RouteKey struct {
	Method string // "ANY" for every method
	Path   string
	segs   []segment
}

// ParseRouteKey parses an HTTP API route key other than $default. A path
// starts with '/', has no empty segment but at most a trailing one for
// "/", names each variable once, and may end with one greedy variable
// {name+}.
func ParseRouteKey(key string) (RouteKey, error) {
	method, path, ok := strings.Cut(key, " ")
	if !ok || !routeMethods[method] {
		return RouteKey{}, fmt.Errorf("route key %q must be $default or an HTTP method (ANY, GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS) and a path", key)
	}
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t?#") {
		return RouteKey{}, fmt.Errorf("route key %q: the path must start with '/' and have no spaces, '?' or '#'", key)
	}
	rk := RouteKey{Method: method, Path: path}
	if path == "/" {
		return rk, nil
	}
	names := map[string]bool{}
	parts := strings.Split(path[1:], "/")
	for i, p := range parts {
		switch {
		case p == "":
			return RouteKey{}, fmt.Errorf("route key %q: the path has an empty segment", key)
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
			name := p[1 : len(p)-1]
			kind := segVar
			if n, greedy := strings.CutSuffix(name, "+"); greedy {
				if i != len(parts)-1 {
					return RouteKey{}, fmt.Errorf("route key %q: a greedy path variable must be the last segment", key)
				}
				name, kind = n, segGreedy
			}
			if name == "" || strings.ContainsAny(name, "{}+") || names[name] {
				return RouteKey{}, fmt.Errorf("route key %q: invalid or repeated path variable %q", key, p)
			}
			names[name] = true
			rk.segs = append(rk.segs, segment{kind: kind, text: name})
		case strings.ContainsAny(p, "{}"):
			return RouteKey{}, fmt.Errorf("route key %q: a path variable must be a whole segment", key)
		default:
			rk.segs = append(rk.segs, segment{kind: segLiteral, text: p})
		}
	}
	return rk, nil
}

// match reports whether the request path's segments match k's path, and
// its variables' values (decoded) when they do.
func (k *RouteKey) match(parts []string) (map[string]string, bool) {
	var params map[string]string
	for i, s := range k.segs {
		if s.kind == segGreedy {
			if i >= len(parts) {
				return nil, false
			}
			rest := strings.Join(parts[i:], "/")
			if rest == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[s.text] = unescape(rest)
			return params, true
		}
		if i >= len(parts) {
			return nil, false
		}
		switch s.kind {
		case segLiteral:
			if parts[i] != s.text && unescape(parts[i]) != s.text {
				return nil, false
			}
		case segVar:
			if parts[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[s.text] = unescape(parts[i])
		}
	}
	return params, len(parts) == len(k.segs)
}

func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// moreSpecific orders route keys: segment by segment a literal before a
// variable before a greedy variable, then a method before ANY.
func moreSpecific(a, b *RouteKey) int {
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		if a.segs[i].kind != b.segs[i].kind {
			return int(b.segs[i].kind) - int(a.segs[i].kind)
		}
	}
	if len(a.segs) != len(b.segs) {
		return len(b.segs) - len(a.segs)
	}
	if (a.Method == "ANY") != (b.Method == "ANY") {
		if a.Method == "ANY" {
			return 1
		}
		return -1
	}
	return strings.Compare(a.Path, b.Path)
}

// Binding is what a matched route resolves to in a deployment: the route,
// its integration (nil when the route has no target or the target is
// gone) and its authorizer (nil for NONE and AWS_IAM routes).
type Binding struct {
	Route       *Route
	Integration *Integration
	Authorizer  *Authorizer
	key         RouteKey
}

// Router matches requests to the routes of one deployment, most specific
// first as API Gateway does: exact paths, then path variables, then
// greedy variables, a route for the method before an ANY route, and the
// $default route last. It is immutable and safe for concurrent use.
type Router struct {
	routes []*Binding
	deflt  *Binding
}

// NewRouter compiles a deployment's snapshot. Routes whose key does not
// parse are left out (the control plane refuses them).
func NewRouter(s *Snapshot) *Router {
	r := &Router{}
	for _, rt := range s.Routes {
		b := &Binding{Route: rt}
		if id, ok := strings.CutPrefix(rt.Target, "integrations/"); ok {
			b.Integration = s.Integrations[id]
		}
		if rt.AuthorizerID != "" && (rt.AuthorizationType == AuthCustom || rt.AuthorizationType == AuthJWT) {
			b.Authorizer = s.Authorizers[rt.AuthorizerID]
		}
		if rt.RouteKey == DefaultRoute {
			r.deflt = b
			continue
		}
		k, err := ParseRouteKey(rt.RouteKey)
		if err != nil {
			continue
		}
		b.key = k
		r.routes = append(r.routes, b)
	}
	slices.SortFunc(r.routes, func(a, b *Binding) int { return moreSpecific(&a.key, &b.key) })
	return r
}

// Match finds the route of a request: its method and escaped path (the
// path after any stage segment, "/" at least). params are the path
// variables' decoded values; nil when there are none.
func (r *Router) Match(method, path string) (b *Binding, params map[string]string, ok bool) {
	var parts []string
	if path != "/" && path != "" {
		parts = strings.Split(strings.TrimPrefix(path, "/"), "/")
	}
	for _, b := range r.routes {
		if b.key.Method != "ANY" && b.key.Method != method {
			continue
		}
		if p, ok := b.key.match(parts); ok {
			return b, p, true
		}
	}
	if r.deflt != nil {
		return r.deflt, nil, true
	}
	return nil, nil, false
}
