package e2e

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
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
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// keysNode is one kumo process of a cluster whose nodes share no key
// through their configuration: only the cluster secret.
type keysNode = clusterNode

// startKeysCluster starts n nodes of one cluster (zones a…, the process
// driver) with KUMO_CLUSTER_SECRET and nothing else in common: no root
// credentials, no KMS master key. They start in parallel.
func startKeysCluster(t *testing.T, n int) []*keysNode {
	return startClusterWith(t, n, clusterSpec{name: "e2e-keys", idPrefix: "k", env: []string{"KUMO_CLUSTER_SECRET=e2e-keys-secret"}})
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
// session from node 1 is accepted by node 2; an SNS notification's
// signature verifies with the certificate of every node; a node restarted
// with another KMS master key refuses to start.
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

	// SNS: a notification signed by the node that delivered it verifies
	// with the certificate every node serves.
	keysSNSSignature(t, nodes, root)

	// A node restarted with a KMS master key of its own refuses to start
	// rather than wrap keys the others cannot unwrap.
	last := nodes[len(nodes)-1]
	last.stop()
	other := strings.Repeat("5a", 32)
	s, err := tryLaunch(t, last.dataDir, append(last.env, "KUMO_KMS_MASTER_KEY="+other), last.args)
	if s != nil {
		s.expectedErrors = append(s.expectedErrors, "is not the cluster's")
	}
	if err == nil || s == nil || !strings.Contains(s.stderr.String(), "is not the cluster's") {
		t.Errorf("%s with another KMS master key: %v", last.id, err)
	}
}

// keysSNSSignature publishes through node 1 to a topic with an SQS
// subscription, receives the signed envelope through the last node and
// checks its signature with each node's certificate.
func keysSNSSignature(t *testing.T, nodes []*keysNode, root keysRoot) {
	ctx := t.Context()
	awsCfg := aws.Config{Region: region, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(root.AccessKeyID, root.SecretAccessKey, "")}
	sn := sns.NewFromConfig(awsCfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(nodes[0].url) })
	sq1 := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(nodes[0].url) })
	sqN := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(nodes[len(nodes)-1].url) })
	topic := must[*sns.CreateTopicOutput](t, "CreateTopic")(sn.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("keys-topic")})).TopicArn
	queueARN := "arn:aws:sqs:" + region + ":" + accountID + ":keys-q"
	policy, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]string{"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
		"Resource": queueARN, "Condition": map[string]any{"ArnEquals": map[string]string{"aws:SourceArn": *topic}}}}})
	q := must[*sqs.CreateQueueOutput](t, "CreateQueue")(sq1.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("keys-q"),
		Attributes: map[string]string{"Policy": string(policy)}}))
	must[*sns.SubscribeOutput](t, "Subscribe")(sn.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic, Protocol: aws.String("sqs"), Endpoint: aws.String(queueARN)}))
	must[*sns.PublishOutput](t, "Publish")(sn.Publish(ctx, &sns.PublishInput{TopicArn: topic, Message: aws.String("signed once"), Subject: aws.String("keys")}))
	var body string
	eventually(t, time.Minute, "the notification through "+nodes[len(nodes)-1].id, func() error {
		out, err := sqN.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 1})
		if err != nil {
			return err
		}
		if len(out.Messages) == 0 {
			return errors.New("no message yet")
		}
		body = aws.ToString(out.Messages[0].Body)
		return nil
	})
	var e struct {
		Type, MessageId, TopicArn, Subject, Message, Timestamp string
		SignatureVersion, Signature, SigningCertURL            string
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Signature == "" {
		t.Fatalf("envelope %q: %v", body, err)
	}
	var b strings.Builder
	for _, f := range []string{"Message", e.Message, "MessageId", e.MessageId, "Subject", e.Subject,
		"Timestamp", e.Timestamp, "TopicArn", e.TopicArn, "Type", e.Type} {
		b.WriteString(f + "\n")
	}
	sig, err := base64.StdEncoding.DecodeString(e.Signature)
	if err != nil {
		t.Fatal(err)
	}
	h, sum := crypto.SHA1, sha1.Sum([]byte(b.String())) //nolint:gosec // SignatureVersion 1
	digest := sum[:]
	if e.SignatureVersion == "2" {
		s256 := sha256.Sum256([]byte(b.String()))
		h, digest = crypto.SHA256, s256[:]
	}
	for _, nd := range nodes {
		resp, err := healthClient.Get(nd.url + "/SimpleNotificationService-kumo.pem")
		if err != nil {
			t.Fatal(err)
		}
		pb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		blk, _ := pem.Decode(pb)
		if blk == nil {
			t.Fatalf("%s's SNS certificate: %q", nd.id, pb)
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), h, digest, sig); err != nil {
			t.Errorf("the notification (signed by the node of %s) does not verify with %s's certificate: %v", e.SigningCertURL, nd.id, err)
		}
	}
}
