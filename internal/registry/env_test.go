package registry_test

import (
	"archive/zip"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/poll"
	. "github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/services/kms"
	"github.com/kumo-run/kumo/internal/store"
)

const secretValue = "s3cr3t-plain-value-0123456789"

var testARNs = ARNs{Partition: "aws", Region: "us-east-1", Account: "123456789012"}

func ptr[T any](v T) *T { return &v }

func fnKey(name string) string { return "fn." + name }
func verKey(name string, n int) string {
	return "ver." + name + "." + string(rune('0'+n))
}

func testZip(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for name, content := range files {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// waitReady polls until $LATEST is Active and no update is in progress.
func waitReady(t *testing.T, r *Registry, name string) {
	t.Helper()
	poll.True(t, name+" ready", func() bool {
		c, err := r.GetFunctionConfiguration(context.Background(), Ref{Name: name})
		return err == nil && c.State == StateActive && c.LastUpdateStatus != UpdateInProgress
	})
}

// envHarness is a registry whose environment variables are encrypted by a
// real KMS engine, both on one in-memory store.
type envHarness struct {
	st   store.Store
	kv   store.KV
	code store.Blobs
	kms  *kms.Service
}

func newEnvHarness(t *testing.T) *envHarness {
	t.Helper()
	ctx := context.Background()
	h := &envHarness{st: store.NewMemory()}
	t.Cleanup(func() { h.st.Close() })
	var err error
	if h.kv, err = h.st.KV(ctx, "registry"); err != nil {
		t.Fatal(err)
	}
	if h.code, err = h.st.Blobs(ctx, "code"); err != nil {
		t.Fatal(err)
	}
	kkv, err := h.st.KV(ctx, "kms")
	if err != nil {
		t.Fatal(err)
	}
	mk, err := kms.NewMasterKey(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	h.kms, err = kms.Open(ctx, kms.Config{KV: kkv, Master: mk, Region: "us-east-1", Account: "123456789012", SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.kms.Close)
	return h
}

// open opens a registry on the harness's store; plain leaves EnvKeys out.
func (h *envHarness) open(t *testing.T, plain bool) *Registry {
	t.Helper()
	cfg := Config{ARNs: testARNs, KV: h.kv, Code: h.code}
	if !plain {
		cfg.EnvKeys = kms.ServiceKeys{KMS: h.kms, Service: "lambda"}
	}
	r, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// call sends one KMS API request (the engine has no authorizer).
func (h *envHarness) call(t *testing.T, op, body string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	rec := httptest.NewRecorder()
	h.kms.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("%s: %d %s", op, rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func (h *envHarness) raw(t *testing.T, key string) string {
	t.Helper()
	e, err := h.kv.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return string(e.Value)
}

func createWithEnv(t *testing.T, r *Registry, name string, kmsKey *string) {
	t.Helper()
	in := &CreateFunctionInput{FunctionName: name,
		Code: &FunctionCode{ZipFile: testZip(t, map[string]string{"index.py": "def handler(e, c):\n    return e\n"})},
		ConfigInput: ConfigInput{Role: ptr("arn:aws:iam::123456789012:role/lambda"), Runtime: ptr("python3.12"), Handler: ptr("index.handler"),
			Environment: &Environment{Variables: map[string]string{"SECRET": secretValue}}, KMSKeyArn: kmsKey}}
	c, err := r.CreateFunction(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	if c.Environment == nil || c.Environment.Variables["SECRET"] != secretValue {
		t.Fatalf("CreateFunction's answer: %+v", c.Environment)
	}
	waitReady(t, r, name)
}

// TestEnvironmentEncryptedAtRest: the function and version documents hold
// the variables encrypted with the AWS managed aws/lambda key (created on
// first use) or the function's KMSKeyArn; the API and the invoke path see
// them decrypted.
func TestEnvironmentEncryptedAtRest(t *testing.T) {
	h := newEnvHarness(t)
	ctx := context.Background()
	r := h.open(t, false)
	defer func() { r.Close() }()
	createWithEnv(t, r, "fn", nil)
	doc := h.raw(t, fnKey("fn"))
	if strings.Contains(doc, secretValue) || strings.Contains(doc, `"Variables"`) || !strings.Contains(doc, `"env":`) {
		t.Fatalf("stored document: %s", doc)
	}
	managed, err := h.kms.KeyARN("alias/aws/lambda")
	if err != nil || !strings.Contains(doc, managed) {
		t.Fatalf("the aws/lambda key %q (%v) is not the document's", managed, err)
	}
	c, err := r.GetFunctionConfiguration(ctx, Ref{Name: "fn"})
	if err != nil || c.Environment == nil || c.Environment.Variables["SECRET"] != secretValue || c.KMSKeyArn != "" {
		t.Fatalf("GetFunctionConfiguration: %+v %v", c, err)
	}
	tg, err := r.ResolveInvoke(Ref{Name: "fn"}, 0)
	if err != nil || tg.EnvErr != nil || tg.Version.Config.Environment.Variables["SECRET"] != secretValue {
		t.Fatalf("ResolveInvoke: %+v %v", tg.EnvErr, err)
	}
	if _, err := r.PublishVersion(ctx, Ref{Name: "fn"}, PublishInput{}); err != nil {
		t.Fatal(err)
	}
	if v := h.raw(t, verKey("fn", 1)); strings.Contains(v, secretValue) || !strings.Contains(v, `"env":`) {
		t.Fatalf("stored version: %s", v)
	}
	tg, err = r.ResolveInvoke(Ref{Name: "fn", Qualifier: "1"}, 0)
	if err != nil || tg.EnvErr != nil || tg.Version.Config.Environment.Variables["SECRET"] != secretValue {
		t.Fatalf("ResolveInvoke of version 1: %v %v", tg.EnvErr, err)
	}

	// A customer managed key: the variables move to it.
	out := h.call(t, "CreateKey", `{}`)
	keyID := out[strings.Index(out, `"KeyId":"`)+9:]
	keyID = keyID[:strings.IndexByte(keyID, '"')]
	keyARN := "arn:aws:kms:us-east-1:123456789012:key/" + keyID
	waitReady(t, r, "fn")
	c, err = r.UpdateFunctionConfiguration(ctx, Ref{Name: "fn"}, &UpdateConfigInput{ConfigInput: ConfigInput{KMSKeyArn: ptr(keyARN)}})
	if err != nil || c.KMSKeyArn != keyARN || c.Environment.Variables["SECRET"] != secretValue {
		t.Fatalf("UpdateFunctionConfiguration KMSKeyArn: %+v %v", c, err)
	}
	if doc := h.raw(t, fnKey("fn")); !strings.Contains(doc, `"key":"`+keyARN+`"`) || strings.Contains(doc, secretValue) {
		t.Fatalf("stored document after the key change: %s", doc)
	}

	// Disabled: invocations fail with KMSDisabledException; after a
	// restart the configuration reports the error; the blob survives an
	// update that does not touch the variables.
	h.call(t, "DisableKey", `{"KeyId":"`+keyID+`"}`)
	tg, err = r.ResolveInvoke(Ref{Name: "fn"}, 0)
	if err != nil || awsproto.AsError(tg.EnvErr).Code != awsproto.KMSDisabledException || awsproto.AsError(tg.EnvErr).Status() != 502 {
		t.Fatalf("ResolveInvoke with the key disabled: %v %v", tg.EnvErr, err)
	}
	r.Close()
	r = h.open(t, false)
	c, err = r.GetFunctionConfiguration(ctx, Ref{Name: "fn"})
	if err != nil || c.Environment == nil || c.Environment.Error == nil || c.Environment.Error.ErrorCode != "KMSDisabledException" || c.Environment.Variables != nil {
		t.Fatalf("GetFunctionConfiguration with the key disabled: %+v %v", c.Environment, err)
	}
	waitReady(t, r, "fn")
	if _, err := r.UpdateFunctionConfiguration(ctx, Ref{Name: "fn"}, &UpdateConfigInput{ConfigInput: ConfigInput{Timeout: ptr(9)}}); err != nil {
		t.Fatal(err)
	}
	tg, _ = r.ResolveInvoke(Ref{Name: "fn"}, 0)
	if awsproto.AsError(tg.EnvErr).Code != awsproto.KMSDisabledException {
		t.Fatalf("EnvErr after an update with the key disabled: %v", tg.EnvErr)
	}
	h.call(t, "EnableKey", `{"KeyId":"`+keyID+`"}`)
	r.Close()
	r = h.open(t, false)
	c, err = r.GetFunctionConfiguration(ctx, Ref{Name: "fn"})
	if err != nil || c.Environment == nil || c.Environment.Variables["SECRET"] != secretValue || c.Timeout != 9 {
		t.Fatalf("after enabling the key again: %+v %v", c, err)
	}
}

// TestEnvironmentMigration: documents written with the variables in
// plain text are encrypted once a registry with EnvKeys opens them, and
// read the same meanwhile.
func TestEnvironmentMigration(t *testing.T) {
	h := newEnvHarness(t)
	ctx := context.Background()
	plain := h.open(t, true)
	createWithEnv(t, plain, "old", nil)
	if _, err := plain.PublishVersion(ctx, Ref{Name: "old"}, PublishInput{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.raw(t, fnKey("old")), secretValue) {
		t.Fatal("the registry without EnvKeys did not store plain text")
	}
	plain.Close()
	r := h.open(t, false)
	defer r.Close()
	c, err := r.GetFunctionConfiguration(ctx, Ref{Name: "old"})
	if err != nil || c.Environment.Variables["SECRET"] != secretValue {
		t.Fatalf("GetFunctionConfiguration of a plain document: %v", err)
	}
	poll.True(t, "documents encrypted", func() bool {
		return !strings.Contains(h.raw(t, fnKey("old")), secretValue) && !strings.Contains(h.raw(t, verKey("old", 1)), secretValue)
	})
	for _, q := range []string{"", "1"} {
		tg, err := r.ResolveInvoke(Ref{Name: "old", Qualifier: q}, 0)
		if err != nil || tg.EnvErr != nil || tg.Version.Config.Environment.Variables["SECRET"] != secretValue {
			t.Fatalf("ResolveInvoke %q after the migration: %v %v", q, tg.EnvErr, err)
		}
	}
}
