package linux

import "log/slog"

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
	// Logger defaults to slog.Default().
	Logger *slog.Logger
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
	if c.Pool == 0 {
		c.Pool = 2
	}
	return c
}
