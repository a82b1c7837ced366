package sts_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
)

const (
	bobKey    = "AKIAKUMOSTSBOB000001"
	bobSecret = "kumo-sts-test-bob-secret-0000000000000000"
	bobARN    = "arn:aws:iam::000000000000:user/bob"
	direct    = "arn:aws:iam::000000000000:role/direct"  // trust names bob
	byAccount = "arn:aws:iam::000000000000:role/account" // trust names the account
	other     = "arn:aws:iam::000000000000:role/other"   // trust names the account; bob has no policy for it
	closed    = "arn:aws:iam::000000000000:role/closed"  // trust names a service only
	listOnly  = "arn:aws:iam::000000000000:policy/list-only"
	listDoc   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}]}`
)

func parse(t *testing.T, doc string, kind iam.Kind) *iam.Policy {
	t.Helper()
	p, err := iam.Parse(doc, kind)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func trust(t *testing.T, principal string) *iam.Policy {
	return parse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":`+principal+`,"Action":"sts:AssumeRole"}]}`, iam.KindTrust)
}

// withIAM gives the harness bob, whose policy allows sts:AssumeRole on
// two roles, and four roles whose sessions may do anything with Lambda.
func withIAM(t *testing.T, h *harness) *sts.Client {
	h.dir.SetUser(awsproto.Identity{Account: account, ARN: bobARN, UserID: "AIDABOB"}, authz.Principal{Policies: []*iam.Policy{
		parse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":["`+byAccount+`","`+closed+`"]}]}`, iam.KindIdentity),
	}})
	h.dir.SetAccessKey(bobKey, bobSecret, bobARN)
	lambdaAll := authz.Principal{Policies: []*iam.Policy{parse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:*","Resource":"*"}]}`, iam.KindIdentity)}}
	h.dir.SetRole(authz.Role{ARN: direct, ID: "AROADIRECT", Trust: trust(t, `{"AWS":"`+bobARN+`"}`), MaxSession: time.Hour}, lambdaAll)
	h.dir.SetRole(authz.Role{ARN: byAccount, ID: "AROAACCOUNT", Trust: trust(t, `{"AWS":"arn:aws:iam::000000000000:root"}`), MaxSession: 2 * time.Hour}, lambdaAll)
	h.dir.SetRole(authz.Role{ARN: other, ID: "AROAOTHER", Trust: trust(t, `{"AWS":"000000000000"}`), MaxSession: time.Hour}, lambdaAll)
	h.dir.SetRole(authz.Role{ARN: closed, ID: "AROACLOSED", Trust: trust(t, `{"Service":"lambda.amazonaws.com"}`), MaxSession: time.Hour}, lambdaAll)
	h.dir.SetManagedPolicy(listOnly, listDoc)
	return h.client(bobKey, bobSecret, "")
}

func TestAssumeRoleChecksPoliciesAndTrust(t *testing.T) {
	h := newHarness(t)
	bob := withIAM(t, h)
	ctx := t.Context()
	for _, tc := range []struct {
		name, role string
		seconds    int32
		code, msg  string
	}{
		{"trust names the user", direct, 3600, "", ""},
		{"trust names the account, identity policy allows", byAccount, 7200, "", ""},
		{"trust names the account, no identity policy", other, 900, "AccessDenied",
			"User: " + bobARN + " is not authorized to perform: sts:AssumeRole on resource: " + other + " because no identity-based policy allows the sts:AssumeRole action"},
		{"identity policy allows, trust does not", closed, 900, "AccessDenied",
			"User: " + bobARN + " is not authorized to perform: sts:AssumeRole on resource: " + closed + " because no resource-based policy allows the sts:AssumeRole action"},
		{"unknown role", "arn:aws:iam::000000000000:role/nope", 900, "AccessDenied",
			"User: " + bobARN + " is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::000000000000:role/nope"},
		{"longer than the role allows", direct, 3601, "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := bob.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(tc.role), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(tc.seconds)})
			if tc.code == "" {
				if err != nil {
					t.Fatalf("AssumeRole: %v", err)
				}
				if !strings.HasSuffix(*out.AssumedRoleUser.AssumedRoleId, ":s1") || !strings.HasPrefix(*out.AssumedRoleUser.AssumedRoleId, "AROA"+strings.ToUpper(tc.role[strings.LastIndexByte(tc.role, '/')+1:])) {
					t.Errorf("AssumedRoleId %s, want the role's id from IAM", *out.AssumedRoleUser.AssumedRoleId)
				}
				return
			}
			wantQueryError(t, err, tc.code, tc.msg)
		})
	}
	// The root user may assume any role of the account, known or not.
	if _, err := h.root().AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(closed), RoleSessionName: aws.String("s1")}); err != nil {
		t.Errorf("root assumes a role its trust does not name: %v", err)
	}
}

