package execute

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/funcurl"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

// MaxRequestBody is the largest request body an HTTP API accepts: its 10
// MB payload quota. What reaches a function is bounded further by
// Lambda's synchronous payload limit.
const MaxRequestBody = 10 << 20

// DefaultMaxBodyBytesInFlight is Config.MaxBodyBytesInFlight's default.
const DefaultMaxBodyBytesInFlight = 256 << 20

// Config wires a Server.
type Config struct {
	State *apigateway.State
	// Invoker runs integrations and authorizers under
	// authz.WithService(apigateway.amazonaws.com, SourceArn): it must
	// check the function's policy (lambda.InvokeGuard).
	Invoker invoke.Invoker
	// Verifier checks the signatures of requests to AWS_IAM routes; nil
	// (authentication off) accepts them all.
	Verifier *awsproto.Verifier
	// Authorizer checks execute-api:Invoke for AWS_IAM routes; nil allows.
	Authorizer      *authz.Authorizer
	Region, Account string
	Logger          *slog.Logger
	// Now is the clock (request times, authorizer cache); time.Now when nil.
	Now func() time.Time
	// MaxBodyBytesInFlight bounds the request bodies held at once, counted
	// at their Content-Length; beyond it a request gets a 429.
	MaxBodyBytesInFlight int64
	// CanaryRandom draws a REST request's place in [0, 1) for its stage's
	// canary (rest.go); math/rand/v2's Float64 when nil.
	CanaryRandom func() float64
	// APIKeys checks REST API keys against usage plans (rest_auth.go);
	// nil: no key is valid.
	APIKeys APIKeys
}

// Server is the execute-api data plane: it resolves a request's API,
// stage, route and integration from the State's view and runs the
// integration. It reads no store on the request path. It is safe for
// concurrent use.
type Server struct {
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
	auth *authCache
	jwks *jwtKeys
	stop context.CancelFunc

	maxInFlight int64
	inFlight    atomic.Int64

	limMu    sync.Mutex
	limiters map[string]*limiter

	ws   *wsHub    // WebSocket connections (websocket.go)
	rest restPlane // REST APIs' own (rest.go)
}

var _ http.Handler = (*Server)(nil)

// New returns a Server; cfg must not change afterwards.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, log: cfg.Logger, now: cfg.Now, maxInFlight: cfg.MaxBodyBytesInFlight, limiters: map[string]*limiter{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxInFlight <= 0 {
		s.maxInFlight = DefaultMaxBodyBytesInFlight
	}
	s.auth = &authCache{entries: map[string]authEntry{}}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.jwks = &jwtKeys{ctx: ctx, client: &http.Client{Timeout: 10 * time.Second}, issuers: map[string]*issuerKeys{}}
	s.ws = newWSHub()
	go s.sweepWebSockets(ctx)
	return s
}

// Close stops the background refreshes of JWT issuers' keys.
func (s *Server) Close() { s.stop() }

// Route is the edge route of the execute-api endpoint (see NewRoute).
func (s *Server) Route() edge.Route { return NewRoute(s.cfg.Region, s) }

// NewRoute is the edge route of the execute-api endpoint served by h:
// host names *.execute-api.<region>.localhost and paths under
// /execute-api/. The Server authenticates AWS_IAM routes itself; every
// other request is public, as an API's endpoint is.
func NewRoute(region string, h http.Handler) edge.Route {
	return edge.Route{
		Name: "execute-api",
		Match: []edge.Matcher{
			{Host: "*" + apigateway.HostInfix + region + ".localhost"},
			{PathPrefix: apigateway.PathPrefix},
		},
		Auth:    edge.AuthHandler,
		Handler: h,
		MaxBody: func(*http.Request) int64 { return MaxRequestBody },
	}
}

// Messages of the answers API Gateway gives itself.
var (
	msgNotFound     = "Not Found"
	msgForbidden    = "Forbidden"
	msgUnauthorized = "Unauthorized"
	msgInternal     = "Internal Server Error"
	msgUnavailable  = "Service Unavailable"
	msgThrottled    = "Too Many Requests"
	msgTooLarge     = "Request Entity Too Large"
)

