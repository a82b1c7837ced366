package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/registry"
)

// resourceKind says how an operation's resource ARN is built from its
// request.
type resourceKind uint8

const (
	resAny          resourceKind = iota // "*": the action has no resource (ListFunctions' too, as AWS's denials show)
	resFunction                         // {FunctionName}, with its qualifier when it has one
	resNewFunction                      // the body's FunctionName (CreateFunction)
	resLayer                            // {LayerName}
	resLayerVersion                     // {LayerName}:{VersionNumber}
	resTagged                           // {Resource}, an ARN
	resNewMapping                       // the body's FunctionName, as lambda:FunctionArn (CreateEventSourceMapping)
	resMapping                          // {UUID}: the mapping's ARN, its function as lambda:FunctionArn
)

// operation is the IAM action of one route and how its resource is named.
type operation struct {
	action string
	res    resourceKind
}

// operations maps every route of the API (the pattern handle is given) to
// its IAM action, from the Lambda actions table of the Service
// Authorization Reference. A route without an entry is allowed to the
// root user only.
var operations = map[string]operation{
	"POST /2015-03-31/functions":                                                          {"lambda:CreateFunction", resNewFunction},
	"POST /2015-03-31/functions/":                                                         {"lambda:CreateFunction", resNewFunction},
	"GET /2015-03-31/functions":                                                           {"lambda:ListFunctions", resAny},
	"GET /2015-03-31/functions/":                                                          {"lambda:ListFunctions", resAny},
	"GET /2015-03-31/functions/{FunctionName}":                                            {"lambda:GetFunction", resFunction},
	"DELETE /2015-03-31/functions/{FunctionName}":                                         {"lambda:DeleteFunction", resFunction},
	"GET /2015-03-31/functions/{FunctionName}/configuration":                              {"lambda:GetFunctionConfiguration", resFunction},
	"PUT /2015-03-31/functions/{FunctionName}/configuration":                              {"lambda:UpdateFunctionConfiguration", resFunction},
	"PUT /2015-03-31/functions/{FunctionName}/code":                                       {"lambda:UpdateFunctionCode", resFunction},
	"POST /2015-03-31/functions/{FunctionName}/versions":                                  {"lambda:PublishVersion", resFunction},
	"GET /2015-03-31/functions/{FunctionName}/versions":                                   {"lambda:ListVersionsByFunction", resFunction},
	"POST /2015-03-31/functions/{FunctionName}/invocations":                               {"lambda:InvokeFunction", resFunction},
	"POST /2014-11-13/functions/{FunctionName}/invoke-async":                              {"lambda:InvokeFunction", resFunction},
	"POST /2021-11-15/functions/{FunctionName}/response-streaming-invocations":            {"lambda:InvokeFunction", resFunction},
	"POST /2014-11-13/functions/{FunctionName}/invoke-async/":                             {"lambda:InvokeFunction", resFunction},
	"POST /2015-03-31/functions/{FunctionName}/aliases":                                   {"lambda:CreateAlias", resFunction},
	"GET /2015-03-31/functions/{FunctionName}/aliases":                                    {"lambda:ListAliases", resFunction},
	"GET /2015-03-31/functions/{FunctionName}/aliases/{Name}":                             {"lambda:GetAlias", resFunction},
	"PUT /2015-03-31/functions/{FunctionName}/aliases/{Name}":                             {"lambda:UpdateAlias", resFunction},
	"DELETE /2015-03-31/functions/{FunctionName}/aliases/{Name}":                          {"lambda:DeleteAlias", resFunction},
	"POST /2015-03-31/functions/{FunctionName}/policy":                                    {"lambda:AddPermission", resFunction},
	"GET /2015-03-31/functions/{FunctionName}/policy":                                     {"lambda:GetPolicy", resFunction},
	"DELETE /2015-03-31/functions/{FunctionName}/policy/{StatementId}":                    {"lambda:RemovePermission", resFunction},
	"POST /2017-03-31/tags/{Resource}":                                                    {"lambda:TagResource", resTagged},
	"GET /2017-03-31/tags/{Resource}":                                                     {"lambda:ListTags", resTagged},
	"DELETE /2017-03-31/tags/{Resource}":                                                  {"lambda:UntagResource", resTagged},
	"PUT /2017-10-31/functions/{FunctionName}/concurrency":                                {"lambda:PutFunctionConcurrency", resFunction},
	"DELETE /2017-10-31/functions/{FunctionName}/concurrency":                             {"lambda:DeleteFunctionConcurrency", resFunction},
	"GET /2019-09-30/functions/{FunctionName}/concurrency":                                {"lambda:GetFunctionConcurrency", resFunction},
	"GET /2016-08-19/account-settings":                                                    {"lambda:GetAccountSettings", resAny},
	"GET /2016-08-19/account-settings/":                                                   {"lambda:GetAccountSettings", resAny},
	"PUT /2019-09-25/functions/{FunctionName}/event-invoke-config":                        {"lambda:PutFunctionEventInvokeConfig", resFunction},
	"POST /2019-09-25/functions/{FunctionName}/event-invoke-config":                       {"lambda:UpdateFunctionEventInvokeConfig", resFunction},
	"GET /2019-09-25/functions/{FunctionName}/event-invoke-config":                        {"lambda:GetFunctionEventInvokeConfig", resFunction},
	"DELETE /2019-09-25/functions/{FunctionName}/event-invoke-config":                     {"lambda:DeleteFunctionEventInvokeConfig", resFunction},
	"GET /2019-09-25/functions/{FunctionName}/event-invoke-config/list":                   {"lambda:ListFunctionEventInvokeConfigs", resFunction},
	"GET /2018-10-31/layers":                                                              {"lambda:ListLayers", resAny},
	"GET /2018-10-31/layers/":                                                             {"lambda:ListLayers", resAny},
	"POST /2018-10-31/layers/{LayerName}/versions":                                        {"lambda:PublishLayerVersion", resLayer},
	"GET /2018-10-31/layers/{LayerName}/versions":                                         {"lambda:ListLayerVersions", resAny},
	"GET /2018-10-31/layers/{LayerName}/versions/{VersionNumber}":                         {"lambda:GetLayerVersion", resLayerVersion},
	"DELETE /2018-10-31/layers/{LayerName}/versions/{VersionNumber}":                      {"lambda:DeleteLayerVersion", resLayerVersion},
	"POST /2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy":                 {"lambda:AddLayerVersionPermission", resLayerVersion},
	"GET /2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy":                  {"lambda:GetLayerVersionPolicy", resLayerVersion},
	"DELETE /2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy/{StatementId}": {"lambda:RemoveLayerVersionPermission", resLayerVersion},
	"PUT /2019-09-30/functions/{FunctionName}/provisioned-concurrency":                    {"lambda:PutProvisionedConcurrencyConfig", resFunction},
	"GET /2019-09-30/functions/{FunctionName}/provisioned-concurrency":                    {"lambda:GetProvisionedConcurrencyConfig", resFunction},
	"DELETE /2019-09-30/functions/{FunctionName}/provisioned-concurrency":                 {"lambda:DeleteProvisionedConcurrencyConfig", resFunction},
	"POST /2021-10-31/functions/{FunctionName}/url":                                       {"lambda:CreateFunctionUrlConfig", resFunction},
	"GET /2021-10-31/functions/{FunctionName}/url":                                        {"lambda:GetFunctionUrlConfig", resFunction},
	"PUT /2021-10-31/functions/{FunctionName}/url":                                        {"lambda:UpdateFunctionUrlConfig", resFunction},
	"DELETE /2021-10-31/functions/{FunctionName}/url":                                     {"lambda:DeleteFunctionUrlConfig", resFunction},
	"GET /2021-10-31/functions/{FunctionName}/urls":                                       {"lambda:ListFunctionUrlConfigs", resFunction},
	"POST /2015-03-31/event-source-mappings":                                              {"lambda:CreateEventSourceMapping", resNewMapping},
	"POST /2015-03-31/event-source-mappings/":                                             {"lambda:CreateEventSourceMapping", resNewMapping},
	"GET /2015-03-31/event-source-mappings":                                               {"lambda:ListEventSourceMappings", resAny},
	"GET /2015-03-31/event-source-mappings/":                                              {"lambda:ListEventSourceMappings", resAny},
	"GET /2015-03-31/event-source-mappings/{UUID}":                                        {"lambda:GetEventSourceMapping", resMapping},
	"PUT /2015-03-31/event-source-mappings/{UUID}":                                        {"lambda:UpdateEventSourceMapping", resMapping},
	"DELETE /2015-03-31/event-source-mappings/{UUID}":                                     {"lambda:DeleteEventSourceMapping", resMapping},
}

