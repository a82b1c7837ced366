package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// awsCLI runs the AWS CLI against one server.
type awsCLI struct {
	t   *testing.T
	s   *server
	env []string
}

func newCLI(t *testing.T, s *server) *awsCLI {
	return &awsCLI{t: t, s: s, env: s.env()}
}

// cliV2 reports whether the installed CLI is version 2, which wants
// --cli-binary-format for raw blob arguments.
func cliV2(t *testing.T) bool {
	r := runCmd(t, cleanEnv(), nil, 30*time.Second, "aws", "--version")
	return strings.HasPrefix(r.Stdout+r.Stderr, "aws-cli/2")
}

func (c *awsCLI) run(args ...string) cmdResult {
	c.t.Helper()
	full := append([]string{"aws", "--endpoint-url", c.s.url, "--region", region, "--output", "json"}, args...)
	return runCmd(c.t, c.env, nil, 90*time.Second, full...)
}

// ok runs a command that must succeed and returns its parsed JSON output
// (nil when the command prints nothing).
func (c *awsCLI) ok(args ...string) map[string]any {
	c.t.Helper()
	r := c.run(args...)
	if r.Code != 0 {
		c.t.Fatalf("command failed:\n%s", r)
	}
	if strings.TrimSpace(r.Stdout) == "" {
		return nil
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		c.t.Fatalf("output is not a JSON object: %v\n%s", err, r)
	}
	return out
}

// fail runs a command that must fail with the AWS error code wantCode.
// Service errors exit with 255 (CLI v1) or 254 (CLI v2).
func (c *awsCLI) fail(wantCode string, args ...string) cmdResult {
	c.t.Helper()
	r := c.run(args...)
	if r.Code != 254 && r.Code != 255 {
		c.t.Errorf("want exit code 254 or 255 with %s, got %d:\n%s", wantCode, r.Code, r)
		return r
	}
	if !strings.Contains(r.Stderr, "("+wantCode+")") {
		c.t.Errorf("want error code %s in stderr:\n%s", wantCode, r)
	}
	return r
}

