package awsproto

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Error is an error a client sees: an AWS code, a message and optional extra
// members of the exception shape (TooManyRequestsException's Reason, say).
// The cause, if any, is for logs only and never sent.
type Error struct {
	Code    Code
	Message string
	// Fields are extra members of the exception shape, sent in the body.
	Fields map[string]any
	// Header holds extra response headers (Retry-After, say).
	Header http.Header
	cause  error
	// internal marks an unexpected failure; a renderer sends it as its
	// service's own internal error code.
	internal bool
}

// internalMessage is what a client is told about an unexpected failure.
const internalMessage = "An internal error occurred; it has been logged with the request id."

// Errorf returns an Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected failure. The client is told only that the
// service failed; cause is kept for the log line.
func Internal(cause error) *Error {
	return &Error{Code: ServiceException, Message: internalMessage, cause: cause, internal: true}
}

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.cause }

// Status is the HTTP status code for e.
func (e *Error) Status() int { return lookup(e.Code).Status }

// Retryable reports whether the same request may succeed if sent again
// unchanged, as the catalogue says for e's code (Spec.Retryable). A caller
// that retries on its own (the async queue, pollers) gives up at once on
// anything else.
func (e *Error) Retryable() bool { return lookup(e.Code).Retryable }

// With sets an extra member of the exception shape and returns e.
func (e *Error) With(key string, value any) *Error {
	if e.Fields == nil {
		e.Fields = map[string]any{}
	}
	e.Fields[key] = value
	return e
}

// AsError turns any error into the Error a client is sent: an *Error found
// with errors.As as it is, anything else as an internal ServiceException.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// WriteError renders err the way Lambda and the edge do (see Lambda).
func WriteError(w http.ResponseWriter, err error) { Lambda.WriteError(w, nil, err) }

// WriteJSON writes v as a JSON response with the given status. A nil v
// writes no body.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	if v == nil {
		w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		WriteError(w, Internal(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
