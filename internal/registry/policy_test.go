package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/kumo-run/kumo/internal/awsproto"
)

func TestAddPermission(t *testing.T) {
	r := openTest(t)
	mustCreate(t, r, "f")
	mustPublish(t, r, "f", 1)
	ctx := context.Background()
	if _, err := r.CreateAlias(ctx, Ref{Name: "f"}, CreateAliasInput{Name: "live", FunctionVersion: "1"}); err != nil {
		t.Fatal(err)
	}
	invoke := func(sid, principal string) AddPermissionInput {
		return AddPermissionInput{StatementId: sid, Action: "lambda:InvokeFunction", Principal: principal}
	}
	tests := []struct {
		name string
		ref  Ref
		in   AddPermissionInput
		code awsproto.Code
		msg  string
		want string // the statement
	}{
		{name: "service", in: invoke("s3", "s3.amazonaws.com"),
			want: `{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + fnARN + `"}`},
		{name: "everyone", in: AddPermissionInput{StatementId: "all", Action: "lambda:*", Principal: "*"},
			want: `{"Sid":"all","Effect":"Allow","Principal":"*","Action":"lambda:*","Resource":"` + fnARN + `"}`},
		{name: "any action", in: AddPermissionInput{StatementId: "star", Action: "*", Principal: "*"},
			want: `{"Sid":"star","Effect":"Allow","Principal":"*","Action":"*","Resource":"` + fnARN + `"}`},
		{name: "account", in: invoke("acct", "210987654321"),
			want: `{"Sid":"acct","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":"lambda:InvokeFunction","Resource":"` + fnARN + `"}`},
		{name: "role", in: invoke("role", "arn:aws:iam::210987654321:role/caller"),
			want: `{"Sid":"role","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:role/caller"},"Action":"lambda:InvokeFunction","Resource":"` + fnARN + `"}`},
		{name: "alexa", in: invoke("alexa", "alexa-appkit.amazon.com"),
			want: `{"Sid":"alexa","Effect":"Allow","Principal":{"Service":"alexa-appkit.amazon.com"},"Action":"lambda:InvokeFunction","Resource":"` + fnARN + `"}`},
		{name: "source", in: AddPermissionInput{StatementId: "bucket", Action: "lambda:InvokeFunction", Principal: "s3.amazonaws.com",
			SourceArn: "arn:aws:s3:::my-bucket", SourceAccount: "123456789012"},
			want: `{"Sid":"bucket","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + fnARN + `",` +
				`"Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::my-bucket"},"StringEquals":{"AWS:SourceAccount":"123456789012"}}}`},
		{name: "org and token", in: AddPermissionInput{StatementId: "org", Action: "lambda:InvokeFunction", Principal: "*",
			PrincipalOrgID: "o-abcdefghij", EventSourceToken: "tok.en-1_x"},
			want: `{"Sid":"org","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Resource":"` + fnARN + `",` +
				`"Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abcdefghij","lambda:EventSourceToken":"tok.en-1_x"}}}`},
		{name: "function url", in: AddPermissionInput{StatementId: "url", Action: "lambda:InvokeFunctionUrl", Principal: "*",
			FunctionUrlAuthType: "NONE", InvokedViaFunctionUrl: ptr(true)},
			want: `{"Sid":"url","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Resource":"` + fnARN + `",` +
				`"Condition":{"Bool":{"lambda:InvokedViaFunctionUrl":"true"},"StringEquals":{"lambda:FunctionUrlAuthType":"NONE"}}}`},
		{name: "version", ref: Ref{Qualifier: "1"}, in: invoke("s3", "s3.amazonaws.com"),
			want: `{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + fnARN + `:1"}`},
		{name: "alias", ref: Ref{Qualifier: "live"}, in: invoke("s3", "s3.amazonaws.com"),
			want: `{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + fnARN + `:live"}`},

		{name: "duplicate", in: invoke("s3", "*"), code: awsproto.ResourceConflictException,
			msg: "The statement id (s3) provided already exists. Please provide a new statement id, or remove the existing statement."},
		{name: "latest", ref: Ref{Qualifier: "$LATEST"}, in: invoke("x", "*"), code: awsproto.InvalidParameterValueException,
			msg: "We currently do not support adding policies for $LATEST."},
		{name: "missing version", ref: Ref{Qualifier: "4"}, in: invoke("x", "*"), code: awsproto.ResourceNotFoundException,
			msg: "Function not found: " + fnARN + ":4"},
		{name: "missing alias", ref: Ref{Qualifier: "prod"}, in: invoke("x", "*"), code: awsproto.ResourceNotFoundException,
			msg: "Cannot find alias arn: " + fnARN + ":prod"},
		{name: "missing function", ref: Ref{Name: "g"}, in: invoke("x", "*"), code: awsproto.ResourceNotFoundException,
			msg: "Function not found: arn:aws:lambda:us-east-1:123456789012:function:g"},
		{name: "stale revision", in: AddPermissionInput{StatementId: "x", Action: "lambda:InvokeFunction", Principal: "*", RevisionId: "old"},
			code: awsproto.PreconditionFailedException},
		{name: "no sid", in: invoke("", "*"), code: awsproto.ValidationException,
			msg: "1 validation error detected: Value null at 'statementId' failed to satisfy constraint: Member must not be null"},
		{name: "long sid", in: invoke(strings.Repeat("s", 101), "*"), code: awsproto.ValidationException},
		{name: "bad sid", in: invoke("a.b", "*"), code: awsproto.ValidationException,
			msg: "1 validation error detected: Value 'a.b' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)"},
		{name: "no action", in: AddPermissionInput{StatementId: "x", Principal: "*"}, code: awsproto.ValidationException},
		{name: "bad action", in: AddPermissionInput{StatementId: "x", Action: "s3:GetObject", Principal: "*"}, code: awsproto.ValidationException},
		{name: "no principal", in: invoke("x", ""), code: awsproto.ValidationException},
		{name: "space in principal", in: invoke("x", "a b"), code: awsproto.ValidationException},
		{name: "unknown principal", in: invoke("x", "somebody"), code: awsproto.InvalidParameterValueException,
			msg: "The provided principal was invalid. Please check the principal and try again."},
		{name: "bad principal arn", in: invoke("x", "arn:aws:s3:::bucket"), code: awsproto.InvalidParameterValueException},
		{name: "bad source arn", in: AddPermissionInput{StatementId: "x", Action: "lambda:InvokeFunction", Principal: "*", SourceArn: "bucket"},
			code: awsproto.ValidationException},
		{name: "bad source account", in: AddPermissionInput{StatementId: "x", Action: "lambda:InvokeFunction", Principal: "*", SourceAccount: "12345"},
			code: awsproto.ValidationException},
		{name: "bad token", in: AddPermissionInput{StatementId: "x", Action: "lambda:InvokeFunction", Principal: "*", EventSourceToken: "a/b"},
			code: awsproto.ValidationException},
		{name: "bad org", in: AddPermissionInput{StatementId: "x", Action: "lambda:InvokeFunction", Principal: "*", PrincipalOrgID: "org-123456789012"},
			code: awsproto.ValidationException},
		{name: "bad auth type", in: AddPermissionInput{StatementId: "x", Action: "lambda:InvokeFunctionUrl", Principal: "*", FunctionUrlAuthType: "IAM"},
			code: awsproto.ValidationException,
			msg:  "1 validation error detected: Value 'IAM' at 'functionUrlAuthType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := tt.ref
			if ref.Name == "" {
				ref.Name = "f"
			}
			before, beforeRev, _ := r.GetPolicy(ctx, ref)
			got, err := r.AddPermission(ctx, ref, tt.in)
			wantErr(t, err, tt.code, tt.msg)
			after, afterRev, _ := r.GetPolicy(ctx, ref)
			if err != nil {
				if after != before || afterRev != beforeRev {
					t.Fatalf("failed AddPermission changed the policy")
				}
				return
			}
			if got != tt.want {
				t.Fatalf("statement = %s\n        want %s", got, tt.want)
			}
			if !strings.Contains(after, got) || afterRev == "" || afterRev == beforeRev {
				t.Fatalf("GetPolicy after AddPermission = %s (revision %q, was %q)", after, afterRev, beforeRev)
			}
		})
	}
}

func TestAddPermissionRevision(t *testing.T) {
	r := openTest(t)
	mustCreate(t, r, "f")
	ctx := context.Background()
	ref := Ref{Name: "f"}
	if _, err := r.AddPermission(ctx, ref, AddPermissionInput{StatementId: "a", Action: "lambda:InvokeFunction", Principal: "*"}); err != nil {
		t.Fatal(err)
	}
	_, rev, err := r.GetPolicy(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.AddPermission(ctx, ref, AddPermissionInput{StatementId: "b", Action: "lambda:InvokeFunction", Principal: "*", RevisionId: rev})
	wantErr(t, err, "", "")
	_, err = r.AddPermission(ctx, ref, AddPermissionInput{StatementId: "c", Action: "lambda:InvokeFunction", Principal: "*", RevisionId: rev})
	wantErr(t, err, awsproto.PreconditionFailedException,
		"The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id")
}

func TestPolicyLength(t *testing.T) {
	r := openTest(t)
	mustCreate(t, r, "f")
	ctx := context.Background()
	ref := Ref{Name: "f"}
	long := "arn:aws:s3:::" + strings.Repeat("b", 1000)
	var err error
	added := 0
	for ; added < 100; added++ {
		_, err = r.AddPermission(ctx, ref, AddPermissionInput{StatementId: "s" + string(rune('a'+added%26)) + strings.Repeat("x", added/26),
			Action: "lambda:InvokeFunction", Principal: "s3.amazonaws.com", SourceArn: long})
		if err != nil {
			break
		}
	}
	wantErr(t, err, awsproto.PolicyLengthExceededException, "")
	doc, _, gerr := r.GetPolicy(ctx, ref)
	if gerr != nil {
		t.Fatal(gerr)
	}
	if len(doc) > MaxPolicyBytes {
		t.Fatalf("stored policy is %d bytes, over the limit", len(doc))
	}
	var d policyDocument
	if err := json.Unmarshal([]byte(doc), &d); err != nil || len(d.Statement) != added {
		t.Fatalf("policy has %d statements (%v), want %d", len(d.Statement), err, added)
	}
	if msg := err.(*awsproto.Error).Message; !strings.HasPrefix(msg, "The final policy size (") || !strings.HasSuffix(msg, ") is bigger than the limit (20480).") {
		t.Fatalf("message = %q", msg)
	}
}

func TestGetPolicy(t *testing.T) {
	r := openTest(t)
	mustCreate(t, r, "f")
	mustPublish(t, r, "f", 1)
	ctx := context.Background()
	ref := Ref{Name: "f"}
	for _, sid := range []string{"one", "two"} {
		if _, err := r.AddPermission(ctx, ref, AddPermissionInput{StatementId: sid, Action: "lambda:InvokeFunction", Principal: "events.amazonaws.com"}); err != nil {
			t.Fatal(err)
		}
	}
	want := `{"Version":"2012-10-17","Id":"default","Statement":[` +
		`{"Sid":"one","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + fnARN + `"},` +
		`{"Sid":"two","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + fnARN + `"}]}`
	tests := []struct {
		name string
		ref  Ref
		want string
		code awsproto.Code
		msg  string
	}{
		{name: "function", ref: ref, want: want},
		{name: "latest is the function", ref: Ref{Name: "f", Qualifier: "$LATEST"}, want: want},
		{name: "version without policy", ref: Ref{Name: "f", Qualifier: "1"}, code: awsproto.ResourceNotFoundException,
			msg: "The resource you requested does not exist."},
		{name: "missing version", ref: Ref{Name: "f", Qualifier: "2"}, code: awsproto.ResourceNotFoundException,
			msg: "Function not found: " + fnARN + ":2"},
		{name: "missing alias", ref: Ref{Name: "f", Qualifier: "live"}, code: awsproto.ResourceNotFoundException,
			msg: "Cannot find alias arn: " + fnARN + ":live"},
		{name: "missing function", ref: Ref{Name: "g"}, code: awsproto.ResourceNotFoundException,
			msg: "Function not found: arn:aws:lambda:us-east-1:123456789012:function:g"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, rev, err := r.GetPolicy(ctx, tt.ref)
			wantErr(t, err, tt.code, tt.msg)
			if err == nil && (doc != tt.want || rev == "") {
				t.Fatalf("GetPolicy = %s, %q\n     want %s", doc, rev, tt.want)
			}
		})
	}

	if got := r.Policy("f", ""); len(got) != 2 || got[0].Sid != "one" || got[1].Resource != fnARN {
		t.Fatalf("Policy(f) = %+v", got)
	}
	if got := r.Policy("f", Latest); len(got) != 2 {
		t.Fatalf("Policy(f, $LATEST) = %+v", got)
	}
	if got := r.Policy("f", "1"); got != nil {
		t.Fatalf("Policy(f, 1) = %+v, want nil", got)
	}
	if got := r.Policy("g", ""); got != nil {
		t.Fatalf("Policy(g) = %+v, want nil", got)
	}
}

func TestRemovePermission(t *testing.T) {
	r := openTest(t)
	mustCreate(t, r, "f")
	mustPublish(t, r, "f", 1)
	ctx := context.Background()
	if _, err := r.CreateAlias(ctx, Ref{Name: "f"}, CreateAliasInput{Name: "live", FunctionVersion: "1"}); err != nil {
		t.Fatal(err)
	}
	add := func(ref Ref, sid string) {
		t.Helper()
		if _, err := r.AddPermission(ctx, ref, AddPermissionInput{StatementId: sid, Action: "lambda:InvokeFunction", Principal: "*"}); err != nil {
			t.Fatal(err)
		}
	}
	add(Ref{Name: "f"}, "a")
	add(Ref{Name: "f"}, "b")
	add(Ref{Name: "f", Qualifier: "live"}, "a")

	const unchecked = -2
	tests := []struct {
		name string
		ref  Ref
		sid  string
		rev  string // "current" is the policy's revision
		code awsproto.Code
		msg  string
		left int // statements left in the policy; -1 for no policy, unchecked to not look
	}{
		{name: "unknown sid", ref: Ref{Name: "f"}, sid: "zz", code: awsproto.ResourceNotFoundException,
			msg: "Statement zz is not found in resource policy.", left: 2},
		{name: "stale revision", ref: Ref{Name: "f"}, sid: "a", rev: "old", code: awsproto.PreconditionFailedException, left: 2},
		{name: "with revision", ref: Ref{Name: "f"}, sid: "a", rev: "current", left: 1},
		{name: "gone", ref: Ref{Name: "f"}, sid: "a", code: awsproto.ResourceNotFoundException, left: 1},
		{name: "last through latest", ref: Ref{Name: "f", Qualifier: "$LATEST"}, sid: "b", left: -1},
		{name: "no policy", ref: Ref{Name: "f"}, sid: "b", code: awsproto.ResourceNotFoundException,
			msg: "No policy is associated with the given resource.", left: -1},
		{name: "alias", ref: Ref{Name: "f", Qualifier: "live"}, sid: "a", left: -1},
		{name: "version without policy", ref: Ref{Name: "f", Qualifier: "1"}, sid: "a", code: awsproto.ResourceNotFoundException,
			msg: "No policy is associated with the given resource.", left: -1},
		{name: "missing version", ref: Ref{Name: "f", Qualifier: "3"}, sid: "a", code: awsproto.ResourceNotFoundException,
			msg: "Function not found: " + fnARN + ":3", left: unchecked},
		{name: "missing alias", ref: Ref{Name: "f", Qualifier: "prod"}, sid: "a", code: awsproto.ResourceNotFoundException, left: unchecked},
		{name: "missing function", ref: Ref{Name: "g"}, sid: "a", code: awsproto.ResourceNotFoundException,
			msg: "No policy found for: arn:aws:lambda:us-east-1:123456789012:function:g", left: unchecked},
		{name: "no sid", ref: Ref{Name: "f"}, code: awsproto.ValidationException, left: unchecked},
		{name: "bad sid", ref: Ref{Name: "f"}, sid: "a/b", code: awsproto.ValidationException, left: unchecked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, rev, _ := r.GetPolicy(ctx, tt.ref)
			given := tt.rev
			if given == "current" {
				given = rev
			}
			err := r.RemovePermission(ctx, tt.ref, tt.sid, given)
			wantErr(t, err, tt.code, tt.msg)
			if tt.left == unchecked {
				return
			}
			doc, nrev, gerr := r.GetPolicy(ctx, tt.ref)
			if tt.left < 0 {
				wantErr(t, gerr, awsproto.ResourceNotFoundException, "The resource you requested does not exist.")
				return
			}
			var d policyDocument
			if gerr != nil || json.Unmarshal([]byte(doc), &d) != nil || len(d.Statement) != tt.left {
				t.Fatalf("policy after RemovePermission = %s, %v; want %d statements", doc, gerr, tt.left)
			}
			if (err == nil) != (nrev != rev) {
				t.Fatalf("revision %q -> %q after RemovePermission error %v", rev, nrev, err)
			}
		})
	}
}

func TestAddPermissionConcurrent(t *testing.T) {
	r := openTest(t)
	mustCreate(t, r, "f")
	ctx := context.Background()
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := r.AddPermission(ctx, Ref{Name: "f"}, AddPermissionInput{StatementId: fmt.Sprintf("s%d", i), Action: "lambda:InvokeFunction", Principal: "*"})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := r.Policy("f", ""); len(got) != n {
		t.Fatalf("policy has %d statements, want %d", len(got), n)
	}
}
