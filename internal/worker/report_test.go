package worker

import (
	"context"
	"strings"
	"sync"
	"testing"
)

// recordingSink keeps every line appended, per stream, in order.
type recordingSink struct {
	mu    sync.Mutex
	lines []string
}

func (r *recordingSink) Append(_, _ string, evs []LogEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range evs {
		r.lines = append(r.lines, strings.TrimSuffix(e.Message, "\n"))
	}
}

func (r *recordingSink) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// TestReportAfterAnswer: without Tail, the END and REPORT lines are
// written after the caller has the answer, yet every invocation's lines
// stay in order (START, END, REPORT, then the next START) when the next
// invocation comes at once, and the sandbox is reused; with Tail, the tail
// already holds the REPORT line with the sandbox's peak memory.
func TestReportAfterAnswer(t *testing.T) {
	sink := &recordingSink{}
	h := newHarness(t, Config{Driver: &fakeDriver{peak: 10 << 20}, Logs: sink})
	s := spec("ordered", "ok", 128)
	var ids []string
	for range 20 {
		req := &Request{}
		req.Invocation.RequestID = "req-order-" + string(rune('a'+len(ids)))
		req.Invocation.Payload = []byte(`{"do":"echo"}`)
		out, err := h.w.Invoke(context.Background(), s, req)
		if err != nil || out.FunctionError != "" {
			t.Fatalf("invoke: %v %+v", err, out)
		}
		ids = append(ids, req.Invocation.RequestID)
	}
	if starts, _ := h.d.counts(); starts != 1 {
		t.Fatalf("%d sandboxes for back-to-back invokes, want 1", starts)
	}
	eventually(t, "every REPORT line written", func() bool { return len(sink.snapshot()) >= 3*len(ids) })
	lines := sink.snapshot()
	i := 0
	for _, id := range ids {
		for _, prefix := range []string{"START RequestId: " + id, "END RequestId: " + id, "REPORT RequestId: " + id} {
			for i < len(lines) && !strings.HasPrefix(lines[i], "START") && !strings.HasPrefix(lines[i], "END") && !strings.HasPrefix(lines[i], "REPORT") {
				i++
			}
			if i == len(lines) || !strings.HasPrefix(lines[i], prefix) {
				t.Fatalf("line %d: want %q next, have %q", i, prefix, lines)
			}
			i++
		}
	}
	if !strings.Contains(lines[len(lines)-1], "Max Memory Used: 10 MB") {
		t.Errorf("last REPORT line %q: want the measured peak, 10 MB", lines[len(lines)-1])
	}

	req := &Request{Tail: true}
	req.Invocation.RequestID = "req-order-tail"
	req.Invocation.Payload = []byte(`{"do":"echo"}`)
	out, err := h.w.Invoke(context.Background(), s, req)
	if err != nil {
		t.Fatal(err)
	}
	if tail := string(out.LogTail); !strings.Contains(tail, "REPORT RequestId: req-order-tail") || !strings.Contains(tail, "Max Memory Used: 10 MB") {
		t.Errorf("tail %q: want the REPORT line with the peak", tail)
	}
}
