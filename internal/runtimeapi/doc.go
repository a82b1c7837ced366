// Package runtimeapi serves the Lambda Runtime API (version 2018-06-01) to
// one sandbox and runs its invocations one at a time.
//
// A Server owns the runtime side of one sandbox: the HTTP endpoints the
// runtime inside calls (GET /runtime/invocation/next, POST
// /runtime/invocation/{id}/response and /error, POST /runtime/init/error)
// and the state machine that says which of those calls is legal when
// (state.go). The worker drives it through Go calls: WaitInit until the
// runtime is ready, Invoke for each invocation, RuntimeExited when the
// sandbox's process ends, Close when the sandbox goes.
//
// Code in the sandbox is untrusted, and so is what it sends here: a Server
// keeps at most Options.MaxConnections connections open to it (8 by
// default, Descriptors in all) and closes more as soon as it accepts them,
// and bounds every body it reads (Options.MaxResponseBytes).
//
// A runtime may stream its response (Lambda-Runtime-Function-Response-Mode:
// streaming, chunked, error trailers at the end). When the Invocation has
// a Stream, the body is forwarded to it as it arrives (stream.go): paced
// as Lambda paces streamed responses (6 MB uncapped, then 2 MBps, by a
// pure pacer) and bounded by Options.MaxStreamedBytes (200 MB), read
// through one fixed buffer, so a streamed response is never held whole;
// when the Stream refuses a write (the caller went away) the rest is read
// and dropped and the invocation ends as the runtime ends it. Without a
// Stream a streamed response is read whole, within MaxResponseBytes.
// Requests outside the Runtime API's paths go to Options.Extra when set:
// the worker serves the Extensions and Telemetry APIs there (package
// extensions), on the same AWS_LAMBDA_RUNTIME_API address, as Lambda does.
//
// The transport (conn.go) reads the runtime's connections itself: one
// goroutine per connection parses requests with http.ReadRequest and
// writes answers straight to pooled buffers; a /next that waits parks its
// connection, and Invoke writes the event to it from the caller's
// goroutine. Any other request (Options.Extra, unknown paths, wrong
// methods) hands its connection to an http.Server running ServeHTTP
// (handlers.go), which then serves that connection to its end. A Server
// keeps nothing durable: its state is one sandbox's and ends with it.
//
// Wire details follow Lambda and its Runtime Interface Emulator: status
// codes, error types and messages are in errors.go, each with its source.
//
// It must never start or stop processes, read the store, or know which
// function runs in the sandbox: everything it tells the runtime comes in an
// Invocation, and everything it learns comes back as a Result, an InitError
// or an error. It is on the warm invoke path, so the path from Invoke to
// the runtime and back allocates little and hops goroutines once: the
// event goes out on Invoke's goroutine, the response comes back from the
// connection's.
package runtimeapi
