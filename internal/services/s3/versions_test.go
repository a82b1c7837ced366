package s3_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func (h *harness) versioned(t *testing.T, bucket, status string) {
	t.Helper()
	ctx := context.Background()
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	h.setVersioning(t, bucket, status)
}

func (h *harness) setVersioning(t *testing.T, bucket, status string) {
	t.Helper()
	if _, err := h.cl.PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatus(status)}}); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) put(t *testing.T, bucket, key, body string) *s3.PutObjectOutput {
	t.Helper()
	out, err := h.cl.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// getVersion reads a key (version "" for the latest) and returns its body.
func (h *harness) getVersion(t *testing.T, bucket, key, version string) (string, error) {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := h.cl.GetObject(context.Background(), in)
	if err != nil {
		return "", err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	if version != "" && aws.ToString(out.VersionId) != version {
		t.Fatalf("GET version %s answered version %s", version, aws.ToString(out.VersionId))
	}
	return string(b), nil
}

func header(err error, name string) string {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get(name)
	}
	return ""
}

func status(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}

// TestVersioning: on an enabled bucket every PUT keeps the earlier
// versions, each readable by its id; a DELETE makes a delete marker
// (the key then 404s with the marker's headers); deleting the marker
// brings the object back; deleting a version for good removes only it.
func TestVersioning(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.versioned(t, "vers", "Enabled")
	var ids []string
	for i := range 3 {
		out := h.put(t, "vers", "doc.txt", fmt.Sprintf("v%d", i))
		id := aws.ToString(out.VersionId)
		if id == "" || id == "null" {
			t.Fatalf("PUT %d: version id %q", i, id)
		}
		ids = append(ids, id)
	}
	if ids[0] == ids[1] || ids[1] == ids[2] {
		t.Fatalf("version ids repeat: %v", ids)
	}
	if got, err := h.getVersion(t, "vers", "doc.txt", ""); err != nil || got != "v2" {
		t.Fatalf("latest: %q, %v", got, err)
	}
	for i, id := range ids {
		got, err := h.getVersion(t, "vers", "doc.txt", id)
		if err != nil || got != fmt.Sprintf("v%d", i) {
			t.Fatalf("version %d: %q, %v", i, got, err)
		}
		hd, err := h.cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("vers"), Key: aws.String("doc.txt"), VersionId: aws.String(id)})
		if err != nil || aws.ToInt64(hd.ContentLength) != 2 || aws.ToString(hd.VersionId) != id {
			t.Fatalf("HEAD version %d: %+v, %v", i, hd, err)
		}
	}
	// Ids that are not, or not any more, versions.
	_, err := h.getVersion(t, "vers", "doc.txt", "not-a-version")
	mustCode(t, err, "InvalidArgument")
	_, err = h.getVersion(t, "vers", "doc.txt", "0000000000000001deadbeef")
	mustCode(t, err, "NoSuchVersion")

	// DELETE without a version: a delete marker.
	del, err := h.cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vers"), Key: aws.String("doc.txt")})
	if err != nil {
		t.Fatal(err)
	}
	marker := aws.ToString(del.VersionId)
	if !aws.ToBool(del.DeleteMarker) || marker == "" || marker == "null" {
		t.Fatalf("DELETE: marker %v, version %q", del.DeleteMarker, marker)
	}
	_, err = h.getVersion(t, "vers", "doc.txt", "")
	mustCode(t, err, "NoSuchKey")
	if header(err, "x-amz-delete-marker") != "true" || header(err, "x-amz-version-id") != marker {
		t.Fatalf("GET of a deleted key: marker headers %q %q", header(err, "x-amz-delete-marker"), header(err, "x-amz-version-id"))
	}
	_, err = h.cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("vers"), Key: aws.String("doc.txt")})
	if status(err) != http.StatusNotFound || header(err, "x-amz-delete-marker") != "true" {
		t.Fatalf("HEAD of a deleted key: %v", err)
	}
	_, err = h.getVersion(t, "vers", "doc.txt", marker)
	mustCode(t, err, "MethodNotAllowed")
	// The listing leaves the key out; its versions are still there.
	lo, err := h.cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("vers")})
	if err != nil || len(lo.Contents) != 0 {
		t.Fatalf("ListObjectsV2 after the marker: %+v, %v", lo.Contents, err)
	}
	if got, err := h.getVersion(t, "vers", "doc.txt", ids[1]); err != nil || got != "v1" {
		t.Fatalf("version 1 under a marker: %q, %v", got, err)
	}
	// A bucket with versions is not empty.
	_, err = h.cl.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("vers")})
	mustCode(t, err, "BucketNotEmpty")

	// Deleting the marker brings v2 back.
	dm, err := h.cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vers"), Key: aws.String("doc.txt"), VersionId: aws.String(marker)})
	if err != nil || !aws.ToBool(dm.DeleteMarker) || aws.ToString(dm.VersionId) != marker {
		t.Fatalf("DELETE of the marker: %+v, %v", dm, err)
	}
	if got, err := h.getVersion(t, "vers", "doc.txt", ""); err != nil || got != "v2" {
		t.Fatalf("latest after the marker's delete: %q, %v", got, err)
	}
	// Deleting the latest version for good makes v1 the latest; deleting
	// a noncurrent one leaves the latest alone.
	if _, err := h.cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vers"), Key: aws.String("doc.txt"), VersionId: aws.String(ids[2])}); err != nil {
		t.Fatal(err)
	}
	if got, err := h.getVersion(t, "vers", "doc.txt", ""); err != nil || got != "v1" {
		t.Fatalf("latest after deleting v2: %q, %v", got, err)
	}
	if _, err := h.cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vers"), Key: aws.String("doc.txt"), VersionId: aws.String(ids[0])}); err != nil {
		t.Fatal(err)
	}
	_, err = h.getVersion(t, "vers", "doc.txt", ids[0])
	mustCode(t, err, "NoSuchVersion")
	if got, err := h.getVersion(t, "vers", "doc.txt", ""); err != nil || got != "v1" {
		t.Fatalf("latest after deleting v0: %q, %v", got, err)
	}
	// Deleting a version that is gone is not an error.
	if _, err := h.cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vers"), Key: aws.String("doc.txt"), VersionId: aws.String(ids[0])}); err != nil {
		t.Fatal(err)
	}
	lv, err := h.cl.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("vers")})
	if err != nil || len(lv.Versions) != 1 || len(lv.DeleteMarkers) != 0 || aws.ToString(lv.Versions[0].VersionId) != ids[1] {
		t.Fatalf("versions at the end: %+v, %v", lv, err)
	}
	if _, err := h.cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vers"), Key: aws.String("doc.txt"), VersionId: aws.String(ids[1])}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("vers")}); err != nil {
		t.Fatalf("DeleteBucket once every version is gone: %v", err)
	}
}

