//go:build linux

package linux

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	kpoll "github.com/kumo-run/kumo/internal/poll"
	"github.com/kumo-run/kumo/internal/sandbox"
	"github.com/kumo-run/kumo/internal/sandbox/sandboxtest"
)

// The crash test re-executes the test binary as a server that starts
// sandboxes and is then killed with SIGKILL.
const crashHelperEnv = "KUMO_SANDBOX_CRASH_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(crashHelperEnv) != "" {
		crashHelper()
		return
	}
	os.Exit(m.Run())
}

// testParent names a cgroup parent for this test process: Cleanup must not
// take another test run's sandboxes.
func testParent(suffix string) string {
	p := "kumo-test-" + strconv.Itoa(os.Getpid())
	if suffix != "" {
		p += "-" + suffix
	}
	return p
}

func testDriver(t testing.TB, parent string, pool int) *Driver {
	t.Helper()
	return testDriverWith(t, Config{CgroupParent: parent, Pool: pool, Logger: slog.New(slog.DiscardHandler)})
}

// testDriverWith is a driver of cfg in a state directory of the test's,
// cleaned up before and closed after it.
func testDriverWith(t testing.TB, cfg Config) *Driver {
	t.Helper()
	sandboxtest.RequireRoot(t)
	cfg.StateDir = t.TempDir()
	d := New(cfg)
	if err := d.Available(); err != nil {
		t.Skipf("linux driver unavailable: %v", err)
	}
	if err := d.Cleanup(context.Background()); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// run starts spec with a Runtime API handler that records the probe's
// reports; the sandbox is destroyed when the test ends.
func run(t *testing.T, d *Driver, spec sandbox.Spec) (sandbox.Sandbox, <-chan []byte) {
	t.Helper()
	sb, err := d.Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	reports := make(chan []byte, 4)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/probe/") {
			b, _ := io.ReadAll(r.Body)
			reports <- b
		}
	})}
	go srv.Serve(sb.Listener())
	t.Cleanup(func() {
		if err := sb.Destroy(context.Background()); err != nil {
			t.Errorf("Destroy: %v", err)
		}
		srv.Close()
	})
	return sb, reports
}

func report(t *testing.T, sb sandbox.Sandbox, reports <-chan []byte, v any) {
	t.Helper()
	select {
	case b := <-reports:
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("bad report %s: %v", b, err)
		}
	case <-sb.Exited():
		t.Fatalf("sandbox exited: %+v", sb.Stats())
	case <-time.After(20 * time.Second):
		t.Fatal("no report")
	}
}

func probeSpec(code string, args ...string) sandbox.Spec {
	return sandbox.Spec{
		ID: sandboxtest.NewID(), CodeDir: code, Dir: "/var/task",
		Args:     append([]string{"/var/task/bootstrap"}, args...),
		MemoryMB: 128, EphemeralMB: 16, MaxProcs: 128,
	}
}

func putFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(name), 0o755)
}

func TestLayoutIsReadOnly(t *testing.T) {
	d := testDriver(t, testParent(""), -1)
	code := sandboxtest.CodeDir(t, sandboxtest.BuildProbe(t), "layout")
	l1, l2, rt := t.TempDir(), t.TempDir(), t.TempDir()
	putFile(t, filepath.Join(l1, "only1"), "1")
	putFile(t, filepath.Join(l2, "only2"), "2")
	putFile(t, filepath.Join(rt, "r"), "r")
	host, err := os.MkdirTemp("/var/tmp", "kumo-linux-test-")
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { os.RemoveAll(host) })
	os.Chmod(host, 0o755)
	putFile(t, filepath.Join(host, "h"), "h")

	cat := probeSpec(code, "cat", "/opt/only1", "/opt/only2", "/etc/passwd", "/etc/hosts")
	cat.LayerDirs = []string{l1, l2}
	sb, reports := run(t, d, cat)
	var got []string
	report(t, sb, reports, &got)
	if len(got) != 4 || got[0] != "1" || got[1] != "2" || !strings.Contains(got[2], "sbx_user1051:x:993:993") ||
		!strings.Contains(got[3], "localhost") {
		t.Errorf("an overlay of both layers at /opt and generated /etc files, got %q", got)
	}

	targets := []string{"/var/task/x", "/opt/x", "/var/runtime/r", host + "/h", "/x", "/etc/passwd", "/dev/x", "/proc/sys/kernel/hostname", "/tmp/x", "/dev/null", "/dev/shm/x"}
	w := probeSpec(code, append([]string{"write"}, targets...)...)
	w.LayerDirs, w.RuntimeDir, w.HostPaths = []string{l1, l2}, rt, []string{host}
	sb, reports = run(t, d, w)
	got = nil
	report(t, sb, reports, &got)
	if len(got) != len(targets)+1 {
		t.Fatalf("got %q", got)
	}
	for i, p := range targets {
		writable := p == "/tmp/x" || p == "/dev/null" || p == "/dev/shm/x"
		if (got[i] == "") != writable {
			t.Errorf("writing %s: %q; want writable=%v", p, got[i], writable)
		}
	}
	if got[len(targets)] != "hostname="+sandboxHostname {
		t.Errorf("got %s", got[len(targets)])
	}
}

