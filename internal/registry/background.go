package registry

import (
	"context"
	"errors"
	"time"

	"github.com/kumo-run/kumo/internal/store"
)

// Functions move Pending → Active after creation and InProgress → Successful
// after an update once their code has been checked in the store, as Lambda's
// do once their deployment package is ready. The work is done here, in the
// background, and resumed after a restart for anything a crash interrupted.

func needsPrepare(st *fnState) bool {
	c := st.fn.Latest.Config
	if c.State == StatePending || c.LastUpdateStatus == UpdateInProgress {
		return true
	}
	for _, n := range st.fn.Versions {
		if v := st.versions[n]; v != nil && v.Config.State == StatePending {
			return true
		}
	}
	return false
}

// kick asks for a function's pending work to be done. It never blocks; a
// full queue only delays the work to the periodic sweep.
func (r *Registry) kick(name string) {
	select {
	case r.prepare <- name:
	default:
	}
}

func (r *Registry) prepareLoop(ctx context.Context) {
	defer r.done.Done()
	sweep := time.NewTicker(30 * time.Second)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case name := <-r.prepare:
			r.dispatchPrepare(ctx, name)
		case <-sweep.C:
			r.mu.RLock()
			var names []string
			for name, st := range r.fns {
				if st.rev != 0 && needsPrepare(st) {
					names = append(names, name)
				}
			}
			r.mu.RUnlock()
			for _, name := range names {
				r.dispatchPrepare(ctx, name)
			}
		}
	}
}

// checkCode is the preparation of a version: its code blob must be stored
// whole. In a cluster every node prepares, and a node may read the blob's
// record from a replica that has not stored it yet, so a failed check is
// tried again a few times before it counts.
func (r *Registry) checkCode(ctx context.Context, v *Version) error {
	if v.Code.Image != nil {
		return r.prepareImage(ctx, v)
	}
	var err error
	for try := range checkTries {
		if err = r.checkCodeOnce(ctx, v); err == nil || ctx.Err() != nil {
			return err
		}
		if try < checkTries-1 {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(checkRetryWait):
			}
		}
	}
	return err
}

// checkTries and checkRetryWait bound checkCode's retries.
const (
	checkTries     = 5
	checkRetryWait = time.Second
)

func (r *Registry) checkCodeOnce(ctx context.Context, v *Version) error {
	info, err := r.code.Stat(ctx, v.Code.Blob)
	if err != nil {
		return err
	}
	if info.Size != v.Config.CodeSize {
		return errors.New("stored code has the wrong size")
	}
	return nil
}

func (r *Registry) prepareFunction(ctx context.Context, name string) {
	st := r.view(name)
	if st == nil {
		return
	}
	latest := st.fn.Latest
	if latest.Config.State == StatePending || latest.Config.LastUpdateStatus == UpdateInProgress {
		perr := r.checkCode(ctx, &latest)
		_, err := r.update(ctx, name, func(f *Function) error {
			c := &f.Latest.Config
			if f.Latest.Code.Blob != latest.Code.Blob || c.RevisionId != latest.Config.RevisionId {
				// Changed meanwhile; that change kicked us again.
				return errStale
			}
			finishPreparation(c, perr)
			return nil
		})
		if err != nil && !errors.Is(err, errStale) {
			r.log.Warn("registry: preparing function failed", "function", name, "err", err)
		}
	}
	for _, n := range st.fn.Versions {
		v := st.versions[n]
		if v == nil || v.Config.State != StatePending {
			continue
		}
		nv := *v
		finishPreparation(&nv.Config, r.checkCode(ctx, v))
		if err := r.putVersion(ctx, name, n, &nv); err != nil {
			r.log.Warn("registry: preparing version failed", "function", name, "version", n, "err", err)
		}
	}
}

var errStale = errors.New("registry: document changed")

func finishPreparation(c *FunctionConfig, err error) {
	if c.PackageType == "Image" && err != nil {
		finishImagePreparation(c, err)
		return
	}
	if c.State == StatePending {
		if err != nil {
			c.State, c.StateReason, c.StateReasonCode = StateFailed, "Lambda was unable to read the function's deployment package.", "InvalidZipFileException"
			c.LastUpdateStatus = UpdateFailed
		} else {
			c.State, c.StateReason, c.StateReasonCode = StateActive, "", ""
			c.LastUpdateStatus = UpdateSuccessful
		}
	} else if c.LastUpdateStatus == UpdateInProgress {
		if err != nil {
			c.LastUpdateStatus, c.LastUpdateStatusReason, c.LastUpdateStatusReasonCode = UpdateFailed, "Lambda was unable to read the function's deployment package.", "InvalidZipFileException"
		} else {
			c.LastUpdateStatus, c.LastUpdateStatusReason, c.LastUpdateStatusReasonCode = UpdateSuccessful, "", ""
		}
	}
	c.RevisionId = newRevisionID()
}

// collect asks for unreferenced code blobs to be collected soon.
func (r *Registry) collect() {
	select {
	case r.gc <- struct{}{}:
	default:
	}
}

func (r *Registry) gcLoop(ctx context.Context) {
	defer r.done.Done()
	tick := time.NewTicker(10 * time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.gc:
		case <-tick.C:
		}
		if err := r.collectCode(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("registry: code collection failed", "err", err)
		}
	}
}

// collectCode deletes code blobs that no function or version references and
// that are older than the grace period.
func (r *Registry) collectCode(ctx context.Context) error {
	blobs, err := r.code.List(ctx)
	if err != nil {
		return err
	}
	used := map[string]bool{}
	r.mu.RLock()
	for _, st := range r.fns {
		used[st.fn.Latest.Code.Blob] = true
		for _, v := range st.versions {
			used[v.Code.Blob] = true
		}
	}
	r.layerBlobsInUse(used)
	r.mu.RUnlock()
	cutoff := r.now().Add(-r.cfg.CodeGrace)
	for _, b := range blobs {
		if used[b.Name] || b.ModTime.After(cutoff) {
			continue
		}
		if err := r.code.Delete(ctx, b.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		r.log.Debug("registry: collected unreferenced code", "blob", b.Name)
	}
	return nil
}