// TestAssumeRoleDenialWireFormat: the denial is STS's XML ErrorResponse
// with status 403.
func TestAssumeRoleDenialWireFormat(t *testing.T) {
	h := newHarness(t)
	withIAM(t, h)
	body := "Action=AssumeRole&Version=2011-06-15&RoleArn=" + other + "&RoleSessionName=s1"
	req, _ := http.NewRequest("POST", h.srv.URL+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: bobKey, SecretAccessKey: bobSecret}, req, sha256Hex(body), "sts", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	want := `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: ` + bobARN +
		` is not authorized to perform: sts:AssumeRole on resource: ` + other + ` because no identity-based policy allows the sts:AssumeRole action</Message></Error>`
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(buf.String(), want) {
		t.Errorf("denial: %d %s\nwant 403 %s", resp.StatusCode, buf.String(), want)
	}
}

func TestSessionPolicies(t *testing.T) {
	h := newHarness(t)
	bob := withIAM(t, h)
	ctx := t.Context()
	session := func(in *sts.AssumeRoleInput) *lambda.Client {
		t.Helper()
		in.RoleArn, in.RoleSessionName = aws.String(direct), aws.String("s1")
		out, err := bob.AssumeRole(ctx, in)
		if err != nil {
			t.Fatalf("AssumeRole: %v", err)
		}
		return h.lambda(aws.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken})
	}
	// Without a session policy the session has the role's permissions.
	if _, err := session(&sts.AssumeRoleInput{}).ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
		t.Errorf("session without a session policy: %v", err)
	}
	// A session policy that does not allow the action denies it, inline
	// or managed.
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	_, err := session(&sts.AssumeRoleInput{Policy: aws.String(deny)}).ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if apiCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "because no session policy allows the lambda:ListFunctions action") {
		t.Errorf("session with an s3 session policy: %v", err)
	}
	if _, err := session(&sts.AssumeRoleInput{Policy: aws.String(deny), PolicyArns: []ststypes.PolicyDescriptorType{{Arn: aws.String(listOnly)}}}).
		ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
		t.Errorf("session with a managed session policy that allows: %v", err)
	}
	for _, tc := range []struct {
		name string
		in   sts.AssumeRoleInput
		code string
		msg  string
	}{
		{"malformed policy", sts.AssumeRoleInput{Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}`)},
			"MalformedPolicyDocument", "Policy document should not specify a principal."},
		{"not JSON", sts.AssumeRoleInput{Policy: aws.String(`{"Version":`)}, "MalformedPolicyDocument", "Syntax errors in policy."},
		{"unknown managed policy", sts.AssumeRoleInput{PolicyArns: []ststypes.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::000000000000:policy/nope-nope")}}},
			"MalformedPolicyDocument", "Policy arn:aws:iam::000000000000:policy/nope-nope does not exist or is not attachable."},
		{"policy too long", sts.AssumeRoleInput{Policy: aws.String(strings.Repeat(" ", 2049))}, "ValidationError", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.RoleArn, tc.in.RoleSessionName = aws.String(direct), aws.String("s1")
			_, err := bob.AssumeRole(ctx, &tc.in)
			wantQueryError(t, err, tc.code, tc.msg)
		})
	}
}

func TestGetSessionTokenForUsers(t *testing.T) {
	h := newHarness(t)
	bob := withIAM(t, h)
	out, err := bob.GetSessionToken(t.Context(), &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatalf("user GetSessionToken: %v", err)
	}
	cr := out.Credentials
	id, err := h.client(*cr.AccessKeyId, *cr.SecretAccessKey, *cr.SessionToken).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil || *id.Arn != bobARN {
		t.Fatalf("session token identity: %v %v", id, err)
	}
}

func wantQueryError(t *testing.T, err error, code, msg string) {
	t.Helper()
	if apiCode(err) != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
	if msg != "" && !strings.Contains(err.Error(), msg) {
		t.Errorf("err = %v,\nwant message %q", err, msg)
	}
}
