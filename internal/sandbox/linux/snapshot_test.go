//go:build linux

package linux

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/poll"
	"github.com/kumo-run/kumo/internal/runtimes"
	"github.com/kumo-run/kumo/internal/sandbox"
	"github.com/kumo-run/kumo/internal/sandbox/sandboxtest"
)

// The handlers snapReport what a function could learn of its sandbox, and
// allocate on request.
const (
	pyHandler = `import os, random, sys
def handler(event, context):
    if event.get("alloc"):
        b = bytearray(b"x" * (event["alloc"] << 20))
        return len(b)
    return {
        "secret_a": os.environ.get("SECRET_A"), "secret_b": os.environ.get("SECRET_B"),
        "snapshot_var": os.environ.get("_KUMO_SNAPSHOT"), "handler": os.environ.get("_HANDLER"),
        "files": sorted(os.listdir("/var/task")), "cwd": os.getcwd(),
        "random": random.random(), "urandom": os.urandom(16).hex(),
        "mountinfo": open("/proc/self/mountinfo").read(), "uid": os.getuid(),
    }
`
	nodeHandler = `const fs = require('fs'); const crypto = require('crypto');
exports.handler = async (event) => {
  if (event.alloc) { const b = Buffer.alloc(event.alloc << 20, 1); return b.length; }
  return {
    secret_a: process.env.SECRET_A || null, secret_b: process.env.SECRET_B || null,
    snapshot_var: process.env._KUMO_SNAPSHOT || null, handler: process.env._HANDLER,
    files: fs.readdirSync('/var/task').sort(), cwd: process.cwd(),
    random: Math.random(), urandom: crypto.randomBytes(16).toString('hex'),
    mountinfo: fs.readFileSync('/proc/self/mountinfo', 'utf8'), uid: process.getuid(),
  };
};
`
)

// snapReport is what the handlers return.
type snapReport struct {
	SecretA     *string  `json:"secret_a"`
	SecretB     *string  `json:"secret_b"`
	SnapshotVar *string  `json:"snapshot_var"`
	Handler     string   `json:"handler"`
	Files       []string `json:"files"`
	Cwd         string   `json:"cwd"`
	Random      float64  `json:"random"`
	Urandom     string   `json:"urandom"`
	Mountinfo   string   `json:"mountinfo"`
	UID         int      `json:"uid"`
}

