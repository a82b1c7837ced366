// Package edge is Kumo's one HTTP listener for AWS-protocol requests and
// everything else on the edge port. It owns the route table: an ordered
// list of routes, each a set of alternative matchers (host pattern, path or
// path prefix, method, X-Amz-Target prefix, SigV4 credential-scope service,
// query parameters) with a handler, whether the edge authenticates for it,
// and the body limit of its operations. The first matching route takes a
// request, so order settles overlaps; Table.Add refuses a matcher that an
// earlier route already has.
//
// For every request it assigns the request id (x-amzn-RequestId) and, for
// a SigV4 route, authenticates before the body is read as far as the
// protocol allows: with the payload hash in x-amz-content-sha256 the whole
// signature is checked on the headers, else every check but the final HMAC
// is, and the body (whose hash the signature covers) is read within the
// operation's limit into memory and, past SpoolAbove bytes, an unlinked
// spool file — so unauthenticated clients cannot fill memory. Bodies must
// keep a minimum rate after a grace period (408 otherwise), through a
// per-request read deadline, never a whole-request timeout that would cut
// large uploads on slow links. LimitListener caps connections and answers
// the excess with 503. The edge answers /healthz (with the version) and
// turns a panicking handler into a 500.
//
// Signatures are checked against long-term keys and against temporary
// credentials (X-Amz-Security-Token) through the verifier's
// awsproto.IdentityStore; the caller, with the identity its credentials
// belong to (the root, or a role session), goes to the handler in the
// request context. A route's Errors renderer answers the edge's own
// refusals in the route's protocol (query services get XML with their
// codes: InvalidClientTokenId, ExpiredToken, SignatureDoesNotMatch).
//
// It owns no AWS resource and must never look inside a service's
// operations: services register routes, and a service knows nothing of
// the edge beyond the request context (awsproto.RequestID,
// awsproto.CallerFrom) and a body that is already read and authenticated.
package edge
