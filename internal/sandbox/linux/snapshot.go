//go:build linux

package linux

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kumo-run/kumo/internal/sandbox"
)

// Runtime snapshots: warm sandboxes in which the interpreter of a managed
// runtime (Kumo's own bootstraps for Python and Node.js) has already
// started and loaded Kumo's bootstrap, waiting for the function's spec.
// A cold start of such a runtime then costs the function's mounts, its
// limits and the handler's import, not an interpreter start.
//
// A spec can use one when Args is a Kumo bootstrap (snapshotBootstraps)
// and everything the interpreter reads while it starts is the same as the
// spec's: Args, RuntimeDir, HostPaths, whether there are layers (they
// decide /var/node_modules) and the environment variables read at start
// (startupVar: PYTHON*, NODE_*, LANG, TZ, PATH, …). Those make the key; a
// key is in demand once a Start asked for it, and then the driver keeps
// Config.Snapshots pre-started sandboxes of it (at most maxSnapshotKeys
// keys). One not taken within Config.SnapshotIdle is recycled; the key
// is dropped when no Start asked for it in that time.
//
// The steps, between the driver (d) and the init (i):
//
//	d: spawn an init as for the warm pool (namespaces, cgroup, lo, socket)
//	d: limits for the wait (snapshotWaitMB, one CPU's quota)
//	d → i  prestart   Args, RuntimeDir, HostPaths and the startup variables
//	i: /var/runtime and the host paths mounted, the root read-only and
//	   pivoted into (no /var/task, /opt or /tmp yet); the runtime forked
//	   as for any sandbox (sandbox user, seccomp, no capabilities) with
//	   _KUMO_SNAPSHOT=1 and stdin a stream socket whose other end the
//	   init keeps. The bootstrap imports itself and the modules handlers
//	   use, writes one byte to stdin (ready) and blocks reading it.
//	i → d  started (once the byte arrived)
//	   … the sandbox waits in the driver's list …
//	d: the function's limits (memory, CPU, pids) and network policy
//	d → i  spec, with the code directory and each layer as detached mount
//	       trees (open_tree(OPEN_TREE_CLONE) on the host) in SCM_RIGHTS
//	i: a staging tmpfs on /tmp; each tree moved into it (move_mount) and
//	   an overlay of neutral names made of them on /var/task and /opt, as
//	   rootfs.go does, so no host path shows in the sandbox's mount table;
//	   the staging gone, /tmp the EphemeralMB tmpfs; then the function's
//	   environment (exactly what a fresh start would have) and working
//	   directory written to the socket, which is closed
//	i → d  started (the runtime's pid) or failed
//
// The bootstrap replaces its whole environment with the one it is sent,
// chdirs, reseeds what it seeded at start and only then imports the
// handler: no code of the function runs before its limits, identity and
// environment are in force. Every snapshot is its own interpreter process,
// never a fork of another: the hash seed, random's state and V8's
// Math.random seed are the process's own, as in a fresh start; the Python
// bootstrap reseeds random anyway. Any failure to use a snapshot falls
// back to an ordinary start.

// snapshotBootstraps are the Args[1] of runtimes whose bootstrap has the
// wait-for-spec mode (bootstrap.py and bootstrap.js with _KUMO_SNAPSHOT).
var snapshotBootstraps = []string{"/var/runtime/bootstrap.py", "/var/runtime/bootstrap.js"}

// msgPrestart (driver → init) asks a waiting init to pre-start the
// runtime of its spec (proto.go has the other messages).
const msgPrestart = "prestart"

// snapshotVar is set (to "1") in a snapshot's environment while it waits.
const snapshotVar = "_KUMO_SNAPSHOT"

// maxSnapshotKeys bounds the kinds of snapshots kept at once.
const maxSnapshotKeys = 8

// snapshotWaitMB is the memory limit of a snapshot while it waits.
const snapshotWaitMB = 512

