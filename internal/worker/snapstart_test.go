package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// invokeTail is invoke asking for the log tail.
func (h *harness) invokeTail(ctx context.Context, s *Spec, do string) (*Outcome, error) {
	req := &Request{Tail: true}
	req.Invocation.RequestID = fmt.Sprintf("req-%d", reqN.Add(1))
	req.Invocation.Payload = []byte(`{"do":"` + do + `"}`)
	return h.w.Invoke(ctx, s, req)
}

// TestSnapStartKeepsASandboxReady: a SnapStart version's first invocation
// is a cold start; the node then readies a second sandbox of the version
// beside the busy one (whatever the keep-alive policy: the harness's is
// Fixed), which an invocation needing a sandbox meanwhile takes: it
// reports a Restore Duration and no Init Duration, and the sandbox runs
// as snap-start. Taking it readies the next one.
func TestSnapStartKeepsASandboxReady(t *testing.T) {
	d := &fakeDriver{hold: make(chan struct{})}
	h := newHarness(t, Config{Driver: d})
	s := spec("snap", "ok", 128)
	s.SnapStart = true
	ctx := context.Background()

	type result struct {
		out *Outcome
		err error
	}
	first := make(chan result, 1)
	go func() {
		out, err := h.invokeTail(ctx, s, "hold")
		first <- result{out, err}
	}()
	eventually(t, "a sandbox of the version kept ready beside the busy one", func() bool {
		return h.w.IdleVersions(10)[s.Key] == 1
	})
	if starts, _ := d.counts(); starts != 2 {
		t.Fatalf("%d sandboxes started, want 2", starts)
	}
	if typ := d.sandboxes()[1].env("AWS_LAMBDA_INITIALIZATION_TYPE"); typ != "snap-start" {
		t.Fatalf("kept-ready sandbox's AWS_LAMBDA_INITIALIZATION_TYPE = %q, want snap-start", typ)
	}

	out, err := h.invokeTail(ctx, s, "whoami")
	if err != nil {
		t.Fatal(err)
	}
	tail := string(out.LogTail)
	if string(out.Payload) != `"snap-start"` || out.ColdStart || out.InitDuration != 0 || out.RestoreDuration <= 0 {
		t.Fatalf("invocation on the kept-ready sandbox: payload %s, cold %v, init %v, restore %v",
			out.Payload, out.ColdStart, out.InitDuration, out.RestoreDuration)
	}
	if !strings.Contains(tail, "\tRestore Duration: ") || !strings.Contains(tail, fmt.Sprintf("\tBilled Restore Duration: %d ms\t", out.BilledRestoreMs())) ||
		strings.Contains(tail, "Init Duration") {
		t.Fatalf("REPORT of the restored invocation:\n%s", tail)
	}
	// Taking the kept-ready sandbox readied the next one before the
	// invocation ran: three sandboxes are charged.
	if used := h.w.MemoryUsedMB(); used != 3*128 {
		t.Fatalf("memory charged = %d MB, want %d", used, 3*128)
	}
	eventually(t, "a third sandbox started", func() bool { starts, _ := d.counts(); return starts == 3 })
	if typ := d.sandboxes()[2].env("AWS_LAMBDA_INITIALIZATION_TYPE"); typ != "snap-start" {
		t.Fatalf("third sandbox's AWS_LAMBDA_INITIALIZATION_TYPE = %q, want snap-start", typ)
	}

	close(d.hold)
	r := <-first
	if r.err != nil {
		t.Fatal(r.err)
	}
	tail = string(r.out.LogTail)
	if string(r.out.Payload) != `"on-demand"` || !r.out.ColdStart || r.out.InitDuration <= 0 || r.out.RestoreDuration != 0 ||
		!strings.Contains(tail, "\tInit Duration: ") || strings.Contains(tail, "Restore Duration") {
		t.Fatalf("first invocation: payload %s, cold %v, init %v, restore %v, tail:\n%s",
			r.out.Payload, r.out.ColdStart, r.out.InitDuration, r.out.RestoreDuration, tail)
	}

	// A kept-ready sandbox reports its restore once, and only it does:
	// serial invocations reuse one sandbox, with one idle beside it,
	// so nothing more starts.
	eventually(t, "the third sandbox idle", func() bool { return h.w.IdleVersions(10)[s.Key] == 3 })
	restores := 0
	for range 4 {
		out := h.mustInvoke(s, "whoami")
		if out.RestoreDuration != 0 {
			restores++
			if string(out.Payload) != `"snap-start"` {
				t.Fatalf("restore reported by an on-demand sandbox: %+v", out)
			}
		}
	}
	if restores > 1 {
		t.Fatalf("%d restores reported by serial invocations, want at most 1", restores)
	}
	if starts, _ := d.counts(); starts != 3 {
		t.Fatalf("%d sandboxes started with one idle each time, want 3", starts)
	}
}

