package s3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/natsd"
	kumos3 "github.com/kumo-run/kumo/internal/services/s3"
	"github.com/kumo-run/kumo/internal/store"
)

const (
	account    = "000000000000"
	rootKey    = "AKIAKUMOS3TEST000001"
	rootSecret = "kumo-s3-test-secret-0000000000000000000000"
)

type harness struct {
	srv  *httptest.Server
	cl   *s3.Client
	auth *authz.Static
}

// newHarness starts NATS and serves S3 through the edge, routed as the
// app routes it.
func newHarness(t testing.TB) *harness { return newHarnessWith(t, nil) }

// newHarnessWith is newHarness with the object store wrapped by wrap.
func newHarnessWith(t testing.TB, wrap func(store.Blobs) store.Blobs) *harness {
	t.Helper()
	h := &harness{auth: &authz.Static{}}
	ns, err := natsd.Start(natsd.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect("s3-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	st, err := store.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	kv, err := st.KV(ctx, natsd.S3Bucket)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := st.Blobs(ctx, natsd.S3Objects)
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		blobs = wrap(blobs)
	}
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	creds := &token.Store{Issuer: is, RootKeyID: rootKey, RootSecret: rootSecret, Root: token.Root("aws", account), Keys: h.auth}
	verifier := &awsproto.Verifier{Region: "us-east-1", Credentials: creds}
	svc := kumos3.New(kumos3.Config{KV: kv, Blobs: blobs, Verifier: verifier, Region: "us-east-1", Account: account, Logger: testLogger(t),
		Authorizer: authz.New(authz.Config{Directory: h.auth, Region: "us-east-1"})})
	h.srv = httptest.NewServer(edge.New(edge.Config{Verifier: verifier, Routes: []edge.Route{kumos3.Route(svc, "us-east-1")}}))
	t.Cleanup(h.srv.Close)
	h.cl = h.client(rootKey, rootSecret)
	return h
}

func (h *harness) client(key, secret string, opts ...func(*s3.Options)) *s3.Client {
	return s3.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient:       h.srv.Client(),
		RetryMaxAttempts: 1,
	}, append([]func(*s3.Options){func(o *s3.Options) { o.BaseEndpoint = aws.String(h.srv.URL); o.UsePathStyle = true }}, opts...)...)
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return fmt.Sprintf("not an API error: %v", err)
}

func mustCode(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", want)
	}
	if got := code(err); got != want {
		t.Fatalf("error %v, want code %s", err, want)
	}
}

func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

func TestBuckets(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alpha")}); err != nil {
		t.Fatal(err)
	}
	_, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alpha")})
	mustCode(t, err, "BucketAlreadyOwnedByYou")
	_, err = h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("Bad_Name")})
	mustCode(t, err, "InvalidBucketName")
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("beta.b-1")}); err != nil {
		t.Fatal(err)
	}
	out, err := h.cl.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Buckets) != 2 || *out.Buckets[0].Name != "alpha" || *out.Buckets[1].Name != "beta.b-1" {
		t.Fatalf("ListBuckets = %+v", out.Buckets)
	}
	if _, err := h.cl.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alpha")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("nope")})
	var nf *types.NotFound
	if !errors.As(err, &nf) {
		t.Fatalf("HeadBucket of a missing bucket: %v", err)
	}
	loc, err := h.cl.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("alpha")})
	if err != nil || loc.LocationConstraint != "" {
		t.Fatalf("GetBucketLocation = %+v, %v", loc, err)
	}
	if _, err := h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("alpha"), Key: aws.String("k"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
	mustCode(t, err, "BucketNotEmpty")
	if _, err := h.cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("alpha"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
	mustCode(t, err, "NoSuchBucket")
	_, err = h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("alpha"), Key: aws.String("k"), Body: strings.NewReader("x")})
	mustCode(t, err, "NoSuchBucket")
}

