package lambda

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/invoke"
)

// InvokeWithResponseStream (API version 2021-11-15): the response is an
// application/vnd.amazon.eventstream body of PayloadChunk events, sent as
// the function streams, and one InvokeComplete event at the end. A
// function that does not stream gets its whole response as one
// PayloadChunk, as Lambda does.

// Wire strings of the event stream (botocore's lambda model: the
// InvokeWithResponseStreamResponseEvent union and its members).
const (
	contentTypeEventStream = "application/vnd.amazon.eventstream"
	eventPayloadChunk      = "PayloadChunk"
	eventInvokeComplete    = "InvokeComplete"
)

func (a *API) routesStream() {
	a.handle("POST /2021-11-15/functions/{FunctionName}/response-streaming-invocations", a.invokeWithResponseStream)
}

func (a *API) invokeWithResponseStream(w http.ResponseWriter, r *http.Request) error {
	if a.invoker == nil {
		return awsproto.Errorf(awsproto.ServiceException, "Invoke is not available on this server.")
	}
	ref, err := a.ref(r, namespacedFunctionName)
	if err != nil {
		return err
	}
	typ := r.Header.Get("X-Amz-Invocation-Type")
	switch typ {
	case "", invoke.TypeRequestReponse, invoke.TypeDryRun:
	default:
		return awsproto.Errorf(awsproto.ValidationException,
			"1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [RequestResponse, DryRun]", typ)
	}
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		return awsproto.Errorf(awsproto.InvalidRequestContentException, "Could not read request body: %v", err)
	}
	es := &eventStream{w: w, enc: eventstream.NewEncoder()}
	out, err := a.invoker.Invoke(r.Context(), &invoke.Input{
		Ref:            ref,
		InvocationType: typ,
		LogType:        r.Header.Get("X-Amz-Log-Type"),
		ClientContext:  r.Header.Get("X-Amz-Client-Context"),
		Payload:        payload,
		RequestID:      awsproto.RequestID(r.Context()),
		Stream:         es,
	})
	if err != nil {
		if !es.begun {
			return err
		}
		// The status line is gone: the stream ends with the error.
		e := awsproto.AsError(err)
		if e.Code == awsproto.ServiceException {
			a.log.Error("lambda api: internal error", "request_id", awsproto.RequestID(r.Context()), "path", r.URL.Path, "err", err)
		}
		es.complete(invokeComplete{ErrorCode: string(e.Code), ErrorDetails: e.Message})
		return nil
	}
	if out.Status == http.StatusNoContent {
		if out.ExecutedVersion != "" {
			w.Header()["X-Amz-Executed-Version"] = []string{out.ExecutedVersion}
		}
		w.WriteHeader(out.Status)
		return nil
	}
	done := invokeComplete{LogResult: out.LogResult}
	if out.FunctionError != "" {
		done.ErrorCode, done.ErrorDetails = functionErrorDetails(out.Payload)
	}
	if !es.begun {
		es.Begin(out.ExecutedVersion, "")
		if out.FunctionError == "" && len(out.Payload) > 0 {
			_, _ = es.Write(out.Payload)
		}
	}
	es.complete(done)
	return nil
}

// invokeComplete is the InvokeComplete event's payload
// (InvokeWithResponseStreamCompleteEvent); empty members are left out.
type invokeComplete struct {
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorDetails string `json:"ErrorDetails,omitempty"`
	LogResult    string `json:"LogResult,omitempty"`
}

// functionErrorDetails is the error type and message of a function error
// payload ({"errorType","errorMessage"}); a payload of another shape is
// its own details, under Lambda's X-Amz-Function-Error value.
func functionErrorDetails(p []byte) (code, details string) {
	var v struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(p, &v) == nil && v.ErrorType != "" {
		return v.ErrorType, v.ErrorMessage
	}
	return "Unhandled", string(bytes.TrimSpace(p))
}

// eventStream writes InvokeWithResponseStream's response: the HTTP head
// when the function begins (or ends without streaming), a PayloadChunk
// event for every piece, flushed at once, and InvokeComplete. It is the
// invocation's invoke.Stream; the invoke frontend calls it one call at a
// time and never after Invoke returned, so the handler's own calls after
// Invoke never overlap it.
type eventStream struct {
	w     http.ResponseWriter
	enc   *eventstream.Encoder
	begun bool
	gone  error // the client went away: later writes are dropped
}

var _ invoke.Stream = (*eventStream)(nil)

// Begin sends the response's head. The function's own Content-Type is
// not the response's: the body is an event stream whatever it streams.
func (s *eventStream) Begin(version, _ string) {
	if s.begun {
		return
	}
	s.begun = true
	h := s.w.Header()
	h["Content-Type"] = []string{contentTypeEventStream}
	if version != "" {
		h["X-Amz-Executed-Version"] = []string{version}
	}
	s.w.WriteHeader(http.StatusOK)
	s.flush()
}

// Write sends p as one PayloadChunk event.
func (s *eventStream) Write(p []byte) (int, error) {
	if err := s.event(eventPayloadChunk, "application/octet-stream", p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// complete sends the InvokeComplete event that ends the stream.
func (s *eventStream) complete(c invokeComplete) {
	b, _ := json.Marshal(c) // three strings cannot fail
	_ = s.event(eventInvokeComplete, "application/json", b)
}

func (s *eventStream) event(typ, contentType string, payload []byte) error {
	if s.gone != nil {
		return s.gone
	}
	msg := eventstream.Message{Payload: payload}
	msg.Headers.Set(":event-type", eventstream.StringValue(typ))
	msg.Headers.Set(":content-type", eventstream.StringValue(contentType))
	msg.Headers.Set(":message-type", eventstream.StringValue("event"))
	// A client that stops reading fails the write after maxStall, so it
	// cannot hold the invocation (and its concurrency) past its end.
	rc := http.NewResponseController(s.w)
	_ = rc.SetWriteDeadline(time.Now().Add(maxStall))
	defer rc.SetWriteDeadline(time.Time{})
	if err := s.enc.Encode(s.w, msg); err != nil {
		s.gone = err
		return err
	}
	return s.flush()
}

// maxStall is how long a streaming client may leave a piece unread.
var maxStall = time.Minute

func (s *eventStream) flush() error {
	if err := http.NewResponseController(s.w).Flush(); err != nil {
		s.gone = err
		return err
	}
	return nil
}