// authorized wraps h with the check of its route's operation.
func (a *API) authorized(pattern string, h handler) handler {
	if a.az == nil {
		return h
	}
	op := operations[pattern]
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := a.authorize(r, op); err != nil {
			return err
		}
		return h(w, r)
	}
}

// authorize checks the caller of r against op, with the function's policy
// when op acts on a function.
func (a *API) authorize(r *http.Request, op operation) error {
	c := authz.Check{Action: op.action, Resource: "*", SourceIP: authz.SourceIP(r), Denied: awsproto.AccessDeniedException}
	switch op.res {
	case resFunction:
		ref, err := a.ref(r, namespacedFunctionName)
		if err != nil {
			c.Resource = a.arns.Function(r.PathValue("FunctionName"))
			break
		}
		c.Resource, c.ResourcePolicy = a.functionARN(ref), a.policies.Get(ref.Name, ref.Qualifier)
		if a.reg != nil {
			c.ResourceTags = a.reg.FunctionTags(ref.Name)
		}
	case resNewFunction:
		c.Resource = a.arns.Function(peekFunctionName(r))
	case resLayer:
		c.Resource = a.layerARN(r.PathValue("LayerName"))
	case resLayerVersion:
		c.Resource = a.layerARN(r.PathValue("LayerName")) + ":" + r.PathValue("VersionNumber")
	case resTagged:
		c.Resource = r.PathValue("Resource")
	case resNewMapping:
		// The mapping has no ARN yet: "*", with the function it will
		// invoke as lambda:FunctionArn, as the Service Authorization
		// Reference lists it.
		if ref, err := a.arns.ParseRef(peekFunctionName(r), namespacedFunctionName); err == nil {
			c.Keys = map[string][]string{"lambda:functionarn": {a.functionARN(ref)}}
		}
	case resMapping:
		uuid := r.PathValue("UUID")
		if a.esm != nil {
			c.Resource = a.esm.MappingARN(uuid)
			if fn := a.esm.FunctionARN(uuid); fn != "" {
				c.Keys = map[string][]string{"lambda:functionarn": {fn}}
			}
		}
	}
	return a.az.Authorize(r.Context(), c)
}

