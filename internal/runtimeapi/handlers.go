package runtimeapi

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Paths of the Runtime API (2018-06-01), below pathPrefix.
const (
	pathPrefix     = "/2018-06-01/runtime/"
	pathNext       = "invocation/next"
	pathInitError  = "init/error"
	pathInvocation = "invocation/"
	sufResponse    = "/response"
	sufError       = "/error"
)

// Header values that never change. net/http only reads header values, so
// they can be shared by every response.
var (
	valJSON      = []string{"application/json"}
	valAllowGet  = []string{http.MethodGet}
	valAllowPost = []string{http.MethodPost}
)

// ServeHTTP routes the runtime's requests. Unknown paths get 404, known
// paths with the wrong method 405, as RIE's router does.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, pathPrefix)
	if !ok {
		s.serveExtra(w, r)
		return
	}
	switch {
	case rest == pathNext:
		if r.Method != http.MethodGet {
			methodNotAllowed(w, valAllowGet)
			return
		}
		s.next(w, r)
		return
	case rest == pathInitError:
		if r.Method != http.MethodPost {
			methodNotAllowed(w, valAllowPost)
			return
		}
		s.initError(w, r)
		return
	case strings.HasPrefix(rest, pathInvocation):
		tail := rest[len(pathInvocation):]
		ev := evResponse
		id, ok := strings.CutSuffix(tail, sufResponse)
		if !ok {
			ev = evError
			id, ok = strings.CutSuffix(tail, sufError)
		}
		if ok && !strings.Contains(id, "/") {
			if r.Method != http.MethodPost {
				methodNotAllowed(w, valAllowPost)
				return
			}
			s.post(w, r, id, ev)
			return
		}
	}
	http.NotFound(w, r)
}

func methodNotAllowed(w http.ResponseWriter, allow []string) {
	w.Header()["Allow"] = allow
	w.WriteHeader(http.StatusMethodNotAllowed)
}

// writeJSON writes a JSON body with status.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header()[hdrContentType] = valJSON
	w.WriteHeader(status)
	_, _ = w.Write(body) // a runtime that went away is not told
}

// refuse answers a move the state machine does not allow: 403
// InvalidStateTransition.
func (s *Server) refuse(w http.ResponseWriter, te *transitionError, id string) {
	writeJSON(w, http.StatusForbidden, s.refusal(te, id))
}

// refusal logs a refused move and returns the body of its 403.
func (s *Server) refusal(te *transitionError, id string) []byte {
	s.log.Debug("runtime api: refused", "from", te.from.String(), "to", te.ev.String(), "request_id", id)
	return apiError{te.message(), apiInvalidStateTransition}.render()
}

// next serves GET /invocation/next: it parks until an invocation is
// pending, then sends it.
func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if err := s.toLocked(evNext); err != nil {
		s.mu.Unlock()
		s.refuse(w, err.(*transitionError), "")
		return
	}
	s.endInitLocked(nil) // the first /next ends init
	for {
		if s.state == stateReady && s.inv != nil {
			inv := s.inv
			_ = s.toLocked(evDeliver) // Ready → Running: listed
			s.currentID = inv.RequestID
			s.mu.Unlock()
			writeInvocation(w, inv)
			return
		}
		if s.state != stateReady {
			// Closed or exited while parked: nothing will come.
			s.mu.Unlock()
			panic(http.ErrAbortHandler)
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-s.closing:
		case <-s.dead:
		case <-r.Context().Done():
			s.mu.Lock()
			if s.state == stateReady {
				_ = s.toLocked(evNextGone) // Ready → RuntimeResponseSentState: listed
			}
			s.mu.Unlock()
			return
		}
		s.mu.Lock()
	}
}

