package funcurl

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/awsproto/arn"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/registry"
)

// MaxRequestBody is the largest request body a function URL accepts:
// Lambda's synchronous payload limit.
const MaxRequestBody = invoke.MaxSyncPayload

// PathPrefix begins the path form of a function URL: /lambda-url/<url-id>/…
const PathPrefix = "/lambda-url/"

// hostInfix is what a function URL's host name has after its url-id.
const hostInfix = ".lambda-url."

// URL is the address of a function URL with the given url-id, for a server
// reached at hostport (the Host of the request that asked, "host:port" or
// "host"). Kumo serves URLs over plain HTTP on its edge port, so this is
// http://<url-id>.lambda-url.<region>.localhost:<port>/ where AWS has
// https://<url-id>.lambda-url.<region>.on.aws/.
func URL(id, region, hostport string) string {
	u := "http://" + id + hostInfix + region + ".localhost"
	if _, port, err := net.SplitHostPort(hostport); err == nil && port != "" {
		u += ":" + port
	}
	return u + "/"
}

// Config wires a Server.
type Config struct {
	Registry *registry.Registry
	Invoker  invoke.Invoker
	// Verifier checks the signatures of requests to AWS_IAM URLs. Nil
	// means authentication is off (an operator's choice): AWS_IAM URLs
	// then accept every request as the account root.
	Verifier *awsproto.Verifier
	Region   string
	Account  string
	Logger   *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Authorizer checks lambda:InvokeFunctionUrl for requests to AWS_IAM
	// URLs, with the function's policy; nil lets every signed request
	// through, as for the account root.
	Authorizer *authz.Authorizer
	// MaxBodyBytesInFlight bounds the request bodies of all URL requests
	// being served, counted at their Content-Length (MaxRequestBody when
	// unknown); beyond it a request is answered 429.
	// DefaultMaxBodyBytesInFlight when zero.
	MaxBodyBytesInFlight int64
}

// DefaultMaxBodyBytesInFlight is Config.MaxBodyBytesInFlight's default:
// room for 40 requests at the payload limit, and thousands of small ones.
const DefaultMaxBodyBytesInFlight = 256 << 20

// Server serves function URLs: the handler of the edge route Route
// returns. It is safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	maxInFlight int64
	inFlight    atomic.Int64 // request body bytes being read or held
	policies    *authz.FunctionPolicies
}

// target is what a url-id names.
type target struct{ function, qualifier string }

var _ http.Handler = (*Server)(nil)

// New returns a Server; cfg must not change afterwards.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, log: cfg.Logger, now: cfg.Now, maxInFlight: cfg.MaxBodyBytesInFlight}
	if s.maxInFlight <= 0 {
		s.maxInFlight = DefaultMaxBodyBytesInFlight
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.Registry != nil {
		s.policies = &authz.FunctionPolicies{Statements: cfg.Registry.Policy}
	}
	return s
}

// Match returns the url-id a request addresses, the function's path and the
// URL's domain name, or ok false when the request is not for a function URL.
func (s *Server) Match(r *http.Request) (id, path, domain string, ok bool) {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if i := strings.Index(host, hostInfix); i == 32 && host[i+len(hostInfix):] == s.cfg.Region+".localhost" {
		id = host[:32]
		if registry.IsURLID(id) {
			path = r.URL.EscapedPath()
			if path == "" {
				path = "/"
			}
			return id, path, host, true
		}
	}
	p := r.URL.EscapedPath()
	if rest, found := strings.CutPrefix(p, PathPrefix); found {
		id, path, _ = strings.Cut(rest, "/")
		if registry.IsURLID(id) {
			return id, "/" + path, id + hostInfix + s.cfg.Region + ".localhost", true
		}
	}
	return "", "", "", false
}

