package edge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// DefaultMaxBodyBytes caps request bodies when Config.MaxBodyBytes is zero:
// Lambda's request size limit for CreateFunction, the largest any Lambda
// operation accepts.
const DefaultMaxBodyBytes = 69905067

// requestIDHeader is the response header carrying the request id. Go sends
// it as X-Amzn-Requestid; header names are case-insensitive and every SDK
// reads it that way.
const requestIDHeader = "x-amzn-RequestId"

// Config configures the edge handler.
type Config struct {
	// Verifier authenticates requests. Nil turns authentication off (an
	// explicit choice of the operator): requests are then routed by
	// Service and their caller is anonymous.
	Verifier *awsproto.Verifier
	// Services are keyed by SigV4 service name: "lambda", "logs", ...
	Services map[string]http.Handler
	// Ready reports readiness for GET /healthz, which needs no
	// authentication; nil means always ready.
	Ready func() bool
	// Logger receives failed requests and recovered panics; nil discards.
	Logger *slog.Logger
	// MaxBodyBytes caps every request body; DefaultMaxBodyBytes when zero.
	MaxBodyBytes int64
}

// New returns the edge handler. It is safe for concurrent use; cfg must not
// change afterwards.
func New(cfg Config) http.Handler {
	e := &edge{cfg: cfg, log: cfg.Logger, max: cfg.MaxBodyBytes}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.max <= 0 {
		e.max = DefaultMaxBodyBytes
	}
	return e
}

type edge struct {
	cfg Config
	log *slog.Logger
	max int64
}

var _ http.Handler = (*edge)(nil)

// Service names the service an unsigned request is for (authentication
// off): a JSON-protocol X-Amz-Target prefix, else a Lambda REST path
// prefix. It returns "" when it cannot tell.
func Service(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		for _, p := range targetPrefixes {
			if strings.HasPrefix(t, p.prefix) {
				return p.service
			}
		}
	}
	// Lambda's REST paths begin with an API version date: /2015-03-31/...
	p := r.URL.Path
	if len(p) >= 12 && p[0] == '/' && p[11] == '/' {
		switch p[1:11] {
		case "2014-11-13", "2015-03-31", "2016-08-19", "2017-03-31", "2017-10-31",
			"2018-10-31", "2019-09-25", "2019-09-30", "2020-04-22", "2020-06-30", "2021-10-31":
			return "lambda"
		}
	}
	return ""
}

var targetPrefixes = []struct{ prefix, service string }{
	{"Logs_20140328.", "logs"},
}