// startupVar says whether an interpreter reads the environment variable
// name while it starts (so that a snapshot started without the function's
// value would differ from a fresh start).
func startupVar(name string) bool {
	for _, p := range []string{"PYTHON", "NODE_", "UV_", "LD_", "LC_", "SSL_", "OPENSSL_", "MALLOC_", "GLIBC_", "V8_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	switch name {
	case "LANG", "LANGUAGE", "TZ", "PATH", "HOME", "TMPDIR", "AWS_LAMBDA_EXEC_WRAPPER", snapshotVar:
		return true
	}
	return false
}

// snapshotKey returns the key of the snapshots spec can use, and the
// startup variables of it, or ok false if it can use none.
func snapshotKey(spec sandbox.Spec) (key string, startEnv []string, ok bool) {
	if len(spec.Args) < 2 || spec.RuntimeDir == "" || !containsStr(snapshotBootstraps, spec.Args[1]) {
		return "", nil, false
	}
	for _, kv := range spec.Env {
		name, _, _ := strings.Cut(kv, "=")
		if name == "AWS_LAMBDA_EXEC_WRAPPER" || name == snapshotVar {
			return "", nil, false // the wrapper must start the runtime
		}
		if startupVar(name) {
			startEnv = append(startEnv, kv)
		}
	}
	b, _ := json.Marshal([]any{spec.Args, spec.RuntimeDir, spec.HostPaths, len(spec.LayerDirs) > 0, startEnv})
	return string(b), startEnv, true
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// snapshots keeps the pre-started sandboxes of the keys in demand. Safe
// for concurrent use.
type snapshots struct {
	d    *Driver
	per  int
	idle time.Duration

	mu     sync.Mutex
	keys   map[string]*snapKind
	closed bool
	fills  sync.WaitGroup
	// heldKB is the memory the waiting snapshots hold: each one's peak
	// use when it became ready (Driver.ReservedMB).
	heldKB atomic.Int64
}

// snapKind is one key's sandboxes.
type snapKind struct {
	key      string
	proto    initSpec // the runtime's part of a spec
	ready    []*snapBox
	filling  bool
	lastWant time.Time
}

type snapBox struct {
	b     *box
	timer *time.Timer // recycles it
	kb    int64       // counted in heldKB while it waits
}

func (s *snapshots) init(d *Driver, per int, idle time.Duration) {
	s.d, s.per, s.idle = d, per, idle
	s.keys = map[string]*snapKind{}
}

// take returns a pre-started sandbox of spec's key, or nil; either way
// the key is marked in demand. With none ready, its refill starts at once;
// with one taken, the caller calls refill once the sandbox's runtime has
// started (or it failed), so that the refill's interpreter start does not
// compete for the CPU with the start that took one.
func (s *snapshots) take(key string, startEnv []string, spec sandbox.Spec) (b *box, refill func()) {
	if s.per <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil
	}
	k := s.keys[key]
	if k == nil {
		if len(s.keys) >= maxSnapshotKeys {
			return nil, nil
		}
		k = &snapKind{key: key, proto: initSpec{
			RuntimeDir: spec.RuntimeDir, HostPaths: spec.HostPaths, Args: spec.Args,
			Env: append(startEnv, snapshotVar+"=1"), Dir: "/", HasLayers: len(spec.LayerDirs) > 0,
		}}
		s.keys[key] = k
	}
	k.lastWant = time.Now()
	if n := len(k.ready); n > 0 {
		sb := k.ready[0]
		k.ready = k.ready[1:]
		sb.timer.Stop()
		s.heldKB.Add(-sb.kb)
		return sb.b, func() { s.refill(k) }
	}
	s.refillLocked(k)
	return nil, nil
}

// refill starts k's filler unless it runs (or k is gone).
func (s *snapshots) refill(k *snapKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refillLocked(k)
}

func (s *snapshots) refillLocked(k *snapKind) {
	if s.closed || k.filling || s.keys[k.key] != k {
		return
	}
	k.filling = true
	s.fills.Add(1)
	go s.fill(k)
}

