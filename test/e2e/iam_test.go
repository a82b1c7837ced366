package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// IAM policies enforced on every request, through the AWS CLI and boto3:
// users with their own keys, explicit denies, roles assumed with
// AssumeRole, and a function's execution role.

// policyDoc is an identity policy of one statement.
func policyDoc(effect string, actions []string, resources ...string) string {
	b, _ := json.Marshal(map[string]any{
		"Version":   "2012-10-17",
		"Statement": []any{map[string]any{"Effect": effect, "Action": actions, "Resource": resources}},
	})
	return string(b)
}

// trustDoc lets principal (an AWS ARN or a service name) assume a role.
func trustDoc(kind, principal string) string {
	b, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{"Effect": "Allow", "Action": "sts:AssumeRole",
			"Principal": map[string]string{kind: principal}}},
	})
	return string(b)
}

// awsOK runs the AWS CLI and fails the test if it fails.
func awsOK(t *testing.T, env []string, args ...string) cmdResult {
	t.Helper()
	r := runCmd(t, env, nil, 60*time.Second, append([]string{"aws", "--output", "json"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	return r
}

// newUser makes an IAM user with an access key and returns the CLI
// environment that signs as that user.
func newUser(t *testing.T, root []string, name string) []string {
	t.Helper()
	awsOK(t, root, "iam", "create-user", "--user-name", name)
	var k struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey, Status string }
	}
	awsJSON(t, root, &k, "iam", "create-access-key", "--user-name", name)
	if !strings.HasPrefix(k.AccessKey.AccessKeyId, "AKIA") || len(k.AccessKey.SecretAccessKey) != 40 || k.AccessKey.Status != "Active" {
		t.Fatalf("access key %+v", k.AccessKey)
	}
	var out []string
	for _, kv := range root {
		if !strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID=") && !strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY=") {
			out = append(out, kv)
		}
	}
	return append(out, "AWS_ACCESS_KEY_ID="+k.AccessKey.AccessKeyId, "AWS_SECRET_ACCESS_KEY="+k.AccessKey.SecretAccessKey)
}

// denial is what the CLI prints for an access denial of op: the error
// code and operation (the CLI may add its retry count after them), then
// AWS's message up to the resource; why is the message's end.
type denial struct{ code, op, principal, action, resource, why string }

func (d denial) lines() []string {
	return []string{fmt.Sprintf("An error occurred (%s) when calling the %s operation", d.code, d.op),
		fmt.Sprintf(": User: %s is not authorized to perform: %s on resource: %s%s", d.principal, d.action, d.resource, d.why)}
}

const noIdentityPolicy = " because no identity-based policy allows the "

// cliFails runs the CLI, which must fail with a stderr holding every one
// of want.
func cliFails(env []string, t *testing.T, want []string, args ...string) error {
	r := runCmd(t, env, nil, 60*time.Second, append([]string{"aws", "--output", "json"}, args...)...)
	if r.Code == 0 {
		return fmt.Errorf("succeeded, want %q: %s", want, r)
	}
	for _, w := range want {
		if !strings.Contains(r.Stderr, w) {
			return fmt.Errorf("want %q in: %s", w, r)
		}
	}
	return nil
}

