package registry

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/poll"
	"github.com/kumo-run/kumo/internal/store"
)

var testARNs = ARNs{Partition: "aws", Region: "us-east-1", Account: "123456789012"}

// openTest opens a registry on an in-memory store and closes both when the
// test ends.
func openTest(t *testing.T, mutate ...func(*Config)) *Registry {
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
	cfg := Config{ARNs: testARNs, KV: kv, Code: code}
	for _, m := range mutate {
		m(&cfg)
	}
	r, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		s.Close()
	})
	return r
}

// testZip builds a deployment package holding the given files.
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

func ptr[T any](v T) *T { return &v }

// mustCreate creates a python function and waits until it is Active.
func mustCreate(t *testing.T, r *Registry, name string) FunctionConfig {
	t.Helper()
	in := &CreateFunctionInput{
		FunctionName: name,
		Code:         &FunctionCode{ZipFile: testZip(t, map[string]string{"index.py": "def handler(e, c):\n    return e\n"})},
		ConfigInput: ConfigInput{
			Role:    ptr("arn:aws:iam::123456789012:role/lambda"),
			Runtime: ptr("python3.12"),
			Handler: ptr("index.handler"),
		},
	}
	c, err := r.CreateFunction(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateFunction(%s): %v", name, err)
	}
	waitReady(t, r, name)
	return c
}

// waitReady polls until $LATEST is Active and no update is in progress.
func waitReady(t *testing.T, r *Registry, name string) {
	t.Helper()
	poll.True(t, name+" ready", func() bool {
		st := r.view(name)
		if st == nil {
			return false
		}
		c := st.fn.Latest.Config
		return c.State == StateActive && c.LastUpdateStatus != UpdateInProgress
	})
}

// mustPublish publishes n new versions of a function, changing $LATEST's
// description before each so that every publish makes a version.
func mustPublish(t *testing.T, r *Registry, name string, n int) {
	t.Helper()
	ctx := context.Background()
	for range n {
		waitReady(t, r, name)
		d := fmt.Sprintf("build %d", time.Now().UnixNano())
		if _, err := r.UpdateFunctionConfiguration(ctx, Ref{Name: name}, &UpdateConfigInput{ConfigInput: ConfigInput{Description: &d}}); err != nil {
			t.Fatalf("UpdateFunctionConfiguration: %v", err)
		}
		waitReady(t, r, name)
		if _, err := r.PublishVersion(ctx, Ref{Name: name}, PublishInput{}); err != nil {
			t.Fatalf("PublishVersion: %v", err)
		}
	}
}

// wantErr checks that err is an *awsproto.Error with the given code and,
// when msg is not empty, that message.
func wantErr(t *testing.T, err error, code awsproto.Code, msg string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var ae *awsproto.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want %s", err, code)
	}
	if ae.Code != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
	if msg != "" && ae.Message != msg {
		t.Fatalf("message = %q\n          want %q", ae.Message, msg)
	}
	// A broken model constraint is a ValidationException in the request
	// validation wording; Lambda's own checks never use that wording.
	modelConstraint := strings.HasPrefix(ae.Message, "1 validation error detected: ") &&
		strings.Contains(ae.Message, " failed to satisfy constraint: ")
	switch {
	case ae.Code == awsproto.ValidationException && !modelConstraint:
		t.Fatalf("ValidationException for a message that is not a model constraint: %q", ae.Message)
	case ae.Code == awsproto.InvalidParameterValueException && modelConstraint:
		t.Fatalf("InvalidParameterValueException for a model-constraint message: %q", ae.Message)
	}
}