func platform(status int, msg string) *funcurl.Reply {
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	return &funcurl.Reply{Status: status, Header: http.Header{"Content-Type": {"application/json"}}, Body: b}
}

// target is where a request is addressed.
type target struct {
	apiID, domain string
	path          string // escaped, after the api-id (path style); "/" at least
}

// address reads the API a request is for from its host name or path.
func (s *Server) address(r *http.Request) (target, bool) {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	if id, rest, ok := strings.Cut(host, apigateway.HostInfix); ok && rest == s.cfg.Region+".localhost" && apigateway.IsAPIID(id) {
		return target{apiID: id, domain: host, path: path}, true
	}
	if rest, ok := strings.CutPrefix(path, apigateway.PathPrefix); ok {
		id, p, _ := strings.Cut(rest, "/")
		if apigateway.IsAPIID(id) {
			return target{apiID: id, domain: apigateway.Host(id, s.cfg.Region), path: "/" + p}, true
		}
	}
	return target{}, false
}

// ServeHTTP answers one request to an API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.serveWebSocket(w, r) {
		return
	}
	requestID := newRequestID()
	rep, cors := s.serve(r, requestID)
	if cors != nil {
		funcurl.AddCORS(cors, r, rep.Header)
	}
	h := w.Header()
	for k, vs := range rep.Header {
		h[k] = vs
	}
	if _, rest := h["X-Amz-Apigw-Id"]; !rest {
		h["Apigw-Requestid"] = []string{requestID}
	}
	h["Content-Length"] = []string{strconv.Itoa(len(rep.Body))}
	w.WriteHeader(rep.Status)
	if r.Method != http.MethodHead {
		w.Write(rep.Body)
	}
}

// newRequestID is an id in the shape of API Gateway's: 16 characters
// ending in '='.
func newRequestID() string {
	id := apigateway.NewID(15)
	return strings.ToUpper(id[:1]) + id[1:] + "="
}

// request is one request being served.
type request struct {
	r         *http.Request
	requestID string
	t         target
	live      *apigateway.Live
	stage     *apigateway.LiveStage
	path      string // the path after the stage segment
	rawPath   string // the path the function sees (with the stage segment)
	binding   *apigateway.Binding
	params    map[string]string
	body      []byte
	authz     *funcurl.Authorizer
	now       time.Time
}

func (s *Server) serve(r *http.Request, requestID string) (*funcurl.Reply, *registry.Cors) {
	t, ok := s.address(r)
	if !ok {
		return platform(http.StatusNotFound, msgNotFound), nil
	}
	live, ok := s.cfg.State.Live(t.apiID)
	if ok && live.Doc.API.ProtocolType == apigateway.ProtocolREST {
		return s.serveREST(r, requestID, t, live), nil
	}
	if !ok || live.Doc.API.ProtocolType != apigateway.ProtocolHTTP {
		return platform(http.StatusNotFound, msgNotFound), nil
	}
	if live.Doc.API.DisableExecuteAPIEndpoint {
		return platform(http.StatusForbidden, msgForbidden), nil
	}
	q := &request{r: r, requestID: requestID, t: t, live: live, now: s.now()}
	cors := corsOf(live.Doc.API.CorsConfiguration)
	// The stage: a first segment naming a stage, else $default.
	first, rest, _ := strings.Cut(strings.TrimPrefix(t.path, "/"), "/")
	if st, ok := live.Stages[unescape(first)]; ok && first != "" && unescape(first) != apigateway.DefaultStage {
		q.stage, q.path, q.rawPath = st, "/"+rest, t.path
	} else if st, ok := live.Stages[apigateway.DefaultStage]; ok {
		q.stage, q.path, q.rawPath = st, t.path, t.path
	} else {
		return platform(http.StatusNotFound, msgNotFound), cors
	}
	if cors != nil && isPreflight(r) {
		rep := funcurl.Preflight(cors, r)
		rep.Status = http.StatusNoContent
		return rep, nil
	}
	if q.stage.Router == nil {
		return platform(http.StatusNotFound, msgNotFound), cors
	}
	b, params, ok := q.stage.Router.Match(r.Method, q.path)
	if !ok {
		return platform(http.StatusNotFound, msgNotFound), cors
	}
	q.binding, q.params = b, params
	if !s.allow(q) {
		return platform(http.StatusTooManyRequests, msgThrottled), cors
	}
	if r.ContentLength > MaxRequestBody {
		return platform(http.StatusRequestEntityTooLarge, msgTooLarge), cors
	}
	reserve := int64(MaxRequestBody)
	if r.ContentLength >= 0 {
		reserve = r.ContentLength
	}
	if s.inFlight.Add(reserve) > s.maxInFlight {
		s.inFlight.Add(-reserve)
		return platform(http.StatusTooManyRequests, msgThrottled), cors
	}
	defer s.inFlight.Add(-reserve)
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBody+1))
	if err != nil {
		return platform(http.StatusBadRequest, "Bad Request"), cors
	}
	if len(body) > MaxRequestBody {
		return platform(http.StatusRequestEntityTooLarge, msgTooLarge), cors
	}
	q.body = body
	if rep := s.authorize(q); rep != nil {
		return rep, cors
	}
	if b.Integration == nil {
		return platform(http.StatusInternalServerError, msgInternal), cors
	}
	return s.integrate(q), cors
}