// fill makes k's sandboxes until it has s.per.
func (s *snapshots) fill(k *snapKind) {
	defer s.fills.Done()
	failures := 0
	for {
		s.mu.Lock()
		if s.closed || len(k.ready) >= s.per || s.keys[k.key] != k {
			k.filling = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		b, err := s.prestart(k)
		if err != nil {
			s.d.log.Warn("linux sandbox: pre-starting a runtime", "args", k.proto.Args, "err", err)
			if failures++; failures >= 3 {
				// The key cannot be pre-started: forget it (Starts
				// use ordinary sandboxes), and try again when asked.
				s.mu.Lock()
				k.filling = false
				if s.keys[k.key] == k && len(k.ready) == 0 {
					delete(s.keys, k.key)
				}
				s.mu.Unlock()
				return
			}
			continue
		}
		failures = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			b.abort()
			continue
		}
		sb := &snapBox{b: b, kb: b.cg.peak() >> 10}
		s.heldKB.Add(sb.kb)
		sb.timer = time.AfterFunc(s.idle, func() { s.recycle(k, sb) })
		k.ready = append(k.ready, sb)
		s.mu.Unlock()
	}
}

// recycle removes sb when it has waited too long, and k when nobody asked
// for it in that time.
func (s *snapshots) recycle(k *snapKind, sb *snapBox) {
	s.mu.Lock()
	i := -1
	for j, x := range k.ready {
		if x == sb {
			i = j
		}
	}
	if i < 0 {
		s.mu.Unlock()
		return // taken meanwhile
	}
	k.ready = append(k.ready[:i], k.ready[i+1:]...)
	s.heldKB.Add(-sb.kb)
	if time.Since(k.lastWant) >= s.idle && len(k.ready) == 0 && !k.filling && s.keys[k.key] == k {
		delete(s.keys, k.key)
	}
	refill := !s.closed && s.keys[k.key] == k && !k.filling
	if refill {
		k.filling = true
		s.fills.Add(1)
	}
	s.mu.Unlock()
	sb.b.abort()
	if refill {
		go s.fill(k)
	}
}

// prestart makes one snapshot of k.
func (s *snapshots) prestart(k *snapKind) (b *box, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err = s.d.spawn(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			b.abort()
		}
	}()
	if err := b.cg.limits(snapshotWaitMB, sandbox.CPUShares(snapshotWaitMB), sandbox.CPUQuota(1769), 64); err != nil {
		return nil, err
	}
	proto := k.proto
	if _, err := b.ctrl.Write(encode(message{Kind: msgPrestart, Spec: &proto})); err != nil {
		return nil, fmt.Errorf("sending the prestart: %w", err)
	}
	// The interpreter's start and its preloads, at most 30 s.
	b.ctrl.SetReadDeadline(time.Now().Add(30 * time.Second))
	m, _, err := receive(b.ctrl)
	b.ctrl.SetReadDeadline(time.Time{})
	if err != nil {
		return nil, err
	}
	if m.Kind != msgStarted {
		return nil, &initFailure{describe(m)}
	}
	b.spans.Snapshot = true
	return b, nil
}

// runSnapshot finishes a pre-started sandbox for spec, as run does a
// fresh one: limits and network policy first, then the function's
// mounts and environment. On failure the box is aborted.
func (b *box) runSnapshot(ctx context.Context, spec sandbox.Spec, is *initSpec) (err error) {
	stop := context.AfterFunc(ctx, func() { b.cmd.Process.Kill() })
	defer func() {
		if !stop() && err == nil {
			err = ctx.Err()
		}
		if err != nil {
			b.abort()
		}
	}()
	if err := b.prepareRun(spec); err != nil {
		return err
	}
	tTrees := time.Now()
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, dir := range append([]string{is.CodeDir}, is.LayerDirs...) {
		fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err != nil {
			return fmt.Errorf("open_tree %s: %w", dir, err)
		}
		fds = append(fds, fd)
	}
	b.spans.Trees = time.Since(tTrees)
	tExec := time.Now()
	msg, err := json.Marshal(message{Kind: msgSpec, Spec: is})
	if err != nil {
		return err
	}
	if _, _, err := b.ctrl.WriteMsgUnix(msg, unix.UnixRights(fds...), nil); err != nil {
		return fmt.Errorf("sending the spec: %w", err)
	}
	m, _, err := receive(b.ctrl)
	if err != nil {
		return err
	}
	if m.Kind != msgStarted {
		return &initFailure{describe(m)}
	}
	b.spans.Exec = time.Since(tExec)
	b.spans.Mounts = time.Duration(m.Took)
	b.spans.Handoff = b.spans.Exec - b.spans.Mounts
	go b.watch()
	return nil
}

