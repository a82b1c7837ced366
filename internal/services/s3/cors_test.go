package s3_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestCORS(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	b := aws.String("web")
	if _, err := h.cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("page.html"), Body: strings.NewReader("<p>hi</p>")}); err != nil {
		t.Fatal(err)
	}
	preflight := func(origin, method, headers string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodOptions, h.srv.URL+"/web/page.html", nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		req.Header.Set("Access-Control-Request-Method", method)
		if headers != "" {
			req.Header.Set("Access-Control-Request-Headers", headers)
		}
		resp, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := preflight("https://app.example.com", "GET", ""); r.StatusCode != http.StatusForbidden {
		t.Fatalf("preflight without a CORS configuration: %d", r.StatusCode)
	}
	_, err := h.cl.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b})
	mustCode(t, err, "NoSuchCORSConfiguration")
	_, err = h.cl.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: b, CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{
		{AllowedMethods: []string{"PATCH"}, AllowedOrigins: []string{"*"}}}}})
	mustCode(t, err, "InvalidRequest")
	if _, err := h.cl.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: b, CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{
		{ID: aws.String("app"), AllowedMethods: []string{"GET", "PUT"}, AllowedOrigins: []string{"https://*.example.com"},
			AllowedHeaders: []string{"x-amz-*", "content-type"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: aws.Int32(600)},
		{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"*"}}}}}); err != nil {
		t.Fatal(err)
	}
	got, err := h.cl.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b})
	if err != nil || len(got.CORSRules) != 2 || *got.CORSRules[0].ID != "app" || got.CORSRules[0].AllowedOrigins[0] != "https://*.example.com" ||
		*got.CORSRules[0].MaxAgeSeconds != 600 || got.CORSRules[1].AllowedMethods[0] != "GET" {
		t.Fatalf("GetBucketCors: %+v, %v", got, err)
	}

	r := preflight("https://app.example.com", "PUT", "Content-Type, X-Amz-Date")
	if r.StatusCode != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		r.Header.Get("Access-Control-Allow-Methods") != "GET, PUT" || r.Header.Get("Access-Control-Max-Age") != "600" ||
		r.Header.Get("Access-Control-Expose-Headers") != "ETag" || r.Header.Get("Access-Control-Allow-Headers") != "Content-Type, X-Amz-Date" {
		t.Fatalf("allowed preflight: %d %v", r.StatusCode, r.Header)
	}
	if r := preflight("https://other.org", "GET", ""); r.StatusCode != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("preflight of any origin for GET: %d %v", r.StatusCode, r.Header)
	}
	for _, c := range []struct{ origin, method, headers string }{
		{"https://other.org", "PUT", ""},               // PUT only from example.com
		{"https://app.example.com", "PUT", "x-custom"}, // header not allowed
		{"https://app.example.com", "DELETE", ""},      // method not allowed
	} {
		if r := preflight(c.origin, c.method, c.headers); r.StatusCode != http.StatusForbidden || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight %+v: %d %v", c, r.StatusCode, r.Header)
		}
	}
	if r := preflight("", "GET", ""); r.StatusCode != http.StatusBadRequest {
		t.Errorf("preflight without Origin: %d", r.StatusCode)
	}
	// A browser's actual request gets the headers too.
	req := h.signed(t, http.MethodGet, "/web/page.html", nil, "UNSIGNED-PAYLOAD", map[string]string{"Origin": "https://app.example.com"})
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("GET with an Origin: %d %v", resp.StatusCode, resp.Header)
	}
	if _, err := h.cl.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if r := preflight("https://app.example.com", "GET", ""); r.StatusCode != http.StatusForbidden {
		t.Fatalf("preflight after DeleteBucketCors: %d", r.StatusCode)
	}
}
