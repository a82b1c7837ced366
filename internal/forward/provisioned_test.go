package forward

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/poll"
	"github.com/kumo-run/kumo/internal/worker"
)

// provSink records what a node's worker was told to keep.
type provSink struct {
	mu   sync.Mutex
	want map[string]int
}

func (s *provSink) SetProvisioned(ts []worker.ProvisionedTarget) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.want = map[string]int{}
	for _, t := range ts {
		if !t.Settled {
			panic("a target pushed unsettled: the worker would report its own share as the status")
		}
		s.want[t.ID] = t.Want
	}
}

func (s *provSink) get(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.want[id]
}

// provStatus records the statuses reported.
type provStatus struct {
	mu   sync.Mutex
	last map[string]int
}

func (s *provStatus) ReportProvisioned(_ context.Context, id string, allocated int, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		s.last = map[string]int{}
	}
	s.last[id] = allocated
	return nil
}

func (s *provStatus) get(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[id]
}

// TestProvisionedShares: provisioned concurrency 2 over three nodes in
// zones a, b and c: two nodes in two zones keep one each; the status counts
// the sandboxes ready on every node; when a node is gone the other two
// take its share over.
func TestProvisionedShares(t *testing.T) {
	srv, err := natsd.Start(natsd.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	ids := []string{"a", "b", "c"}
	locals := map[string]*reportingLocal{}
	runners := map[string]*Runner{}
	sinks := map[string]*provSink{}
	status := &provStatus{}
	target := []worker.ProvisionedTarget{{ID: "f:live", Spec: &worker.Spec{Key: "f:1:r", FunctionName: "f"}, Want: 2}}
	for i, id := range ids {
		nc, err := srv.Connect(id)
		if err != nil {
			t.Fatal(err)
		}
		l := &reportingLocal{name: id, budget: 1024, idle: map[string]int{}}
		r, err := NewInZone(nc, id, string(rune('a'+i)), l, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		locals[id], runners[id], sinks[id] = l, r, &provSink{}
	}
	if err := poll.Wait(30*time.Second, func() error {
		for _, r := range runners {
			if n := len(r.view.Load().members); n != 3 {
				return fmt.Errorf("%s knows %d nodes", r.node, n)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		runners[id].Provisioned(sinks[id], status).SetProvisioned(target)
	}
	total, holders := 0, 0
	for _, id := range ids {
		n := sinks[id].get("f:live")
		total += n
		if n > 0 {
			holders++
		}
		// The worker readies its share.
		locals[id].mu.Lock()
		locals[id].prov = map[string]worker.PoolState{"f:live": {Ready: n}}
		locals[id].mu.Unlock()
	}
	if total != 2 || holders != 2 {
		t.Fatalf("shares add up to %d on %d nodes, want 2 on 2 (zones a, b, c)", total, holders)
	}
	if err := poll.Wait(30*time.Second, func() error {
		if n := status.get("f:live"); n != 2 {
			return fmt.Errorf("status reports %d allocated", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A holder goes: the two left keep one each.
	var gone string
	for _, id := range ids {
		if sinks[id].get("f:live") == 1 {
			gone = id
			break
		}
	}
	runners[gone].Close()
	if err := poll.Wait(60*time.Second, func() error {
		for _, id := range ids {
			if id != gone {
				if n := sinks[id].get("f:live"); n != 1 {
					return fmt.Errorf("%s keeps %d", id, n)
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("after %s left: %v", gone, err)
	}
}
