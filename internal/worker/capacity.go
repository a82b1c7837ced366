package worker

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// ErrCapacity: the node's memory budget is taken by busy sandboxes, so no
// sandbox can start until one finishes (placement.Throttle). The invoke
// frontend throttles.
var ErrCapacity = errors.New("worker: the node has no memory left for another sandbox")

// DefaultMemoryBudgetMB is three quarters of the machine's memory, or 4 GB
// when that cannot be read.
func DefaultMemoryBudgetMB() int {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 4096
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err == nil && kb > 0 {
				return kb / 1024 * 3 / 4
			}
		}
	}
	return 4096
}

func (w *Worker) removeIdleLocked(in *instance) {
	list := w.idle[in.key]
	for i, x := range list {
		if x == in {
			w.idle[in.key] = append(list[:i:i], list[i+1:]...)
			if len(w.idle[in.key]) == 0 {
				delete(w.idle, in.key)
			}
			return
		}
	}
}

// The memory budget. Every sandbox, and every start in progress, is
// charged an amount of MB against Config.MemoryBudgetMB, and placement
// admits a new sandbox only when its charge fits (evicting idle sandboxes,
// least recently used first, when that makes room).
//
// When the driver measures memory (Capabilities.MemoryLimit) a sandbox is
// charged by use: its peak use so far plus a quarter (at least
// chargeHeadroomMB) for growth, never more than its MemorySize, which
// stays its cgroup limit. A sandbox is charged its full MemorySize until
// its first invocation ends; a new sandbox of a version is admitted for
// what the last measured sandbox of that version was charged. So a node
// whose functions use a fraction of their configured memory keeps many
// more of them warm (overcommit), and eviction starts when measured use,
// not configured size, reaches the budget.
//
// At the edge: charges only grow while a sandbox lives (peaks are peaks),
// so a sandbox that suddenly uses more is charged for it after that
// invocation and later admissions see it; between two measurements busy
// sandboxes can together use more than the budget, up to the sum of their
// MemorySize — the default budget (three quarters of the machine) leaves
// the rest as headroom, and a sandbox over its own limit is killed by its
// cgroup (Runtime.OutOfMemory), never its neighbours. Drivers that do not
// measure (process) and Config.ChargeConfigured charge MemorySize always.

// chargeHeadroomMB is the least growth a measured charge leaves above the
// peak.
const chargeHeadroomMB = 16

// chargeFor is the charge of a sandbox whose peak use is peakBytes under a
// limit of limitMB.
func chargeFor(peakBytes int64, limitMB int) int {
	mb := int((peakBytes + 1<<20 - 1) >> 20)
	return min(limitMB, mb+max(mb/4, chargeHeadroomMB))
}

// needLocked is what a new sandbox of spec is charged until measured.
func (w *Worker) needLocked(spec *Spec) int {
	if e, ok := w.est[spec.Key]; ok && w.measured {
		return min(e, spec.MemoryMB)
	}
	return spec.MemoryMB
}

// measuredLocked charges in by its peak use so far, and remembers the
// charge for new sandboxes of its version.
func (w *Worker) measuredLocked(in *instance, peakBytes int64) {
	if !w.measured || peakBytes <= 0 {
		return
	}
	c := chargeFor(peakBytes, in.memoryMB)
	if c == in.charge {
		return
	}
	w.memUsed += c - in.charge
	in.charge = c
	if _, ok := w.est[in.key]; ok || len(w.est) < maxTrackedKeys {
		w.est[in.key] = c
	}
}

// MemoryUsedMB is the memory charged to this node's sandboxes and the
// starts in progress, and what the driver holds in waiting snapshots.
func (w *Worker) MemoryUsedMB() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.memUsed + w.reservedMB()
}

// ErrNotWarm: Request.WarmOnly was set and no sandbox of the version was
// idle; nothing was started and nothing counted.
var ErrNotWarm = errors.New("worker: no idle sandbox of the version")

// LimitError: a concurrency limit (the function's reserved concurrency,
// or the account's unreserved pool when Reserved is false) has no room
// for the invocation on any node that was asked. The invoke frontend
// throttles with the matching reason.
type LimitError struct {
	Reserved bool
}

func (e *LimitError) Error() string {
	if e.Reserved {
		return "worker: the function's reserved concurrency is taken"
	}
	return "worker: the account's unreserved concurrency is taken"
}

// MemoryBudgetMB is the node's memory budget.
func (w *Worker) MemoryBudgetMB() int { return w.cfg.MemoryBudgetMB }

// IdleVersions reports the version keys with idle sandboxes (provisioned
// ones included) and how many, at most max keys: what a node tells the
// others of a cluster, so that they send it invocations its warm
// sandboxes can run. It takes the worker's lock once.
func (w *Worker) IdleVersions(max int) map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]int, min(len(w.idle), max))
	for key, list := range w.idle {
		if len(out) >= max {
			break
		}
		out[key] = len(list)
	}
	for _, p := range w.prov.byID {
		if p.closed || len(p.idle) == 0 {
			continue
		}
		if _, ok := out[p.key]; ok || len(out) < max {
			out[p.key] += len(p.idle)
		}
	}
	return out
}
