//go:build linux

package linux

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"testing"

	"github.com/kumo-run/kumo/internal/netns"
	"github.com/kumo-run/kumo/internal/sandbox"
	"github.com/kumo-run/kumo/internal/sandbox/sandboxtest"
)

// policyNetwork is a fakeNetwork that records the policies set.
type policyNetwork struct {
	fakeNetwork
	pmu      sync.Mutex
	policies []netns.Policy
}

func (n *policyNetwork) AttachPolicy(ctx context.Context, pid int) (func() error, func(*netns.Policy) error, error) {
	detach, err := n.Attach(ctx, pid)
	return detach, func(p *netns.Policy) error {
		n.pmu.Lock()
		defer n.pmu.Unlock()
		n.policies = append(n.policies, *p)
		return nil
	}, err
}

// TestNetworkPolicy: a spec's network policy is set on the sandbox's
// attachment before it starts; a network that cannot restrict traffic
// refuses such a spec rather than run it unrestricted.
func TestNetworkPolicy(t *testing.T) {
	sandboxtest.RequireRoot(t)
	code := sandboxtest.CodeDir(t, sandboxtest.BuildProbe(t), "policy")
	p := &netns.Policy{Egress: []netns.Egress{{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Proto: netns.ProtoTCP, From: 443, To: 443}}}
	spec := func() sandbox.Spec {
		return sandbox.Spec{ID: sandboxtest.NewID(), CodeDir: code, Dir: "/var/task", Args: []string{"/var/task/bootstrap", "next"},
			MemoryMB: 128, EphemeralMB: 64, MaxProcs: 1024, Network: p}
	}
	for _, pool := range []int{-1, 1} {
		pn := &policyNetwork{}
		d := New(Config{StateDir: t.TempDir(), CgroupParent: testParent("pol"), Pool: pool, Logger: slog.New(slog.DiscardHandler), Network: pn})
		if err := d.Available(); err != nil {
			t.Skip(err)
		}
		if err := d.Cleanup(context.Background()); err != nil {
			t.Fatal(err)
		}
		sb, err := d.Start(context.Background(), spec())
		if err != nil {
			t.Fatal(err)
		}
		pn.pmu.Lock()
		got := pn.policies
		pn.pmu.Unlock()
		if len(got) != 1 || len(got[0].Egress) != 1 || got[0].Egress[0].From != 443 {
			t.Errorf("pool %d: policies set: %+v", pool, got)
		}
		sb.Destroy(context.Background())
		d.Close()
	}

	plain := New(Config{StateDir: t.TempDir(), CgroupParent: testParent("pol2"), Pool: -1, Logger: slog.New(slog.DiscardHandler), Network: &fakeNetwork{}})
	defer plain.Close()
	if err := plain.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sb, err := plain.Start(context.Background(), spec()); err == nil {
		sb.Destroy(context.Background())
		t.Fatal("a network without policies started a sandbox with one")
	}
}