// Bodies up to maxPooledBody are read into pooled buffers; larger ones
// (rare: code uploads) get a buffer of their own that is left to the GC, so
// the pool never pins tens of megabytes.
const maxPooledBody = 1 << 20

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (e *edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := awsproto.NewRequestID()
	w.Header()[requestIDHeader] = []string{id} // AWS's casing, kept on the wire
	ctx := awsproto.WithRequestID(r.Context(), id)
	rw := &responseWriter{ResponseWriter: w}
	service := ""
	defer e.recoverPanic(rw, r, id, &service)

	if r.URL.Path == "/healthz" {
		e.health(w)
		return
	}

	// Refuse requests without any signature before reading their bodies.
	if e.cfg.Verifier != nil && len(r.Header["Authorization"]) == 0 {
		_, err := e.cfg.Verifier.Verify(r, nil) // MissingAuthenticationTokenException
		e.fail(ctx, rw, r, id, err)
		return
	}

	if r.ContentLength > e.max {
		e.fail(ctx, rw, r, id, e.tooLarge())
		return
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	body := &bodyReader{}
	defer func() {
		body.Reset(nil) // a handler that kept r.Body reads EOF, never a later request's bytes
		if buf.Cap() <= maxPooledBody {
			bufPool.Put(buf)
		}
	}()
	if r.ContentLength > 0 && r.ContentLength <= maxPooledBody {
		buf.Grow(int(r.ContentLength) + bytes.MinRead) // one allocation at most, none for a reused buffer
	}
	if r.Body != nil {
		_, err := buf.ReadFrom(io.LimitReader(r.Body, e.max+1))
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			e.fail(ctx, rw, r, id, e.tooLarge())
			return
		case err != nil:
			e.log.DebugContext(ctx, "reading request body", "requestId", id, "error", err)
			e.fail(ctx, rw, r, id, awsproto.Errorf(awsproto.InvalidRequestContentException, "Could not read the request body."))
			return
		}
	}
	if int64(buf.Len()) > e.max {
		e.fail(ctx, rw, r, id, e.tooLarge())
		return
	}
	payload := buf.Bytes()

	var caller awsproto.Caller
	if v := e.cfg.Verifier; v != nil {
		a, err := v.Verify(r, payload)
		if err != nil {
			e.fail(ctx, rw, r, id, err)
			return
		}
		service, caller = a.Service, awsproto.Caller{AccessKeyID: a.AccessKeyID}
	} else {
		service, caller = Service(r), awsproto.Caller{Anonymous: true}
	}

	h := e.cfg.Services[service]
	if h == nil {
		// 404 UnknownOperationException, what AWS answers for an operation
		// an endpoint does not have: the caller is authenticated (so not a
		// 403), the request may be perfectly formed (so not a 400), and
		// SDKs and the CLI print the code and message as they are.
		e.fail(ctx, rw, r, id, awsproto.Errorf(awsproto.UnknownOperationException, "Unknown service or operation"))
		return
	}

	body.Reset(payload)
	r = r.WithContext(awsproto.WithCaller(ctx, caller))
	r.Body = body
	r.ContentLength = int64(len(payload))
	r.TransferEncoding = nil
	r.GetBody = nil
	h.ServeHTTP(rw, r)

	if rw.status >= 400 {
		level := slog.LevelDebug
		if rw.status >= 500 {
			level = slog.LevelWarn
		}
		e.log.Log(r.Context(), level, "request failed", "requestId", id, "service", service,
			"method", r.Method, "path", r.URL.Path, "status", rw.status,
			"errorType", strings.Join(rw.Header()["x-amzn-ErrorType"], ""), "accessKeyId", caller.AccessKeyID)
	}
}

func (e *edge) tooLarge() *awsproto.Error {
	return awsproto.Errorf(awsproto.RequestEntityTooLargeException, "Request must be smaller than %d bytes for the operation", e.max)
}

// fail answers with an error the edge itself found and logs it: client
// errors at debug, so a flood of bad requests does not flood the log.
func (e *edge) fail(ctx context.Context, w http.ResponseWriter, r *http.Request, id string, err error) {
	ae := awsproto.AsError(err)
	level := slog.LevelDebug
	if ae.Status() >= 500 {
		level = slog.LevelWarn
	}
	e.log.Log(ctx, level, "request failed", "requestId", id,
		"method", r.Method, "path", r.URL.Path, "status", ae.Status(), "errorType", ae.Code, "error", ae.Error())
	awsproto.WriteError(w, ae)
}

func (e *edge) health(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if e.cfg.Ready != nil && !e.cfg.Ready() {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "not ready")
		return
	}
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "ok")
}

// recoverPanic turns a panic into a 500 ServiceException, logged with the
// request id. If the response had already begun it cannot be replaced, so
// the connection is aborted instead, and the client sees a broken response
// rather than a short one that looks whole.
func (e *edge) recoverPanic(w *responseWriter, r *http.Request, id string, service *string) {
	p := recover()
	if p == nil {
		return
	}
	if p == http.ErrAbortHandler {
		panic(p)
	}
	e.log.Error("panic serving request", "requestId", id, "service", *service,
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
	awsproto.WriteError(w, awsproto.Internal(fmt.Errorf("panic: %v", p)))
}

// bodyReader is the request body handed to services: the bytes the edge
// already read.
type bodyReader struct{ bytes.Reader }

func (*bodyReader) Close() error { return nil }

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