// TestIAMUserPolicies: a user allowed only lambda:InvokeFunction on one
// function invokes it, and is denied everything else with AWS's message,
// through the CLI and boto3; an explicit Deny then beats the Allow. Policy
// changes take effect without a restart.
func TestIAMUserPolicies(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	root := s.env()
	lc := newSDK(t, s)
	deployFn(t, lc, "open", "iam", fnConfig{})
	deployFn(t, lc, "closed", "iam", fnConfig{})

	alice := newUser(t, root, "alice")
	aliceARN := "arn:aws:iam::" + accountID + ":user/alice"
	out := filepath.Join(t.TempDir(), "out.json")
	ev := writeTemp(t, "event.json", event("echo"))

	// No policy yet: nothing is allowed, not even the function.
	if err := cliFails(alice, t, denial{"AccessDeniedException", "Invoke", aliceARN, "lambda:InvokeFunction", functionARN("open"),
		noIdentityPolicy + "lambda:InvokeFunction action"}.lines(),
		"lambda", "invoke", "--function-name", "open", "--payload", "fileb://"+ev, out); err != nil {
		t.Error(err)
	}

	awsOK(t, root, "iam", "put-user-policy", "--user-name", "alice", "--policy-name", "invoke-open",
		"--policy-document", policyDoc("Allow", []string{"lambda:InvokeFunction"}, functionARN("open")))
	eventually(t, 30*time.Second, "alice invokes the function her policy names", func() error {
		r := runCmd(t, alice, nil, 60*time.Second, "aws", "lambda", "invoke", "--function-name", "open", "--payload", "fileb://"+ev, out)
		if r.Code != 0 {
			return errors.New(r.String())
		}
		return nil
	})
	if b, err := os.ReadFile(out); err != nil || !strings.Contains(string(b), `"tag":"iam"`) {
		t.Errorf("alice's invocation answered %q (%v)", b, err)
	}

	for _, c := range []struct {
		args                  []string
		code, op, action, res string
	}{
		{[]string{"lambda", "invoke", "--function-name", "closed", out}, "AccessDeniedException", "Invoke", "lambda:InvokeFunction", functionARN("closed")},
		{[]string{"lambda", "get-function", "--function-name", "open"}, "AccessDeniedException", "GetFunction", "lambda:GetFunction", functionARN("open")},
		{[]string{"lambda", "delete-function", "--function-name", "open"}, "AccessDeniedException", "DeleteFunction", "lambda:DeleteFunction", functionARN("open")},
		{[]string{"lambda", "list-functions"}, "AccessDeniedException", "ListFunctions", "lambda:ListFunctions", "*"},
		{[]string{"iam", "list-users"}, "AccessDenied", "ListUsers", "iam:ListUsers", "arn:aws:iam::" + accountID + ":user/"},
	} {
		d := denial{c.code, c.op, aliceARN, c.action, c.res, noIdentityPolicy + c.action + " action"}
		if err := cliFails(alice, t, d.lines(), c.args...); err != nil {
			t.Errorf("%s: %v", c.op, err)
		}
	}
	// The denied calls changed nothing.
	awsOK(t, root, "lambda", "get-function", "--function-name", "open")

	// boto3 sees the same answers as typed errors.
	py := runCmd(t, alice, nil, 60*time.Second, "python3", "-c", `
import boto3, botocore.exceptions
c = boto3.client("lambda")
print(c.invoke(FunctionName="open")["StatusCode"])
try:
    c.invoke(FunctionName="closed")
except botocore.exceptions.ClientError as e:
    print(e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
`)
	if py.Code != 0 || py.Stdout != "200\nAccessDeniedException 403\n" {
		t.Errorf("boto3 as alice: %s", py)
	}

	// An explicit Deny beats the Allow.
	awsOK(t, root, "iam", "put-user-policy", "--user-name", "alice", "--policy-name", "no-invoke",
		"--policy-document", policyDoc("Deny", []string{"lambda:Invoke*"}, "*"))
	eventually(t, 30*time.Second, "the explicit deny", func() error {
		return cliFails(alice, t, denial{"AccessDeniedException", "Invoke", aliceARN, "lambda:InvokeFunction", functionARN("open"),
			" with an explicit deny in an identity-based policy"}.lines(), "lambda", "invoke", "--function-name", "open", out)
	})
	// Taking it away restores the Allow.
	awsOK(t, root, "iam", "delete-user-policy", "--user-name", "alice", "--policy-name", "no-invoke")
	eventually(t, 30*time.Second, "the deny removed", func() error {
		r := runCmd(t, alice, nil, 60*time.Second, "aws", "lambda", "invoke", "--function-name", "open", out)
		if r.Code != 0 {
			return errors.New(r.String())
		}
		return nil
	})
}

// TestIAMAssumeRole: a user allowed sts:AssumeRole, and named by the role's
// trust policy, acts with the role's policies and nothing else; a user the
// trust policy does not name is refused.
func TestIAMAssumeRole(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	root := s.env()
	lc := newSDK(t, s)
	deployFn(t, lc, "target", "iam", fnConfig{})

	bob := newUser(t, root, "bob")
	carol := newUser(t, root, "carol")
	roleARN := "arn:aws:iam::" + accountID + ":role/reader"
	awsOK(t, root, "iam", "create-role", "--role-name", "reader",
		"--assume-role-policy-document", trustDoc("AWS", "arn:aws:iam::"+accountID+":user/bob"))
	awsOK(t, root, "iam", "attach-role-policy", "--role-name", "reader",
		"--policy-arn", "arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess")
	for _, u := range []string{"bob", "carol"} {
		awsOK(t, root, "iam", "put-user-policy", "--user-name", u, "--policy-name", "assume",
			"--policy-document", policyDoc("Allow", []string{"sts:AssumeRole"}, roleARN))
	}

	var assumed struct {
		Credentials     stsCreds
		AssumedRoleUser struct{ Arn string }
	}
	eventually(t, 30*time.Second, "bob assumes the role", func() error {
		r := runCmd(t, bob, nil, 60*time.Second, "aws", "--output", "json", "sts", "assume-role",
			"--role-arn", roleARN, "--role-session-name", "bob-reads")
		if r.Code != 0 {
			return errors.New(r.String())
		}
		return json.Unmarshal([]byte(r.Stdout), &assumed)
	})
	sessionARN := "arn:aws:sts::" + accountID + ":assumed-role/reader/bob-reads"
	if assumed.AssumedRoleUser.Arn != sessionARN {
		t.Errorf("assumed %+v", assumed.AssumedRoleUser)
	}
	reader := withCreds(bob, assumed.Credentials)
	var fns struct {
		Functions []struct{ FunctionName string }
	}
	awsJSON(t, reader, &fns, "lambda", "list-functions")
	if len(fns.Functions) != 1 || fns.Functions[0].FunctionName != "target" {
		t.Errorf("the role lists %+v", fns.Functions)
	}
	awsOK(t, reader, "lambda", "get-function", "--function-name", "target")
	if err := cliFails(reader, t, denial{"AccessDeniedException", "DeleteFunction", sessionARN, "lambda:DeleteFunction", functionARN("target"),
		noIdentityPolicy + "lambda:DeleteFunction action"}.lines(),
		"lambda", "delete-function", "--function-name", "target"); err != nil {
		t.Error(err)
	}
	// Bob's own keys still act with bob's policies alone.
	if err := cliFails(bob, t, []string{"(AccessDeniedException)"}, "lambda", "list-functions"); err != nil {
		t.Errorf("bob himself: %v", err)
	}

	// Carol may call AssumeRole but the role does not trust her.
	if err := cliFails(carol, t, denial{"AccessDenied", "AssumeRole", "arn:aws:iam::" + accountID + ":user/carol", "sts:AssumeRole", roleARN, ""}.lines(),
		"sts", "assume-role", "--role-arn", roleARN, "--role-session-name", "carol"); err != nil {
		t.Error(err)
	}
}

