package app

import (
	"net/http"

	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/funcurl"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/logs"
	"github.com/kumo-run/kumo/internal/services/apigateway/execute"
	"github.com/kumo-run/kumo/internal/services/apigateway/httpapi"
	"github.com/kumo-run/kumo/internal/services/apigateway/restapi"
	"github.com/kumo-run/kumo/internal/services/dynamodb"
	"github.com/kumo-run/kumo/internal/services/ec2"
	"github.com/kumo-run/kumo/internal/services/events"
	"github.com/kumo-run/kumo/internal/services/iam"
	"github.com/kumo-run/kumo/internal/services/kms"
	lambdaapi "github.com/kumo-run/kumo/internal/services/lambda"
	kumos3 "github.com/kumo-run/kumo/internal/services/s3"
	"github.com/kumo-run/kumo/internal/services/scheduler"
	"github.com/kumo-run/kumo/internal/services/secretsmanager"
	"github.com/kumo-run/kumo/internal/services/sns"
	"github.com/kumo-run/kumo/internal/services/sqs"
	"github.com/kumo-run/kumo/internal/services/sts"
)

// services is what the edge routes to.
type services struct {
	lambda, logs, metrics http.Handler
	sts                   http.Handler
	ec2                   http.Handler
	iam                   http.Handler
	sqs                   http.Handler
	sns, snsCert          http.Handler
	snsLink, snsUnsub     http.Handler
	s3                    http.Handler
	kms                   http.Handler
	secrets               http.Handler
	events, scheduler     http.Handler
	dynamodb              http.Handler
	region                string
	urls                  *funcurl.Server
	code                  *lambdaapi.CodeURLs
	// apigw serves apigatewayv2's management API, execute the APIs'
	// endpoints.
	apigw, execute http.Handler
	// restapi serves apigateway's REST API management API.
	restapi http.Handler
}

