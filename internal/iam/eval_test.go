package iam

import (
	"testing"
	"time"
)

const (
	acct     = "123456789012"
	other    = "210987654321"
	bobARN   = "arn:aws:iam::123456789012:user/bob"
	aliceARN = "arn:aws:iam::123456789012:user/alice"
	roleARN  = "arn:aws:iam::123456789012:role/app"
	sessARN  = "arn:aws:sts::123456789012:assumed-role/app/s1"
	fnARN    = "arn:aws:lambda:us-east-1:123456789012:function:f"
	invoke   = "lambda:InvokeFunction"
)

func mustParse(t testing.TB, name, doc string, kind Kind) *Policy {
	t.Helper()
	p, err := Parse(doc, kind)
	if err != nil {
		t.Fatalf("Parse %s: %v", name, err)
	}
	p.Name = name
	return p
}

func user(arn, name, account string) Principal {
	return Principal{Type: PrincipalUser, ARN: arn, Account: account, UserName: name}
}

func session() Principal {
	return Principal{Type: PrincipalAssumedRole, ARN: sessARN, RoleARN: roleARN, Account: acct}
}

// TestEvaluate covers the rules of "Policy evaluation logic", "How AWS
// enforcement code logic evaluates requests to allow or deny access",
// "Policy evaluation for requests within a single account", "Cross-account
// policy evaluation logic" and the examples on those pages.
func TestEvaluate(t *testing.T) {
	type pol struct{ name, doc string }
	id := func(name, body string) pol { return pol{name, `{"Version":"2012-10-17","Statement":` + body + `}`} }
	allowInvoke := id("allow-invoke", `[{"Sid":"Invoke","Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"`+fnARN+`"}]`)
	allowLambda := id("allow-lambda", `[{"Sid":"All","Effect":"Allow","Action":"lambda:*","Resource":"*"}]`)
	denyInvoke := id("deny-invoke", `[{"Sid":"NoInvoke","Effect":"Deny","Action":"lambda:InvokeFunction","Resource":"*"}]`)
	resPolicy := func(principal string, cond string) pol {
		s := `[{"Sid":"rp","Effect":"Allow","Principal":` + principal + `,"Action":"lambda:InvokeFunction","Resource":"` + fnARN + `"`
		if cond != "" {
			s += `,"Condition":` + cond
		}
		return id("function-policy", s+`}]`)
	}

	cases := []struct {
		name     string
		identity []pol
		resource []pol
		boundary *pol
		session  []pol
		trust    bool
		r        Request
		want     Outcome
		source   Source
		sid      string
	}{
		// Deny by default.
		{name: "no policy is an implicit deny", r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN},
			want: ImplicitDeny, source: SourceIdentity},
		{name: "identity allow", identity: []pol{allowInvoke}, r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN},
			want: Allowed, source: SourceIdentity, sid: "Invoke"},
		{name: "identity allow of another resource", identity: []pol{allowInvoke}, r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN + "2"},
			want: ImplicitDeny, source: SourceIdentity},
		{name: "identity allow of another action", identity: []pol{allowInvoke}, r: Request{Principal: user(bobARN, "bob", acct), Action: "lambda:DeleteFunction", Resource: fnARN},
			want: ImplicitDeny, source: SourceIdentity},
		{name: "actions match without case", identity: []pol{allowInvoke}, r: Request{Principal: user(bobARN, "bob", acct), Action: "LAMBDA:invokefunction", Resource: fnARN},
			want: Allowed, source: SourceIdentity},

		// An explicit deny in any policy overrides any allow.
		{name: "explicit deny beats allow in identity policies", identity: []pol{allowLambda, denyInvoke}, r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN},
			want: ExplicitDeny, source: SourceIdentity, sid: "NoInvoke"},
		{name: "explicit deny in the same policy", identity: []pol{id("mixed", `[{"Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"D","Effect":"Deny","Action":"lambda:Invoke*","Resource":"*"}]`)}, r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN},
			want: ExplicitDeny, source: SourceIdentity, sid: "D"},
		{name: "explicit deny in a resource policy beats identity allow", identity: []pol{allowLambda},
			resource: []pol{id("function-policy", `[{"Sid":"rd","Effect":"Deny","Principal":{"AWS":"`+bobARN+`"},"Action":"lambda:*","Resource":"`+fnARN+`"}]`)},
			r:        Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN}, want: ExplicitDeny, source: SourceResource, sid: "rd"},
		{name: "explicit deny in a boundary", identity: []pol{allowLambda}, boundary: &denyInvoke, r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN},
			want: ExplicitDeny, source: SourceBoundary},
		{name: "explicit deny in a session policy", identity: []pol{allowLambda}, session: []pol{denyInvoke}, r: Request{Principal: session(), Action: invoke, Resource: fnARN},
			want: ExplicitDeny, source: SourceSession},
		{name: "a deny whose condition fails does not apply", identity: []pol{allowLambda, id("deny-outside", `[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}]`)},
			r:    Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN, Keys: map[string][]string{"aws:sourceip": {"192.0.2.10"}}},
			want: Allowed, source: SourceIdentity},
		{name: "a deny whose condition holds applies", identity: []pol{allowLambda, id("deny-outside", `[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}]`)},
			r:    Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN, Keys: map[string][]string{"aws:sourceip": {"198.51.100.1"}}},
			want: ExplicitDeny, source: SourceIdentity},

		// NotAction, NotResource, NotPrincipal.
		{name: "NotAction allows everything else", identity: []pol{id("not-iam", `[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]`)}, r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN},
			want: Allowed, source: SourceIdentity},
		{name: "NotAction excludes its actions", identity: []pol{id("not-iam", `[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]`)}, r: Request{Principal: user(bobARN, "bob", acct), Action: "iam:CreateUser", Resource: "*"},
			want: ImplicitDeny, source: SourceIdentity},
		{name: "NotResource deny", identity: []pol{allowLambda, id("only-f", `[{"Effect":"Deny","Action":"lambda:*","NotResource":"`+fnARN+`"}]`)}, r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN + "2"},
			want: ExplicitDeny, source: SourceIdentity},
		{name: "NotResource deny spares its resource", identity: []pol{allowLambda, id("only-f", `[{"Effect":"Deny","Action":"lambda:*","NotResource":"`+fnARN+`"}]`)}, r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN},
			want: Allowed, source: SourceIdentity},
		{name: "NotPrincipal deny hits others", identity: []pol{allowLambda},
			resource: []pol{id("function-policy", `[{"Effect":"Deny","NotPrincipal":{"AWS":"`+bobARN+`"},"Action":"lambda:*","Resource":"*"}]`)},
			r:        Request{Principal: user(aliceARN, "alice", acct), Action: invoke, Resource: fnARN}, want: ExplicitDeny, source: SourceResource},
		{name: "NotPrincipal deny spares the named with their account", identity: []pol{allowLambda},
			resource: []pol{id("function-policy", `[{"Effect":"Deny","NotPrincipal":{"AWS":["`+bobARN+`","`+acct+`"]},"Action":"lambda:*","Resource":"*"}]`)},
			r:        Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN}, want: Allowed, source: SourceIdentity},
		{name: "NotPrincipal deny without the account denies the named too", identity: []pol{allowLambda},
			resource: []pol{id("function-policy", `[{"Effect":"Deny","NotPrincipal":{"AWS":"`+bobARN+`"},"Action":"lambda:*","Resource":"*"}]`)},
			r:        Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN}, want: ExplicitDeny, source: SourceResource},
		{name: "NotPrincipal spares a session only with role and account", identity: []pol{allowLambda},
			resource: []pol{id("function-policy", `[{"Effect":"Deny","NotPrincipal":{"AWS":["`+sessARN+`","`+roleARN+`","arn:aws:iam::`+acct+`:root"]},"Action":"lambda:*","Resource":"*"}]`)},
			r:        Request{Principal: session(), Action: invoke, Resource: fnARN}, want: Allowed, source: SourceIdentity},
		{name: "NotPrincipal naming only the role denies its sessions", identity: []pol{allowLambda},
			resource: []pol{id("function-policy", `[{"Effect":"Deny","NotPrincipal":{"AWS":["`+roleARN+`","`+acct+`"]},"Action":"lambda:*","Resource":"*"}]`)},
			r:        Request{Principal: session(), Action: invoke, Resource: fnARN}, want: ExplicitDeny, source: SourceResource},
		{name: "NotPrincipal allow grants everyone else", resource: []pol{id("function-policy", `[{"Effect":"Allow","NotPrincipal":{"AWS":"`+aliceARN+`"},"Action":"lambda:*","Resource":"*"}]`)},
			r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN}, want: Allowed, source: SourceResource},

		// Same account: an allow in either an identity or a resource policy.
		{name: "resource policy naming the user allows alone", resource: []pol{resPolicy(`{"AWS":"`+bobARN+`"}`, "")},
			r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN}, want: Allowed, source: SourceResource, sid: "rp"},
		{name: "resource policy naming another user", resource: []pol{resPolicy(`{"AWS":"`+aliceARN+`"}`, "")},
			r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN}, want: ImplicitDeny, source: SourceIdentity},
		{name: "resource policy naming the account delegates to identity policies", resource: []pol{resPolicy(`{"AWS":"`+acct+`"}`, "")},
			r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN}, want: ImplicitDeny, source: SourceIdentity},
		{name: "account grant plus identity allow", identity: []pol{allowInvoke}, resource: []pol{resPolicy(`{"AWS":"arn:aws:iam::`+acct+`:root"}`, "")},
			r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN}, want: Allowed, source: SourceIdentity},
		{name: "resource policy to everyone", resource: []pol{resPolicy(`"*"`, "")},
			r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN}, want: Allowed, source: SourceResource},
		{name: "user grant is not limited by a boundary", resource: []pol{resPolicy(`{"AWS":"`+bobARN+`"}`, "")}, boundary: &allowInvoke,
			r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN}, want: Allowed, source: SourceResource},

		// Permissions boundaries intersect identity allows.
		{name: "boundary without allow", identity: []pol{allowLambda}, boundary: &pol{"boundary", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`},
			r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN}, want: ImplicitDeny, source: SourceBoundary},
		{name: "boundary and identity allow", identity: []pol{allowLambda}, boundary: &allowInvoke,
			r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN}, want: Allowed, source: SourceIdentity},
		{name: "boundary alone grants nothing", boundary: &allowInvoke,
			r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN}, want: ImplicitDeny, source: SourceIdentity},

		// Role sessions and session policies.
		{name: "role policy allows the session", identity: []pol{allowInvoke}, r: Request{Principal: session(), Action: invoke, Resource: fnARN},
			want: Allowed, source: SourceIdentity},
		{name: "session policy without allow", identity: []pol{allowLambda}, session: []pol{id("session", `[{"Effect":"Allow","Action":"lambda:GetFunction","Resource":"*"}]`)},
			r: Request{Principal: session(), Action: invoke, Resource: fnARN}, want: ImplicitDeny, source: SourceSession},
		{name: "session policy and role allow", identity: []pol{allowLambda}, session: []pol{allowInvoke},
			r: Request{Principal: session(), Action: invoke, Resource: fnARN}, want: Allowed, source: SourceIdentity},
		{name: "session policy alone grants nothing", session: []pol{allowInvoke},
			r: Request{Principal: session(), Action: invoke, Resource: fnARN}, want: ImplicitDeny, source: SourceIdentity},
		{name: "grant to the role ARN stands in for the identity allow", resource: []pol{resPolicy(`{"AWS":"`+roleARN+`"}`, "")},
			r: Request{Principal: session(), Action: invoke, Resource: fnARN}, want: Allowed, source: SourceResource},
		{name: "grant to the role ARN is limited by a session policy", resource: []pol{resPolicy(`{"AWS":"`+roleARN+`"}`, "")}, session: []pol{id("session", `[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]`)},
			r: Request{Principal: session(), Action: invoke, Resource: fnARN}, want: ImplicitDeny, source: SourceSession},
		{name: "grant to the role ARN is limited by a boundary", resource: []pol{resPolicy(`{"AWS":"`+roleARN+`"}`, "")}, boundary: &pol{"boundary", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`},
			r: Request{Principal: session(), Action: invoke, Resource: fnARN}, want: ImplicitDeny, source: SourceBoundary},
		{name: "grant to the session ARN is not limited by a session policy", resource: []pol{resPolicy(`{"AWS":"`+sessARN+`"}`, "")}, session: []pol{id("session", `[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]`)},
			r: Request{Principal: session(), Action: invoke, Resource: fnARN}, want: Allowed, source: SourceResource},

		// Cross-account: both sides must allow.
		{name: "cross-account needs the resource policy", identity: []pol{allowLambda},
			r: Request{Principal: user("arn:aws:iam::210987654321:user/eve", "eve", other), Action: invoke, Resource: fnARN, ResourceAccount: acct}, want: ImplicitDeny, source: SourceResource},
		{name: "cross-account needs the identity policy", resource: []pol{resPolicy(`{"AWS":"`+other+`"}`, "")},
			r: Request{Principal: user("arn:aws:iam::210987654321:user/eve", "eve", other), Action: invoke, Resource: fnARN, ResourceAccount: acct}, want: ImplicitDeny, source: SourceIdentity},
		{name: "cross-account with both", identity: []pol{allowLambda}, resource: []pol{resPolicy(`{"AWS":"`+other+`"}`, "")},
			r: Request{Principal: user("arn:aws:iam::210987654321:user/eve", "eve", other), Action: invoke, Resource: fnARN, ResourceAccount: acct}, want: Allowed, source: SourceIdentity},
		{name: "cross-account user grant still needs identity", resource: []pol{resPolicy(`{"AWS":"arn:aws:iam::210987654321:user/eve"}`, "")},
			r: Request{Principal: user("arn:aws:iam::210987654321:user/eve", "eve", other), Action: invoke, Resource: fnARN, ResourceAccount: acct}, want: ImplicitDeny, source: SourceIdentity},

		// Service principals and anonymous callers have only resource policies.
		{name: "service principal with matching source", resource: []pol{resPolicy(`{"Service":"s3.amazonaws.com"}`, `{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"},"StringEquals":{"AWS:SourceAccount":"`+acct+`"}}`)},
			r: Request{Principal: Principal{Type: PrincipalService, Service: "s3.amazonaws.com"}, Action: invoke, Resource: fnARN,
				Keys: map[string][]string{"aws:sourcearn": {"arn:aws:s3:::bucket"}, "aws:sourceaccount": {acct}}}, want: Allowed, source: SourceResource},
		{name: "service principal with another source", resource: []pol{resPolicy(`{"Service":"s3.amazonaws.com"}`, `{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"}}`)},
			r: Request{Principal: Principal{Type: PrincipalService, Service: "s3.amazonaws.com"}, Action: invoke, Resource: fnARN,
				Keys: map[string][]string{"aws:sourcearn": {"arn:aws:s3:::other"}}}, want: ImplicitDeny, source: SourceResource},
		{name: "service principal not named", resource: []pol{resPolicy(`{"Service":"s3.amazonaws.com"}`, "")},
			r: Request{Principal: Principal{Type: PrincipalService, Service: "sns.amazonaws.com"}, Action: invoke, Resource: fnARN}, want: ImplicitDeny, source: SourceResource},
		{name: "service principal ignores identity policies", identity: []pol{allowLambda},
			r: Request{Principal: Principal{Type: PrincipalService, Service: "sns.amazonaws.com"}, Action: invoke, Resource: fnARN}, want: ImplicitDeny, source: SourceResource},
		{name: "anonymous with public policy", resource: []pol{resPolicy(`{"AWS":"*"}`, `{"StringEquals":{"lambda:FunctionUrlAuthType":"NONE"}}`)},
			r: Request{Action: invoke, Resource: fnARN, Keys: map[string][]string{"lambda:functionurlauthtype": {"NONE"}}}, want: Allowed, source: SourceResource},
		{name: "anonymous without", resource: []pol{resPolicy(`{"AWS":"`+acct+`"}`, "")},
			r: Request{Action: invoke, Resource: fnARN}, want: ImplicitDeny, source: SourceResource},

		// The root user has full access, except for explicit denies.
		{name: "root", r: Request{Principal: Principal{Type: PrincipalRoot, ARN: "arn:aws:iam::123456789012:root", Account: acct}, Action: invoke, Resource: fnARN},
			want: Allowed, source: SourceNone},
		{name: "root and a resource deny", resource: []pol{id("function-policy", `[{"Effect":"Deny","Principal":"*","Action":"lambda:*","Resource":"*"}]`)},
			r: Request{Principal: Principal{Type: PrincipalRoot, ARN: "arn:aws:iam::123456789012:root", Account: acct}, Action: invoke, Resource: fnARN}, want: ExplicitDeny, source: SourceResource},

		// Trust policies decide sts:AssumeRole as the role's resource policy.
		{name: "trust policy naming the account needs identity allow", trust: true, resource: []pol{{"trust", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}`}},
			r: Request{Principal: user(bobARN, "bob", acct), Action: "sts:AssumeRole", Resource: roleARN}, want: ImplicitDeny, source: SourceIdentity},
		{name: "trust policy naming the account with identity allow", trust: true, identity: []pol{id("assume", `[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"`+roleARN+`"}]`)},
			resource: []pol{{"trust", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}`}},
			r:        Request{Principal: user(bobARN, "bob", acct), Action: "sts:AssumeRole", Resource: roleARN}, want: Allowed, source: SourceIdentity},
		{name: "trust policy naming the user", trust: true, resource: []pol{{"trust", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + bobARN + `"},"Action":"sts:AssumeRole"}]}`}},
			r: Request{Principal: user(bobARN, "bob", acct), Action: "sts:AssumeRole", Resource: roleARN}, want: Allowed, source: SourceResource},
		{name: "trust policy for lambda", trust: true, resource: []pol{{"trust", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`}},
			r: Request{Principal: Principal{Type: PrincipalService, Service: "lambda.amazonaws.com"}, Action: "sts:AssumeRole", Resource: roleARN}, want: Allowed, source: SourceResource},

		// The example of "Policy evaluation for requests within a single
		// account": carlossalazar's identity policy denies every bucket
		// named *log*, so the logs bucket's policy naming him cannot allow.
		{name: "doc example: identity deny beats a bucket policy allow",
			identity: []pol{{"carlos", `{"Version":"2012-10-17","Statement":[
				{"Sid":"AllowS3ListRead","Effect":"Allow","Action":["s3:GetBucketLocation","s3:GetObjectVersion","s3:ListAllMyBuckets"],"Resource":"*"},
				{"Sid":"AllowS3Self","Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::carlossalazar/*","arn:aws:s3:::carlossalazar"]},
				{"Sid":"DeniedS3Logs","Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::*log*"}]}`}},
			resource: []pol{{"bucket", `{"Version":"2012-10-17","Statement":[{"Sid":"AllowCarlos","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/carlossalazar"},"Action":"s3:*","Resource":"arn:aws:s3:::carlossalazar-logs/*"}]}`}},
			r:        Request{Principal: user("arn:aws:iam::123456789012:user/carlossalazar", "carlossalazar", acct), Action: "s3:PutObject", Resource: "arn:aws:s3:::carlossalazar-logs/a.log"},
			want:     ExplicitDeny, source: SourceIdentity, sid: "DeniedS3Logs"},
		{name: "doc example: his own bucket",
			identity: []pol{{"carlos", `{"Version":"2012-10-17","Statement":[
				{"Sid":"AllowS3Self","Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::carlossalazar/*","arn:aws:s3:::carlossalazar"]},
				{"Sid":"DeniedS3Logs","Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::*log*"}]}`}},
			r:    Request{Principal: user("arn:aws:iam::123456789012:user/carlossalazar", "carlossalazar", acct), Action: "s3:PutObject", Resource: "arn:aws:s3:::carlossalazar/notes.txt"},
			want: Allowed, source: SourceIdentity, sid: "AllowS3Self"},

		// A full-access shape: iam:PassRole only toward Lambda.
		{name: "PassRole to lambda", identity: []pol{id("full", `[{"Effect":"Allow","Action":["lambda:*","logs:DescribeLogGroups"],"Resource":"*"},{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"lambda.amazonaws.com"}}}]`)},
			r: Request{Principal: user(bobARN, "bob", acct), Action: "iam:PassRole", Resource: roleARN, Keys: map[string][]string{"iam:passedtoservice": {"lambda.amazonaws.com"}}}, want: Allowed, source: SourceIdentity},
		{name: "PassRole to another service", identity: []pol{id("full", `[{"Effect":"Allow","Action":["lambda:*","logs:DescribeLogGroups"],"Resource":"*"},{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"lambda.amazonaws.com"}}}]`)},
			r: Request{Principal: user(bobARN, "bob", acct), Action: "iam:PassRole", Resource: roleARN, Keys: map[string][]string{"iam:passedtoservice": {"ec2.amazonaws.com"}}}, want: ImplicitDeny, source: SourceIdentity},

		// Policy variables in evaluation.
		{name: "home folder by user name", identity: []pol{id("home", `[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"}]`)},
			r: Request{Principal: user(bobARN, "bob", acct), Action: "s3:GetObject", Resource: "arn:aws:s3:::home/bob/x"}, want: Allowed, source: SourceIdentity},
		{name: "home folder of another user", identity: []pol{id("home", `[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"}]`)},
			r: Request{Principal: user(bobARN, "bob", acct), Action: "s3:GetObject", Resource: "arn:aws:s3:::home/alice/x"}, want: ImplicitDeny, source: SourceIdentity},
		{name: "time window", identity: []pol{id("window", `[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2026-12-31T23:59:59Z"}}}]`)},
			r: Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN, Now: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}, want: ImplicitDeny, source: SourceIdentity},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ps Policies
			for _, p := range c.identity {
				ps.Identity = append(ps.Identity, mustParse(t, p.name, p.doc, KindIdentity))
			}
			kind := KindResource
			if c.trust {
				kind = KindTrust
			}
			for _, p := range c.resource {
				ps.Resource = append(ps.Resource, mustParse(t, p.name, p.doc, kind))
			}
			if c.boundary != nil {
				ps.Boundary = mustParse(t, c.boundary.name, c.boundary.doc, KindIdentity)
			}
			for _, p := range c.session {
				ps.Session = append(ps.Session, mustParse(t, p.name, p.doc, KindIdentity))
			}
			d := Evaluate(&ps, &c.r)
			if d.Outcome != c.want || d.Source != c.source {
				t.Fatalf("Evaluate = %v from %v, want %v from %v", d.Outcome, d.Source, c.want, c.source)
			}
			if c.sid != "" && d.Sid() != c.sid {
				t.Fatalf("deciding Sid = %q, want %q", d.Sid(), c.sid)
			}
			if (d.Outcome == ImplicitDeny || d.Source == SourceNone) != (d.Policy == nil) {
				t.Fatalf("Policy = %v for %v", d.Policy, d.Outcome)
			}
		})
	}
}

