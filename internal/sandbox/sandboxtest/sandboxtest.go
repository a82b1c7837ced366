package sandboxtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/sandbox"
)

//go:embed testdata/probe/*.go
var probeSource embed.FS

// Options tune the suite. Zero values take the defaults.
type Options struct {
	// MemoryMB, EphemeralMB and MaxProcs go into every Spec (defaults 64,
	// 16 and 64): small, so the limit tests are quick.
	MemoryMB, EphemeralMB, MaxProcs int
	// Timeout bounds each wait for a sandbox (default 20s).
	Timeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.MemoryMB == 0 {
		o.MemoryMB = 64
	}
	if o.EphemeralMB == 0 {
		o.EphemeralMB = 16
	}
	if o.MaxProcs == 0 {
		o.MaxProcs = 64
	}
	if o.Timeout == 0 {
		o.Timeout = 20 * time.Second
	}
	return o
}

// RequireRoot skips the test unless it runs as root.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("linux driver tests need root; run as root (CI does)")
	}
}

// BuildProbe builds the probe program, static, into a temporary directory
// of tb and returns its path.
func BuildProbe(tb testing.TB) string {
	tb.Helper()
	src := tb.TempDir()
	files, err := probeSource.ReadDir("testdata/probe")
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range files {
		b, err := probeSource.ReadFile("testdata/probe/" + f.Name())
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, f.Name()), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module probe\n\ngo 1.22\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil && os.Getenv("GOROOT") != "" {
		goBin, err = filepath.Join(os.Getenv("GOROOT"), "bin", "go"), nil
	}
	if err != nil {
		tb.Fatalf("building the probe needs the go command in PATH (or GOROOT set): %v", err)
	}
	bin := filepath.Join(tb.TempDir(), "probe")
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("building the probe: %v\n%s", err, out)
	}
	return bin
}