// --- the init's side ---

// snapshotInit pre-starts the runtime of proto, waits for the spec and
// finishes the sandbox with it; it returns the runtime's pid, and sets
// took to how long the function's mounts took.
func snapshotInit(c *initConfig, fork *forker, proto *initSpec, took *time.Duration) (int, error) {
	if err := prestartRoot(c, proto); err != nil {
		return 0, err
	}
	// The runtime's stdin is a stream socket: it reads the function's
	// environment from it, and first writes one byte to it once it has
	// loaded what it preloads and waits, so that the snapshot is only
	// offered ready.
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("socketpair: %w", err)
	}
	rd, wr := p[0], p[1]
	proto.stdin = rd
	pid, err := fork.run(proto)
	unix.Close(rd)
	if err != nil {
		unix.Close(wr)
		return 0, err
	}
	if err := awaitReady(wr); err != nil {
		unix.Close(wr)
		return 0, err
	}
	if err := send(message{Kind: msgStarted, Pid: pid}, -1); err != nil {
		abandon()
	}
	spec, fds, err := receiveSpecFDs()
	if err != nil {
		unix.Close(wr)
		return 0, err
	}
	tMounts := time.Now()
	err = finishSnapshotRoot(c, spec, fds)
	*took = time.Since(tMounts)
	for _, fd := range fds {
		unix.Close(fd)
	}
	if err != nil {
		unix.Close(wr)
		return 0, err
	}
	env := runtimeEnv(spec.Env)
	b, err := json.Marshal(struct {
		Env []string `json:"env"`
		Dir string   `json:"dir"`
	}{env, spec.Dir})
	if err != nil {
		unix.Close(wr)
		return 0, err
	}
	for len(b) > 0 {
		n, err := unix.Write(wr, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			unix.Close(wr)
			return 0, fmt.Errorf("sending the spec to the runtime: %w", err)
		}
		b = b[n:]
	}
	unix.Close(wr)
	return pid, nil
}

// awaitReady reads the byte a pre-started runtime writes to its stdin
// once it waits for the function.
func awaitReady(fd int) error {
	var b [1]byte
	for {
		n, err := unix.Read(fd, b[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("waiting for the pre-started runtime: %w", err)
		}
		if n == 0 {
			return errors.New("the pre-started runtime exited before it was ready")
		}
		return nil
	}
}

// prestartRoot is finishRoot without the function: /var/runtime and the
// host paths, read-only, pivoted into.
func prestartRoot(c *initConfig, s *initSpec) error {
	r := c.Root
	if s.RuntimeDir != "" {
		if err := runtimeDir(r, s.RuntimeDir, r+"/var/runtime", !s.HasLayers); err != nil {
			return err
		}
	}
	if err := hostPaths(r, s.HostPaths); err != nil {
		return err
	}
	if err := unix.Mount("", r, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("making the root read-only: %w", err)
	}
	return pivot(r)
}

// finishSnapshotRoot mounts the trees in fds (the code, then each layer)
// at /var/task and /opt, and /tmp, in the pivoted root.
func finishSnapshotRoot(c *initConfig, s *initSpec, fds []int) error {
	if len(fds) != 1+len(s.LayerDirs) {
		return fmt.Errorf("want %d mount trees with the spec, got %d", 1+len(s.LayerDirs), len(fds))
	}
	// Staging on /tmp, which is empty until the function's tmpfs.
	if err := mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=64k,nr_inodes=64,mode=0700"); err != nil {
		return err
	}
	err := overlayTrees("/tmp", fds[:1], "/var/task")
	if err == nil && len(fds) > 1 {
		err = overlayTrees("/tmp", fds[1:], "/opt")
	}
	if uerr := unix.Unmount("/tmp", unix.MNT_DETACH); uerr != nil && err == nil {
		err = fmt.Errorf("detaching the staging tmpfs: %w", uerr)
	}
	if err != nil {
		return err
	}
	return mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV,
		fmt.Sprintf("size=%dm,mode=1777,uid=%d,gid=%d", s.EphemeralMB, c.UID, c.GID))
}

