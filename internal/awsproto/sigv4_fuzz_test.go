package awsproto

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261121/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261121/us-east-1/lambda/aws4_request,SignedHeaders=host,Signature=abc,Signature=def")
	f.Add("AWS4-HMAC-SHA256 Credential=//// , SignedHeaders=;, Signature=")
	f.Add("AWS4-HMAC-SHA256 ,,,=,=")
	f.Add("Bearer x")
	f.Add("")
	for _, v := range botocoreVectors {
		for _, h := range v.header {
			if h[0] == "Authorization" {
				f.Add(h[1])
			}
		}
	}
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != IncompleteSignatureException {
				t.Fatalf("error %v is not an IncompleteSignatureException", err)
			}
			return
		}
		if len(a.SignedHeaders) == 0 || a.Signature == "" {
			t.Fatalf("parsed without signed headers or signature: %+v", a)
		}
		for _, s := range a.SignedHeaders {
			if s == "" || strings.Contains(s, ";") {
				t.Fatalf("bad signed header name %q", s)
			}
		}
		for _, s := range []string{a.AccessKeyID, a.Date, a.Region, a.Service, a.terminator} {
			if strings.Contains(s, "/") {
				t.Fatalf("credential element %q contains '/'", s)
			}
		}
	})
}

// FuzzVerify feeds arbitrary request targets, headers and bodies to Verify
// (it must answer with an *Error, never panic), and checks that whatever
// aws-sdk-go-v2 signs from the same pieces verifies.
func FuzzVerify(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date;x-amz-meta-fuzz, Signature=00",
		"/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af/invocations?Qualifier=%24LATEST",
		"20261121T052500Z", "a  b", []byte(`{"a":1}`))
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-east-1/lambda/aws4_request, SignedHeaders=content-length;host, Signature=zz",
		"/a/../b//c/./d?x=%zz&y;=1", "garbage", "", []byte{})
	f.Add("", "*", "", "\t", []byte(nil))
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-east-1/lambda/aws4_request, SignedHeaders=Host;X-Amz-Date;x-amz-content-sha256, Signature=0",
		"http://other/x?a=b", "20261121T052500Z", "UNSIGNED-PAYLOAD", []byte("x"))
	v := testVerifier(signTime)
	f.Fuzz(func(t *testing.T, authz, target, amzDate, meta string, body []byte) {
		// Arbitrary pieces.
		r := &http.Request{
			Method:     "POST",
			Host:       testHost,
			RequestURI: target,
			Header: http.Header{
				"Authorization":        {authz},
				"X-Amz-Date":           {amzDate},
				"X-Amz-Meta-Fuzz":      {meta},
				"X-Amz-Content-Sha256": {meta},
			},
			ContentLength: int64(len(body)),
		}
		if u, err := url.ParseRequestURI(target); err == nil {
			r.URL = u
		} else {
			r.URL = &url.URL{Path: target, RawQuery: target}
		}
		if _, err := v.Verify(r, body); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
		}

		// The same pieces signed by the SDK.
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(target, "/") || u.Fragment != "" || strings.ContainsAny(target, "#") {
			return
		}
		if _, err := url.ParseQuery(u.RawQuery); err != nil {
			return // the SDK would sign a query Go's parser dropped parts of
		}
		if !plainHeaderValue(meta) {
			return
		}
		req, err := http.NewRequest("POST", "http://"+testHost+target, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("X-Amz-Meta-Fuzz", meta)
		sdkSign(t, req, body, signOpts{})
		if _, err := v.Verify(req, body); err != nil {
			t.Fatalf("SDK-signed request for %q (meta %q) failed: %v", target, meta, err)
		}
	})
}

// plainHeaderValue reports whether v is a header value that every signer
// canonicalizes the same way: printable ASCII, spaces only inside.
func plainHeaderValue(v string) bool {
	if !utf8.ValidString(v) || strings.TrimSpace(v) != v {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}
