package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestS3CLI: the AWS CLI makes a bucket, copies a file above its multipart
// threshold (8 MB) up and down byte for byte, lists, heads, syncs a tree up
// and down, removes.
func TestS3CLI(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	env := s.env()
	dir := t.TempDir()
	data := make([]byte, 20<<20+777)
	rand.Read(data)
	src := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	aws := func(args ...string) string {
		t.Helper()
		r := runCmd(t, env, nil, 3*time.Minute, append([]string{"aws", "--endpoint-url", s.url}, args...)...)
		if r.Code != 0 {
			t.Fatalf("aws %s:\n%s", strings.Join(args, " "), r)
		}
		return r.Stdout
	}
	aws("s3", "mb", "s3://cli-bucket")
	aws("s3", "cp", src, "s3://cli-bucket/dir/big.bin")
	aws("s3", "cp", "-", "s3://cli-bucket/small.txt") // stdin is empty: a 0-byte object
	dst := filepath.Join(dir, "back.bin")
	aws("s3", "cp", "s3://cli-bucket/dir/big.bin", dst)
	back, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(back, data) {
		t.Fatalf("downloaded file differs (%d bytes, %v)", len(back), err)
	}
	if out := aws("s3", "ls", "s3://cli-bucket/"); !strings.Contains(out, "PRE dir/") || !strings.Contains(out, "small.txt") {
		t.Fatalf("ls:\n%s", out)
	}
	if out := aws("s3", "ls", "--recursive", "s3://cli-bucket"); !strings.Contains(out, "20972297 dir/big.bin") {
		t.Fatalf("ls --recursive:\n%s", out)
	}
	var head struct {
		ContentLength int64
		ETag          string
	}
	if err := json.Unmarshal([]byte(aws("s3api", "head-object", "--bucket", "cli-bucket", "--key", "dir/big.bin")), &head); err != nil {
		t.Fatal(err)
	}
	if head.ContentLength != int64(len(data)) || !strings.HasSuffix(head.ETag, `-3"`) {
		t.Fatalf("head-object: %+v (the CLI uploads 8 MiB parts: 3 of them)", head)
	}
	r := runCmd(t, env, nil, time.Minute, "aws", "--endpoint-url", s.url, "s3", "rb", "s3://cli-bucket")
	if r.Code == 0 || !strings.Contains(r.Stderr, "BucketNotEmpty") {
		t.Fatalf("rb of a full bucket:\n%s", r)
	}
	// sync up a tree and down again.
	tree := filepath.Join(dir, "tree")
	for _, f := range []string{"a.txt", "sub/b.txt", "sub/deeper/c.txt"} {
		os.MkdirAll(filepath.Dir(filepath.Join(tree, f)), 0o700)
		if err := os.WriteFile(filepath.Join(tree, f), []byte("content of "+f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	aws("s3", "sync", tree, "s3://cli-bucket/tree")
	if out := aws("s3", "sync", tree, "s3://cli-bucket/tree"); strings.Contains(out, "upload:") {
		t.Fatalf("a second sync uploaded again:\n%s", out)
	}
	down := filepath.Join(dir, "down")
	aws("s3", "sync", "s3://cli-bucket/tree", down)
	for _, f := range []string{"a.txt", "sub/b.txt", "sub/deeper/c.txt"} {
		if b, err := os.ReadFile(filepath.Join(down, f)); err != nil || string(b) != "content of "+f {
			t.Fatalf("synced down %s: %q %v", f, b, err)
		}
	}
	aws("s3", "rm", "--recursive", "s3://cli-bucket")
	aws("s3", "rb", "s3://cli-bucket")
	if out := aws("s3", "ls"); strings.Contains(out, "cli-bucket") {
		t.Fatalf("ls after rb:\n%s", out)
	}
}

const s3Boto3Script = `
import json, os, sys, hashlib
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
cfg = json.load(open(sys.argv[1]))
s3 = boto3.client("s3", endpoint_url=cfg["endpoint"], region_name=cfg["region"],
                  aws_access_key_id=cfg["key"], aws_secret_access_key=cfg["secret"])
s3.create_bucket(Bucket="boto-bucket")
src = os.path.join(cfg["dir"], "up.bin")
data = os.urandom(12 * 1024 * 1024 + 5)
open(src, "wb").write(data)
s3.upload_file(src, "boto-bucket", "k/up.bin", Config=TransferConfig(multipart_threshold=8*1024*1024, multipart_chunksize=5*1024*1024))
dst = os.path.join(cfg["dir"], "down.bin")
s3.download_file("boto-bucket", "k/up.bin", dst)
assert open(dst, "rb").read() == data, "download differs"
s3.put_object(Bucket="boto-bucket", Key="plain", Body=b"hello", Metadata={"a": "b"})
o = s3.get_object(Bucket="boto-bucket", Key="plain", Range="bytes=1-3")
assert o["Body"].read() == b"ell" and o["Metadata"] == {"a": "b"}, o
assert o["ResponseMetadata"]["HTTPStatusCode"] == 206
try:
    s3.get_object(Bucket="boto-bucket", Key="missing")
    raise SystemExit("no error for a missing key")
except ClientError as e:
    assert e.response["Error"]["Code"] == "NoSuchKey", e.response
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="boto-bucket")["Contents"]]
assert keys == ["k/up.bin", "plain"], keys
import urllib.request
url = s3.generate_presigned_url("get_object", Params={"Bucket": "boto-bucket", "Key": "plain"}, ExpiresIn=60)
assert urllib.request.urlopen(url).read() == b"hello"
from botocore.config import Config
s3v4 = boto3.client("s3", endpoint_url=cfg["endpoint"], region_name=cfg["region"], config=Config(signature_version="s3v4"),
                    aws_access_key_id=cfg["key"], aws_secret_access_key=cfg["secret"])
url = s3v4.generate_presigned_url("get_object", Params={"Bucket": "boto-bucket", "Key": "plain"}, ExpiresIn=60)
assert urllib.request.urlopen(url).read() == b"hello"
url = s3v4.generate_presigned_url("put_object", Params={"Bucket": "boto-bucket", "Key": "by-url"}, ExpiresIn=60)
urllib.request.urlopen(urllib.request.Request(url, data=b"put by url", method="PUT")).read()
assert s3.get_object(Bucket="boto-bucket", Key="by-url")["Body"].read() == b"put by url"
print("OK")
`

// TestS3Boto3: upload_file above the multipart threshold, download_file,
// ranges, metadata, error codes, and presigned GET and PUT URLs used by a
// plain HTTP client.
func TestS3Boto3(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	cfg, _ := json.Marshal(map[string]any{"endpoint": s.url, "region": region, "key": rootAccessKeyID, "secret": rootSecretAccessKey, "dir": t.TempDir()})
	r := runCmd(t, s.env(), nil, 3*time.Minute, "python3", writeTemp(t, "s3.py", []byte(s3Boto3Script)), writeTemp(t, "s3.json", cfg))
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "OK" {
		t.Fatalf("boto3 S3 script:\n%s", r)
	}
}
