package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// waitProvisionedReady polls GetProvisionedConcurrencyConfig until the
// configuration is READY and returns it.
func waitProvisionedReady(t *testing.T, lc *lambda.Client, name, qualifier string) *lambda.GetProvisionedConcurrencyConfigOutput {
	t.Helper()
	var out *lambda.GetProvisionedConcurrencyConfigOutput
	eventually(t, 60*time.Second, "provisioned concurrency of "+name+":"+qualifier+" READY", func() error {
		var err error
		out, err = lc.GetProvisionedConcurrencyConfig(t.Context(), &lambda.GetProvisionedConcurrencyConfigInput{
			FunctionName: aws.String(name), Qualifier: aws.String(qualifier)})
		if err != nil {
			return stopPolling(err)
		}
		if out.Status == types.ProvisionedConcurrencyStatusEnumFailed {
			return stopPolling(fmt.Errorf("FAILED: %s", aws.ToString(out.StatusReason)))
		}
		if out.Status != types.ProvisionedConcurrencyStatusEnumReady {
			return fmt.Errorf("status %s, allocated %d", out.Status, aws.ToInt32(out.AllocatedProvisionedConcurrentExecutions))
		}
		return nil
	})
	return out
}

// TestProvisionedConcurrency: a published version and an alias get
// sandboxes initialized ahead of time; invocations use them without a cold
// start; $LATEST is refused; deleting the configuration ends it.
func TestProvisionedConcurrency(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	lc := newSDK(t, s)
	const name = "pc"
	deployFn(t, lc, name, "pc", fnConfig{Publish: true})

	put := must[*lambda.PutProvisionedConcurrencyConfigOutput](t, "PutProvisionedConcurrencyConfig 1")(
		lc.PutProvisionedConcurrencyConfig(t.Context(), &lambda.PutProvisionedConcurrencyConfigInput{
			FunctionName: aws.String(name), Qualifier: aws.String("1"), ProvisionedConcurrentExecutions: aws.Int32(2)}))
	expectEq(t, "Put Requested", aws.ToInt32(put.RequestedProvisionedConcurrentExecutions), 2)
	if put.Status != types.ProvisionedConcurrencyStatusEnumInProgress && put.Status != types.ProvisionedConcurrencyStatusEnumReady {
		t.Errorf("Put Status %q, want IN_PROGRESS", put.Status)
	}
	if aws.ToString(put.LastModified) == "" {
		t.Error("Put LastModified is empty")
	}
	if raw, ok := awsmiddleware.GetRawResponse(put.ResultMetadata).(*smithyhttp.Response); ok {
		expectEq(t, "Put status code", raw.StatusCode, 202)
	}

	got := waitProvisionedReady(t, lc, name, "1")
	expectEq(t, "Allocated", aws.ToInt32(got.AllocatedProvisionedConcurrentExecutions), 2)
	expectEq(t, "Available", aws.ToInt32(got.AvailableProvisionedConcurrentExecutions), 2)
	expectEq(t, "Requested", aws.ToInt32(got.RequestedProvisionedConcurrentExecutions), 2)

	list := must[*lambda.ListProvisionedConcurrencyConfigsOutput](t, "ListProvisionedConcurrencyConfigs")(
		lc.ListProvisionedConcurrencyConfigs(t.Context(), &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String(name)}))
	if len(list.ProvisionedConcurrencyConfigs) != 1 || aws.ToString(list.ProvisionedConcurrencyConfigs[0].FunctionArn) != functionARN(name)+":1" {
		t.Errorf("ListProvisionedConcurrencyConfigs = %+v", list.ProvisionedConcurrencyConfigs)
	}

	// Invocations of version 1 run in the sandboxes started ahead of time.
	for range 2 {
		r := call(t, lc, name, "1", event("echo"))
		p := r.ok(t, "invoke version 1")
		expectEq(t, "AWS_LAMBDA_INITIALIZATION_TYPE", jstr(p, "env", "AWS_LAMBDA_INITIALIZATION_TYPE"), "provisioned-concurrency")
		expectEq(t, "X-Amz-Executed-Version", r.Version, "1")
		checkLog(t, r, "1", 128, false)
	}
	// $LATEST stays on demand.
	r := call(t, lc, name, "", event("echo"))
	expectEq(t, "$LATEST AWS_LAMBDA_INITIALIZATION_TYPE", jstr(r.ok(t, "invoke $LATEST"), "env", "AWS_LAMBDA_INITIALIZATION_TYPE"), "on-demand")

	_, err := lc.PutProvisionedConcurrencyConfig(t.Context(), &lambda.PutProvisionedConcurrencyConfigInput{
		FunctionName: aws.String(name), Qualifier: aws.String("$LATEST"), ProvisionedConcurrentExecutions: aws.Int32(1)})
	expectAPIError(t, "Put on $LATEST", err, "InvalidParameterValueException", 400)

	del := must[*lambda.DeleteProvisionedConcurrencyConfigOutput](t, "DeleteProvisionedConcurrencyConfig")(
		lc.DeleteProvisionedConcurrencyConfig(t.Context(), &lambda.DeleteProvisionedConcurrencyConfigInput{
			FunctionName: aws.String(name), Qualifier: aws.String("1")}))
	if raw, ok := awsmiddleware.GetRawResponse(del.ResultMetadata).(*smithyhttp.Response); ok {
		expectEq(t, "Delete status code", raw.StatusCode, 204)
	}
	_, err = lc.GetProvisionedConcurrencyConfig(t.Context(), &lambda.GetProvisionedConcurrencyConfigInput{
		FunctionName: aws.String(name), Qualifier: aws.String("1")})
	expectAPIError(t, "Get after Delete", err, "ProvisionedConcurrencyConfigNotFoundException", 404)

	// Through an alias.
	must[*lambda.CreateAliasOutput](t, "CreateAlias")(lc.CreateAlias(t.Context(), &lambda.CreateAliasInput{
		FunctionName: aws.String(name), Name: aws.String("live"), FunctionVersion: aws.String("1")}))
	must[*lambda.PutProvisionedConcurrencyConfigOutput](t, "PutProvisionedConcurrencyConfig live")(
		lc.PutProvisionedConcurrencyConfig(t.Context(), &lambda.PutProvisionedConcurrencyConfigInput{
			FunctionName: aws.String(name), Qualifier: aws.String("live"), ProvisionedConcurrentExecutions: aws.Int32(1)}))
	waitProvisionedReady(t, lc, name, "live")
	r = call(t, lc, name, "live", event("echo"))
	expectEq(t, "alias AWS_LAMBDA_INITIALIZATION_TYPE", jstr(r.ok(t, "invoke the alias"), "env", "AWS_LAMBDA_INITIALIZATION_TYPE"), "provisioned-concurrency")
	checkLog(t, r, "1", 128, false)
}

