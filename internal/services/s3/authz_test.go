package s3_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
)

// TestAuthorization: a user's policy decides, action by action and object
// by object; a denial is S3's AccessDenied. Bad credentials get S3's codes.
func TestAuthorization(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const (
		bobKey, bobSecret = "AKIAKUMOS3BOB0000001", "kumo-s3-test-bob-secret-00000000000000000"
		bobARN            = "arn:aws:iam::000000000000:user/bob"
	)
	pol, err := iam.Parse(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::shared/public/*"},
		{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::shared"}]}`, iam.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	h.auth.SetUser(awsproto.Identity{Account: account, ARN: bobARN, UserID: "AIDABOB"}, authz.Principal{Policies: []*iam.Policy{pol}})
	h.auth.SetAccessKey(bobKey, bobSecret, bobARN)
	bob := h.client(bobKey, bobSecret)
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	_, err = bob.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bobs")})
	mustCode(t, err, "AccessDenied")
	if _, err := bob.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("public/a"), Body: strings.NewReader("a")}); err != nil {
		t.Fatal(err)
	}
	_, err = bob.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("private/a"), Body: strings.NewReader("a")})
	mustCode(t, err, "AccessDenied")
	if _, err := bob.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	_, err = bob.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("shared"), Key: aws.String("public/a")})
	mustCode(t, err, "AccessDenied")
	del, err := bob.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("shared"), Delete: &typesDelete{Objects: []typesObject{{Key: aws.String("public/a")}}}})
	if err != nil || len(del.Errors) != 1 || *del.Errors[0].Code != "AccessDenied" {
		t.Fatalf("DeleteObjects by a user without s3:DeleteObject: %+v %v", del, err)
	}
	_, err = bob.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("shared"), Key: aws.String("public/b"), CopySource: aws.String("shared/private/x")})
	mustCode(t, err, "AccessDenied")

	_, err = h.client(bobKey, "wrong-secret").ListBuckets(ctx, &s3.ListBucketsInput{})
	mustCode(t, err, "SignatureDoesNotMatch")
	_, err = h.client("AKIAKUMOS3NOBODY0001", "x").ListBuckets(ctx, &s3.ListBucketsInput{})
	mustCode(t, err, "InvalidAccessKeyId")
}

type (
	typesDelete = s3types.Delete
	typesObject = s3types.ObjectIdentifier
)

// TestBucketPolicy: a bucket policy grants another user of the account
// what its own policies do not; deleting it takes the grant away.
func TestBucketPolicy(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const (
		annKey, annSecret = "AKIAKUMOS3ANN0000001", "kumo-s3-test-ann-secret-00000000000000000"
		annARN            = "arn:aws:iam::000000000000:user/ann"
	)
	h.auth.SetUser(awsproto.Identity{Account: account, ARN: annARN, UserID: "AIDAANN"}, authz.Principal{Policies: []*iam.Policy{}})
	h.auth.SetAccessKey(annKey, annSecret, annARN)
	ann := h.client(annKey, annSecret)
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("pol")}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pol"), Key: aws.String("doc"), Body: strings.NewReader("d")}); err != nil {
		t.Fatal(err)
	}
	_, err := ann.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("pol"), Key: aws.String("doc")})
	mustCode(t, err, "AccessDenied")
	_, err = h.cl.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("pol")})
	mustCode(t, err, "NoSuchBucketPolicy")
	_, err = h.cl.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("pol"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[`)})
	mustCode(t, err, "MalformedPolicy")
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + annARN +
		`"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pol/*"}]}`
	if _, err := h.cl.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("pol"), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	got, err := h.cl.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("pol")})
	if err != nil || *got.Policy != policy {
		t.Fatalf("GetBucketPolicy = %v, %v", got, err)
	}
	if _, err := ann.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("pol"), Key: aws.String("doc")}); err != nil {
		t.Fatalf("GetObject granted by the bucket policy: %v", err)
	}
	_, err = ann.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pol"), Key: aws.String("doc"), Body: strings.NewReader("x")})
	mustCode(t, err, "AccessDenied")
	if _, err := h.cl.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("pol")}); err != nil {
		t.Fatal(err)
	}
	_, err = ann.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("pol"), Key: aws.String("doc")})
	mustCode(t, err, "AccessDenied")
}
