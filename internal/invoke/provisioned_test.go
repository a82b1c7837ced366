package invoke

import (
	"context"
	"sync"
	"testing"

	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/worker"
)

type fakeProvSource struct {
	mu      sync.Mutex
	targets []registry.ProvisionedTarget
	status  map[string]int
}

func (f *fakeProvSource) ProvisionedTargets() []registry.ProvisionedTarget {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.targets
}

func (f *fakeProvSource) SetProvisionedStatus(_ context.Context, t registry.ProvisionedTarget, allocated int, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[t.ID()+"@"+t.Config.LastModified] = allocated
	return nil
}

type fakeSink struct{ got [][]worker.ProvisionedTarget }

func (s *fakeSink) SetProvisioned(ts []worker.ProvisionedTarget) { s.got = append(s.got, ts) }

// TestProvisionedBridge: targets reach the worker as provisioned Specs,
// READY ones settled; reports go to the configuration as last pushed, and
// reports for configurations gone are dropped.
func TestProvisionedBridge(t *testing.T) {
	v := target("f").Version
	v.Config.Version = "3"
	src := &fakeProvSource{status: map[string]int{}, targets: []registry.ProvisionedTarget{
		{Function: "f", Qualifier: "live", Key: "f:3:r", Version: v, Config: registry.ProvisionedConfig{Requested: 2, Status: registry.ProvisionedInProgress, LastModified: "t1"}},
		{Function: "g", Qualifier: "1", Key: "g:1:r", Version: v, Config: registry.ProvisionedConfig{Requested: 1, Status: registry.ProvisionedReady, LastModified: "t0"}},
	}}
	p := NewProvisioned(src)
	sink := &fakeSink{}
	p.Attach(sink)
	if len(sink.got) != 1 || len(sink.got[0]) != 2 {
		t.Fatalf("pushed %+v", sink.got)
	}
	a, b := sink.got[0][0], sink.got[0][1]
	if a.ID != "f:live" || a.Want != 2 || a.Settled || !a.Spec.Provisioned || a.Spec.Key != "f:3:r" || a.Spec.Version != "3" || a.Spec.MemoryMB != 256 {
		t.Fatalf("target %+v spec %+v", a, *a.Spec)
	}
	if !b.Settled {
		t.Fatal("a READY configuration is not settled")
	}
	if err := p.ReportProvisioned(context.Background(), "f:live", 1, ""); err != nil {
		t.Fatal(err)
	}
	if got, ok := src.status["f:live@t1"]; !ok || got != 1 {
		t.Fatalf("status %v", src.status)
	}
	src.mu.Lock()
	src.targets = nil
	src.mu.Unlock()
	p.Sync()
	if len(sink.got) != 2 || len(sink.got[1]) != 0 {
		t.Fatalf("after the configurations went: pushed %+v", sink.got)
	}
	p.ReportProvisioned(context.Background(), "f:live", 2, "")
	if got := src.status["f:live@t1"]; got != 1 {
		t.Fatal("a report for a configuration gone was recorded")
	}
}
