//go:build linux

package linux

import (
	"log/slog"
	"time"
)

// spans times the steps of one sandbox start, so that a cold start can
// be taken apart (BenchmarkStart prints them, and every start logs them
// at debug level as "linux sandbox start spans"). Only the goroutine that
// starts the sandbox writes them, except NetAttach, which the attaching
// goroutine writes before spawn returns.
type spans struct {
	Warm      bool          // the init came from the warm pool
	Snapshot  bool          // the runtime came pre-started (snapshot.go)
	Clone     time.Duration // cmd.Start: clone and exec of the init
	Cgroup    time.Duration // moving the init into its cgroups
	NetAttach time.Duration // Config.Network's Attach (in parallel with InitReady)
	InitReady time.Duration // from the clone until the init sent its socket: lo, /proc, /dev, /etc
	Limits    time.Duration // writing the function's cgroup limits
	Exec      time.Duration // spec sent until the runtime runs: the function's mounts, pivot, fork and exec
}

// log writes the spans of the sandbox id at debug level.
func (s *spans) log(l *slog.Logger, id string) {
	l.Debug("linux sandbox start spans", "id", id, "warm", s.Warm, "snapshot", s.Snapshot,
		"clone", s.Clone, "cgroup", s.Cgroup, "net_attach", s.NetAttach, "init_ready", s.InitReady,
		"limits", s.Limits, "exec", s.Exec)
}