// CodeDir returns a new code directory holding probe as bootstrap and a
// file named marker holding marker, readable by any user (as a sandbox
// user must read it).
func CodeDir(tb testing.TB, probe, marker string) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "code")
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // umask
		tb.Fatal(err)
	}
	b, err := os.ReadFile(probe)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), b, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "marker"), []byte(marker+"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	for _, f := range []string{"bootstrap", "marker"} {
		mode := os.FileMode(0o644)
		if f == "bootstrap" {
			mode = 0o755
		}
		if err := os.Chmod(filepath.Join(dir, f), mode); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// NewID returns a random sandbox id.
func NewID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// suite is one Run or RunIsolation call.
type suite struct {
	d     sandbox.Driver
	opts  Options
	probe string
}

// spec returns a Spec running the probe with args in a fresh code dir.
func (s *suite) spec(t *testing.T, marker string, env []string, args ...string) sandbox.Spec {
	code := CodeDir(t, s.probe, marker)
	return sandbox.Spec{
		ID:          NewID(),
		CodeDir:     code,
		Args:        append([]string{"/var/task/bootstrap"}, args...),
		Env:         append([]string{"PROBE_MARKER=" + marker}, env...),
		Dir:         "/var/task",
		MemoryMB:    s.opts.MemoryMB,
		EphemeralMB: s.opts.EphemeralMB,
		MaxProcs:    s.opts.MaxProcs,
	}
}

// box is a started sandbox with the suite's Runtime API handler on its
// listener.
type box struct {
	t        *testing.T
	sb       sandbox.Sandbox
	spec     sandbox.Spec
	out, err syncBuffer
	reports  chan report
	hold     chan struct{} // answers to /probe/forkbomb wait for this
	nexts    chan struct{}
	timeout  time.Duration
}

type report struct {
	kind string
	body []byte
}

// start starts spec and serves the probe's endpoints; the sandbox is
// destroyed when the test ends.
func (s *suite) start(t *testing.T, spec sandbox.Spec) *box {
	t.Helper()
	b := &box{t: t, spec: spec, reports: make(chan report, 16), hold: make(chan struct{}),
		nexts: make(chan struct{}, 16), timeout: s.opts.Timeout}
	spec.Stdout, spec.Stderr = &b.out, &b.err
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	sb, err := s.d.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	b.sb = sb
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case b.nexts <- struct{}{}:
		default:
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "probe")
		w.Write([]byte("{}"))
	})
	mux.HandleFunc("POST /probe/{kind}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		kind := r.PathValue("kind")
		b.reports <- report{kind: kind, body: body}
		if kind == "forkbomb" {
			<-b.hold
		}
		w.Write([]byte("ok"))
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(sb.Listener())
	t.Cleanup(func() {
		select {
		case <-b.hold:
		default:
			close(b.hold)
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
		defer cancel()
		if err := sb.Destroy(ctx); err != nil {
			t.Errorf("Destroy: %v", err)
		}
		srv.Close()
	})
	return b
}

// wait returns the next report of kind, failing the test after the
// timeout or if the sandbox exits first.
func (b *box) wait(kind string) []byte {
	b.t.Helper()
	timer := time.NewTimer(b.timeout)
	defer timer.Stop()
	for {
		select {
		case r := <-b.reports:
			if r.kind == kind {
				return r.body
			}
			b.t.Errorf("unexpected report %q: %s", r.kind, r.body)
		case <-b.sb.Exited():
			select {
			case r := <-b.reports:
				if r.kind == kind {
					return r.body
				}
			default:
			}
			b.t.Fatalf("sandbox exited (%+v) before reporting %q\nstdout: %s\nstderr: %s", b.sb.Stats(), kind, b.out.String(), b.err.String())
		case <-timer.C:
			b.t.Fatalf("no %q report within %v\nstdout: %s\nstderr: %s", kind, b.timeout, b.out.String(), b.err.String())
		}
	}
}

// exited waits for the sandbox's main process to exit.
func (b *box) exited() sandbox.Stats {
	b.t.Helper()
	select {
	case <-b.sb.Exited():
		return b.sb.Stats()
	case <-time.After(b.timeout):
		b.t.Fatalf("sandbox did not exit within %v\nstderr: %s", b.timeout, b.err.String())
		return sandbox.Stats{}
	}
}

// drained returns how much the sandbox wrote to stdout once what it wrote
// so far has arrived.
func (b *box) drained() int {
	if d, ok := b.sb.(sandbox.OutputDrainer); ok {
		d.DrainOutput(time.Second)
	}
	return len(b.out.String())
}

// waitOutput waits until the sandbox wrote more than n bytes to stdout.
func (b *box) waitOutput(n int) {
	b.t.Helper()
	deadline := time.Now().Add(b.timeout)
	for len(b.out.String()) <= n {
		if time.Now().After(deadline) {
			b.t.Fatalf("no output past %d bytes within %v\nstderr: %s", n, b.timeout, b.err.String())
		}
		time.Sleep(time.Millisecond)
	}
}

func (b *box) destroy() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	if err := b.sb.Destroy(ctx); err != nil {
		b.t.Fatalf("Destroy: %v", err)
	}
}

