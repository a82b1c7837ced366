//go:build linux

package linux

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/netns"
	"github.com/kumo-run/kumo/internal/sandbox"
	"github.com/kumo-run/kumo/internal/sandbox/sandboxtest"
)

// BenchmarkStartNetwork is what a sandbox network (package netns) adds to
// a start: Start then Destroy of a sandbox running the probe, without a
// pool ("cold") and from a full pool ("warm"), with and without a
// network. start-ns/op is until Start returned.
func BenchmarkStartNetwork(b *testing.B) {
	for _, c := range []struct {
		name string
		pool int
		net  bool
	}{{"cold/none", -1, false}, {"cold/bridge", -1, true}, {"warm/none", 2, false}, {"warm/bridge", 2, true}} {
		b.Run(c.name, func(b *testing.B) {
			sandboxtest.RequireRoot(b)
			cfg := Config{StateDir: b.TempDir(), CgroupParent: testParent(""), Pool: c.pool, Logger: slog.New(slog.DiscardHandler)}
			if c.net {
				if err := netns.Available(); err != nil {
					b.Skip(err)
				}
				n, err := netns.Start(context.Background(), netns.Config{ID: "benchnet", Resolvers: []string{"127.0.0.1"}, Logger: cfg.Logger})
				if err != nil {
					b.Fatal(err)
				}
				defer n.Close()
				cfg.Network = n
			}
			d := New(cfg)
			if err := d.Available(); err != nil {
				b.Skip(err)
			}
			defer d.Close()
			if err := d.Cleanup(context.Background()); err != nil {
				b.Fatal(err)
			}
			code := sandboxtest.CodeDir(b, sandboxtest.BuildProbe(b), "bench")
			ctx := context.Background()
			var start time.Duration
			for b.Loop() {
				if c.pool > 0 {
					b.StopTimer()
					for len(d.pool.warm) < c.pool {
						time.Sleep(time.Millisecond)
					}
					b.StartTimer()
				}
				t0 := time.Now()
				sb, err := d.Start(ctx, sandbox.Spec{
					ID: sandboxtest.NewID(), CodeDir: code, Dir: "/var/task",
					Args:     []string{"/var/task/bootstrap", "next"},
					MemoryMB: 1769, EphemeralMB: 64, MaxProcs: 1024,
				})
				if err != nil {
					b.Fatal(err)
				}
				start += time.Since(t0)
				if err := sb.Destroy(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(start.Nanoseconds())/float64(b.N), "start-ns/op")
		})
	}
}

// fakeNetwork records what the driver asks of Config.Network.
type fakeNetwork struct {
	mu       sync.Mutex
	attached []int // pids
	sameNS   int   // attaches of a pid in the driver's own network namespace
	detached int
	fail     error
}

func (n *fakeNetwork) Attach(ctx context.Context, pid int) (func() error, error) {
	own, _ := os.Readlink("/proc/self/ns/net")
	its, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	n.mu.Lock()
	defer n.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if its == own {
		n.sameNS++
	}
	n.attached = append(n.attached, pid)
	if n.fail != nil {
		return nil, n.fail
	}
	return func() error {
		n.mu.Lock()
		n.detached++
		n.mu.Unlock()
		return nil
	}, nil
}

func (n *fakeNetwork) ResolvConf() []byte { return []byte("nameserver 192.0.2.53\n") }

func (n *fakeNetwork) counts() (attached, sameNS, detached int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.attached), n.sameNS, n.detached
}

// TestNetworkHook: with Config.Network, each sandbox is attached in its
// own network namespace before its runtime runs (warm ones when they are
// made), gets the network's resolv.conf, and is detached when it is
// destroyed; a failed attach fails the start.
func TestNetworkHook(t *testing.T) {
	sandboxtest.RequireRoot(t)
	for _, pool := range []int{-1, 1} {
		t.Run(fmt.Sprintf("pool %d", pool), func(t *testing.T) {
			fn := &fakeNetwork{}
			d := New(Config{StateDir: t.TempDir(), CgroupParent: testParent("net"), Pool: pool, Logger: slog.New(slog.DiscardHandler), Network: fn})
			if err := d.Available(); err != nil {
				t.Skip(err)
			}
			defer d.Close()
			if err := d.Cleanup(context.Background()); err != nil {
				t.Fatal(err)
			}
			if pool > 0 {
				for deadline := time.Now().Add(30 * time.Second); len(d.pool.warm) < pool; {
					if time.Now().After(deadline) {
						t.Fatal("the pool did not fill")
					}
					time.Sleep(5 * time.Millisecond)
				}
				if a, _, _ := fn.counts(); a < 1 {
					t.Fatal("a warm sandbox was made without being attached")
				}
			}
			code := sandboxtest.CodeDir(t, sandboxtest.BuildProbe(t), "net")
			sb, reports := run(t, d, probeSpec(code, "cat", "/etc/resolv.conf"))
			var got []string
			report(t, sb, reports, &got)
			if len(got) != 1 || got[0] != "nameserver 192.0.2.53\n" {
				t.Errorf("/etc/resolv.conf: %q, want the network's", got)
			}
			attached, same, detached := fn.counts()
			if attached < 1 || same != 0 || detached != 0 {
				t.Errorf("before Destroy: %d attached (%d in the host's namespace), %d detached", attached, same, detached)
			}
			if err := sb.Destroy(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, _, detached := fn.counts(); detached != 1 {
				t.Errorf("after Destroy: %d detached, want 1", detached)
			}
		})
	}
	t.Run("attach fails", func(t *testing.T) {
		fn := &fakeNetwork{fail: errors.New("no addresses left")}
		d := New(Config{StateDir: t.TempDir(), CgroupParent: testParent("netfail"), Pool: -1, Logger: slog.New(slog.DiscardHandler), Network: fn})
		defer d.Close()
		code := sandboxtest.CodeDir(t, sandboxtest.BuildProbe(t), "net")
		if _, err := d.Start(context.Background(), probeSpec(code, "next")); err == nil || !strings.Contains(err.Error(), "no addresses left") {
			t.Fatalf("Start with a failing network: %v", err)
		}
		if names, _ := d.cg.leftovers(); len(names) != 0 {
			t.Errorf("a failed start left cgroups %v", names)
		}
	})
}