// TestListObjectVersions: versions and delete markers in key order,
// newest first, IsLatest on each key's first, paged with key and version
// markers and rolled up at a delimiter.
func TestListObjectVersions(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.versioned(t, "lvb", "Enabled")
	a0 := aws.ToString(h.put(t, "lvb", "a", "a0").VersionId)
	a1 := aws.ToString(h.put(t, "lvb", "a", "a1").VersionId)
	b0 := aws.ToString(h.put(t, "lvb", "b", "b0").VersionId)
	del, err := h.cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("lvb"), Key: aws.String("b")})
	if err != nil {
		t.Fatal(err)
	}
	bm := aws.ToString(del.VersionId)
	c0 := aws.ToString(h.put(t, "lvb", "dir/c", "c0").VersionId)
	h.put(t, "lvb", "dir/d", "d0")

	type row struct {
		key, id string
		latest  bool
		marker  bool
	}
	// The raw document: versions and markers interleaved in key order.
	lv, err := h.cl.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("lvb"), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	var got []row
	for _, v := range lv.Versions {
		got = append(got, row{aws.ToString(v.Key), aws.ToString(v.VersionId), aws.ToBool(v.IsLatest), false})
		if aws.ToInt64(v.Size) != 2 || aws.ToString(v.ETag) == "" {
			t.Fatalf("version %+v: size or ETag missing", v)
		}
	}
	for _, m := range lv.DeleteMarkers {
		got = append(got, row{aws.ToString(m.Key), aws.ToString(m.VersionId), aws.ToBool(m.IsLatest), true})
	}
	want := []row{{"a", a1, true, false}, {"a", a0, false, false}, {"b", b0, false, false}, {"b", bm, true, true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("versions\n got %v\nwant %v", got, want)
	}
	if len(lv.CommonPrefixes) != 1 || aws.ToString(lv.CommonPrefixes[0].Prefix) != "dir/" {
		t.Fatalf("common prefixes %+v", lv.CommonPrefixes)
	}
	// Pages of two, with the markers S3 answers.
	var pages [][]string
	in := &s3.ListObjectVersionsInput{Bucket: aws.String("lvb"), MaxKeys: aws.Int32(2)}
	for {
		page, err := h.cl.ListObjectVersions(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, v := range page.Versions {
			ids = append(ids, aws.ToString(v.VersionId))
		}
		for _, m := range page.DeleteMarkers {
			ids = append(ids, aws.ToString(m.VersionId))
		}
		pages = append(pages, ids)
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		if aws.ToString(page.NextKeyMarker) == "" || aws.ToString(page.NextVersionIdMarker) == "" {
			t.Fatalf("truncated page without markers: %+v", page)
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
		if len(pages) > 5 {
			t.Fatal("listing does not end")
		}
	}
	all := strings.Join(func() []string {
		var s []string
		for _, p := range pages {
			s = append(s, strings.Join(p, ","))
		}
		return s
	}(), "|")
	if len(pages) != 3 || !strings.Contains(all, a1) || !strings.Contains(all, a0) || !strings.Contains(all, b0) || !strings.Contains(all, bm) || !strings.Contains(all, c0) {
		t.Fatalf("pages %v", pages)
	}
	// A prefix.
	lp, err := h.cl.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("lvb"), Prefix: aws.String("dir/")})
	if err != nil || len(lp.Versions) != 2 || aws.ToString(lp.Versions[0].Key) != "dir/c" {
		t.Fatalf("prefix dir/: %+v, %v", lp, err)
	}
	// A version marker without a key marker.
	_, err = h.cl.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("lvb"), VersionIdMarker: aws.String(a0)})
	mustCode(t, err, "InvalidArgument")
}

