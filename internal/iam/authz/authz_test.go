package authz_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/registry"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	acct    = "123456789012"
	other   = "210987654321"
	bobARN  = "arn:aws:iam::123456789012:user/bob"
	roleARN = "arn:aws:iam::123456789012:role/app"
	fnARN   = "arn:aws:lambda:us-east-1:123456789012:function:f"
	listARN = "arn:aws:lambda:us-east-1:123456789012:function:*"
)

func policy(t testing.TB, kind iam.Kind, doc string) *iam.Policy {
	t.Helper()
	p, err := iam.Parse(doc, kind)
	if err != nil {
		t.Fatalf("parse %s: %v", doc, err)
	}
	return p
}

func identity(t testing.TB, stmts string) *iam.Policy {
	return policy(t, iam.KindIdentity, `{"Version":"2012-10-17","Statement":[`+stmts+`]}`)
}

func resource(t testing.TB, stmts string) *iam.Policy {
	return policy(t, iam.KindResource, `{"Version":"2012-10-17","Statement":[`+stmts+`]}`)
}

func as(id awsproto.Identity) context.Context {
	return awsproto.WithCaller(context.Background(), awsproto.Caller{AccessKeyID: "AKIDEXAMPLE", Identity: id})
}

var (
	bob     = awsproto.Identity{Account: acct, ARN: bobARN, UserID: "AIDABOB"}
	ghost   = awsproto.Identity{Account: acct, ARN: "arn:aws:iam::123456789012:user/ghost", UserID: "AIDAGHOST"}
	carol   = awsproto.Identity{Account: other, ARN: "arn:aws:iam::210987654321:user/carol", UserID: "AIDACAROL"}
	root    = awsproto.Identity{Account: acct, ARN: "arn:aws:iam::123456789012:root", UserID: acct}
	appSess = awsproto.Identity{Account: acct, ARN: "arn:aws:sts::123456789012:assumed-role/app/s1", UserID: "AROAAPP:s1",
		RoleARN: roleARN, SessionName: "s1"}
)

func directory(t testing.TB) *authz.Static {
	d := &authz.Static{}
	d.SetUser(bob, authz.Principal{Policies: []*iam.Policy{
		identity(t, `{"Effect":"Allow","Action":["lambda:List*","lambda:Get*","lambda:InvokeFunction","lambda:DeleteAlias"],"Resource":"*"}`),
		identity(t, `{"Effect":"Deny","Action":"lambda:DeleteAlias","Resource":"*"}`),
		identity(t, `{"Effect":"Allow","Action":"lambda:UpdateFunctionCode","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
		 {"Effect":"Allow","Action":"lambda:PublishVersion","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}},
		 {"Effect":"Allow","Action":"lambda:CreateAlias","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}}`),
	}})
	d.SetUser(carol, authz.Principal{Policies: []*iam.Policy{
		identity(t, `{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"*"}`),
	}})
	d.SetRole(authz.Role{ARN: roleARN, ID: "AROAAPP", MaxSession: time.Hour}, authz.Principal{Policies: []*iam.Policy{
		identity(t, `{"Effect":"Allow","Action":["lambda:GetFunction","lambda:ListFunctions"],"Resource":"*"}`),
	}})
	return d
}

