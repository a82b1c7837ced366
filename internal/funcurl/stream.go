package funcurl

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/registry"
)

// A URL whose InvokeMode is RESPONSE_STREAM answers with the function's
// streamed response as it arrives, chunked. A function that streams with
// Content-Type application/vnd.awslambda.http-integration-response
// (Node.js's awslambda.HttpResponseStream.from) begins its stream with
// the HTTP response's metadata — a JSON object with statusCode, headers
// and cookies — and eight NUL bytes; the rest is the body. Any other
// streamed Content-Type is the response's, with status 200. A function
// that does not stream is answered by the 2.0 response rules, as on a
// BUFFERED URL.

// Wire strings of the HTTP integration prelude.
const (
	contentTypeIntegration = "application/vnd.awslambda.http-integration-response"
	maxPrelude             = 64 << 10 // metadata bytes held before the delimiter
	// maxStall is how long a client may leave a piece unread.
	maxStall = time.Minute
)

var preludeDelimiter = make([]byte, 8) // eight NUL bytes

// prelude is the metadata that begins an HTTP integration response.
type prelude struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Cookies           []string            `json:"cookies"`
}

// urlStream is the invoke.Stream of a RESPONSE_STREAM URL's invocation:
// it writes the response to the client as the function streams it. The
// invoke frontend calls it one call at a time and never after Invoke
// returned, and the handler calls end only after, so its fields need no
// lock.
type urlStream struct {
	w         http.ResponseWriter
	r         *http.Request
	cors      *registry.Cors
	requestID string

	begun       bool
	contentType string
	wantPrelude bool   // the prelude has not ended yet
	held        []byte // prelude bytes so far
	wrote       bool   // the status line and headers are sent
	gone        error  // the client went away, or the prelude was bad
}

var _ invoke.Stream = (*urlStream)(nil)

func newURLStream(w http.ResponseWriter, r *http.Request, cors *registry.Cors, requestID string) *urlStream {
	return &urlStream{w: w, r: r, cors: cors, requestID: requestID}
}

func (s *urlStream) Begin(_, contentType string) {
	if s.begun {
		return
	}
	s.begun = true
	s.contentType = contentType
	s.wantPrelude = contentType == contentTypeIntegration
	if !s.wantPrelude {
		s.head(http.StatusOK, http.Header{"Content-Type": {contentType}})
	}
}

func (s *urlStream) Write(p []byte) (int, error) {
	if s.gone != nil {
		return 0, s.gone
	}
	n := len(p)
	if s.wantPrelude {
		s.held = append(s.held, p...)
		i := bytes.Index(s.held, preludeDelimiter)
		if i < 0 {
			if len(s.held) > maxPrelude {
				s.badPrelude()
				return 0, s.gone
			}
			return n, nil
		}
		if !s.headFromPrelude(s.held[:i]) {
			return 0, s.gone
		}
		p = s.held[i+len(preludeDelimiter):]
		s.wantPrelude, s.held = false, nil
		if len(p) == 0 {
			return n, nil
		}
	}
	// A client that stops reading fails the write after maxStall, so it
	// cannot hold the invocation (and its concurrency) past its end.
	rc := http.NewResponseController(s.w)
	_ = rc.SetWriteDeadline(time.Now().Add(maxStall))
	defer rc.SetWriteDeadline(time.Time{})
	if _, err := s.w.Write(p); err != nil {
		s.gone = err
		return 0, err
	}
	if err := rc.Flush(); err != nil {
		s.gone = err
		return 0, err
	}
	return n, nil
}

// headFromPrelude sends the head the prelude p describes; a prelude that
// is not one fails the response with a 502.
func (s *urlStream) headFromPrelude(p []byte) bool {
	var m prelude
	if json.Unmarshal(p, &m) != nil || m.StatusCode != 0 && (m.StatusCode < 100 || m.StatusCode > 599) {
		s.badPrelude()
		return false
	}
	if m.StatusCode == 0 {
		m.StatusCode = http.StatusOK
	}
	h := http.Header{}
	for k, vs := range m.MultiValueHeaders {
		if ck := http.CanonicalHeaderKey(k); !skipHeaders[ck] {
			h[ck] = append(h[ck], vs...)
		}
	}
	for k, v := range m.Headers {
		if ck := http.CanonicalHeaderKey(k); !skipHeaders[ck] {
			h[ck] = []string{v}
		}
	}
	for _, c := range m.Cookies {
		h.Add("Set-Cookie", c)
	}
	if len(h["Content-Type"]) == 0 {
		h["Content-Type"] = []string{"application/octet-stream"}
	}
	s.head(m.StatusCode, h)
	return true
}

func (s *urlStream) badPrelude() {
	s.gone = errBadResponse
	rep := platformReply(http.StatusBadGateway, bodyFunctionFail)
	rep.Header["Content-Length"] = []string{strconv.Itoa(len(rep.Body))}
	s.head(rep.Status, rep.Header)
	_, _ = s.w.Write(rep.Body)
}

// head sends the status line and headers, with the request id and the
// URL's CORS headers, and flushes them so the client sees the response
// begin.
func (s *urlStream) head(status int, h http.Header) {
	if s.wrote {
		return
	}
	s.wrote = true
	AddCORS(s.cors, s.r, h)
	dst := s.w.Header()
	for k, vs := range h {
		dst[k] = vs
	}
	dst["x-amzn-RequestId"] = []string{s.requestID}
	s.w.WriteHeader(status)
	if err := http.NewResponseController(s.w).Flush(); err != nil && s.gone == nil {
		s.gone = err
	}
}

// end finishes a response that began streaming once the invocation
// ended: a prelude that never met its delimiter is the whole metadata
// and the body is empty; a function that failed before anything was sent
// gets the 502 of a failed function. After the head, a failure can only
// cut the body short, which ending the handler does.
func (s *urlStream) end(out *invoke.Output, err error) {
	if s.wrote {
		return
	}
	if err != nil || out.FunctionError != "" {
		s.badPrelude()
		return
	}
	if s.wantPrelude && len(s.held) > 0 {
		s.headFromPrelude(s.held)
		return
	}
	s.head(http.StatusOK, http.Header{"Content-Type": {s.contentType}})
}
