package funcurl

import (
	"archive/zip"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/store"
)

// testRegistry opens a registry on an in-memory store with one function
// that has a public NONE URL, and returns the URL's id.
func testRegistry(t *testing.T) (reg *registry.Registry, public string) {
	t.Helper()
	ctx := context.Background()
	s := store.NewMemory()
	kv, err := s.KV(ctx, "registry")
	if err != nil {
		t.Fatal(err)
	}
	code, err := s.Blobs(ctx, "code")
	if err != nil {
		t.Fatal(err)
	}
	reg, err = registry.Open(ctx, registry.Config{ARNs: registry.ARNs{Partition: "aws", Region: "us-east-1", Account: "000000000000"}, KV: kv, Code: code})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close(); s.Close() })
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	f, _ := zw.Create("index.py")
	f.Write([]byte("def handler(e, c):\n    return e\n"))
	zw.Close()
	str := func(s string) *string { return &s }
	_, err = reg.CreateFunction(ctx, &registry.CreateFunctionInput{FunctionName: "f", Code: &registry.FunctionCode{ZipFile: zb.Bytes()},
		ConfigInput: registry.ConfigInput{Role: str("arn:aws:iam::000000000000:role/r"), Runtime: str("python3.12"), Handler: str("index.handler")}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := reg.CreateFunctionURLConfig(ctx, registry.Ref{Name: "f"}, registry.URLConfigInput{AuthType: registry.URLAuthNone})
	if err != nil {
		t.Fatal(err)
	}
	_, err = reg.AddPermission(ctx, registry.Ref{Name: "f"}, registry.AddPermissionInput{StatementId: "public",
		Action: "lambda:InvokeFunctionUrl", Principal: "*", FunctionUrlAuthType: registry.URLAuthNone})
	if err != nil {
		t.Fatal(err)
	}
	return reg, c.ID
}

// TestBodiesRefusedUnread checks the refusals that come before a URL
// request's body is read: an unknown url-id, a body beyond the payload
// limit, and a body the in-flight budget has no room for.
func TestBodiesRefusedUnread(t *testing.T) {
	reg, public := testRegistry(t)
	s := New(Config{Registry: reg, Region: "us-east-1", Account: "000000000000", MaxBodyBytesInFlight: 4 << 10})
	tests := []struct {
		name   string
		id     string
		size   int64
		status int
	}{
		{"unknown url-id", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", 1 << 10, http.StatusNotFound},
		{"over the payload limit", public, MaxRequestBody + 1, http.StatusRequestEntityTooLarge},
		{"no room in flight", public, 8 << 10, http.StatusTooManyRequests},
	}
	for _, tc := range tests {
		body := &countingBody{}
		r := httptest.NewRequest("POST", "/lambda-url/"+tc.id+"/", readCloser{body})
		r.ContentLength = tc.size
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, r)
		if rec.Code != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.status)
		}
		if n := body.n.Load(); n != 0 {
			t.Errorf("%s: read %d bytes of the body", tc.name, n)
		}
	}
	if n := s.inFlight.Load(); n != 0 {
		t.Errorf("%d bytes still counted in flight", n)
	}
}
