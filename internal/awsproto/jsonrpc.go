package awsproto

import (
	"bytes"
	"context"
	"encoding/json"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

// JSONOp serves one operation of an AWS JSON 1.0/1.1 service: the
// request body in (never empty: "{}" when the client sent none), the
// value to marshal as the response out (nil for an empty object).
type JSONOp func(ctx context.Context, r *http.Request, body []byte) (any, error)

// JSONRPC is the envelope of the AWS JSON 1.0 and 1.1 protocols, which
// SQS, KMS, Secrets Manager, EventBridge, CloudWatch Logs and DynamoDB
// share:
//
//	POST / HTTP/1.1
//	X-Amz-Target: TrentService.Encrypt
//	Content-Type: application/x-amz-json-1.1
//
//	{"KeyId": "...", "Plaintext": "..."}
//
// The service keeps its operations and its error codes; the envelope
// reads the bounded body, calls the operation and writes its JSON or its
// error in the service's renderer.
type JSONRPC struct {
	// Name names the service in log lines ("kms").
	Name string
	// TargetPrefix starts the X-Amz-Target of every request
	// ("TrentService.").
	TargetPrefix string
	// Errors renders errors; its Version sets the Content-Type.
	Errors JSON
	// MaxBody bounds the request body; a larger one is Serialization.
	MaxBody int
	// UnknownOperation is the code of a request that names no operation.
	UnknownOperation Code
	// Serialization is the code of a body that cannot be read.
	Serialization Code
	// SerializationMessage is its message; "The request body could not
	// be read or is too large." when empty.
	SerializationMessage string
	// Check, if set, runs before every operation (authorization, a full
	// disk) and refuses it with its error.
	Check func(r *http.Request, op string, body []byte) error
	// Writable, if set, reports whether the store may take more data;
	// while it returns an error, the operations in Fills (those that add
	// data) are refused with ServiceUnavailable (503, Retry-After: 30)
	// and the rest go on.
	Writable func() error
	Fills    map[string]bool
	// ClientError, if set, maps an operation's error before it is
	// rendered (a package's own validation type to ValidationException).
	ClientError func(error) error
	// CRC32 sends X-Amz-Crc32, DynamoDB's checksum of the body that its
	// SDKs verify.
	CRC32 bool
	// Log receives the service's own failures with their cause.
	Log *slog.Logger
}

// Operation is the operation r names after the target prefix, and
// whether r is a POST carrying that prefix.
func (j *JSONRPC) Operation(r *http.Request) (string, bool) {
	name, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), j.TargetPrefix)
	return name, ok && r.Method == http.MethodPost
}

// Serve answers r with op, named name; a nil op is an unknown operation.
func (j *JSONRPC) Serve(w http.ResponseWriter, r *http.Request, name string, op JSONOp) {
	if op == nil {
		j.WriteError(w, r, name, Errorf(j.UnknownOperation, "An unknown operation was requested."))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(j.MaxBody)+1))
	if err != nil || len(body) > j.MaxBody {
		msg := j.SerializationMessage
		if msg == "" {
			msg = "The request body could not be read or is too large."
		}
		j.WriteError(w, r, name, Errorf(j.Serialization, "%s", msg))
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if j.Check != nil {
		if err := j.Check(r, name, body); err != nil {
			j.WriteError(w, r, name, err)
			return
		}
	}
	if j.Writable != nil && j.Fills[name] {
		if err := j.Writable(); err != nil {
			e := Errorf(ServiceUnavailable, "%s", err.Error())
			e.Header = http.Header{"Retry-After": {"30"}}
			j.WriteError(w, r, name, e)
			return
		}
	}
	out, err := op(r.Context(), r, body)
	if err != nil {
		j.WriteError(w, r, name, err)
		return
	}
	if out == nil {
		out = struct{}{}
	}
	b, err := json.Marshal(out)
	if err != nil {
		j.WriteError(w, r, name, Internal(err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", j.ContentType())
	h.Set("Content-Length", strconv.Itoa(len(b)))
	if j.CRC32 {
		h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// ContentType is the protocol version's media type.
func (j *JSONRPC) ContentType() string {
	v := j.Errors.Version
	if v == "" {
		v = "1.0"
	}
	return "application/x-amz-json-" + v
}

// WriteError renders err for the operation named op, logging the
// service's own failures with their cause and the request id the client
// got.
func (j *JSONRPC) WriteError(w http.ResponseWriter, r *http.Request, op string, err error) {
	if j.ClientError != nil {
		err = j.ClientError(err)
	}
	if ae := AsError(err); ae.Unwrap() != nil && j.Log != nil {
		j.Log.ErrorContext(r.Context(), j.Name+" request failed", "requestId", RequestID(r.Context()), "operation", op, "error", err)
	}
	j.Errors.WriteError(w, r, err)
}
