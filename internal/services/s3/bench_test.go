package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// BenchmarkS3 measures PUT and GET through the edge with aws-sdk-go-v2,
// signature checks and JetStream (file storage) included:
//
//	go test -run '^$' -bench BenchmarkS3 -benchtime 20x ./internal/services/s3/
func BenchmarkS3(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{4 << 10, 64 << 20} {
		data := bytes.Repeat([]byte{0x5a}, size)
		name := fmt.Sprintf("%dKiB", size>>10)
		b.Run("PUT/"+name, func(b *testing.B) {
			b.SetBytes(int64(size))
			for i := 0; b.Loop(); i++ {
				if _, err := h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(fmt.Sprint(name, i%8)),
					Body: bytes.NewReader(data)}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("GET/"+name, func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				out, err := h.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String(name + "0")})
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, out.Body)
				out.Body.Close()
				if n != int64(size) {
					b.Fatalf("read %d bytes", n)
				}
			}
		})
	}
}
