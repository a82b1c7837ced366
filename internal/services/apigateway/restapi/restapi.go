package restapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/services/apigateway"
)

// SigningName is the SigV4 service name of the REST API management API.
const SigningName = "apigateway"

// PathPrefixes begin the paths this API serves.
var PathPrefixes = []string{"/restapis", "/apikeys", "/usageplans"}

// Matchers are the edge's matchers of this API: requests signed for
// apigateway under one of PathPrefixes.
func Matchers() []edge.Matcher {
	out := make([]edge.Matcher, 0, len(PathPrefixes))
	for _, p := range PathPrefixes {
		out = append(out, edge.Matcher{Service: SigningName, PathPrefix: p})
	}
	return out
}

// Errors renders apigateway's errors: rest-json with a lower-case
// message member.
var Errors = awsproto.RESTJSON{Internal: awsproto.InternalSpec{Code: awsproto.InternalFailure}}

// Config configures the API.
type Config struct {
	State           *apigateway.State
	Region, Account string
	// Authorizer checks every operation; nil allows everything.
	Authorizer *authz.Authorizer
	Logger     *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Usage holds API keys and usage plans; their operations fail
	// without it.
	Usage *Usage
}

// API serves the REST API management API. It is safe for concurrent use.
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
	for pattern, h := range a.handlers() {
		a.mux.Handle(pattern, a.serve(pattern, h))
	}
	return a
}

// handlers maps every pattern of the API to its handler; each one's IAM
// action is apigateway:<its method>.
func (a *API) handlers() map[string]handler {
	const api = "/restapis/{restapi_id}"
	const res = api + "/resources/{resource_id}"
	const meth = res + "/methods/{http_method}"
	return map[string]handler{
		"POST /restapis":            a.createOrImportRestAPI,
		"PUT " + api:                a.putRestAPI,
		"GET /restapis":             a.getRestAPIs,
		"GET " + api:                a.getRestAPI,
		"PATCH " + api:              a.updateRestAPI,
		"DELETE " + api:             a.deleteRestAPI,
		"GET " + api + "/resources": a.getResources,
		"GET " + res:                a.getResource,
		"POST " + res:               a.createResource,
		"DELETE " + res:             a.deleteResource,
		"PUT " + meth:               a.putMethod,
		"GET " + meth:               a.getMethod,
		"DELETE " + meth:            a.deleteMethod,
		"PUT " + meth + "/responses/{status_code}":             a.putMethodResponse,
		"GET " + meth + "/responses/{status_code}":             a.getMethodResponse,
		"PUT " + meth + "/integration":                         a.putIntegration,
		"GET " + meth + "/integration":                         a.getIntegration,
		"DELETE " + meth + "/integration":                      a.deleteIntegration,
		"PUT " + meth + "/integration/responses/{status_code}": a.putIntegrationResponse,
		"GET " + meth + "/integration/responses/{status_code}": a.getIntegrationResponse,
		"POST " + api + "/deployments":                         a.createDeployment,
		"GET " + api + "/deployments":                          a.getDeployments,
		"GET " + api + "/deployments/{deployment_id}":          a.getDeployment,
		"DELETE " + api + "/deployments/{deployment_id}":       a.deleteDeployment,
		"POST " + api + "/stages":                              a.createStage,
		"GET " + api + "/stages":                               a.getStages,
		"GET " + api + "/stages/{stage_name}":                  a.getStage,
		"PATCH " + api + "/stages/{stage_name}":                a.updateStage,
		"DELETE " + api + "/stages/{stage_name}":               a.deleteStage,
		"POST " + api + "/authorizers":                         a.createAuthorizer,
		"GET " + api + "/authorizers":                          a.getAuthorizers,
		"GET " + api + "/authorizers/{authorizer_id}":          a.getAuthorizer,
		"DELETE " + api + "/authorizers/{authorizer_id}":       a.deleteAuthorizer,
		"POST /apikeys":                                        a.createAPIKey,
		"GET /apikeys":                                         a.getAPIKeys,
		"GET /apikeys/{api_Key}":                               a.getAPIKey,
		"PATCH /apikeys/{api_Key}":                             a.updateAPIKey,
		"DELETE /apikeys/{api_Key}":                            a.deleteAPIKey,
		"POST /usageplans":                                     a.createUsagePlan,
		"GET /usageplans":                                      a.getUsagePlans,
		"GET /usageplans/{usageplanId}":                        a.getUsagePlan,
		"DELETE /usageplans/{usageplanId}":                     a.deleteUsagePlan,
		"POST /usageplans/{usageplanId}/keys":                  a.createUsagePlanKey,
		"GET /usageplans/{usageplanId}/keys":                   a.getUsagePlanKeys,
		"DELETE /usageplans/{usageplanId}/keys/{keyId}":        a.deleteUsagePlanKey,
	}
}

