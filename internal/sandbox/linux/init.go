//go:build linux

package linux

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// initArg0 is argv[0] of a sandbox's init: the driver re-executes the
// current binary (/proc/self/exe) under this name, and this package's
// init function turns the process into the init before main runs. Any
// binary that imports the package, test binaries included, can therefore
// be a sandbox init.
const initArg0 = "kumo-sandbox-init"

// ctrlFD is the init's end of the control socket (the first ExtraFiles).
const ctrlFD = 3

// goAheadFD is the read end of a pipe on which the driver writes a byte
// once the init is in the sandbox's cgroups (the second ExtraFiles): the C
// PID 1 (doc.go, reaper_cgo.go) forks the Go init only then, so that it is
// born in them. In the Go init it becomes the socket to that PID 1.
const goAheadFD = 4

// abandonExit is the Go init's exit code when the C PID 1 is to abandon
// the sandbox (ABANDON_EXIT in reaper_cgo.go).
const abandonExit = 112

// The Runtime API listens on the same address inside every sandbox.
const (
	runtimeAPI     = "127.0.0.1:9001"
	runtimeAPIPort = 9001
)

var runtimeAPIAddr = [4]byte{127, 0, 0, 1}

// nprocLimit is RLIMIT_NPROC for sandboxed processes. The kernel counts it
// per user across the host, and every sandbox shares one user, so it
// cannot be a per-sandbox limit (the pids cgroup is): it is a host-wide
// backstop against that user filling the pid space.
const nprocLimit = 1 << 16

// parentDeathSignal is the init's parent-death signal: the server died.
// Nothing in the sandbox can send it to the init (another user, and the
// init of a pid namespace gets no signal from inside it it has no handler
// for).
const parentDeathSignal = unix.SIGUSR2

func init() {
	if len(os.Args) == 1 && os.Args[0] == initArg0 {
		code := runInit()
		if abandoning.Load() {
			select {} // abandon exits when it is done
		}
		os.Exit(code)
	}
}

// runInit is the whole life of a sandbox's Go init, PID 1 of the
// sandbox's namespaces or the child of a C one: bring up lo and hand the
// Runtime API socket to the driver, wait to be put in the cgroups and for
// the spec, build the root, drop everything and run the runtime, then
// reap until the runtime exits — or, under a C PID 1, leave that to it.
// It returns the exit code of the init.
func runInit() int {
	// Nothing in the sandbox may read or trace the init's memory.
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	unix.CloseOnExec(ctrlFD)
	reaper := reaperFD()
	if reaper >= 0 {
		unix.CloseOnExec(reaper)
	} else {
		// No C PID 1 to read the go-ahead: read it here, so that the
		// driver's write never meets a pipe closed before it.
		var b [1]byte
		for {
			if _, err := unix.Read(goAheadFD, b[:]); err != unix.EINTR {
				break
			}
		}
		unix.Close(goAheadFD)
	}
	died := make(chan os.Signal, 1)
	signal.Notify(died, parentDeathSignal)
	go func() {
		<-died
		abandon()
	}()
	fail := func(err error) int {
		if send(message{Kind: msgFailed, Error: err.Error()}, -1) != nil {
			abandon()
		}
		return 1
	}
	m, err := receive1(msgConfig)
	if err != nil {
		return fail(err)
	}
	cfg := m.Config
	if cfg.Cgroup != nil {
		if err := own.open(cfg.Cgroup); err != nil {
			return fail(err)
		}
		if reaper >= 0 {
			if err := own.hand(reaper); err != nil {
				return fail(fmt.Errorf("handing the cgroups to PID 1: %w", err))
			}
		}
	}
	if err := loopbackUp(); err != nil {
		return fail(fmt.Errorf("bringing up lo: %w", err))
	}
	lfd, err := listenRuntimeAPI()
	if err != nil {
		return fail(fmt.Errorf("runtime api socket: %w", err))
	}
	if err := prepareRoot(cfg); err != nil {
		return fail(err)
	}
	if err := unix.Sethostname([]byte(sandboxHostname)); err != nil {
		return fail(fmt.Errorf("sethostname: %w", err))
	}
	for _, l := range []struct {
		res int
		max uint64
	}{{unix.RLIMIT_NOFILE, 1024}, {unix.RLIMIT_NPROC, nprocLimit}, {unix.RLIMIT_CORE, 0}} {
		// syscall.Setrlimit, not unix: it tells the runtime not to restore
		// its own RLIMIT_NOFILE in the children it forks.
		if err := syscall.Setrlimit(l.res, &syscall.Rlimit{Cur: l.max, Max: l.max}); err != nil {
			return fail(fmt.Errorf("setrlimit %d: %w", l.res, err))
		}
	}
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, unix.SIGTERM, unix.SIGINT, unix.SIGHUP)
	fork, err := newForker(cfg)
	if err != nil {
		return fail(err)
	}
	// All of the above is the same for every function: a warm sandbox
	// waits here.
	err = send(message{Kind: msgListener}, lfd)
	unix.Close(lfd)
	if err != nil {
		abandon()
	}
	if m, err = receive1(msgSpec, msgPrestart); err != nil {
		return fail(err)
	}
	spec := m.Spec
	var pid int
	var took time.Duration
	if m.Kind == msgPrestart {
		pid, err = snapshotInit(cfg, fork, spec, &took)
	} else if err = finishRoot(cfg, spec); err == nil {
		pid, err = fork.run(spec)
	}
	var ee *execError
	if errors.As(err, &ee) {
		fmt.Fprintf(os.Stderr, "kumo-sandbox: exec %s: %v\n", spec.Args[0], ee.err)
		send(exitMessage(syscall.WaitStatus(127<<8)), -1)
		return 127
	}
	if err != nil {
		return fail(err)
	}
	if err := send(message{Kind: msgStarted, Pid: pid, Took: int64(took)}, -1); err != nil {
		abandon()
	}
	if reaper >= 0 {
		// The C PID 1 reaps the runtime, which is its child once this
		// process has exited, and reports its exit.
		if err := sendTo(reaper, []byte("p"+strconv.Itoa(pid)), nil); err != nil {
			abandon()
		}
		return 0
	}
	go func() {
		for sig := range signals {
			unix.Kill(pid, sig.(syscall.Signal))
		}
	}()
	// From here the init only reaps and forwards signals; what its setup
	// allocated (message buffers, JSON) goes back to the kernel, since
	// every page the init keeps counts against the function's memory.
	debug.FreeOSMemory()
	for {
		var ws syscall.WaitStatus
		wpid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fail(fmt.Errorf("wait: %w", err))
		}
		if wpid != pid {
			continue // an orphan, reaped
		}
		if err := send(exitMessage(ws), -1); err != nil {
			abandon()
		}
		// Returning ends the namespace: the kernel kills what is left.
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// own is the sandbox's cgroups, for abandon.
var own ownCgroups

