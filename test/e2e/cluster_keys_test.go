package e2e

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// keysNode is one kumo process of a cluster whose nodes share no key
// through their configuration: only the cluster secret.
type keysNode struct {
	*server
	id, dataDir string
}

// startKeysCluster starts n nodes of one cluster (zones a…, the process
// driver) with KUMO_CLUSTER_SECRET and nothing else in common: no root
// credentials, no KMS master key. They start in parallel.
func startKeysCluster(t *testing.T, n int) []*keysNode {
	t.Helper()
	routes := make([]string, n)
	for i := range routes {
		a, err := freeAddr()
		if err != nil {
			t.Fatal(err)
		}
		routes[i] = a
	}
	nodes := make([]*keysNode, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range nodes {
		nd := &keysNode{id: fmt.Sprintf("k%d", i+1), dataDir: t.TempDir()}
		nodes[i] = nd
		args := []string{"--sandbox", "process", "--fsync", "interval", "--node-id", nd.id, "--zone", string(rune('a' + i)),
			"--cluster-name", "e2e-keys", "--cluster-listen", routes[i], "--peers", strings.Join(routes, ",")}
		wg.Add(1)
		go func() {
			defer wg.Done()
			nd.server, errs[i] = tryLaunch(t, nd.dataDir, []string{"KUMO_CLUSTER_SECRET=e2e-keys-secret"}, args)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %s: %v", nodes[i].id, err)
		}
	}
	return nodes
}

// keysRoot is the root key pair in a node's data dir.
type keysRoot struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
}

func readKeysRoot(t *testing.T, dataDir string) keysRoot {
	t.Helper()
	var c keysRoot
	b, err := os.ReadFile(filepath.Join(dataDir, "root-credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &c); err != nil || c.AccessKeyID == "" || c.SecretAccessKey == "" {
		t.Fatalf("root-credentials.json: %q, %v", b, err)
	}
	return c
}

// keysCLIEnv is the AWS CLI's environment for s with the root key c.
func keysCLIEnv(s *server, c keysRoot) []string {
	var out []string
	for _, kv := range s.env() {
		if !strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID=") && !strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY=") {
			out = append(out, kv)
		}
	}
	return append(out, "AWS_ACCESS_KEY_ID="+c.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+c.SecretAccessKey)
}

func keysLambda(t *testing.T, s *server, c keysRoot) *lambda.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(t.Context(), config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")),
		config.WithSharedConfigFiles([]string{}), config.WithSharedCredentialsFiles([]string{}), config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(s.url) })
}

// TestClusterKeys: three nodes given no root credentials and no KMS master
// key share the ones the first of them generated, through the store:
// every data dir holds the same root credentials and keys; a function
// whose environment variables were stored (encrypted under the KMS master
// key) through node 1 runs through nodes 2 and 3 with them intact; an STS
// session from node 1 is accepted by node 2; every node serves the same
// SNS signing certificate.
func TestClusterKeys(t *testing.T) {
	nodes := startKeysCluster(t, 3)
	ctx := t.Context()

	root := readKeysRoot(t, nodes[0].dataDir)
	for _, nd := range nodes[1:] {
		if c := readKeysRoot(t, nd.dataDir); c != root {
			t.Errorf("%s has root credentials %s, %s has %s", nd.id, c.AccessKeyID, nodes[0].id, root.AccessKeyID)
		}
	}
	for _, f := range []string{"session-token.key", "url-signing.key", "sns-signing.pem", "kms-master.key"} {
		first, err := os.ReadFile(filepath.Join(nodes[0].dataDir, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, nd := range nodes[1:] {
			if b, err := os.ReadFile(filepath.Join(nd.dataDir, f)); err != nil || !bytes.Equal(b, first) {
				t.Errorf("%s's %s is not %s's: %v", nd.id, f, nodes[0].id, err)
			}
		}
	}

	// Environment variables: stored encrypted through node 1, decrypted
	// by nodes 2 and 3 for their sandboxes.
	const mark = "env-mark-5d1e9a"
	lc1 := keysLambda(t, nodes[0].server, root)
	must[*lambda.CreateFunctionOutput](t, "CreateFunction")(lc1.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("keys-env"), Runtime: types.RuntimePython312, Role: aws.String(testRole), Handler: aws.String("app.handler"),
		Code: &types.FunctionCode{ZipFile: makeZip(t, zipEntry{Name: "app.py",
			Body: "import os\ndef handler(event, context):\n    return {'mark': os.environ.get('MARK'), 'other': os.environ.get('OTHER')}\n"})},
		MemorySize:  aws.Int32(128),
		Environment: &types.Environment{Variables: map[string]string{"MARK": mark, "OTHER": "two"}}}))
	waitActive(t, lc1, "keys-env")
	want := `{"mark": "` + mark + `", "other": "two"}`
	for _, nd := range nodes[1:] {
		lc := keysLambda(t, nd.server, root)
		eventually(t, time.Minute, nd.id+" sees the function Active", func() error {
			out, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("keys-env")})
			if err != nil {
				return err
			}
			if out.Configuration.State != types.StateActive {
				return fmt.Errorf("state %s", out.Configuration.State)
			}
			return nil
		})
		out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("keys-env")})
		if err != nil {
			t.Fatalf("invoke through %s: %v", nd.id, err)
		}
		if out.FunctionError != nil || string(out.Payload) != want {
			t.Errorf("invoke through %s: %s %s, want %s", nd.id, aws.ToString(out.FunctionError), out.Payload, want)
		}
	}

	// STS: a role session from node 1 works on node 2.
	trust, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": map[string]string{"AWS": "arn:aws:iam::" + accountID + ":root"}}}})
	awsOK(t, keysCLIEnv(nodes[0].server, root), "iam", "create-role", "--role-name", "keys-role", "--assume-role-policy-document", string(trust))
	st1 := stsClient(t, nodes[0].server, credentials.NewStaticCredentialsProvider(root.AccessKeyID, root.SecretAccessKey, ""))
	var session *sts.AssumeRoleOutput
	eventually(t, time.Minute, "AssumeRole through "+nodes[0].id, func() error {
		out, err := st1.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + accountID + ":role/keys-role"),
			RoleSessionName: aws.String("across")})
		session = out
		return err
	})
	cr := session.Credentials
	st2 := stsClient(t, nodes[1].server, credentials.NewStaticCredentialsProvider(*cr.AccessKeyId, *cr.SecretAccessKey, *cr.SessionToken))
	id := must[*sts.GetCallerIdentityOutput](t, "GetCallerIdentity through "+nodes[1].id)(st2.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if *id.Arn != *session.AssumedRoleUser.Arn {
		t.Errorf("identity through %s: %s, want %s", nodes[1].id, *id.Arn, *session.AssumedRoleUser.Arn)
	}

	// SNS: one signing key, so a signature made on any node verifies
	// with the certificate any node serves.
	var keys []string
	for _, nd := range nodes {
		resp, err := healthClient.Get(nd.url + "/SimpleNotificationService-kumo.pem")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s's SNS certificate: %q", nd.id, b)
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := x509.MarshalPKIXPublicKey(cert.PublicKey)
		keys = append(keys, string(pub))
	}
	if keys[1] != keys[0] || keys[2] != keys[0] {
		t.Error("the nodes sign SNS messages with different keys")
	}
}