// ServeHTTP routes a request to its operation; the edge has authenticated
// it. An unknown path or method is a NotFoundException.
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
			a.log.Error("apigateway: internal error", "request_id", awsproto.RequestID(r.Context()), "method", r.Method, "path", r.URL.Path, "err", err)
		}
		Errors.WriteError(w, r, e)
	})
}

// authorize checks the caller against apigateway:<method> on the ARN of
// the path, as the Service Authorization Reference names it.
func (a *API) authorize(r *http.Request, pattern string) error {
	if a.cfg.Authorizer == nil {
		return nil
	}
	method, _, _ := strings.Cut(pattern, " ")
	return a.cfg.Authorizer.Authorize(r.Context(), authz.Check{Action: "apigateway:" + method,
		Resource: "arn:aws:apigateway:" + a.cfg.Region + "::" + r.URL.Path, SourceIP: authz.SourceIP(r), Denied: awsproto.APIGatewayAccessDenied})
}

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

// Quotas, as API Gateway's defaults: they bound what one account keeps.
const (
	MaxRestAPIs    = 600
	MaxResources   = 300
	MaxAuthorizers = 10
	MaxAPIKeys     = 10000
	MaxUsagePlans  = 300
	MaxStages      = 10
	MaxDeployments = 1000
)

func limitExceeded(format string, args ...any) error {
	return awsproto.Errorf(awsproto.APIGatewayLimitExceeded, format, args...)
}

func conflict(format string, args ...any) error {
	return awsproto.Errorf(awsproto.APIGatewayConflict, format, args...)
}

func (a *API) apiNotFound(id string) error {
	return notFound("Invalid API identifier specified %s:%s", a.cfg.Account, id)
}

// now is the clock to the second.
func (a *API) now() time.Time { return a.cfg.Now().UTC().Truncate(time.Second) }

// doc returns a REST API's document or NotFoundException.
func (a *API) doc(id string) (*apigateway.Doc, error) {
	d, ok := a.st.Get(id)
	if !ok || d.Rest == nil {
		return nil, a.apiNotFound(id)
	}
	return d, nil
}

// update runs fn on a copy of a REST API's document and stores it.
func (a *API) update(ctx context.Context, id string, fn func(d *apigateway.Doc) (*apigateway.Write, error)) (*apigateway.Doc, error) {
	if _, err := a.doc(id); err != nil {
		return nil, err
	}
	d, err := a.st.Update(ctx, id, fn)
	if errors.Is(err, apigateway.ErrNotFound) {
		return nil, a.apiNotFound(id)
	}
	return d, err
}

// epoch is a timestamp as rest-json's default format has it.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatInt(time.Time(e).Unix(), 10)), nil
}

// page cuts a sorted list at the request's position and limit; the
// position is the last id sent.
func page(r *http.Request, ids []string) (out []string, next string, err error) {
	sort.Strings(ids)
	q := r.URL.Query()
	if tok := q.Get("position"); tok != "" {
		i := sort.SearchStrings(ids, tok)
		if i < len(ids) && ids[i] == tok {
			i++
		}
		ids = ids[i:]
	}
	limit := 25
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return nil, "", badRequest("Invalid limit: must be between 1 and 500")
		}
		limit = n
	}
	if len(ids) > limit {
		return ids[:limit], ids[limit-1], nil
	}
	return ids, "", nil
}

// list is the body of the Get… list operations.
type list struct {
	Item     any    `json:"item"`
	Position string `json:"position,omitempty"`
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// patchOp is one of a PATCH request's patchOperations.
type patchOp struct {
	Op    string  `json:"op"`
	Path  string  `json:"path"`
	Value *string `json:"value"`
	From  string  `json:"from"`
}

// patchOps reads a PATCH body's patchOperations.
func patchOps(r *http.Request) ([]patchOp, error) {
	var in struct {
		PatchOperations []patchOp `json:"patchOperations"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	for _, op := range in.PatchOperations {
		switch op.Op {
		case "add", "remove", "replace", "move", "copy", "test":
		default:
			return nil, badRequest("Invalid patch operation specified. Must be one of: [add, remove, replace, move, copy, test]")
		}
		if !strings.HasPrefix(op.Path, "/") {
			return nil, badRequest("Invalid patch path '%s'", op.Path)
		}
	}
	return in.PatchOperations, nil
}

// unescapePointer undoes a JSON pointer segment's escapes (~1 is '/', ~0
// is '~').
func unescapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

func (op patchOp) value() string {
	if op.Value == nil {
		return ""
	}
	return *op.Value
}

func invalidPatch(op patchOp) error {
	return badRequest("Invalid patch path '%s' specified for op '%s'. Must be one of: the updatable members", op.Path, op.Op)
}
