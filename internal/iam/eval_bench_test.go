package iam

import (
	"testing"
	"time"
)

// BenchmarkEvaluate is a warm Lambda invoke by an IAM user: three identity
// policies (the AWSLambdaBasicExecutionRole-like one, a read-only one with a
// deny, one with a variable and a condition) and a function policy with a
// service grant, as the edge would evaluate it per request.
func BenchmarkEvaluate(b *testing.B) {
	ps := &Policies{
		Identity: []*Policy{
			mustParse(b, "logs", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}`, KindIdentity),
			mustParse(b, "read", `{"Version":"2012-10-17","Statement":[
				{"Sid":"Read","Effect":"Allow","Action":["lambda:Get*","lambda:List*"],"Resource":"*"},
				{"Sid":"NoDelete","Effect":"Deny","Action":["lambda:DeleteFunction","lambda:DeleteAlias"],"Resource":"*"}]}`, KindIdentity),
			mustParse(b, "invoke", `{"Version":"2012-10-17","Statement":[
				{"Sid":"Own","Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:*:123456789012:function:${aws:username}-*"},
				{"Sid":"Team","Effect":"Allow","Action":"lambda:Invoke*","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f*",
				 "Condition":{"StringEquals":{"aws:PrincipalTag/team":"blue"},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}}]}`, KindIdentity),
		},
		Resource: []*Policy{
			mustParse(b, "function", `{"Version":"2012-10-17","Id":"default","Statement":[
				{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f",
				 "Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"},"StringEquals":{"AWS:SourceAccount":"123456789012"}}}]}`, KindResource),
		},
	}
	r := &Request{
		Principal:     user(bobARN, "bob", acct),
		Action:        invoke,
		Resource:      fnARN,
		Now:           time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC),
		Keys:          map[string][]string{"aws:sourceip": {"10.1.2.3"}},
		PrincipalTags: map[string]string{"team": "blue"},
	}
	if d := Evaluate(ps, r); !d.Allowed() || d.Sid() != "Team" {
		b.Fatalf("Evaluate = %+v, want Allow by Team", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(ps, r)
	}
}

// BenchmarkEvaluateSession is a role session with a permissions boundary
// and a session policy, denied by the session policy.
func BenchmarkEvaluateSession(b *testing.B) {
	allow := mustParse(b, "allow", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:*","s3:*"],"Resource":"*"}]}`, KindIdentity)
	ps := &Policies{
		Identity: []*Policy{allow},
		Boundary: allow,
		Session:  []*Policy{mustParse(b, "session", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:PrincipalTag/team}/*"}]}`, KindIdentity)},
	}
	r := &Request{Principal: session(), Action: invoke, Resource: fnARN, PrincipalTags: map[string]string{"team": "blue"}}
	if d := Evaluate(ps, r); d.Outcome != ImplicitDeny || d.Source != SourceSession {
		b.Fatalf("Evaluate = %+v, want an implicit deny by the session policy", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(ps, r)
	}
}