// jget walks a decoded JSON value by object keys and array indexes ("0").
func jget(v any, path ...string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func jstr(v any, path ...string) string {
	s, _ := jget(v, path...).(string)
	return s
}

func jnum(v any, path ...string) float64 {
	f, _ := jget(v, path...).(float64)
	return f
}

func expectEq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestCLI(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	c := newCLI(t, s)
	var blobArgs []string
	if cliV2(t) {
		blobArgs = []string{"--cli-binary-format", "raw-in-base64-out"}
	}

	zip1, zip2, zip3 := handlerZip(t, "one"), handlerZip(t, "two"), handlerZip(t, "three")
	zip1Path, zip2Path, zip3Path := writeTemp(t, "one.zip", zip1), writeTemp(t, "two.zip", zip2), writeTemp(t, "three.zip", zip3)

	// Account settings.
	acct := c.ok("lambda", "get-account-settings")
	if jnum(acct, "AccountLimit", "ConcurrentExecutions") <= 0 || jnum(acct, "AccountLimit", "CodeSizeZipped") != 52428800 {
		t.Errorf("get-account-settings: unexpected AccountLimit: %v", acct["AccountLimit"])
	}

	// Create.
	create := append([]string{"lambda", "create-function", "--function-name", "cli-fn",
		"--runtime", "python3.12", "--handler", "app.handler", "--role", testRole,
		"--zip-file", "fileb://" + zip1Path, "--description", "made by the cli",
		"--timeout", "10", "--memory-size", "256",
		"--environment", `{"Variables":{"GREETING":"hello"}}`, "--tags", "team=kumo,env=test"}, blobArgs...)
	fn := c.ok(create...)
	expectEq(t, "FunctionName", jstr(fn, "FunctionName"), "cli-fn")
	expectEq(t, "FunctionArn", jstr(fn, "FunctionArn"), functionARN("cli-fn"))
	expectEq(t, "Runtime", jstr(fn, "Runtime"), "python3.12")
	expectEq(t, "Handler", jstr(fn, "Handler"), "app.handler")
	expectEq(t, "Role", jstr(fn, "Role"), testRole)
	expectEq(t, "Version", jstr(fn, "Version"), "$LATEST")
	expectEq(t, "CodeSha256", jstr(fn, "CodeSha256"), codeSha256(zip1))
	expectEq(t, "CodeSize", jnum(fn, "CodeSize"), float64(len(zip1)))
	expectEq(t, "MemorySize", jnum(fn, "MemorySize"), 256)
	expectEq(t, "Timeout", jnum(fn, "Timeout"), 10)
	expectEq(t, "Description", jstr(fn, "Description"), "made by the cli")
	expectEq(t, "Environment.Variables.GREETING", jstr(fn, "Environment", "Variables", "GREETING"), "hello")
	expectEq(t, "PackageType", jstr(fn, "PackageType"), "Zip")
	if st := jstr(fn, "State"); st != "Pending" && st != "Active" {
		t.Errorf("State after create = %q, want Pending (or Active)", st)
	}
	if jstr(fn, "RevisionId") == "" || jstr(fn, "LastModified") == "" {
		t.Errorf("create-function: RevisionId or LastModified missing: %v", fn)
	}

	c.ok("lambda", "wait", "function-active-v2", "--function-name", "cli-fn")

	// Get: configuration, tags and a code link that returns the same bytes.
	got := c.ok("lambda", "get-function", "--function-name", "cli-fn")
	expectEq(t, "Configuration.State", jstr(got, "Configuration", "State"), "Active")
	expectEq(t, "Configuration.LastUpdateStatus", jstr(got, "Configuration", "LastUpdateStatus"), "Successful")
	expectEq(t, "Code.RepositoryType", jstr(got, "Code", "RepositoryType"), "S3")
	expectEq(t, "Tags.team", jstr(got, "Tags", "team"), "kumo")
	loc := jstr(got, "Code", "Location")
	if !strings.HasPrefix(loc, s.url+"/") {
		t.Errorf("Code.Location %q is not on the server's host %s", loc, s.url)
	}
	if b, err := download(t.Context(), loc); err != nil {
		t.Errorf("downloading Code.Location: %v", err)
	} else if string(b) != string(zip1) {
		t.Errorf("Code.Location returned %d bytes that differ from the %d uploaded", len(b), len(zip1))
	}

	// The same function by full and partial ARN.
	for _, name := range []string{functionARN("cli-fn"), partialARN("cli-fn")} {
		cfg := c.ok("lambda", "get-function-configuration", "--function-name", name)
		expectEq(t, "FunctionName via "+name, jstr(cfg, "FunctionName"), "cli-fn")
	}

	// Errors.
	c.fail("ResourceConflictException", create...)
	c.fail("ResourceNotFoundException", "lambda", "get-function", "--function-name", "cli-missing")
	c.fail("ResourceNotFoundException", "lambda", "get-function-configuration", "--function-name", "cli-fn", "--qualifier", "42")
	c.fail("InvalidParameterValueException", append([]string{"lambda", "create-function", "--function-name", "cli-bad",
		"--runtime", "python2.99", "--handler", "app.handler", "--role", testRole, "--zip-file", "fileb://" + zip1Path}, blobArgs...)...)
	c.fail("InvalidParameterValueException", append([]string{"lambda", "create-function", "--function-name", "cli-bad",
		"--runtime", "python2.7", "--handler", "app.handler", "--role", testRole, "--zip-file", "fileb://" + zip1Path}, blobArgs...)...)
	c.fail("ValidationException", "lambda", "update-function-configuration", "--function-name", "cli-fn", "--timeout", "901")

	// Update code: dry run changes nothing.
	dry := c.ok(append([]string{"lambda", "update-function-code", "--function-name", "cli-fn", "--zip-file", "fileb://" + zip2Path, "--dry-run"}, blobArgs...)...)
	expectEq(t, "dry-run CodeSha256", jstr(dry, "CodeSha256"), codeSha256(zip2))
	cfg := c.ok("lambda", "get-function-configuration", "--function-name", "cli-fn")
	expectEq(t, "CodeSha256 after dry run", jstr(cfg, "CodeSha256"), codeSha256(zip1))
	rev := jstr(cfg, "RevisionId")

	c.fail("PreconditionFailedException", append([]string{"lambda", "update-function-code", "--function-name", "cli-fn",
		"--zip-file", "fileb://" + zip2Path, "--revision-id", "00000000-0000-4000-8000-000000000000"}, blobArgs...)...)

	// Update code with publish: version 1 holds zip2.
	upd := c.ok(append([]string{"lambda", "update-function-code", "--function-name", "cli-fn",
		"--zip-file", "fileb://" + zip2Path, "--revision-id", rev, "--publish"}, blobArgs...)...)
	expectEq(t, "update-function-code --publish CodeSha256", jstr(upd, "CodeSha256"), codeSha256(zip2))
	expectEq(t, "update-function-code --publish Version", jstr(upd, "Version"), "1")
	c.ok("lambda", "wait", "function-updated-v2", "--function-name", "cli-fn")

	// Update configuration, wait, read it back.
	conf := c.ok("lambda", "update-function-configuration", "--function-name", "cli-fn",
		"--memory-size", "512", "--timeout", "30", "--environment", `{"Variables":{"GREETING":"bonjour"}}`)
	if st := jstr(conf, "LastUpdateStatus"); st != "InProgress" && st != "Successful" {
		t.Errorf("LastUpdateStatus after update-function-configuration = %q, want InProgress", st)
	}
	c.ok("lambda", "wait", "function-updated-v2", "--function-name", "cli-fn")
	cfg = c.ok("lambda", "get-function-configuration", "--function-name", "cli-fn")
	expectEq(t, "MemorySize", jnum(cfg, "MemorySize"), 512)
	expectEq(t, "Timeout", jnum(cfg, "Timeout"), 30)
	expectEq(t, "GREETING", jstr(cfg, "Environment", "Variables", "GREETING"), "bonjour")
	expectEq(t, "LastUpdateStatus", jstr(cfg, "LastUpdateStatus"), "Successful")

	// Publish: version 2; publishing again with nothing changed returns it again.
	v2 := c.ok("lambda", "publish-version", "--function-name", "cli-fn", "--description", "second")
	expectEq(t, "publish-version Version", jstr(v2, "Version"), "2")
	expectEq(t, "publish-version FunctionArn", jstr(v2, "FunctionArn"), functionARN("cli-fn")+":2")
	expectEq(t, "publish-version MemorySize", jnum(v2, "MemorySize"), 512)
	again := c.ok("lambda", "publish-version", "--function-name", "cli-fn")
	expectEq(t, "publish-version with no change: Version", jstr(again, "Version"), "2")
	vers := c.ok("lambda", "list-versions-by-function", "--function-name", "cli-fn")
	expectEq(t, "list-versions-by-function", strings.Join(collect(vers, "Versions", "Version"), ","), "$LATEST,1,2")
	v1 := c.ok("lambda", "get-function-configuration", "--function-name", "cli-fn", "--qualifier", "1")
	expectEq(t, "version 1 CodeSha256", jstr(v1, "CodeSha256"), codeSha256(zip2))
	expectEq(t, "version 1 MemorySize", jnum(v1, "MemorySize"), 256)

	// A second function, for listing and pagination through Marker.
	c.ok(append([]string{"lambda", "create-function", "--function-name", "cli-fn2", "--runtime", "nodejs20.x",
		"--handler", "index.handler", "--role", testRole, "--zip-file", "fileb://" + zip3Path}, blobArgs...)...)
	list := c.ok("lambda", "list-functions", "--page-size", "1")
	expectEq(t, "list-functions --page-size 1", strings.Join(sorted(collect(list, "Functions", "FunctionName")), ","), "cli-fn,cli-fn2")
	page1 := c.ok("lambda", "list-functions", "--max-items", "1")
	token := jstr(page1, "NextToken")
	if len(collect(page1, "Functions", "FunctionName")) != 1 || token == "" {
		t.Errorf("list-functions --max-items 1: want one function and a NextToken, got %v", page1)
	} else {
		page2 := c.ok("lambda", "list-functions", "--max-items", "1", "--starting-token", token)
		names := append(collect(page1, "Functions", "FunctionName"), collect(page2, "Functions", "FunctionName")...)
		expectEq(t, "two pages of list-functions", strings.Join(sorted(names), ","), "cli-fn,cli-fn2")
	}
	all := c.ok("lambda", "list-functions", "--function-version", "ALL")
	var pairs []string
	fns, _ := jget(all, "Functions").([]any)
	for _, f := range fns {
		pairs = append(pairs, jstr(f, "FunctionName")+":"+jstr(f, "Version"))
	}
	expectEq(t, "list-functions --function-version ALL", strings.Join(sorted(pairs), ","), "cli-fn2:$LATEST,cli-fn:$LATEST,cli-fn:1,cli-fn:2")

}

// TestCLIAliasesPermissions drives aliases, tags, policies, concurrency and
// deletes through the CLI. Its function is set up with the SDK: version 1
// (128 MB) and version 2 (512 MB).
func TestCLIAliasesPermissions(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	c := newCLI(t, s)
	lc := newSDK(t, s)
	ctx := t.Context()
	if _, err := lc.CreateFunction(ctx, createInput("cli-fn", handlerZip(t, "aliases"))); err != nil {
		t.Fatal(err)
	}
	waitAllSettled(t, lc, "cli-fn")
	if _, err := lc.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("cli-fn")}); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("cli-fn"),
		MemorySize: aws.Int32(512)}); err != nil {
		t.Fatal(err)
	}
	waitAllSettled(t, lc, "cli-fn")
	if _, err := lc.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("cli-fn")}); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(functionARN("cli-fn")),
		Tags: map[string]string{"team": "kumo", "env": "test"}}); err != nil {
		t.Fatal(err)
	}

	// Aliases with a canary weight.
	alias := c.ok("lambda", "create-alias", "--function-name", "cli-fn", "--name", "live", "--function-version", "1",
		"--description", "prod", "--routing-config", `{"AdditionalVersionWeights":{"2":0.1}}`)
	expectEq(t, "create-alias AliasArn", jstr(alias, "AliasArn"), functionARN("cli-fn")+":live")
	expectEq(t, "create-alias weight", jnum(alias, "RoutingConfig", "AdditionalVersionWeights", "2"), 0.1)
	c.fail("ResourceConflictException", "lambda", "create-alias", "--function-name", "cli-fn", "--name", "live", "--function-version", "1")
	ga := c.ok("lambda", "get-alias", "--function-name", "cli-fn", "--name", "live")
	expectEq(t, "get-alias FunctionVersion", jstr(ga, "FunctionVersion"), "1")
	c.fail("PreconditionFailedException", "lambda", "update-alias", "--function-name", "cli-fn", "--name", "live",
		"--description", "x", "--revision-id", "00000000-0000-4000-8000-000000000000")
	ua := c.ok("lambda", "update-alias", "--function-name", "cli-fn", "--name", "live", "--description", "production",
		"--revision-id", jstr(ga, "RevisionId"))
	expectEq(t, "update-alias Description", jstr(ua, "Description"), "production")
	expectEq(t, "update-alias keeps the weight", jnum(ua, "RoutingConfig", "AdditionalVersionWeights", "2"), 0.1)
	c.ok("lambda", "create-alias", "--function-name", "cli-fn", "--name", "beta", "--function-version", "2")
	aliases := c.ok("lambda", "list-aliases", "--function-name", "cli-fn")
	expectEq(t, "list-aliases", strings.Join(sorted(collect(aliases, "Aliases", "Name")), ","), "beta,live")
	byAlias := c.ok("lambda", "get-function-configuration", "--function-name", "cli-fn", "--qualifier", "live")
	expectEq(t, "configuration through alias: Version", jstr(byAlias, "Version"), "1")
	byARN := c.ok("lambda", "get-function-configuration", "--function-name", functionARN("cli-fn")+":beta")
	expectEq(t, "configuration through alias ARN: Version", jstr(byARN, "Version"), "2")

	// Tags.
	arn := functionARN("cli-fn")
	c.ok("lambda", "tag-resource", "--resource", arn, "--tags", "owner=alice,cost=42")
	c.ok("lambda", "untag-resource", "--resource", arn, "--tag-keys", "env", "cost")
	tags := c.ok("lambda", "list-tags", "--resource", arn)
	if want := map[string]any{"team": "kumo", "owner": "alice"}; !reflect.DeepEqual(tags["Tags"], want) {
		t.Errorf("list-tags = %v, want %v", tags["Tags"], want)
	}

	// Resource policy.
	perm := c.ok("lambda", "add-permission", "--function-name", "cli-fn", "--statement-id", "s3-invoke",
		"--action", "lambda:InvokeFunction", "--principal", "s3.amazonaws.com", "--source-arn", "arn:aws:s3:::my-bucket")
	var stmt map[string]any
	if err := json.Unmarshal([]byte(jstr(perm, "Statement")), &stmt); err != nil {
		t.Errorf("add-permission Statement is not JSON: %v: %v", err, perm)
	}
	expectEq(t, "Statement.Sid", jstr(stmt, "Sid"), "s3-invoke")
	expectEq(t, "Statement.Resource", jstr(stmt, "Resource"), arn)
	expectEq(t, "Statement.Principal.Service", jstr(stmt, "Principal", "Service"), "s3.amazonaws.com")
	c.fail("ResourceConflictException", "lambda", "add-permission", "--function-name", "cli-fn", "--statement-id", "s3-invoke",
		"--action", "lambda:InvokeFunction", "--principal", "s3.amazonaws.com")
	pol := c.ok("lambda", "get-policy", "--function-name", "cli-fn")
	var policy map[string]any
	if err := json.Unmarshal([]byte(jstr(pol, "Policy")), &policy); err != nil {
		t.Errorf("get-policy Policy is not JSON: %v: %v", err, pol)
	}
	expectEq(t, "Policy.Version", jstr(policy, "Version"), "2012-10-17")
	expectEq(t, "Policy.Statement[0].Sid", jstr(policy, "Statement", "0", "Sid"), "s3-invoke")
	c.ok("lambda", "remove-permission", "--function-name", "cli-fn", "--statement-id", "s3-invoke")
	c.fail("ResourceNotFoundException", "lambda", "get-policy", "--function-name", "cli-fn")
	c.fail("ResourceNotFoundException", "lambda", "remove-permission", "--function-name", "cli-fn", "--statement-id", "s3-invoke")

	// Reserved concurrency.
	pc := c.ok("lambda", "put-function-concurrency", "--function-name", "cli-fn", "--reserved-concurrent-executions", "5")
	expectEq(t, "put-function-concurrency", jnum(pc, "ReservedConcurrentExecutions"), 5)
	gc := c.ok("lambda", "get-function-concurrency", "--function-name", "cli-fn")
	expectEq(t, "get-function-concurrency", jnum(gc, "ReservedConcurrentExecutions"), 5)
	gf := c.ok("lambda", "get-function", "--function-name", "cli-fn")
	expectEq(t, "get-function Concurrency", jnum(gf, "Concurrency", "ReservedConcurrentExecutions"), 5)
	c.ok("lambda", "delete-function-concurrency", "--function-name", "cli-fn")
	gc = c.ok("lambda", "get-function-concurrency", "--function-name", "cli-fn")
	if _, ok := gc["ReservedConcurrentExecutions"]; ok {
		t.Errorf("get-function-concurrency after delete = %v, want no ReservedConcurrentExecutions", gc)
	}

	// Deleting versions: one an alias points at is refused.
	c.fail("ResourceConflictException", "lambda", "delete-function", "--function-name", "cli-fn", "--qualifier", "1")
	c.fail("ResourceConflictException", "lambda", "delete-function", "--function-name", "cli-fn", "--qualifier", "2")
	c.ok("lambda", "delete-alias", "--function-name", "cli-fn", "--name", "beta")
	c.ok("lambda", "update-alias", "--function-name", "cli-fn", "--name", "live", "--routing-config", `{"AdditionalVersionWeights":{}}`)
	c.ok("lambda", "delete-function", "--function-name", "cli-fn", "--qualifier", "2")
	vers := c.ok("lambda", "list-versions-by-function", "--function-name", "cli-fn")
	expectEq(t, "versions after deleting 2", strings.Join(collect(vers, "Versions", "Version"), ","), "$LATEST,1")
	c.ok("lambda", "delete-alias", "--function-name", "cli-fn", "--name", "live")
	c.fail("ResourceNotFoundException", "lambda", "get-alias", "--function-name", "cli-fn", "--name", "live")

	// Delete the function (by partial ARN); everything about it is gone.
	c.ok("lambda", "delete-function", "--function-name", partialARN("cli-fn"))
	c.fail("ResourceNotFoundException", "lambda", "get-function", "--function-name", "cli-fn")
	c.fail("ResourceNotFoundException", "lambda", "delete-function", "--function-name", "cli-fn")
	c.fail("ResourceNotFoundException", "lambda", "list-versions-by-function", "--function-name", "cli-fn")
	list := c.ok("lambda", "list-functions")
	expectEq(t, "list-functions after delete", strings.Join(collect(list, "Functions", "FunctionName"), ","), "")
}