func (a *API) functionARN(ref registry.Ref) string {
	if ref.Qualifier == "" {
		return a.arns.Function(ref.Name)
	}
	return a.arns.Qualified(ref.Name, ref.Qualifier)
}

// layerARN is the ARN of {LayerName}, which is a name or a layer ARN.
func (a *API) layerARN(name string) string {
	if strings.HasPrefix(name, "arn:") {
		return name
	}
	return a.arns.LayerArn(name)
}

// peekFunctionName reads CreateFunction's FunctionName from r's body and
// puts the body back for the handler. The name is only named in the
// check: the handler validates it.
func peekFunctionName(r *http.Request) string {
	body, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
	if err != nil {
		return ""
	}
	var in struct{ FunctionName string }
	if json.Unmarshal(body, &in) != nil {
		return ""
	}
	return in.FunctionName
}

// InvokeGuard is the invoke.Invoker of services that invoke functions in
// process (triggers, schedules): it checks lambda:InvokeFunction for the
// caller ctx carries (an authz.WithService principal, or a signed
// caller) with the function's policy, then passes the invocation on.
type InvokeGuard struct {
	Invoker    invoke.Invoker
	Authorizer *authz.Authorizer
	Policies   *authz.FunctionPolicies
	ARNs       registry.ARNs
}

var _ invoke.Invoker = (*InvokeGuard)(nil)

// Invoke implements invoke.Invoker.
func (g *InvokeGuard) Invoke(ctx context.Context, in *invoke.Input) (*invoke.Output, error) {
	if g.Authorizer != nil {
		res := g.ARNs.Function(in.Ref.Name)
		if in.Ref.Qualifier != "" {
			res = g.ARNs.Qualified(in.Ref.Name, in.Ref.Qualifier)
		}
		if err := g.Authorizer.Authorize(ctx, authz.Check{Action: "lambda:InvokeFunction", Resource: res,
			ResourcePolicy: g.Policies.Get(in.Ref.Name, in.Ref.Qualifier), Denied: awsproto.AccessDeniedException}); err != nil {
			return nil, err
		}
	}
	return g.Invoker.Invoke(ctx, in)
}
