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

// MemoryUsedMB is the sum of MemorySize over this node's sandboxes.
func (w *Worker) MemoryUsedMB() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.memUsed
}