func TestObjects(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	b := aws.String("objs")
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789"), 10000)
	put, err := h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("dir/a b+c.txt"), Body: bytes.NewReader(data),
		ContentType: aws.String("text/plain"), CacheControl: aws.String("max-age=60"), ContentDisposition: aws.String("inline"),
		ContentEncoding: aws.String("identity"), Metadata: map[string]string{"color": "blue"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `"` + md5hex(data) + `"`; *put.ETag != want {
		t.Fatalf("ETag %s, want %s", *put.ETag, want)
	}
	get, err := h.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("dir/a b+c.txt")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if !bytes.Equal(got, data) || *get.ContentType != "text/plain" || *get.CacheControl != "max-age=60" ||
		*get.ContentDisposition != "inline" || *get.ContentEncoding != "identity" || get.Metadata["color"] != "blue" || *get.ETag != *put.ETag {
		t.Fatalf("GetObject: %d bytes, %q %q %q %q %v %s", len(got), *get.ContentType, *get.CacheControl, *get.ContentDisposition,
			*get.ContentEncoding, get.Metadata, *get.ETag)
	}
	// Ranges.
	rg, err := h.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("dir/a b+c.txt"), Range: aws.String("bytes=5-14")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(rg.Body)
	if string(got) != "5678901234" || *rg.ContentRange != "bytes 5-14/100000" {
		t.Fatalf("range: %q %s", got, *rg.ContentRange)
	}
	rg, err = h.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("dir/a b+c.txt"), Range: aws.String("bytes=-3")})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ = io.ReadAll(rg.Body); string(got) != "789" {
		t.Fatalf("suffix range: %q", got)
	}
	_, err = h.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("dir/a b+c.txt"), Range: aws.String("bytes=100000-")})
	mustCode(t, err, "InvalidRange")
	// Conditions.
	_, err = h.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("dir/a b+c.txt"), IfMatch: aws.String(`"nope"`)})
	mustCode(t, err, "PreconditionFailed")
	_, err = h.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("dir/a b+c.txt"), IfNoneMatch: put.ETag})
	mustCode(t, err, "NotModified")
	_, err = h.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("dir/a b+c.txt"), IfModifiedSince: aws.Time(time.Now().Add(time.Hour))})
	mustCode(t, err, "NotModified")
	_, err = h.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("dir/a b+c.txt"), IfUnmodifiedSince: aws.Time(time.Now().Add(-time.Hour))})
	mustCode(t, err, "PreconditionFailed")
	if _, err = h.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("dir/a b+c.txt"), IfMatch: put.ETag}); err != nil {
		t.Fatal(err)
	}
	head, err := h.cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("dir/a b+c.txt")})
	if err != nil || *head.ContentLength != int64(len(data)) || *head.ETag != *put.ETag {
		t.Fatalf("HeadObject = %+v, %v", head, err)
	}
	_, err = h.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("missing")})
	mustCode(t, err, "NoSuchKey")
	_, err = h.cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("missing")})
	mustCode(t, err, "NotFound")
	// Content-MD5 is checked.
	_, err = h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("bad"), Body: strings.NewReader("hello"),
		ContentMD5: aws.String("XrY7u+Ae7tCTyyK7j1rNww==")})
	mustCode(t, err, "BadDigest")
	_, err = h.cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("bad")})
	mustCode(t, err, "NotFound")
	// Copy, keeping and replacing metadata.
	cp, err := h.cl.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"), CopySource: aws.String("objs/dir/a%20b%2Bc.txt")})
	if err != nil {
		t.Fatal(err)
	}
	if *cp.CopyObjectResult.ETag != *put.ETag {
		t.Fatalf("copy ETag %s", *cp.CopyObjectResult.ETag)
	}
	hc, err := h.cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("copy")})
	if err != nil || hc.Metadata["color"] != "blue" || *hc.ContentType != "text/plain" {
		t.Fatalf("copy head %+v %v", hc, err)
	}
	if _, err := h.cl.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"), CopySource: aws.String("objs/copy"),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"shape": "round"}}); err != nil {
		t.Fatal(err)
	}
	hc, err = h.cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("copy")})
	if err != nil || hc.Metadata["shape"] != "round" || hc.Metadata["color"] != "" {
		t.Fatalf("replaced metadata %v %v", hc.Metadata, err)
	}
	_, err = h.cl.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy"), CopySource: aws.String("objs/copy")})
	mustCode(t, err, "InvalidRequest")
	// DeleteObjects.
	del, err := h.cl.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("copy")}, {Key: aws.String("never-was")}}}})
	if err != nil || len(del.Deleted) != 2 || len(del.Errors) != 0 {
		t.Fatalf("DeleteObjects = %+v, %v", del, err)
	}
	del, err = h.cl.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Quiet: aws.Bool(true), Objects: []types.ObjectIdentifier{
		{Key: aws.String("dir/a b+c.txt")}}}})
	if err != nil || len(del.Deleted) != 0 || len(del.Errors) != 0 {
		t.Fatalf("quiet DeleteObjects = %+v, %v", del, err)
	}
	_, err = h.cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("dir/a b+c.txt")})
	mustCode(t, err, "NotFound")
}

