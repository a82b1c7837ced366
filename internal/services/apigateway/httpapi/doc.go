// Package httpapi serves apigatewayv2, API Gateway's management API for
// HTTP APIs, on the edge: REST-JSON under /v2/ signed for service
// "apigateway", shapes and errors as botocore's apigatewayv2 model
// (NotFoundException, BadRequestException, ConflictException,
// TooManyRequestsException, AccessDeniedException, each with a lower-case
// "message").
//
// Operations: Create/Get/Update/Delete Api and GetApis (quick create with
// Target makes the integration, the route and an auto-deployed $default
// stage, as AWS does), DeleteCorsConfiguration, routes, AWS_PROXY Lambda
// integrations (payload format 1.0 or 2.0, a function ARN or API
// Gateway's invocation URI, 50 ms to 30 s), REQUEST and JWT authorizers,
// stages ($default and named, AutoDeploy, stage variables, default and
// per-route throttling settings), deployments, and tags on APIs and
// stages. A change to routes, integrations or authorizers deploys itself
// to every AutoDeploy stage, and the superseded auto-deployments are
// removed. ImportApi and ReimportApi build (or replace) the routes,
// integrations, authorizers and CORS configuration from an OpenAPI 3
// definition, JSON or YAML, with x-amazon-apigateway-integration,
// x-amazon-apigateway-authorizer, x-amazon-apigateway-authtype awsSigv4
// and x-amazon-apigateway-cors (openapi.go).
//
// WEBSOCKET APIs (websocket.go) take a route selection expression
// ($request.body.<member>), the route keys $connect, $disconnect,
// $default and custom ones, AWS_PROXY integrations with payload format
// 1.0 (the default) and timeouts up to 29 s, routes with
// RouteResponseSelectionExpression $default and route responses
// ($default, which make a route two-way), and stages and deployments as
// HTTP APIs have them; quick create and CORS are HTTP's only.
// Authorization (AWS_IAM, or CUSTOM with a REQUEST Lambda authorizer
// whose identity sources are route.request.header.<name> or
// route.request.querystring.<name>) is on $connect only, as on AWS.
//
// Not served: HTTP_PROXY and other integration types, VPC links, domain
// names, API mappings, models, integration responses, ExportApi.
//
// Every operation is authorized (authz.go) as API Gateway's actions are
// named: apigateway:<HTTP method> on
// arn:aws:apigateway:REGION::/apis/… — the request's own path — or, for
// the tag operations, on the tagged resource's ARN.
//
// State lives in the apigateway package's State (a KV bucket with a
// watched view); this package validates, writes through it and answers
// from its view. A refused request changes nothing. It never invokes a
// function: serving APIs is package execute's.
package httpapi
