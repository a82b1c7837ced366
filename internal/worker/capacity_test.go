package worker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/sandbox"
)

// fakeSandbox is enough of a Sandbox for the budget's bookkeeping.
type fakeSandbox struct {
	ln     net.Listener
	exited chan struct{}
	once   sync.Once
}

func (f *fakeSandbox) ID() string              { return "fake" }
func (f *fakeSandbox) Listener() net.Listener  { return f.ln }
func (f *fakeSandbox) RuntimeAPI() string      { return f.ln.Addr().String() }
func (f *fakeSandbox) Exited() <-chan struct{} { return f.exited }
func (f *fakeSandbox) Stats() sandbox.Stats    { return sandbox.Stats{} }
func (f *fakeSandbox) Destroy(context.Context) error {
	f.once.Do(func() { close(f.exited); f.ln.Close() })
	return nil
}

func idleInstance(t *testing.T, w *Worker, key string, mb int, used time.Time) *instance {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{id: newID(), key: key, memoryMB: mb, lastUsed: used, life: sandbox.NewLifecycle(),
		sb: &fakeSandbox{ln: ln, exited: make(chan struct{})}, exited: make(chan struct{})}
	in.logs = newCapture(NoLogs{}, "g", "s")
	in.out, in.err = &writer{c: in.logs}, &writer{c: in.logs}
	w.mu.Lock()
	w.memUsed += mb
	w.all[in.id] = in
	w.idle[key] = append(w.idle[key], in)
	w.mu.Unlock()
	return in
}

// TestMemoryBudget: a new sandbox evicts idle ones of other functions, least
// recently used first, and is refused only when nothing idle is left.
func TestMemoryBudget(t *testing.T) {
	w := &Worker{cfg: Config{MemoryBudgetMB: 1024}, log: nil, idle: map[string][]*instance{}, all: map[string]*instance{}}
	w.log = discardLogger()
	now := time.Now()
	old := idleInstance(t, w, "a:1:r", 512, now.Add(-time.Minute))
	recent := idleInstance(t, w, "b:1:r", 512, now)
	if err := w.reserveMemory(256); err != nil {
		t.Fatalf("reserve with idle sandboxes to evict: %v", err)
	}
	if !isClosed(old.sb.(*fakeSandbox).exited) {
		t.Fatal("the least recently used idle sandbox was not evicted")
	}
	if isClosed(recent.sb.(*fakeSandbox).exited) {
		t.Fatal("evicted more than needed")
	}
	if got := w.MemoryUsedMB(); got != 768 {
		t.Fatalf("memory used %d MB, want 768", got)
	}
	// Busy sandboxes cannot be evicted: take the last idle one out.
	w.mu.Lock()
	w.removeIdleLocked(recent)
	w.mu.Unlock()
	if err := w.reserveMemory(512); !errors.Is(err, ErrCapacity) {
		t.Fatalf("reserve beyond the budget with nothing idle: %v, want ErrCapacity", err)
	}
	if got := w.MemoryUsedMB(); got != 768 {
		t.Fatalf("a refused reservation changed the count: %d MB", got)
	}
	w.releaseMemory(256)
	if err := w.reserveMemory(512); err != nil {
		t.Fatalf("after a release: %v", err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
