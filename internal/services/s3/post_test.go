package s3_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kumo-run/kumo/internal/poll"
)

// postField is one form field, in order.
type postField struct{ name, value string }

// signPolicy is the SigV4 POST policy signature as AWS documents it,
// computed here independently of the server.
func signPolicy(secret, date, policy string) string {
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	k := mac([]byte("AWS4"+secret), date)
	for _, p := range []string{"us-east-1", "s3", "aws4_request"} {
		k = mac(k, p)
	}
	return hex.EncodeToString(mac(k, policy))
}

// postForm builds a signed form: the policy's conditions, the fields
// (each must be in the conditions), then the file.
func signedForm(t *testing.T, expires time.Time, conditions []any, fields []postField, secret string) []postField {
	t.Helper()
	date := time.Now().UTC().Format("20060102")
	cred := rootKey + "/" + date + "/us-east-1/s3/aws4_request"
	amzDate := time.Now().UTC().Format("20060102T150405Z")
	conditions = append(conditions, map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256"},
		map[string]string{"x-amz-credential": cred}, map[string]string{"x-amz-date": amzDate})
	doc, err := json.Marshal(map[string]any{"expiration": expires.UTC().Format("2006-01-02T15:04:05.000Z"), "conditions": conditions})
	if err != nil {
		t.Fatal(err)
	}
	policy := base64.StdEncoding.EncodeToString(doc)
	return append(fields, postField{"x-amz-algorithm", "AWS4-HMAC-SHA256"}, postField{"x-amz-credential", cred},
		postField{"x-amz-date", amzDate}, postField{"policy", policy}, postField{"x-amz-signature", signPolicy(secret, date, policy)})
}

// post sends a form with a file and returns the status, the body and the
// headers.
func (h *harness) post(t *testing.T, bucket string, fields []postField, filename string, file []byte) (int, string, http.Header) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range fields {
		if err := mw.WriteField(f.name, f.value); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(file)
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/"+bucket, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// TestPostObject: a browser form upload signed with a POST policy stores
// the file under its key (${filename} substituted) with the form's
// content headers and metadata, answers as success_action_status asks,
// and raises s3:ObjectCreated:Post; forms that break their policy, are
// signed wrongly, are unsigned or carry too large a file are refused and
// store nothing.
func TestPostObject(t *testing.T) {
	h := newNotifyHarness(t, nil)
	ctx := context.Background()
	h.configure(t, "photos")
	hour := time.Now().Add(time.Hour)
	conds := []any{map[string]string{"bucket": "photos"}, []any{"starts-with", "$key", "in/"},
		[]any{"starts-with", "$Content-Type", "image/"}, map[string]string{"x-amz-meta-owner": "ann"},
		map[string]string{"success_action_status": "201"}, []any{"content-length-range", 1, 1024}}
	fields := []postField{{"key", "in/${filename}"}, {"Content-Type", "image/jpeg"}, {"x-amz-meta-owner", "ann"}, {"success_action_status", "201"}}
	status, body, hdr := h.post(t, "photos", signedForm(t, hour, conds, fields, rootSecret), "p.jpg", []byte("JPEG"))
	if status != http.StatusCreated || !strings.Contains(body, "<Key>in/p.jpg</Key>") || hdr.Get("ETag") != `"`+md5hex([]byte("JPEG"))+`"` {
		t.Fatalf("POST: %d %s %v", status, body, hdr)
	}
	got, err := h.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("in/p.jpg")})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(got.Body)
	if string(data) != "JPEG" || aws.ToString(got.ContentType) != "image/jpeg" || got.Metadata["owner"] != "ann" {
		t.Fatalf("the posted object: %q, %s, %v", data, aws.ToString(got.ContentType), got.Metadata)
	}
	poll.True(t, "the Post event", func() bool { return len(h.rec.records(t, fnARN)) >= 1 })
	if r := h.rec.records(t, fnARN)[0]; r.EventName != "ObjectCreated:Post" || r.S3.Object["key"] != "in/p.jpg" {
		t.Fatalf("event %s for %v", r.EventName, r.S3.Object["key"])
	}

	refused := func(why string, wantStatus int, wantCode string, fields []postField, file []byte) {
		t.Helper()
		status, body, _ := h.post(t, "photos", fields, "x.jpg", file)
		if status != wantStatus || !strings.Contains(body, "<Code>"+wantCode+"</Code>") {
			t.Fatalf("%s: %d %s, want %d %s", why, status, body, wantStatus, wantCode)
		}
	}
	other := []postField{{"key", "out/x.jpg"}, {"Content-Type", "image/jpeg"}, {"x-amz-meta-owner", "ann"}, {"success_action_status", "201"}}
	refused("a key the policy does not allow", 403, "AccessDenied", signedForm(t, hour, conds, other, rootSecret), []byte("x"))
	extra := append(append([]postField(nil), fields...), postField{"acl", "public-read"})
	refused("a field the policy does not name", 403, "AccessDenied", signedForm(t, hour, conds, extra, rootSecret), []byte("x"))
	refused("an expired policy", 403, "AccessDenied", signedForm(t, time.Now().Add(-time.Minute), conds, fields, rootSecret), []byte("x"))
	refused("a file above the content-length-range", 400, "EntityTooLarge", signedForm(t, hour, conds, fields, rootSecret), bytes.Repeat([]byte("x"), 2000))
	refused("a wrong signature", 403, "SignatureDoesNotMatch", signedForm(t, hour, conds, fields, "not-the-secret"), []byte("x"))
	refused("an unsigned form", 403, "AccessDenied", []postField{{"key", "in/anon.jpg"}}, []byte("x"))
	refused("no key", 400, "InvalidArgument", signedForm(t, hour, []any{map[string]string{"bucket": "photos"}}, nil, rootSecret), []byte("x"))
	out, err := h.cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("photos")})
	if err != nil || len(out.Contents) != 1 {
		t.Fatalf("objects after the refused forms: %+v, %v", out.Contents, err)
	}
}
