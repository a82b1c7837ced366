// Package sandbox defines how Kumo runs untrusted function code: the Driver
// interface every isolation technology implements, the Spec of one sandbox,
// and the lifecycle every sandbox goes through as an explicit state machine.
//
// Drivers live in subpackages (linux, process); sandboxtest is the
// conformance suite every driver passes. A sandbox runs one runtime process
// tree for one function version; the Runtime API is served to it on the
// listener the driver provides, and nothing else of the host is reachable
// from it beyond what the driver's capabilities say.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/netns"
)

// Spec describes one sandbox.
type Spec struct {
	// ID is unique per sandbox: 32 lowercase hex characters.
	ID string
	// CodeDir is the host directory holding the unzipped code; the sandbox
	// sees it read-only at /var/task.
	CodeDir string
	// ImageRoot, set instead of CodeDir for a container-image function,
	// is the host directory holding the image's unpacked root file
	// system: the sandbox sees it read-only as its root (its /var/task,
	// /var/runtime and /opt included), with the driver's own /proc,
	// /dev, /tmp and the generated /etc files over it. Args[0] and Dir
	// are paths in it. A driver that cannot give a sandbox its own root
	// refuses the spec.
	ImageRoot string
	// LayerDirs are host directories merged read-only at /opt, in order
	// (later ones win). Empty for now.
	LayerDirs []string
	// RuntimeDir is an optional host directory mounted read-only at
	// /var/runtime (Kumo's bootstraps for managed runtimes).
	RuntimeDir string
	// HostPaths are host files or directories the runtime needs (an
	// interpreter and its libraries), made visible read-only at the same
	// path inside the sandbox.
	HostPaths []string
	// Args is the command run inside the sandbox, Args[0] an absolute path
	// as the sandbox sees it (e.g. /var/task/bootstrap).
	Args []string
	// Env is the environment, "K=V". The driver adds
	// AWS_LAMBDA_RUNTIME_API itself.
	Env []string
	// Dir is the working directory inside the sandbox (/var/task).
	Dir string
	// MemoryMB is the memory limit (cgroup) in MB; CPU is given in
	// proportion, 1 vCPU at 1,769 MB.
	MemoryMB int
	// EphemeralMB is the size of /tmp in MB.
	EphemeralMB int
	// MaxProcs bounds the number of processes and threads (1,024).
	MaxProcs int
	// Network restricts the sandbox's outbound traffic (a function in a
	// VPC); nil leaves it to the network's rules for every sandbox. A
	// driver that cannot enforce it refuses the spec.
	Network *netns.Policy
	// Stdout and Stderr receive the sandbox's output. The driver copies
	// into them from its own goroutines; they must not block for long.
	Stdout, Stderr io.Writer
}

// Capabilities says what a driver enforces.
type Capabilities struct {
	// Isolated: the sandbox cannot see host files, processes, network or
	// other sandboxes.
	Isolated bool
	// MemoryLimit: MemoryMB is enforced and MaxMemoryUsed measured.
	MemoryLimit bool
	// TmpLimit: /tmp is private and limited to EphemeralMB.
	TmpLimit bool
	// ProcLimit: MaxProcs is enforced.
	ProcLimit bool
}

// Driver starts sandboxes. Implementations are safe for concurrent use.
type Driver interface {
	// Name is the driver's name as given to --sandbox.
	Name() string
	Capabilities() Capabilities
	// Start creates a sandbox and starts Spec.Args in it. It returns once
	// the process runs and the Runtime API listener accepts connections.
	// If Args[0] cannot be executed, Start still succeeds: the main
	// process exits at once with code 127 and the reason on Stderr.
	Start(ctx context.Context, spec Spec) (Sandbox, error)
	// Cleanup removes whatever an earlier server process left behind
	// (processes, mounts, cgroups) after a crash. Called once at start.
	Cleanup(ctx context.Context) error
}

// Sandbox is one running sandbox.
type Sandbox interface {
	ID() string
	// Listener is where the Runtime API must be served for this sandbox.
	// The driver closes it in Destroy.
	Listener() net.Listener
	// RuntimeAPI is the value of AWS_LAMBDA_RUNTIME_API inside the sandbox.
	RuntimeAPI() string
	// Exited is closed when the sandbox's main process has exited.
	Exited() <-chan struct{}
	// Stats reports resource use so far. Valid after exit too, until
	// Destroy.
	Stats() Stats
	// Destroy kills every process of the sandbox and removes everything it
	// used (cgroups, mounts, temporary dirs). Idempotent.
	Destroy(ctx context.Context) error
}