// TestSnapshotIsolation starts two functions of one runtime from
// pre-started sandboxes and checks that each sees only its own
// environment and code, has its own randomness, no host path in its mount
// table, and runs under its own memory limit.
func TestSnapshotIsolation(t *testing.T) {
	sandboxtest.RequireRoot(t)
	table, err := runtimes.New(runtimes.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range []struct{ id, file, code string }{
		{"python3.12", "h.py", pyHandler},
		{"nodejs22.x", "h.js", nodeHandler},
	} {
		t.Run(rt.id, func(t *testing.T) {
			if _, err := table.Check(rt.id); err != nil {
				t.Skipf("%s: %v", rt.id, err)
			}
			d := testDriverWith(t, Config{CgroupParent: testParent("snap"), Pool: -1, Snapshots: 1, Logger: warnLogger(t)})
			code := func(name string) string {
				dir := filepath.Join(t.TempDir(), "code-"+name)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for f, c := range map[string]string{rt.file: rt.code, "only-" + name: name} {
					if err := os.WriteFile(filepath.Join(dir, f), []byte(c), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				os.Chmod(filepath.Dir(dir), 0o755)
				return dir
			}
			spec := func(name string, memoryMB int, vars ...string) (sandbox.Spec, string) {
				dir := code(name)
				l, err := table.Resolve(rt.id, "h.handler", dir, "")
				if err != nil {
					t.Fatal(err)
				}
				env := append([]string{"_HANDLER=h.handler", "LAMBDA_TASK_ROOT=/var/task", "LAMBDA_RUNTIME_DIR=/var/runtime",
					"TZ=:UTC", "LANG=en_US.UTF-8", "PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
					"AWS_LAMBDA_FUNCTION_NAME=" + name, fmt.Sprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", memoryMB),
					"AWS_EXECUTION_ENV=" + l.ExecutionEnv}, l.Env...)
				return sandbox.Spec{
					ID: sandboxtest.NewID(), CodeDir: dir, RuntimeDir: l.RuntimeDir, HostPaths: l.HostPaths,
					Args: l.Args, Env: append(env, vars...), Dir: "/var/task",
					MemoryMB: memoryMB, EphemeralMB: 64, MaxProcs: 1024,
					Stdout: &lockedBuffer{}, Stderr: &lockedBuffer{},
				}, dir
			}
			// The first start of the runtime is an ordinary one: it puts
			// the runtime in demand.
			s0, _ := spec("zero", 1769)
			f0 := startAPI(t, d, s0)
			f0.stop(t)
			start := func(s sandbox.Spec) *fn {
				key, _, ok := snapshotKey(s)
				if !ok {
					t.Fatalf("the spec cannot use a snapshot: %q", s.Args)
				}
				poll.True(t, "a pre-started "+rt.id, func() bool {
					d.snaps.mu.Lock()
					defer d.snaps.mu.Unlock()
					k := d.snaps.keys[key]
					return k != nil && len(k.ready) > 0
				})
				// A waiting snapshot's memory is reported, for the
				// node's budget.
				if mb := d.ReservedMB(); mb <= 0 || mb > snapshotWaitMB*maxSnapshotKeys {
					t.Errorf("ReservedMB %d with a snapshot waiting", mb)
				}
				f := startAPI(t, d, s)
				if !f.box.spans.Snapshot {
					t.Fatalf("the sandbox did not come pre-started")
				}
				return f
			}
			defer func() {
				d.snaps.close()
				if mb := d.ReservedMB(); mb != 0 {
					t.Errorf("ReservedMB %d after Close", mb)
				}
			}()
			sa, dirA := spec("alpha", 128, "SECRET_A=alpha")
			sb, dirB := spec("beta", 1769, "SECRET_B=beta")
			fa, fb := start(sa), start(sb)
			defer fb.stop(t)
			defer fa.stop(t)
			var ra, rb snapReport
			fa.invoke(t, `{}`, &ra)
			fb.invoke(t, `{}`, &rb)
			str := func(p *string) string {
				if p == nil {
					return "<unset>"
				}
				return *p
			}
			if str(ra.SecretA) != "alpha" || ra.SecretB != nil || str(rb.SecretB) != "beta" || rb.SecretA != nil {
				t.Errorf("environment: alpha sees SECRET_A=%s SECRET_B=%s, beta sees SECRET_A=%s SECRET_B=%s",
					str(ra.SecretA), str(ra.SecretB), str(rb.SecretA), str(rb.SecretB))
			}
			if ra.SnapshotVar != nil || rb.SnapshotVar != nil || ra.Handler != "h.handler" {
				t.Errorf("environment not a fresh start's: _KUMO_SNAPSHOT %s/%s, _HANDLER %q",
					str(ra.SnapshotVar), str(rb.SnapshotVar), ra.Handler)
			}
			if strings.Join(ra.Files, ",") != rt.file+",only-alpha" || strings.Join(rb.Files, ",") != rt.file+",only-beta" {
				t.Errorf("files: alpha sees %q, beta sees %q", ra.Files, rb.Files)
			}
			if ra.Cwd != "/var/task" || ra.UID != d.cfg.UID {
				t.Errorf("cwd %q uid %d, want /var/task and %d", ra.Cwd, ra.UID, d.cfg.UID)
			}
			if ra.Random == rb.Random || ra.Urandom == rb.Urandom {
				t.Errorf("randomness shared: %v/%v, %s/%s", ra.Random, rb.Random, ra.Urandom, rb.Urandom)
			}
			for _, r := range []snapReport{ra, rb} {
				for _, host := range []string{dirA, dirB, filepath.Dir(dirA), d.cfg.StateDir} {
					if strings.Contains(r.Mountinfo, host) {
						t.Errorf("the sandbox's mount table names the host path %s:\n%s", host, r.Mountinfo)
					}
				}
			}
			// 128 MB: allocating 256 MB gets the runtime killed for memory.
			fa.send(t, `{"alloc": 256}`)
			select {
			case <-fa.sb.Exited():
			case r := <-fa.results:
				t.Fatalf("allocating 256 MB at 128 MB answered %s", r)
			case <-time.After(60 * time.Second):
				t.Fatal("allocating 256 MB at 128 MB: the runtime still runs after 60 s")
			}
			if st := fa.sb.Stats(); !st.OOMKilled {
				t.Errorf("allocating 256 MB at 128 MB: stats %+v, want OOMKilled", st)
			}
			// 1,769 MB: the same allocation succeeds.
			var n int
			fb.invoke(t, `{"alloc": 256}`, &n)
			if n != 256<<20 {
				t.Errorf("allocating 256 MB at 1,769 MB answered %d", n)
			}
		})
	}
}

// fn is a started sandbox with a minimal Runtime API.
type fn struct {
	sb      sandbox.Sandbox
	box     *box
	events  chan string
	results chan string
	srv     *http.Server
	errBuf  *lockedBuffer
}

func startAPI(t *testing.T, d *Driver, s sandbox.Spec) *fn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sb, err := d.Start(ctx, s)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	f := &fn{sb: sb, box: sb.(*box), events: make(chan string, 1), results: make(chan string, 1), errBuf: s.Stderr.(*lockedBuffer)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case ev := <-f.events:
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", "req")
			w.Header().Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(time.Minute).UnixMilli()))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:f")
			io.WriteString(w, ev)
		case <-r.Context().Done():
		}
	})
	result := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.HasSuffix(r.URL.Path, "/error") {
			b = append([]byte("error: "), b...)
		}
		f.results <- string(b)
		w.WriteHeader(http.StatusAccepted)
	}
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", result)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", result)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", result)
	f.srv = &http.Server{Handler: mux}
	go f.srv.Serve(sb.Listener())
	return f
}

