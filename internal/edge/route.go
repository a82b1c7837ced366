package edge

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// Auth says who authenticates the requests of a route.
type Auth int

const (
	// AuthSigV4 (the default): the edge checks the SigV4 signature before
	// the handler runs, and before it reads more of the body than the
	// protocol makes it (see Route.MaxBody).
	AuthSigV4 Auth = iota
	// AuthNone: the route is public (health checks, links that carry
	// their own signature).
	AuthNone
	// AuthHandler: the handler decides (function URLs: NONE or AWS_IAM
	// per URL). The edge still bounds the body and its read time.
	AuthHandler
)

// Matcher is one set of conditions on a request. Every condition that is
// set must hold; an empty Matcher matches every request.
type Matcher struct {
	// Host is the request's host name without the port, compared without
	// regard to case. A leading "*." matches exactly one label:
	// "*.lambda-url.us-east-1.localhost".
	Host string
	// Method is the HTTP method.
	Method string
	// Path is the whole (escaped) path; PathPrefix its beginning.
	Path       string
	PathPrefix string
	// Target is a prefix of the X-Amz-Target header (JSON protocols):
	// "Logs_20140328.".
	Target string
	// Service is the service name of the SigV4 credential scope in the
	// Authorization header ("lambda", "logs"). The header is only parsed
	// here; the route's Auth decides whether it is verified.
	Service string
	// Query holds query parameters the request must carry with these
	// values ("" = present with any value): {"Action": "", "Version":
	// "2012-11-05"} for a query protocol.
	Query map[string]string
}

// Route is one entry of the route table: a request that any of Match
// matches goes to Handler, the first matching route in table order winning.
type Route struct {
	// Name is the route's name in logs: "lambda", "logs", "function-url".
	Name string
	// Match lists alternatives: a request matching any of them takes the
	// route. An empty list matches every request (a catch-all, last).
	Match   []Matcher
	Handler http.Handler
	Auth    Auth
	// Scope is the SigV4 service name a signed request to an AuthSigV4
	// route must be scoped to, as AWS requires ("Credential should be
	// scoped to correct service"); "" accepts any.
	Scope string
	// Errors renders the edge's own refusals of the route's requests
	// (signature, body limits) in the route's wire protocol; Lambda's
	// rest-json when nil.
	Errors awsproto.Renderer
	// MaxBody is the largest body the route accepts for a request, in
	// bytes: an operation's own limit. Nil or a result ≤ 0 means
	// DefaultMaxBody.
	MaxBody func(*http.Request) int64
}

// DefaultMaxBody is the body limit of routes and operations that name none:
// ample for every API call that carries no code or payload.
const DefaultMaxBody = 1 << 20

// Table is an ordered route list. Build it before serving; it must not
// change afterwards.
type Table struct {
	routes []Route
}

// Add appends routes. It refuses a route without a handler and a matcher
// that an earlier route already has (the later route could never take
// such a request: an ambiguity the table refuses rather than resolves
// silently).
func (t *Table) Add(routes ...Route) error {
	for _, r := range routes {
		if r.Handler == nil {
			return fmt.Errorf("edge: route %q has no handler", r.Name)
		}
		for _, m := range r.Match {
			for _, prev := range t.routes {
				for _, pm := range prev.Match {
					if sameMatcher(m, pm) {
						return fmt.Errorf("edge: route %q: matcher %+v is already route %q's", r.Name, m, prev.Name)
					}
				}
			}
		}
		for _, prev := range t.routes {
			if len(prev.Match) == 0 {
				return fmt.Errorf("edge: route %q follows catch-all route %q", r.Name, prev.Name)
			}
		}
		t.routes = append(t.routes, r)
	}
	return nil
}

// MustAdd is Add for tables built from code: it panics on an error.
func (t *Table) MustAdd(routes ...Route) {
	if err := t.Add(routes...); err != nil {
		panic(err)
	}
}

