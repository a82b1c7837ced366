// Package apigateway holds what API Gateway's fronts share: the model of
// an API (its routes, integrations, authorizers, stages and deployments),
// its durable state, and the router that matches a request to a route.
// The management APIs are fronts over it — httpapi serves apigatewayv2
// (HTTP APIs), restapi serves apigateway (REST APIs: a Doc of protocol
// REST whose Rest part holds the resource tree, compiled into routes at
// each deployment); WebSocket APIs fit beside it —
// and execute is the one data plane that serves every API's endpoint:
// api → stage → route → integration.
//
// State: the KV bucket natsd.APIGatewayBucket ("kumo-apigateway") holds
// one JSON document per API ("api.<api-id>": the API's settings and every
// child resource, so that a change to a route and the deployment it
// triggers are one write) and one per deployment's frozen routes,
// integrations and authorizers ("dep.<api-id>.<deployment-id>"). A write
// is acknowledged only once the bucket has it; a new deployment's
// snapshot is written before the document that points a stage at it, so
// no reader sees a stage whose deployment it lacks. State keeps a view of
// the bucket in memory, fed by a watch, and answers every read from it:
// the data plane reads no store on the request path. For every API the
// view holds a Live: per stage, the compiled Router of its deployment,
// rebuilt when the API changes and swapped whole. Writes are serialised
// by State's one mutex; one server owns the bucket.
//
// This package must never invoke functions or authorize callers (the
// fronts do), and never modify a Doc or Snapshot the view holds: writers
// change a Clone.
package apigateway