// Route is the edge route of function URLs: host names
// *.lambda-url.<region>.localhost and paths under /lambda-url/. The
// server authenticates by each URL's AuthType itself.
func (s *Server) Route() edge.Route {
	return edge.Route{
		Name: "function-url",
		Match: []edge.Matcher{
			{Host: "*" + hostInfix + s.cfg.Region + ".localhost"},
			{PathPrefix: PathPrefix},
		},
		Auth:    edge.AuthHandler,
		Handler: s,
	}
}

// lookup finds the URL configuration of a url-id in the registry's index.
func (s *Server) lookup(id string) (target, registry.URLConfig, bool) {
	e, ok := s.cfg.Registry.URLByID(id)
	return target{e.Function, e.Qualifier}, e.Config, ok
}

// ServeHTTP answers a request to a function URL; one that names no URL
// gets the platform's 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := awsproto.RequestID(r.Context())
	if requestID == "" {
		requestID = awsproto.NewRequestID()
	}
	id, path, domain, ok := s.Match(r)
	var rep *Reply
	var cors *registry.Cors
	if ok {
		rep, cors = s.serve(w, r, &request{id: id, path: path, domain: domain, requestID: requestID, account: s.cfg.Account})
		if rep == nil {
			return // streamed (stream.go)
		}
	} else {
		rep = platformReply(http.StatusNotFound, bodyNotFound)
	}
	AddCORS(cors, r, rep.Header)
	h := w.Header()
	for k, vs := range rep.Header {
		h[k] = vs
	}
	h["x-amzn-RequestId"] = []string{requestID}
	h["Content-Length"] = []string{strconv.Itoa(len(rep.Body))}
	w.WriteHeader(rep.Status)
	if r.Method != http.MethodHead {
		w.Write(rep.Body)
	}
}

// serve answers one function URL request; it returns the reply and the
// URL's CORS configuration (nil when the URL has none or is unknown), or
// a nil reply when it streamed the response to w itself.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, q *request) (*Reply, *registry.Cors) {
	t, c, ok := s.lookup(q.id)
	if !ok {
		return platformReply(http.StatusNotFound, bodyNotFound), nil
	}
	if c.Cors != nil && isPreflight(r) {
		return Preflight(c.Cors, r), nil
	}
	iamURL := c.AuthType == registry.URLAuthIAM
	if !iamURL && !PublicAllowed(s.cfg.Registry.Policy(t.function, t.qualifier)) {
		return platformReply(http.StatusForbidden, bodyForbidden), c.Cors
	}
	// An AWS_IAM URL checks what of the signature it can before reading
	// the body: all of it when the payload hash is in a header.
	var claimed string
	if iamURL {
		var rep *Reply
		if claimed, rep = s.authHeaders(r); rep != nil {
			return rep, c.Cors
		}
	}
	if r.ContentLength > MaxRequestBody {
		return platformReply(http.StatusRequestEntityTooLarge, bodyTooLarge), c.Cors
	}
	// Bodies in memory at once are bounded: a public URL's clients are
	// anyone.
	reserve := int64(MaxRequestBody)
	if r.ContentLength >= 0 {
		reserve = r.ContentLength
	}
	if s.inFlight.Add(reserve) > s.maxInFlight {
		s.inFlight.Add(-reserve)
		return platformReply(http.StatusTooManyRequests, bodyThrottled), c.Cors
	}
	defer s.inFlight.Add(-reserve)
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBody+1))
	if err != nil {
		return platformReply(http.StatusBadRequest, messageBody("Could not read the request body.")), c.Cors
	}
	if len(body) > MaxRequestBody {
		return platformReply(http.StatusRequestEntityTooLarge, bodyTooLarge), c.Cors
	}
	q.body = body
	if iamURL {
		iam, rep := s.authIAM(r, t, body, claimed)
		if rep != nil {
			return rep, c.Cors
		}
		q.iam = iam
	}

	q.now = s.now()
	payload, err := json.Marshal(newEvent(r, q))
	if err != nil {
		s.log.Error("function url: encoding the event", "requestId", q.requestID, "err", err)
		return platformReply(http.StatusInternalServerError, bodyInternal), c.Cors
	}
	in := &invoke.Input{
		Ref:            registry.Ref{Name: t.function, Qualifier: t.qualifier},
		InvocationType: invoke.TypeRequestReponse,
		Payload:        payload,
		RequestID:      q.requestID,
	}
	var st *urlStream
	if c.InvokeMode == registry.InvokeStream && r.Method != http.MethodHead {
		st = newURLStream(w, r, c.Cors, q.requestID)
		in.Stream = st
	}
	out, err := s.cfg.Invoker.Invoke(awsproto.WithRequestID(r.Context(), q.requestID), in)
	if st != nil && st.begun {
		st.end(out, err)
		return nil, c.Cors
	}
	if err != nil {
		return s.invokeFailed(r, q, err), c.Cors
	}
	if out.FunctionError != "" {
		return platformReply(http.StatusBadGateway, bodyFunctionFail), c.Cors
	}
	rep, err := MapResponse(out.Payload)
	if err != nil {
		s.log.Debug("function url: bad function response", "requestId", q.requestID, "function", t.function, "err", err)
		return platformReply(http.StatusBadGateway, bodyFunctionFail), c.Cors
	}
	return rep, c.Cors
}