func TestDestroyRemovesCgroups(t *testing.T) {
	d := testDriver(t, testParent(""), 1)
	code := sandboxtest.CodeDir(t, sandboxtest.BuildProbe(t), "cg")
	sb, err := d.Start(context.Background(), probeSpec(code, "hang", "cgroups-"+sandboxtest.NewID()))
	if err != nil {
		t.Fatal(err)
	}
	g := sb.(*box).cg
	for _, dir := range g.dirs {
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("cgroup of a running sandbox: %v", err)
		}
	}
	if err := sb.Destroy(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, dir := range g.dirs {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("cgroup %s still there after Destroy (%v)", dir, err)
		}
	}
}

func TestPoolRefills(t *testing.T) {
	d := testDriver(t, testParent(""), 2)
	full := func() {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for len(d.pool.warm) < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("the pool holds %d warm sandboxes, want 2", len(d.pool.warm))
			}
			time.Sleep(time.Millisecond)
		}
	}
	full()
	code := sandboxtest.CodeDir(t, sandboxtest.BuildProbe(t), "pool")
	for range 3 {
		sb, err := d.Start(context.Background(), probeSpec(code, "sleep"))
		if err != nil {
			t.Fatal(err)
		}
		full()
		if err := sb.Destroy(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	if n := len(d.pool.warm); n != 0 {
		t.Errorf("%d warm sandboxes after Close", n)
	}
}

func TestCleanupKillsLeftovers(t *testing.T) {
	parent := testParent("leftover")
	old := testDriver(t, parent, -1)
	g, err := old.acquire()
	if err != nil {
		t.Fatal(err)
	}
	// A process of a previous server, still in its sandbox's cgroup.
	token := "leftover-" + sandboxtest.NewID()
	cmd := exec.Command(sandboxtest.BuildProbe(t), "child", token)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if err := g.add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	if err := testDriver(t, parent, -1).Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("Cleanup left the process alive")
	}
	names, err := old.cg.leftovers()
	if err != nil || len(names) != 0 {
		t.Errorf("cgroups left: %v %v", names, err)
	}
}