func TestAuthorize(t *testing.T) {
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	a := authz.New(authz.Config{Directory: directory(t), Region: "us-east-1", Now: func() time.Time { return now }})
	fnPolicy := resource(t, `{"Sid":"other","Effect":"Allow","Principal":{"AWS":"210987654321"},"Action":"lambda:InvokeFunction","Resource":"`+fnARN+`"},
		{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"`+fnARN+`",
		 "Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"},"StringEquals":{"AWS:SourceAccount":"123456789012"}}}`)
	denyRoot := resource(t, `{"Effect":"Deny","Principal":"*","Action":"lambda:InvokeFunction","Resource":"*"}`)
	withSession := appSess
	withSession.SessionPolicy = `[{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}]}]`
	invoke := func(p *iam.Policy) authz.Check {
		return authz.Check{Action: "lambda:InvokeFunction", Resource: fnARN, ResourcePolicy: p, Denied: awsproto.AccessDeniedException}
	}
	check := func(action, res string) authz.Check {
		return authz.Check{Action: action, Resource: res, Denied: awsproto.AccessDeniedException}
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		c    authz.Check
		want string // "" allowed, else the denial message
	}{
		{"user allowed", as(bob), check("lambda:ListFunctions", listARN), ""},
		{"user denied", as(bob), check("lambda:DeleteFunction", fnARN),
			"User: " + bobARN + " is not authorized to perform: lambda:DeleteFunction on resource: " + fnARN + " because no identity-based policy allows the lambda:DeleteFunction action"},
		{"explicit deny beats allow", as(bob), check("lambda:DeleteAlias", fnARN),
			"User: " + bobARN + " is not authorized to perform: lambda:DeleteAlias on resource: " + fnARN + " with an explicit deny in an identity-based policy"},
		{"source ip matches", as(bob), authz.Check{Action: "lambda:UpdateFunctionCode", Resource: fnARN, SourceIP: "10.1.2.3", Denied: awsproto.AccessDeniedException}, ""},
		{"source ip does not match", as(bob), authz.Check{Action: "lambda:UpdateFunctionCode", Resource: fnARN, SourceIP: "192.0.2.1", Denied: awsproto.AccessDeniedException},
			"User: " + bobARN + " is not authorized to perform: lambda:UpdateFunctionCode on resource: " + fnARN + " because no identity-based policy allows the lambda:UpdateFunctionCode action"},
		{"current time from the clock", as(bob), check("lambda:PublishVersion", fnARN), ""},
		{"requested region", as(bob), check("lambda:CreateAlias", fnARN), ""},
		{"role session", as(appSess), check("lambda:GetFunction", fnARN), ""},
		{"role session denied", as(appSess), check("lambda:DeleteFunction", fnARN),
			"User: arn:aws:sts::123456789012:assumed-role/app/s1 is not authorized to perform: lambda:DeleteFunction on resource: " + fnARN + " because no identity-based policy allows the lambda:DeleteFunction action"},
		{"session policy allows", as(withSession), check("lambda:ListFunctions", listARN), ""},
		{"session policy limits", as(withSession), check("lambda:GetFunction", fnARN),
			"User: arn:aws:sts::123456789012:assumed-role/app/s1 is not authorized to perform: lambda:GetFunction on resource: " + fnARN + " because no session policy allows the lambda:GetFunction action"},
		{"cross-account with the function policy", as(carol), invoke(fnPolicy), ""},
		{"cross-account without a function policy", as(carol), invoke(nil),
			"User: arn:aws:iam::210987654321:user/carol is not authorized to perform: lambda:InvokeFunction on resource: " + fnARN + " because no resource-based policy allows the lambda:InvokeFunction action"},
		{"service with its source", authz.WithService(context.Background(), "s3.amazonaws.com", "arn:aws:s3:::bucket", acct), invoke(fnPolicy), ""},
		{"service from another source", authz.WithService(context.Background(), "s3.amazonaws.com", "arn:aws:s3:::elsewhere", acct), invoke(fnPolicy),
			"User: s3.amazonaws.com is not authorized to perform: lambda:InvokeFunction on resource: " + fnARN + " because no resource-based policy allows the lambda:InvokeFunction action"},
		{"service from another account", authz.WithService(context.Background(), "s3.amazonaws.com", "arn:aws:s3:::bucket", other), invoke(fnPolicy),
			"User: s3.amazonaws.com is not authorized to perform: lambda:InvokeFunction on resource: " + fnARN + " because no resource-based policy allows the lambda:InvokeFunction action"},
		{"service without a function policy", authz.WithService(context.Background(), "sns.amazonaws.com", "arn:aws:sns:us-east-1:123456789012:t", acct), invoke(nil),
			"User: sns.amazonaws.com is not authorized to perform: lambda:InvokeFunction on resource: " + fnARN + " because no resource-based policy allows the lambda:InvokeFunction action"},
		{"missing principal", as(ghost), check("lambda:ListFunctions", listARN),
			"User: arn:aws:iam::123456789012:user/ghost is not authorized to perform: lambda:ListFunctions on resource: " + listARN + " because no identity-based policy allows the lambda:ListFunctions action"},
		{"root", as(root), check("lambda:DeleteFunction", fnARN), ""},
		{"root denied by a resource policy", as(root), invoke(denyRoot),
			"User: arn:aws:iam::123456789012:root is not authorized to perform: lambda:InvokeFunction on resource: " + fnARN + " with an explicit deny in a resource-based policy"},
		{"authentication off", awsproto.WithCaller(context.Background(), awsproto.Caller{Anonymous: true}), check("lambda:DeleteFunction", fnARN), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := a.Authorize(tc.ctx, tc.c)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Authorize = %v, want allowed", err)
				}
				return
			}
			e := awsproto.AsError(err)
			if err == nil || e.Code != awsproto.AccessDeniedException || e.Message != tc.want {
				t.Fatalf("Authorize = %v,\nwant AccessDeniedException %q", err, tc.want)
			}
		})
	}
}

func TestAuthorizeNilAllowsAll(t *testing.T) {
	var a *authz.Authorizer
	if err := a.Authorize(as(ghost), authz.Check{Action: "lambda:DeleteFunction", Resource: fnARN, Denied: awsproto.AccessDeniedException}); err != nil {
		t.Fatalf("nil Authorizer: %v", err)
	}
}

