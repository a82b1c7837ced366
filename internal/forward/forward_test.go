package forward

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/runtimeapi"
	"github.com/kumo-run/kumo/internal/worker"
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
	out, err := runners["a"].Invoke(ctx, &worker.Spec{Key: "k", FunctionName: "f", Timeout: time.Second}, req)
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Payload) != `c:{"x":1}` {
		t.Fatalf("payload %q, want the run on node c", out.Payload)
	}
	if n := nodes["b"].calls.Load(); n > 1 {
		t.Fatalf("node b ran the forwarded invocation %d times (it must not forward it again)", n)
	}
	// Not full here: no forwarding.
	out, err = runners["c"].Invoke(ctx, &worker.Spec{Key: "k"}, req)
	if err != nil || string(out.Payload) != `c:{"x":1}` {
		t.Fatalf("local run: %v %v", out, err)
	}
	// Everyone full: the caller's capacity error.
	nodes["c"].full = true
	runners["a"].mu.Lock()
	runners["a"].peersAt = time.Time{}
	runners["a"].mu.Unlock()
	if _, err := runners["a"].Invoke(ctx, &worker.Spec{Key: "k"}, req); !errors.Is(err, worker.ErrCapacity) {
		t.Fatalf("all full: %v, want worker.ErrCapacity", err)
	}
}
