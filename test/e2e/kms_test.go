package e2e

import (
	"bytes"
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// pyKMSHelper decrypts, with the function's role, a value the console's
// "encryption helpers" encrypted into an environment variable.
const pyKMSHelper = `import base64
import os

import boto3


def handler(event, context):
    blob = base64.b64decode(os.environ["ENCRYPTED"])
    kms = boto3.client("kms")
    out = kms.decrypt(CiphertextBlob=blob,
                      EncryptionContext={"LambdaFunctionName": os.environ["AWS_LAMBDA_FUNCTION_NAME"]})
    return {"decrypted": out["Plaintext"].decode(), "key": out["KeyId"], "plain": os.environ["PLAIN_MARK"]}
`

// TestKMSEncryptionHelpers: a value encrypted with aws kms encrypt and put
// in an environment variable is decrypted inside a Python function with
// boto3 and the function's role; the function's variables are stored
// encrypted (no file of the data dir holds them), while
// GetFunctionConfiguration shows them; a function whose key is disabled
// fails with KMSDisabledException (502).
func TestKMSEncryptionHelpers(t *testing.T) {
	requireHostBoto3(t)
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	root := s.env()
	lc := newSDK(t, s)
	grantTestRole(t, s)
	awsOK(t, root, "iam", "put-role-policy", "--role-name", "lambda-role", "--policy-name", "kms-decrypt",
		"--policy-document", policyDoc("Allow", []string{"kms:Decrypt"}, "*"))

	const (
		secret = "helper-secret-7f3a9c2e51"
		plain  = "plain-env-value-b84d06"
		fn     = "kms-helper"
	)
	var key struct{ KeyMetadata struct{ KeyId, Arn string } }
	awsJSON(t, root, &key, "kms", "create-key", "--description", "encryption helpers")
	awsOK(t, root, "kms", "create-alias", "--alias-name", "alias/helpers", "--target-key-id", key.KeyMetadata.KeyId)
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	var enc struct{ CiphertextBlob, KeyId string }
	awsJSON(t, root, &enc, "kms", "encrypt", "--key-id", "alias/helpers", "--plaintext", "fileb://"+secretFile,
		"--encryption-context", "LambdaFunctionName="+fn)
	if enc.KeyId != key.KeyMetadata.Arn || enc.CiphertextBlob == "" {
		t.Fatalf("aws kms encrypt: %+v", enc)
	}
	if b, _ := base64.StdEncoding.DecodeString(enc.CiphertextBlob); bytes.Contains(b, []byte(secret)) {
		t.Fatal("the ciphertext holds the plaintext")
	}

	must[*lambda.CreateFunctionOutput](t, "CreateFunction")(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String(fn), Runtime: types.RuntimePython312, Role: aws.String(testRole), Handler: aws.String("app.handler"),
		Code:        &types.FunctionCode{ZipFile: makeZip(t, zipEntry{Name: "app.py", Body: pyKMSHelper})},
		Timeout:     aws.Int32(30),
		Environment: &types.Environment{Variables: map[string]string{"ENCRYPTED": enc.CiphertextBlob, "PLAIN_MARK": plain}},
	}))
	waitActive(t, lc, fn)
	p := call(t, lc, fn, "", []byte(`{}`)).ok(t, "decrypt in the function")
	expectEq(t, "decrypted in the function", jstr(p, "decrypted"), secret)
	expectEq(t, "decrypting key", jstr(p, "key"), key.KeyMetadata.Arn)
	expectEq(t, "plain variable in the function", jstr(p, "plain"), plain)

	// GetFunctionConfiguration shows the variables, as AWS does, and no
	// KMSKeyArn for the AWS managed key.
	cfg := must[*lambda.GetFunctionConfigurationOutput](t, "GetFunctionConfiguration")(lc.GetFunctionConfiguration(t.Context(),
		&lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fn)}))
	if cfg.Environment == nil || cfg.Environment.Variables["PLAIN_MARK"] != plain || cfg.KMSKeyArn != nil {
		t.Errorf("GetFunctionConfiguration: %+v KMSKeyArn %v", cfg.Environment, cfg.KMSKeyArn)
	}
	var aliases struct{ Aliases []struct{ AliasName string } }
	awsJSON(t, root, &aliases, "kms", "list-aliases")
	if !strings.Contains(strings.Join(collectAliases(aliases.Aliases), ","), "alias/aws/lambda") {
		t.Errorf("aliases %v: no alias/aws/lambda", aliases.Aliases)
	}

	// A function on a customer key that is then disabled cannot start.
	awsOK(t, root, "kms", "create-alias", "--alias-name", "alias/fn-env", "--target-key-id", key.KeyMetadata.KeyId)
	must[*lambda.CreateFunctionOutput](t, "CreateFunction on a customer key")(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String("kms-own-key"), Runtime: types.RuntimePython312, Role: aws.String(testRole), Handler: aws.String("app.handler"),
		Code:        &types.FunctionCode{ZipFile: makeZip(t, zipEntry{Name: "app.py", Body: "def handler(e, c):\n    return {\"ok\": True}\n"})},
		Environment: &types.Environment{Variables: map[string]string{"PLAIN_MARK": plain}}, KMSKeyArn: aws.String(key.KeyMetadata.Arn),
	}))
	waitActive(t, lc, "kms-own-key")
	call(t, lc, "kms-own-key", "", []byte(`{}`)).ok(t, "the customer key enabled")
	own := must[*lambda.GetFunctionConfigurationOutput](t, "GetFunctionConfiguration")(lc.GetFunctionConfiguration(t.Context(),
		&lambda.GetFunctionConfigurationInput{FunctionName: aws.String("kms-own-key")}))
	expectEq(t, "KMSKeyArn", aws.ToString(own.KMSKeyArn), key.KeyMetadata.Arn)
	awsOK(t, root, "kms", "disable-key", "--key-id", key.KeyMetadata.KeyId)
	_, err := lc.Invoke(t.Context(), &lambda.InvokeInput{FunctionName: aws.String("kms-own-key")})
	expectAPIError(t, "Invoke with the key disabled", err, "KMSDisabledException", 502)
	awsOK(t, root, "kms", "enable-key", "--key-id", key.KeyMetadata.KeyId)
	call(t, lc, "kms-own-key", "", []byte(`{}`)).ok(t, "the customer key enabled again")

	// No file of the data dir holds a variable's value in plain text: not
	// the registry's documents, not the store's raw files.
	s.stop()
	files := 0
	err = filepath.WalkDir(s.dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, v := range []string{plain, secret, enc.CiphertextBlob} {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s holds %q in plain text", path, v)
			}
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("walking the data dir: %d files, %v", files, err)
	}
}