func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	if u, err := urlPathUnescape(s); err == nil {
		return u
	}
	return s
}

func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

func corsOf(c *apigateway.Cors) *registry.Cors {
	if c == nil {
		return nil
	}
	return &registry.Cors{AllowCredentials: c.AllowCredentials, AllowHeaders: c.AllowHeaders, AllowMethods: c.AllowMethods,
		AllowOrigins: c.AllowOrigins, ExposeHeaders: c.ExposeHeaders, MaxAge: c.MaxAge}
}

// routeKey is the route's key, "$default" for the default route.
func (q *request) routeKey() string { return q.binding.Route.RouteKey }

// eventInput is what both payload formats are built from.
func (s *Server) eventInput(q *request) *funcurl.EventInput {
	st := q.stage.Stage
	var vars map[string]string
	if len(st.StageVariables) > 0 {
		vars = st.StageVariables
	}
	return &funcurl.EventInput{APIID: q.t.apiID, DomainName: q.t.domain, DomainPrefix: q.t.apiID, Path: q.rawPath,
		RouteKey: q.routeKey(), Stage: st.StageName, RequestID: q.requestID, AccountID: s.cfg.Account, Now: q.now,
		Body: q.body, PathParameters: q.params, StageVariables: vars, Authorizer: q.authz}
}

// sourceARN is the SourceArn API Gateway invokes a route's integration
// with: arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/ROUTE-PATH,
// or …:API/STAGE/$default for the $default route.
func (s *Server) sourceARN(q *request) string {
	base := "arn:aws:execute-api:" + s.cfg.Region + ":" + s.cfg.Account + ":" + q.t.apiID + "/" + q.stage.Stage.StageName + "/"
	key := q.routeKey()
	if key == apigateway.DefaultRoute {
		return base + apigateway.DefaultRoute
	}
	_, path, _ := strings.Cut(key, " ")
	return base + q.r.Method + path
}

