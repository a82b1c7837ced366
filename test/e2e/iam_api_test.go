package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestIAMCLI: the AWS CLI manages users, access keys, roles and policies
// on a server of another region than the one IAM's clients sign for; IAM's
// errors come with the CLI's exit code and IAM's messages; a key from
// create-access-key authenticates as its user (sts get-caller-identity)
// before and after a restart of the server.
func TestIAMCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir, "--sandbox", "process", "--region", "eu-west-1")
	c := newCLI(t, s)
	// The CLI signs IAM requests for us-east-1 (awsCLI's --region), as
	// it does against AWS; STS requests go to the server's region.

	user := c.ok("iam", "create-user", "--user-name", "deployer", "--path", "/ci/", "--tags", "Key=team,Value=core")
	expectEq(t, "user ARN", jstr(user, "User", "Arn"), "arn:aws:iam::000000000000:user/ci/deployer")
	if id := jstr(user, "User", "UserId"); !strings.HasPrefix(id, "AIDA") || len(id) != 21 {
		t.Errorf("user id %q", id)
	}
	r := c.fail("EntityAlreadyExists", "iam", "create-user", "--user-name", "deployer")
	expectContains(t, r.Stderr, "User with name deployer already exists.")
	r = c.fail("NoSuchEntity", "iam", "get-user", "--user-name", "nobody")
	expectContains(t, r.Stderr, "The user with name nobody cannot be found.")

	key := c.ok("iam", "create-access-key", "--user-name", "deployer")
	akid, secret := jstr(key, "AccessKey", "AccessKeyId"), jstr(key, "AccessKey", "SecretAccessKey")
	if !strings.HasPrefix(akid, "AKIA") || len(secret) != 40 {
		t.Fatalf("access key %v", key)
	}
	asUser := func() map[string]any {
		t.Helper()
		u := &awsCLI{t: t, s: s, env: append(c.env, "AWS_ACCESS_KEY_ID="+akid, "AWS_SECRET_ACCESS_KEY="+secret)}
		return u.ok("sts", "get-caller-identity", "--region", "eu-west-1")
	}
	expectEq(t, "caller with the user's key", jstr(asUser(), "Arn"), "arn:aws:iam::000000000000:user/ci/deployer")

	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	role := c.ok("iam", "create-role", "--role-name", "fn-role", "--path", "/service-role/", "--assume-role-policy-document", trust, "--max-session-duration", "7200")
	expectEq(t, "role ARN", jstr(role, "Role", "Arn"), "arn:aws:iam::000000000000:role/service-role/fn-role")
	if id := jstr(role, "Role", "RoleId"); !strings.HasPrefix(id, "AROA") {
		t.Errorf("role id %q", id)
	}
	r = c.fail("MalformedPolicyDocument", "iam", "create-role", "--role-name", "bad", "--assume-role-policy-document", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
	expectContains(t, r.Stderr, "MalformedPolicyDocument")

	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}]}`
	c.ok("iam", "put-role-policy", "--role-name", "fn-role", "--policy-name", "list", "--policy-document", policy)
	got := c.ok("iam", "get-role-policy", "--role-name", "fn-role", "--policy-name", "list")
	// The CLI decodes IAM's URL-encoded documents into JSON.
	if b, _ := json.Marshal(jget(got, "PolicyDocument")); !strings.Contains(string(b), "lambda:ListFunctions") {
		t.Errorf("get-role-policy document %s", b)
	}
	r = c.fail("MalformedPolicyDocument", "iam", "put-role-policy", "--role-name", "fn-role", "--policy-name", "p", "--policy-document", trust)
	expectContains(t, r.Stderr, "Policy document should not specify a principal.")

	const basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
	c.ok("iam", "attach-role-policy", "--role-name", "fn-role", "--policy-arn", basic)
	attached := c.ok("iam", "list-attached-role-policies", "--role-name", "fn-role")
	expectEq(t, "attached policy", jstr(attached, "AttachedPolicies", "0", "PolicyArn"), basic)
	expectEq(t, "attached policy name", jstr(attached, "AttachedPolicies", "0", "PolicyName"), "AWSLambdaBasicExecutionRole")
	c.fail("NoSuchEntity", "iam", "attach-role-policy", "--role-name", "fn-role", "--policy-arn", "arn:aws:iam::aws:policy/NoSuchPolicy")
	doc := c.ok("iam", "get-policy-version", "--policy-arn", basic, "--version-id", "v1")
	if b, _ := json.Marshal(jget(doc, "PolicyVersion", "Document")); !strings.Contains(string(b), "logs:CreateLogStream") {
		t.Errorf("AWSLambdaBasicExecutionRole document %s", b)
	}

	r = c.fail("DeleteConflict", "iam", "delete-role", "--role-name", "fn-role")
	expectContains(t, r.Stderr, "Cannot delete entity, must delete policies first.")
	r = c.fail("DeleteConflict", "iam", "delete-user", "--user-name", "deployer")
	expectContains(t, r.Stderr, "Cannot delete entity, must delete access keys first.")

	// Everything is there after a restart, and the key still works.
	s.stop()
	s = startServer(t, dir, "--sandbox", "process", "--region", "eu-west-1")
	c = newCLI(t, s)
	expectEq(t, "caller after a restart", jstr(asUser(), "Arn"), "arn:aws:iam::000000000000:user/ci/deployer")
	gr := c.ok("iam", "get-role", "--role-name", "fn-role")
	expectEq(t, "max session after a restart", jnum(gr, "Role", "MaxSessionDuration"), 7200)
	if b, _ := json.Marshal(jget(gr, "Role", "AssumeRolePolicyDocument")); !strings.Contains(string(b), "lambda.amazonaws.com") {
		t.Errorf("trust policy after a restart %s", b)
	}

	c.ok("iam", "detach-role-policy", "--role-name", "fn-role", "--policy-arn", basic)
	c.ok("iam", "delete-role-policy", "--role-name", "fn-role", "--policy-name", "list")
	c.ok("iam", "delete-role", "--role-name", "fn-role")
	c.fail("NoSuchEntity", "iam", "get-role", "--role-name", "fn-role")
	c.ok("iam", "delete-access-key", "--user-name", "deployer", "--access-key-id", akid)
	c.ok("iam", "delete-user", "--user-name", "deployer")
	u := &awsCLI{t: t, s: s, env: append(c.env, "AWS_ACCESS_KEY_ID="+akid, "AWS_SECRET_ACCESS_KEY="+secret)}
	u.fail("InvalidClientTokenId", "sts", "get-caller-identity", "--region", "eu-west-1")
}

func expectContains(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("want %q in:\n%s", sub, s)
	}
}
