package iam

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary documents to Parse as each kind: it must
// refuse with a MalformedError or return a policy that Evaluate can run
// without panicking.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}`,
		`{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Deny","NotAction":["iam:*"],"NotResource":"arn:aws:s3:::b/${aws:username, 'x'}/*","Condition":{"ForAnyValue:StringLikeIfExists":{"aws:TagKeys":["a*"]},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","::1"]},"Null":{"aws:TokenIssueTime":true}}}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["123456789012","arn:aws:iam::123456789012:role/r"],"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::b"},"DateLessThan":{"aws:CurrentTime":"2026-01-01"},"NumericEquals":{"x:n":1.5}}}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}`,
		`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::${*}${?}${$}"}]}`,
		`{"Version":"2012-10-17","Statement":[]}`,
		`[`,
	} {
		f.Add(s)
	}
	reqs := []*Request{
		{Principal: Principal{Type: PrincipalUser, ARN: "arn:aws:iam::123456789012:user/bob", Account: "123456789012", UserName: "bob"},
			Action: "s3:GetObject", Resource: "arn:aws:s3:::b/bob/x", Now: time.Unix(1700000000, 0),
			Keys: map[string][]string{"aws:sourceip": {"10.1.2.3"}, "aws:tagkeys": {"a1", "b"}}},
		{Principal: Principal{Type: PrincipalService, Service: "s3.amazonaws.com"}, Action: "lambda:InvokeFunction",
			Resource: "arn:aws:lambda:us-east-1:123456789012:function:f", Keys: map[string][]string{"aws:sourcearn": {"arn:aws:s3:::b"}}},
		{Principal: Principal{Type: PrincipalAssumedRole, ARN: "arn:aws:sts::123456789012:assumed-role/r/s", RoleARN: "arn:aws:iam::123456789012:role/r", Account: "123456789012"},
			Action: "sts:AssumeRole", Resource: "arn:aws:iam::123456789012:role/r"},
	}
	f.Fuzz(func(t *testing.T, doc string) {
		for _, kind := range []Kind{KindIdentity, KindResource, KindTrust} {
			p, err := Parse(doc, kind)
			if err != nil {
				var me *MalformedError
				if !errors.As(err, &me) || me.Message == "" {
					t.Fatalf("Parse error %v is not a MalformedError with a message", err)
				}
				continue
			}
			if len(p.Statements) == 0 {
				t.Fatal("Parse accepted a policy without statements")
			}
			for _, r := range reqs {
				var ps Policies
				if kind == KindIdentity {
					ps = Policies{Identity: []*Policy{p}, Boundary: p, Session: []*Policy{p}}
				} else {
					ps = Policies{Resource: []*Policy{p}}
				}
				d := Evaluate(&ps, r)
				if d.Outcome != Allowed && d.Reason(r.Action) == "" {
					t.Fatalf("denial %v without a reason", d)
				}
			}
		}
		if n := Size(doc); n > len(doc) {
			t.Fatalf("Size %d > length %d", n, len(doc))
		}
	})
}

// FuzzMatchARN checks the ARN matcher on arbitrary patterns and ARNs: no
// panic, "*" matches everything, and a pattern without wildcards matches
// exactly itself.
func FuzzMatchARN(f *testing.F) {
	f.Add("arn:aws:lambda:*:*:function:*", "arn:aws:lambda:us-east-1:123456789012:function:f:1")
	f.Add("arn:aws:s3:::b/*", "arn:aws:s3:::b/a:b:c")
	f.Add("*:*", "::::")
	f.Fuzz(func(t *testing.T, p, s string) {
		matchARN(p, s)
		if !matchARN("*", s) {
			t.Fatalf("* does not match %q", s)
		}
		lit := string(appendLiteral(nil, s))
		if !matchARN(lit, s) {
			t.Fatalf("literal %q does not match itself", s)
		}
		if s != p && !strings.ContainsAny(p, `*?\`) && matchARN(p, s) {
			t.Fatalf("plain %q matches %q", p, s)
		}
	})
}
