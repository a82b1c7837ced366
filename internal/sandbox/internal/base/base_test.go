package base

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a writer the test can read while a flow writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func pumped(t *testing.T) (*os.File, *Flow, *lockedBuffer) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	f := NewFlow(out, r)
	done := make(chan struct{})
	go f.Pump(done)
	t.Cleanup(func() {
		w.Close()
		<-done
	})
	return w, f, out
}

// TestDrainDelivers: whatever the pump goroutine is doing, output written
// before Drain has reached the writer when Drain returns, even with no
// time to wait for the pump.
func TestDrainDelivers(t *testing.T) {
	w, f, out := pumped(t)
	var want bytes.Buffer
	for i := range 2000 {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		if _, err := w.WriteString(line); err != nil {
			t.Fatal(err)
		}
		Drain(0, f)
		if got := out.String(); got != want.String() {
			t.Fatalf("after line %d and Drain, the writer has %d bytes, want %d", i, len(got), want.Len())
		}
	}
}

// TestPumpKeepsOrder: the pump and Drain taking turns never reorder
// output, and the pump alone delivers everything up to EOF.
func TestPumpKeepsOrder(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	f := NewFlow(out, r)
	done := make(chan struct{})
	go f.Pump(done)
	var want bytes.Buffer
	stop := make(chan struct{})
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			select {
			case <-stop:
				return
			default:
				Drain(time.Millisecond, f)
			}
		}
	}()
	for i := range 20000 {
		line := fmt.Sprintf("%06d\n", i)
		want.WriteString(line)
		if _, err := w.WriteString(line); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	<-drained
	w.Close()
	<-done
	if got := out.String(); got != want.String() {
		t.Fatalf("output differs from what was written: %d bytes, want %d", len(got), want.Len())
	}
}

// TestDrainBounded: Drain of a pipe that never runs dry returns after max.
func TestDrainBounded(t *testing.T) {
	w, f, _ := pumped(t)
	stop := make(chan struct{})
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		chunk := bytes.Repeat([]byte("x"), 4096)
		for {
			select {
			case <-stop:
				return
			default:
				w.Write(chunk)
			}
		}
	}()
	returned := make(chan struct{})
	go func() {
		Drain(10*time.Millisecond, f)
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(time.Minute):
		t.Error("Drain of an endless writer did not return")
	}
	close(stop)
	<-wrote
}
