package awsproto

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Code is an AWS error code as sent in x-amzn-ErrorType, e.g.
// "ResourceNotFoundException". Every code Kumo sends is in the catalogue.
type Code string

// Lambda's exceptions (botocore lambda/2015-03-31 model) and the edge's own.
const (
	InvalidParameterValueException       Code = "InvalidParameterValueException"
	InvalidRequestContentException       Code = "InvalidRequestContentException"
	ResourceNotFoundException            Code = "ResourceNotFoundException"
	ResourceConflictException            Code = "ResourceConflictException"
	ResourceInUseException               Code = "ResourceInUseException"
	ResourceNotReadyException            Code = "ResourceNotReadyException"
	PreconditionFailedException          Code = "PreconditionFailedException"
	PolicyLengthExceededException        Code = "PolicyLengthExceededException"
	RequestTooLargeException             Code = "RequestTooLargeException"
	TooManyRequestsException             Code = "TooManyRequestsException"
	UnsupportedMediaTypeException        Code = "UnsupportedMediaTypeException"
	CodeStorageExceededException         Code = "CodeStorageExceededException"
	ServiceException                     Code = "ServiceException"
	InvalidZipFileException              Code = "InvalidZipFileException"
	InvalidRuntimeException              Code = "InvalidRuntimeException"
	ProvisionedConcurrencyConfigNotFound Code = "ProvisionedConcurrencyConfigNotFoundException"
	SerializedRequestEntityTooLarge      Code = "SerializedRequestEntityTooLargeException"
	RequestEntityTooLargeException       Code = "RequestEntityTooLargeException"
	InvalidSignatureException            Code = "InvalidSignatureException"
	IncompleteSignatureException         Code = "IncompleteSignatureException"
	MissingAuthenticationTokenException  Code = "MissingAuthenticationTokenException"
	UnrecognizedClientException          Code = "UnrecognizedClientException"
	AccessDeniedException                Code = "AccessDeniedException"
	UnknownOperationException            Code = "UnknownOperationException"
	SerializationException               Code = "SerializationException"
	ValidationException                  Code = "ValidationException"
	NotImplementedException              Code = "NotImplemented"

	// Refusals of the edge itself: too many connections, a body that
	// arrives too slowly. Both are worth retrying; the SDKs do.
	ServiceUnavailableException Code = "ServiceUnavailableException"
	RequestTimeoutException     Code = "RequestTimeoutException"
)

// spec is what the wire needs to know about a code: its HTTP status, the
// casing of the message member in the JSON body (the botocore model gives
// "message" for some exceptions and "Message" for others) and whether the
// caller or the service is at fault.
type spec struct {
	status int
	key    string
	fault  string // "User" or "Service"
}

var catalogue = map[Code]spec{
	InvalidParameterValueException:       {400, "message", "User"},
	InvalidRequestContentException:       {400, "message", "User"},
	ResourceNotFoundException:            {404, "Message", "User"},
	ResourceConflictException:            {409, "message", "User"},
	ResourceInUseException:               {400, "Message", "User"},
	ResourceNotReadyException:            {502, "message", "Service"},
	PreconditionFailedException:          {412, "message", "User"},
	PolicyLengthExceededException:        {400, "message", "User"},
	RequestTooLargeException:             {413, "message", "User"},
	TooManyRequestsException:             {429, "message", "User"},
	UnsupportedMediaTypeException:        {415, "message", "User"},
	CodeStorageExceededException:         {400, "message", "User"},
	ServiceException:                     {500, "Message", "Service"},
	InvalidZipFileException:              {502, "Message", "Service"},
	InvalidRuntimeException:              {502, "Message", "Service"},
	ProvisionedConcurrencyConfigNotFound: {404, "message", "User"},
	SerializedRequestEntityTooLarge:      {413, "message", "User"},
	RequestEntityTooLargeException:       {413, "message", "User"},
	InvalidSignatureException:            {403, "message", "User"},
	IncompleteSignatureException:         {403, "message", "User"},
	MissingAuthenticationTokenException:  {403, "message", "User"},
	UnrecognizedClientException:          {403, "message", "User"},
	AccessDeniedException:                {403, "Message", "User"},
	UnknownOperationException:            {404, "message", "User"},
	SerializationException:               {400, "message", "User"},
	ValidationException:                  {400, "message", "User"},
	NotImplementedException:              {501, "message", "User"},
	ServiceUnavailableException:          {503, "message", "Service"},
	RequestTimeoutException:              {408, "message", "User"},
}

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
}

// Errorf returns an Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected failure. The client is told only that the
// service failed; cause is kept for the log line.
func Internal(cause error) *Error {
	return &Error{Code: ServiceException, Message: "An internal error occurred; it has been logged with the request id.", cause: cause}
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
func (e *Error) Status() int { return lookup(e.Code).status }

// Retryable reports whether the same request may succeed if sent again
// unchanged: throttling and the service's own failures, as the SDKs' retry
// classifiers treat them. A caller that retries on its own (the async
// queue, pollers) gives up at once on anything else.
func (e *Error) Retryable() bool {
	s := lookup(e.Code)
	return s.status == http.StatusTooManyRequests || s.status >= 500
}

// With sets an extra member of the exception shape and returns e.
func (e *Error) With(key string, value any) *Error {
	if e.Fields == nil {
		e.Fields = map[string]any{}
	}
	e.Fields[key] = value
	return e
}

func lookup(c Code) spec {
	if s, ok := catalogue[c]; ok {
		return s
	}
	return catalogue[ServiceException]
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

// WriteError renders err the way AWS JSON services do: status from the
// catalogue, x-amzn-ErrorType header and a body with Type and the message
// member in the casing of the exception's shape.
func WriteError(w http.ResponseWriter, err error) {
	e := AsError(err)
	s := lookup(e.Code)
	body := make(map[string]any, 2+len(e.Fields))
	for k, v := range e.Fields {
		body[k] = v
	}
	body["Type"] = s.fault
	body[s.key] = e.Message
	h := w.Header()
	for k, vs := range e.Header {
		h[k] = vs
	}
	h.Del("x-amzn-ErrorType")
	h["x-amzn-ErrorType"] = []string{string(e.Code)} // AWS's casing, kept on the wire
	h.Set("Content-Type", "application/json")
	b, _ := json.Marshal(body)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(s.status)
	w.Write(b)
}

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
