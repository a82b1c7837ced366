package runtimeapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Errors Invoke and WaitInit return. Runtime failures that Lambda reports as
// a function error (the runtime posted /error, its response was too large)
// are a Result, not one of these.
var (
	// ErrRuntimeExited: the sandbox's process exited (RuntimeExited). The
	// error returned wraps it and the cause given to RuntimeExited.
	ErrRuntimeExited = errors.New("runtimeapi: runtime exited")
	// ErrBusy: another Invoke is in progress on this Server.
	ErrBusy = errors.New("runtimeapi: an invocation is already in progress")
	// ErrAbandoned: an earlier Invoke gave up on an invocation the runtime
	// had already received; the sandbox cannot be trusted with another.
	ErrAbandoned = errors.New("runtimeapi: an earlier invocation was abandoned while the runtime held it")
	// ErrClosed: the Server was closed.
	ErrClosed = errors.New("runtimeapi: server closed")
	// ErrNotDelivered wraps the reason an invocation could not run when
	// the runtime never received it (it had exited, say): running it on
	// another sandbox is safe.
	ErrNotDelivered = errors.New("runtimeapi: invocation not delivered")
)

// InitError is what the runtime posted to /runtime/init/error. WaitInit
// returns it, and so does an Invoke waiting for init.
type InitError struct {
	// ErrorType is the Lambda-Runtime-Function-Error-Type header, else the
	// errorType member of a JSON body, else Runtime.Unknown.
	ErrorType string
	// Payload is the body the runtime posted, as sent.
	Payload []byte
}

func (e *InitError) Error() string { return "runtimeapi: runtime init error: " + e.ErrorType }

// Error types a Result or InitError can carry that Kumo itself decides
// (the others are whatever the runtime said). The strings are Lambda's
// (Runtime Interface Emulator, internal/lambda/fatalerror).
const (
	// ErrorTypeUnknown: the runtime gave no error type.
	ErrorTypeUnknown = "Runtime.Unknown"
	// ErrorTypeResponseSizeTooLarge: the response (or error) body was over
	// Options.MaxResponseBytes.
	ErrorTypeResponseSizeTooLarge = "Function.ResponseSizeTooLarge"
	// ErrorTypeInvalidResponseMode: Lambda-Runtime-Function-Response-Mode
	// had a value other than "streaming".
	ErrorTypeInvalidResponseMode = "Runtime.InvalidResponseModeHeader"
	// ErrorTypeTruncatedResponse: the runtime's request body ended early.
	ErrorTypeTruncatedResponse = "Runtime.TruncatedResponse"

	// The error types the worker reports on a function's behalf when its
	// sandbox, not its code, failed the invocation (RIE fatalerror).

	// ErrorTypeTimedOut: the invocation or the init phase ran past its
	// timeout ("Task timed out after 3.00 seconds").
	ErrorTypeTimedOut = "Sandbox.Timedout"
	// ErrorTypeExitError: the runtime process exited ("Runtime exited
	// with error: exit status 1").
	ErrorTypeExitError = "Runtime.ExitError"
	// ErrorTypeOutOfMemory: the runtime was killed for exceeding its
	// memory size.
	ErrorTypeOutOfMemory = "Runtime.OutOfMemory"
	// ErrorTypeInvalidEntrypoint: the runtime's entry point (handler
	// file, bootstrap) cannot be started.
	ErrorTypeInvalidEntrypoint = "Runtime.InvalidEntrypoint"
)

// Values of Invoke's X-Amz-Function-Error header (and of the
// FunctionError member that asynchronous destinations record).
const (
	// FunctionErrorUnhandled: the function failed, whatever the error
	// type; Lambda sends it for every failure a runtime or Kumo reports.
	FunctionErrorUnhandled = "Unhandled"
)

// DefaultMaxResponseBytes is Lambda's limit on a synchronous response: 6 MiB
// and 100 bytes, the number Lambda prints in its "exceeded maximum allowed
// payload size (6291556 bytes)" messages (RIE interop.MaxPayloadSize).
const DefaultMaxResponseBytes = 6*1024*1024 + 100

