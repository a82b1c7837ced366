//lint:file-ignore SA1019 feature/s3/manager is the uploader most programs in use still have; transfermanager is its successor.

package s3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestMultipartUpload: the SDK's uploader above its part size, the ETag S3
// computes for it, the downloader's ranged GETs, and the part rules.
func TestMultipartUpload(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	b := aws.String("multi")
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 13<<20+12345)
	for i := range data {
		data[i] = byte(i * 7 >> 3)
	}
	up := manager.NewUploader(h.cl, func(u *manager.Uploader) { u.PartSize = 5 << 20 })
	res, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("big"), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	var sums []byte
	for off := 0; off < len(data); off += 5 << 20 {
		s := md5.Sum(data[off:min(off+5<<20, len(data))])
		sums = append(sums, s[:]...)
	}
	all := md5.Sum(sums)
	if want := `"` + hex.EncodeToString(all[:]) + `-3"`; *res.ETag != want {
		t.Fatalf("multipart ETag %s, want %s", *res.ETag, want)
	}
	dl := manager.NewDownloader(h.cl)
	buf := manager.NewWriteAtBuffer(nil)
	if _, err := dl.Download(ctx, buf, &s3.GetObjectInput{Bucket: b, Key: aws.String("big")}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), data) {
		t.Fatal("downloaded object differs")
	}
	// A range across the first part boundary, and a copy.
	rg, err := h.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("big"), Range: aws.String("bytes=5242000-5243000")})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(rg.Body); !bytes.Equal(got, data[5242000:5243001]) {
		t.Fatalf("range across parts: %d bytes differ", len(got))
	}
	if _, err := h.cl.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("big-copy"), CopySource: aws.String("multi/big")}); err != nil {
		t.Fatal(err)
	}
	cp, err := h.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("big-copy")})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(cp.Body); !bytes.Equal(got, data) || *cp.ETag != *res.ETag {
		t.Fatalf("copy of a multipart object: %d bytes, ETag %s", len(got), *cp.ETag)
	}

	// Part rules.
	cr, err := h.cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("small")})
	if err != nil {
		t.Fatal(err)
	}
	var etags []string
	for n := int32(1); n <= 2; n++ {
		p, err := h.cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String("small"), UploadId: cr.UploadId, PartNumber: aws.Int32(n), Body: strings.NewReader("part")})
		if err != nil {
			t.Fatal(err)
		}
		etags = append(etags, *p.ETag)
	}
	lp, err := h.cl.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: aws.String("small"), UploadId: cr.UploadId})
	if err != nil || len(lp.Parts) != 2 || *lp.Parts[1].Size != 4 {
		t.Fatalf("ListParts %+v %v", lp, err)
	}
	complete := func(parts ...types.CompletedPart) error {
		_, err := h.cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("small"), UploadId: cr.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
		return err
	}
	mustCode(t, complete(types.CompletedPart{PartNumber: aws.Int32(2), ETag: &etags[1]}, types.CompletedPart{PartNumber: aws.Int32(1), ETag: &etags[0]}), "InvalidPartOrder")
	mustCode(t, complete(types.CompletedPart{PartNumber: aws.Int32(1), ETag: aws.String(`"00000000000000000000000000000000"`)}), "InvalidPart")
	mustCode(t, complete(types.CompletedPart{PartNumber: aws.Int32(1), ETag: &etags[0]}, types.CompletedPart{PartNumber: aws.Int32(2), ETag: &etags[1]}), "EntityTooSmall")
	if _, err := h.cl.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: b, Key: aws.String("small"), UploadId: cr.UploadId}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: aws.String("small"), UploadId: cr.UploadId})
	mustCode(t, err, "NoSuchUpload")
}

// TestUploadPartCopy: parts copied from a range of an object and from a
// whole one (of a version) make the object they should; bad ranges and
// missing sources are refused.
func TestUploadPartCopy(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	b := aws.String("partcopy")
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 7<<20)
	for i := range big {
		big[i] = byte(i * 13 >> 2)
	}
	if _, err := h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("big"), Body: bytes.NewReader(big)}); err != nil {
		t.Fatal(err)
	}
	small, err := h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("small"), Body: strings.NewReader("tail-v0")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("small"), Body: strings.NewReader("tail-v1")}); err != nil {
		t.Fatal(err)
	}
	up, err := h.cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("joined")})
	if err != nil {
		t.Fatal(err)
	}
	const first, last = 1000, 1000 + 5<<20 - 1
	p1, err := h.cl.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("joined"), UploadId: up.UploadId, PartNumber: aws.Int32(1),
		CopySource: aws.String("partcopy/big"), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", first, last))})
	if err != nil {
		t.Fatal(err)
	}
	if want := `"` + md5hex(big[first:last+1]) + `"`; aws.ToString(p1.CopyPartResult.ETag) != want {
		t.Fatalf("part 1 ETag %s, want %s", aws.ToString(p1.CopyPartResult.ETag), want)
	}
	p2, err := h.cl.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("joined"), UploadId: up.UploadId, PartNumber: aws.Int32(2),
		CopySource: aws.String("partcopy/small?versionId=" + aws.ToString(small.VersionId))})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(p2.CopySourceVersionId) != aws.ToString(small.VersionId) {
		t.Fatalf("part 2 source version %q, want %q", aws.ToString(p2.CopySourceVersionId), aws.ToString(small.VersionId))
	}
	lp, err := h.cl.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: aws.String("joined"), UploadId: up.UploadId})
	if err != nil || len(lp.Parts) != 2 || aws.ToInt64(lp.Parts[0].Size) != 5<<20 || aws.ToInt64(lp.Parts[1].Size) != 7 {
		t.Fatalf("parts: %+v, %v", lp, err)
	}
	if _, err := h.cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("joined"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: p1.CopyPartResult.ETag}, {PartNumber: aws.Int32(2), ETag: p2.CopyPartResult.ETag}}}}); err != nil {
		t.Fatal(err)
	}
	got, err := h.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("joined")})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(got.Body)
	want := append(append([]byte(nil), big[first:last+1]...), "tail-v0"...)
	if !bytes.Equal(data, want) {
		t.Fatalf("joined object: %d bytes, want %d", len(data), len(want))
	}

	up2, err := h.cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("bad")})
	if err != nil {
		t.Fatal(err)
	}
	for _, rg := range []string{"bytes=0-", "bytes=5-2", "0-10", fmt.Sprintf("bytes=0-%d", len(big))} {
		_, err = h.cl.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("bad"), UploadId: up2.UploadId, PartNumber: aws.Int32(1),
			CopySource: aws.String("partcopy/big"), CopySourceRange: aws.String(rg)})
		mustCode(t, err, "InvalidArgument")
	}
	_, err = h.cl.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("bad"), UploadId: up2.UploadId, PartNumber: aws.Int32(1),
		CopySource: aws.String("partcopy/missing")})
	mustCode(t, err, "NoSuchKey")
	_, err = h.cl.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: aws.String("bad"), UploadId: aws.String("0123456789abcdef0123456789abcdef"), PartNumber: aws.Int32(1),
		CopySource: aws.String("partcopy/big")})
	mustCode(t, err, "NoSuchUpload")
	if lp, err := h.cl.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: aws.String("bad"), UploadId: up2.UploadId}); err != nil || len(lp.Parts) != 0 {
		t.Fatalf("refused copies left parts: %+v, %v", lp, err)
	}
}
