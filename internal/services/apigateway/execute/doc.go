// Package execute is the execute-api data plane: it serves every API's
// endpoint on the edge port, by host name,
// http://<api-id>.execute-api.<region>.localhost:<port>/<stage>/<path>
// (no stage segment for a $default stage; the name resolves to loopback
// without DNS setup), or by path,
// http://<edge>/execute-api/<api-id>/<stage>/<path>, for clients that
// cannot set a Host.
//
// A request is resolved from the apigateway.State's in-memory view —
// api → stage (a first segment naming a stage, else $default) → route
// (apigateway.Router: exact paths, then path variables, then greedy
// variables, a method before ANY, then $default) → integration — with no
// store read. Then, in order: a CORS preflight is answered from the API's
// CorsConfiguration; the stage's throttling settings for the route apply
// (429); the body is bounded (10 MB, and the bodies in flight together);
// the route's authorization runs (AWS_IAM: a SigV4 signature for
// execute-api and execute-api:Invoke; CUSTOM: a Lambda REQUEST
// authorizer, simple or IAM-policy answers, cached by identity source for
// its TTL; JWT: a token verified against the JWKS of the issuer's OpenID
// Connect discovery document, with iss, aud or client_id, exp and the
// route's scopes checked); and the Lambda
// integration is invoked synchronously, with the payload format 2.0 event
// (built by funcurl.NewEvent, shared with function URLs) or 1.0, and its
// answer mapped back (2.0 infers a 200 from a value without statusCode,
// 1.0 does not).
//
// Functions are invoked through Config.Invoker (lambda.InvokeGuard) as
// the service principal apigateway.amazonaws.com with SourceArn
// arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/ROUTE-PATH
// (API/STAGE/$default for the $default route; API/authorizers/ID for an
// authorizer), so the function's policy decides, as on AWS. API Gateway's
// own answers are JSON {"message": …}: 404 Not Found, 401 Unauthorized,
// 403 Forbidden, 429 Too Many Requests, 500 Internal Server Error (a
// function error, a malformed answer, a missing permission), 503 Service
// Unavailable (the integration's timeout passed); every answer carries
// apigw-requestid.
//
// WebSocket APIs (websocket.go) are served at the same addresses,
// ws://<api-id>.execute-api.<region>.localhost:<port>/<stage> or
// ws://<edge>/execute-api/<api-id>/<stage> (github.com/coder/websocket).
// An AWS_IAM $connect route admits only an upgrade signed for
// execute-api by a caller allowed execute-api:Invoke on
// API/STAGE/$connect (403 otherwise); a CUSTOM one runs its Lambda
// REQUEST authorizer (websocket_auth.go: AWS's event with methodArn,
// headers and query; an IAM policy answer, cached by identity source
// values for its TTL; 401 without an identity source, 403 denied), and
// the answer's principalId and context are requestContext.authorizer of
// $connect and of every later event of the connection.
// The $connect route runs synchronously before the upgrade with the
// request's headers and query string; a non-2xx statusCode refuses the
// connection with that status, a function error or malformed answer with
// 502. Each message is routed by the API's route selection expression
// ($request.body.<path> into a JSON message) to its route, else $default,
// else API Gateway's {"message":"Forbidden","connectionId",…,"requestId"}
// frame; a route with a route response (two-way) sends its function's
// body back, a one-way route's answer is dropped; a failing function
// gets the "Internal server error" frame. Messages of one connection are
// served in order, one at a time. The stage's throttling settings for a
// route apply to $connect (429) and to messages (a "Too Many Requests"
// frame), as for HTTP APIs. $disconnect runs, best effort, when
// either side closes (disconnectStatusCode, disconnectReason). Events are
// AWS's: requestContext {routeKey, messageId, eventType
// CONNECT/MESSAGE/DISCONNECT, extendedRequestId, requestTime,
// messageDirection IN, stage, connectedAt, requestTimeEpoch, identity
// {sourceIp, userAgent}, requestId, domainName, connectionId, apiId},
// body and isBase64Encoded (binary frames), headers and query on
// $connect; SourceArn arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/ROUTE-KEY.
// Limits as AWS documents them: a connection idle for 10 minutes or open
// for 2 hours is closed with 1001 (checked every 10 s against Config.Now),
// a message over 128 KB closes it with 1009, and one server holds at
// most 10,000 connections (429 beyond). The 32 KB frame size is not
// enforced separately: coder/websocket reassembles frames.
//
// The @connections management API (websocket_manage.go) is served at
// …/<stage>/@connections/<connection-id> on both addresses — boto3's
// apigatewaymanagementapi with endpoint_url
// <AWS_ENDPOINT_URL>/execute-api/<api-id>/<stage> — SigV4-signed for
// execute-api and authorized as execute-api:ManageConnections on
// arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/@connections/ID:
// POST sends the body (≤ 128 KB, else PayloadTooLargeException), GET
// answers connectedAt, identity and lastActiveAt, DELETE closes with
// 1000; a connection that is not open here is GoneException (410).
//
// Connections live in the memory of the server that holds their socket:
// a connection cannot outlive its TCP connection, so there is nothing to
// make durable, and @connections reaches only this server's connections.
// In a cluster, @connections would be routed by a registry of
// connection-id → node in a KV bucket (written on connect, deleted on
// disconnect, with a TTL of the 2-hour limit) and a NATS subject per node
// that the owning node serves; that is not built, as Kumo runs one
// server.
// REST APIs (rest.go, rest_auth.go) share the addressing and the Router
// (a REST deployment's methods are its routes): the first segment always
// names the stage; a stage's canary takes CanarySettings.PercentTraffic %
// of its requests, drawn by Config.CanaryRandom, to the canary's
// deployment with its stage variable overrides; the method's
// authorization runs (AWS_IAM, or a TOKEN/REQUEST Lambda authorizer whose
// IAM policy, cached by identity for its TTL, is evaluated against the
// method's ARN), then its API key (x-api-key, checked against usage plans
// by Config.APIKeys); AWS_PROXY integrations get REST's proxy event
// (bodies base64 only for the API's binary media types) and a strictly
// checked answer (anything else is 502), MOCK integrations answer from
// their templates (passed through, not evaluated). REST's own answers:
// 403 Missing Authentication Token for a path no resource serves, 401
// Unauthorized, 403 {"Message": …} for an authorizer's Deny, 403
// Forbidden without a valid key, 429 Limit Exceeded / Too Many Requests,
// 502 / 500 Internal server error, 504 Endpoint request timed out; every
// answer carries x-amzn-RequestId and x-amz-apigw-id.
//
// The package owns no durable state: only the authorizer cache, the
// throttling buckets and the JWT issuers' keys (refreshed in the
// background until Close), all bounded, in memory. It never writes the
// store.
package execute
