package worker

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/sandbox"
)

// fakeProvisioned is a ProvisionedSource with fixed targets that records
// status writes.
type fakeProvisioned struct {
	mu      sync.Mutex
	targets []registry.ProvisionedTarget
	status  map[string]int
}

func (f *fakeProvisioned) ProvisionedTargets() []registry.ProvisionedTarget {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]registry.ProvisionedTarget(nil), f.targets...)
}

func (f *fakeProvisioned) SetProvisionedStatus(_ context.Context, t registry.ProvisionedTarget, allocated int, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[t.ID()] = allocated
	return nil
}

// poolInstance puts a ready, idle sandbox in the pool of target t.
func poolInstance(t *testing.T, w *Worker, tg registry.ProvisionedTarget) *instance {
	t.Helper()
	in := idleInstance(t, w, tg.Key, 128, time.Now())
	w.mu.Lock()
	defer w.mu.Unlock()
	w.removeIdleLocked(in)
	in.life.To(sandbox.Initializing)
	in.life.To(sandbox.Idle)
	pp := w.provLocked()
	p := pp.byID[tg.ID()]
	if p == nil {
		p = &provPool{id: tg.ID(), key: tg.Key, want: tg.Config.Requested, ready: map[string]*instance{}}
		pp.byID[p.id] = p
	}
	p.ready[in.id] = in
	p.idle = append(p.idle, in)
	pp.member[in.id] = p
	return in
}

// TestProvisionedPool: provisioned sandboxes are preferred for their key,
// go back to their pool (not the idle pool) and are released with their
// configuration.
func TestProvisionedPool(t *testing.T) {
	w := &Worker{cfg: Config{MemoryBudgetMB: 1024}, log: discardLogger(), idle: map[string][]*instance{}, all: map[string]*instance{}}
	tg := registry.ProvisionedTarget{Function: "f", Qualifier: "1", Key: "f:1:r",
		Config: registry.ProvisionedConfig{Requested: 1, Status: registry.ProvisionedInProgress}}
	onDemand := idleInstance(t, w, tg.Key, 128, time.Now())
	onDemand.life.To(sandbox.Initializing)
	onDemand.life.To(sandbox.Idle)
	prov := poolInstance(t, w, tg)

	if got := w.acquire(tg.Key); got != prov {
		t.Fatal("acquire did not prefer the provisioned sandbox")
	}
	if got := w.acquire(tg.Key); got != onDemand {
		t.Fatal("with the provisioned sandbox busy, acquire did not take the on-demand one")
	}
	w.release(prov)
	w.mu.Lock()
	inIdle := len(w.idle[tg.Key])
	w.mu.Unlock()
	if inIdle != 0 {
		t.Fatal("a provisioned sandbox went to the idle pool")
	}
	if got := w.acquire(tg.Key); got != prov {
		t.Fatal("the released provisioned sandbox is not back in its pool")
	}
	w.release(prov)

	// One pass with the target: the pool is full, the status is written.
	src := &fakeProvisioned{targets: []registry.ProvisionedTarget{tg}, status: map[string]int{}}
	w.reconcileProvisioned(context.Background(), src)
	if got, ok := src.status[tg.ID()]; !ok || got != 1 {
		t.Fatalf("allocated written = %d, %v; want 1", got, ok)
	}
	if isClosed(prov.sb.(*fakeSandbox).exited) {
		t.Fatal("a provisioned sandbox of a live configuration was destroyed")
	}

	// The configuration is gone: the sandbox is released.
	src.targets = nil
	w.reconcileProvisioned(context.Background(), src)
	deadline := time.Now().Add(5 * time.Second)
	for !isClosed(prov.sb.(*fakeSandbox).exited) {
		if time.Now().After(deadline) {
			t.Fatal("the sandbox of a deleted configuration was not destroyed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := w.acquire(tg.Key); got != nil {
		t.Fatal("acquire returned a sandbox of a deleted configuration")
	}
	w.release(onDemand)
}

func TestInitializationType(t *testing.T) {
	if got := (&Function{}).initializationType(); got != "on-demand" {
		t.Errorf("on-demand function: %q", got)
	}
	if got := (&Function{provisioned: true}).initializationType(); got != "provisioned-concurrency" {
		t.Errorf("provisioned function: %q", got)
	}
}
