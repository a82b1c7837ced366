package edge

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/version"
)

// requestIDHeader is the response header carrying the request id. Go sends
// it as X-Amzn-Requestid; header names are case-insensitive and every SDK
// reads it that way.
const requestIDHeader = "x-amzn-RequestId"

// Body read limits when Config leaves them zero.
const (
	// DefaultBodyGrace is how long a body may take before MinBodyRate
	// applies: room for a slow start and a small body on a slow link.
	DefaultBodyGrace = 10 * time.Second
	// DefaultMinBodyRate is the slowest average rate, in bytes per
	// second, a body may arrive at after the grace: 32 KiB/s brings a
	// 70 MB code upload in under 40 minutes, and cuts a client that
	// trickles bytes to hold a connection.
	DefaultMinBodyRate = 32 << 10
	// DefaultSpoolAbove is how much of a body that awaits its signature
	// check is kept in memory; the rest goes to a file in SpoolDir, so
	// unauthenticated bodies cannot fill the server's memory: at most
	// this much per connection.
	DefaultSpoolAbove = 256 << 10
	// DefaultSpoolLimit bounds what all spool files hold at once, so
	// unauthenticated bodies cannot fill the disk either.
	DefaultSpoolLimit = 1 << 30
)

// Config configures the edge handler.
type Config struct {
	// Verifier authenticates requests. Nil turns authentication off (an
	// explicit choice of the operator): requests are then routed by what
	// they look like and their caller is anonymous.
	Verifier *awsproto.Verifier
	// Routes is the route table, in order. The edge answers /healthz
	// where the table has Health, else after the table; a request no
	// route takes is authenticated and then answered 404
	// UnknownOperationException.
	Routes []Route
	// Services is a shorthand kept for callers that route by SigV4
	// service name only: Services[name] is a route after Routes matching
	// {Service: name} with Scope name.
	Services map[string]http.Handler
	// Ready reports readiness for GET /healthz, which needs no
	// authentication; nil means always ready.
	Ready func() bool
	// Node, when set, is added to /healthz's answer after the version
	// (which node of a cluster answered: "node: <id>\nzone: <zone>").
	Node string
	// Logger receives failed requests and recovered panics; nil discards.
	Logger *slog.Logger
	// MaxBodyBytes, when positive, caps every route's MaxBody.
	MaxBodyBytes int64
	// SpoolDir holds bodies awaiting their signature check beyond
	// SpoolAbove bytes; os.TempDir() when "". The files are unlinked as
	// soon as they are created.
	SpoolDir   string
	SpoolAbove int64
	// SpoolLimit is the most bytes the spool may hold at once (each body
	// counted at its Content-Length, or the route's limit when it has
	// none); a body that would pass it is answered 503
	// ServiceUnavailableException. DefaultSpoolLimit when zero.
	SpoolLimit int64
	// BodyGrace and MinBodyRate bound how long a body may take to
	// arrive: it must average MinBodyRate bytes a second after BodyGrace.
	// A body that falls behind is cut with 408 RequestTimeoutException.
	BodyGrace   time.Duration
	MinBodyRate int64
}

// New returns the edge handler. It is safe for concurrent use; cfg must not
// change afterwards. It panics if the routes are ambiguous (see Table.Add).
func New(cfg Config) http.Handler {
	e := &edge{cfg: cfg, log: cfg.Logger}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.cfg.SpoolAbove <= 0 {
		e.cfg.SpoolAbove = DefaultSpoolAbove
	}
	if e.cfg.SpoolLimit <= 0 {
		e.cfg.SpoolLimit = DefaultSpoolLimit
	}
	if e.cfg.BodyGrace <= 0 {
		e.cfg.BodyGrace = DefaultBodyGrace
	}
	if e.cfg.MinBodyRate <= 0 {
		e.cfg.MinBodyRate = DefaultMinBodyRate
	}
	health := false
	for _, rt := range cfg.Routes {
		if rt.Name == Health.Name && rt.Handler == nil {
			rt.Handler, health = http.HandlerFunc(e.health), true
		}
		e.table.MustAdd(rt)
	}
	if !health {
		e.table.MustAdd(Route{Name: Health.Name, Match: Health.Match, Auth: AuthNone, Handler: http.HandlerFunc(e.health)})
	}
	for name, h := range cfg.Services {
		e.table.MustAdd(Route{Name: name, Match: []Matcher{{Service: name}}, Scope: name, Handler: h})
	}
	e.unknown = Route{Name: "", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// 404 UnknownOperationException, what AWS answers for an
		// operation an endpoint does not have: the caller is
		// authenticated (so not a 403), the request may be perfectly
		// formed (so not a 400), and SDKs and the CLI print the code and
		// message as they are.
		awsproto.WriteError(w, awsproto.Errorf(awsproto.UnknownOperationException, "Unknown service or operation"))
	})}
	return e
}

// Health marks the place of /healthz in Config.Routes: the edge answers
// it there, unauthenticated, with readiness and version.
var Health = Route{Name: "healthz", Match: []Matcher{{Path: "/healthz"}}, Auth: AuthNone}