// Run checks what every driver must do.
func Run(t *testing.T, d sandbox.Driver, opts Options) {
	s := &suite{d: d, opts: opts.withDefaults(), probe: BuildProbe(t)}

	t.Run("Name", func(t *testing.T) {
		if d.Name() == "" {
			t.Error("Name is empty")
		}
	})

	t.Run("Descriptors", func(t *testing.T) {
		count := func() int {
			ents, err := os.ReadDir("/proc/self/fd")
			if err != nil {
				t.Skipf("cannot count descriptors: %v", err)
			}
			return len(ents)
		}
		const n = 8
		// A driver may refill a pool of warm sandboxes meanwhile: room
		// for two, and for what the test itself opens.
		slack := 2*sandbox.DriverDescriptors + 4
		before := count()
		boxes := make([]*box, n)
		for i := range boxes {
			boxes[i] = s.start(t, s.spec(t, "x", nil, "sleep"))
		}
		during := count()
		t.Logf("%d sandboxes: %d descriptors more in the server", n, during-before)
		if during-before > n*sandbox.DriverDescriptors+slack {
			t.Errorf("%d sandboxes hold %d descriptors in the server, want at most %d each (DriverDescriptors)",
				n, during-before, sandbox.DriverDescriptors)
		}
		for _, b := range boxes {
			b.destroy()
		}
		if after := count(); after-before > slack {
			t.Errorf("%d descriptors more than before %d sandboxes were started and destroyed", after-before, n)
		}
	})

	t.Run("Freezer", func(t *testing.T) {
		b := s.start(t, s.spec(t, "x", nil, "tick"))
		fz, ok := b.sb.(sandbox.Freezer)
		if !ok {
			t.Skip("driver has no freezer")
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
		defer cancel()
		b.waitOutput(0)
		for range 2 { // idempotent
			if err := fz.Freeze(ctx); err != nil {
				t.Fatalf("Freeze: %v", err)
			}
		}
		frozen := b.drained()
		// A running probe prints a line every millisecond: a window in
		// which a frozen one prints none. Load can only make it print
		// less, never make a frozen one print.
		time.Sleep(300 * time.Millisecond)
		if n := b.drained(); n != frozen {
			t.Errorf("the frozen sandbox wrote %d bytes", n-frozen)
		}
		for range 2 {
			if err := fz.Thaw(ctx); err != nil {
				t.Fatalf("Thaw: %v", err)
			}
		}
		b.waitOutput(frozen)
		// A frozen sandbox can be destroyed.
		if err := fz.Freeze(ctx); err != nil {
			t.Fatalf("Freeze: %v", err)
		}
		b.destroy()
		select {
		case <-b.sb.Exited():
		default:
			t.Error("Destroy of a frozen sandbox returned before it exited")
		}
		if err := fz.Freeze(ctx); err == nil {
			t.Error("Freeze after Destroy succeeded")
		}
	})

	t.Run("EnvAndRuntimeAPI", func(t *testing.T) {
		env := []string{"FOO=bar baz", "PATH=/usr/local/bin:/usr/bin:/bin", "EMPTY="}
		spec := s.spec(t, "env-"+NewID()[:8], env, "report", "0")
		b := s.start(t, spec)
		var r struct {
			Env       []string `json:"env"`
			CWDMarker string   `json:"cwd_marker"`
		}
		mustJSON(t, b.wait("report"), &r)
		select {
		case <-b.nexts:
		default:
			t.Error("the probe's GET /2018-06-01/runtime/invocation/next never reached the listener")
		}
		if b.sb.RuntimeAPI() == "" {
			t.Fatal("RuntimeAPI is empty")
		}
		want := append(slices.Clone(spec.Env), "AWS_LAMBDA_RUNTIME_API="+b.sb.RuntimeAPI())
		slices.Sort(want)
		got := slices.Sorted(slices.Values(r.Env))
		if !slices.Equal(got, want) {
			t.Errorf("environment inside the sandbox:\n got %q\nwant %q (Spec.Env plus AWS_LAMBDA_RUNTIME_API, nothing else)", got, want)
		}
		if r.CWDMarker != strings.TrimPrefix(spec.Env[0], "PROBE_MARKER=") {
			t.Errorf("working directory is not Spec.Dir (the code): ./marker read %q", r.CWDMarker)
		}
	})

	t.Run("OutputAndExitCode", func(t *testing.T) {
		marker := "out-" + NewID()[:8]
		b := s.start(t, s.spec(t, marker, nil, "report", "3"))
		b.wait("report")
		st := b.exited()
		if st.ExitCode != 3 || st.Signal != "" {
			t.Errorf("Stats after exit 3: %+v", st)
		}
		if got, want := b.out.String(), "stdout "+marker+"\n"; got != want {
			t.Errorf("stdout = %q, want %q", got, want)
		}
		if got, want := b.err.String(), "stderr "+marker+"\n"; got != want {
			t.Errorf("stderr = %q, want %q", got, want)
		}
		if st.MaxMemoryBytes <= 0 {
			t.Errorf("MaxMemoryBytes = %d after exit, want > 0", st.MaxMemoryBytes)
		}
	})

	t.Run("Paths", func(t *testing.T) {
		// The layout inside: code at /var/task, the last layer wins at
		// /opt, the runtime dir at /var/runtime, host paths where they are.
		l1, l2, rt := t.TempDir(), t.TempDir(), t.TempDir()
		// Not under /tmp: a sandbox has its own /tmp.
		host, err := os.MkdirTemp("/var/tmp", "kumo-sandboxtest-")
		if err != nil {
			t.Skipf("no directory for host paths outside /tmp: %v", err)
		}
		t.Cleanup(func() { os.RemoveAll(host) })
		write(t, filepath.Join(l1, "both"), "layer1")
		write(t, filepath.Join(l2, "both"), "layer2")
		write(t, filepath.Join(rt, "r"), "runtime")
		hostFile := filepath.Join(host, "h")
		write(t, hostFile, "host")
		paths := []string{"/var/task/marker", "/opt/both", "/var/runtime/r", hostFile}
		want := []string{"paths\n", "layer2", "runtime", "host"}
		spec := s.spec(t, "paths", nil, append([]string{"cat"}, paths...)...)
		spec.LayerDirs, spec.RuntimeDir, spec.HostPaths = []string{l1, l2}, rt, []string{hostFile}
		b := s.start(t, spec)
		var got []string
		mustJSON(t, b.wait("cat"), &got)
		if len(got) != len(want) {
			t.Fatalf("got %q", got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s reads %q, want %q", paths[i], got[i], want[i])
			}
		}
	})

	t.Run("ExecFailure", func(t *testing.T) {
		spec := s.spec(t, "x", nil)
		spec.Args = []string{"/var/task/no-such-bootstrap"}
		b := s.start(t, spec)
		st := b.exited()
		if st.ExitCode != 127 {
			t.Errorf("Stats = %+v, want ExitCode 127 for a missing Args[0]", st)
		}
		if !strings.Contains(b.err.String(), "no-such-bootstrap") {
			t.Errorf("stderr does not say what failed: %q", b.err.String())
		}
	})

	t.Run("DestroyKillsTheTree", func(t *testing.T) {
		token := "tree-" + NewID()
		b := s.start(t, s.spec(t, "x", nil, "hang", token))
		b.wait("hang")
		if n := len(hostProcsWith(token)); n != 4 {
			t.Fatalf("%d host processes carry the token, want 4: the probe and its 3 children\nstderr: %s", n, b.err.String())
		}
		b.destroy()
		select {
		case <-b.sb.Exited():
		default:
			t.Error("Exited is not closed after Destroy")
		}
		eventually(t, 5*time.Second, func() bool { return len(hostProcsWith(token)) == 0 },
			func() string { return fmt.Sprintf("processes survived Destroy: %v", hostProcsWith(token)) })
		if _, err := b.sb.Listener().Accept(); err == nil {
			t.Error("Listener still accepts after Destroy")
		}
	})

	t.Run("DestroyIsIdempotent", func(t *testing.T) {
		b := s.start(t, s.spec(t, "x", nil, "sleep"))
		select {
		case <-b.sb.Exited():
			t.Fatalf("the probe exited by itself: %+v %s", b.sb.Stats(), b.err.String())
		case <-time.After(50 * time.Millisecond):
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = b.sb.Destroy(context.Background()) })
		}
		wg.Wait()
		errs = append(errs, b.sb.Destroy(context.Background()))
		if err := errors.Join(errs...); err != nil {
			t.Errorf("Destroy: %v", err)
		}
		// After a natural exit too.
		b2 := s.start(t, s.spec(t, "x", nil, "exit", "0"))
		b2.exited()
		b2.destroy()
		b2.destroy()
	})

	t.Run("TwoAtOnce", func(t *testing.T) {
		m1, m2 := "one-"+NewID()[:8], "two-"+NewID()[:8]
		b1 := s.start(t, s.spec(t, m1, []string{"WHO=" + m1}, "report", "0"))
		b2 := s.start(t, s.spec(t, m2, []string{"WHO=" + m2}, "report", "0"))
		for _, c := range []struct {
			b            *box
			mine, theirs string
		}{{b1, m1, m2}, {b2, m2, m1}} {
			var r struct {
				Env       []string `json:"env"`
				CWDMarker string   `json:"cwd_marker"`
			}
			mustJSON(t, c.b.wait("report"), &r)
			if !slices.Contains(r.Env, "WHO="+c.mine) || r.CWDMarker != c.mine {
				t.Errorf("sandbox %s got someone else's env or code: %q, marker %q", c.mine, r.Env, r.CWDMarker)
			}
			c.b.exited()
			if out := c.b.out.String() + c.b.err.String(); !strings.Contains(out, c.mine) || strings.Contains(out, c.theirs) {
				t.Errorf("output of sandbox %s: %q", c.mine, out)
			}
		}
		if b1.sb.Listener() == b2.sb.Listener() {
			t.Error("two sandboxes share a listener")
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		spec := s.spec(t, "x", nil, "sleep")
		if sb, err := d.Start(ctx, spec); err == nil {
			sb.Destroy(context.Background())
			t.Error("Start with a canceled context succeeded")
		}
	})

	t.Run("InvalidSpec", func(t *testing.T) {
		spec := s.spec(t, "x", nil, "sleep")
		spec.ID = "../../etc"
		if sb, err := d.Start(context.Background(), spec); err == nil {
			sb.Destroy(context.Background())
			t.Error("Start accepted an invalid id")
		}
	})
}

