package worker

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// ErrCapacity: the node's memory budget is taken by busy sandboxes, so no
// sandbox can start until one finishes. The invoke frontend throttles.
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

// reserveMemory takes mb of the node's budget for a new sandbox. When the
// budget is short it evicts idle sandboxes, least recently used first,
// whatever their function; when nothing idle is left it returns
// ErrCapacity. The caller gives the memory back with releaseMemory (destroy
// does that for a sandbox that holds it).
func (w *Worker) reserveMemory(mb int) error {
	var victims []*instance
	w.mu.Lock()
	for w.memUsed+mb > w.cfg.MemoryBudgetMB {
		v := w.lruIdleLocked()
		if v == nil {
			w.mu.Unlock()
			for _, in := range victims {
				w.destroy(in)
			}
			return ErrCapacity
		}
		w.removeIdleLocked(v)
		w.memUsed -= v.memoryMB
		v.memReleased = true
		victims = append(victims, v)
	}
	w.memUsed += mb
	w.mu.Unlock()
	for _, in := range victims {
		w.destroy(in)
	}
	return nil
}

// releaseMemory gives back what reserveMemory took.
func (w *Worker) releaseMemory(mb int) {
	w.mu.Lock()
	w.memUsed -= mb
	w.mu.Unlock()
}

// lruIdleLocked is the idle sandbox used longest ago, or nil.
func (w *Worker) lruIdleLocked() *instance {
	var lru *instance
	for _, list := range w.idle {
		// Lists are in release order: the first is the oldest of its key.
		if len(list) > 0 && (lru == nil || list[0].lastUsed.Before(lru.lastUsed)) {
			lru = list[0]
		}
	}
	return lru
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

// MemoryUsedMB is the sum of MemorySize over this node's sandboxes.
func (w *Worker) MemoryUsedMB() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.memUsed
}
