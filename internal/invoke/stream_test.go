package invoke

import (
	"context"
	"strings"
	"testing"

	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/worker"
)

// recorder is a Stream that keeps what it got.
type recorder struct {
	version, contentType string
	begun                int
	body                 strings.Builder
}

func (r *recorder) Begin(version, ct string)    { r.version, r.contentType = version, ct; r.begun++ }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }

// streamingRunner streams through the invocation's ResponseStream as a
// runtime would, and keeps the stream so the test can write after the
// invocation ended.
type streamingRunner struct {
	pieces []string
	req    *worker.Request
}

func (r *streamingRunner) Invoke(_ context.Context, _ *worker.Spec, req *worker.Request) (*worker.Outcome, error) {
	r.req = req
	if len(r.pieces) == 0 {
		return &worker.Outcome{Payload: []byte(`"buffered"`)}, nil
	}
	st := req.Invocation.Stream
	st.Start("text/plain")
	st.Start("ignored/second")
	for _, p := range r.pieces {
		if _, err := st.Write([]byte(p)); err != nil {
			return nil, err
		}
	}
	return &worker.Outcome{}, nil
}

func TestInvokeStream(t *testing.T) {
	run := &streamingRunner{pieces: []string{"a", "b"}}
	f := &Frontend{Resolver: fakeResolver{"f": target("f")}, Runner: run}
	rec := &recorder{}
	out, err := f.Invoke(context.Background(), &Input{Ref: registry.Ref{Name: "f"}, Payload: []byte(`{}`), Stream: rec, RequestID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Streamed || out.ExecutedVersion != "$LATEST" {
		t.Errorf("Output = %+v", out)
	}
	if rec.begun != 1 || rec.version != "$LATEST" || rec.contentType != "text/plain" || rec.body.String() != "ab" {
		t.Errorf("stream got begun=%d version=%q type=%q body=%q", rec.begun, rec.version, rec.contentType, rec.body.String())
	}
	// Once Invoke returned, a runtime still streaming reaches nobody.
	if _, err := run.req.Invocation.Stream.Write([]byte("late")); err == nil || rec.body.String() != "ab" {
		t.Errorf("late write: %v, body %q", err, rec.body.String())
	}
}

func TestInvokeStreamBuffered(t *testing.T) {
	run := &streamingRunner{}
	f := &Frontend{Resolver: fakeResolver{"f": target("f")}, Runner: run}
	rec := &recorder{}
	out, err := f.Invoke(context.Background(), &Input{Ref: registry.Ref{Name: "f"}, Payload: []byte(`{}`), Stream: rec, RequestID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Streamed || string(out.Payload) != `"buffered"` || rec.begun != 0 {
		t.Errorf("Output = %+v, begun %d", out, rec.begun)
	}
}
