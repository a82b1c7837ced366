package worker

import (
	"context"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/keepalive"
	"github.com/kumo-run/kumo/internal/sandbox"
)

// maxTrackedKeys bounds the version keys whose arrivals the policy learns
// and whose last Spec the worker keeps for pre-warming. Keys beyond it
// get the policy's default windows and are never pre-warmed.
const maxTrackedKeys = 4096

// burstGrace is how long a sandbox stays after its last use even when the
// policy would unload it until a pre-warm: policies learn idle times in
// one-minute bins, so invocations less than a minute apart are one burst
// and should find the sandbox warm.
const burstGrace = time.Minute

// unload reports whether an idle sandbox idle for idle goes under win.
func unload(win keepalive.Windows, idle time.Duration) bool {
	if win.PreWarm > 0 && idle < burstGrace {
		return false
	}
	return win.Unload(idle)
}

// keeper is the worker's side of its keep-alive policy: it feeds the policy
// invocation arrivals and remembers, per version key, the last Spec
// (needed to start a sandbox of it), when its last invocation ended and how
// many are running, so that the reaper can pre-warm a key whose sandboxes
// it unloaded.
//
// Safe for concurrent use. keeper.mu is never held together with
// Worker.mu; the policy's and the registry's locks (cfg.Live) may be taken
// under either.
type keeper struct {
	policy keepalive.Policy
	// track is false for Fixed, which learns nothing and never pre-warms:
	// the invoke path then does no bookkeeping at all.
	track bool

	mu   sync.Mutex
	keys map[string]*keyState
}

// keyState is the bookkeeping of one version key.
type keyState struct {
	// fn is the Spec last invoked under key; nil once the policy's
	// windows after the last invocation are over (until the next one).
	fn      *Spec
	running int
	lastEnd time.Time
	// warmed is the lastEnd for which a pre-warm was started: at most
	// one per idle period.
	warmed time.Time
}

func newKeeper(p keepalive.Policy) *keeper {
	_, fixed := p.(keepalive.Fixed)
	return &keeper{policy: p, track: !fixed, keys: map[string]*keyState{}}
}

// arrived records an invocation of fn arriving at t. The caller passes the
// result to ended when the invocation is over; nil (nothing tracked) is
// fine there.
func (k *keeper) arrived(fn *Spec, t time.Time) *keyState {
	if k == nil || !k.track {
		return nil
	}
	k.mu.Lock()
	st := k.keys[fn.Key]
	if st == nil {
		if len(k.keys) >= maxTrackedKeys {
			k.mu.Unlock()
			return nil
		}
		st = &keyState{}
		k.keys[fn.Key] = st
	}
	st.fn = fn
	st.running++
	k.mu.Unlock()
	k.policy.Observe(fn.Key, t)
	return st
}

// ended records that an invocation that arrived has ended, healthy or not.
func (k *keeper) ended(st *keyState, t time.Time) {
	if st == nil {
		return
	}
	k.mu.Lock()
	if st.running > 0 {
		st.running--
	}
	if t.After(st.lastEnd) {
		st.lastEnd = t
	}
	k.mu.Unlock()
}

// prewarmJob is a sandbox the policy wants loaded again.
type prewarmJob struct {
	fn      *Spec
	lastEnd time.Time
}

// due returns the keys to pre-warm at now: none running, the policy's
// pre-warm time after their last invocation passed and the keep-alive
// window still open, not pre-warmed yet for that invocation. It drops the
// Spec of keys whose windows are over and forgets keys live no longer
// reports live.
func (k *keeper) due(now time.Time, live func(string) bool) []prewarmJob {
	if k == nil || !k.track {
		return nil
	}
	var jobs []prewarmJob
	var gone []string
	k.mu.Lock()
	for key, st := range k.keys {
		if live != nil && !live(key) {
			delete(k.keys, key)
			gone = append(gone, key)
			continue
		}
		if st.fn == nil || st.running > 0 || st.lastEnd.IsZero() {
			continue
		}
		win := k.policy.KeepAlive(key, now)
		idle := now.Sub(st.lastEnd)
		if win.Expired(idle) {
			st.fn = nil
			continue
		}
		at, ok := win.PreWarmAt(st.lastEnd)
		if !ok || now.Before(at) || !win.Warm(idle) || st.warmed.Equal(st.lastEnd) {
			continue
		}
		st.warmed = st.lastEnd
		jobs = append(jobs, prewarmJob{fn: st.fn, lastEnd: st.lastEnd})
	}
	k.mu.Unlock()
	for _, key := range gone {
		k.policy.Forget(key)
	}
	return jobs
}