// TestDecisionMessage checks the AccessDenied sentences against AWS's
// wording ("Troubleshoot access denied error messages", Lambda's
// AccessDeniedException).
func TestDecisionMessage(t *testing.T) {
	cases := []struct {
		d        Decision
		resource string
		want     string
	}{
		{Decision{Outcome: ImplicitDeny, Source: SourceIdentity}, fnARN,
			"User: arn:aws:iam::123456789012:user/bob is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:f because no identity-based policy allows the lambda:InvokeFunction action"},
		{Decision{Outcome: ExplicitDeny, Source: SourceIdentity}, fnARN,
			"User: arn:aws:iam::123456789012:user/bob is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:f with an explicit deny in an identity-based policy"},
		{Decision{Outcome: ImplicitDeny, Source: SourceResource}, fnARN,
			"User: arn:aws:iam::123456789012:user/bob is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:f because no resource-based policy allows the lambda:InvokeFunction action"},
		{Decision{Outcome: ExplicitDeny, Source: SourceResource}, fnARN,
			"User: arn:aws:iam::123456789012:user/bob is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:f with an explicit deny in a resource-based policy"},
		{Decision{Outcome: ImplicitDeny, Source: SourceBoundary}, fnARN,
			"User: arn:aws:iam::123456789012:user/bob is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:f because no permissions boundary allows the lambda:InvokeFunction action"},
		{Decision{Outcome: ExplicitDeny, Source: SourceSession}, "*",
			"User: arn:aws:iam::123456789012:user/bob is not authorized to perform: lambda:InvokeFunction on resource: * with an explicit deny in a session policy"},
		{Decision{Outcome: ImplicitDeny, Source: SourceSession}, "",
			"User: arn:aws:iam::123456789012:user/bob is not authorized to perform: lambda:InvokeFunction because no session policy allows the lambda:InvokeFunction action"},
	}
	for _, c := range cases {
		if got := c.d.Message(bobARN, invoke, c.resource); got != c.want {
			t.Errorf("Message =\n  %s\nwant\n  %s", got, c.want)
		}
	}
	if got := (Decision{Outcome: ImplicitDeny, Source: SourceResource}).Message("", "s3:GetObject", ""); got != "User: anonymous is not authorized to perform: s3:GetObject because no resource-based policy allows the s3:GetObject action" {
		t.Errorf("anonymous message = %q", got)
	}
	if r := (Decision{Outcome: Allowed}).Reason(invoke); r != "" {
		t.Errorf("Reason of an Allow = %q", r)
	}
}