// TestSuspendedVersioning: a suspended bucket writes the null version,
// replacing the earlier null version and keeping the others; objects from
// before versioning are the null version.
func TestSuspendedVersioning(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("susp")}); err != nil {
		t.Fatal(err)
	}
	if out := h.put(t, "susp", "k", "before"); out.VersionId != nil {
		t.Fatalf("unversioned PUT answered version %q", aws.ToString(out.VersionId))
	}
	h.setVersioning(t, "susp", "Enabled")
	v1 := aws.ToString(h.put(t, "susp", "k", "enabled").VersionId)
	if got, err := h.getVersion(t, "susp", "k", "null"); err != nil || got != "before" {
		t.Fatalf("the null version from before versioning: %q, %v", got, err)
	}
	h.setVersioning(t, "susp", "Suspended")
	if out := h.put(t, "susp", "k", "suspended"); aws.ToString(out.VersionId) != "null" {
		t.Fatalf("suspended PUT: version %q, want null", aws.ToString(out.VersionId))
	}
	// The null version was replaced; the enabled one kept.
	if got, err := h.getVersion(t, "susp", "k", "null"); err != nil || got != "suspended" {
		t.Fatalf("null version: %q, %v", got, err)
	}
	if got, err := h.getVersion(t, "susp", "k", v1); err != nil || got != "enabled" {
		t.Fatalf("enabled version: %q, %v", got, err)
	}
	h.put(t, "susp", "k", "again")
	lv, err := h.cl.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("susp")})
	if err != nil {
		t.Fatal(err)
	}
	if len(lv.Versions) != 2 || aws.ToString(lv.Versions[0].VersionId) != "null" || !aws.ToBool(lv.Versions[0].IsLatest) ||
		aws.ToString(lv.Versions[1].VersionId) != v1 {
		t.Fatalf("versions: %+v", lv.Versions)
	}
	// A DELETE makes a null delete marker, which replaces the null version.
	del, err := h.cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("susp"), Key: aws.String("k")})
	if err != nil || !aws.ToBool(del.DeleteMarker) || aws.ToString(del.VersionId) != "null" {
		t.Fatalf("suspended DELETE: %+v, %v", del, err)
	}
	lv, err = h.cl.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("susp")})
	if err != nil || len(lv.Versions) != 1 || len(lv.DeleteMarkers) != 1 || aws.ToString(lv.DeleteMarkers[0].VersionId) != "null" {
		t.Fatalf("after the suspended DELETE: %+v, %v", lv, err)
	}
}