// TestProvisionedConcurrencyInitFailure: a version whose init fails ends
// FAILED with a StatusReason.
func TestProvisionedConcurrencyInitFailure(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	lc := newSDK(t, s)
	in := createInput("pcfail", makeZip(t, zipEntry{Name: "app.py", Body: "raise RuntimeError('no init')\n\ndef handler(event, context):\n    return {}\n"}))
	in.Publish = true
	must[*lambda.CreateFunctionOutput](t, "CreateFunction")(lc.CreateFunction(t.Context(), in))
	waitActive(t, lc, "pcfail")
	must[*lambda.PutProvisionedConcurrencyConfigOutput](t, "PutProvisionedConcurrencyConfig")(
		lc.PutProvisionedConcurrencyConfig(t.Context(), &lambda.PutProvisionedConcurrencyConfigInput{
			FunctionName: aws.String("pcfail"), Qualifier: aws.String("1"), ProvisionedConcurrentExecutions: aws.Int32(1)}))
	eventually(t, 60*time.Second, "provisioned concurrency FAILED", func() error {
		out, err := lc.GetProvisionedConcurrencyConfig(t.Context(), &lambda.GetProvisionedConcurrencyConfigInput{
			FunctionName: aws.String("pcfail"), Qualifier: aws.String("1")})
		if err != nil {
			return stopPolling(err)
		}
		if out.Status != types.ProvisionedConcurrencyStatusEnumFailed || aws.ToString(out.StatusReason) == "" {
			return fmt.Errorf("status %s, reason %q", out.Status, aws.ToString(out.StatusReason))
		}
		return nil
	})
}
