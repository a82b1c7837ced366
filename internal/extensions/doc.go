// Package extensions serves the Lambda Extensions API (version 2020-01-01)
// to one sandbox and keeps the state of the extensions running in it.
//
// A Manager owns one sandbox's extensions: the endpoints they call below
// /2020-01-01/extension/ (register, event/next, init/error, exit/error),
// served beside the Runtime API on the same listener (runtimeapi
// Options.Extra), and the state the worker waits on:
//   - Init: WaitReady returns once every external extension the worker
//     found in /opt/extensions has registered and every registered
//     extension has asked for its first event, or with an *Error when one
//     posted init/error or exit/error. The worker calls it after the
//     runtime's own init, under the same Init timeout. CloseRegistration
//     ends registration (later registers get Extension.RegistrationClosed).
//   - Invoke: Invoke queues an INVOKE event for every extension subscribed
//     to it; WaitIdle returns once each has asked for its next event again.
//     The caller gets the runtime's response without waiting; the sandbox
//     is reused only after WaitIdle.
//   - Shutdown: Shutdown queues a SHUTDOWN event for every extension
//     subscribed to it and waits until each has asked for its next event
//     again, or its context (the worker gives 2 s) ends.
//
// Telemetry (telemetry.go): PUT /2022-07-01/telemetry (and the older
// /2020-08-15/logs) subscribes an extension to the platform, function and
// extension streams with Lambda's buffering settings (validated against
// their documented ranges); Emit adds a record, a dispatcher goroutine per
// subscription POSTs batches (JSON arrays, at most maxItems records and
// maxBytes bytes, after timeoutMs at the latest) through the Deliverer the
// worker gives, one batch in flight at a time, and drops the oldest
// records of a subscriber that falls more than ten batches behind, so a
// slow extension costs bounded memory. The init phase's records are kept
// (256 at most) for extensions that subscribe during init, as they are on
// Lambda. Without a Deliverer (a sandbox the server cannot reach into)
// subscriptions are refused with a 500 saying so, never accepted and
// dropped. An extension's output reaches the sandbox's pipes as the
// function's does; the worker's launcher tags it, so it goes to the
// extension stream, and every other line to the function stream.
//
// Lock order: Manager.mu, then telemetry.mu, then a subscription's mu;
// none is held while a request body is read or a batch delivered.
//
// RegisteredPath is Kumo's own endpoint, not Lambda's: the worker's
// launcher waits on it to start the runtime only once the external
// extensions registered. Exited takes the launcher's word that an
// extension's process ended: a crash (Extension.Crash) before its
// SHUTDOWN, the end of its SHUTDOWN after it.
//
// Every move of an extension is checked against a transition table
// (state.go) that refuses by default: an extension that registers twice,
// or asks for an event before it registered, is told so with 403
// Extension.InvalidExtensionState, as Lambda's emulator does.
//
// Wire strings (headers, error types, event shapes) follow the AWS Lambda
// documentation and the Runtime Interface Emulator (rapi/handler); each
// constant says so.
//
// State is per sandbox and lives only as long as the sandbox: nothing
// here is durable, and nothing needs to be (an extension registers again
// in every new sandbox, as on Lambda). It must never start or stop
// processes (the worker launches extensions inside the sandbox), read the
// store, or block the runtime's requests: extension and runtime requests
// share the listener but not a lock with the Runtime API server. Bodies it
// reads are bounded (maxBody), and it keeps at most MaxExtensions
// extensions.
package extensions
