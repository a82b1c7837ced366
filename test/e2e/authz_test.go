package e2e

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// TestSessionPolicyEnforced: a role session assumed with a session policy
// may do only what that policy allows; the denial is Lambda's
// AccessDeniedException, counted in /metrics. A malformed session policy
// is refused by STS.
func TestSessionPolicyEnforced(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	// A role that may do anything: what its sessions may do is their
	// session policy's.
	awsOK(t, s.env(), "iam", "create-role", "--role-name", "app", "--assume-role-policy-document", trustDoc("AWS", "arn:aws:iam::"+accountID+":root"))
	awsOK(t, s.env(), "iam", "attach-role-policy", "--role-name", "app", "--policy-arn", "arn:aws:iam::aws:policy/AdministratorAccess")
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(rootAccessKeyID, rootSecretAccessKey, "")),
		config.WithSharedConfigFiles([]string{}), config.WithSharedCredentialsFiles([]string{}), config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	sc := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(s.url) })
	role := "arn:aws:iam::" + accountID + ":role/app"
	_, err = sc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("s1"),
		Policy: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"lambda:*","Resource":"*"}}`)})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "MalformedPolicyDocument" || ae.ErrorMessage() != "Policy document should not specify a principal." {
		t.Fatalf("AssumeRole with a malformed session policy: %v", err)
	}
	out, err := sc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("s1"),
		Policy: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"lambda:GetAccountSettings","Resource":"*"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	scfg := cfg.Copy()
	scfg.Credentials = credentials.NewStaticCredentialsProvider(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)
	lc := lambda.NewFromConfig(scfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(s.url) })
	if _, err := lc.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{}); err != nil {
		t.Fatalf("GetAccountSettings, which the session policy allows: %v", err)
	}
	_, err = lc.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	want := "User: arn:aws:sts::" + accountID + ":assumed-role/app/s1 is not authorized to perform: lambda:ListFunctions on resource: * because no session policy allows the lambda:ListFunctions action"
	if code, status := apiError(err); code != "AccessDeniedException" || status != 403 || !errors.As(err, &ae) || ae.ErrorMessage() != want {
		t.Fatalf("ListFunctions outside the session policy: %v\nwant 403 AccessDeniedException %q", err, want)
	}
	samples, body := scrape(t, s)
	if v, n := promSum(samples, "kumo_authz_denied_total", map[string]string{"service": "lambda", "action": "lambda:ListFunctions"}); n != 1 || v != 1 {
		t.Fatalf("kumo_authz_denied_total{service=lambda,action=lambda:ListFunctions} = %v (%d series), want 1\n%s", v, n, body)
	}
}