// Header names of the Runtime API, in canonical form so they can be used as
// http.Header keys directly.
const (
	hdrRequestID     = "Lambda-Runtime-Aws-Request-Id"
	hdrDeadline      = "Lambda-Runtime-Deadline-Ms"
	hdrFunctionARN   = "Lambda-Runtime-Invoked-Function-Arn"
	hdrTraceID       = "Lambda-Runtime-Trace-Id"
	hdrClientContext = "Lambda-Runtime-Client-Context"
	hdrCognito       = "Lambda-Runtime-Cognito-Identity"
	hdrContentType   = "Content-Type"
	hdrContentLength = "Content-Length"
	// hdrErrorType names the error type on /error and /init/error, and is
	// also a trailer of /response (aws-lambda-go sends it when reading its
	// response body fails midway), with hdrErrorBody the base64 error JSON.
	hdrErrorType    = "Lambda-Runtime-Function-Error-Type"
	hdrErrorBody    = "Lambda-Runtime-Function-Error-Body"
	hdrResponseMode = "Lambda-Runtime-Function-Response-Mode"

	responseModeStreaming = "streaming"
)

// Error types and messages of the API's own error responses, as the Runtime
// Interface Emulator renders them (internal/lambda/rapi/rendering).
const (
	apiInvalidStateTransition = "InvalidStateTransition" // 403
	apiInvalidRequestID       = "InvalidRequestID"       // 400
	apiRequestEntityTooLarge  = "RequestEntityTooLarge"  // 413
	apiTruncatedHTTPRequest   = "TruncatedHTTPRequest"   // 400
	apiInvalidResponseMode    = "InvalidFunctionResponseMode"

	// msgTransition is RIE's StateTransitionFailedForRuntimeMessageFormat
	// with its core.ErrNotAllowed text.
	msgTransition = "State transition from %s to %s failed for runtime. Error: State transition is not allowed"
)

// apiError is the body of every error response: RIE's model.ErrorResponse.
type apiError struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// render is the JSON of e as RIE's json.Encoder writes it (newline ended).
func (e apiError) render() []byte {
	b, _ := json.Marshal(e) // two strings cannot fail
	return append(b, '\n')
}

// Bodies that never change.
var (
	bodyAccepted         = []byte("{\"status\":\"OK\"}\n")
	bodyInvalidRequestID = apiError{"Invalid request ID", apiInvalidRequestID}.render()
	bodyTruncated        = apiError{"HTTP request detected as truncated", apiTruncatedHTTPRequest}.render()
	bodyInvalidMode      = apiError{"Invalid function response mode", apiInvalidResponseMode}.render()
)

// bodyTooLarge is the 413 body for a limit of max bytes.
func bodyTooLarge(max int64) []byte {
	return apiError{"Exceeded maximum allowed payload size (" + strconv.FormatInt(max, 10) + " bytes).", apiRequestEntityTooLarge}.render()
}

// functionError is an error payload Kumo writes on the runtime's behalf, in
// the shape runtimes post ({"errorMessage","errorType"}), without the
// newline.
func functionError(typ, msg string) []byte {
	b, _ := json.Marshal(apiError{ErrorMessage: msg, ErrorType: typ})
	return b
}

// sizeErrorPayload is the invocation's payload when the runtime's response
// was too large; Lambda answers Invoke with exactly this.
func sizeErrorPayload(max int64) []byte {
	return functionError(ErrorTypeResponseSizeTooLarge,
		fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", max))
}

// errorType decides the type of an error the runtime posted: the header if
// given, else the errorType member of a JSON body, else Runtime.Unknown.
func errorType(header string, body []byte) string {
	if header != "" {
		return header
	}
	var v struct {
		ErrorType string `json:"errorType"`
	}
	if json.Unmarshal(body, &v) == nil && v.ErrorType != "" {
		return v.ErrorType
	}
	return ErrorTypeUnknown
}
