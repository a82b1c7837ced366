package linux

import (
	"context"
	"log/slog"
	"time"

	"github.com/kumo-run/kumo/internal/netns"
)

// Config configures the linux driver. Zero values take the defaults.
type Config struct {
	// StateDir is the driver's directory on the host (default
	// /run/kumo/sandbox). It only ever holds one empty directory, root,
	// that every sandbox mounts its root file system over inside its own
	// mount namespace.
	StateDir string
	// CgroupRoot is where the cgroup file systems are mounted (default
	// /sys/fs/cgroup); v2 and v1 are detected.
	CgroupRoot string
	// CgroupParent is the cgroup, under each hierarchy's root, that holds
	// the sandboxes' cgroups (default "kumo"). It belongs to one server:
	// Cleanup removes every kumo-* cgroup in it.
	CgroupParent string
	// UID and GID run the function code (default 993, as Lambda's
	// sbx_user1051). 0 means the default: sandboxes never run as root.
	UID, GID int
	// Pool is how many warm sandboxes (an init in its namespaces and
	// cgroup, waiting for a spec) are kept ready, so that Start skips
	// their creation (default 2; negative: none). Each costs an idle
	// process and a few MB of memory. They are made in the background
	// once the driver is first used (Cleanup or Start); Close removes
	// them.
	Pool int
	// Snapshots is how many pre-started runtimes (snapshot.go) are kept
	// per managed runtime in demand (default 1; negative: none).
	Snapshots int
	// SnapshotIdle is how long a pre-started runtime waits to be taken
	// before it is recycled, and a runtime nobody started in that time
	// stops being pre-started (default 10 minutes).
	SnapshotIdle time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Network, if set, gives each sandbox an interface besides lo; nil
	// leaves lo its only one.
	Network Network
}

// Network connects sandboxes' network namespaces to a network (package
// netns has the real one).
type Network interface {
	// Attach connects the network namespace of process pid. The driver
	// calls it when it makes a sandbox, before any function code runs
	// in it, and detach when the sandbox is gone.
	Attach(ctx context.Context, pid int) (detach func() error, err error)
	// ResolvConf is the sandboxes' /etc/resolv.conf.
	ResolvConf() []byte
}

// PolicyNetwork is a Network that can restrict one sandbox's outbound
// traffic (netns.Network). The driver attaches through AttachPolicy when
// the network has it, and sets a spec's Network policy before the
// runtime starts; without it, a spec with a policy is refused.
type PolicyNetwork interface {
	Network
	AttachPolicy(ctx context.Context, pid int) (detach func() error, setPolicy func(*netns.Policy) error, err error)
}

func (c Config) withDefaults() Config {
	if c.StateDir == "" {
		c.StateDir = "/run/kumo/sandbox"
	}
	if c.CgroupRoot == "" {
		c.CgroupRoot = "/sys/fs/cgroup"
	}
	if c.CgroupParent == "" {
		c.CgroupParent = "kumo"
	}
	if c.UID == 0 {
		c.UID = 993
	}
	if c.GID == 0 {
		c.GID = 993
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Snapshots == 0 {
		c.Snapshots = 1
	}
	if c.SnapshotIdle <= 0 {
		c.SnapshotIdle = 10 * time.Minute
	}
	if c.Pool == 0 {
		c.Pool = 2
	}
	return c
}
