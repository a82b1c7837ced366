package worker

import (
	"context"
	"errors"
	"testing"

	"github.com/kumo-run/kumo/internal/runtimeapi"
)

// TestWarmOnly: a WarmOnly invocation without an idle sandbox of its
// version starts nothing and says ErrNotWarm; with one idle it runs
// there. IdleVersions reports the idle sandboxes per version.
func TestWarmOnly(t *testing.T) {
	h := newHarness(t, Config{})
	f := spec("f", "ok", 128)
	warm := func() (*Outcome, error) {
		req := &Request{Invocation: runtimeapi.Invocation{RequestID: "w", Payload: []byte(`{"do":"echo"}`)}, WarmOnly: true}
		return h.w.Invoke(context.Background(), f, req)
	}
	if _, err := warm(); !errors.Is(err, ErrNotWarm) {
		t.Fatalf("WarmOnly with nothing idle: %v, want ErrNotWarm", err)
	}
	if starts, _ := h.d.counts(); starts != 0 {
		t.Fatalf("%d sandboxes started by a WarmOnly invocation", starts)
	}
	if got := h.w.IdleVersions(10); len(got) != 0 {
		t.Fatalf("IdleVersions before any sandbox: %v", got)
	}
	h.mustInvoke(f, "echo")
	eventually(t, "the sandbox reported idle", func() bool { return h.w.IdleVersions(10)[f.Key] == 1 })
	out, err := warm()
	if err != nil || out.ColdStart || string(out.Payload) != `{"do":"echo"}` {
		t.Fatalf("WarmOnly with one idle: %+v %v", out, err)
	}
	if starts, _ := h.d.counts(); starts != 1 {
		t.Fatalf("%d sandboxes started, want 1", starts)
	}
	if got := h.w.IdleVersions(0); len(got) != 0 {
		t.Errorf("IdleVersions(0) = %v, want none", got)
	}
}
