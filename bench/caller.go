package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Callers -caller accepts: the key the server was given (the account root
// for a server started here), or a role session assumed with it.
const (
	callerKey  = "key"
	callerRole = "role"
)

// benchRole is the role a -caller role run assumes, and sessionPolicy
// what its session may do: invoke, and read logs for the async
// measurement. Every invoke is then authorized through the role's
// identity policies and the session policy, as a function's or an
// application's role session is.
const (
	benchRole     = "kumo-bench-caller"
	sessionPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:InvokeFunction","logs:*"],"Resource":"*"}]}`
)

// roleInvoker returns an invoker signing with the credentials of a session
// of benchRole, assumed with t's key.
func roleInvoker(ctx context.Context, t *target, iv *invoker) (*invoker, string, error) {
	cl := sts.NewFromConfig(aws.Config{
		Region:      t.Region,
		Credentials: credentials.NewStaticCredentialsProvider(t.Key, t.Secret, ""),
		HTTPClient:  iv.hc,
	}, func(o *sts.Options) { o.BaseEndpoint = aws.String(t.URL) })
	id, err := cl.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, "", fmt.Errorf("GetCallerIdentity: %w", err)
	}
	out, err := cl.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String("arn:aws:iam::" + aws.ToString(id.Account) + ":role/" + benchRole),
		RoleSessionName: aws.String("bench"),
		Policy:          aws.String(sessionPolicy),
		DurationSeconds: aws.Int32(12 * 3600),
	})
	if err != nil {
		return nil, "", fmt.Errorf("AssumeRole: %w", err)
	}
	c := out.Credentials
	role := *iv
	role.creds = aws.Credentials{AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken: aws.ToString(c.SessionToken), Source: "kumo-bench"}
	return &role, aws.ToString(out.AssumedRoleUser.Arn), nil
}
