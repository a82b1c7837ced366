// Package restapi serves API Gateway's REST API management API
// (apigateway, 2015-07-09): REST APIs, their resources, methods,
// integrations and authorizers, deployments and stages with canary
// settings. It is a front over the shared apigateway.State: a REST API is
// a Doc of protocol REST whose Rest part holds the resource tree; a
// deployment compiles every method into a Route and Integration of its
// Snapshot (with the methods themselves in Snapshot.Rest), so the data
// plane (package execute) matches REST requests with the same Router.
//
// State is durable as the shared State keeps it: every write goes to the
// kumo-apigateway bucket through State.Update/Create before it is
// acknowledged; a deployment's snapshot is written before the stage that
// points at it, and a snapshot a stage or canary still uses is never
// dropped. API keys and usage plans are one document, "restusage", in the
// same bucket (Usage): loaded at start, written with compare-and-set
// before a write is acknowledged, and served to the data plane
// (execute.APIKeys) from memory; the request counts behind a plan's
// throttle and quota are in memory only and start afresh on a restart.
// Every collection is bounded by API Gateway's default quotas
// (LimitExceededException).
//
// This package must never invoke functions or serve an API's endpoint
// (execute does), and never modify a Doc the State's view holds: it
// changes the Clone State.Update hands it. Every operation is checked
// with internal/iam/authz as apigateway:<HTTP method> on the path's ARN.
package restapi