// policy is the keep-alive policy in force.
func (w *Worker) policy() keepalive.Policy {
	if w.cfg.KeepAlive == nil {
		return keepalive.Fixed{Idle: w.cfg.IdleTimeout}
	}
	return w.cfg.KeepAlive
}

// reap is one reaper pass at now: it retires idle sandboxes whose key is
// no longer live, whose runtime exited, or which the policy unloads given
// their idle time since last use (not before burstGrace when the policy
// pre-warms), then pre-warms the keys that are due.
// Pre-warms run in their own goroutines under ctx.
func (w *Worker) reap(ctx context.Context, now time.Time) {
	p := w.policy()
	var old []*instance
	w.mu.Lock()
	for key, list := range w.idle {
		live := w.cfg.Live == nil || w.cfg.Live(key)
		win := p.KeepAlive(key, now)
		for _, in := range list {
			if !live || unload(win, now.Sub(in.lastUsed)) || isClosed(in.exited) || in.credsStale(now) {
				old = append(old, in)
			}
		}
	}
	for i, in := range old {
		if !w.retireLocked(in) {
			old[i] = nil
		}
	}
	if w.cfg.Live != nil {
		for key := range w.est {
			if !w.cfg.Live(key) {
				delete(w.est, key)
			}
		}
	}
	w.mu.Unlock()
	for _, in := range old {
		if in != nil {
			w.teardown(in, "idle")
		}
	}
	for _, j := range w.keep.due(now, w.cfg.Live) {
		w.prewarm(ctx, j)
	}
}

// prewarm starts a sandbox for j.fn in the background and puts it in the
// idle pool as if last used when the key's last invocation ended, so the
// policy's windows apply to it unchanged. It is skipped when a sandbox of
// the key is idle already or being pre-warmed, or when the memory budget
// has no room without evicting other functions' sandboxes. The memory is
// charged before it returns. A SnapStart kept-ready sandbox
// (snapstart.go) is started the same way.
func (w *Worker) prewarm(ctx context.Context, j prewarmJob) {
	key := j.fn.Key
	w.mu.Lock()
	need := w.needLocked(j.fn)
	skip := w.closed || len(w.idle[key]) > 0 || w.warming[key] ||
		w.memUsed+w.reservedMB()+need > w.cfg.MemoryBudgetMB
	if !skip {
		w.memUsed += need
		w.warming[key] = true
		w.done.Add(2) // the start's, and this goroutine's
	}
	w.mu.Unlock()
	if skip {
		return
	}
	go func() {
		defer w.done.Done()
		in, out, err := w.start(ctx, j.fn, "", grant{charge: need})
		if in == nil {
			w.mu.Lock()
			delete(w.warming, key)
			w.mu.Unlock()
		}
		switch {
		case err != nil:
			w.log.Debug("worker: pre-warming", "key", j.fn.Key, "err", err)
			return
		case out != nil:
			w.log.Debug("worker: pre-warming: init failed", "key", j.fn.Key, "error_type", out.ErrorType)
			return
		}
		w.poolPreWarmed(in, j.lastEnd)
	}()
}

// poolPreWarmed puts a freshly initialised sandbox in the idle pool with
// lastUsed set to since.
func (w *Worker) poolPreWarmed(in *instance, since time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.warming, in.key)
	if w.closed || in.life.To(sandbox.Idle) != nil {
		if w.retireLocked(in) {
			go w.teardown(in, "pre-warmed after close")
		}
		return
	}
	in.lastUsed = since
	w.idle[in.key] = append(w.idle[in.key], in)
}
