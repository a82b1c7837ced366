package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	knet "github.com/kumo-run/kumo/internal/netns"
)

// stsCreds is the Credentials member of the CLI's assume-role and
// get-session-token answers.
type stsCreds struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

// withCreds is env with the root key replaced by temporary credentials.
func withCreds(env []string, c stsCreds) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID=") && !strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY=") {
			out = append(out, kv)
		}
	}
	return append(out, "AWS_ACCESS_KEY_ID="+c.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+c.SecretAccessKey, "AWS_SESSION_TOKEN="+c.SessionToken)
}

func awsJSON(t *testing.T, env []string, v any, args ...string) {
	t.Helper()
	r := runCmd(t, env, nil, 60*time.Second, append([]string{"aws", "--output", "json"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	if err := json.Unmarshal([]byte(r.Stdout), v); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
}

// TestSTSCLI: the AWS CLI asks STS who it is, assumes a role, and uses the
// role's credentials against STS and Lambda; a changed token is refused
// in each service's own protocol.
func TestSTSCLI(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	grantTestRole(t, s)
	env := s.env()

	var id struct{ UserId, Account, Arn string }
	awsJSON(t, env, &id, "sts", "get-caller-identity", "--endpoint-url", s.url)
	if id.Arn != "arn:aws:iam::"+accountID+":root" || id.Account != accountID || id.UserId != accountID {
		t.Errorf("root identity %+v", id)
	}

	var assumed struct {
		Credentials     stsCreds
		AssumedRoleUser struct{ AssumedRoleId, Arn string }
	}
	awsJSON(t, env, &assumed, "sts", "assume-role", "--role-arn", testRole, "--role-session-name", "cli-session", "--duration-seconds", "900")
	c := assumed.Credentials
	if !strings.HasPrefix(c.AccessKeyID, "ASIA") || c.SessionToken == "" {
		t.Fatalf("assume-role credentials %+v", c)
	}
	wantARN := "arn:aws:sts::" + accountID + ":assumed-role/lambda-role/cli-session"
	if assumed.AssumedRoleUser.Arn != wantARN {
		t.Errorf("assumed role %+v", assumed.AssumedRoleUser)
	}
	roleEnv := withCreds(env, c)
	awsJSON(t, roleEnv, &id, "sts", "get-caller-identity")
	if id.Arn != wantARN || id.UserId != assumed.AssumedRoleUser.AssumedRoleId {
		t.Errorf("role identity %+v", id)
	}
	var fns struct{ Functions []any }
	awsJSON(t, roleEnv, &fns, "lambda", "list-functions")

	// GetSessionToken, then a tampered token for both protocols.
	var st struct{ Credentials stsCreds }
	awsJSON(t, env, &st, "sts", "get-session-token", "--duration-seconds", "900")
	awsJSON(t, withCreds(env, st.Credentials), &id, "sts", "get-caller-identity")
	if id.Arn != "arn:aws:iam::"+accountID+":root" {
		t.Errorf("session token identity %+v", id)
	}
	bad := c
	bad.SessionToken = tamper(c.SessionToken)
	for _, tc := range []struct {
		args []string
		code string
	}{
		{[]string{"sts", "get-caller-identity"}, "InvalidClientTokenId"},
		{[]string{"lambda", "list-functions"}, "UnrecognizedClientException"},
	} {
		r := runCmd(t, withCreds(env, bad), nil, 60*time.Second, append([]string{"aws"}, tc.args...)...)
		if r.Code == 0 || !strings.Contains(r.Stderr, "("+tc.code+")") {
			t.Errorf("tampered token, %s: %s", tc.args[0], r)
		}
	}
}

// tamper changes one character in the middle of a token.
func tamper(tok string) string {
	b := []byte(tok)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// TestSTSSessionSurvivesRestart: session tokens are sealed with a key in
// the data dir (mode 0600), so credentials minted before a restart work
// after it; they are not kept in memory.
func TestSTSSessionSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir, "--sandbox", "process")
	grantTestRole(t, s)
	root := stsClient(t, s, credentials.NewStaticCredentialsProvider(rootAccessKeyID, rootSecretAccessKey, ""))
	out := must[*sts.AssumeRoleOutput](t, "AssumeRole")(root.AssumeRole(t.Context(), &sts.AssumeRoleInput{
		RoleArn: aws.String(testRole), RoleSessionName: aws.String("restart")}))
	fi, err := os.Stat(filepath.Join(dir, "session-token.key"))
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("session-token.key: %v %v", fi, err)
	}
	s.stop()

	s2 := startServer(t, dir, "--sandbox", "process")
	cr := out.Credentials
	role := stsClient(t, s2, credentials.NewStaticCredentialsProvider(*cr.AccessKeyId, *cr.SecretAccessKey, *cr.SessionToken))
	id := must[*sts.GetCallerIdentityOutput](t, "GetCallerIdentity after a restart")(role.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}))
	if *id.Arn != *out.AssumedRoleUser.Arn || *id.UserId != *out.AssumedRoleUser.AssumedRoleId {
		t.Errorf("identity after a restart: %s %s", *id.Arn, *id.UserId)
	}
}