// TestSnapStartOffStartsNothingMore: without SnapStart (or for a
// provisioned-concurrency sandbox's Spec) nothing is started beside the
// sandboxes invocations need, and the REPORT lines are as before.
func TestSnapStartOffStartsNothingMore(t *testing.T) {
	d := &fakeDriver{hold: make(chan struct{})}
	h := newHarness(t, Config{Driver: d})
	s := spec("plain", "ok", 128)
	out, err := h.invokeTail(context.Background(), s, "whoami")
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Payload) != `"on-demand"` || !out.ColdStart || out.RestoreDuration != 0 || strings.Contains(string(out.LogTail), "Restore Duration") {
		t.Fatalf("cold invocation: %s, tail:\n%s", out.Payload, out.LogTail)
	}
	// The charge is taken before Invoke returns: nothing else was.
	if used := h.w.MemoryUsedMB(); used != 128 {
		t.Fatalf("memory charged = %d MB, want 128", used)
	}
	done := make(chan error, 1)
	go func() { _, err := h.invoke(context.Background(), s, "hold"); done <- err }()
	eventually(t, "the held invocation took the idle sandbox", func() bool { return h.w.IdleVersions(10)[s.Key] == 0 })
	out = h.mustInvoke(s, "whoami")
	if !out.ColdStart || out.RestoreDuration != 0 {
		t.Fatalf("concurrent invocation: %+v", out)
	}
	if used := h.w.MemoryUsedMB(); used != 2*128 {
		t.Fatalf("memory charged = %d MB, want %d", used, 2*128)
	}
	close(d.hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	p := spec("prov", "ok", 128)
	p.SnapStart, p.Provisioned = true, true
	h.mustInvoke(p, "echo")
	if used := h.w.MemoryUsedMB(); used != 3*128 {
		t.Fatalf("memory charged after a provisioned Spec's start = %d MB, want %d", used, 3*128)
	}
}

// TestSnapStartWithinBudget: the kept-ready sandbox is started only when
// the memory budget has room for it without evicting anything.
func TestSnapStartWithinBudget(t *testing.T) {
	h := newHarness(t, Config{MemoryBudgetMB: 256})
	other := spec("other", "ok", 128)
	h.mustInvoke(other, "echo")
	s := spec("snap", "ok", 128)
	s.SnapStart = true
	h.mustInvoke(s, "echo")
	if used := h.w.MemoryUsedMB(); used != 256 {
		t.Fatalf("memory charged = %d MB, want 256", used)
	}
	if idle := h.w.IdleVersions(10); idle[other.Key] != 1 || idle[s.Key] != 1 {
		t.Fatalf("idle sandboxes %v: the other function's was evicted or a kept-ready one started", idle)
	}
}

// TestSnapStartReport: the REPORT line and the Telemetry API's
// platform.report record of a restored invocation carry its restore
// duration in Lambda's words, and those of any other invocation do not.
func TestSnapStartReport(t *testing.T) {
	for _, tc := range []struct {
		name       string
		out        Outcome
		line       string
		restoreRec string
	}{
		{"restored", Outcome{Duration: 2310 * time.Microsecond, RestoreDuration: 40 * time.Microsecond, MaxMemoryMB: 40},
			"REPORT RequestId: r\tDuration: 2.31 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tRestore Duration: 0.04 ms\tBilled Restore Duration: 1 ms\t",
			`"restoreDurationMs":0.04`},
		{"restored longer", Outcome{Duration: time.Millisecond, RestoreDuration: 2001 * time.Microsecond, MaxMemoryMB: 40},
			"REPORT RequestId: r\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tRestore Duration: 2.00 ms\tBilled Restore Duration: 3 ms\t",
			`"restoreDurationMs":2.001`},
		{"cold", Outcome{Duration: time.Millisecond, InitDuration: 120 * time.Millisecond, ColdStart: true, MaxMemoryMB: 40},
			"REPORT RequestId: r\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tInit Duration: 120.00 ms\t", ""},
		{"warm", Outcome{Duration: time.Millisecond, MaxMemoryMB: 40},
			"REPORT RequestId: r\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t", ""},
	} {
		if got := reportLine("r", &tc.out, 128); got != tc.line {
			t.Errorf("%s: REPORT line\n%q, want\n%q", tc.name, got, tc.line)
		}
		b, err := json.Marshal(newReportRecord("r", &tc.out, 128))
		if err != nil {
			t.Fatal(err)
		}
		if has := strings.Contains(string(b), `"restoreDurationMs"`); has != (tc.restoreRec != "") || !strings.Contains(string(b), tc.restoreRec) {
			t.Errorf("%s: platform.report %s, want restoreDurationMs %q", tc.name, b, tc.restoreRec)
		}
	}
}