// TestCrashLeavesNothing kills a server with sandboxes (and a warm pool)
// with SIGKILL: its sandboxes die with it, no mount is left on the host,
// and their cgroups are removed by the dying inits (and else by Cleanup).
func TestCrashLeavesNothing(t *testing.T) {
	sandboxtest.RequireRoot(t)
	parent := testParent("crash")
	state := t.TempDir()
	code := sandboxtest.CodeDir(t, sandboxtest.BuildProbe(t), "crash")
	token := "crash-" + sandboxtest.NewID()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), crashHelperEnv+"=1", "CRASH_STATE="+state, "CRASH_PARENT="+parent,
		"CRASH_CODE="+code, "CRASH_TOKEN="+token)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
	}()
	select {
	case l := <-line:
		if l != "ready\n" {
			t.Fatalf("helper said %q", l)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("helper not ready")
	}
	if n := len(procsWith(token)); n != 8 {
		t.Fatalf("%d processes carry the token, want 8 (2 sandboxes × probe and 3 children)", n)
	}
	cg, err := detectCgroups("/sys/fs/cgroup", parent)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := cg.leftovers()
	if len(names) < 2 {
		t.Fatalf("the helper's cgroups: %v", names)
	}

	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	deadline := time.Now().Add(10 * time.Second)
	for {
		alive := procsWith(token)
		for _, name := range names {
			pids, _ := cg.open(name).procs()
			alive = append(alive, pids...)
		}
		if len(alive) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes outlived the server: %v", alive)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), state) {
		t.Errorf("a mount under %s is left on the host", state)
	}
	// The inits remove their own cgroups as they go, before any Cleanup.
	deadline = time.Now().Add(60 * time.Second)
	for {
		left, err := cg.leftovers()
		if err == nil && len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, name := range left {
				pids, err := cg.open(name).procs()
				t.Logf("cgroup %s: processes %v %v", name, pids, err)
			}
			t.Errorf("cgroups left after the sandboxes died with their server: %v %v", left, err)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := testDriver(t, parent, -1).Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
	if left, err := cg.leftovers(); err != nil || len(left) != 0 {
		t.Errorf("cgroups left after Cleanup: %v %v", left, err)
	}
	if ents, _ := os.ReadDir(state); len(ents) > 1 {
		t.Errorf("state dir holds more than root: %v", ents)
	}
}

// crashHelper is the server TestCrashLeavesNothing kills.
func crashHelper() {
	d := New(Config{StateDir: os.Getenv("CRASH_STATE"), CgroupParent: os.Getenv("CRASH_PARENT"), Pool: 2,
		Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	if err := d.Cleanup(ctx); err != nil {
		panic(err)
	}
	hung := make(chan struct{}, 2)
	for range 2 {
		sb, err := d.Start(ctx, probeSpec(os.Getenv("CRASH_CODE"), "hang", os.Getenv("CRASH_TOKEN")))
		if err != nil {
			panic(err)
		}
		go http.Serve(sb.Listener(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/probe/hang" {
				hung <- struct{}{}
			}
		}))
	}
	<-hung
	<-hung
	for len(d.pool.warm) < 2 {
		time.Sleep(time.Millisecond)
	}
	os.Stdout.WriteString("ready\n")
	for {
		time.Sleep(time.Hour)
	}
}

func procsWith(token string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), token) {
			if pid, err := strconv.Atoi(e.Name()); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func TestCheckPaths(t *testing.T) {
	for _, c := range []struct {
		hostPaths []string
		layers    []string
		ok        bool
	}{
		{[]string{"/usr", "/lib64", "/usr/lib/python3.12"}, nil, true},
		{[]string{"/etc/pki"}, nil, true},
		{[]string{"/var/lib/x"}, nil, true},
		{[]string{"/"}, nil, false},
		{[]string{"usr"}, nil, false},
		{[]string{"/usr/../etc"}, nil, false},
		{[]string{"/tmp/x"}, nil, false},
		{[]string{"/var"}, nil, false},
		{[]string{"/var/task/x"}, nil, false},
		{[]string{"/opt"}, nil, false},
		{[]string{"/proc/self"}, nil, false},
		{[]string{"/dev/sda"}, nil, false},
		{[]string{"/sys"}, nil, false},
		{[]string{"/etc"}, nil, false},
		{[]string{"/etc/passwd"}, nil, false},
		{[]string{"/etc/ssl"}, nil, false},
		{nil, []string{"/layers/a", "/layers/b"}, true},
		{nil, []string{"/layers/a:b"}, false},
		{nil, []string{"relative"}, false},
	} {
		err := checkPaths(&initSpec{CodeDir: "/code", HostPaths: c.hostPaths, LayerDirs: c.layers})
		if (err == nil) != c.ok {
			t.Errorf("host paths %q, layers %q: %v, want ok=%v", c.hostPaths, c.layers, err, c.ok)
		}
	}
}

func TestSeccompProgramAssembles(t *testing.T) {
	p, err := seccompProgram()
	if err != nil {
		t.Fatal(err)
	}
	if len(p) > 255 {
		t.Errorf("%d instructions: jumps may not reach", len(p))
	}
	if _, err := assemble([]insn{jeq(1, "nowhere", "")}); err == nil {
		t.Error("a jump to a missing label assembled")
	}
}

// TestInitCPUBoost: a sandbox starts with the init phase's boosted CPU
// quota and gets the one its memory buys at EndInit.
func TestInitCPUBoost(t *testing.T) {
	d := testDriver(t, testParent(""), 1)
	code := sandboxtest.CodeDir(t, sandboxtest.BuildProbe(t), "boost")
	sb, err := d.Start(context.Background(), probeSpec(code, "hang", "boost-"+sandboxtest.NewID()))
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(context.Background())
	g := sb.(*box).cg
	quota := func() string { return cpuSetting(t, g, "cpu.cfs_quota_us", "cpu.max") }
	if got, want := quota(), strconv.Itoa(sandbox.InitCPUQuota(128)); got != want {
		t.Errorf("quota during init %s, want %s", got, want)
	}
	if err := sb.(sandbox.InitBooster).EndInit(); err != nil {
		t.Fatal(err)
	}
	if got, want := quota(), strconv.Itoa(sandbox.CPUQuota(128)); got != want {
		t.Errorf("quota after init %s, want %s", got, want)
	}
}

// cpuSetting is the first field of g's CPU controller file v1 or v2.
func cpuSetting(t *testing.T, g *group, v1, v2 string) string {
	t.Helper()
	file := filepath.Join(g.dirs[v1CPU], v1)
	if g.c.v2 {
		file = filepath.Join(g.dirs[0], v2)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))[0]
}