func collectAliases(as []struct{ AliasName string }) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.AliasName
	}
	return out
}

// TestKMSMasterKeyRotation: the master key from a file, rotated by
// starting with the new key and the old one as the previous: afterwards
// the old key is not needed; a server given the wrong master key cannot
// use the keys (KeyUnavailableException) and changes nothing.
func TestKMSMasterKeyRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keys := t.TempDir()
	oldKey, newKey := filepath.Join(keys, "old.key"), filepath.Join(keys, "new.key")
	if err := os.WriteFile(oldKey, []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(newKey, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	plainFile := filepath.Join(keys, "plain")
	if err := os.WriteFile(plainFile, []byte("rotate-me"), 0o600); err != nil {
		t.Fatal(err)
	}
	blobFile := filepath.Join(keys, "blob")
	decrypt := func(s *server) cmdResult {
		return runCmd(t, s.env(), nil, 60*time.Second, "aws", "--output", "text", "kms", "decrypt",
			"--ciphertext-blob", "fileb://"+blobFile, "--query", "Plaintext")
	}
	s := startServer(t, dir, "--sandbox", "process", "--kms-master-key-file", oldKey)
	var key struct{ KeyMetadata struct{ KeyId string } }
	awsJSON(t, s.env(), &key, "kms", "create-key")
	var enc struct{ CiphertextBlob string }
	awsJSON(t, s.env(), &enc, "kms", "encrypt", "--key-id", key.KeyMetadata.KeyId, "--plaintext", "fileb://"+plainFile)
	raw, _ := base64.StdEncoding.DecodeString(enc.CiphertextBlob)
	if err := os.WriteFile(blobFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "kms-master.key")); err == nil {
		t.Error("a master key was generated into the data dir although a file was given")
	}
	s.stop()

	s = startServer(t, dir, "--sandbox", "process", "--kms-master-key-file", newKey)
	s.expectedErrors = append(s.expectedErrors, "kms: key material unavailable")
	if r := decrypt(s); r.Code == 0 || !strings.Contains(r.Stderr, "KeyUnavailableException") {
		t.Errorf("decrypt with the wrong master key: %s", r)
	}
	s.stop()
	s = startServer(t, dir, "--sandbox", "process", "--kms-master-key-file", newKey, "--kms-previous-master-key-file", oldKey)
	if r := decrypt(s); r.Code != 0 {
		t.Errorf("decrypt during the rotation: %s", r)
	}
	s.stop()
	s = startServer(t, dir, "--sandbox", "process", "--kms-master-key-file", newKey)
	r := decrypt(s)
	if got, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(r.Stdout)); r.Code != 0 || string(got) != "rotate-me" {
		t.Errorf("decrypt after the rotation with the new master key alone: %s", r)
	}
}
