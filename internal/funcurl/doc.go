// Package funcurl serves Lambda function URLs on the edge port. A request
// addressed to a URL — by host name, <url-id>.lambda-url.<region>.localhost
// (which resolves to loopback without any DNS setup), or by path,
// /lambda-url/<url-id>/<path…>, for clients that cannot choose a host name —
// is authorized (AWS_IAM: a SigV4 signature for service "lambda" whose
// signer may call lambda:InvokeFunctionUrl on the function, by its identity
// policies or the function's; NONE: the function's resource policy), answered by the platform when it is a CORS
// preflight, and otherwise turned into a payload format 2.0 event, invoked
// synchronously through the invoke frontend, and answered from the
// function's result by Lambda's 2.0 response rules.
//
// The edge routes these requests here (Server.Route) and leaves their
// authentication to this package; an AWS_IAM URL checks the signature on
// the headers before it reads the body wherever the payload hash is in a
// header. This package owns no state: a url-id is looked up in the
// registry's index, which the registry keeps current from its view; it
// never reads the store and never changes the registry.
//
// A URL with InvokeMode RESPONSE_STREAM passes the invocation a Stream
// (stream.go) and writes the function's streamed response to the client
// as it arrives, chunked; the HTTP integration prelude (JSON metadata,
// eight NUL bytes) gives the status, headers and cookies, and is held in
// memory only up to 64 KB. A function that does not stream is answered
// as on a BUFFERED URL.
//
// Kumo serves function URLs over plain HTTP on its edge port, so a URL is
// http://<url-id>.lambda-url.<region>.localhost:<port>/ where AWS has
// https://<url-id>.lambda-url.<region>.on.aws/.
package funcurl