// RunIsolation checks what the driver's Capabilities promise; subtests for
// capabilities it lacks are skipped.
func RunIsolation(t *testing.T, d sandbox.Driver, opts Options) {
	caps := d.Capabilities()
	if caps == (sandbox.Capabilities{}) {
		t.Skipf("driver %s promises no isolation", d.Name())
	}
	s := &suite{d: d, opts: opts.withDefaults(), probe: BuildProbe(t)}

	t.Run("ForbiddenOperations", func(t *testing.T) {
		if !caps.Isolated {
			t.Skip("driver is not isolated")
		}
		// Another sandbox, running, whose code the probe must not reach.
		other := s.start(t, s.spec(t, "other", nil, "sleep"))

		secret := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(secret, []byte("secret"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Dir(secret), 0o755)
		ln, err := net.Listen("tcp", ":0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		env := []string{
			"PROBE_SECRET=" + secret,
			"PROBE_OTHER_CODE=" + other.spec.CodeDir,
			"PROBE_HOST_LO=127.0.0.1:" + port,
		}
		if ip := hostIP(); ip != "" {
			env = append(env, "PROBE_HOST_IP="+net.JoinHostPort(ip, port))
		}
		b := s.start(t, s.spec(t, "iso", env, "isolation"))
		var r map[string]string
		mustJSON(t, b.wait("isolation"), &r)
		names := slices.Sorted(func(yield func(string) bool) {
			for k := range r {
				if !yield(k) {
					return
				}
			}
		})
		for _, name := range names {
			if name == "proc" {
				continue
			}
			if r[name] == "" {
				t.Errorf("%s: succeeded inside the sandbox, must fail", name)
			} else {
				t.Logf("%s: failed as it must: %s", name, r[name])
			}
		}
		for _, want := range []string{"read host secret file", "read other sandbox's code dir", "connect 127.0.0.1:" + port} {
			if _, ok := r[want]; !ok {
				t.Errorf("the probe did not try %q", want)
			}
		}
		pids := strings.Fields(r["proc"])
		t.Logf("pids visible in the sandbox: %v", pids)
		if len(pids) == 0 || len(pids) > 4 {
			t.Errorf("the sandbox sees %d processes in /proc (%v), want only its own few", len(pids), pids)
		}
		for _, p := range pids {
			if n, _ := strconv.Atoi(p); n > 64 {
				t.Errorf("pid %d visible in the sandbox: a host process?", n)
			}
		}
	})

	t.Run("MemoryLimit", func(t *testing.T) {
		if !caps.MemoryLimit {
			t.Skip("driver does not enforce memory")
		}
		half := s.start(t, s.spec(t, "x", nil, "alloc", strconv.Itoa(s.opts.MemoryMB/2)))
		half.wait("alloc")
		if st := half.sb.Stats(); st.OOMKilled || st.MaxMemoryBytes < int64(s.opts.MemoryMB/2)<<20 {
			t.Errorf("after allocating half the limit: %+v", st)
		}

		b := s.start(t, s.spec(t, "x", nil, "alloc", strconv.Itoa(2*s.opts.MemoryMB)))
		st := b.exited()
		select {
		case r := <-b.reports:
			t.Errorf("allocating twice the limit survived: %s", r.body)
		default:
		}
		if !st.OOMKilled || st.Signal != "SIGKILL" {
			t.Errorf("Stats after allocating twice the limit: %+v, want OOMKilled by SIGKILL", st)
		}
		if limit := int64(s.opts.MemoryMB) << 20; st.MaxMemoryBytes < limit*9/10 || st.MaxMemoryBytes > limit+1<<20 {
			t.Errorf("MaxMemoryBytes = %d, want about the limit %d", st.MaxMemoryBytes, limit)
		}
	})

	t.Run("TmpLimit", func(t *testing.T) {
		if !caps.TmpLimit {
			t.Skip("driver does not limit /tmp")
		}
		b := s.start(t, s.spec(t, "x", nil, "fill", strconv.Itoa(s.opts.EphemeralMB+10)))
		var r struct{ Error string }
		mustJSON(t, b.wait("fill"), &r)
		if !strings.Contains(r.Error, "no space left on device") {
			t.Errorf("writing EphemeralMB+10 MB to /tmp: error %q, want ENOSPC", r.Error)
		}
	})

	t.Run("ProcLimit", func(t *testing.T) {
		if !caps.ProcLimit {
			t.Skip("driver does not limit processes")
		}
		b := s.start(t, s.spec(t, "x", nil, "forkbomb"))
		var r struct {
			Started, Failures, Tasks int
			Error                    string
		}
		mustJSON(t, b.wait("forkbomb"), &r)
		t.Logf("fork bomb: %+v", r)
		if r.Started == 0 || r.Failures == 0 {
			t.Errorf("fork bomb did not run into the limit: %+v", r)
		}
		if r.Tasks > s.opts.MaxProcs {
			t.Errorf("%d tasks in the sandbox, MaxProcs is %d", r.Tasks, s.opts.MaxProcs)
		}
		// While the bomb holds every pid it may: the host can still start
		// processes, and so can another sandbox.
		if out, err := exec.Command(s.probe, "exit", "0").CombinedOutput(); err != nil {
			t.Errorf("the host cannot start a process during the fork bomb: %v %s", err, out)
		}
		other := s.start(t, s.spec(t, "healthy", nil, "report", "0"))
		other.wait("report")
		if st := other.exited(); st.ExitCode != 0 {
			t.Errorf("another sandbox during the fork bomb: %+v, stderr %s", st, other.err.String())
		}
		close(b.hold)
		b.exited()
	})
}

// hostProcsWith lists the host pids whose command line contains token
// (from /proc, or ps where there is no /proc).
func hostProcsWith(token string) []int {
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		out, _ := exec.Command("ps", "-axo", "pid=,command=").Output()
		var pids []int
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, token) {
				if pid, err := strconv.Atoi(strings.Fields(line)[0]); err == nil {
					pids = append(pids, pid)
				}
			}
		}
		return pids
	}
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(b, []byte(token)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// hostIP returns a non-loopback IPv4 address of the host, or "".
func hostIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// write creates a file any user can read.
func write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(name, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(name), 0o755)
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("bad report %q: %v", b, err)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and many readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
