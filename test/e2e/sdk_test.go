package e2e

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// newSDK returns an aws-sdk-go-v2 Lambda client for s: static root
// credentials, BaseEndpoint, no shared config and no retries.
func newSDK(t testing.TB, s *server) *lambda.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(rootAccessKeyID, rootSecretAccessKey, "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithRetryMaxAttempts(1),
	)
	if err != nil {
		t.Fatal(err)
	}
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(s.url) })
}

// apiError returns the AWS error code and HTTP status of err.
func apiError(err error) (code string, status int) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

// expectAPIError fails unless err is the AWS error code with status.
func expectAPIError(t *testing.T, what string, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want %s (HTTP %d)", what, code, status)
		return
	}
	if c, s := apiError(err); c != code || s != status {
		t.Errorf("%s: got %s (HTTP %d), want %s (HTTP %d): %v", what, c, s, code, status, err)
	}
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func createInput(name string, zip []byte) *lambda.CreateFunctionInput {
	return &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      types.RuntimePython312,
		Role:         aws.String(testRole),
		Handler:      aws.String("app.handler"),
		Code:         &types.FunctionCode{ZipFile: zip},
	}
}

func TestSDKLifecycle(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	ctx := t.Context()
	lc := newSDK(t, s)
	zip1, zip2, zip3 := handlerZip(t, "one"), handlerZip(t, "two"), handlerZip(t, "three")
	arn, partial := functionARN("sdk-main"), partialARN("sdk-main")

	created := must[*lambda.CreateFunctionOutput](t, "CreateFunction")(lc.CreateFunction(ctx, createInput("sdk-main", zip1)))
	expectEq(t, "CreateFunction FunctionArn", aws.ToString(created.FunctionArn), arn)
	expectEq(t, "CreateFunction CodeSha256", aws.ToString(created.CodeSha256), codeSha256(zip1))
	if created.State != types.StatePending && created.State != types.StateActive {
		t.Errorf("CreateFunction State = %s, want Pending", created.State)
	}
	if err := lambda.NewFunctionActiveV2Waiter(lc).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(arn)}, 30*time.Second); err != nil {
		t.Fatalf("FunctionActiveV2 waiter (by full ARN): %v", err)
	}

	// Update the code by partial ARN and wait for it.
	upd := must[*lambda.UpdateFunctionCodeOutput](t, "UpdateFunctionCode")(lc.UpdateFunctionCode(ctx,
		&lambda.UpdateFunctionCodeInput{FunctionName: aws.String(partial), ZipFile: zip2}))
	expectEq(t, "UpdateFunctionCode CodeSha256", aws.ToString(upd.CodeSha256), codeSha256(zip2))
	if upd.LastUpdateStatus != types.LastUpdateStatusInProgress && upd.LastUpdateStatus != types.LastUpdateStatusSuccessful {
		t.Errorf("UpdateFunctionCode LastUpdateStatus = %s, want InProgress", upd.LastUpdateStatus)
	}
	if err := lambda.NewFunctionUpdatedV2Waiter(lc).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(partial)}, 30*time.Second); err != nil {
		t.Fatalf("FunctionUpdatedV2 waiter (by partial ARN): %v", err)
	}
	got := must[*lambda.GetFunctionOutput](t, "GetFunction")(lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("sdk-main")}))
	expectEq(t, "GetFunction CodeSha256", aws.ToString(got.Configuration.CodeSha256), codeSha256(zip2))
	if b, err := download(ctx, aws.ToString(got.Code.Location)); err != nil || string(b) != string(zip2) {
		t.Errorf("code download: %d bytes, err %v; want the %d bytes uploaded", len(b), err, len(zip2))
	}

	// Versions: publish 1, then update with Publish for 2.
	v1 := must[*lambda.PublishVersionOutput](t, "PublishVersion")(lc.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(arn)}))
	expectEq(t, "PublishVersion Version", aws.ToString(v1.Version), "1")
	up2 := must[*lambda.UpdateFunctionCodeOutput](t, "UpdateFunctionCode Publish")(lc.UpdateFunctionCode(ctx,
		&lambda.UpdateFunctionCodeInput{FunctionName: aws.String(arn), ZipFile: zip3, Publish: true}))
	expectEq(t, "UpdateFunctionCode Publish Version", aws.ToString(up2.Version), "2")
	if err := lambda.NewFunctionUpdatedV2Waiter(lc).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(arn)}, 30*time.Second); err != nil {
		t.Fatalf("FunctionUpdatedV2 waiter: %v", err)
	}

	// An alias with a canary weight, read back by full ARN.
	must[*lambda.CreateAliasOutput](t, "CreateAlias")(lc.CreateAlias(ctx, &lambda.CreateAliasInput{
		FunctionName: aws.String(partial), Name: aws.String("live"), FunctionVersion: aws.String("1"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 0.25}},
	}))
	al := must[*lambda.GetAliasOutput](t, "GetAlias")(lc.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(arn), Name: aws.String("live")}))
	expectEq(t, "alias ARN", aws.ToString(al.AliasArn), arn+":live")
	expectEq(t, "alias version", aws.ToString(al.FunctionVersion), "1")
	if al.RoutingConfig == nil || al.RoutingConfig.AdditionalVersionWeights["2"] != 0.25 {
		t.Errorf("alias RoutingConfig = %+v, want {2: 0.25}", al.RoutingConfig)
	}
	viaAlias := must[*lambda.GetFunctionConfigurationOutput](t, "GetFunctionConfiguration by alias ARN")(lc.GetFunctionConfiguration(ctx,
		&lambda.GetFunctionConfigurationInput{FunctionName: aws.String(arn + ":live")}))
	expectEq(t, "by alias ARN: Version", aws.ToString(viaAlias.Version), "1")
	expectEq(t, "by alias ARN: CodeSha256", aws.ToString(viaAlias.CodeSha256), codeSha256(zip2))
	viaPartial := must[*lambda.GetFunctionOutput](t, "GetFunction by partial ARN with version")(lc.GetFunction(ctx,
		&lambda.GetFunctionInput{FunctionName: aws.String(partial + ":2")}))
	expectEq(t, "by partial ARN :2: CodeSha256", aws.ToString(viaPartial.Configuration.CodeSha256), codeSha256(zip3))
	_, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(arn + ":live"), Qualifier: aws.String("1")})
	expectAPIError(t, "qualifier in the ARN differs from Qualifier", err, "InvalidParameterValueException", 400)
	small := createInput("sdk-small", zip1)
	small.MemorySize = aws.Int32(64)
	_, err = lc.CreateFunction(ctx, small)
	expectAPIError(t, "CreateFunction MemorySize 64", err, "ValidationException", 400)
	_, err = lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(arn), MemorySize: aws.Int32(10241)})
	expectAPIError(t, "UpdateFunctionConfiguration MemorySize 10241", err, "InvalidParameterValueException", 400)
	_, err = lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("arn:aws:lambda:" + region + ":" + accountID + ":function:sdk-missing")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("GetFunction of a missing function: %v, want *types.ResourceNotFoundException", err)
	}

	// 25 more functions, listed 10 at a time.
	names := []string{"sdk-main"}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 25)
	for w := 0; w < 5; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 25; i += 5 {
				name := fmt.Sprintf("sdk-page-%d", i) // sdk-page-1 is a prefix of sdk-page-10
				if _, err := lc.CreateFunction(ctx, createInput(name, zip1)); err != nil {
					errs <- fmt.Errorf("CreateFunction %s: %w", name, err)
					continue
				}
				mu.Lock()
				names = append(names, name)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	sort.Strings(names)

	var listed []string
	pages := 0
	for p := lambda.NewListFunctionsPaginator(lc, &lambda.ListFunctionsInput{MaxItems: aws.Int32(10)}); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListFunctions page %d: %v", pages+1, err)
		}
		pages++
		if len(out.Functions) > 10 {
			t.Errorf("page %d has %d functions, MaxItems was 10", pages, len(out.Functions))
		}
		for _, f := range out.Functions {
			listed = append(listed, aws.ToString(f.FunctionName))
		}
		if pages > 10 {
			t.Fatal("ListFunctions paginator does not end")
		}
	}
	expectEq(t, "ListFunctions pages for 26 functions by 10", pages, 3)
	expectEq(t, "ListFunctions names", strings.Join(sorted(listed), ","), strings.Join(names, ","))

	var all []string
	for p := lambda.NewListFunctionsPaginator(lc, &lambda.ListFunctionsInput{MaxItems: aws.Int32(10), FunctionVersion: types.FunctionVersionAll}); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListFunctions ALL: %v", err)
		}
		for _, f := range out.Functions {
			if aws.ToString(f.FunctionName) == "sdk-main" {
				all = append(all, aws.ToString(f.Version))
			}
		}
		if len(all) > 100 {
			t.Fatal("ListFunctions ALL paginator does not end")
		}
	}
	expectEq(t, "ListFunctions ALL versions of sdk-main", strings.Join(sorted(all), ","), "$LATEST,1,2")

	// Versions and aliases one at a time.
	var pagedVersions []string
	for p := lambda.NewListVersionsByFunctionPaginator(lc, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(arn), MaxItems: aws.Int32(1)}); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListVersionsByFunction: %v", err)
		}
		for _, v := range out.Versions {
			pagedVersions = append(pagedVersions, aws.ToString(v.Version))
		}
		if len(pagedVersions) > 10 {
			t.Fatal("ListVersionsByFunction paginator does not end")
		}
	}
	expectEq(t, "ListVersionsByFunction by 1", strings.Join(pagedVersions, ","), "$LATEST,1,2")
	must[*lambda.CreateAliasOutput](t, "CreateAlias stable")(lc.CreateAlias(ctx, &lambda.CreateAliasInput{
		FunctionName: aws.String(arn), Name: aws.String("stable"), FunctionVersion: aws.String("1")}))
	var pagedAliases []string
	for p := lambda.NewListAliasesPaginator(lc, &lambda.ListAliasesInput{FunctionName: aws.String(partial), MaxItems: aws.Int32(1)}); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListAliases: %v", err)
		}
		for _, a := range out.Aliases {
			pagedAliases = append(pagedAliases, aws.ToString(a.Name))
		}
		if len(pagedAliases) > 10 {
			t.Fatal("ListAliases paginator does not end")
		}
	}
	expectEq(t, "ListAliases by 1", strings.Join(sorted(pagedAliases), ","), "live,stable")

	// Versions an alias uses cannot be deleted; $LATEST is never deleted alone.
	for _, q := range []string{"1", "2"} {
		_, err := lc.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(arn), Qualifier: aws.String(q)})
		expectAPIError(t, "DeleteFunction of version "+q+" used by alias", err, "ResourceConflictException", 409)
	}
	_, err = lc.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(arn), Qualifier: aws.String("$LATEST")})
	expectAPIError(t, "DeleteFunction Qualifier $LATEST", err, "InvalidParameterValueException", 400)
	must[*lambda.DeleteAliasOutput](t, "DeleteAlias")(lc.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String(arn), Name: aws.String("live")}))
	must[*lambda.DeleteFunctionOutput](t, "DeleteFunction version 2")(lc.DeleteFunction(ctx,
		&lambda.DeleteFunctionInput{FunctionName: aws.String(partial + ":2")}))
	vers := must[*lambda.ListVersionsByFunctionOutput](t, "ListVersionsByFunction")(lc.ListVersionsByFunction(ctx,
		&lambda.ListVersionsByFunctionInput{FunctionName: aws.String(arn)}))
	var vs []string
	for _, v := range vers.Versions {
		vs = append(vs, aws.ToString(v.Version))
	}
	expectEq(t, "versions after deleting 2", strings.Join(vs, ","), "$LATEST,1")

	// Reserved concurrency counts against the account.
	before := must[*lambda.GetAccountSettingsOutput](t, "GetAccountSettings")(lc.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{}))
	must[*lambda.PutFunctionConcurrencyOutput](t, "PutFunctionConcurrency")(lc.PutFunctionConcurrency(ctx,
		&lambda.PutFunctionConcurrencyInput{FunctionName: aws.String(partial), ReservedConcurrentExecutions: aws.Int32(10)}))
	after := must[*lambda.GetAccountSettingsOutput](t, "GetAccountSettings")(lc.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{}))
	expectEq(t, "UnreservedConcurrentExecutions after reserving 10",
		aws.ToInt32(after.AccountLimit.UnreservedConcurrentExecutions), aws.ToInt32(before.AccountLimit.UnreservedConcurrentExecutions)-10)
	_, err = lc.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("sdk-page-0"),
		ReservedConcurrentExecutions: aws.Int32(after.AccountLimit.ConcurrentExecutions)})
	expectAPIError(t, "reserving the whole account", err, "InvalidParameterValueException", 400)

	// A function created by partial ARN.
	pc := must[*lambda.CreateFunctionOutput](t, "CreateFunction by partial ARN")(lc.CreateFunction(ctx, createInput(partialARN("sdk-partial"), zip1)))
	expectEq(t, "created by partial ARN: FunctionName", aws.ToString(pc.FunctionName), "sdk-partial")
	if err := lambda.NewFunctionActiveV2Waiter(lc).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("sdk-partial")}, 30*time.Second); err != nil {
		t.Errorf("FunctionActiveV2 waiter: %v", err)
	}

	// Delete by full ARN: gone.
	must[*lambda.DeleteFunctionOutput](t, "DeleteFunction")(lc.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(arn)}))
	_, err = lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("sdk-main")})
	expectAPIError(t, "GetFunction after delete", err, "ResourceNotFoundException", 404)
	_, err = lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("sdk-main"), Qualifier: aws.String("1")})
	expectAPIError(t, "GetFunction of a version after delete", err, "ResourceNotFoundException", 404)
}