// ownCgroups holds descriptors of the sandbox's cgroup directories,
// opened before the init pivots away from the host's file system.
type ownCgroups struct {
	name           string
	parents, roots []int
}

func (o *ownCgroups) open(c *initCgroup) error {
	o.name = c.Name
	for _, list := range []struct {
		dirs []string
		fds  *[]int
	}{{c.Parents, &o.parents}, {c.Roots, &o.roots}} {
		for _, d := range list.dirs {
			fd, err := unix.Open(d, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("cgroup dir: %w", err)
			}
			*list.fds = append(*list.fds, fd)
		}
	}
	return nil
}

// hand gives the C PID 1 the cgroups' directories, for its abandon.
func (o *ownCgroups) hand(reaper int) error {
	fds := append(append([]int(nil), o.parents...), o.roots...)
	return sendTo(reaper, []byte("c"+strconv.Itoa(len(o.parents))+":"+o.name), unix.UnixRights(fds...))
}

// unthrottle lifts the sandbox's CPU quota and gives it a host process's
// weight, so that what is killed exits at once even on a busy host (a
// dying process runs its exit in its cgroup).
func (o *ownCgroups) unthrottle() {
	for _, parent := range o.parents {
		for _, f := range []struct{ file, value string }{
			{"cpu.cfs_quota_us", "-1"}, {"cpu.shares", "1024"}, // v1
			{"cpu.max", "max"}, {"cpu.weight", "100"}, // v2
		} {
			if fd, err := unix.Openat(parent, o.name+"/"+f.file, unix.O_WRONLY|unix.O_CLOEXEC, 0); err == nil {
				unix.Write(fd, []byte(f.value))
				unix.Close(fd)
			}
		}
	}
}