// integrate runs the route's Lambda integration and maps its answer.
func (s *Server) integrate(q *request) *funcurl.Reply {
	it := q.binding.Integration
	ref, err := apigateway.FunctionRef(it.IntegrationURI)
	if err != nil {
		return platform(http.StatusInternalServerError, msgInternal)
	}
	in := s.eventInput(q)
	var payload []byte
	if it.PayloadFormatVersion == "1.0" {
		resource := q.routeKey()
		if resource != apigateway.DefaultRoute {
			_, resource, _ = strings.Cut(resource, " ")
		}
		if q.authz != nil && q.authz.Lambda != nil {
			in.Authorizer = q.authz
		}
		payload, err = json.Marshal(newEventV1(q.r, in, resource))
	} else {
		payload, err = json.Marshal(funcurl.NewEvent(q.r, in))
	}
	if err != nil {
		s.log.Error("execute-api: encoding the event", "requestId", q.requestID, "err", err)
		return platform(http.StatusInternalServerError, msgInternal)
	}
	timeout := time.Duration(it.TimeoutInMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	out, err := s.invoke(q, ref, s.sourceARN(q), payload, timeout)
	if err != nil {
		return s.invokeFailed(q, err)
	}
	if out.FunctionError != "" {
		return platform(http.StatusInternalServerError, msgInternal)
	}
	var rep *funcurl.Reply
	if it.PayloadFormatVersion == "1.0" {
		rep, err = mapResponseV1(out.Payload)
	} else {
		rep, err = funcurl.MapResponse(out.Payload)
	}
	if err != nil {
		s.log.Debug("execute-api: malformed function response", "requestId", q.requestID, "function", ref.Name, "err", err)
		return platform(http.StatusInternalServerError, msgInternal)
	}
	return rep
}

// errTimedOut is an integration that did not answer within its timeout.
var errTimedOut = errors.New("execute-api: integration timed out")

// invoke runs a function synchronously as API Gateway, within timeout.
func (s *Server) invoke(q *request, ref registry.Ref, sourceARN string, payload []byte, timeout time.Duration) (*invoke.Output, error) {
	ctx, cancel := context.WithTimeout(q.r.Context(), timeout)
	defer cancel()
	ctx = authz.WithService(ctx, apigateway.ServicePrincipal, sourceARN, s.cfg.Account)
	// The invocation has a request id of its own, as on AWS: Lambda's,
	// not the apigw-requestid.
	out, err := s.cfg.Invoker.Invoke(ctx, &invoke.Input{Ref: ref, InvocationType: invoke.TypeRequestReponse, Payload: payload,
		RequestID: awsproto.NewRequestID()})
	if err != nil && ctx.Err() == context.DeadlineExceeded && q.r.Context().Err() == nil {
		return nil, errTimedOut
	}
	return out, err
}

// invokeFailed is API Gateway's answer to an integration that failed:
// 503 when it timed out, 500 for everything else (a missing permission,
// a function that does not exist, throttling of the function).
func (s *Server) invokeFailed(q *request, err error) *funcurl.Reply {
	if errors.Is(err, errTimedOut) {
		return platform(http.StatusServiceUnavailable, msgUnavailable)
	}
	if q.r.Context().Err() != nil {
		return platform(499, "Client Closed Request")
	}
	var ae *awsproto.Error
	if errors.As(err, &ae) && ae.Code != awsproto.ServiceException {
		s.log.Debug("execute-api: invoke refused", "requestId", q.requestID, "err", err)
	} else {
		s.log.Error("execute-api: invoke failed", "requestId", q.requestID, "err", err)
	}
	return platform(http.StatusInternalServerError, msgInternal)
}

// ---- throttling

type limiter struct {
	rate  float64
	burst int
	lim   *rate.Limiter
}

// allow applies the stage's throttling settings for the route: its
// RouteSettings entry, else DefaultRouteSettings. A route without limits
// is not throttled here.
func (s *Server) allow(q *request) bool {
	st := q.stage.Stage
	rs := st.RouteSettings[q.routeKey()]
	var rl *float64
	var bl *int
	for _, set := range []*apigateway.RouteSettings{rs, st.DefaultRouteSettings} {
		if set == nil {
			continue
		}
		if rl == nil {
			rl = set.ThrottlingRateLimit
		}
		if bl == nil {
			bl = set.ThrottlingBurstLimit
		}
	}
	if rl == nil && bl == nil {
		return true
	}
	r, b := float64(rate.Inf), int(^uint(0)>>1)
	if rl != nil {
		r = *rl
	}
	if bl != nil {
		b = *bl
	}
	key := q.t.apiID + "/" + st.StageName + "/" + q.routeKey()
	s.limMu.Lock()
	l := s.limiters[key]
	if l == nil || l.rate != r || l.burst != b {
		if len(s.limiters) > 100000 {
			clear(s.limiters)
		}
		l = &limiter{rate: r, burst: b, lim: rate.NewLimiter(rate.Limit(r), b)}
		s.limiters[key] = l
	}
	s.limMu.Unlock()
	return l.lim.AllowN(q.now, 1)
}
