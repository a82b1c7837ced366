package s3_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestTagging(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	b := aws.String("tags")
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: strings.NewReader("x"), Tagging: aws.String("team=blue&env=dev")}); err != nil {
		t.Fatal(err)
	}
	get := func(key string) map[string]string {
		t.Helper()
		out, err := h.cl.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, tg := range out.TagSet {
			m[*tg.Key] = *tg.Value
		}
		return m
	}
	if m := get("k"); len(m) != 2 || m["team"] != "blue" || m["env"] != "dev" {
		t.Fatalf("tags from x-amz-tagging: %v", m)
	}
	head, err := h.cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	gout, err := h.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	gout.Body.Close()
	if gout.TagCount == nil || *gout.TagCount != 2 || head.ETag == nil {
		t.Fatalf("x-amz-tagging-count: %v", gout.TagCount)
	}
	if _, err := h.cl.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("k"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("only"), Value: aws.String("one")}}}}); err != nil {
		t.Fatal(err)
	}
	if m := get("k"); len(m) != 1 || m["only"] != "one" {
		t.Fatalf("tags after PutObjectTagging: %v", m)
	}
	// Copies keep the source's tags unless told to replace them.
	if _, err := h.cl.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"), CopySource: aws.String("tags/k")}); err != nil {
		t.Fatal(err)
	}
	if m := get("copy"); m["only"] != "one" {
		t.Fatalf("copied tags: %v", m)
	}
	if _, err := h.cl.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy2"), CopySource: aws.String("tags/k"),
		TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("new=tag")}); err != nil {
		t.Fatal(err)
	}
	if m := get("copy2"); len(m) != 1 || m["new"] != "tag" {
		t.Fatalf("replaced tags: %v", m)
	}
	var eleven []types.Tag
	for i := range 11 {
		eleven = append(eleven, types.Tag{Key: aws.String(fmt.Sprint("k", i)), Value: aws.String("v")})
	}
	for _, set := range [][]types.Tag{eleven, {{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("a"), Value: aws.String("2")}},
		{{Key: aws.String(strings.Repeat("k", 129)), Value: aws.String("v")}}} {
		_, err := h.cl.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("k"), Tagging: &types.Tagging{TagSet: set}})
		mustCode(t, err, "InvalidTag")
	}
	if m := get("k"); len(m) != 1 || m["only"] != "one" {
		t.Fatalf("tags after refused changes: %v", m)
	}
	if _, err := h.cl.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: b, Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if m := get("k"); len(m) != 0 {
		t.Fatalf("tags after DeleteObjectTagging: %v", m)
	}
	_, err = h.cl.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("missing")})
	mustCode(t, err, "NoSuchKey")

	// A multipart upload's tags are the object's.
	up, err := h.cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp"), Tagging: aws.String("via=multipart")})
	if err != nil {
		t.Fatal(err)
	}
	part, err := h.cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("p")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}}); err != nil {
		t.Fatal(err)
	}
	if m := get("mp"); len(m) != 1 || m["via"] != "multipart" {
		t.Fatalf("tags of a multipart upload: %v", m)
	}

	// Bucket tags.
	_, err = h.cl.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
	mustCode(t, err, "NoSuchTagSet")
	if _, err := h.cl.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b,
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("cost"), Value: aws.String("center-1")}}}}); err != nil {
		t.Fatal(err)
	}
	bt, err := h.cl.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
	if err != nil || len(bt.TagSet) != 1 || *bt.TagSet[0].Key != "cost" || *bt.TagSet[0].Value != "center-1" {
		t.Fatalf("bucket tags: %+v, %v", bt, err)
	}
	if _, err := h.cl.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
	mustCode(t, err, "NoSuchTagSet")
}

func TestVersioningState(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	b := aws.String("versions")
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	out, err := h.cl.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
	if err != nil || out.Status != "" {
		t.Fatalf("a new bucket's versioning: %q, %v", out.Status, err)
	}
	for _, st := range []types.BucketVersioningStatus{types.BucketVersioningStatusEnabled, types.BucketVersioningStatusSuspended} {
		if _, err := h.cl.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
			VersioningConfiguration: &types.VersioningConfiguration{Status: st}}); err != nil {
			t.Fatal(err)
		}
		out, err := h.cl.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
		if err != nil || out.Status != st {
			t.Fatalf("versioning after %s: %q, %v", st, out.Status, err)
		}
	}
	_, err = h.cl.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: "Sometimes"}})
	mustCode(t, err, "MalformedXML")
	_, err = h.cl.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("nobucket")})
	mustCode(t, err, "NoSuchBucket")
}
