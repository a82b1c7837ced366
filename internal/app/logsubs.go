package app

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/logs"
	"github.com/kumo-run/kumo/internal/registry"
)

// logFunctions is the logs.Functions of CloudWatch Logs subscription
// filters: it checks and invokes as logs.amazonaws.com for the log group,
// against the function's policy.
type logFunctions struct {
	reg      *registry.Registry
	invoker  invoke.Invoker // a lambda.InvokeGuard
	policies *authz.FunctionPolicies
	arns     registry.ARNs
	// check answers Permitted: the server's Authorizer, or one without
	// users when authentication is off, so that the function's policy is
	// checked as CloudWatch Logs checks it either way.
	check *authz.Authorizer
}

var _ logs.Functions = (*logFunctions)(nil)

// namespacedFunctionName is the length limit of a function ARN.
const namespacedFunctionName = 256

func (f *logFunctions) ref(functionARN string) (registry.Ref, error) {
	ref, err := f.arns.ParseRef(functionARN, namespacedFunctionName)
	if err != nil {
		return registry.Ref{}, awsproto.Errorf(awsproto.LogsInvalidParameter, "invalid function ARN %s", functionARN)
	}
	return ref, nil
}

// Permitted implements logs.Functions.
func (f *logFunctions) Permitted(ctx context.Context, functionARN, sourceARN string) error {
	ref, err := f.ref(functionARN)
	if err != nil {
		return err
	}
	if _, err := f.reg.GetFunctionConfiguration(ctx, ref); err != nil {
		return err
	}
	res := f.arns.Function(ref.Name)
	if ref.Qualifier != "" {
		res = f.arns.Qualified(ref.Name, ref.Qualifier)
	}
	ictx := authz.WithService(ctx, logs.LogsPrincipal, sourceARN, f.arns.Account)
	return f.check.Authorize(ictx, authz.Check{Action: "lambda:InvokeFunction", Resource: res,
		ResourcePolicy: f.policies.Get(ref.Name, ref.Qualifier), Denied: awsproto.AccessDeniedException})
}

// InvokeAsync implements logs.Functions.
func (f *logFunctions) InvokeAsync(ctx context.Context, functionARN, sourceARN string, payload []byte) error {
	ref, err := f.ref(functionARN)
	if err != nil {
		return err
	}
	var b [16]byte
	rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80 // a version 4 UUID
	id := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	ictx := authz.WithService(ctx, logs.LogsPrincipal, sourceARN, f.arns.Account)
	_, err = f.invoker.Invoke(ictx, &invoke.Input{Ref: ref, InvocationType: invoke.TypeEvent, Payload: payload, RequestID: id})
	return err
}
