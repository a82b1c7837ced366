// Package lambda serves the AWS Lambda REST API (rest-json, API version
// 2015-03-31 and its dated siblings) on top of the registry: one file per
// operation group. Handlers decode the request, call the registry (or, for
// Invoke, an invoke.Invoker) and encode the response in the exact wire
// shapes; they return errors, which are rendered in one place (serve).
//
// The edge has already authenticated the request and bounded its body.
// With an Authorizer every route is checked before its handler runs, as
// the IAM action and resource authz.go's table names, with the function's
// policy for operations on a function (compiled once per change).
// Function and layer state is reached only through the registry; the one
// direct read of the store is CodeURLs, which streams a code blob for the
// signed download link GetFunction and GetLayerVersion hand out. Event
// source mappings are served by an esm.Service (esm.go). Nothing here
// writes to the store.
//
// InvokeWithResponseStream (stream.go) answers with an
// application/vnd.amazon.eventstream body written with the SDK's
// eventstream encoder, never by hand: a PayloadChunk event, flushed, for
// each piece the function streams (or one for a function that does not
// stream) and an InvokeComplete event at the end. Once the first event
// is out an error can no longer be a status code: it ends the stream as
// InvokeComplete's ErrorCode and ErrorDetails. Nothing of a streamed
// response is kept: it goes from the runtime to the client as it comes.
package lambda
