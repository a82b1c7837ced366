//go:build linux

package linux

import (
	"context"
	"log/slog"
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
				n, err := netns.Start(context.Background(), netns.Config{ID: "bench", Resolvers: []string{"127.0.0.1"}, Logger: cfg.Logger})
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
