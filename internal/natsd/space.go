package natsd

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Space is the data directory's file system and JetStream's share of it.
type Space struct {
	// Dir is the data directory.
	Dir string
	// Total and Free are the file system's size and the bytes still
	// available on it.
	Total, Free uint64
	// Used and Max are the bytes JetStream stores and may store.
	Used, Max int64
	// Reserve is the free space below which writes are refused.
	Reserve uint64
}

var (
	// ErrNoSpace is wrapped by Writable's error when the data disk is
	// (nearly) full.
	ErrNoSpace = errors.New("data disk nearly full")
	// ErrStoreFailed is wrapped by Writable's error while the store is
	// being repaired after a failed write.
	ErrStoreFailed = errors.New("store failed a write")
)

// Reserve bounds: the share of the file system kept free is 5% of it, at
// least minReserve and at most maxReserve.
const (
	minReserve    = 8 << 20
	maxReserve    = 2 << 30
	checkInterval = time.Second
	// spaceTTL is how long Writable reuses a measurement that found room:
	// a burst of requests measures once, and what it may add in that time
	// stays within the margin below JetStream's own cap. A measurement
	// that found no room is never reused, so writes resume at once.
	spaceTTL = 100 * time.Millisecond
)

// DefaultReserve is the free space kept on a file system of total bytes:
// writes are refused below it, so that deletes and the store's own
// bookkeeping always have room.
func DefaultReserve(total uint64) uint64 {
	return min(max(total/20, minReserve), maxReserve)
}

// DefaultMaxStore is JetStream's cap on a file system of total bytes: all
// of it but half the reserve. It depends on the file system's size, not on
// what is free when the server starts, so a server that stopped on a
// nearly full disk starts again with the same limit.
func DefaultMaxStore(total uint64) int64 {
	r := DefaultReserve(total)
	if total <= r {
		return int64(total / 2)
	}
	return int64(total - r/2)
}

// margin is how far below Max JetStream's use must stay for writes to be
// accepted: the room left for deletes (which write delete markers).
func (s Space) margin() int64 {
	return min(int64(s.Reserve/2), s.Max/10)
}

// Low reports whether writes are refused for lack of space.
func (s Space) Low() bool {
	return s.Free < s.Reserve || s.Used > s.Max-s.margin()
}

// Warn reports whether the free space is below twice the reserve: time to
// say so in the log.
func (s Space) Warn() bool {
	return s.Free < 2*s.Reserve || s.Used > s.Max-2*s.margin()
}

func (s Space) String() string {
	return fmt.Sprintf("%s: %s free of %s, reserve %s; store %s of %s",
		s.Dir, mib(s.Free), mib(s.Total), mib(s.Reserve), mib(uint64(max(s.Used, 0))), mib(uint64(max(s.Max, 0))))
}

// spaceError is Writable's error: a message for clients and the kind
// (ErrNoSpace, ErrStoreFailed) for errors.Is.
type spaceError struct {
	msg  string
	kind error
}

func (e *spaceError) Error() string { return e.msg }
func (e *spaceError) Unwrap() error { return e.kind }

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// Space measures the data directory's file system and JetStream's use.
func (s *Server) Space() (Space, error) {
	total, free, err := statfs(s.dataDir)
	if err != nil {
		return Space{}, fmt.Errorf("natsd: statfs %s: %w", s.dataDir, err)
	}
	sp := Space{Dir: s.dataDir, Total: total, Free: free, Max: s.maxStore, Reserve: s.reserve}
	if s.ns == nil {
		return sp, nil // the external cluster's servers watch their own disks
	}
	if acc := s.ns.GlobalAccount(); acc != nil && acc.JetStreamEnabled() {
		sp.Used = int64(acc.JetStreamUsage().Store)
	}
	return sp, nil
}

// Writable returns nil when a write may go to the store, or an error
// wrapping ErrNoSpace (the disk is nearly full: writes are refused so that
// deletes keep working) or ErrStoreFailed (a write failed and the store is
// being opened again). Its message names the data directory and is meant
// for clients. Deletes need not ask.
func (s *Server) Writable() error {
	if s.ns == nil {
		return nil // an external cluster refuses writes itself when full
	}
	s.mu.Lock()
	broken := s.broken
	cached, fresh := s.space, time.Since(s.spaceAt) < spaceTTL && !s.space.Low()
	s.mu.Unlock()
	if broken != "" {
		return &spaceError{kind: ErrStoreFailed, msg: fmt.Sprintf(
			"Kumo's store in %s failed a write (%s); it is reopened as soon as the cause is gone: retry later.", s.dataDir, broken)}
	}
	sp := cached
	if !fresh {
		var err error
		if sp, err = s.Space(); err != nil {
			return nil // cannot tell; let the store decide
		}
		s.mu.Lock()
		s.space, s.spaceAt = sp, time.Now()
		s.mu.Unlock()
	}
	if sp.Low() {
		return &spaceError{kind: ErrNoSpace, msg: fmt.Sprintf(
			"Kumo's data disk is nearly full (%s): writes are refused until space is freed; deletes still work.", sp)}
	}
	return nil
}

// critical is called with nats-server's error lines; a critical write error
// leaves a stream refusing (or never answering) writes until its store is
// opened again, so it marks the server for repair.
func (s *Server) critical(msg string) {
	if !strings.Contains(strings.ToLower(msg), "critical write error") {
		return
	}
	s.mu.Lock()
	first := s.broken == ""
	if first {
		s.broken = msg
	}
	s.mu.Unlock()
	if first {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// watch checks the disk every checkInterval: it logs when space runs low
// and comes back, and repairs the store after a write error once there is
// room again.
func (s *Server) watch() {
	defer close(s.watched)
	t := time.NewTicker(checkInterval)
	defer t.Stop()
	var warned, low bool
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		case <-s.kick:
		}
		sp, err := s.Space()
		if err != nil {
			continue
		}
		switch {
		case sp.Low() && !low:
			s.log.Warn("data disk nearly full: writes are refused until space is freed; deletes still work", "space", sp.String())
		case sp.Warn() && !warned:
			s.log.Warn("data disk running low", "space", sp.String())
		case !sp.Warn() && warned:
			s.log.Info("data disk has room again", "space", sp.String())
		}
		low, warned = sp.Low(), sp.Warn()
		s.mu.Lock()
		broken := s.broken
		s.mu.Unlock()
		if broken == "" || sp.Free < sp.Reserve {
			continue
		}
		s.log.Warn("reopening the store after a failed write", "cause", broken, "space", sp.String())
		if err := s.ResetJetStream(); err != nil {
			s.log.Warn("reopening the store failed; trying again", "err", err)
			continue
		}
		s.mu.Lock()
		s.broken = ""
		s.mu.Unlock()
		s.log.Info("store reopened; writes accepted again")
	}
}