// routes is the edge's route table, in order: function URLs (by host name
// or path, whatever else the request looks like), then the platform's own
// paths, then each AWS service by its SigV4 service name and what its
// unsigned requests look like. A service is one entry here.
//
// Table.Add checks only for identical matchers; the order settles the
// rest (TestRoutes shows what takes what).
func routes(s services) []edge.Route {
	return []edge.Route{
		s.urls.Route(),
		execute.NewRoute(s.region, s.execute),
		edge.Health,
		{Name: "metrics", Match: []edge.Matcher{{Method: http.MethodGet, Path: "/metrics"}}, Handler: s.metrics},
		// Code download links carry their own signature.
		{Name: "code", Match: []edge.Matcher{{PathPrefix: lambdaapi.CodePath}}, Auth: edge.AuthNone, Handler: s.code},
		{Name: "lambda", Match: lambdaMatch(), Scope: "lambda", Handler: s.lambda, MaxBody: lambdaBodyLimit},
		{Name: "logs", Match: []edge.Matcher{{Service: "logs"}, {Target: "Logs_20140328."}}, Scope: "logs", Handler: s.logs, Errors: logs.Errors},
		{Name: "sts", Match: []edge.Matcher{{Service: sts.SigningName}, {Query: map[string]string{"Action": "", "Version": sts.Version}}},
			Scope: sts.SigningName, Handler: s.sts, Errors: sts.Errors},
		{Name: "ec2", Match: []edge.Matcher{{Service: ec2.SigningName}, {Query: map[string]string{"Action": "", "Version": ec2.Version}}},
			Scope: ec2.SigningName, Handler: s.ec2, Errors: ec2.Errors},
		{Name: "iam", Match: []edge.Matcher{{Service: iam.SigningName}, {Query: map[string]string{"Action": "", "Version": iam.Version}}},
			Scope: iam.SigningName, Handler: s.iam, Errors: iam.Errors},
		{Name: "sqs", Match: []edge.Matcher{{Service: sqs.SigningName}, {Target: sqs.TargetPrefix}, {Query: map[string]string{"Action": "", "Version": sqs.Version}}},
			Scope: sqs.SigningName, Handler: s.sqs, Errors: sqs.Errors, MaxBody: func(*http.Request) int64 { return sqs.MaxRequestBody }},
		{Name: "sns", Match: []edge.Matcher{{Service: sns.SigningName}, {Query: map[string]string{"Action": "", "Version": sns.Version}}},
			Scope: sns.SigningName, Handler: s.sns, Errors: sns.Errors},
		// The certificate SNS signs notifications with is public; a
		// SubscribeURL carries its token instead of a signature, an
		// UnsubscribeURL the subscription's ARN.
		{Name: "sns-cert", Match: []edge.Matcher{{Method: http.MethodGet, Path: sns.CertPath}}, Auth: edge.AuthNone, Handler: s.snsCert},
		{Name: "sns-confirm", Match: []edge.Matcher{{Method: http.MethodGet, Query: map[string]string{"Action": "ConfirmSubscription", "Token": ""}}},
			Auth: edge.AuthNone, Handler: s.snsLink, Errors: sns.Errors},
		{Name: "sns-unsubscribe", Match: []edge.Matcher{{Method: http.MethodGet, Query: map[string]string{"Action": "Unsubscribe", "SubscriptionArn": ""}}},
			Auth: edge.AuthNone, Handler: s.snsUnsub, Errors: sns.Errors},
		{Name: "kms", Match: []edge.Matcher{{Service: kms.SigningName}, {Target: kms.TargetPrefix}},
			Scope: kms.SigningName, Handler: s.kms, Errors: kms.Errors, MaxBody: func(*http.Request) int64 { return kms.MaxRequestBody }},
		{Name: "secretsmanager", Match: []edge.Matcher{{Service: secretsmanager.SigningName}, {Target: secretsmanager.TargetPrefix}},
			Scope: secretsmanager.SigningName, Handler: s.secrets, Errors: secretsmanager.Errors,
			MaxBody: func(*http.Request) int64 { return secretsmanager.MaxRequestBody }},
		{Name: "apigatewayv2", Match: []edge.Matcher{{Service: httpapi.SigningName, PathPrefix: httpapi.PathPrefix}},
			Scope: httpapi.SigningName, Handler: s.apigw, Errors: httpapi.Errors},
		{Name: "apigateway", Match: restapi.Matchers(),
			Scope: restapi.SigningName, Handler: s.restapi, Errors: restapi.Errors},
		{Name: "events", Match: []edge.Matcher{{Service: events.SigningName}, {Target: events.TargetPrefix}},
			Scope: events.SigningName, Handler: s.events, Errors: events.Errors, MaxBody: func(*http.Request) int64 { return events.MaxRequestBody }},
		{Name: "scheduler", Match: []edge.Matcher{{Service: scheduler.SigningName}}, Scope: scheduler.SigningName, Handler: s.scheduler, Errors: scheduler.Errors},
		{Name: "dynamodb", Match: []edge.Matcher{{Service: dynamodb.SigningName}, {Target: dynamodb.TargetPrefix}, {Target: dynamodb.StreamsTargetPrefix}},
			Scope: dynamodb.SigningName, Handler: s.dynamodb, Errors: dynamodb.Errors, MaxBody: func(*http.Request) int64 { return dynamodb.MaxRequestBody }},
		// S3 authenticates its own requests (streamed bodies, S3's
		// signing variants); virtual-hosted requests go by host name.
		kumos3.Route(s.s3, s.region),
	}
}

// lambdaMatch takes requests signed for "lambda" and, unsigned, the REST
// paths of Lambda's API versions.
func lambdaMatch() []edge.Matcher {
	m := []edge.Matcher{{Service: "lambda"}}
	for _, v := range []string{"2014-11-13", "2015-03-31", "2016-08-19", "2017-03-31", "2017-10-31",
		"2018-10-31", "2019-09-25", "2019-09-30", "2020-04-22", "2020-06-30", "2021-10-31"} {
		m = append(m, edge.Matcher{PathPrefix: "/" + v + "/"})
	}
	return m
}

// Lambda's request body limits by operation: its quotas for a synchronous
// invocation payload (with room for the frontend to answer its own
// RequestEntityTooLargeException) and for a code upload; every other
// operation fits in edge.DefaultMaxBody.
const (
	invokeBodyLimit = invoke.MaxSyncPayload + 64<<10
	codeBodyLimit   = 69905067
)

var lambdaBodyLimit = edge.BodyLimits(map[string]int64{
	"POST /2015-03-31/functions/{FunctionName}/invocations": invokeBodyLimit,
	"POST /2015-03-31/functions":                            codeBodyLimit, // CreateFunction
	"POST /2015-03-31/functions/":                           codeBodyLimit,
	"PUT /2015-03-31/functions/{FunctionName}/code":         codeBodyLimit, // UpdateFunctionCode
	"POST /2018-10-31/layers/{LayerName}/versions":          codeBodyLimit, // PublishLayerVersion
})
