//go:build linux

package linux

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kumo-run/kumo/internal/owners"
	"github.com/kumo-run/kumo/internal/sandbox"
	"github.com/kumo-run/kumo/internal/sandbox/internal/base"
)

// Driver starts sandboxes isolated by Linux namespaces, cgroups,
// pivot_root, an unprivileged user without capabilities and seccomp. Safe
// for concurrent use.
type Driver struct {
	cfg         Config
	log         *slog.Logger
	cg          *cgroups
	unavailable error

	prepareOnce sync.Once
	prepareErr  error

	mu    sync.Mutex
	inUse map[string]bool // cgroup names this driver owns: Cleanup spares them

	pool pool
	// initDoneBound: see box.afterInit.
	initDoneBound time.Duration
	snaps         snapshots
}

// New returns the linux driver. It checks the host but changes nothing;
// Available says whether the driver can run here.
func New(cfg Config) *Driver {
	cfg = cfg.withDefaults()
	d := &Driver{cfg: cfg, log: cfg.Logger, inUse: map[string]bool{}, initDoneBound: initDoneBound}
	d.unavailable = d.check()
	d.pool.init(max(cfg.Pool, 0))
	d.snaps.init(d, max(cfg.Snapshots, 0), cfg.SnapshotIdle)
	return d
}

func (d *Driver) check() error {
	if euid := os.Geteuid(); euid != 0 {
		return fmt.Errorf("the linux sandbox driver needs root (running as uid %d)", euid)
	}
	if !seccompSupported {
		return fmt.Errorf("the linux sandbox driver supports amd64 and arm64, not %s", runtime.GOARCH)
	}
	if !filepath.IsAbs(d.cfg.StateDir) || !filepath.IsAbs(d.cfg.CgroupRoot) {
		return errors.New("the linux sandbox driver needs absolute StateDir and CgroupRoot")
	}
	if filepath.Clean(d.cfg.CgroupParent) != d.cfg.CgroupParent || filepath.IsAbs(d.cfg.CgroupParent) {
		return fmt.Errorf("bad CgroupParent %q: want a clean relative path", d.cfg.CgroupParent)
	}
	cg, err := detectCgroups(d.cfg.CgroupRoot, d.cfg.CgroupParent)
	if err != nil {
		return fmt.Errorf("the linux sandbox driver needs cgroups: %w", err)
	}
	d.cg = cg
	if _, err := os.Stat("/proc/self/exe"); err != nil {
		return fmt.Errorf("the linux sandbox driver re-executes /proc/self/exe: %w", err)
	}
	return nil
}

// Close removes the warm sandboxes and stops making them, and removes the
// parent cgroups if no sandbox is left in them. Running sandboxes are not
// touched, and Start still works (without a pool). Without Close, warm
// sandboxes die with the server and the next Cleanup removes their
// cgroups.
func (d *Driver) Close() error {
	d.pool.close()
	d.snaps.close()
	if d.cg != nil {
		d.cg.removeParent()
		owners.Release(cgroupOwners, strings.ReplaceAll(d.cfg.CgroupParent, "/", "~"))
	}
	return nil
}

// Available returns nil when the driver can run on this host, or why not.
func (d *Driver) Available() error { return d.unavailable }

// Name returns "linux".
func (d *Driver) Name() string { return "linux" }

// Capabilities reports that everything is enforced.
func (d *Driver) Capabilities() sandbox.Capabilities {
	return sandbox.Capabilities{Isolated: true, MemoryLimit: true, TmpLimit: true, ProcLimit: true}
}

// prepare creates the parent cgroups and the state directory, once.
func (d *Driver) prepare() error {
	d.prepareOnce.Do(func() {
		if err := d.cg.ensureParent(); err != nil {
			d.prepareErr = fmt.Errorf("linux: cgroups: %w", err)
			return
		}
		if err := owners.Claim(cgroupOwners, strings.ReplaceAll(d.cfg.CgroupParent, "/", "~")); err != nil {
			d.prepareErr = fmt.Errorf("linux: recording this server as the cgroups' owner: %w", err)
			return
		}
		if err := os.MkdirAll(d.rootDir(), 0o700); err != nil {
			d.prepareErr = fmt.Errorf("linux: state dir: %w", err)
			return
		}
		d.pool.start(d)
		d.log.Info("linux sandbox driver ready", "cgroup", d.cg.version(), "cgroup_parent", d.cfg.CgroupParent,
			"state_dir", d.cfg.StateDir, "uid", d.cfg.UID)
	})
	return d.prepareErr
}

