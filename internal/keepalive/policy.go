package keepalive

import (
	"fmt"
	"time"
)

// Windows is a policy's decision for one function after an invocation.
//
// Measured from the end of the last invocation (idle time 0): when PreWarm
// is zero the sandbox stays loaded for KeepAlive; otherwise it is unloaded
// at once, loaded again at PreWarm and kept until PreWarm+KeepAlive.
// Policies learn from arrival times, so for executions that are long
// against the policy's resolution (Hybrid: one-minute bins) measuring from
// the end shifts both windows later by the execution time.
type Windows struct {
	PreWarm   time.Duration
	KeepAlive time.Duration
}

// Warm reports whether a sandbox should be loaded after the function has
// been idle for idle.
func (w Windows) Warm(idle time.Duration) bool {
	return idle >= w.PreWarm && idle <= w.PreWarm+w.KeepAlive
}

// Unload reports whether a loaded idle sandbox should be released now: it
// has outlived the keep-alive window, or it is waiting for a pre-warm that
// is still in the future.
func (w Windows) Unload(idle time.Duration) bool { return !w.Warm(idle) }

// Expired reports whether the windows are over for good: no sandbox is
// wanted again until the next invocation.
func (w Windows) Expired(idle time.Duration) bool { return idle > w.PreWarm+w.KeepAlive }

// PreWarmAt is when a sandbox should be loaded again given the end of the
// last invocation, and whether a pre-warm is wanted at all (PreWarm > 0 and
// KeepAlive > 0).
func (w Windows) PreWarmAt(lastEnd time.Time) (time.Time, bool) {
	if w.PreWarm <= 0 || w.KeepAlive <= 0 {
		return time.Time{}, false
	}
	return lastEnd.Add(w.PreWarm), true
}

func (w Windows) String() string {
	return fmt.Sprintf("prewarm=%s keepalive=%s", w.PreWarm, w.KeepAlive)
}

// Policy learns invocation arrivals per function key (a function version)
// and decides keep-alive windows for it.
//
// Implementations are safe for concurrent use, start no goroutines and do
// no I/O; every call is cheap (bounded by a fixed number of bins).
type Policy interface {
	// Name identifies the policy and its parameters in reports.
	Name() string
	// Observe records that an invocation of fn arrived at t. Arrivals
	// earlier than the latest one seen for fn are ignored.
	Observe(fn string, t time.Time)
	// KeepAlive returns the windows for fn after the invocation that
	// arrived last. now lets a policy age what it learned; the policies
	// here ignore it. KeepAlive does not change the learned state, so
	// callers may ask as often as they like (on release, on each reaper
	// pass). An unknown fn gets the policy's default windows.
	KeepAlive(fn string, now time.Time) Windows
	// Forget drops what was learned about fn (a deleted version).
	Forget(fn string)
}

// Fixed keeps every idle sandbox loaded for Idle and never pre-warms: the
// standard keep-alive policy. Fixed{0} keeps nothing once idle.
type Fixed struct {
	Idle time.Duration
}

// Name implements Policy.
func (f Fixed) Name() string {
	if f.Idle == 0 {
		return "no keep-alive"
	}
	return "fixed " + shortDuration(f.Idle)
}

// Observe implements Policy; Fixed learns nothing.
func (Fixed) Observe(string, time.Time) {}

// KeepAlive implements Policy.
func (f Fixed) KeepAlive(string, time.Time) Windows { return Windows{KeepAlive: f.Idle} }

// Forget implements Policy.
func (Fixed) Forget(string) {}

func shortDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	default:
		return d.String()
	}
}

var _ Policy = Fixed{}