func (f *fn) send(t *testing.T, event string) {
	t.Helper()
	select {
	case f.events <- event:
	default:
		t.Fatal("an event is already waiting")
	}
}

func (f *fn) invoke(t *testing.T, event string, out any) {
	t.Helper()
	f.send(t, event)
	select {
	case r := <-f.results:
		if err := json.Unmarshal([]byte(r), out); err != nil {
			t.Fatalf("the handler answered %s (%v); stderr: %s", r, err, f.stderr())
		}
	case <-f.sb.Exited():
		t.Fatalf("the runtime exited: %+v; stderr: %s", f.sb.Stats(), f.stderr())
	case <-time.After(60 * time.Second):
		t.Fatalf("no answer within 60 s; stderr: %s", f.stderr())
	}
}

func (f *fn) stderr() string {
	f.box.DrainOutput(time.Second)
	return f.errBuf.String()
}

func (f *fn) stop(t *testing.T) {
	if err := f.sb.Destroy(context.Background()); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Destroy: %v", err)
	}
	f.srv.Close()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// warnLogger logs warnings and errors to the test's log.
func warnLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// tWriter writes to the test's log.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// TestRefillAfterInit: what a start takes (a pre-started runtime, a warm
// sandbox) is refilled once the runtime's init has ended (EndInit), not
// while it runs, when the refill would compete with it for the CPU.
func TestRefillAfterInit(t *testing.T) {
	sandboxtest.RequireRoot(t)
	table, err := runtimes.New(runtimes.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := table.Check("python3.12"); err != nil {
		t.Skipf("python3.12: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "code")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "h.py"), []byte(pyHandler), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(dir), 0o755)
	l, err := table.Resolve("python3.12", "h.handler", dir, "")
	if err != nil {
		t.Fatal(err)
	}
	spec := func() sandbox.Spec {
		return sandbox.Spec{
			ID: sandboxtest.NewID(), CodeDir: dir, RuntimeDir: l.RuntimeDir, HostPaths: l.HostPaths, Args: l.Args,
			Env: append([]string{"_HANDLER=h.handler", "LAMBDA_TASK_ROOT=/var/task", "PATH=/usr/local/bin:/usr/bin/:/bin"}, l.Env...),
			Dir: "/var/task", MemoryMB: 256, EphemeralMB: 64, MaxProcs: 1024, Stdout: &lockedBuffer{}, Stderr: &lockedBuffer{},
		}
	}
	for _, tc := range []struct {
		name     string
		pool     int
		snaps    int
		took     func(*box) bool
		refilled func(*Driver) bool
	}{
		{"snapshot", -1, 1, func(b *box) bool { return b.spans.Snapshot }, func(d *Driver) bool {
			d.snaps.mu.Lock()
			defer d.snaps.mu.Unlock()
			for _, k := range d.snaps.keys {
				if k.filling || len(k.ready) > 0 {
					return true
				}
			}
			return false
		}},
		{"pool", 1, -1, func(b *box) bool { return b.spans.Warm }, func(d *Driver) bool { return len(d.pool.warm) > 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testDriverWith(t, Config{CgroupParent: testParent("refill"), Pool: tc.pool, Snapshots: tc.snaps, Logger: warnLogger(t)})
			d.initDoneBound = time.Hour // only EndInit ends the wait
			first := startAPI(t, d, spec())
			first.box.EndInit()
			defer first.stop(t)
			poll.True(t, "something to take", func() bool { return tc.refilled(d) && !filling(d) })
			f := startAPI(t, d, spec())
			defer f.stop(t)
			if !tc.took(f.box) {
				t.Fatal("the start did not take what was ready")
			}
			var r snapReport
			f.invoke(t, `{}`, &r)
			if tc.refilled(d) {
				t.Fatal("refilled while the runtime's init had not ended")
			}
			f.box.EndInit()
			poll.True(t, "refilled after EndInit", func() bool { return tc.refilled(d) })
		})
	}
}

// filling reports whether a snapshot is being pre-started.
func filling(d *Driver) bool {
	d.snaps.mu.Lock()
	defer d.snaps.mu.Unlock()
	for _, k := range d.snaps.keys {
		if k.filling {
			return true
		}
	}
	return false
}