// TestVersionedCopyAndDeleteObjects: CopyObject from a version, and
// DeleteObjects with and without version ids.
func TestVersionedCopyAndDeleteObjects(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.versioned(t, "vcb", "Enabled")
	v0 := aws.ToString(h.put(t, "vcb", "src", "first").VersionId)
	h.put(t, "vcb", "src", "second")
	cp, err := h.cl.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("vcb"), Key: aws.String("dst"), CopySource: aws.String("vcb/src?versionId=" + v0)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(cp.CopySourceVersionId) != v0 || aws.ToString(cp.VersionId) == "" {
		t.Fatalf("copy: source version %q, version %q", aws.ToString(cp.CopySourceVersionId), aws.ToString(cp.VersionId))
	}
	if got, err := h.getVersion(t, "vcb", "dst", ""); err != nil || got != "first" {
		t.Fatalf("copy of version 0: %q, %v", got, err)
	}
	out, err := h.cl.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("vcb"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("dst")}, {Key: aws.String("src"), VersionId: aws.String(v0)}}}})
	if err != nil || len(out.Errors) != 0 || len(out.Deleted) != 2 {
		t.Fatalf("DeleteObjects: %+v, %v", out, err)
	}
	for _, d := range out.Deleted {
		switch aws.ToString(d.Key) {
		case "dst":
			if !aws.ToBool(d.DeleteMarker) || aws.ToString(d.DeleteMarkerVersionId) == "" {
				t.Fatalf("dst: %+v", d)
			}
		case "src":
			if aws.ToString(d.VersionId) != v0 || aws.ToBool(d.DeleteMarker) {
				t.Fatalf("src: %+v", d)
			}
		}
	}
	_, err = h.getVersion(t, "vcb", "src", v0)
	mustCode(t, err, "NoSuchVersion")
	_, err = h.getVersion(t, "vcb", "dst", "")
	mustCode(t, err, "NoSuchKey")
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatal(err)
	}
}

// TestVersionedTaggingAndRestore: tags of one version, and copying an old
// version onto its own key restores it as the latest.
func TestVersionedTaggingAndRestore(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.versioned(t, "vtag", "Enabled")
	v0 := aws.ToString(h.put(t, "vtag", "k", "old").VersionId)
	h.put(t, "vtag", "k", "new")
	if _, err := h.cl.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("vtag"), Key: aws.String("k"), VersionId: aws.String(v0),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("era"), Value: aws.String("old")}}}}); err != nil {
		t.Fatal(err)
	}
	old, err := h.cl.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("vtag"), Key: aws.String("k"), VersionId: aws.String(v0)})
	if err != nil || len(old.TagSet) != 1 || aws.ToString(old.VersionId) != v0 {
		t.Fatalf("version 0's tags: %+v, %v", old, err)
	}
	latest, err := h.cl.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("vtag"), Key: aws.String("k")})
	if err != nil || len(latest.TagSet) != 0 {
		t.Fatalf("the latest version's tags: %+v, %v", latest, err)
	}
	if _, err := h.cl.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("vtag"), Key: aws.String("k"), CopySource: aws.String("vtag/k?versionId=" + v0)}); err != nil {
		t.Fatalf("restoring version 0: %v", err)
	}
	if got, err := h.getVersion(t, "vtag", "k", ""); err != nil || got != "old" {
		t.Fatalf("after the restore: %q, %v", got, err)
	}
	lv, err := h.cl.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("vtag")})
	if err != nil || len(lv.Versions) != 3 {
		t.Fatalf("versions after the restore: %+v, %v", lv, err)
	}
}

// TestVersionCopyLeftByACrash: a write keeps the version it replaces
// before it swaps the latest record; a crash in between leaves the latest
// also stored as noncurrent. Listings show it once, and the next write
// neither duplicates nor loses it.
func TestVersionCopyLeftByACrash(t *testing.T) {
	h := newNotifyHarness(t, nil)
	ctx := context.Background()
	h.versioned(t, "crash", "Enabled")
	v1 := aws.ToString(h.put(t, "crash", "k", "one").VersionId)
	hexOf := func(s string) string { return hex.EncodeToString([]byte(s)) }
	latest, err := h.kv.Get(ctx, "o."+hexOf("crash")+"."+hexOf("k"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(v1[:16], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.kv.Put(ctx, "v."+hexOf("crash")+"."+hexOf("k")+"."+fmt.Sprintf("%016x", ^n)+v1[16:], latest.Value); err != nil {
		t.Fatal(err)
	}
	ids := func() []string {
		t.Helper()
		lv, err := h.cl.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("crash")})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, v := range lv.Versions {
			out = append(out, aws.ToString(v.VersionId))
		}
		return out
	}
	if got := ids(); len(got) != 1 || got[0] != v1 {
		t.Fatalf("versions with the leftover copy: %v", got)
	}
	v2 := aws.ToString(h.put(t, "crash", "k", "two").VersionId)
	if got := ids(); len(got) != 2 || got[0] != v2 || got[1] != v1 {
		t.Fatalf("versions after the next write: %v", got)
	}
	if got, err := h.getVersion(t, "crash", "k", v1); err != nil || got != "one" {
		t.Fatalf("version 1: %q, %v", got, err)
	}
}