// DriverDescriptors is the most file descriptors a driver keeps open in
// the server for one sandbox, from Start until Destroy: the Runtime API
// listener, the read ends of the stdout and stderr pipes, and a handle on
// the main process (a pidfd), with a control socket for the linux driver.
// With what the Runtime API server keeps for the sandbox
// (runtimeapi.Descriptors) it is the server's descriptor budget per
// sandbox, whatever the code inside does; the conformance suite checks it.
// Warm sandboxes a driver keeps in a pool cost the same each.
const DriverDescriptors = 5

// OutputDrainer is a Sandbox that can wait until the output its processes
// wrote so far has been delivered to Spec.Stdout and Spec.Stderr, so that
// a function's last lines come before the platform's END line.
type OutputDrainer interface {
	DrainOutput(max time.Duration)
}

// InitBooster is a Sandbox that runs its init phase with more CPU than
// its memory size buys, as Lambda does, until EndInit applies the regular
// limit. The worker calls EndInit once the runtime asked for its first
// invocation.
type InitBooster interface {
	EndInit() error
}

// Freezer is a Sandbox whose processes can be frozen between
// invocations, as Lambda freezes an execution environment: work a
// function leaves running after it answered does not run, unbilled, until
// the next invocation. Freeze returns once every process of the sandbox
// is frozen, Thaw once they may run again; both are idempotent and safe
// for concurrent use with everything but each other. Destroy works on a
// frozen sandbox. After Destroy both return an error.
type Freezer interface {
	Freeze(ctx context.Context) error
	Thaw(ctx context.Context) error
}

// Reserver is a Driver that holds memory outside the sandboxes it
// started: pre-started runtimes waiting for a function, say. The worker
// counts ReservedMB against the node's memory budget; it is called on
// every placement, so it must be cheap, and safe for concurrent use.
type Reserver interface {
	ReservedMB() int
}

// InitCPUQuota is the CFS quota during the init phase: at least two vCPUs.
func InitCPUQuota(memoryMB int) int {
	return max(CPUQuota(memoryMB), 200000)
}

// Stats is a sandbox's resource use.
type Stats struct {
	// MaxMemoryBytes is the peak memory use (0 if not measured).
	MaxMemoryBytes int64
	// OOMKilled reports whether the memory limit killed a process.
	OOMKilled bool
	// ExitCode is the main process's exit status once it exited (-1 if
	// killed by a signal); Signal names the signal.
	ExitCode int
	Signal   string
}

// State is where a sandbox is in its lifecycle.
type State int

const (
	// Starting: the driver is creating it and starting the runtime.
	Starting State = iota + 1
	// Initializing: the runtime runs its init phase (until its first
	// invocation/next).
	Initializing
	// Idle: ready for an invocation.
	Idle
	// Busy: running one invocation.
	Busy
	// Broken: init failed, it timed out, ran out of memory or exited; it
	// is never used again.
	Broken
	// Destroyed: everything it used is gone.
	Destroyed
)

var stateNames = map[State]string{
	Starting: "Starting", Initializing: "Initializing", Idle: "Idle", Busy: "Busy", Broken: "Broken", Destroyed: "Destroyed",
}

func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// transitions lists every allowed move; anything else is refused.
var transitions = map[State][]State{
	Starting:     {Initializing, Broken, Destroyed},
	Initializing: {Idle, Busy, Broken, Destroyed},
	Idle:         {Busy, Broken, Destroyed},
	Busy:         {Idle, Broken, Destroyed},
	Broken:       {Destroyed},
	Destroyed:    {},
}

// ErrTransition is returned for a move the lifecycle does not allow.
var ErrTransition = errors.New("sandbox: illegal state transition")

// Lifecycle is a sandbox's state with its allowed moves. The zero value is
// not usable; use NewLifecycle. Safe for concurrent use.
type Lifecycle struct {
	mu    sync.Mutex
	state State
	since time.Time
}

// NewLifecycle returns a lifecycle in Starting.
func NewLifecycle() *Lifecycle { return &Lifecycle{state: Starting, since: time.Now()} }

// State returns the current state and when it was entered.
func (l *Lifecycle) State() (State, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state, l.since
}

// To moves to next, or returns ErrTransition (wrapped with both states).
func (l *Lifecycle) To(next State) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range transitions[l.state] {
		if s == next {
			l.state, l.since = next, time.Now()
			return nil
		}
	}
	return fmt.Errorf("%w: %s → %s", ErrTransition, l.state, next)
}

// CPUShares is the cgroup cpu.shares for a memory size: 1,024 shares (one
// vCPU) at 1,769 MB, in proportion below and above.
func CPUShares(memoryMB int) int {
	s := memoryMB * 1024 / 1769
	if s < 2 {
		s = 2
	}
	return s
}

// CPUQuota is the CFS quota in microseconds per 100 ms period for a memory
// size: 1 vCPU (100,000 µs) at 1,769 MB, in proportion.
func CPUQuota(memoryMB int) int {
	q := memoryMB * 100000 / 1769
	if q < 1000 {
		q = 1000
	}
	return q
}
