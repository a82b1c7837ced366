package worker

import (
	"math"
	"time"
)

// SnapStart, as Kumo has it: Lambda initializes a version published with
// SnapStart once and starts its new execution environments from a
// snapshot of that initialized state ("restore"). Kumo's equivalent of
// the snapshot is an initialized sandbox kept ready: for a Spec with
// SnapStart set (a published version whose ApplyOn is PublishedVersions),
// the node keeps one idle sandbox of the version ready beyond those in
// use. It is not a memory snapshot, and the runtime hooks around one
// (/restore/next, before-snapshot and after-restore hooks) are not run.
//
//   - An invocation of such a version that cold-starts a sandbox, or that
//     takes the kept-ready one, starts another one in the background
//     (keepReady) through the pre-warm path, whatever the keep-alive
//     policy: it is skipped when a sandbox of the version is idle or one
//     is being readied already, and when the memory budget has no room
//     without evicting anything. A failed init is logged at debug and not
//     retried; the next trigger is the next such invocation.
//   - A kept-ready sandbox runs with AWS_LAMBDA_INITIALIZATION_TYPE=
//     snap-start (its Telemetry API initStart says so too) and is idle
//     like any other: the keep-alive policy reaps and evicts it.
//   - The first invocation it serves reports a Restore Duration — the
//     time from taking the sandbox to sending it the event, measured —
//     and a Billed Restore Duration (rounded up to the millisecond) in its
//     REPORT line instead of an Init Duration.
//
// $LATEST, versions without SnapStart and provisioned-concurrency
// sandboxes are left as they are. Each node keeps its own kept-ready
// sandbox; nothing of it is stored, as it is only a warm cache.

// keepReady starts a sandbox of spec's version to be kept ready when spec
// has SnapStart, unless prewarm skips it. It never blocks on the start.
func (w *Worker) keepReady(spec *Spec) {
	if !spec.SnapStart || spec.Provisioned {
		return
	}
	ready := *spec // shares Environment and Layers, which are read only
	ready.restore = true
	w.prewarm(w.bg, prewarmJob{fn: &ready, lastEnd: w.cfg.Now()})
}

// BilledRestoreMs is the billed restore duration: the restore duration
// rounded up to the millisecond; zero without one.
func (o *Outcome) BilledRestoreMs() int64 {
	return int64(math.Ceil(float64(o.RestoreDuration) / float64(time.Millisecond)))
}
