package registry

import (
	"context"
	"testing"
)

// TestWatch: a write to the view signals every watcher, and stopping
// closes the channel.
func TestWatch(t *testing.T) {
	r := openTest(t)
	a, stopA := r.Watch()
	b, stopB := r.Watch()
	defer stopB()
	mustCreate(t, r, "f")
	for _, c := range []<-chan struct{}{a, b} {
		select {
		case <-c:
		default:
			t.Fatal("a watcher got no signal for a new function")
		}
	}
	stopA()
	stopA()
	if _, ok := <-a; ok {
		t.Fatal("a stopped watch's channel is open")
	}
	if _, err := r.PutFunctionConcurrency(context.Background(), Ref{Name: "f"}, 5); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-b; !ok {
		t.Fatal("the other watcher lost its signal")
	}
}