// invokeFailed turns an invoke error into the URL's answer.
func (s *Server) invokeFailed(r *http.Request, q *request, err error) *Reply {
	if r.Context().Err() != nil {
		return platformReply(499, messageBody("Client Closed Request"))
	}
	var ae *awsproto.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case awsproto.TooManyRequestsException:
			return platformReply(http.StatusTooManyRequests, bodyThrottled)
		case awsproto.RequestEntityTooLargeException, awsproto.RequestTooLargeException:
			return platformReply(http.StatusRequestEntityTooLarge, bodyTooLarge)
		case awsproto.ResourceNotFoundException:
			return platformReply(http.StatusNotFound, bodyNotFound)
		case awsproto.ServiceException:
		default:
			s.log.Debug("function url: invoke refused", "requestId", q.requestID, "err", err)
			return platformReply(http.StatusBadGateway, bodyFunctionFail)
		}
	}
	s.log.Error("function url: invoke failed", "requestId", q.requestID, "err", err)
	return platformReply(http.StatusInternalServerError, bodyInternal)
}

// authHeaders checks the SigV4 signature of a request to an AWS_IAM URL as
// far as its headers allow, before the body is read: the whole signature
// when x-amz-content-sha256 carries the payload hash (returned, for
// authIAM to compare with the body's), every check but the HMAC otherwise.
func (s *Server) authHeaders(r *http.Request) (claimed string, rep *Reply) {
	v := s.cfg.Verifier
	if v == nil {
		return "", nil
	}
	if len(r.Header["Authorization"]) == 0 {
		return "", platformReply(http.StatusForbidden, bodyForbidden)
	}
	var a awsproto.Authorization
	var err error
	if cs, ok := r.Header["X-Amz-Content-Sha256"]; ok {
		if len(cs) == 1 {
			claimed = cs[0]
		}
		a, err = v.VerifyHash(r, claimed)
	} else {
		a, err = v.CheckHeaders(r)
	}
	if err != nil {
		return "", platformReply(http.StatusForbidden, messageBody(awsproto.AsError(err).Message))
	}
	if a.Service != "lambda" {
		return "", platformReply(http.StatusForbidden, messageBody("Credential should be scoped to correct service: 'lambda'. "))
	}
	return claimed, nil
}

