//go:build linux

package linux

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/runtimes"
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

// BenchmarkSnapshotStart starts Python and Node.js functions (a handler
// that answers its event) from pre-started runtimes at 1,769 MB, as
// TestSnapshotIsolation does, and destroys them. start-ns is until Start
// returned, conn-ns until the runtime's first Runtime API connection,
// next-ns until its first /next request, which Lambda's Init Duration
// ends with; the rest are the start's spans (spans.go). The timer stops
// while the next snapshot is made.
func BenchmarkSnapshotStart(b *testing.B) {
	sandboxtest.RequireRoot(b)
	table, err := runtimes.New(runtimes.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	for _, rt := range []struct{ id, file, code string }{
		{"python3.12", "h.py", "def handler(event, context):\n    return event\n"},
		{"nodejs22.x", "h.js", "exports.handler = async (event) => event;\n"},
	} {
		b.Run(rt.id, func(b *testing.B) {
			if _, err := table.Check(rt.id); err != nil {
				b.Skipf("%s: %v", rt.id, err)
			}
			d := New(Config{StateDir: b.TempDir(), CgroupParent: testParent("snapbench"), Pool: -1, Snapshots: 1,
				Logger: slog.New(slog.DiscardHandler)})
			if err := d.Available(); err != nil {
				b.Skip(err)
			}
			if err := d.Cleanup(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			dir := filepath.Join(b.TempDir(), "code")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, rt.file), []byte(rt.code), 0o644); err != nil {
				b.Fatal(err)
			}
			os.Chmod(filepath.Dir(dir), 0o755)
			l, err := table.Resolve(rt.id, "h.handler", dir, "")
			if err != nil {
				b.Fatal(err)
			}
			spec := func() sandbox.Spec {
				env := append([]string{"_HANDLER=h.handler", "LAMBDA_TASK_ROOT=/var/task", "LAMBDA_RUNTIME_DIR=/var/runtime",
					"TZ=:UTC", "LANG=en_US.UTF-8", "PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
					"AWS_LAMBDA_FUNCTION_NAME=bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1769",
					"AWS_EXECUTION_ENV=" + l.ExecutionEnv}, l.Env...)
				return sandbox.Spec{
					ID: sandboxtest.NewID(), CodeDir: dir, RuntimeDir: l.RuntimeDir, HostPaths: l.HostPaths,
					Args: l.Args, Env: env, Dir: "/var/task", MemoryMB: 1769, EphemeralMB: 64, MaxProcs: 1024,
				}
			}
			key, _, ok := snapshotKey(spec())
			if !ok {
				b.Fatalf("the spec cannot use a snapshot: %q", spec().Args)
			}
			ctx := context.Background()
			// The first start is an ordinary one: it puts the runtime in
			// demand.
			run := func(s sandbox.Spec) (*box, time.Duration) {
				t0 := time.Now()
				sb, err := d.Start(ctx, s)
				if err != nil {
					b.Fatal(err)
				}
				next := make(chan time.Time, 1)
				srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					select {
					case next <- time.Now():
					default:
					}
					<-r.Context().Done()
				})}
				go srv.Serve(sb.Listener())
				defer srv.Close()
				var t1 time.Time
				select {
				case t1 = <-next:
				case <-sb.Exited():
					b.Fatalf("the runtime exited: %+v", sb.Stats())
				case <-time.After(60 * time.Second):
					b.Fatal("no /next within 60 s")
				}
				if err := sb.Destroy(ctx); err != nil {
					b.Fatal(err)
				}
				return sb.(*box), t1.Sub(t0)
			}
			run(spec())
			var sp spans
			var conn, next time.Duration
			for b.Loop() {
				b.StopTimer()
				s := spec()
				for {
					d.snaps.mu.Lock()
					k := d.snaps.keys[key]
					ready := k != nil && len(k.ready) > 0
					d.snaps.mu.Unlock()
					if ready {
						break
					}
					time.Sleep(time.Millisecond)
				}
				b.StartTimer()
				bx, n := run(s)
				if !bx.spans.Snapshot {
					b.Fatal("the sandbox did not come pre-started")
				}
				s2 := bx.spans
				sp.Start, sp.Take, sp.Limits, sp.Trees = sp.Start+s2.Start, sp.Take+s2.Take, sp.Limits+s2.Limits, sp.Trees+s2.Trees
				sp.Mounts, sp.Handoff = sp.Mounts+s2.Mounts, sp.Handoff+s2.Handoff
				conn += time.Duration(bx.request.Load())
				next += n
			}
			n := float64(b.N)
			for _, m := range []struct {
				d    time.Duration
				name string
			}{{sp.Start, "start"}, {conn, "conn"}, {next, "next"}, {sp.Take, "take"}, {sp.Limits, "limits"},
				{sp.Trees, "trees"}, {sp.Mounts, "mounts"}, {sp.Handoff, "handoff"}} {
				b.ReportMetric(float64(m.d.Nanoseconds())/n, m.name+"-ns/op")
			}
		})
	}
}
