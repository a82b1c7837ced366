package awsproto

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var s3Creds = aws.Credentials{AccessKeyID: "AKIDS3", SecretAccessKey: "s3-secret"}

func s3Verifier(now time.Time) *Verifier {
	return &Verifier{Region: "us-east-1", Credentials: StaticCredentials{"AKIDS3": "s3-secret"}, Now: func() time.Time { return now }}
}

// TestVerifyS3: S3 signs the path as sent (an escaped key is not escaped
// again, "//" and "." segments are kept), which the other services'
// Verify refuses; a changed path fails.
func TestVerifyS3(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	v := s3Verifier(now)
	for _, target := range []string{"/b/a%20b%2Bc.txt", "/b//x/./y", "/b/%C3%A9"} {
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9070"+target, nil)
		r.Header.Set("X-Amz-Content-Sha256", UnsignedPayload)
		if err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(), s3Creds, r,
			UnsignedPayload, "s3", "us-east-1", now); err != nil {
			t.Fatal(err)
		}
		if _, cv, err := v.VerifyS3(r); err != nil || cv != nil {
			t.Errorf("%s: %v %v", target, cv, err)
		}
		r.RequestURI = target + "x"
		if _, _, err := v.VerifyS3(r); AsError(err).Code != InvalidSignatureException {
			t.Errorf("%s changed: %v", target, err)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9070/b/k", nil)
	if err := v4.NewSigner().SignHTTP(context.Background(), s3Creds, r, UnsignedPayload, "s3", "us-east-1", now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.VerifyS3(r); err == nil {
		t.Error("a request without x-amz-content-sha256 passed")
	}
}

// TestChunkVerifier: the chain of chunk signatures from the S3 developer
// guide's example (seed 4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9,
// key AKIAIOSFODNN7EXAMPLE, 20130524T000000Z, 64 KiB of 'a' then 1 KiB).
func TestChunkVerifier(t *testing.T) {
	cv := &ChunkVerifier{key: deriveKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3"),
		prev:   "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
		prefix: "AWS4-HMAC-SHA256-PAYLOAD\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"}
	chunk := func(n int) [32]byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a'
		}
		return sha256.Sum256(b)
	}
	if !cv.Verify(chunk(65536), "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648") {
		t.Fatal("first chunk")
	}
	if !cv.Verify(chunk(1024), "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497") {
		t.Fatal("second chunk")
	}
	if cv.Verify(sha256.Sum256(nil), "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9") != true {
		t.Fatal("final chunk")
	}
	if cv.Verify(sha256.Sum256(nil), "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9") {
		t.Fatal("a signature verified twice: the chain did not advance")
	}
}

// TestVerifyPresigned: a URL presigned by the SDK passes until it expires.
func TestVerifyPresigned(t *testing.T) {
	signed := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9070/b/a%20b?X-Amz-Expires=300", nil)
	u, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).PresignHTTP(context.Background(), s3Creds, r,
		UnsignedPayload, "s3", "us-east-1", signed)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, u, nil)
	if _, err := s3Verifier(signed.Add(299 * time.Second)).VerifyPresigned(req); err != nil {
		t.Fatalf("within expiry: %v", err)
	}
	if _, err := s3Verifier(signed.Add(301 * time.Second)).VerifyPresigned(req); !errors.Is(err, ErrPresignedExpired) {
		t.Fatalf("after expiry: %v", err)
	}
	if _, err := s3Verifier(signed.Add(-10 * time.Minute)).VerifyPresigned(req); err == nil {
		t.Fatal("signed in the future passed")
	}
	bad := httptest.NewRequest(http.MethodGet, u+"&extra=1", nil)
	if _, err := s3Verifier(signed).VerifyPresigned(bad); AsError(err).Code != InvalidSignatureException {
		t.Fatalf("an added parameter: %v", err)
	}
}

// TestVerifyPresignedV2: a URL botocore's HmacV1QueryAuth presigned (what
// boto3's generate_presigned_url gives by default), with an escaped key
// and a sub-resource, passes until it expires; another path fails.
func TestVerifyPresignedV2(t *testing.T) {
	v := &Verifier{Region: "us-east-1", Credentials: StaticCredentials{"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
		Now: func() time.Time { return time.Unix(1141888900, 0) }}
	const q = "?response-content-type=text%2Fplain&AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=cFL%2F%2B%2Fh26w0quNENXMaVYTuzqC0%3D&Expires=1141889000"
	r := httptest.NewRequest(http.MethodGet, "/johnsmith/photos/puppy%20dog.jpg"+q, nil)
	if _, err := v.VerifyPresignedV2(r); err != nil {
		t.Fatalf("botocore's URL: %v", err)
	}
	r = httptest.NewRequest(http.MethodGet, "/johnsmith/photos/kitten.jpg"+q, nil)
	if _, err := v.VerifyPresignedV2(r); AsError(err).Code != InvalidSignatureException {
		t.Fatalf("another path: %v", err)
	}
	v.Now = func() time.Time { return time.Unix(1141889001, 0) }
	r = httptest.NewRequest(http.MethodGet, "/johnsmith/photos/puppy%20dog.jpg"+q, nil)
	if _, err := v.VerifyPresignedV2(r); !errors.Is(err, ErrPresignedExpired) {
		t.Fatalf("after Expires: %v", err)
	}
}
