// Package edge is Kumo's one HTTP listener for AWS-protocol requests. For
// every request it assigns the request id (x-amzn-RequestId), reads the body
// within a size cap, authenticates the SigV4 signature, puts the request id
// and caller in the context and hands the request to the service the
// signature's credential scope names ("lambda", "logs", ...). It answers
// /healthz and turns a panicking service handler into a 500.
//
// It owns no AWS resource and must never look inside a service's
// operations: it knows services only by name, and a service knows nothing of
// the edge beyond the request context (awsproto.RequestID, awsproto.CallerFrom)
// and a body that is already in memory.
package edge