func TestListing(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	b := aws.String("lst")
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	keys := []string{"a/1", "a/2", "a/b/3", "b", "c d", "z/\u00e9", "z/~", "\u00ff"}
	for _, k := range keys {
		if _, err := h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}
	// Paged by 3 with continuation tokens: every key once, in UTF-8 binary order.
	var all []string
	p := s3.NewListObjectsV2Paginator(h.cl, &s3.ListObjectsV2Input{Bucket: b, MaxKeys: aws.Int32(3)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range out.Contents {
			all = append(all, *o.Key)
		}
	}
	want := []string{"a/1", "a/2", "a/b/3", "b", "c d", "z/~", "z/\u00e9", "\u00ff"}
	if fmt.Sprint(all) != fmt.Sprint(want) || pages != 3 {
		t.Fatalf("paged listing %q in %d pages, want %q", all, pages, want)
	}
	// Delimiter: common prefixes count against max-keys and page across.
	var seen []string
	p = s3.NewListObjectsV2Paginator(h.cl, &s3.ListObjectsV2Input{Bucket: b, Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			seen = append(seen, *o.Key)
		}
		for _, c := range out.CommonPrefixes {
			seen = append(seen, *c.Prefix)
		}
	}
	if fmt.Sprint(seen) != fmt.Sprint([]string{"a/", "b", "c d", "z/", "\u00ff"}) {
		t.Fatalf("delimited listing %q", seen)
	}
	out, err := h.cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String("a/"), Delimiter: aws.String("/"), StartAfter: aws.String("a/1")})
	if err != nil || len(out.Contents) != 1 || *out.Contents[0].Key != "a/2" || len(out.CommonPrefixes) != 1 || *out.CommonPrefixes[0].Prefix != "a/b/" {
		t.Fatalf("prefix+start-after: %+v %v", out, err)
	}
	// encoding-type=url: keys come percent-encoded (aws-sdk-go-v2 leaves them so).
	out, err = h.cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String("c"), EncodingType: types.EncodingTypeUrl})
	if err != nil || len(out.Contents) != 1 || *out.Contents[0].Key != "c%20d" {
		t.Fatalf("url encoding: %+v %v", out, err)
	}
	// ListObjects (v1) with a marker.
	v1, err := h.cl.ListObjects(ctx, &s3.ListObjectsInput{Bucket: b, Marker: aws.String("b"), MaxKeys: aws.Int32(2)})
	if err != nil || len(v1.Contents) != 2 || *v1.Contents[0].Key != "c d" || !*v1.IsTruncated {
		t.Fatalf("ListObjects: %+v %v", v1, err)
	}
}

// TestChunkedUploads: bodies in aws-chunked encoding, signed chunk by chunk
// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, what the SDK's signer sends when
// asked to) and unsigned with a checksum trailer (what current SDKs send
// by default over TLS).
func TestChunkedUploads(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("chk")}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("chunky "), 20000) // 140,000 bytes: three chunks of 64 KiB
	t.Run("unsigned trailer", func(t *testing.T) {
		body := chunkedUnsigned(data, 64<<10, "x-amz-checksum-crc32", crc32b64(data))
		req := h.signed(t, http.MethodPut, "/chk/trailer", body, awsproto.StreamingUnsignedPayloadTrailer, map[string]string{
			"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": fmt.Sprint(len(data)), "X-Amz-Trailer": "x-amz-checksum-crc32"})
		h.do(t, req, http.StatusOK)
		h.expect(t, "trailer", data)
		bad := chunkedUnsigned(data, 64<<10, "x-amz-checksum-crc32", "AAAAAA==")
		req = h.signed(t, http.MethodPut, "/chk/trailer-bad", bad, awsproto.StreamingUnsignedPayloadTrailer, map[string]string{
			"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": fmt.Sprint(len(data)), "X-Amz-Trailer": "x-amz-checksum-crc32"})
		if b := h.do(t, req, http.StatusBadRequest); !strings.Contains(b, "<Code>BadDigest</Code>") {
			t.Fatalf("bad trailer: %s", b)
		}
	})
	t.Run("signed chunks", func(t *testing.T) {
		for _, tamper := range []bool{false, true} {
			key := fmt.Sprintf("signed-%v", tamper)
			req := h.signedChunked(t, "/chk/"+key, data, 64<<10, tamper)
			if tamper {
				if b := h.do(t, req, http.StatusForbidden); !strings.Contains(b, "<Code>SignatureDoesNotMatch</Code>") {
					t.Fatalf("tampered chunk: %s", b)
				}
				_, err := h.cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("chk"), Key: aws.String(key)})
				mustCode(t, err, "NotFound")
				continue
			}
			h.do(t, req, http.StatusOK)
			h.expect(t, key, data)
		}
	})
}

