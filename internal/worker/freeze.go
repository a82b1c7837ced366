package worker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/runtimeapi"
	"github.com/kumo-run/kumo/internal/sandbox"
)

// Freezing idle sandboxes, as Lambda freezes an execution environment
// between invocations: work a function leaves running after it answered
// (a thread, a timer, a child process) does not go on unbilled.
//
// A sandbox whose driver offers sandbox.Freezer is frozen once it has sat
// idle for freezeAfter, and thawed by the invocation that takes it next.
// Back-to-back invocations never pay for either; one that finds its
// sandbox frozen pays one thaw (a write to the cgroup's freezer). A
// sandbox that cannot be thawed is retired and the invocation runs on
// another, like one that was never delivered.
//
// Lock order: freezer.mu is an instance's own lock, never taken with
// Worker.mu held and never holding it.
const (
	freezeAfter = 20 * time.Millisecond
	// freezeTimeout bounds a Freeze or Thaw: the kernel freezes a
	// sandbox's tasks in well under a second unless one is stuck in an
	// uninterruptible wait.
	freezeTimeout = 5 * time.Second
)

// freezer is an instance's freeze state; nil for drivers without
// sandbox.Freezer.
type freezer struct {
	fz sandbox.Freezer
	// timer fires freezeAfter after the last release; under Worker.mu.
	timer *time.Timer

	mu     sync.Mutex // held across Freeze and Thaw
	frozen bool
	// freezes and thaws count completed moves, for tests.
	freezes, thaws int
}

func newFreezer(sb sandbox.Sandbox) *freezer {
	if fz, ok := sb.(sandbox.Freezer); ok {
		return &freezer{fz: fz}
	}
	return nil
}

// scheduleFreezeLocked arms in's freeze timer; called under Worker.mu when
// the sandbox goes back to a pool. Resetting a timer does not allocate.
func (w *Worker) scheduleFreezeLocked(in *instance) {
	f := in.freeze
	if f == nil {
		return
	}
	if f.timer == nil {
		f.timer = time.AfterFunc(freezeAfter, func() { w.freezeIdle(in) })
		return
	}
	f.timer.Reset(freezeAfter)
}

// freezeIdle freezes in if it is still idle. A sandbox taken meanwhile
// waits on freezer.mu and thaws it again; one being torn down is killed
// frozen or not.
func (w *Worker) freezeIdle(in *instance) {
	f := in.freeze
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.frozen {
		return
	}
	if s, _ := in.life.State(); s != sandbox.Idle {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), freezeTimeout)
	defer cancel()
	if err := f.fz.Freeze(ctx); err != nil {
		// Leave it running: a sandbox that cannot be frozen still works.
		w.log.Debug("freezing an idle sandbox failed", "sandbox", in.id, "err", err)
		if err := f.fz.Thaw(ctx); err != nil {
			w.log.Debug("thawing after a failed freeze failed", "sandbox", in.id, "err", err)
		}
		return
	}
	f.frozen = true
	f.freezes++
}

// thaw makes in's processes runnable before an invocation is handed to it.
// The error wraps runtimeapi.ErrNotDelivered: the invocation may run on
// another sandbox.
func (in *instance) thaw() error {
	f := in.freeze
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.frozen {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), freezeTimeout)
	defer cancel()
	if err := f.fz.Thaw(ctx); err != nil {
		return fmt.Errorf("%w: thawing sandbox %s: %v", runtimeapi.ErrNotDelivered, in.id, err)
	}
	f.frozen = false
	f.thaws++
	return nil
}
