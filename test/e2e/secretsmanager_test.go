package e2e

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSecretsManager: secrets with the AWS CLI and boto3 (create, get,
// put, describe, list, delete with a recovery window, restore, force
// delete), stages moving, and no file of the data dir holding a value in
// plain text.
func TestSecretsManager(t *testing.T) {
	requireHostBoto3(t)
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	root := s.env()
	const (
		first  = "first-secret-value-93ac1f"
		second = "second-secret-value-0d7e2b"
		fromPy = "boto3-secret-value-5c44aa"
	)
	var created struct{ ARN, Name, VersionId string }
	awsJSON(t, root, &created, "secretsmanager", "create-secret", "--name", "app/db", "--secret-string", first, "--description", "db password")
	if !strings.HasPrefix(created.ARN, "arn:aws:secretsmanager:"+region+":"+accountID+":secret:app/db-") || len(created.ARN) != len("arn:aws:secretsmanager:"+region+":"+accountID+":secret:app/db-")+6 {
		t.Errorf("ARN %q", created.ARN)
	}
	var got struct {
		SecretString  string
		VersionStages []string
	}
	awsJSON(t, root, &got, "secretsmanager", "get-secret-value", "--secret-id", "app/db")
	if got.SecretString != first || strings.Join(got.VersionStages, ",") != "AWSCURRENT" {
		t.Errorf("get-secret-value: %+v", got)
	}
	awsOK(t, root, "secretsmanager", "put-secret-value", "--secret-id", created.ARN, "--secret-string", second)
	awsJSON(t, root, &got, "secretsmanager", "get-secret-value", "--secret-id", "app/db", "--version-stage", "AWSPREVIOUS")
	expectEq(t, "AWSPREVIOUS", got.SecretString, first)

	// boto3 sees the same secrets and answers, errors included.
	py := runCmd(t, root, nil, 60*time.Second, "python3", "-c", `
import boto3, botocore.exceptions
c = boto3.client("secretsmanager")
print(c.get_secret_value(SecretId="app/db")["SecretString"])
c.create_secret(Name="app/api", SecretString="`+fromPy+`")
print(c.get_secret_value(SecretId="app/api")["SecretString"])
print(sorted(x["Name"] for x in c.list_secrets()["SecretList"]))
try:
    c.delete_secret(SecretId="app/api", RecoveryWindowInDays=3)
except botocore.exceptions.ClientError as e:
    print(e.response["Error"]["Code"])
c.delete_secret(SecretId="app/api", RecoveryWindowInDays=7)
try:
    c.get_secret_value(SecretId="app/api")
except botocore.exceptions.ClientError as e:
    print(e.response["Error"]["Code"])
c.restore_secret(SecretId="app/api")
print(c.get_secret_value(SecretId="app/api")["SecretString"])
c.delete_secret(SecretId="app/api", ForceDeleteWithoutRecovery=True)
try:
    c.describe_secret(SecretId="app/api")
except botocore.exceptions.ClientError as e:
    print(e.response["Error"]["Code"])
`)
	want := second + "\n" + fromPy + "\n['app/api', 'app/db']\nInvalidParameterException\nInvalidRequestException\n" + fromPy + "\nResourceNotFoundException\n"
	if py.Code != 0 || py.Stdout != want {
		t.Errorf("boto3: %s\nwant stdout:\n%s", py, want)
	}
	var desc struct {
		Description        string
		VersionIdsToStages map[string][]string
	}
	awsJSON(t, root, &desc, "secretsmanager", "describe-secret", "--secret-id", "app/db")
	if desc.Description != "db password" || len(desc.VersionIdsToStages) != 2 {
		t.Errorf("describe-secret: %+v", desc)
	}
	r := runCmd(t, root, nil, 60*time.Second, "aws", "secretsmanager", "get-secret-value", "--secret-id", "nope")
	if r.Code == 0 || !strings.Contains(r.Stderr, "ResourceNotFoundException") {
		t.Errorf("get-secret-value of a missing secret: %s", r)
	}

	// No file of the data dir holds a value in plain text.
	s.stop()
	files := 0
	err := filepath.WalkDir(s.dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, v := range []string{first, second, fromPy} {
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
