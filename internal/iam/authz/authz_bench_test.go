package authz_test

import (
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
)

// BenchmarkAuthorize is one warm check of lambda:InvokeFunction with a
// function policy, by an IAM user with three policies, by a role session
// with a session policy, and by the root user.
func BenchmarkAuthorize(b *testing.B) {
	d := &authz.Static{}
	d.SetUser(bob, authz.Principal{Policies: []*iam.Policy{
		identity(b, `{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}`),
		identity(b, `{"Sid":"Read","Effect":"Allow","Action":["lambda:Get*","lambda:List*"],"Resource":"*"},
			{"Sid":"NoDelete","Effect":"Deny","Action":["lambda:DeleteFunction","lambda:DeleteAlias"],"Resource":"*"}`),
		identity(b, `{"Sid":"Own","Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:*:123456789012:function:${aws:username}-*"},
			{"Sid":"Team","Effect":"Allow","Action":"lambda:Invoke*","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f*",
			 "Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}}`),
	}})
	d.SetRole(authz.Role{ARN: roleARN, MaxSession: time.Hour}, authz.Principal{Policies: []*iam.Policy{
		identity(b, `{"Effect":"Allow","Action":"lambda:*","Resource":"*"}`),
	}})
	session := appSess
	session.SessionPolicy = `[{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"` + fnARN + `"}]}]`
	fnPolicy := resource(b, `{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"`+fnARN+`",
		 "Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"},"StringEquals":{"AWS:SourceAccount":"123456789012"}}}`)
	a := authz.New(authz.Config{Directory: d, Region: "us-east-1"})
	c := authz.Check{Action: "lambda:InvokeFunction", Resource: fnARN, ResourcePolicy: fnPolicy, SourceIP: "10.1.2.3", Denied: awsproto.AccessDeniedException}
	for _, bc := range []struct {
		name string
		id   awsproto.Identity
	}{{"user", bob}, {"role session", session}, {"root", root}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := as(bc.id)
			if err := a.Authorize(ctx, c); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				a.Authorize(ctx, c)
			}
		})
	}
}