// Routes returns the routes in order.
func (t *Table) Routes() []Route { return t.routes }

// Match returns the first route for r, or nil.
func (t *Table) Match(r *http.Request) *Route {
	var q request
	q.r = r
	for i := range t.routes {
		rt := &t.routes[i]
		if len(rt.Match) == 0 {
			return rt
		}
		for j := range rt.Match {
			if rt.Match[j].matches(&q) {
				return rt
			}
		}
	}
	return nil
}

// request caches what matchers derive from a request, computed once.
type request struct {
	r                  *http.Request
	host, service      string
	haveHost, haveScop bool
}

func (q *request) hostname() string {
	if !q.haveHost {
		h := q.r.Host
		if hn, _, err := net.SplitHostPort(h); err == nil {
			h = hn
		}
		q.host, q.haveHost = strings.ToLower(h), true
	}
	return q.host
}

func (q *request) scope() string {
	if !q.haveScop {
		q.service, q.haveScop = ScopeService(q.r.Header.Get("Authorization")), true
	}
	return q.service
}

func (m *Matcher) matches(q *request) bool {
	r := q.r
	if m.Method != "" && r.Method != m.Method {
		return false
	}
	if m.Path != "" || m.PathPrefix != "" {
		p := r.URL.EscapedPath()
		if m.Path != "" && p != m.Path {
			return false
		}
		if m.PathPrefix != "" && !strings.HasPrefix(p, m.PathPrefix) {
			return false
		}
	}
	if m.Target != "" && !strings.HasPrefix(r.Header.Get("X-Amz-Target"), m.Target) {
		return false
	}
	if m.Host != "" && !hostMatches(m.Host, q.hostname()) {
		return false
	}
	if m.Service != "" && q.scope() != m.Service {
		return false
	}
	if len(m.Query) > 0 {
		vals := r.URL.Query()
		for k, want := range m.Query {
			got, ok := vals[k]
			if !ok || want != "" && (len(got) == 0 || got[0] != want) {
				return false
			}
		}
	}
	return true
}

// hostMatches compares a host pattern with a lowercase host name.
func hostMatches(pattern, host string) bool {
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		label, tail, found := strings.Cut(host, ".")
		return found && label != "" && strings.EqualFold(tail, rest)
	}
	return strings.EqualFold(pattern, host)
}

func sameMatcher(a, b Matcher) bool {
	if a.Host != b.Host || a.Method != b.Method || a.Path != b.Path || a.PathPrefix != b.PathPrefix ||
		a.Target != b.Target || a.Service != b.Service || len(a.Query) != len(b.Query) {
		return false
	}
	for k, v := range a.Query {
		if w, ok := b.Query[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// ScopeService returns the service name of the credential scope of a SigV4
// Authorization header value, or "" when it has none. It parses only; it
// proves nothing about who sent the request.
func ScopeService(authorization string) string {
	_, rest, ok := strings.Cut(authorization, "Credential=")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, ", "); i >= 0 {
		rest = rest[:i]
	}
	// keyid/date/region/service/aws4_request
	if strings.Count(rest, "/") != 4 {
		return ""
	}
	for range 3 {
		_, rest, _ = strings.Cut(rest, "/")
	}
	service, _, _ := strings.Cut(rest, "/")
	return service
}

// BodyLimits returns a Route.MaxBody that looks an operation up by its
// method and path pattern (http.ServeMux syntax: "PUT
// /2015-03-31/functions/{FunctionName}/code") and gives the operations not
// listed DefaultMaxBody.
func BodyLimits(ops map[string]int64) func(*http.Request) int64 {
	mux := http.NewServeMux()
	nop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for pattern := range ops {
		mux.Handle(pattern, nop)
	}
	return func(r *http.Request) int64 {
		if _, pattern := mux.Handler(r); pattern != "" {
			if n, ok := ops[pattern]; ok {
				return n
			}
		}
		return DefaultMaxBody
	}
}
