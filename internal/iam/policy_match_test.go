package iam

import "testing"

func TestGlob(t *testing.T) {
	cases := []struct {
		p, s       string
		wild, fold bool
		want       bool
	}{
		{"lambda:InvokeFunction", "lambda:invokefunction", true, true, true},
		{"lambda:Invoke*", "lambda:InvokeFunctionUrl", true, true, true},
		{"lambda:*", "s3:GetObject", true, true, false},
		{"*", "anything:at-all", true, true, true},
		{"s3:Get?bject", "s3:GetObject", true, true, true},
		{"s3:Get?bject", "s3:GetObjectAcl", true, true, false},
		{"iam:*AccessKey*", "iam:CreateAccessKey", true, true, true},
		{"iam:*AccessKey*", "iam:ListAccessKeys", true, true, true},
		{"iam:*AccessKey*", "iam:CreateUser", true, true, false},
		{"a*b*c", "aXXbYYc", true, false, true},
		{"a*b*c", "aXXbYY", true, false, false},
		{"ABC", "abc", true, false, false},
		{"a*", "a*", false, false, true},
		{"a*", "ab", false, false, false},
		{`a\*`, "a*", true, false, true},
		{`a\*`, "ab", true, false, false},
		{`a\\b`, `a\b`, true, false, true},
		{"caf?", "café", true, false, true},
		{"CAFÉ", "café", false, true, true},
		{"", "", true, false, true},
		{"*", "", true, false, true},
		{"?", "", true, false, false},
	}
	for _, c := range cases {
		if got := glob(c.p, c.s, c.wild, c.fold); got != c.want {
			t.Errorf("glob(%q, %q, wild=%v, fold=%v) = %v, want %v", c.p, c.s, c.wild, c.fold, got, c.want)
		}
		if got := glob([]byte(c.p), c.s, c.wild, c.fold); got != c.want {
			t.Errorf("glob([]byte %q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}

func TestMatchARN(t *testing.T) {
	const fn = "arn:aws:lambda:us-east-1:123456789012:function:my-function"
	cases := []struct {
		p, s string
		want bool
	}{
		{"*", fn, true},
		{fn, fn, true},
		{"arn:aws:lambda:*:*:function:*", fn, true},
		{"arn:aws:lambda:*:*:function:*", fn + ":prod", true},
		{"arn:aws:lambda:us-east-1:123456789012:function:my-function", fn + ":1", false},
		{"arn:aws:lambda:us-east-1:123456789012:function:my-function:*", fn + ":1", true},
		{"arn:aws:lambda:us-east-1:123456789012:function:my-*", fn, true},
		{"arn:aws:lambda:us-*-1:123456789012:function:my-function", fn, true},
		// A wildcard inside a segment stays inside it; one ending a
		// segment takes in the following segments.
		{"arn:aws:lambda:*6789012:function:my-function", fn, false},
		{"arn:aws:lambda:us-*:function:my-function", fn, true},
		{"arn:aws:lambda:us-*1:function:my-function", fn, false},
		{"arn:aws:lambda:*:*:function:*-prod", fn + ":x-prod", false},
		{"arn:aws:lambda:*:*:function:*-prod", "arn:aws:lambda:us-east-1:123456789012:function:x-prod", true},
		{"arn:aws:lambda:*:*:function:my-function:?", fn + ":1", true},
		{"arn:aws:lambda:*:*:function:my-function:?", fn + ":10", false},
		{`arn:aws:lambda:*:*:function:my-function\*`, fn, false},
		{`arn:aws:lambda:*:*:function:my-function\*`, fn + "*", true},
		{"arn:aws:s3:::b:", "arn:aws:s3:::b:", true},
		{"arn:aws:s3:::b:x", "arn:aws:s3:::b", false},
		{"arn:aws:lambda:us-east-2:123456789012:function:my-function", fn, false},
		{"arn:aws:lambda:us-east-1:210987654321:function:my-function", fn, false},
		{"arn:aws:lambda:*", fn, true},
		{"arn:aws:s3:::*", fn, false},
		// The resource part matches as a whole, across '/' and ':'.
		{"arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c", true},
		{"arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", false},
		{"arn:aws:s3:::bucket*", "arn:aws:s3:::bucket", true},
		{"arn:aws:iam::123456789012:user/*", "arn:aws:iam::123456789012:user/division/bob", true},
		// ARNs are case-sensitive.
		{"arn:aws:s3:::Bucket", "arn:aws:s3:::bucket", false},
		{"*", "not-an-arn", true},
	}
	for _, c := range cases {
		if got := matchARN(c.p, c.s); got != c.want {
			t.Errorf("matchARN(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}

// TestPolicyVariables follows "IAM policy elements: Variables and tags".
func TestPolicyVariables(t *testing.T) {
	bob := &Request{
		Principal:     Principal{Type: PrincipalUser, ARN: "arn:aws:iam::123456789012:user/bob", Account: "123456789012", UserName: "bob", UserID: "AIDAEXAMPLE"},
		PrincipalTags: map[string]string{"Team": "blue"},
	}
	session := &Request{
		Principal: Principal{Type: PrincipalAssumedRole, ARN: "arn:aws:sts::123456789012:assumed-role/r/s", RoleARN: "arn:aws:iam::123456789012:role/r", Account: "123456789012"},
	}
	cases := []struct {
		name    string
		pattern string
		r       *Request
		s       string
		want    bool
	}{
		{"username", "arn:aws:s3:::b/${aws:username}/*", bob, "arn:aws:s3:::b/bob/x", true},
		{"username other", "arn:aws:s3:::b/${aws:username}/*", bob, "arn:aws:s3:::b/alice/x", false},
		{"key case-insensitive", "arn:aws:s3:::b/${AWS:UserName}/*", bob, "arn:aws:s3:::b/bob/x", true},
		{"principal tag", "arn:aws:s3:::b/${aws:PrincipalTag/team}", bob, "arn:aws:s3:::b/blue", true},
		{"no value matches nothing", "arn:aws:s3:::b/${aws:username}/*", session, "arn:aws:s3:::b//x", false},
		{"default", "arn:aws:s3:::b/${aws:username, 'shared'}/*", session, "arn:aws:s3:::b/shared/x", true},
		{"default unused", "arn:aws:s3:::b/${aws:username, 'shared'}/*", bob, "arn:aws:s3:::b/shared/x", false},
		{"default quote", "arn:aws:s3:::b/${aws:username, 'it''s'}", session, "arn:aws:s3:::b/it's", true},
		{"literal star", "arn:aws:s3:::b/${*}", bob, "arn:aws:s3:::b/*", true},
		{"literal star is no wildcard", "arn:aws:s3:::b/${*}", bob, "arn:aws:s3:::b/x", false},
		{"literal question", "arn:aws:s3:::b/${?}", bob, "arn:aws:s3:::b/?", true},
		{"literal question is no wildcard", "arn:aws:s3:::b/${?}", bob, "arn:aws:s3:::b/x", false},
		{"literal dollar", "arn:aws:s3:::b/${$}{x}", bob, "arn:aws:s3:::b/${x}", true},
		{"userid", "arn:aws:s3:::b/${aws:userid}", bob, "arn:aws:s3:::b/AIDAEXAMPLE", true},
		{"principal arn of a session is the role", "arn:aws:s3:::b/${aws:PrincipalArn}", session, "arn:aws:s3:::b/arn:aws:iam::123456789012:role/r", true},
		{"unterminated is text", "arn:aws:s3:::b/${aws:username", bob, "arn:aws:s3:::b/${aws:username", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := compileValue(c.pattern, true)
			if got := v.matchARN(c.r, make([]byte, 0, 64), c.s); got != c.want {
				t.Fatalf("match(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
			}
		})
	}
	// Version 2008-10-17 has no variables: the text is literal.
	v := compileValue("arn:aws:s3:::b/${aws:username}", false)
	if !v.matchARN(bob, nil, "arn:aws:s3:::b/${aws:username}") || v.matchARN(bob, nil, "arn:aws:s3:::b/bob") {
		t.Fatal("a 2008-10-17 policy substituted a variable")
	}
}