// collect returns the string member key of every object in the array at
// path.
func collect(v any, arrayPath, key string) []string {
	arr, _ := jget(v, arrayPath).([]any)
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		out = append(out, jstr(e, key))
	}
	return out
}

func sorted(s []string) []string {
	sort.Strings(s)
	return s
}

// TestGeneratedCredentials starts a server without credentials in its
// environment: it writes root-credentials.json, and `kumo env` prints
// exports the CLI works with.
func TestGeneratedCredentials(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	s := launch(t, dataDir, nil)

	b, err := os.ReadFile(filepath.Join(dataDir, "root-credentials.json"))
	if err != nil {
		t.Fatalf("root-credentials.json: %v", err)
	}
	var creds struct{ AccessKeyId, SecretAccessKey string }
	if err := json.Unmarshal(b, &creds); err != nil || creds.AccessKeyId == "" || creds.SecretAccessKey == "" {
		t.Fatalf("root-credentials.json is not {AccessKeyId, SecretAccessKey}: %v: %s", err, b)
	}
	if fi, err := os.Stat(filepath.Join(dataDir, "root-credentials.json")); err == nil && fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("root-credentials.json mode %v is readable by others", fi.Mode().Perm())
	}

	r := runCmd(t, cleanEnv(), nil, 30*time.Second, kumoBin, "env", "--data-dir", dataDir, "--endpoint", s.url)
	if r.Code != 0 {
		t.Fatalf("kumo env failed:\n%s", r)
	}
	exports := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(r.Stdout))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "export ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		exports[k] = strings.Trim(v, `'"`)
	}
	expectEq(t, "AWS_ACCESS_KEY_ID", exports["AWS_ACCESS_KEY_ID"], creds.AccessKeyId)
	expectEq(t, "AWS_SECRET_ACCESS_KEY", exports["AWS_SECRET_ACCESS_KEY"], creds.SecretAccessKey)
	expectEq(t, "AWS_ENDPOINT_URL", exports["AWS_ENDPOINT_URL"], s.url)
	expectEq(t, "AWS_DEFAULT_REGION", exports["AWS_DEFAULT_REGION"], region)

	env := append(cleanEnv(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1")
	for k, v := range exports {
		env = append(env, k+"="+v)
	}
	r = runCmd(t, env, nil, 60*time.Second, "aws", "lambda", "list-functions", "--output", "json")
	if r.Code != 0 {
		t.Fatalf("aws with the exports of kumo env failed:\n%s", r)
	}
	// The fixed test credentials are not accepted by this server.
	r = runCmd(t, s.env(), nil, 60*time.Second, "aws", "lambda", "list-functions", "--output", "json")
	if r.Code == 0 || !strings.Contains(r.Stderr, "UnrecognizedClientException") {
		t.Errorf("unknown access key: want UnrecognizedClientException:\n%s", r)
	}
}

// TestInsecureNoAuth checks that --insecure-no-auth accepts unsigned
// requests, and that `kumo env` prints exports the CLI works with.
func TestInsecureNoAuth(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "--insecure-no-auth")
	resp, err := http.Get(s.url + "/2015-03-31/functions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("unsigned ListFunctions with --insecure-no-auth: %s, want 200", resp.Status)
	}

	r := runCmd(t, cleanEnv(), nil, 30*time.Second, kumoBin, "env", "--data-dir", dataDir, "--endpoint", s.url)
	if r.Code != 0 {
		t.Fatalf("kumo env against a server with --insecure-no-auth failed:\n%s", r)
	}
	env := append(cleanEnv(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1")
	sc := bufio.NewScanner(strings.NewReader(r.Stdout))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "export "); ok {
			env = append(env, line)
		}
	}
	r = runCmd(t, env, nil, 60*time.Second, "aws", "lambda", "list-functions", "--output", "json")
	if r.Code != 0 {
		t.Fatalf("aws with the exports of kumo env failed:\n%s", r)
	}
}