func (h *harness) expect(t *testing.T, key string, want []byte) {
	t.Helper()
	out, err := h.cl.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("chk"), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if !bytes.Equal(got, want) || *out.ETag != `"`+md5hex(want)+`"` {
		t.Fatalf("%s: %d bytes, ETag %s", key, len(got), *out.ETag)
	}
}

func (h *harness) do(t *testing.T, req *http.Request, want int) string {
	t.Helper()
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", req.Method, req.URL.Path, resp.StatusCode, b, want)
	}
	return string(b)
}

// signed is a request signed by the SDK's v4 signer with payload hash ph.
func (h *harness) signed(t *testing.T, method, path string, body []byte, ph string, hdr map[string]string) *http.Request {
	t.Helper()
	req, _ := http.NewRequest(method, h.srv.URL+path, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.Header.Set("X-Amz-Content-Sha256", ph)
	err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: rootKey, SecretAccessKey: rootSecret}, req, ph, "s3", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestPresignedURLs: GET and PUT through URLs presigned by the SDK, with a
// plain HTTP client; an expired or altered URL is refused.
func TestPresignedURLs(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("pre")}); err != nil {
		t.Fatal(err)
	}
	ps := s3.NewPresignClient(h.cl)
	put, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pre"), Key: aws.String("a b.txt")}, s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(put.Method, put.URL, strings.NewReader("presigned body"))
	for k, v := range put.SignedHeader {
		req.Header[k] = v
	}
	h.do(t, req, http.StatusOK)
	get, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("pre"), Key: aws.String("a b.txt")}, s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest(http.MethodGet, get.URL, nil)
	if b := h.do(t, req, http.StatusOK); b != "presigned body" {
		t.Fatalf("presigned GET: %q", b)
	}
	req, _ = http.NewRequest(http.MethodGet, strings.Replace(get.URL, "a%20b.txt", "other.txt", 1), nil)
	if b := h.do(t, req, http.StatusForbidden); !strings.Contains(b, "<Code>SignatureDoesNotMatch</Code>") {
		t.Fatalf("altered URL: %s", b)
	}
	// Signed two hours ago, valid for a minute.
	req, _ = http.NewRequest(http.MethodGet, h.srv.URL+"/pre/a%20b.txt?X-Amz-Expires=60", nil)
	u, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).PresignHTTP(ctx,
		aws.Credentials{AccessKeyID: rootKey, SecretAccessKey: rootSecret}, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest(http.MethodGet, u, nil)
	if b := h.do(t, req, http.StatusForbidden); !strings.Contains(b, "<Code>AccessDenied</Code><Message>Request has expired</Message>") {
		t.Fatalf("expired URL: %s", b)
	}
}

// overwriting replaces an object between the read of its record and of
// its data, once: a GET then answers with the new object.
type overwriting struct {
	store.Blobs
	do func()
}

func (o *overwriting) Get(ctx context.Context, name string) (io.ReadCloser, store.BlobInfo, error) {
	if do := o.do; do != nil {
		o.do = nil
		do()
	}
	return o.Blobs.Get(ctx, name)
}

func TestGetDuringOverwrite(t *testing.T) {
	ow := &overwriting{}
	h := newHarnessWith(t, func(b store.Blobs) store.Blobs { ow.Blobs = b; return ow })
	ctx := context.Background()
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("race")}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("race"), Key: aws.String("k"), Body: strings.NewReader("old")}); err != nil {
		t.Fatal(err)
	}
	ow.do = func() {
		if _, err := h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("race"), Key: aws.String("k"), Body: strings.NewReader("newer")}); err != nil {
			t.Error(err)
		}
	}
	out, err := h.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("race"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(out.Body)
	if string(b) != "newer" || *out.ContentLength != 5 || *out.ETag != `"`+md5hex([]byte("newer"))+`"` {
		t.Fatalf("GET during an overwrite: %q, length %d, ETag %s", b, *out.ContentLength, *out.ETag)
	}
}

// testLogger sends the service's log to the test's.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tlog struct{ t testing.TB }

func (l tlog) Write(p []byte) (int, error) { l.t.Log(strings.TrimSpace(string(p))); return len(p), nil }