// TestCPUWeights: a sandbox being set up runs at the smallest function's
// CPU weight, not the kernel's default (a 1,769 MB function's), and at its
// function's once it runs one.
func TestCPUWeights(t *testing.T) {
	d := testDriver(t, testParent(""), 0)
	weight := func(g *group) string { return cpuSetting(t, g, "cpu.shares", "cpu.weight") }
	want := func(shares int) string {
		if d.cg.v2 {
			return strconv.Itoa(cpuWeight(shares))
		}
		return strconv.Itoa(shares)
	}
	b, err := d.spawn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := weight(b.cg)
	b.abort()
	if got != want(sandbox.CPUShares(128)) {
		t.Errorf("weight while set up %s, want %s", got, want(sandbox.CPUShares(128)))
	}
	code := sandboxtest.CodeDir(t, sandboxtest.BuildProbe(t), "weights")
	spec := probeSpec(code, "hang")
	spec.MemoryMB = 3008
	sb, err := d.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(context.Background())
	if got, want := weight(sb.(*box).cg), want(sandbox.CPUShares(3008)); got != want {
		t.Errorf("weight of a 3,008 MB function %s, want %s", got, want)
	}
}

// TestListenTCP4ReportsFailures: a socket that cannot be bound or cannot
// listen is an error, never a descriptor handed to the server.
func TestListenTCP4ReportsFailures(t *testing.T) {
	busy, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	for _, c := range []struct {
		name string
		addr [4]byte
		port int
	}{
		{"port in use", [4]byte{127, 0, 0, 1}, port},
		{"address not local", [4]byte{192, 0, 2, 1}, 0},
	} {
		fd, err := listenTCP4(c.addr, c.port)
		if err == nil {
			unix.Close(fd)
			t.Errorf("%s: got descriptor %d and no error", c.name, fd)
		} else if fd != -1 {
			t.Errorf("%s: %v with descriptor %d", c.name, err, fd)
		}
	}
	fd, err := listenTCP4([4]byte{127, 0, 0, 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
		t.Errorf("SO_ACCEPTCONN = %d, %v; want a listening socket", v, err)
	}
}

// TestMountinfoHidesHostPaths: the sandbox's mount table names none of
// the host directories its code, layers and runtime come from, nor the
// driver's state dir (all under the server's data dir in practice).
func TestMountinfoHidesHostPaths(t *testing.T) {
	d := testDriver(t, testParent(""), -1)
	code := sandboxtest.CodeDir(t, sandboxtest.BuildProbe(t), "mountinfo")
	l1, l2, rt := t.TempDir(), t.TempDir(), t.TempDir()
	putFile(t, filepath.Join(l1, "only1"), "1")
	putFile(t, filepath.Join(l2, "only2"), "2")
	putFile(t, filepath.Join(rt, "r"), "r")
	for _, c := range []struct {
		name   string
		layers []string
	}{{"no layer", nil}, {"one layer", []string{l1}}, {"two layers", []string{l1, l2}}} {
		spec := probeSpec(code, "cat", "/proc/self/mountinfo", "/var/task/marker", "/var/runtime/r")
		spec.LayerDirs, spec.RuntimeDir = c.layers, rt
		sb, reports := run(t, d, spec)
		var got []string
		report(t, sb, reports, &got)
		if len(got) != 3 || got[1] != "mountinfo\n" || got[2] != "r" {
			t.Fatalf("%s: the code and runtime dir are not in place: %q", c.name, got)
		}
		var named []string
		for _, host := range []string{code, l1, l2, rt, d.cfg.StateDir, filepath.Dir(filepath.Dir(code))} {
			if strings.Contains(got[0], host) {
				named = append(named, host)
			}
		}
		if len(named) > 0 {
			t.Errorf("%s: /proc/self/mountinfo names the host paths %q:\n%s", c.name, named, got[0])
		}

		// The directories list as the host's do (an interpreter's
		// imports read them).
		spec = probeSpec(code, "ls", "/var/task", "/var/runtime", "/opt")
		spec.LayerDirs, spec.RuntimeDir = c.layers, rt
		sb, reports = run(t, d, spec)
		got = nil
		report(t, sb, reports, &got)
		want := []string{"bootstrap marker", "r", ""}
		switch len(c.layers) {
		case 1:
			want[2] = "only1"
		case 2:
			want[2] = "only1 only2"
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: listing /var/task, /var/runtime and /opt: %q, want %q", c.name, got, want)
		}
	}
}

// TestReapOrphans: the sandboxes of a server that is gone — frozen, so
// that they cannot notice their parent's death — are killed and their
// cgroups removed by the next driver to clean up, whatever its parent.
func TestReapOrphans(t *testing.T) {
	gone := testDriver(t, testParent("gone"), -1) // no warm pool: its sandboxes are the test's own
	code := sandboxtest.CodeDir(t, sandboxtest.BuildProbe(t), "orphan")
	sb, err := gone.Start(context.Background(), probeSpec(code, "hang", "orphan-"+sandboxtest.NewID()))
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(context.Background())
	if err := sb.(sandbox.Freezer).Freeze(context.Background()); err != nil {
		t.Fatal(err)
	}
	dirs := sb.(*box).cg.dirs
	// The server is gone: its record names a process that is not running.
	rec := filepath.Join(cgroupOwners, strings.ReplaceAll(testParent("gone"), "/", "~"))
	if err := os.WriteFile(rec, []byte("1 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	testDriver(t, testParent("next"), -1) // its Cleanup reaps
	for _, dir := range dirs {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("cgroup %s of the gone server's frozen sandbox still there (%v)", dir, err)
		}
	}
	select {
	case <-sb.Exited():
	case <-time.After(30 * time.Second):
		t.Fatal("the gone server's frozen sandbox still runs")
	}
	for _, p := range []string{rec, rec + ".reaping"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("the gone server's record is still there (%v)", err)
		}
	}
}

// TestPID1HandsOver: once the runtime runs, the sandbox's PID 1 is the C
// reaper alone (one thread), with the runtime its only child; the Go init
// that set the sandbox up has exited. PID 1 still forwards SIGTERM to the
// runtime, reports its exit and exits with its status.
func TestPID1HandsOver(t *testing.T) {
	if !cReaper {
		t.Skip("built without cgo: the Go init stays PID 1")
	}
	d := testDriver(t, testParent(""), -1)
	code := sandboxtest.CodeDir(t, sandboxtest.BuildProbe(t), "handover")
	sb, err := d.Start(context.Background(), probeSpec(code, "sleep"))
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(context.Background())
	b := sb.(*box)
	pid := b.cmd.Process.Pid
	p := strconv.Itoa(pid)
	kpoll.Until(t, 0, "the runtime as PID 1's only child", func() error {
		children := strings.Fields(readProc(t, p, "task/"+p+"/children"))
		if len(children) == 1 && strings.Contains(readProc(t, children[0], "cmdline"), "bootstrap") {
			return nil
		}
		return fmt.Errorf("PID 1's children %v", children)
	})
	if status := readProc(t, p, "status"); !strings.Contains(status, "\nThreads:\t1\n") {
		t.Errorf("PID 1 is not a single thread:\n%s", status)
	}
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sb.Exited():
	case <-time.After(30 * time.Second):
		t.Fatal("SIGTERM to PID 1 did not reach the runtime")
	}
	b.mu.Lock()
	got := b.gotExit
	b.mu.Unlock()
	if st := sb.Stats(); !got || st.Signal != "SIGTERM" {
		t.Errorf("exit reported %v, stats %+v; want the runtime's SIGTERM", got, st)
	}
	if code := b.cmd.ProcessState.ExitCode(); code != 128+int(syscall.SIGTERM) {
		t.Errorf("PID 1 exited with %d (%v), want 143", code, b.cmd.ProcessState)
	}
}

func readProc(t *testing.T, pid, file string) string {
	b, err := os.ReadFile("/proc/" + pid + "/" + file)
	if err != nil {
		t.Logf("reading /proc/%s/%s: %v", pid, file, err)
	}
	return string(b)
}
