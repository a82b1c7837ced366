package lambda_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/registry"
	lambdaapi "github.com/kumo-run/kumo/internal/services/lambda"
	"github.com/kumo-run/kumo/internal/store"
)

const (
	account    = "123456789012"
	other      = "210987654321"
	rootKey    = "AKIAKUMOLAMBDATEST01"
	rootSecret = "kumo-lambda-test-secret-00000000000000000"
	bobKey     = "AKIAKUMOLAMBDABOB001"
	bobSecret  = "kumo-lambda-test-bob-secret-0000000000000"
	carolKey   = "AKIAKUMOLAMBDACAROL1"
	carolSec   = "kumo-lambda-test-carol-secret-00000000000"
	bobARN     = "arn:aws:iam::123456789012:user/bob"
	carolARN   = "arn:aws:iam::210987654321:user/carol"
)

var arns = registry.ARNs{Partition: "aws", Region: "us-east-1", Account: account}

// invoker records the invocations that got past authorization.
type invoker struct{ n atomic.Int32 }

func (i *invoker) Invoke(_ context.Context, in *invoke.Input) (*invoke.Output, error) {
	i.n.Add(1)
	return &invoke.Output{Status: 200, Payload: []byte(`"ok"`), ExecutedVersion: "$LATEST"}, nil
}

type harness struct {
	srv      *httptest.Server
	reg      *registry.Registry
	az       *authz.Authorizer
	invoker  *invoker
	policies *authz.FunctionPolicies
}