// overlayTrees is overlayRO for detached mount trees: each is moved into
// a staging directory under stage and the overlay made from there.
func overlayTrees(stage string, fds []int, dst string) (err error) {
	dir, err := os.MkdirTemp(stage, "s")
	if err != nil {
		return fmt.Errorf("overlay staging dir: %w", err)
	}
	var names, bound []string
	defer func() {
		for _, b := range bound {
			if uerr := unix.Unmount(b, unix.MNT_DETACH); uerr != nil && err == nil {
				err = fmt.Errorf("detaching %s: %w", b, uerr)
			}
		}
	}()
	for i := len(fds) - 1; i >= 0; i-- { // the first lowerdir is the top one
		name := "l" + strconv.Itoa(len(names))
		if err := os.Mkdir(dir+"/"+name, 0o755); err != nil {
			return err
		}
		if err := unix.MoveMount(fds[i], "", unix.AT_FDCWD, dir+"/"+name, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("move_mount: %w", err)
		}
		bound = append(bound, dir+"/"+name)
		names = append(names, name)
	}
	if len(names) == 1 {
		if err := os.Mkdir(dir+"/empty", 0o755); err != nil {
			return err
		}
		if err := mount("tmpfs", dir+"/empty", "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC,
			"size=4k,nr_inodes=1,mode=0755"); err != nil {
			return err
		}
		bound = append(bound, dir+"/empty")
		names = append(names, "empty")
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if err := unix.Chdir(dir); err != nil {
		return err
	}
	merr := unix.Mount("overlay", dst, "overlay", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "lowerdir="+strings.Join(names, ":"))
	if err := unix.Chdir(wd); err != nil {
		return err
	}
	if merr != nil {
		return fmt.Errorf("mount overlay on %s: %w", dst, merr)
	}
	return nil
}

// receiveSpecFDs reads the spec message and the mount trees it carries.
func receiveSpecFDs() (*initSpec, []int, error) {
	buf := make([]byte, maxMessage)
	oob := make([]byte, unix.CmsgSpace(4*64))
	for {
		n, oobn, flags, _, err := unix.Recvmsg(ctrlFD, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading the spec: %w", err)
		}
		var fds []int
		if oobn > 0 {
			cmsgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
			if perr == nil {
				for _, cm := range cmsgs {
					f, _ := unix.ParseUnixRights(&cm)
					fds = append(fds, f...)
				}
			}
		}
		fail := func(err error) (*initSpec, []int, error) {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, nil, err
		}
		if n == 0 {
			return fail(errors.New("the driver went away"))
		}
		if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
			return fail(errors.New("spec message too large"))
		}
		var m message
		if err := json.Unmarshal(buf[:n], &m); err != nil || m.Kind != msgSpec || m.Spec == nil {
			return fail(fmt.Errorf("want a spec message, got %q", buf[:n]))
		}
		return m.Spec, fds, nil
	}
}

// runtimeEnv is the runtime's environment for the spec's Env, as
// forkRuntime gives it.
func runtimeEnv(specEnv []string) []string {
	env := make([]string, 0, len(specEnv)+1)
	for _, kv := range specEnv {
		if !strings.HasPrefix(kv, "AWS_LAMBDA_RUNTIME_API=") {
			env = append(env, kv)
		}
	}
	return append(env, "AWS_LAMBDA_RUNTIME_API="+runtimeAPI)
}

// ReservedMB is the memory the waiting snapshots hold (sandbox.Reserver):
// each one's peak use while its runtime started.
func (d *Driver) ReservedMB() int {
	return int((d.snaps.heldKB.Load() + 1023) >> 10)
}

var _ sandbox.Reserver = (*Driver)(nil)

// close removes the waiting snapshots and stops making them.
func (s *snapshots) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	var boxes []*box
	for _, k := range s.keys {
		for _, sb := range k.ready {
			sb.timer.Stop()
			s.heldKB.Add(-sb.kb)
			boxes = append(boxes, sb.b)
		}
		k.ready = nil
	}
	s.mu.Unlock()
	s.fills.Wait()
	for _, b := range boxes {
		b.abort()
	}
}
