package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

// SigningName is the SigV4 service name of API Gateway's management APIs.
const SigningName = "apigateway"

// PathPrefix begins every path of the apigatewayv2 API.
const PathPrefix = "/v2/"

// Errors renders apigatewayv2's errors: rest-json with a lower-case
// message member, InternalFailure for unexpected failures. The edge uses
// it for the route's own refusals too.
var Errors = awsproto.RESTJSON{Internal: awsproto.InternalSpec{Code: awsproto.InternalFailure}}

// Config configures the API.
type Config struct {
	State           *apigateway.State
	Region, Account string
	// EdgeURL is the edge's base URL ("http://127.0.0.1:9070"), from which
	// an API's ApiEndpoint takes its port; "http://localhost" when nil.
	EdgeURL func() string
	// Authorizer checks every operation (authz.go); nil allows everything.
	Authorizer *authz.Authorizer
	Logger     *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// API serves apigatewayv2. It is safe for concurrent use.
type API struct {
	cfg Config
	st  *apigateway.State
	log *slog.Logger
	mux *http.ServeMux
}

var _ http.Handler = (*API)(nil)

type handler func(w http.ResponseWriter, r *http.Request) error

// New returns the API over cfg.State.
func New(cfg Config) *API {
	a := &API{cfg: cfg, st: cfg.State, log: cfg.Logger, mux: http.NewServeMux()}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.cfg.Now == nil {
		a.cfg.Now = time.Now
	}
	if a.cfg.EdgeURL == nil {
		a.cfg.EdgeURL = func() string { return "http://localhost" }
	}
	for pattern, h := range a.handlers() {
		a.mux.Handle(pattern, a.serve(pattern, h))
	}
	return a
}

// ServeHTTP routes a request to its operation; the edge has authenticated
// it. An unknown path or method is a NotFoundException, as API Gateway
// answers.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := a.mux.Handler(r); pattern == "" {
		Errors.WriteError(w, r, awsproto.Errorf(awsproto.APIGatewayNotFound, "Unknown operation %s %s", r.Method, r.URL.Path))
		return
	}
	a.mux.ServeHTTP(w, r)
}

func (a *API) serve(pattern string, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := a.authorize(r, pattern)
		if err == nil {
			err = h(w, r)
		}
		if err == nil {
			return
		}
		e := awsproto.AsError(err)
		if e.Status() >= 500 {
			a.log.Error("apigatewayv2: internal error", "request_id", awsproto.RequestID(r.Context()), "method", r.Method, "path", r.URL.Path, "err", err)
		}
		Errors.WriteError(w, r, e)
	})
}

// decode reads a JSON request body into v. An empty body leaves v as is.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return badRequest("Could not read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return badRequest("Invalid request body: %v", err)
	}
	return nil
}

func write(w http.ResponseWriter, status int, v any) error {
	if v == nil {
		w.WriteHeader(status)
		return nil
	}
	awsproto.WriteJSON(w, status, v)
	return nil
}

func badRequest(format string, args ...any) error {
	return awsproto.Errorf(awsproto.APIGatewayBadRequest, format, args...)
}

func notFound(format string, args ...any) error {
	return awsproto.Errorf(awsproto.APIGatewayNotFound, format, args...)
}

func conflict(format string, args ...any) error {
	return awsproto.Errorf(awsproto.APIGatewayConflict, format, args...)
}

// apiNotFound is API Gateway's answer for an unknown API id.
func (a *API) apiNotFound(id string) error {
	return notFound("Invalid API identifier specified %s:%s", a.cfg.Account, id)
}

// now is the clock, to the second: the wire's timestamps have no
// fraction.
func (a *API) now() time.Time { return a.cfg.Now().UTC().Truncate(time.Second) }

// endpoint is an API's ApiEndpoint.
func (a *API) endpoint(id string) string {
	host := a.cfg.EdgeURL()
	if u, err := url.Parse(host); err == nil && u.Host != "" {
		host = u.Host
	}
	return apigateway.Endpoint(id, a.cfg.Region, host)
}

// update runs fn on a copy of the API's document and stores the result.
func (a *API) update(ctx context.Context, apiID string, fn func(d *apigateway.Doc) (*apigateway.Write, error)) (*apigateway.Doc, error) {
	if _, err := a.doc(apiID); err != nil {
		return nil, err
	}
	d, err := a.st.Update(ctx, apiID, fn)
	if errors.Is(err, apigateway.ErrNotFound) {
		return nil, a.apiNotFound(apiID)
	}
	return d, err
}

// doc returns the API's document or NotFoundException.
func (a *API) doc(apiID string) (*apigateway.Doc, error) {
	d, ok := a.st.Get(apiID)
	if !ok || d.API.ProtocolType == apigateway.ProtocolREST {
		return nil, a.apiNotFound(apiID)
	}
	return d, nil
}

// page cuts a sorted list of ids at the request's nextToken and
// maxResults; the token is the last id sent.
func page(r *http.Request, ids []string) (out []string, next string, err error) {
	sort.Strings(ids)
	q := r.URL.Query()
	if tok := q.Get("nextToken"); tok != "" {
		i := sort.SearchStrings(ids, tok)
		if i < len(ids) && ids[i] == tok {
			i++
		}
		ids = ids[i:]
	}
	max := 0
	if s := q.Get("maxResults"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return nil, "", badRequest("maxResults must be a number between 1 and 500")
		}
		max = n
	}
	if max > 0 && len(ids) > max {
		return ids[:max], ids[max-1], nil
	}
	return ids, "", nil
}

// items is the body of the Get… list operations.
type items struct {
	Items     any    `json:"items"`
	NextToken string `json:"nextToken,omitempty"`
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// validName checks a name of 1 to 128 characters.
func validName(what, s string) error {
	if s == "" || len(s) > 128 {
		return badRequest("%s must be between 1 and 128 characters", what)
	}
	return nil
}
