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
