package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// maxRequestBody is the largest request body Lambda accepts (50 MB of zip,
// base64-encoded, is 69905067 bytes).
const maxRequestBody = 69905067

// wireReq describes one raw request.
type wireReq struct {
	method, path string
	body         []byte
	header       http.Header // set before signing
	akid, secret string      // the root key pair when empty
	signAt       time.Time   // now when zero
	unsigned     bool
	after        func(*http.Request) // changes made after signing
}

// wireResp is a response read in full.
type wireResp struct {
	status int
	header http.Header
	body   []byte
}

func (r wireResp) String() string {
	b := r.body
	if len(b) > 2000 {
		b = b[:2000]
	}
	return fmt.Sprintf("HTTP %d\nx-amzn-RequestId: %s\nx-amzn-ErrorType: %s\n%s", r.status,
		r.header.Get("x-amzn-RequestId"), r.header.Get("x-amzn-ErrorType"), b)
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// signRequest signs req with SigV4 for lambda in the test region.
func signRequest(t testing.TB, req *http.Request, payloadHash, akid, secret string, at time.Time) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, "lambda", region, at); err != nil {
		t.Fatalf("signing: %v", err)
	}
}

// send builds, signs and sends r and reads the whole response.
func (s *server) send(t testing.TB, r wireReq) wireResp {
	t.Helper()
	req, err := http.NewRequest(r.method, s.url+r.path, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if len(r.body) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if !r.unsigned {
		akid, secret := r.akid, r.secret
		if akid == "" {
			akid, secret = rootAccessKeyID, rootSecretAccessKey
		}
		at := r.signAt
		if at.IsZero() {
			at = time.Now()
		}
		signRequest(t, req, hexSHA256(r.body), akid, secret, at)
	}
	if r.after != nil {
		r.after(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the response: %v", r.method, r.path, err)
	}
	return wireResp{status: resp.StatusCode, header: resp.Header, body: body}
}

// checkWireError checks an error response: the status, x-amzn-RequestId,
// x-amzn-ErrorType, and a JSON body with Type and the message member named
// msgKey ("message" or "Message"; "" accepts either).
func checkWireError(t *testing.T, r wireResp, status int, code, msgKey string) {
	t.Helper()
	if r.status >= 500 {
		t.Errorf("server error for bad input:\n%s", r)
	}
	if status != 0 && r.status != status {
		t.Errorf("status %d, want %d:\n%s", r.status, status, r)
	}
	if r.header.Get("x-amzn-RequestId") == "" {
		t.Errorf("no x-amzn-RequestId:\n%s", r)
	}
	et := strings.Split(r.header.Get("x-amzn-ErrorType"), ":")[0]
	if et == "" || code != "" && et != code {
		t.Errorf("x-amzn-ErrorType %q, want %s:\n%s", r.header.Get("x-amzn-ErrorType"), code, r)
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Errorf("error body is not a JSON object: %v:\n%s", err, r)
		return
	}
	if s, _ := body["Type"].(string); s == "" {
		t.Errorf("error body has no Type:\n%s", r)
	}
	keys := []string{msgKey}
	if msgKey == "" {
		keys = []string{"message", "Message"}
	}
	found := false
	for _, k := range keys {
		if s, _ := body[k].(string); s != "" {
			found = true
		}
	}
	if !found {
		t.Errorf("error body has no %s member:\n%s", strings.Join(keys, " or "), r)
	}
}

func createBody(name string, zip []byte, extra string) []byte {
	return fmt.Appendf(nil, `{"FunctionName":%q,"Runtime":"python3.12","Role":%q,"Handler":"app.handler","Code":{"ZipFile":%q}%s}`,
		name, testRole, base64.StdEncoding.EncodeToString(zip), extra)
}

func TestWire(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	zip := handlerZip(t, "wire")

	// A good request first: 201, a request id, JSON.
	created := s.send(t, wireReq{method: "POST", path: "/2015-03-31/functions", body: createBody("wire-fn", zip, "")})
	if created.status != http.StatusCreated {
		t.Fatalf("CreateFunction: want 201:\n%s", created)
	}
	if created.header.Get("x-amzn-RequestId") == "" || !strings.HasPrefix(created.header.Get("Content-Type"), "application/json") {
		t.Errorf("CreateFunction response headers: %v", created.header)
	}

	cases := []struct {
		name   string
		req    wireReq
		status int
		code   string
		msgKey string
	}{
		{"malformed JSON", wireReq{method: "POST", path: "/2015-03-31/functions", body: []byte(`{"FunctionName": "x",`)},
			400, "InvalidRequestContentException", "message"},
		{"JSON array body", wireReq{method: "POST", path: "/2015-03-31/functions", body: []byte(`[1,2]`)},
			400, "InvalidRequestContentException", "message"},
		{"wrong member type", wireReq{method: "POST", path: "/2015-03-31/functions", body: createBody("wire-wt", zip, `,"MemorySize":"big"`)},
			400, "InvalidRequestContentException", "message"},
		{"wrong member type on update", wireReq{method: "PUT", path: "/2015-03-31/functions/wire-fn/configuration", body: []byte(`{"Timeout":"3"}`)},
			400, "InvalidRequestContentException", "message"},
		{"ZipFile not base64", wireReq{method: "POST", path: "/2015-03-31/functions",
			body: fmt.Appendf(nil, `{"FunctionName":"wire-b64","Runtime":"python3.12","Role":%q,"Handler":"a.b","Code":{"ZipFile":"%%%%not base64"}}`, testRole)},
			400, "", ""},
		{"missing function", wireReq{method: "GET", path: "/2015-03-31/functions/wire-missing"},
			404, "ResourceNotFoundException", "Message"},
		{"duplicate function", wireReq{method: "POST", path: "/2015-03-31/functions", body: createBody("wire-fn", zip, "")},
			409, "ResourceConflictException", "message"},
		{"MaxItems not a number", wireReq{method: "GET", path: "/2015-03-31/functions?MaxItems=abc"},
			400, "ValidationException", "message"},
		{"MaxItems 0", wireReq{method: "GET", path: "/2015-03-31/functions?MaxItems=0"},
			400, "ValidationException", "message"},
		{"FunctionVersion not ALL", wireReq{method: "GET", path: "/2015-03-31/functions?FunctionVersion=LATEST"},
			400, "ValidationException", "message"},
		{"function name of 300 characters", wireReq{method: "GET", path: "/2015-03-31/functions/" + strings.Repeat("a", 300)},
			400, "ValidationException", "message"},
		{"MemorySize under the model minimum", wireReq{method: "POST", path: "/2015-03-31/functions", body: createBody("wire-m64", zip, `,"MemorySize":64`)},
			400, "ValidationException", "message"},
		{"MemorySize over Lambda's limit", wireReq{method: "POST", path: "/2015-03-31/functions", body: createBody("wire-m10241", zip, `,"MemorySize":10241`)},
			400, "InvalidParameterValueException", "message"},
		{"Timeout over the model maximum", wireReq{method: "PUT", path: "/2015-03-31/functions/wire-fn/configuration", body: []byte(`{"Timeout":901}`)},
			400, "ValidationException", "message"},
		{"deprecated runtime", wireReq{method: "POST", path: "/2015-03-31/functions",
			body: bytes.Replace(createBody("wire-py27", zip, ""), []byte("python3.12"), []byte("python2.7"), 1)},
			400, "InvalidParameterValueException", "message"},
		{"Role missing", wireReq{method: "POST", path: "/2015-03-31/functions",
			body: fmt.Appendf(nil, `{"FunctionName":"wire-norole","Runtime":"python3.12","Handler":"a.b","Code":{"ZipFile":%q}}`, base64.StdEncoding.EncodeToString(zip))},
			400, "ValidationException", "message"},
		{"ReservedConcurrentExecutions missing", wireReq{method: "PUT", path: "/2017-10-31/functions/wire-fn/concurrency", body: []byte(`{}`)},
			400, "ValidationException", "message"},
		{"unknown path under the API", wireReq{method: "GET", path: "/2015-03-31/no-such-thing"}, 0, "", ""},
		{"unknown API date", wireReq{method: "GET", path: "/1999-01-01/functions"}, 0, "", ""},
		{"unknown top-level path", wireReq{method: "GET", path: "/nope"}, 0, "", ""},
		{"wrong method", wireReq{method: "PATCH", path: "/2015-03-31/functions/wire-fn"}, 0, "", ""},
		{"unsigned", wireReq{method: "GET", path: "/2015-03-31/functions", unsigned: true},
			403, "MissingAuthenticationTokenException", "message"},
		{"wrong secret", wireReq{method: "GET", path: "/2015-03-31/functions", secret: "wrong-secret", akid: rootAccessKeyID},
			403, "InvalidSignatureException", "message"},
		{"unknown access key", wireReq{method: "GET", path: "/2015-03-31/functions", akid: "AKIAUNKNOWNKEY000000", secret: rootSecretAccessKey},
			403, "UnrecognizedClientException", "message"},
		{"signed 6 minutes ago", wireReq{method: "GET", path: "/2015-03-31/functions", signAt: time.Now().Add(-6 * time.Minute)},
			403, "InvalidSignatureException", "message"},
		{"signed 6 minutes ahead", wireReq{method: "GET", path: "/2015-03-31/functions", signAt: time.Now().Add(6 * time.Minute)},
			403, "InvalidSignatureException", "message"},
		{"x-amz header added after signing", wireReq{method: "GET", path: "/2015-03-31/functions",
			after: func(r *http.Request) { r.Header.Set("X-Amz-Meta-Added", "later") }},
			403, "", "message"},
		{"signed header changed after signing", wireReq{method: "GET", path: "/2015-03-31/functions",
			header: http.Header{"X-Amz-Meta-Signed": {"before"}},
			after:  func(r *http.Request) { r.Header.Set("X-Amz-Meta-Signed", "after") }},
			403, "InvalidSignatureException", "message"},
		{"body changed after signing", wireReq{method: "POST", path: "/2015-03-31/functions", body: createBody("wire-tamper", zip, ""),
			after: func(r *http.Request) {
				b := bytes.Replace(createBody("wire-tamper", zip, ""), []byte("wire-tamper"), []byte("wire-tampex"), 1)
				r.Body = io.NopCloser(bytes.NewReader(b))
			}},
			403, "InvalidSignatureException", "message"},
		{"path changed after signing", wireReq{method: "GET", path: "/2015-03-31/functions/wire-fn",
			after: func(r *http.Request) { r.URL.Path = "/2015-03-31/functions/wire-fm" }},
			403, "InvalidSignatureException", "message"},
		{"query added after signing", wireReq{method: "GET", path: "/2015-03-31/functions",
			after: func(r *http.Request) { r.URL.RawQuery = "MaxItems=1" }},
			403, "InvalidSignatureException", "message"},
		{"garbage Authorization", wireReq{method: "GET", path: "/2015-03-31/functions", unsigned: true,
			header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 garbage"}, "X-Amz-Date": {time.Now().UTC().Format("20060102T150405Z")}}},
			403, "", "message"},
		{"credential scope for another region", wireReq{method: "GET", path: "/2015-03-31/functions",
			after: func(r *http.Request) {
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/"+region+"/", "/eu-west-1/", 1))
			}},
			403, "", "message"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.send(t, c.req)
			if c.status == 0 && (r.status < 400 || r.status >= 500) {
				t.Errorf("want a 4xx:\n%s", r)
			}
			checkWireError(t, r, c.status, c.code, c.msgKey)
			if c.code == "ValidationException" || c.code == "InvalidParameterValueException" {
				var body struct{ Message string }
				json.Unmarshal(r.body, &body)
				if strings.HasPrefix(body.Message, "1 validation error detected: ") != (c.code == "ValidationException") {
					t.Errorf("%s with message %q", c.code, body.Message)
				}
			}
		})
	}

	t.Run("request ids are unique", func(t *testing.T) {
		a := s.send(t, wireReq{method: "GET", path: "/2015-03-31/functions"})
		b := s.send(t, wireReq{method: "GET", path: "/2015-03-31/functions"})
		if a.status != 200 || b.status != 200 {
			t.Fatalf("ListFunctions: %s\n%s", a, b)
		}
		if a.header.Get("x-amzn-RequestId") == "" || a.header.Get("x-amzn-RequestId") == b.header.Get("x-amzn-RequestId") {
			t.Errorf("request ids %q and %q", a.header.Get("x-amzn-RequestId"), b.header.Get("x-amzn-RequestId"))
		}
	})

	t.Run("body over the request cap", func(t *testing.T) {
		prefix := `{"FunctionName":"wire-huge","Runtime":"python3.12","Role":"` + testRole + `","Handler":"a.b","Code":{"ZipFile":"`
		body := make([]byte, 0, maxRequestBody+100)
		body = append(body, prefix...)
		body = append(body, bytes.Repeat([]byte("A"), maxRequestBody+4-len(prefix))...)
		body = append(body, `"}}`...)
		req, err := http.NewRequest("POST", s.url+"/2015-03-31/functions", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		signRequest(t, req, hexSHA256(body), rootAccessKeyID, rootSecretAccessKey, time.Now())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("sending %d bytes: %v (the server dropped the connection instead of answering 413)", len(body), err)
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		checkWireError(t, wireResp{resp.StatusCode, resp.Header, rb}, 413, "RequestEntityTooLargeException", "message")
	})

	t.Run("Content-Length over the cap is refused before the body", func(t *testing.T) {
		// Only the headers and a few bytes are sent: the server must answer
		// from Content-Length alone rather than wait for 100 MB.
		const n = 100 << 20
		prefix := `{"FunctionName":"wire-huge2","Code":{"ZipFile":"`
		h := sha256.New()
		io.WriteString(h, prefix)
		chunk := bytes.Repeat([]byte("A"), 1<<20)
		for left := n - len(prefix) - 3; left > 0; left -= len(chunk) {
			h.Write(chunk[:min(left, len(chunk))])
		}
		io.WriteString(h, `"}}`)
		req, _ := http.NewRequest("POST", s.url+"/2015-03-31/functions", nil)
		req.ContentLength = n
		req.Header.Set("Content-Type", "application/json")
		signRequest(t, req, hex.EncodeToString(h.Sum(nil)), rootAccessKeyID, rootSecretAccessKey, time.Now())

		conn, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(15 * time.Second))
		var head bytes.Buffer
		fmt.Fprintf(&head, "POST /2015-03-31/functions HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", s.addr, n)
		for k, vs := range req.Header {
			for _, v := range vs {
				fmt.Fprintf(&head, "%s: %s\r\n", k, v)
			}
		}
		head.WriteString("\r\n" + prefix)
		if _, err := conn.Write(head.Bytes()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), req)
		if err != nil {
			t.Fatalf("no response to a request announcing %d bytes: %v", n, err)
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		checkWireError(t, wireResp{resp.StatusCode, resp.Header, rb}, 413, "RequestEntityTooLargeException", "message")
	})

	t.Run("code download links", func(t *testing.T) {
		got := s.send(t, wireReq{method: "GET", path: "/2015-03-31/functions/wire-fn"})
		if got.status != 200 {
			t.Fatalf("GetFunction:\n%s", got)
		}
		var out struct{ Code struct{ Location string } }
		json.Unmarshal(got.body, &out)
		b, err := download(t.Context(), out.Code.Location)
		if err != nil || !bytes.Equal(b, zip) {
			t.Fatalf("download: %d bytes, %v", len(b), err)
		}
		u, err := url.Parse(out.Code.Location)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		tampered := []struct{ name, key, value string }{
			{"bad signature", "Signature", strings.Repeat("0", len(q.Get("Signature")))},
			{"later expiry", "Expires", fmt.Sprint(time.Now().Add(24 * time.Hour).Unix())},
			{"expired", "Expires", "1"},
			{"no signature", "Signature", ""},
		}
		for _, tc := range tampered {
			q2 := u.Query()
			q2.Set(tc.key, tc.value)
			u2 := *u
			u2.RawQuery = q2.Encode()
			resp, err := http.Get(u2.String())
			if err != nil {
				t.Fatal(err)
			}
			rb, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 403 {
				t.Errorf("%s: status %d, want 403: %s", tc.name, resp.StatusCode, rb)
			}
			if bytes.Contains(rb, []byte("PK\x03\x04")) {
				t.Errorf("%s: the zip was served", tc.name)
			}
		}
		other := *u
		other.Path = u.Path + "x"
		resp, err := http.Get(other.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("link signed for another blob: status %d, want 4xx", resp.StatusCode)
		}
	})

	t.Run("DeleteFunction answers 204 with a request id", func(t *testing.T) {
		r := s.send(t, wireReq{method: "DELETE", path: "/2015-03-31/functions/wire-fn"})
		if r.status != http.StatusNoContent || len(r.body) != 0 {
			t.Errorf("want 204 and no body:\n%s", r)
		}
		if r.header.Get("x-amzn-RequestId") == "" {
			t.Errorf("no x-amzn-RequestId:\n%s", r)
		}
	})
}
