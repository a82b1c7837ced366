//go:build linux

package linux

import (
	"log/slog"
	"net"
	"sync"
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
	// A start from a snapshot (snapshot.go): Take is finding it in the
	// driver's list, Trees the open_tree of the code and layers, Mounts
	// the init's part of Exec (staging, move_mount, overlays, /tmp) and
	// Handoff the rest of it (the environment written to the waiting
	// runtime, the messages both ways).
	Take, Trees, Mounts, Handoff time.Duration
	// Start is the whole of Driver.Start. (The time from its call until
	// the runtime's first Runtime API connection is accepted is the
	// box's request, logged then as "linux sandbox first request".)
	Start time.Duration
}

// log writes the spans of the sandbox id at debug level.
func (s *spans) log(l *slog.Logger, id string) {
	l.Debug("linux sandbox start spans", "id", id, "warm", s.Warm, "snapshot", s.Snapshot,
		"clone", s.Clone, "cgroup", s.Cgroup, "net_attach", s.NetAttach, "init_ready", s.InitReady,
		"limits", s.Limits, "exec", s.Exec, "take", s.Take, "trees", s.Trees, "mounts", s.Mounts, "handoff", s.Handoff,
		"start", s.Start)
}

// firstListener is a sandbox's Runtime API listener that records when the
// runtime's first connection is accepted.
type firstListener struct {
	net.Listener
	once  sync.Once
	first func()
}

func (l *firstListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.once.Do(l.first)
	}
	return c, err
}
