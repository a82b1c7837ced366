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

// TestS3VersionsCLI: the AWS CLI on a versioned bucket: each put-object
// answers its version, get-object --version-id reads an earlier one,
// delete-object makes a delete marker, list-object-versions shows both
// kinds, and upload-part-copy makes a part of a range of an object.
func TestS3VersionsCLI(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	env := s.env()
	dir := t.TempDir()
	aws := func(args ...string) string {
		t.Helper()
		r := runCmd(t, env, nil, 3*time.Minute, append([]string{"aws", "--endpoint-url", s.url, "--output", "json"}, args...)...)
		if r.Code != 0 {
			t.Fatalf("aws %s:\n%s", strings.Join(args, " "), r)
		}
		return r.Stdout
	}
	decode := func(out string, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("%v in:\n%s", err, out)
		}
	}
	aws("s3api", "create-bucket", "--bucket", "cli-versions")
	aws("s3api", "put-bucket-versioning", "--bucket", "cli-versions", "--versioning-configuration", "Status=Enabled")
	var ids []string
	for i, body := range []string{"one", "two"} {
		f := filepath.Join(dir, body)
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		var put struct{ VersionId string }
		decode(aws("s3api", "put-object", "--bucket", "cli-versions", "--key", "doc", "--body", f), &put)
		if put.VersionId == "" || i > 0 && put.VersionId == ids[0] {
			t.Fatalf("put-object %d: version %q", i, put.VersionId)
		}
		ids = append(ids, put.VersionId)
	}
	out := filepath.Join(dir, "out")
	aws("s3api", "get-object", "--bucket", "cli-versions", "--key", "doc", "--version-id", ids[0], out)
	if b, _ := os.ReadFile(out); string(b) != "one" {
		t.Fatalf("version 0 reads %q", b)
	}
	var del struct {
		DeleteMarker bool
		VersionId    string
	}
	decode(aws("s3api", "delete-object", "--bucket", "cli-versions", "--key", "doc"), &del)
	if !del.DeleteMarker || del.VersionId == "" {
		t.Fatalf("delete-object: %+v", del)
	}
	type ver struct {
		Key, VersionId string
		IsLatest       bool
	}
	var lv struct {
		Versions      []ver
		DeleteMarkers []ver
	}
	decode(aws("s3api", "list-object-versions", "--bucket", "cli-versions"), &lv)
	if len(lv.Versions) != 2 || lv.Versions[0].VersionId != ids[1] || lv.Versions[1].VersionId != ids[0] || lv.Versions[0].IsLatest ||
		len(lv.DeleteMarkers) != 1 || lv.DeleteMarkers[0].VersionId != del.VersionId || !lv.DeleteMarkers[0].IsLatest {
		t.Fatalf("list-object-versions: %+v", lv)
	}
	r := runCmd(t, env, nil, time.Minute, "aws", "--endpoint-url", s.url, "s3api", "head-object", "--bucket", "cli-versions", "--key", "doc")
	if r.Code == 0 || !strings.Contains(r.Stderr, "404") {
		t.Fatalf("head-object under a delete marker:\n%s", r)
	}
	// The CLI's paginator follows NextKeyMarker/NextVersionIdMarker.
	decode(aws("s3api", "list-object-versions", "--bucket", "cli-versions", "--page-size", "1"), &lv)
	if len(lv.Versions) != 2 || len(lv.DeleteMarkers) != 1 {
		t.Fatalf("list-object-versions in pages of one: %+v", lv)
	}

	// upload-part-copy: a range of version 1 as the single part.
	var up struct{ UploadId string }
	decode(aws("s3api", "create-multipart-upload", "--bucket", "cli-versions", "--key", "copied"), &up)
	var part struct{ CopyPartResult struct{ ETag string } }
	decode(aws("s3api", "upload-part-copy", "--bucket", "cli-versions", "--key", "copied", "--upload-id", up.UploadId, "--part-number", "1",
		"--copy-source", "cli-versions/doc?versionId="+ids[1], "--copy-source-range", "bytes=1-2"), &part)
	if part.CopyPartResult.ETag == "" {
		t.Fatal("upload-part-copy: no ETag")
	}
	parts, _ := json.Marshal(map[string]any{"Parts": []map[string]any{{"PartNumber": 1, "ETag": part.CopyPartResult.ETag}}})
	aws("s3api", "complete-multipart-upload", "--bucket", "cli-versions", "--key", "copied", "--upload-id", up.UploadId, "--multipart-upload", string(parts))
	aws("s3api", "get-object", "--bucket", "cli-versions", "--key", "copied", out)
	if b, _ := os.ReadFile(out); string(b) != "wo" {
		t.Fatalf("copied part reads %q, want %q", b, "wo")
	}
}