func identity(t *testing.T, doc string) *iam.Policy {
	t.Helper()
	p, err := iam.Parse(doc, iam.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newHarness serves the Lambda API with an Authorizer through an edge
// that verifies SigV4, with the root key and two IAM users: bob, who may
// invoke f and read functions, and carol of another account, who may
// invoke anything her account's policies allow.
func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	s := store.NewMemory()
	t.Cleanup(func() { s.Close() })
	kv, err := s.KV(ctx, "registry")
	if err != nil {
		t.Fatal(err)
	}
	code, err := s.Blobs(ctx, "code")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(ctx, registry.Config{ARNs: arns, KV: kv, Code: code})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	dir := &authz.Static{}
	dir.SetUser(awsproto.Identity{Account: account, ARN: bobARN, UserID: "AIDABOB"}, authz.Principal{Policies: []*iam.Policy{
		identity(t, `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f"},
			{"Effect":"Allow","Action":["lambda:GetFunction","lambda:AddPermission"],"Resource":"*"},
			{"Effect":"Allow","Action":"lambda:GetFunctionConfiguration","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"blue"}}}]}`),
	}})
	dir.SetAccessKey(bobKey, bobSecret, bobARN)
	dir.SetUser(awsproto.Identity{Account: other, ARN: carolARN, UserID: "AIDACAROL"}, authz.Principal{Policies: []*iam.Policy{
		identity(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"*"}]}`),
	}})
	dir.SetAccessKey(carolKey, carolSec, carolARN)
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{reg: reg, az: authz.New(authz.Config{Directory: dir, Region: "us-east-1"}), invoker: &invoker{},
		policies: &authz.FunctionPolicies{Statements: reg.Policy}}
	api := lambdaapi.New(lambdaapi.Config{Registry: reg, ARNs: arns, Invoker: h.invoker, Authorizer: h.az})
	keys := &token.Store{Issuer: is, RootKeyID: rootKey, RootSecret: rootSecret, Root: token.Root("aws", account), Keys: dir}
	h.srv = httptest.NewServer(edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: keys},
		Routes:   []edge.Route{{Name: "lambda", Match: []edge.Matcher{{Service: "lambda"}}, Scope: "lambda", Handler: api}},
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) client(akid, secret string) *lambda.Client {
	return lambda.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(akid, secret, ""),
		HTTPClient:       h.srv.Client(),
		RetryMaxAttempts: 1,
	}, func(o *lambda.Options) { o.BaseEndpoint = aws.String(h.srv.URL) })
}

func zipFile(t *testing.T) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	f, err := w.Create("index.py")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("def handler(e, c):\n    return e\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (h *harness) create(t *testing.T, name string) {
	t.Helper()
	_, err := h.client(rootKey, rootSecret).CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimePython312, Handler: aws.String("index.handler"),
		Role: aws.String("arn:aws:iam::123456789012:role/lambda"), Code: &types.FunctionCode{ZipFile: zipFile(t)},
	})
	if err != nil {
		t.Fatalf("CreateFunction(%s) as root: %v", name, err)
	}
}

// wantDenied checks that err is Lambda's AccessDeniedException: status
// 403, the x-amzn-ErrorType header, and message msg.
func wantDenied(t *testing.T, err error, msg string) {
	t.Helper()
	var ae smithy.APIError
	var re *smithyhttp.ResponseError
	if !errors.As(err, &ae) || !errors.As(err, &re) {
		t.Fatalf("err = %v, want AccessDeniedException", err)
	}
	if ae.ErrorCode() != "AccessDeniedException" || ae.ErrorMessage() != msg {
		t.Errorf("denial = %s %q,\nwant AccessDeniedException %q", ae.ErrorCode(), ae.ErrorMessage(), msg)
	}
	if re.HTTPStatusCode() != http.StatusForbidden || re.Response.Header.Get("X-Amzn-Errortype") != "AccessDeniedException" {
		t.Errorf("denial status %d, x-amzn-ErrorType %q; want 403 AccessDeniedException", re.HTTPStatusCode(), re.Response.Header.Get("X-Amzn-Errortype"))
	}
}

func TestDenialWireFormat(t *testing.T) {
	h := newHarness(t)
	_, err := h.client(bobKey, bobSecret).ListFunctions(t.Context(), &lambda.ListFunctionsInput{})
	wantDenied(t, err, "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: lambda:ListFunctions on resource: * because no identity-based policy allows the lambda:ListFunctions action")
	_, err = h.client(bobKey, bobSecret).CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String("mine"), Runtime: types.RuntimePython312, Handler: aws.String("index.handler"),
		Role: aws.String("arn:aws:iam::123456789012:role/lambda"), Code: &types.FunctionCode{ZipFile: zipFile(t)},
	})
	wantDenied(t, err, "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: lambda:CreateFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:mine because no identity-based policy allows the lambda:CreateFunction action")
	if _, err := h.client(rootKey, rootSecret).ListFunctions(t.Context(), &lambda.ListFunctionsInput{}); err != nil {
		t.Errorf("root ListFunctions: %v", err)
	}
}

func TestInvokeChecksIdentityAndFunctionPolicies(t *testing.T) {
	h := newHarness(t)
	h.create(t, "f")
	h.create(t, "g")
	ctx := t.Context()
	bob, carol := h.client(bobKey, bobSecret), h.client(carolKey, carolSec)

	if _, err := bob.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f")}); err != nil {
		t.Fatalf("bob invokes f: %v", err)
	}
	_, err := bob.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("g")})
	wantDenied(t, err, "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:g because no identity-based policy allows the lambda:InvokeFunction action")
	_, err = bob.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f"), Qualifier: aws.String("$LATEST")})
	wantDenied(t, err, "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST because no identity-based policy allows the lambda:InvokeFunction action")

	// Another account's user needs the function's policy too.
	_, err = carol.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("g")})
	wantDenied(t, err, "User: arn:aws:iam::210987654321:user/carol is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:g because no resource-based policy allows the lambda:InvokeFunction action")
	root := h.client(rootKey, rootSecret)
	if _, err := root.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("g"), StatementId: aws.String("carol"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String(other)}); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("g")}); err != nil {
		t.Fatalf("carol invokes g after AddPermission: %v", err)
	}
	// Removing the statement takes effect on the next request.
	if _, err := root.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("g"), StatementId: aws.String("carol")}); err != nil {
		t.Fatal(err)
	}
	_, err = carol.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("g")})
	wantDenied(t, err, "User: arn:aws:iam::210987654321:user/carol is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:g because no resource-based policy allows the lambda:InvokeFunction action")
	if n := h.invoker.n.Load(); n != 2 {
		t.Errorf("%d invocations ran, want 2", n)
	}
}

func TestInvokeGuardServicePrincipal(t *testing.T) {
	h := newHarness(t)
	h.create(t, "f")
	ctx := t.Context()
	if _, err := h.client(rootKey, rootSecret).AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("f"), StatementId: aws.String("s3"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com"),
		SourceArn: aws.String("arn:aws:s3:::uploads"), SourceAccount: aws.String(account)}); err != nil {
		t.Fatal(err)
	}
	g := &lambdaapi.InvokeGuard{Invoker: h.invoker, Authorizer: h.az, Policies: h.policies, ARNs: arns}
	in := &invoke.Input{Ref: registry.Ref{Name: "f"}, InvocationType: "Event"}
	if _, err := g.Invoke(authz.WithService(ctx, "s3.amazonaws.com", "arn:aws:s3:::uploads", account), in); err != nil {
		t.Fatalf("s3 from its bucket: %v", err)
	}
	for _, sctx := range []context.Context{
		authz.WithService(ctx, "s3.amazonaws.com", "arn:aws:s3:::elsewhere", account),
		authz.WithService(ctx, "sns.amazonaws.com", "arn:aws:s3:::uploads", account),
	} {
		_, err := g.Invoke(sctx, in)
		if e := awsproto.AsError(err); err == nil || e.Code != awsproto.AccessDeniedException {
			t.Errorf("guarded invoke = %v, want AccessDeniedException", err)
		}
	}
	if n := h.invoker.n.Load(); n != 1 {
		t.Errorf("%d invocations ran, want 1", n)
	}
}

// TestResourceTags: a policy's aws:ResourceTag conditions see the
// function's tags as they are now.
func TestResourceTags(t *testing.T) {
	h := newHarness(t)
	h.create(t, "f")
	ctx := t.Context()
	bob := h.client(bobKey, bobSecret)
	_, err := bob.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("f")})
	wantDenied(t, err, "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: lambda:GetFunctionConfiguration on resource: arn:aws:lambda:us-east-1:123456789012:function:f because no identity-based policy allows the lambda:GetFunctionConfiguration action")
	if _, err := h.client(rootKey, rootSecret).TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(arns.Function("f")), Tags: map[string]string{"team": "blue"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("f")}); err != nil {
		t.Errorf("GetFunctionConfiguration of a function tagged team=blue: %v", err)
	}
}
