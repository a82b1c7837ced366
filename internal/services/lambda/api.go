package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/esm"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/registry"
)

// Config wires the API.
type Config struct {
	Registry *registry.Registry
	ARNs     registry.ARNs
	Logger   *slog.Logger
	// CodeURLs signs and checks the download links GetFunction returns.
	CodeURLs *CodeURLs
	// Invoker runs invocations; nil when this server cannot run code.
	Invoker invoke.Invoker
	// Authorizer checks every operation before it runs (see authz.go);
	// nil allows everything (authentication is off).
	Authorizer *authz.Authorizer
	// ESM serves the event source mapping operations; nil answers them
	// with ServiceException.
	ESM *esm.Service
}

// API is the Lambda REST API handler.
type API struct {
	reg     *registry.Registry
	arns    registry.ARNs
	log     *slog.Logger
	urls    *CodeURLs
	invoker invoke.Invoker
	esm     *esm.Service
	mux     *http.ServeMux

	az       *authz.Authorizer
	policies *authz.FunctionPolicies
	patterns []string // every route, for the operation table's test
}

// New returns the API with every operation routed.
func New(cfg Config) *API {
	a := &API{reg: cfg.Registry, arns: cfg.ARNs, log: cfg.Logger, urls: cfg.CodeURLs, invoker: cfg.Invoker, mux: http.NewServeMux(),
		az: cfg.Authorizer, esm: cfg.ESM}
	if cfg.Registry != nil {
		a.policies = &authz.FunctionPolicies{Statements: cfg.Registry.Policy}
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	a.routes()
	return a
}

type handler func(w http.ResponseWriter, r *http.Request) error

func (a *API) handle(pattern string, h handler) {
	a.patterns = append(a.patterns, pattern)
	a.mux.Handle(pattern, a.serve(a.authorized(pattern, h)))
}

// serve renders a handler's error. Internal causes are logged with the
// request id the client was given and never sent.
func (a *API) serve(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		e := awsproto.AsError(err)
		if e.Code == awsproto.ServiceException {
			a.log.Error("lambda api: internal error", "request_id", awsproto.RequestID(r.Context()), "method", r.Method, "path", r.URL.Path, "err", err)
		}
		awsproto.WriteError(w, e)
	})
}

// ServeHTTP routes a request to its operation; unknown paths and methods get
// Lambda's UnknownOperationException.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := a.mux.Handler(r); pattern == "" {
		awsproto.WriteError(w, awsproto.Errorf(awsproto.UnknownOperationException, "Unknown operation %s %s", r.Method, r.URL.Path))
		return
	}
	a.mux.ServeHTTP(w, r)
}

// decode reads a JSON request body into v. An empty body leaves v as is.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return awsproto.Errorf(awsproto.InvalidRequestContentException, "Could not read request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return awsproto.Errorf(awsproto.InvalidRequestContentException, "Could not parse request body into json: %s", describeJSONError(err))
	}
	if dec.More() {
		return awsproto.Errorf(awsproto.InvalidRequestContentException, "Could not parse request body into json: unexpected data after the JSON value")
	}
	return nil
}

func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "the request"
		}
		return fmt.Sprintf("Cannot deserialize value of type %s for %s from %s", te.Type, field, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("Unexpected character at offset %d: %v", se.Offset, se)
	}
	return err.Error()
}

// Maximum lengths of the shapes of the {FunctionName} path member in the
// Lambda model (botocore lambda/2015-03-31/service-2.json). Each operation
// passes the one its input shape names.
const (
	// functionName is the FunctionName and UnqualifiedFunctionName
	// shapes: a name, a partial ARN or a full ARN, up to 140 characters.
	functionName = 140
	// namespacedFunctionName is the NamespacedFunctionName shape (up to
	// 256 characters; 170 in earlier models).
	namespacedFunctionName = 256
)

// Largest MaxItems of the list operations, by the model's shapes, and the
// page size when a request gives none.
const (
	// listItems is MaxListItems (ListFunctions, ListVersionsByFunction,
	// ListAliases).
	listItems = 10000
	// fiftyItems is MaxLayerListItems, MaxItems,
	// MaxFunctionEventInvokeConfigListItems and
	// MaxProvisionedConcurrencyConfigListItems.
	fiftyItems = 50
	// defaultPageSize is the page size when MaxItems is absent.
	defaultPageSize = 50
)