const s3VersionsBoto3Script = `
import json, os, sys
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
cfg = json.load(open(sys.argv[1]))
s3 = boto3.client("s3", endpoint_url=cfg["endpoint"], region_name=cfg["region"],
                  aws_access_key_id=cfg["key"], aws_secret_access_key=cfg["secret"])
s3.create_bucket(Bucket="boto-versions")
s3.put_bucket_versioning(Bucket="boto-versions", VersioningConfiguration={"Status": "Enabled"})
v1 = s3.put_object(Bucket="boto-versions", Key="k", Body=b"first")["VersionId"]
v2 = s3.put_object(Bucket="boto-versions", Key="k", Body=b"second")["VersionId"]
assert s3.get_object(Bucket="boto-versions", Key="k", VersionId=v1)["Body"].read() == b"first"
d = s3.delete_object(Bucket="boto-versions", Key="k")
assert d["DeleteMarker"] is True, d
try:
    s3.get_object(Bucket="boto-versions", Key="k")
    raise SystemExit("no error under a delete marker")
except ClientError as e:
    assert e.response["Error"]["Code"] == "NoSuchKey", e.response
    assert e.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-delete-marker") == "true", e.response
s3.delete_object(Bucket="boto-versions", Key="k", VersionId=d["VersionId"])
assert s3.get_object(Bucket="boto-versions", Key="k")["Body"].read() == b"second"
pages = s3.get_paginator("list_object_versions").paginate(Bucket="boto-versions", PaginationConfig={"PageSize": 1})
seen = [v["VersionId"] for p in pages for v in p.get("Versions", [])]
assert seen == [v2, v1], seen
# A managed copy above the multipart threshold copies with UploadPartCopy.
data = os.urandom(11 * 1024 * 1024 + 3)
s3.put_object(Bucket="boto-versions", Key="big", Body=data)
s3.copy({"Bucket": "boto-versions", "Key": "big"}, "boto-versions", "big-copy",
        Config=TransferConfig(multipart_threshold=8*1024*1024, multipart_chunksize=5*1024*1024))
c = s3.get_object(Bucket="boto-versions", Key="big-copy")
assert c["ETag"].endswith('-3"'), c["ETag"]
assert c["Body"].read() == data, "copy differs"
print("OK")
`

// TestS3VersionsBoto3: boto3 on a versioned bucket (versions, delete
// markers, the list_object_versions paginator) and its managed copy, which
// copies a large object part by part with UploadPartCopy.
func TestS3VersionsBoto3(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	cfg, _ := json.Marshal(map[string]any{"endpoint": s.url, "region": region, "key": rootAccessKeyID, "secret": rootSecretAccessKey})
	r := runCmd(t, s.env(), nil, 3*time.Minute, "python3", writeTemp(t, "s3v.py", []byte(s3VersionsBoto3Script)), writeTemp(t, "s3v.json", cfg))
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "OK" {
		t.Fatalf("boto3 S3 versions script:\n%s", r)
	}
}

const s3PostBoto3Script = `
import json, sys
import boto3, requests
cfg = json.load(open(sys.argv[1]))
s3 = boto3.client("s3", endpoint_url=cfg["endpoint"], region_name=cfg["region"],
                  aws_access_key_id=cfg["key"], aws_secret_access_key=cfg["secret"])
s3.create_bucket(Bucket="boto-post")
post = s3.generate_presigned_post("boto-post", "uploads/${filename}",
    Fields={"Content-Type": "text/plain"},
    Conditions=[{"Content-Type": "text/plain"}, ["content-length-range", 1, 100]], ExpiresIn=300)
r = requests.post(post["url"], data=post["fields"], files={"file": ("note.txt", b"posted by a form")})
assert r.status_code == 204, (r.status_code, r.text)
o = s3.get_object(Bucket="boto-post", Key="uploads/note.txt")
assert o["Body"].read() == b"posted by a form" and o["ContentType"] == "text/plain", o
r = requests.post(post["url"], data=post["fields"], files={"file": ("big.txt", b"x" * 101)})
assert r.status_code == 400 and "<Code>EntityTooLarge</Code>" in r.text, (r.status_code, r.text)
fields = dict(post["fields"], key="elsewhere/x.txt")
r = requests.post(post["url"], data=fields, files={"file": ("x.txt", b"x")})
assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text, (r.status_code, r.text)
from botocore.config import Config
s3v4 = boto3.client("s3", endpoint_url=cfg["endpoint"], region_name=cfg["region"], config=Config(signature_version="s3v4"),
                    aws_access_key_id=cfg["key"], aws_secret_access_key=cfg["secret"])
post = s3v4.generate_presigned_post("boto-post", "v4/${filename}", ExpiresIn=300)
assert post["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256", post["fields"]
r = requests.post(post["url"], data=dict(post["fields"], success_action_status="201"), files={"file": ("n.txt", b"v4")})
assert r.status_code == 403, (r.status_code, r.text)  # success_action_status is not in the policy
r = requests.post(post["url"], data=post["fields"], files={"file": ("n.txt", b"v4")})
assert r.status_code == 204, (r.status_code, r.text)
assert s3.get_object(Bucket="boto-post", Key="v4/n.txt")["Body"].read() == b"v4"
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="boto-post")["Contents"]]
assert keys == ["uploads/note.txt", "v4/n.txt"], keys
print("OK")
`

// TestS3PostBoto3: form uploads with boto3's generate_presigned_post
// (signature version 2, its default, and SigV4) and a plain HTTP client
// (requests): stored under the ${filename} key; a file past the policy's
// content-length-range, a key outside it and a field it does not name
// refused.
func TestS3PostBoto3(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	cfg, _ := json.Marshal(map[string]any{"endpoint": s.url, "region": region, "key": rootAccessKeyID, "secret": rootSecretAccessKey})
	r := runCmd(t, s.env(), nil, 3*time.Minute, "python3", writeTemp(t, "s3post.py", []byte(s3PostBoto3Script)), writeTemp(t, "s3post.json", cfg))
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "OK" {
		t.Fatalf("boto3 S3 POST script:\n%s", r)
	}
}
