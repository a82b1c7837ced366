//go:build linux

package linux

import (
	"context"
	"log/slog"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/sandbox"
	"github.com/kumo-run/kumo/internal/sandbox/sandboxtest"
)

// BenchmarkStart starts and destroys sandboxes running the probe, which
// makes one Runtime API request and sleeps. ns/op is Start plus Destroy;
// start-ns is until Start returned (the runtime was executed), ready-ns
// until the runtime's first Runtime API request arrived, destroy-ns the
// Destroy. "warm" takes a sandbox from a full pool each time (the timer
// stops while the pool refills); "cold" has no pool.
func BenchmarkStart(b *testing.B) {
	for _, c := range []struct {
		name string
		pool int
	}{{"warm", 2}, {"cold", -1}} {
		b.Run(c.name, func(b *testing.B) {
			sandboxtest.RequireRoot(b)
			d := New(Config{StateDir: b.TempDir(), CgroupParent: testParent(""), Pool: c.pool, Logger: slog.New(slog.DiscardHandler)})
			if err := d.Available(); err != nil {
				b.Skip(err)
			}
			defer d.Close()
			if err := d.Cleanup(context.Background()); err != nil {
				b.Fatal(err)
			}
			code := sandboxtest.CodeDir(b, sandboxtest.BuildProbe(b), "bench")
			ctx := context.Background()
			var start, ready, destroy time.Duration
			var sp spans
			for b.Loop() {
				if c.pool > 0 {
					b.StopTimer()
					for len(d.pool.warm) < c.pool {
						time.Sleep(time.Millisecond)
					}
					b.StartTimer()
				}
				spec := sandbox.Spec{
					ID: sandboxtest.NewID(), CodeDir: code, Dir: "/var/task",
					Args:     []string{"/var/task/bootstrap", "next"},
					MemoryMB: 1769, EphemeralMB: 64, MaxProcs: 1024,
				}
				t0 := time.Now()
				sb, err := d.Start(ctx, spec)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if bx, ok := sb.(*box); ok {
					s := bx.spans
					sp.Clone, sp.Cgroup, sp.InitReady = sp.Clone+s.Clone, sp.Cgroup+s.Cgroup, sp.InitReady+s.InitReady
					sp.Limits, sp.Exec = sp.Limits+s.Limits, sp.Exec+s.Exec
				}
				first := make(chan time.Time, 1)
				srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					select {
					case first <- time.Now():
					default:
					}
				})}
				go srv.Serve(sb.Listener())
				var t2 time.Time
				select {
				case t2 = <-first:
				case <-sb.Exited():
					b.Fatalf("the probe exited: %+v", sb.Stats())
				case <-time.After(30 * time.Second):
					b.Fatal("no Runtime API request within 30s")
				}
				t3 := time.Now()
				if err := sb.Destroy(ctx); err != nil {
					b.Fatal(err)
				}
				srv.Close()
				start += t1.Sub(t0)
				ready += t2.Sub(t0)
				destroy += time.Since(t3)
			}
			n := float64(b.N)
			b.ReportMetric(float64(start.Nanoseconds())/n, "start-ns/op")
			b.ReportMetric(float64(ready.Nanoseconds())/n, "ready-ns/op")
			b.ReportMetric(float64(destroy.Nanoseconds())/n, "destroy-ns/op")
			// The start's spans (spans.go); a warm start has only the
			// last two.
			for _, m := range []struct {
				d    time.Duration
				name string
			}{{sp.Clone, "clone"}, {sp.Cgroup, "cgroup"}, {sp.InitReady, "initready"}, {sp.Limits, "limits"}, {sp.Exec, "exec"}} {
				b.ReportMetric(float64(m.d.Nanoseconds())/n, m.name+"-ns/op")
			}
		})
	}
}

// BenchmarkNamespaces measures what each namespace adds to starting (and
// reaping) a process: the probe exiting at once, started with only that
// clone flag.
func BenchmarkNamespaces(b *testing.B) {
	sandboxtest.RequireRoot(b)
	probe := sandboxtest.BuildProbe(b)
	for _, c := range []struct {
		name  string
		flags uintptr
	}{
		{"none", 0},
		{"NEWNS", syscall.CLONE_NEWNS},
		{"NEWPID", syscall.CLONE_NEWPID},
		{"NEWIPC", syscall.CLONE_NEWIPC},
		{"NEWUTS", syscall.CLONE_NEWUTS},
		{"NEWNET", syscall.CLONE_NEWNET},
		{"all", syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS | syscall.CLONE_NEWNET},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				cmd := exec.Command(probe, "exit", "0")
				cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: c.flags}
				if err := cmd.Run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCgroup measures creating, limiting, joining (the benchmark's
// own child) and removing one sandbox's cgroups.
func BenchmarkCgroup(b *testing.B) {
	sandboxtest.RequireRoot(b)
	d := New(Config{StateDir: b.TempDir(), CgroupParent: testParent(""), Pool: -1, Logger: slog.New(slog.DiscardHandler)})
	if err := d.Available(); err != nil {
		b.Skip(err)
	}
	if err := d.prepare(); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var mk, lim, join, rm time.Duration
	for b.Loop() {
		cmd := exec.Command("/bin/sleep", "10")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		g, err := d.acquire()
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := g.limits(128, 74, 7236, 1024); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := g.add(cmd.Process.Pid); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		cmd.Process.Kill()
		cmd.Wait()
		t4 := time.Now()
		if err := g.remove(ctx); err != nil {
			b.Fatal(err)
		}
		d.release(g.name)
		mk, lim, join, rm = mk+t1.Sub(t0), lim+t2.Sub(t1), join+t3.Sub(t2), rm+time.Since(t4)
	}
	n := float64(b.N)
	b.ReportMetric(float64(mk.Nanoseconds())/n, "mkdir-ns/op")
	b.ReportMetric(float64(lim.Nanoseconds())/n, "limits-ns/op")
	b.ReportMetric(float64(join.Nanoseconds())/n, "join-ns/op")
	b.ReportMetric(float64(rm.Nanoseconds())/n, "rmdir-ns/op")
}