// TestInvokeOnlyUser is the acceptance scenario at the evaluator:
// a user allowed only lambda:InvokeFunction on one function may invoke it
// and is denied everything else with Lambda's AccessDeniedException text.
func TestInvokeOnlyUser(t *testing.T) {
	ps := &Policies{Identity: []*Policy{mustParse(t, "invoke-f", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"`+fnARN+`"}]}`, KindIdentity)}}
	bob := user(bobARN, "bob", acct)
	if d := Evaluate(ps, &Request{Principal: bob, Action: invoke, Resource: fnARN}); !d.Allowed() {
		t.Fatalf("invoke: %+v", d)
	}
	for _, c := range []struct{ action, resource, want string }{
		{"lambda:InvokeFunction", fnARN + "2", "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:f2 because no identity-based policy allows the lambda:InvokeFunction action"},
		{"lambda:GetFunction", fnARN, "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: lambda:GetFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:f because no identity-based policy allows the lambda:GetFunction action"},
		{"lambda:ListFunctions", "*", "User: arn:aws:iam::123456789012:user/bob is not authorized to perform: lambda:ListFunctions on resource: * because no identity-based policy allows the lambda:ListFunctions action"},
	} {
		d := Evaluate(ps, &Request{Principal: bob, Action: c.action, Resource: c.resource})
		if d.Allowed() {
			t.Fatalf("%s on %s allowed", c.action, c.resource)
		}
		if got := d.Message(bob.ARN, c.action, c.resource); got != c.want {
			t.Errorf("message =\n  %s\nwant\n  %s", got, c.want)
		}
	}
}

func TestEvaluateNoPolicies(t *testing.T) {
	if d := Evaluate(nil, &Request{Principal: user(bobARN, "bob", acct), Action: invoke, Resource: fnARN}); d.Outcome != ImplicitDeny || d.Source != SourceIdentity || d.Sid() != "" {
		t.Fatalf("Evaluate(nil) = %+v", d)
	}
}