// TestIAMFunctionRole: a function whose execution role lacks
// lambda:ListFunctions is denied from inside its sandbox, and succeeds once
// a policy grants it, with no restart and no redeploy.
func TestIAMFunctionRole(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	root := s.env()
	lc := newSDK(t, s)
	awsOK(t, root, "iam", "create-role", "--role-name", "fn-role",
		"--assume-role-policy-document", trustDoc("Service", "lambda.amazonaws.com"))
	awsOK(t, root, "iam", "attach-role-policy", "--role-name", "fn-role",
		"--policy-arn", "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
	const name = "lister"
	deployFn(t, lc, name, "aws", fnConfig{Timeout: 30, Role: "arn:aws:iam::" + accountID + ":role/fn-role"})

	r := call(t, lc, name, "", event("aws"))
	body := string(r.Payload)
	if r.FunctionError == "" || !strings.Contains(body, "AccessDeniedException") ||
		!strings.Contains(body, "User: arn:aws:sts::"+accountID+":assumed-role/fn-role/"+name+" is not authorized to perform: lambda:ListFunctions") {
		t.Fatalf("ListFunctions without a grant: %s", r)
	}

	awsOK(t, root, "iam", "put-role-policy", "--role-name", "fn-role", "--policy-name", "list",
		"--policy-document", policyDoc("Allow", []string{"lambda:ListFunctions"}, "*"))
	eventually(t, 30*time.Second, "the granted ListFunctions", func() error {
		r := call(t, lc, name, "", event("aws"))
		if r.FunctionError != "" {
			return errors.New(string(r.Payload))
		}
		p := r.body(t)
		if fns, _ := p["functions"].([]any); len(fns) != 1 || fns[0] != name {
			return fmt.Errorf("functions %v", p["functions"])
		}
		return nil
	})
}

// grantTestRole makes the suite's execution role, testRole, an IAM role
// that Lambda and the account may assume, allowed to list functions, and
// waits until the server acts on it.
func grantTestRole(t *testing.T, s *server) {
	t.Helper()
	root := s.env()
	trust, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{"Effect": "Allow", "Action": "sts:AssumeRole",
			"Principal": map[string]string{"Service": "lambda.amazonaws.com", "AWS": "arn:aws:iam::" + accountID + ":root"}}},
	})
	awsOK(t, root, "iam", "create-role", "--role-name", "lambda-role", "--assume-role-policy-document", string(trust))
	awsOK(t, root, "iam", "put-role-policy", "--role-name", "lambda-role", "--policy-name", "list-functions",
		"--policy-document", policyDoc("Allow", []string{"lambda:ListFunctions"}, "*"))
	eventually(t, 30*time.Second, "the test role in force", func() error {
		var a struct{ Credentials stsCreds }
		r := runCmd(t, root, nil, 60*time.Second, "aws", "--output", "json", "sts", "assume-role",
			"--role-arn", testRole, "--role-session-name", "probe")
		if r.Code != 0 {
			return errors.New(r.String())
		}
		if err := json.Unmarshal([]byte(r.Stdout), &a); err != nil {
			return err
		}
		if r := runCmd(t, withCreds(root, a.Credentials), nil, 60*time.Second, "aws", "lambda", "list-functions"); r.Code != 0 {
			return errors.New(r.String())
		}
		return nil
	})
}