// resolvConf is the sandboxes' /etc/resolv.conf: empty without a network.
func (d *Driver) resolvConf() string {
	if d.cfg.Network == nil {
		return ""
	}
	return string(d.cfg.Network.ResolvConf())
}

func (d *Driver) rootDir() string { return filepath.Join(d.cfg.StateDir, "root") }

// Cleanup kills every process in a kumo-* cgroup under CgroupParent that
// this driver does not own (what a crashed server left behind) and removes
// those cgroups. Sandboxes leave nothing else on the host: their mounts
// lived in their own mount namespaces.
func (d *Driver) Cleanup(ctx context.Context) error {
	if d.unavailable != nil {
		return d.unavailable
	}
	if err := d.prepare(); err != nil {
		return err
	}
	names, err := d.cg.leftovers()
	if err != nil {
		return fmt.Errorf("linux: listing cgroups: %w", err)
	}
	var errs []error
	for _, name := range names {
		d.mu.Lock()
		mine := d.inUse[name]
		d.mu.Unlock()
		if mine {
			continue
		}
		g := d.cg.open(name)
		pids, _ := g.procs()
		if err := g.kill(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := g.remove(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		d.log.Info("removed a leftover sandbox cgroup", "cgroup", name, "killed", len(pids))
	}
	errs = append(errs, d.reapOrphans(ctx))
	return errors.Join(errs...)
}

// cgroupOwners holds the records of which running server owns which
// cgroup parent (package owners), named after the parent with "/" as "~".
var cgroupOwners = filepath.Join(owners.Dir, "cgroup")

// reapOrphans kills and removes the sandboxes under the cgroup parents of
// servers that are gone: a server killed with SIGKILL whose data dir is
// not served again would otherwise leave sandboxes that were frozen when
// it died (a frozen init cannot notice its parent's death) for good.
func (d *Driver) reapOrphans(ctx context.Context) error {
	var errs []error
	for _, rec := range owners.Orphans(cgroupOwners) {
		parent := strings.ReplaceAll(rec, "~", "/")
		if parent == d.cfg.CgroupParent || filepath.Clean(parent) != parent || filepath.IsAbs(parent) || strings.HasPrefix(parent, "..") {
			// A dead server's record of this driver's own parent (which
			// Cleanup empties), or one that names no parent it may
			// touch: the record goes, nothing else.
			if err := owners.Forget(cgroupOwners, rec); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		cg, err := detectCgroups(d.cfg.CgroupRoot, parent)
		if err != nil {
			errs = append(errs, err)
			owners.Return(cgroupOwners, rec)
			continue
		}
		names, err := cg.leftovers()
		if err != nil {
			errs = append(errs, err)
			owners.Return(cgroupOwners, rec)
			continue
		}
		killed := 0
		for _, name := range names {
			g := cg.open(name)
			pids, _ := g.procs()
			if err := g.kill(ctx); err != nil {
				errs = append(errs, err)
				continue
			}
			killed += len(pids)
			if err := g.remove(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		cg.removeParent()
		if err := owners.Forget(cgroupOwners, rec); err != nil {
			errs = append(errs, err)
		}
		d.log.Info("removed the sandboxes of a server that is gone", "cgroup_parent", parent, "sandboxes", len(names), "killed", killed)
	}
	return errors.Join(errs...)
}

// acquire creates a cgroup for one sandbox.
func (d *Driver) acquire() (*group, error) {
	name := newName()
	d.mu.Lock()
	d.inUse[name] = true
	d.mu.Unlock()
	g, err := d.cg.create(name)
	if errors.Is(err, os.ErrNotExist) { // Close removed the parent
		if err = d.cg.ensureParent(); err == nil {
			g, err = d.cg.create(name)
		}
	}
	if err != nil {
		d.release(name)
		return nil, err
	}
	return g, nil
}

func (d *Driver) release(name string) {
	d.mu.Lock()
	delete(d.inUse, name)
	d.mu.Unlock()
}

// Start creates a sandbox and runs spec.Args in it; see the package doc
// for what it is made of. A warm sandbox from the pool is used when there
// is one. If Args[0] cannot be executed (or Dir entered), the sandbox
// still starts and exits at once with code 127, the reason written to
// Stderr.
func (d *Driver) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Sandbox, error) {
	t0 := time.Now()
	b, err := d.start(ctx, spec)
	if err != nil {
		return nil, err
	}
	b.spans.Start = time.Since(t0)
	b.spans.log(d.log, spec.ID)
	b.ln = &firstListener{Listener: b.ln, first: func() {
		r := time.Since(t0)
		b.request.Store(int64(r))
		d.log.Debug("linux sandbox first request", "id", spec.ID, "request", r)
	}}
	return b, nil
}

func (d *Driver) start(ctx context.Context, spec sandbox.Spec) (*box, error) {
	if d.unavailable != nil {
		return nil, d.unavailable
	}
	if err := base.CheckSpec(spec); err != nil {
		return nil, err
	}
	if spec.MemoryMB <= 0 || spec.EphemeralMB <= 0 || spec.MaxProcs <= 0 {
		return nil, fmt.Errorf("linux: MemoryMB, EphemeralMB and MaxProcs must be positive (got %d, %d, %d)",
			spec.MemoryMB, spec.EphemeralMB, spec.MaxProcs)
	}
	is := &initSpec{
		CodeDir: spec.CodeDir, ImageRoot: spec.ImageRoot, LayerDirs: spec.LayerDirs, RuntimeDir: spec.RuntimeDir,
		HostPaths: spec.HostPaths, Args: spec.Args, Env: spec.Env, Dir: spec.Dir,
		EphemeralMB: spec.EphemeralMB,
	}
	if err := checkPaths(is); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := d.prepare(); err != nil {
		return nil, err
	}
	if key, startEnv, ok := snapshotKey(spec); ok {
		tTake := time.Now()
		if b, refill := d.snaps.take(key, startEnv, spec); b != nil {
			b.spans.Take = time.Since(tTake)
			err := b.runSnapshot(ctx, spec, is)
			if err == nil {
				b.afterInit(refill)
				return b, nil
			}
			refill()
			if ctx.Err() != nil {
				return nil, fmt.Errorf("linux: starting sandbox %s: %w", spec.ID, err)
			}
			d.log.Warn("linux sandbox: a pre-started runtime could not be used; starting afresh", "id", spec.ID, "err", err)
		}
	}
	if b := d.pool.take(); b != nil {
		b.spans.Warm = true
		err := b.run(ctx, spec, is)
		if err == nil {
			b.afterInit(d.pool.kick)
			return b, nil
		}
		d.pool.kick()
		var fe *initFailure
		if errors.As(err, &fe) || ctx.Err() != nil {
			return nil, fmt.Errorf("linux: starting sandbox %s: %w", spec.ID, err)
		}
		// The warm init was lost (killed while it waited): start afresh.
		d.log.Warn("linux sandbox: a warm sandbox was lost", "err", err)
	}
	b, err := d.spawn(ctx)
	if err != nil {
		return nil, fmt.Errorf("linux: starting sandbox %s: %w", spec.ID, err)
	}
	if err := b.run(ctx, spec, is); err != nil {
		return nil, fmt.Errorf("linux: starting sandbox %s: %w", spec.ID, err)
	}
	return b, nil
}

// spawn starts an init in new namespaces, puts it in a new cgroup and
// waits for its Runtime API socket: a sandbox waiting for its spec.
// Nothing of the function is in it yet, so warm ones can be pooled.
func (d *Driver) spawn(ctx context.Context) (b *box, err error) {
	// The cgroup comes first: the init is told its name, to remove it if
	// the server dies.
	g, err := d.acquire()
	if err != nil {
		return nil, err
	}
	defer func() {
		if b == nil { // failed before the box (whose abort removes it) was made
			g.remove(context.Background())
			d.release(g.name)
		}
	}()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	ctrlFile, childCtrl := os.NewFile(uintptr(fds[0]), "sandbox-ctrl"), os.NewFile(uintptr(fds[1]), "sandbox-ctrl")
	defer childCtrl.Close()
	conn, err := net.FileConn(ctrlFile)
	ctrlFile.Close()
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ctrl := conn.(*net.UnixConn)
	// The socket buffers the config until the init reads it.
	if _, err := ctrl.Write(encode(message{Kind: msgConfig, Config: &initConfig{
		Root: d.rootDir(), UID: d.cfg.UID, GID: d.cfg.GID, ResolvConf: d.resolvConf(),
		Cgroup: &initCgroup{Name: g.name, Parents: d.cg.dirs, Roots: d.cg.roots},
	}})); err != nil {
		ctrl.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	var pipes [6]*os.File // stdout r, w; stderr r, w; go-ahead r, w
	for i := 0; i < len(pipes); i += 2 {
		if pipes[i], pipes[i+1], err = os.Pipe(); err != nil {
			for _, f := range pipes[:i] {
				f.Close()
			}
			ctrl.Close()
			return nil, err
		}
	}
	goAhead := pipes[5]
	defer goAhead.Close()
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{initArg0},
		Env:        initEnv(),
		Stdout:     pipes[1],
		Stderr:     pipes[3],
		ExtraFiles: []*os.File{childCtrl, pipes[4]}, // ctrlFD, goAheadFD
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNET,
			// The init kills everything in the sandbox and removes
			// its cgroups when it gets this (abandon).
			Pdeathsig: parentDeathSignal,
			// Its own process group: a terminal's ^C is not for sandboxes.
			Setpgid: true,
		},
	}
	tClone := time.Now()
	err = cmd.Start()
	cloned := time.Since(tClone)
	pipes[1].Close()
	pipes[3].Close()
	pipes[4].Close()
	if err != nil {
		pipes[0].Close()
		pipes[2].Close()
		ctrl.Close()
		return nil, fmt.Errorf("starting the sandbox init: %w", err)
	}
	b = &box{
		d: d, cmd: cmd, ctrl: ctrl, stdout: pipes[0], stderr: pipes[2], cg: g,
		exited: make(chan struct{}), outDone: make(chan struct{}), errDone: make(chan struct{}),
	}
	b.spans.Clone = cloned
	stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
	defer func() {
		if !stop() && err == nil {
			err = ctx.Err()
		}
		if err != nil {
			b.abort()
			if ctx.Err() != nil {
				err = fmt.Errorf("%w (%v)", ctx.Err(), err)
			}
		}
	}()
	tCg := time.Now()
	if err := b.cg.add(cmd.Process.Pid); err != nil {
		return b, err
	}
	if _, err := goAhead.Write([]byte{1}); err != nil {
		return b, fmt.Errorf("go-ahead pipe: %w", err)
	}
	b.spans.Cgroup = time.Since(tCg)
	if n := d.cfg.Network; n != nil {
		// Attached while the init builds the root; waited for before
		// spawn returns (and before the deferred abort reads detach).
		attached := make(chan error, 1)
		go func() {
			tNet := time.Now()
			var aerr error
			if pn, ok := n.(PolicyNetwork); ok {
				b.detach, b.setPolicy, aerr = pn.AttachPolicy(ctx, cmd.Process.Pid)
			} else {
				b.detach, aerr = n.Attach(ctx, cmd.Process.Pid)
			}
			b.spans.NetAttach = time.Since(tNet)
			attached <- aerr
		}()
		defer func() {
			if aerr := <-attached; aerr != nil && err == nil {
				err = fmt.Errorf("sandbox network: %w", aerr)
			}
		}()
	}
	m, fd, err := receive(ctrl)
	b.spans.InitReady = time.Since(tClone)
	if err != nil {
		return b, err
	}
	if m.Kind != msgListener || fd < 0 {
		if fd >= 0 {
			unix.Close(fd)
		}
		return b, &initFailure{describe(m)}
	}
	f := os.NewFile(uintptr(fd), "runtime-api")
	b.ln, err = net.FileListener(f)
	f.Close()
	if err != nil {
		return b, fmt.Errorf("runtime api listener: %w", err)
	}
	return b, nil
}

// run sets the sandbox's limits, starts copying its output, sends the
// init the spec and waits until the runtime runs. On failure the box is
// aborted.
func (b *box) run(ctx context.Context, spec sandbox.Spec, is *initSpec) (err error) {
	stop := context.AfterFunc(ctx, func() { b.cmd.Process.Kill() })
	defer func() {
		if !stop() && err == nil {
			err = ctx.Err()
		}
		if err != nil {
			b.abort()
			if ctx.Err() != nil {
				err = fmt.Errorf("%w (%v)", ctx.Err(), err)
			}
		}
	}()
	if err := b.prepareRun(spec); err != nil {
		return err
	}
	msg, err := json.Marshal(message{Kind: msgSpec, Spec: is})
	if err != nil {
		return err
	}
	tExec := time.Now()
	if _, err := b.ctrl.Write(msg); err != nil {
		if m, _, rerr := receive(b.ctrl); rerr == nil && m.Kind == msgFailed {
			return &initFailure{m.Error}
		}
		return fmt.Errorf("sending the spec: %w", err)
	}
	m, _, err := receive(b.ctrl)
	if err != nil {
		return err
	}
	b.spans.Exec = time.Since(tExec)
	switch m.Kind {
	case msgStarted:
	case msgExit: // Args[0] could not be executed
		b.handle(m)
	default:
		return &initFailure{describe(m)}
	}
	go b.watch()
	return nil
}

// prepareRun starts copying the output of a sandbox about to run spec
// and applies its network policy and limits: all before any of the
// function's code can run.
func (b *box) prepareRun(spec sandbox.Spec) error {
	b.id = spec.ID
	b.pumping = true
	b.outFlow, b.errFlow = base.NewFlow(spec.Stdout, b.stdout), base.NewFlow(spec.Stderr, b.stderr)
	go b.outFlow.Pump(b.outDone)
	go b.errFlow.Pump(b.errDone)
	b.d.log.Debug("linux sandbox starting", "id", spec.ID, "cgroup", b.cg.name, "init_pid", b.cmd.Process.Pid)
	if spec.Network != nil {
		// Before the runtime starts: no function code runs unrestricted.
		if b.setPolicy == nil {
			return errors.New("linux: a function in a VPC needs the sandbox network (not --network none)")
		}
		if err := b.setPolicy(spec.Network); err != nil {
			return fmt.Errorf("sandbox network policy: %w", err)
		}
	}
	// The init phase runs with the boosted quota; EndInit applies the
	// one the memory size buys.
	b.cpuQuota = sandbox.CPUQuota(spec.MemoryMB)
	tLim := time.Now()
	if err := b.cg.limits(spec.MemoryMB, sandbox.CPUShares(spec.MemoryMB), sandbox.InitCPUQuota(spec.MemoryMB), spec.MaxProcs); err != nil {
		return err
	}
	b.spans.Limits = time.Since(tLim)
	return nil
}

// initFailure is the init's account of why it could not set up the
// sandbox.
type initFailure struct{ msg string }

func (e *initFailure) Error() string { return "sandbox init: " + e.msg }

// initEnv is the environment of the init: none of the server's.
func initEnv() []string {
	env := []string{"GOMAXPROCS=1"}
	if v, ok := os.LookupEnv("GOCOVERDIR"); ok { // coverage builds write on exit
		env = append(env, "GOCOVERDIR="+v)
	}
	return env
}

func describe(m message) string {
	if m.Kind == msgFailed {
		return m.Error
	}
	return fmt.Sprintf("unexpected %q message", m.Kind)
}

// receive reads one message from the init, and the descriptor it carries
// (-1 if none). The init going away is an error.
func receive(c *net.UnixConn) (message, int, error) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	fd := -1
	if oobn > 0 {
		if cmsgs, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil {
			for _, cm := range cmsgs {
				fds, _ := unix.ParseUnixRights(&cm)
				for _, f := range fds {
					if fd < 0 {
						fd = f
					} else {
						unix.Close(f)
					}
				}
			}
		}
	}
	if err == nil && n == 0 {
		err = errors.New("the sandbox init exited")
	}
	var m message
	if err == nil {
		err = json.Unmarshal(buf[:n], &m)
	}
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return message{}, -1, err
	}
	return m, fd, nil
}

// newName returns a new cgroup name: sandboxes get their cgroup before
// their id when they are pooled.
func newName() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "kumo-" + hex.EncodeToString(b)
}

var _ sandbox.Driver = (*Driver)(nil)