// leave moves the init to the hierarchies' roots and removes the
// sandbox's cgroups, which must hold nothing else any more.
func (o *ownCgroups) leave() {
	for _, root := range o.roots {
		if fd, err := unix.Openat(root, "cgroup.procs", unix.O_WRONLY|unix.O_CLOEXEC, 0); err == nil {
			unix.Write(fd, []byte("0")) // 0: the writer's thread group
			unix.Close(fd)
		}
	}
	// A task on its way out can keep a cgroup busy a moment.
	deadline := time.Now().Add(30 * time.Second)
	for _, parent := range o.parents {
		for {
			err := unix.Unlinkat(parent, o.name, unix.AT_REMOVEDIR)
			if err != unix.EBUSY || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
}

var (
	abandonOnce sync.Once
	// abandoning is set once abandon runs: from then on only it may end
	// the process (the main goroutine, seeing its children reaped from
	// under it, would otherwise return and exit before the cgroups are
	// removed).
	abandoning atomic.Bool
)

// abandon ends a sandbox whose server is gone (its parent-death signal,
// or the control socket failing): it kills every other process in the
// sandbox, reaps them, removes the sandbox's cgroups, which nobody else
// will, and exits. Safe to call from any goroutine; it never returns.
func abandon() {
	abandonOnce.Do(func() {
		abandoning.Store(true)
		if reaperFD() >= 0 {
			// The C PID 1 abandons the sandbox when it sees this.
			os.Exit(abandonExit)
		}
		if own.name != "" {
			own.unthrottle()
		}
		if os.Getpid() == 1 {
			// Everything in the pid namespace but the init. Outside
			// one (the binary started by hand as kumo-sandbox-init),
			// kill(-1) would be every process of the host.
			unix.Kill(-1, unix.SIGKILL)
		}
		for {
			_, err := unix.Wait4(-1, nil, 0, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				break // ECHILD: nothing left
			}
		}
		if own.name != "" {
			own.leave()
		}
		os.Exit(1)
	})
	select {} // another goroutine is abandoning
}

// send writes one message (with fd as SCM_RIGHTS unless it is -1).
func send(m message, fd int) error {
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	return sendTo(ctrlFD, encode(m), oob)
}

func sendTo(sock int, b, oob []byte) error {
	for {
		err := unix.Sendmsg(sock, b, oob, nil, 0)
		if err != unix.EINTR {
			return err
		}
	}
}

// receive1 reads the next message from the driver, which must be of
// kind (or of one of the other kinds).
func receive1(kind string, others ...string) (message, error) {
	buf := make([]byte, maxMessage)
	for {
		n, _, flags, _, err := unix.Recvmsg(ctrlFD, buf, nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return message{}, fmt.Errorf("reading the %s: %w", kind, err)
		}
		if n == 0 {
			return message{}, errors.New("the driver went away")
		}
		if flags&unix.MSG_TRUNC != 0 {
			return message{}, fmt.Errorf("%s message too large", kind)
		}
		var m message
		if err := json.Unmarshal(buf[:n], &m); err != nil || (m.Kind != kind && !containsStr(others, m.Kind)) ||
			((m.Kind == msgSpec || m.Kind == msgPrestart) && m.Spec == nil) || (m.Kind == msgConfig && m.Config == nil) {
			return message{}, fmt.Errorf("want a %s message, got %q", kind, buf[:n])
		}
		return m, nil
	}
}

func lastCapability() (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

func listenRuntimeAPI() (int, error) {
	return listenTCP4(runtimeAPIAddr, runtimeAPIPort)
}

// listenTCP4 returns a listening TCP socket bound to addr:port, or the
// first failure of the steps that make one (and no descriptor).
func listenTCP4(addr [4]byte, port int) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		err = fmt.Errorf("setsockopt SO_REUSEADDR: %w", err)
	} else if err = unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: addr}); err != nil {
		err = fmt.Errorf("bind: %w", err)
	} else if err = unix.Listen(fd, unix.SOMAXCONN); err != nil {
		err = fmt.Errorf("listen: %w", err)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// execError is a failure to execute Args[0] (or enter Dir): the
// function's fault, reported as exit code 127.
type execError struct{ err error }

func (e *execError) Error() string { return e.err.Error() }

// forker starts the runtime from a thread of its own, which it restricts
// first: capabilities, no_new_privs and seccomp are per thread, and a
// child inherits those of the thread that forks it. The thread is
// restricted ahead of time (a warm sandbox has it ready) and never
// unlocked, so it is thrown away after the fork and the init's other
// threads keep what they had.
type forker struct {
	cfg *initConfig
	req chan *initSpec
	res chan forkResult
}

type forkResult struct {
	pid int
	err error
}

func newForker(c *initConfig) (*forker, error) {
	filter, err := seccompProgram()
	if err != nil {
		return nil, err
	}
	lastCap, err := lastCapability()
	if err != nil {
		return nil, err
	}
	f := &forker{cfg: c, req: make(chan *initSpec), res: make(chan forkResult, 1)}
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := restrictThread(filter, lastCap)
		ready <- err
		if err != nil {
			return
		}
		pid, err := forkRuntime(c, <-f.req)
		f.res <- forkResult{pid, err}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return f, nil
}

// run starts the runtime and returns its pid.
func (f *forker) run(s *initSpec) (int, error) {
	f.req <- s
	r := <-f.res
	return r.pid, r.err
}

// restrictThread runs on the locked thread. The runtime also changes to
// the sandbox user when it is forked, which clears its permitted,
// effective and ambient capabilities; with the bounding and inheritable
// sets empty and no_new_privs set, nothing it executes can get any back.
func restrictThread(filter []unix.SockFilter, lastCap int) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var caps [2]unix.CapUserData
	if err := unix.Capget(&hdr, &caps[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	caps[0].Inheritable, caps[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &caps[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	for c := 0; c <= lastCap; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clearing ambient capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	return installSeccomp(filter)
}

// forkRuntime runs on the restricted thread, in the sandbox's root.
func forkRuntime(c *initConfig, s *initSpec) (int, error) {
	null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(null)
	stdin := null
	if s.stdin > 0 {
		stdin = s.stdin
	}
	pid, err := syscall.ForkExec(s.Args[0], s.Args, &syscall.ProcAttr{
		Dir:   s.Dir,
		Env:   runtimeEnv(s.Env),
		Files: []uintptr{uintptr(stdin), 1, 2},
		Sys: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(c.UID), Gid: uint32(c.GID), Groups: []uint32{}},
		},
	})
	if err == syscall.EAGAIN || err == syscall.ENOMEM {
		return 0, fmt.Errorf("fork: %w", err)
	}
	if err != nil {
		return 0, &execError{err}
	}
	return pid, nil
}