// writeInvocation sends inv as the answer to /next. Headers are set with
// their canonical keys and one backing array, to keep allocations down.
func writeInvocation(w http.ResponseWriter, inv *Invocation) {
	var deadline string
	if !inv.Deadline.IsZero() {
		deadline = strconv.FormatInt(inv.Deadline.UnixMilli(), 10)
	}
	v := &[6]string{inv.RequestID, deadline, inv.FunctionARN, inv.TraceID, inv.ClientContext, inv.CognitoIdentity}
	h := w.Header()
	h[hdrRequestID] = v[0:1:1]
	if v[1] != "" {
		h[hdrDeadline] = v[1:2:2]
	}
	if v[2] != "" {
		h[hdrFunctionARN] = v[2:3:3]
	}
	if v[3] != "" {
		h[hdrTraceID] = v[3:4:4]
	}
	if v[4] != "" {
		h[hdrClientContext] = v[4:5:5]
	}
	if v[5] != "" {
		h[hdrCognito] = v[5:6:6]
	}
	h[hdrContentType] = valJSON
	// Small bodies are sent whole with a Content-Length net/http computes
	// itself; larger ones would be chunked without one.
	if len(inv.Payload) > 2048 {
		h[hdrContentLength] = []string{strconv.Itoa(len(inv.Payload))}
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.Payload) // a runtime that went away lets the invocation time out
}

// post serves POST /invocation/{id}/response and /error (ev says which).
// The request id and the move are checked before the body is read, and the
// move is made after: a refused request costs no body read, and a request
// that raced another is refused at the end.
func (s *Server) post(w http.ResponseWriter, r *http.Request, id string, ev event) {
	status, body := s.answerPost(r, id, ev)
	writeJSON(w, status, body)
}

// answerPost takes a /response or /error (ev says which) for invocation
// id and returns the status and JSON body to answer it with. It reads
// r's body only when the request is accepted.
func (s *Server) answerPost(r *http.Request, id string, ev event) (int, []byte) {
	if err := s.check(id, ev); err != nil {
		return s.checkAnswer(err, id)
	}

	var res *Result
	status, body := http.StatusAccepted, bodyAccepted
	mode := r.Header.Get(hdrResponseMode)
	if ev == evResponse && mode != "" && mode != responseModeStreaming {
		// RIE: 400 to the runtime, and the invocation fails.
		res = &Result{Error: true, ErrorType: ErrorTypeInvalidResponseMode,
			Payload: functionError(ErrorTypeInvalidResponseMode, "Invalid function response mode")}
		status, body = http.StatusBadRequest, bodyInvalidMode
	} else if st := s.streamTo(id, ev, mode); st != nil {
		res, status, body = s.readStream(r, st)
	} else {
		// Without a Stream, a streamed response is read whole and
		// answered as buffered.
		payload, trailer, err := s.readBody(r)
		switch {
		case errors.Is(err, errTooLarge):
			res = &Result{Error: true, ErrorType: ErrorTypeResponseSizeTooLarge, Payload: sizeErrorPayload(s.max)}
			status, body = http.StatusRequestEntityTooLarge, s.tooLarge
		case err != nil:
			res = &Result{Error: true, ErrorType: ErrorTypeTruncatedResponse,
				Payload: functionError(ErrorTypeTruncatedResponse, "HTTP request detected as truncated")}
			status, body = http.StatusBadRequest, bodyTruncated
		case ev == evError:
			res = &Result{Error: true, ErrorType: errorType(r.Header.Get(hdrErrorType), payload), Payload: payload}
		case trailer != nil && trailer.Get(hdrErrorType) != "":
			res = trailerResult(trailer)
		default:
			res = &Result{Payload: payload}
		}
	}

	s.mu.Lock()
	if id != s.currentID {
		s.mu.Unlock()
		return http.StatusBadRequest, bodyInvalidRequestID
	}
	if err := s.toLocked(ev); err != nil {
		s.mu.Unlock()
		return http.StatusForbidden, s.refusal(err.(*transitionError), id)
	}
	s.inv = nil
	s.results <- res // never blocks: one invocation at a time, cap 1
	s.mu.Unlock()
	return status, body
}

// errInvalidRequestID is check's verdict on an unknown request id.
var errInvalidRequestID = errors.New("invalid request id")