// authIAM finishes the SigV4 check of a request to an AWS_IAM URL once its
// body is read, and checks that the signer may call
// lambda:InvokeFunctionUrl on the URL's function: its identity policies
// or the function's policy must allow it (the account root always may).
func (s *Server) authIAM(r *http.Request, t target, body []byte, claimed string) (*IAM, *Reply) {
	v := s.cfg.Verifier
	if v == nil {
		return nil, nil
	}
	sum := sha256.Sum256(body)
	got := hex.EncodeToString(sum[:])
	var a awsproto.Authorization
	var err error
	switch claimed {
	case "":
		a, err = v.VerifyHash(r, got)
	case "UNSIGNED-PAYLOAD":
		a, err = v.VerifyHash(r, claimed)
	default:
		if got != claimed {
			err = awsproto.PayloadHashMismatch()
		} else {
			a, err = v.VerifyHash(r, claimed)
		}
	}
	if err != nil {
		return nil, platformReply(http.StatusForbidden, messageBody(awsproto.AsError(err).Message))
	}
	if az := s.cfg.Authorizer; az != nil {
		scope := arn.Scope{Partition: "aws", Region: s.cfg.Region, Account: s.cfg.Account}
		res := scope.Function(t.function)
		if t.qualifier != "" {
			res = scope.FunctionVersion(t.function, t.qualifier)
		}
		ctx := awsproto.WithCaller(r.Context(), awsproto.Caller{AccessKeyID: a.AccessKeyID, Identity: a.Identity})
		if err := az.Authorize(ctx, authz.Check{Action: "lambda:InvokeFunctionUrl", Resource: res,
			ResourcePolicy: s.policies.Get(t.function, t.qualifier), Keys: iamURLKeys, SourceIP: authz.SourceIP(r),
			Denied: awsproto.AccessDeniedException}); err != nil {
			return nil, platformReply(http.StatusForbidden, bodyForbidden)
		}
	}
	id := &IAM{
		AccessKey: a.AccessKeyID,
		AccountID: s.cfg.Account,
		CallerID:  s.cfg.Account,
		UserARN:   arn.Scope{Partition: "aws", Account: s.cfg.Account}.Root(),
		UserID:    s.cfg.Account,
	}
	if a.Identity.ARN != "" {
		id.AccountID, id.CallerID, id.UserARN, id.UserID = a.Identity.Account, a.Identity.UserID, a.Identity.ARN, a.Identity.UserID
	}
	return id, nil
}

// iamURLKeys are the condition keys of a request to an AWS_IAM URL.
var iamURLKeys = map[string][]string{"lambda:functionurlauthtype": {"AWS_IAM"}}

// PublicAllowed reports whether a resource policy lets anyone call a NONE
// function URL: an Allow statement for principal * and
// lambda:InvokeFunctionUrl whose conditions, if any, are ones an anonymous
// URL call meets (lambda:FunctionUrlAuthType NONE,
// lambda:InvokedViaFunctionUrl true).
func PublicAllowed(stmts []registry.Statement) bool {
	for _, st := range stmts {
		if st.Effect == "Allow" && publicPrincipal(st.Principal) && urlAction(st.Action) && anonymousConditions(st.Condition) {
			return true
		}
	}
	return false
}

func publicPrincipal(p any) bool {
	switch p := p.(type) {
	case string:
		return p == "*"
	case map[string]any:
		s, _ := p["AWS"].(string)
		return s == "*"
	case map[string]string:
		return p["AWS"] == "*"
	}
	return false
}

func urlAction(a string) bool {
	return a == "*" || strings.EqualFold(a, "lambda:*") || strings.EqualFold(a, "lambda:InvokeFunctionUrl")
}

func anonymousConditions(c map[string]map[string]string) bool {
	for op, kv := range c {
		for k, v := range kv {
			switch {
			case op == "StringEquals" && strings.EqualFold(k, "lambda:FunctionUrlAuthType") && v == registry.URLAuthNone:
			case op == "Bool" && strings.EqualFold(k, "lambda:InvokedViaFunctionUrl") && v == "true":
			default:
				return false
			}
		}
	}
	return true
}