func stsClient(t *testing.T, s *server, p aws.CredentialsProvider) *sts.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(t.Context(), config.WithRegion(region), config.WithCredentialsProvider(p),
		config.WithSharedConfigFiles([]string{}), config.WithSharedCredentialsFiles([]string{}), config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	return sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(s.url) })
}

// TestFunctionRoleCredentials: a function calls STS and Lambda with
// aws-sdk-go-v2 configured from its environment only, and is its
// execution role's session named after the function. The process driver
// runs it: its sandboxes share the host's network, so the edge is on
// loopback.
func TestFunctionRoleCredentials(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	grantTestRole(t, s)
	lc := newSDK(t, s)
	const name = "role-caller"
	deployFn(t, lc, name, "aws", fnConfig{Timeout: 30})

	p := call(t, lc, name, "", event("aws")).ok(t, "aws")
	if want := "arn:aws:sts::" + accountID + ":assumed-role/lambda-role/" + name; p["arn"] != want {
		t.Errorf("the function is %v, want %s", p["arn"], want)
	}
	if uid, _ := p["userId"].(string); !strings.HasPrefix(uid, "AROA") || !strings.HasSuffix(uid, ":"+name) {
		t.Errorf("userId %v", p["userId"])
	}
	if ak, _ := p["accessKeyId"].(string); !strings.HasPrefix(ak, "ASIA") {
		t.Errorf("access key id %v", p["accessKeyId"])
	}
	if p["endpoint"] != s.url || p["account"] != accountID {
		t.Errorf("endpoint %v, account %v", p["endpoint"], p["account"])
	}
	fns, _ := p["functions"].([]any)
	if len(fns) != 1 || fns[0] != name {
		t.Errorf("ListFunctions from inside: %v", p["functions"])
	}

	// boto3 and the AWS CLI with nothing but the sandbox's AWS_*
	// variables: the same identity.
	env := call(t, lc, name, "", event("echo")).ok(t, "echo")["env"].(map[string]any)
	clientEnv := append(cleanEnv(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1", "PYTHONWARNINGS=ignore")
	for k, v := range env {
		if strings.HasPrefix(k, "AWS_") && !strings.HasPrefix(k, "AWS_LAMBDA_") {
			clientEnv = append(clientEnv, k+"="+v.(string))
		}
	}
	py := runCmd(t, clientEnv, nil, 60*time.Second, "python3", "-c",
		"import boto3; print(boto3.client('sts').get_caller_identity()['Arn']); "+
			"print(','.join(f['FunctionName'] for f in boto3.client('lambda').list_functions()['Functions']))")
	if py.Code != 0 || py.Stdout != p["arn"].(string)+"\n"+name+"\n" {
		t.Errorf("boto3 with the sandbox's environment: %s", py)
	}
	var id struct{ Arn string }
	awsJSON(t, clientEnv, &id, "sts", "get-caller-identity")
	if id.Arn != p["arn"] {
		t.Errorf("the CLI with the sandbox's environment is %s", id.Arn)
	}

	// The function cannot replace its role's credentials with its own.
	if _, err := lc.UpdateFunctionConfiguration(t.Context(), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name),
		Environment: &types.Environment{Variables: map[string]string{"AWS_SESSION_TOKEN": "mine"}}}); err == nil {
		t.Error("a function was given its own AWS_SESSION_TOKEN")
	}
}

// TestFunctionRoleCredentialsOnTheNetwork: an isolated sandbox on the
// sandbox network reaches the edge at the bridge address with its role's
// credentials, through aws-sdk-go-v2 configured from its environment alone.
func TestFunctionRoleCredentialsOnTheNetwork(t *testing.T) {
	requireLinuxDriver(t)
	if err := knet.Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "linux")
	edgeURL := logValue(t, s, "sandboxes reach the edge", "url")
	grantTestRole(t, s)
	lc := newSDK(t, s)
	const name = "net-role-caller"
	deployFn(t, lc, name, "aws", fnConfig{Timeout: 30, Memory: 1024})
	p := call(t, lc, name, "", event("aws")).ok(t, "aws")
	if want := "arn:aws:sts::" + accountID + ":assumed-role/lambda-role/" + name; p["arn"] != want {
		t.Errorf("the function is %v, want %s", p["arn"], want)
	}
	if p["endpoint"] != edgeURL {
		t.Errorf("AWS_ENDPOINT_URL in the sandbox is %v, want the bridge's %s", p["endpoint"], edgeURL)
	}
	if fns, _ := p["functions"].([]any); len(fns) != 1 || fns[0] != name {
		t.Errorf("ListFunctions from inside: %v", p["functions"])
	}
}