// check says whether id is the current invocation and ev allowed now.
// RIE validates the request id first (AwsRequestIDValidator), then the
// move.
func (s *Server) check(id string, ev event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == "" || id != s.currentID {
		return errInvalidRequestID
	}
	if s.state.next(ev) == stateNone {
		return &transitionError{from: s.state, ev: ev}
	}
	return nil
}

// checkAnswer is the answer to a request check refused.
func (s *Server) checkAnswer(err error, id string) (int, []byte) {
	var te *transitionError
	if errors.As(err, &te) {
		return http.StatusForbidden, s.refusal(te, id)
	}
	s.log.Debug("runtime api: unknown request id", "request_id", id)
	return http.StatusBadRequest, bodyInvalidRequestID
}

// trailerResult is the failure a runtime reports in trailers after a
// response body it could not finish (aws-lambda-go does when its response
// reader fails): the type, and the base64 error JSON if it decodes.
func trailerResult(t http.Header) *Result {
	typ := t.Get(hdrErrorType)
	payload, err := base64.StdEncoding.DecodeString(t.Get(hdrErrorBody))
	if err != nil || len(payload) == 0 {
		payload = functionError(typ, "")
	}
	return &Result{Error: true, ErrorType: typ, Payload: payload}
}

// initError serves POST /init/error.
func (s *Server) initError(w http.ResponseWriter, r *http.Request) {
	status, body := s.answerInitError(r)
	writeJSON(w, status, body)
}

// answerInitError takes a /init/error and returns the answer to it.
func (s *Server) answerInitError(r *http.Request) (int, []byte) {
	s.mu.Lock()
	n := s.state.next(evInitError)
	from := s.state
	s.mu.Unlock()
	if n == stateNone {
		return http.StatusForbidden, s.refusal(&transitionError{from: from, ev: evInitError}, "")
	}

	ie := &InitError{}
	status, body := http.StatusAccepted, bodyAccepted
	payload, _, err := s.readBody(r)
	switch {
	case errors.Is(err, errTooLarge):
		ie.ErrorType, ie.Payload = ErrorTypeResponseSizeTooLarge, sizeErrorPayload(s.max)
		status, body = http.StatusRequestEntityTooLarge, s.tooLarge
	case err != nil:
		ie.ErrorType = ErrorTypeTruncatedResponse
		ie.Payload = functionError(ErrorTypeTruncatedResponse, "HTTP request detected as truncated")
		status, body = http.StatusBadRequest, bodyTruncated
	default:
		ie.ErrorType, ie.Payload = errorType(r.Header.Get(hdrErrorType), payload), payload
	}

	s.mu.Lock()
	if err := s.toLocked(evInitError); err != nil {
		s.mu.Unlock()
		return http.StatusForbidden, s.refusal(err.(*transitionError), "")
	}
	s.endInitLocked(ie)
	s.dieLocked(ie)
	s.mu.Unlock()
	return status, body
}

// errTooLarge: a body over the limit.
var errTooLarge = errors.New("body too large")

// bufPool holds read buffers for bodies of unknown length.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooled is the largest buffer put back in bufPool.
const maxPooled = 256 << 10

// readBody reads r's body, at most s.max bytes, into a slice the caller
// owns. A body with a Content-Length is read straight into a slice of that
// size; a chunked one through a pooled buffer, then copied once. It
// returns the request's trailers when it read a chunked body to the end.
func (s *Server) readBody(r *http.Request) ([]byte, http.Header, error) {
	if r.ContentLength > s.max {
		return nil, nil, errTooLarge
	}
	if r.ContentLength >= 0 {
		b := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, nil, err
		}
		return b, nil, nil
	}
	bp := bufPool.Get().(*[]byte)
	b := (*bp)[:0]
	defer func() {
		if cap(b) <= maxPooled {
			*bp = b[:0]
			bufPool.Put(bp)
		}
	}()
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > s.max {
			return nil, nil, errTooLarge
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
	}
	out := make([]byte, len(b))
	copy(out, b)
	return out, r.Trailer, nil
}
