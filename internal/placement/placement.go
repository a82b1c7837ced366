// Package placement decides where an invocation runs: in an idle sandbox of
// its exact function version, in a new sandbox, in a new sandbox after
// idle ones of other versions are evicted to make room, or nowhere (the
// caller throttles). It is pure: a function of a Snapshot the caller takes
// under its own lock, with no clock, no I/O and no state of its own, so that
// it is table-tested. For a cluster (cluster.go) it also chooses the node
// an invocation goes to from the nodes' reports (Choose, Rank) and
// computes each node's share of a concurrency limit (Share); package
// forward feeds it. It keeps no state: nothing to make durable.
//
// It must never import the registry, the worker or a sandbox driver.
package placement

import "time"

// Action is what Decide chose.
type Action int

const (
	// UseIdle: run in an idle sandbox of the requested version.
	UseIdle Action = iota + 1
	// Start: start a new sandbox; the budget has room.
	Start
	// EvictThenStart: destroy the Decision's Evict sandboxes, then start
	// a new one.
	EvictThenStart
	// Throttle: no sandbox can run the invocation now.
	Throttle
)

var actionNames = [...]string{UseIdle: "UseIdle", Start: "Start", EvictThenStart: "EvictThenStart", Throttle: "Throttle"}

func (a Action) String() string {
	if a > 0 && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "Action(?)"
}

// Candidate is an idle sandbox that may be evicted to make room: one that
// belongs to no provisioned-concurrency pool.
type Candidate struct {
	MemoryMB int
	LastUsed time.Time
}

// Snapshot is the node as one decision sees it.
type Snapshot struct {
	// Idle is the number of idle sandboxes of exactly the requested
	// version and configuration.
	Idle int
	// NeedMB is what a new sandbox of the version takes from the budget.
	NeedMB int
	// UsedMB is what the node's sandboxes hold; BudgetMB what they may.
	UsedMB, BudgetMB int
	// Evictable are the idle sandboxes of any version that may be
	// destroyed to make room, in any order. Consulted only when Idle is
	// zero and the budget is short.
	Evictable []Candidate
}

// Decision is what to do.
type Decision struct {
	Action Action
	// Evict indexes Snapshot.Evictable, least recently used first; set
	// for EvictThenStart only.
	Evict []int
}

// Decide chooses for one invocation. An idle sandbox of the version wins;
// else a new sandbox starts when the budget has room, or after evicting
// idle sandboxes least recently used first until it has; when even
// evicting every candidate would not make room, nothing is evicted and the
// invocation is throttled. It allocates only for evictions.
func Decide(s Snapshot) Decision {
	if s.Idle > 0 {
		return Decision{Action: UseIdle}
	}
	short := s.UsedMB + s.NeedMB - s.BudgetMB
	if short <= 0 {
		return Decision{Action: Start}
	}
	if s.NeedMB > s.BudgetMB {
		return Decision{Action: Throttle}
	}
	free := 0
	for _, c := range s.Evictable {
		free += c.MemoryMB
	}
	if free < short {
		return Decision{Action: Throttle}
	}
	var evict []int
	taken := make([]bool, len(s.Evictable))
	for short > 0 {
		lru := -1
		for i, c := range s.Evictable {
			if !taken[i] && (lru < 0 || c.LastUsed.Before(s.Evictable[lru].LastUsed)) {
				lru = i
			}
		}
		taken[lru] = true
		evict = append(evict, lru)
		short -= s.Evictable[lru].MemoryMB
	}
	return Decision{Action: EvictThenStart, Evict: evict}
}
