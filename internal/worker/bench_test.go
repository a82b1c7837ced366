package worker

import (
	"context"
	"testing"
)

// BenchmarkInvokeWarm is the worker's share of a warm invocation: place,
// the Runtime API round trip to the fake runtime over loopback HTTP,
// the log lines and release. go test -bench InvokeWarm -benchmem shows
// its allocations.
func BenchmarkInvokeWarm(b *testing.B) {
	h := newHarness(b, Config{})
	f := spec("f", "ok", 128)
	req := &Request{}
	req.Invocation.RequestID = "bench"
	req.Invocation.Payload = []byte(`{"do":"echo"}`)
	if _, err := h.w.Invoke(context.Background(), f, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := h.w.Invoke(context.Background(), f, req); err != nil {
			b.Fatal(err)
		}
	}
}
