package funcurl

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// countingBody counts what is read of a body.
type countingBody struct{ n atomic.Int64 }

func (c *countingBody) Read(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// TestIAMHeadersFirst checks that an AWS_IAM URL refuses a request whose
// signature fails on its headers before reading its body, and accepts a
// good one once the body's hash is checked.
func TestIAMHeadersFirst(t *testing.T) {
	const akid, secret = "AKIDURL", "url-secret"
	s := New(Config{Region: "us-east-1", Account: "000000000000",
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: awsproto.StaticCredentials{akid: secret}}})
	signed := func(body, hash, key, service string, header bool) *http.Request {
		r := httptest.NewRequest("POST", "/lambda-url/"+testID+"/", strings.NewReader(body))
		if header {
			r.Header.Set("X-Amz-Content-Sha256", hash)
		}
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: key},
			r, hash, service, "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	hashOf := func(b string) string { s := sha256.Sum256([]byte(b)); return hex.EncodeToString(s[:]) }

	for _, tc := range []struct {
		name    string
		key     string
		service string
		header  bool
	}{
		{"wrong secret, hash in a header", "wrong", "lambda", true},
		{"wrong service", secret, "execute-api", false},
	} {
		r := signed("", hashOf("x"), tc.key, tc.service, tc.header)
		body := &countingBody{}
		r.Body = readCloser{body}
		if _, rep := s.authHeaders(r); rep == nil || rep.Status != http.StatusForbidden {
			t.Errorf("%s: reply %+v, want 403", tc.name, rep)
		}
		if n := body.n.Load(); n != 0 {
			t.Errorf("%s: read %d bytes before refusing", tc.name, n)
		}
	}

	for _, header := range []bool{true, false} {
		r := signed("{}", hashOf("{}"), secret, "lambda", header)
		claimed, rep := s.authHeaders(r)
		if rep != nil {
			t.Fatalf("header=%v: refused on headers: %s", header, rep.Body)
		}
		if iam, rep := s.authIAM(r, target{function: "f"}, []byte("{}"), claimed); rep != nil || iam == nil || iam.AccessKey != akid {
			t.Fatalf("header=%v: good request refused: %+v", header, rep)
		}
		if _, rep := s.authIAM(r, target{function: "f"}, []byte("{tampered}"), claimed); rep == nil || rep.Status != http.StatusForbidden {
			t.Fatalf("header=%v: a body not signed was accepted", header)
		}
	}
}

type readCloser struct{ *countingBody }

func (readCloser) Close() error { return nil }
