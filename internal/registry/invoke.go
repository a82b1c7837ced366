package registry

import (
	"strconv"
	"strings"
	"sync"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// Target is the function version an invocation runs.
type Target struct {
	Version Version
	// Key names the exact version and configuration; sandboxes are reused
	// only for the same key.
	Key string
	// ARN is the ARN the function was invoked with (qualified when the
	// caller gave a qualifier).
	ARN string
	// Reserved is the function's reserved concurrency, nil when unset.
	Reserved *int
	// Unreserved is the account's concurrency left to functions without a
	// reservation: the account limit minus every reservation.
	Unreserved int
	// EnvErr is why the version cannot start: its environment variables
	// cannot be decrypted (Lambda's KMS* errors); nil when it can.
	EnvErr error
}

// ResolveInvoke picks the version an invocation of ref runs, from the view
// only. For an alias with a routing configuration, roll (uniform in [0,1))
// decides between the additional version and the primary one. It refuses
// functions that cannot run yet with Lambda's errors.
func (r *Registry) ResolveInvoke(ref Ref, roll float64) (Target, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	st := r.fns[ref.Name]
	if st == nil || st.rev == 0 {
		return Target{}, notFound(r.arns.Qualified(ref.Name, ref.Qualifier))
	}
	t := Target{ARN: r.arns.Qualified(ref.Name, ref.Qualifier), Reserved: st.fn.ReservedConcurrency,
		Unreserved: r.cfg.AccountConcurrency - r.reservedSum}
	version := ref.Qualifier
	if version != "" && version != Latest && !isDigits(version) {
		a, ok := st.fn.Aliases[version]
		if !ok {
			return Target{}, notFound(t.ARN)
		}
		version = a.FunctionVersion
		if a.RoutingConfig != nil {
			for v, w := range a.RoutingConfig.AdditionalVersionWeights {
				if roll < w {
					version = v
				}
			}
		}
	}
	switch version {
	case "", Latest:
		t.Version = st.fn.Latest
	default:
		n, err := strconv.Atoi(version)
		if err != nil || !st.fn.hasVersion(n) || st.versions[n] == nil {
			return Target{}, notFound(r.arns.Qualified(ref.Name, version))
		}
		t.Version = *st.versions[n]
	}
	c := &t.Version.Config
	switch c.State {
	case StateActive:
	case StatePending:
		return Target{}, awsproto.Errorf(awsproto.ResourceConflictException,
			"The operation cannot be performed at this time. The function is currently in the following state: Pending")
	default:
		return Target{}, awsproto.Errorf(awsproto.ResourceNotReadyException,
			"The function %s is in the %s state and cannot be invoked: %s", c.FunctionName, c.State, c.StateReason)
	}
	t.Key = versionKey(c)
	t.EnvErr = r.envError(&t.Version)
	return t, nil
}

func versionKey(c *FunctionConfig) string {
	return c.FunctionName + ":" + c.Version + ":" + c.RevisionId
}

// LiveKey reports whether a version key (see Target.Key) still names the
// current configuration of that version: false once the function, the
// version or $LATEST's configuration changed.
func (r *Registry) LiveKey(key string) bool {
	name, rest, ok := strings.Cut(key, ":")
	if !ok {
		return false
	}
	version, _, ok := strings.Cut(rest, ":")
	if !ok {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	st := r.fns[name]
	if st == nil || st.rev == 0 {
		return false
	}
	if version == Latest {
		return versionKey(&st.fn.Latest.Config) == key
	}
	n, err := strconv.Atoi(version)
	if err != nil || !st.fn.hasVersion(n) || st.versions[n] == nil {
		return false
	}
	return versionKey(&st.versions[n].Config) == key
}

// watchers are the channels Watch handed out.
type watchers struct {
	mu sync.Mutex
	ch map[chan struct{}]struct{}
}

// notify wakes every watcher without blocking: a watcher that has not
// taken the last signal yet gets no second one.
func (ws *watchers) notify() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for c := range ws.ch {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// Watch returns a channel that receives a signal after the view changed
// (a local write or one from another node), signals coalescing while the
// receiver is busy, and a function that stops the watch and closes the
// channel (idempotent). The receiver reads the view itself. Safe for
// concurrent use.
func (r *Registry) Watch() (<-chan struct{}, func()) {
	c := make(chan struct{}, 1)
	r.watch.mu.Lock()
	if r.watch.ch == nil {
		r.watch.ch = map[chan struct{}]struct{}{}
	}
	r.watch.ch[c] = struct{}{}
	r.watch.mu.Unlock()
	return c, func() {
		r.watch.mu.Lock()
		defer r.watch.mu.Unlock()
		if _, ok := r.watch.ch[c]; ok {
			delete(r.watch.ch, c)
			close(c)
		}
	}
}
