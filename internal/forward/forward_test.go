package forward

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/poll"
	"github.com/kumo-run/kumo/internal/runtimeapi"
	"github.com/kumo-run/kumo/internal/worker"
	"github.com/nats-io/nats.go"
)

// fakeLocal stands in for a node's worker: full, or answering with its
// name.
type fakeLocal struct {
	name  string
	full  bool
	calls atomic.Int32
}

func (f *fakeLocal) Invoke(ctx context.Context, spec *worker.Spec, req *worker.Request) (*worker.Outcome, error) {
	f.calls.Add(1)
	if f.full {
		return nil, worker.ErrCapacity
	}
	if _, ok := ctx.Deadline(); !ok {
		return nil, errors.New("no deadline")
	}
	return &worker.Outcome{Payload: append([]byte(f.name+":"), req.Invocation.Payload...)}, nil
}

// TestForwardOnCapacity: three nodes on one NATS; a full node runs the
// invocation on the first other node with room; a full node answering a
// forwarded one does not forward it again; with every node full the
// caller gets worker.ErrCapacity.
func TestForwardOnCapacity(t *testing.T) {
	srv, err := natsd.Start(natsd.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nodes := map[string]*fakeLocal{"a": {name: "a", full: true}, "b": {name: "b", full: true}, "c": {name: "c"}}
	runners := map[string]*Runner{}
	for id, l := range nodes {
		nc, err := srv.Connect(id)
		if err != nil {
			t.Fatal(err)
		}
		r, err := New(nc, id, l, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		runners[id] = r
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := &worker.Request{Invocation: runtimeapi.Invocation{RequestID: "r1", Payload: []byte(`{"x":1}`)}}
	var out *worker.Outcome
	// Until a discovery has heard node c (its answer may come after the
	// wait on a loaded machine).
	if err := poll.Wait(30*time.Second, func() error {
		var err error
		out, err = runners["a"].Invoke(ctx, &worker.Spec{Key: "k", FunctionName: "f", Timeout: time.Second}, req)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if string(out.Payload) != `c:{"x":1}` {
		t.Fatalf("payload %q, want the run on node c", out.Payload)
	}
	if n, m := nodes["b"].calls.Load(), nodes["a"].calls.Load(); n > m {
		t.Fatalf("node b ran forwarded invocations %d times for node a's %d (a forwarded one must not be forwarded again)", n, m)
	}
	// Not full here: no forwarding.
	out, err = runners["c"].Invoke(ctx, &worker.Spec{Key: "k"}, req)
	if err != nil || string(out.Payload) != `c:{"x":1}` {
		t.Fatalf("local run: %v %v", out, err)
	}
	// Everyone full: the caller's capacity error.
	nodes["c"].full = true
	if _, err := runners["a"].Invoke(ctx, &worker.Spec{Key: "k"}, req); !errors.Is(err, worker.ErrCapacity) {
		t.Fatalf("all full: %v, want worker.ErrCapacity", err)
	}
}

// TestForwardToDeadPeer: a peer that takes a forwarded invocation and
// never answers (it died with it) fails the invocation once the function's
// timeout and the margin have passed, even for a caller without a
// deadline (the async queue), instead of holding it forever.
func TestForwardToDeadPeer(t *testing.T) {
	srv, err := natsd.Start(natsd.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nca, err := srv.Connect("a")
	if err != nil {
		t.Fatal(err)
	}
	ncd, err := srv.Connect("d")
	if err != nil {
		t.Fatal(err)
	}
	// Node d answers discovery, takes invocations and never replies.
	if _, err := ncd.Subscribe(natsd.NodesSubject, func(m *nats.Msg) { m.Respond([]byte("d")) }); err != nil {
		t.Fatal(err)
	}
	var taken atomic.Int32
	if _, err := ncd.Subscribe(natsd.InvokeSubject("d"), func(*nats.Msg) { taken.Add(1) }); err != nil {
		t.Fatal(err)
	}
	ncd.Flush()
	ra, err := New(nca, "a", &fakeLocal{name: "a", full: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	ra.margin = 100 * time.Millisecond
	req := &worker.Request{Invocation: runtimeapi.Invocation{RequestID: "r1", Payload: []byte(`{}`)}}
	spec := &worker.Spec{Key: "k", FunctionName: "f", Timeout: 100 * time.Millisecond}
	done := make(chan error, 1)
	go func() {
		// Until discovery has heard node d; no deadline on the call.
		done <- poll.Wait(30*time.Second, func() error {
			_, err := ra.Invoke(context.Background(), spec, req)
			if taken.Load() == 0 {
				return errors.New("node d has not taken the invocation yet")
			}
			if !errors.Is(err, errRemote) {
				return poll.Stop{Err: fmt.Errorf("error %v, want errRemote", err)}
			}
			return nil
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("a forwarded invocation to a peer that never answers is still waiting after 60 s")
	}
}

// BenchmarkForward is what forwarding adds to an invocation, over one
// in-process NATS server (no network): encoding, request/reply, decoding,
// with a 1 KB event; the run itself is a fake that answers at once.
func BenchmarkForward(b *testing.B) {
	srv, err := natsd.Start(natsd.Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	full, room := &fakeLocal{name: "a", full: true}, &fakeLocal{name: "c"}
	nca, _ := srv.Connect("a")
	ncc, _ := srv.Connect("c")
	ra, err := New(nca, "a", full, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ra.Close()
	rc, err := New(ncc, "c", room, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	payload := make([]byte, 1024)
	for i := range payload {
		payload[i] = 'x'
	}
	req := &worker.Request{Invocation: runtimeapi.Invocation{RequestID: "r", Payload: payload}}
	spec := &worker.Spec{Key: "k", FunctionName: "f", Timeout: time.Second, Environment: map[string]string{"A": "1"}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	ra.others(ctx) // discovery once, outside the timing
	b.ResetTimer()
	for b.Loop() {
		if _, err := ra.Invoke(ctx, spec, req); err != nil {
			b.Fatal(err)
		}
	}
}