func TestAuthorizeCodesAndCounts(t *testing.T) {
	a := authz.New(authz.Config{Directory: directory(t), Region: "us-east-1"})
	err := a.Authorize(as(bob), authz.Check{Action: "ec2:DeleteVpc", Resource: "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1", Denied: awsproto.EC2UnauthorizedOperation})
	e := awsproto.AsError(err)
	want := "You are not authorized to perform this operation. User: " + bobARN + " is not authorized to perform: ec2:DeleteVpc on resource: arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1 because no identity-based policy allows the ec2:DeleteVpc action"
	if e.Code != awsproto.EC2UnauthorizedOperation || e.Message != want || e.Status() != 403 {
		t.Fatalf("EC2 denial = %v (%d), want UnauthorizedOperation 403 %q", err, e.Status(), want)
	}
	a.Authorize(as(bob), authz.Check{Action: "ec2:DeleteVpc", Resource: "*", Denied: awsproto.EC2UnauthorizedOperation})
	a.Authorize(as(bob), authz.Check{Action: "logs:DeleteLogGroup", Resource: "*", Denied: awsproto.LogsAccessDenied})
	if n := denied(t, a, "ec2", "ec2:DeleteVpc"); n != 2 {
		t.Fatalf("denials of ec2:DeleteVpc = %v, want 2", n)
	}
}

func TestParseSession(t *testing.T) {
	one := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	for _, tc := range []struct {
		doc  string
		n    int
		fail bool
	}{
		{one, 1, false},
		{"[" + one + "," + one + "]", 2, false},
		{authz.JoinSession([]string{one, one}), 2, false},
		{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}`, 0, true},
		{`[` + one + `,`, 0, true},
	} {
		ps, err := authz.ParseSession(tc.doc)
		if tc.fail != (err != nil) || len(ps) != tc.n {
			t.Errorf("ParseSession(%.40s…) = %d policies, %v; want %d, failure %v", tc.doc, len(ps), err, tc.n, tc.fail)
		}
	}
	if !strings.HasPrefix(authz.JoinSession([]string{one}), "{") {
		t.Errorf("one session policy is joined into an array")
	}
}

// denied reads kumo_authz_denied_total{service,action} from a's collector.
func denied(t *testing.T, a *authz.Authorizer, service, action string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "kumo_authz_denied_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["service"] == service && labels["action"] == action {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestFunctionPolicies: a function's statements are compiled once, again
// when the registry replaces them, and forgotten when they are removed.
func TestFunctionPolicies(t *testing.T) {
	stmt := func(sid string) registry.Statement {
		return registry.Statement{Sid: sid, Effect: "Allow", Principal: map[string]any{"Service": "s3.amazonaws.com"},
			Action: "lambda:InvokeFunction", Resource: fnARN}
	}
	current := []registry.Statement{stmt("a")}
	calls := 0
	fp := &authz.FunctionPolicies{Statements: func(name, q string) []registry.Statement {
		calls++
		if name != "f" || q != "" {
			t.Errorf("Statements(%q, %q), want f and \"\" for $LATEST", name, q)
		}
		return current
	}}
	p1 := fp.Get("f", "$LATEST")
	if p1 == nil || len(p1.Statements) != 1 || p1.Statements[0].Sid != "a" {
		t.Fatalf("compiled %+v", p1)
	}
	if p2 := fp.Get("f", ""); p2 != p1 {
		t.Errorf("unchanged statements compiled again")
	}
	current = append(current[:1:1], stmt("b"))
	if p3 := fp.Get("f", ""); p3 == p1 || len(p3.Statements) != 2 {
		t.Errorf("replaced statements not compiled again: %+v", p3)
	}
	current = nil
	if p4 := fp.Get("f", ""); p4 != nil {
		t.Errorf("removed statements still give %+v", p4)
	}
	if calls != 4 {
		t.Errorf("%d reads of the registry, want 4", calls)
	}
	var none *authz.FunctionPolicies
	if none.Get("f", "") != nil {
		t.Errorf("nil FunctionPolicies has a policy")
	}
}

// TestDenialLogged: a denial is logged with the principal, action and
// resource.
func TestDenialLogged(t *testing.T) {
	var buf bytes.Buffer
	a := authz.New(authz.Config{Directory: directory(t), Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	a.Authorize(as(bob), authz.Check{Action: "lambda:DeleteFunction", Resource: fnARN, Denied: awsproto.AccessDeniedException})
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log %q: %v", buf.String(), err)
	}
	if line["principal"] != bobARN || line["action"] != "lambda:DeleteFunction" || line["resource"] != fnARN || line["msg"] != "access denied" {
		t.Errorf("log line %v", line)
	}
}