type edge struct {
	cfg     Config
	log     *slog.Logger
	table   Table
	unknown Route
	spooled atomic.Int64 // bytes reserved in the spool
}

var _ http.Handler = (*edge)(nil)

func (e *edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := awsproto.NewRequestID()
	w.Header()[requestIDHeader] = []string{id} // AWS's casing, kept on the wire
	ctx := awsproto.WithRequestID(r.Context(), id)
	rw := &responseWriter{ResponseWriter: w}
	rt := e.table.Match(r)
	if rt == nil {
		rt = &e.unknown
	}
	defer e.recoverPanic(rw, r, id, rt)

	var caller awsproto.Caller
	switch rt.Auth {
	case AuthNone, AuthHandler:
		// The handler reads and bounds the body; the edge paces it.
		r = r.WithContext(ctx)
		if r.Body != nil && r.Body != http.NoBody {
			p := e.paced(rw, r.Body)
			defer p.handled()
			r.Body = p
		}
		rt.Handler.ServeHTTP(rw, r)
		if rt.Auth == AuthNone {
			return
		}
	default:
		var ok bool
		r, caller, ok = e.authenticate(ctx, rw, r, id, rt)
		if !ok {
			return
		}
		defer r.Body.Close() // releases the body's buffer or spool file
		rt.Handler.ServeHTTP(rw, r)
	}

	if rw.status >= 400 {
		level := slog.LevelDebug
		if rw.status >= 500 {
			level = slog.LevelWarn
		}
		//lint:ignore SA1008 awsproto.WriteError sets x-amzn-ErrorType in AWS's casing, as sent
		errorType := strings.Join(rw.Header()["x-amzn-ErrorType"], "")
		e.log.Log(ctx, level, "request failed", "requestId", id, "route", rt.Name,
			"method", r.Method, "path", r.URL.Path, "status", rw.status,
			"errorType", errorType, "accessKeyId", caller.AccessKeyID)
	}
}

// maxBody is the route's body limit for r, within Config.MaxBodyBytes.
func (e *edge) maxBody(rt *Route, r *http.Request) int64 {
	max := int64(DefaultMaxBody)
	if rt.MaxBody != nil {
		if m := rt.MaxBody(r); m > 0 {
			max = m
		}
	}
	if e.cfg.MaxBodyBytes > 0 && e.cfg.MaxBodyBytes < max {
		max = e.cfg.MaxBodyBytes
	}
	return max
}

func (e *edge) tooLarge(max int64) *awsproto.Error {
	return awsproto.Errorf(awsproto.RequestEntityTooLargeException, "Request must be smaller than %d bytes for the operation", max)
}

// fail answers with an error the edge itself found and logs it: client
// errors at debug, so a flood of bad requests does not flood the log.
func (e *edge) fail(ctx context.Context, w http.ResponseWriter, r *http.Request, id string, rt *Route, err error) {
	ae := awsproto.AsError(err)
	level := slog.LevelDebug
	if ae.Status() >= 500 {
		level = slog.LevelWarn
	}
	e.log.Log(ctx, level, "request failed", "requestId", id,
		"method", r.Method, "path", r.URL.Path, "status", ae.Status(), "errorType", ae.Code, "error", ae.Error())
	if rt.Errors != nil {
		rt.Errors.WriteError(w, r, ae)
		return
	}
	awsproto.WriteError(w, ae)
}

// health answers GET /healthz: "ok" or "not ready", then the version.
func (e *edge) health(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if e.cfg.Ready != nil && !e.cfg.Ready() {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "not ready\nversion: "+version.String()+"\n")
		return
	}
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "ok\nversion: "+version.String()+"\n")
	if e.cfg.Node != "" {
		io.WriteString(w, e.cfg.Node+"\n")
	}
}

// recoverPanic turns a panic into a 500 ServiceException, logged with the
// request id. If the response had already begun it cannot be replaced, so
// the connection is aborted instead, and the client sees a broken response
// rather than a short one that looks whole.
func (e *edge) recoverPanic(w *responseWriter, r *http.Request, id string, rt *Route) {
	p := recover()
	if p == nil {
		return
	}
	if p == http.ErrAbortHandler {
		panic(p)
	}
	e.log.Error("panic serving request", "requestId", id, "route", rt.Name,
		"method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
	if w.wrote {
		panic(http.ErrAbortHandler)
	}
	// Drop what the handler set for its own response.
	h := w.Header()
	for k := range h {
		if k != requestIDHeader {
			delete(h, k)
		}
	}
	err := awsproto.Internal(fmt.Errorf("panic: %v", p))
	if rt.Errors != nil {
		rt.Errors.WriteError(w, r, err)
		return
	}
	awsproto.WriteError(w, err)
}

// responseWriter notes the status a service answered with and whether the
// response has begun. Unwrap lets http.ResponseController reach the
// underlying writer's optional interfaces.
type responseWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wrote && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher for handlers that stream (response
// streaming invokes).
func (w *responseWriter) Flush() {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