// maxItems parses the MaxItems query parameter: 1 to limit, the largest
// value of the operation's shape; defaultPageSize when absent.
func maxItems(r *http.Request, limit int) (int, error) {
	s := r.URL.Query().Get("MaxItems")
	if s == "" {
		return min(defaultPageSize, limit), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, awsproto.Errorf(awsproto.ValidationException, "1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must be an integer", s)
	}
	if n < 1 {
		return 0, awsproto.Errorf(awsproto.ValidationException, "1 validation error detected: Value '%d' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1", n)
	}
	if n > limit {
		return 0, awsproto.Errorf(awsproto.ValidationException, "1 validation error detected: Value '%d' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to %d", n, limit)
	}
	return n, nil
}

// ref parses the {FunctionName} path member and the Qualifier query
// parameter. maxLen is the operation's name shape: functionName or
// namespacedFunctionName.
func (a *API) ref(r *http.Request, maxLen int) (registry.Ref, error) {
	ref, err := a.arns.ParseRef(r.PathValue("FunctionName"), maxLen)
	if err != nil {
		return ref, err
	}
	return ref.WithQualifier(r.URL.Query().Get("Qualifier"))
}

func (a *API) routes() {
	for _, p := range []string{"/2015-03-31/functions", "/2015-03-31/functions/"} {
		a.handle("POST "+p, a.createFunction)
		a.handle("GET "+p, a.listFunctions)
	}
	fn := "/2015-03-31/functions/{FunctionName}"
	a.handle("GET "+fn, a.getFunction)
	a.handle("DELETE "+fn, a.deleteFunction)
	a.handle("GET "+fn+"/configuration", a.getFunctionConfiguration)
	a.handle("PUT "+fn+"/configuration", a.updateFunctionConfiguration)
	a.handle("PUT "+fn+"/code", a.updateFunctionCode)
	a.handle("POST "+fn+"/versions", a.publishVersion)
	a.handle("GET "+fn+"/versions", a.listVersions)
	a.routesMore()
	a.routesInvoke()
	a.routesStream()
	a.routesURLs()
	a.routesAsync()
	a.routesLayers()
	a.routesProvisioned()
	a.routesESM()
}

// The shapes most operations on one function share: parse {FunctionName}
// (and Qualifier), decode the JSON body if there is one, call the
// registry, and answer with the result or 204.

// respond serves an operation without a body whose result is the response.
func respond[Out any](w http.ResponseWriter, r *http.Request, a *API, maxLen, status int,
	call func(context.Context, registry.Ref) (Out, error)) error {
	ref, err := a.ref(r, maxLen)
	if err != nil {
		return err
	}
	out, err := call(r.Context(), ref)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, status, out)
	return nil
}

// respondBody serves an operation whose JSON body is passed by value.
func respondBody[In, Out any](w http.ResponseWriter, r *http.Request, a *API, maxLen, status int,
	call func(context.Context, registry.Ref, In) (Out, error)) error {
	return respondBodyPtr(w, r, a, maxLen, status, func(ctx context.Context, ref registry.Ref, in *In) (Out, error) {
		return call(ctx, ref, *in)
	})
}

// respondBodyPtr serves an operation whose JSON body is passed by pointer.
func respondBodyPtr[In, Out any](w http.ResponseWriter, r *http.Request, a *API, maxLen, status int,
	call func(context.Context, registry.Ref, *In) (Out, error)) error {
	ref, err := a.ref(r, maxLen)
	if err != nil {
		return err
	}
	var in In
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := call(r.Context(), ref, &in)
	if err != nil {
		return err
	}
	awsproto.WriteJSON(w, status, out)
	return nil
}

// noContent serves a deletion answered with 204.
func noContent(w http.ResponseWriter, r *http.Request, a *API, maxLen int, call func(context.Context, registry.Ref) error) error {
	ref, err := a.ref(r, maxLen)
	if err != nil {
		return err
	}
	if err := call(r.Context(), ref); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
