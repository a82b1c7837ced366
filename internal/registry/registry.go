package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/store"
)

// Config wires a Registry.
type Config struct {
	ARNs ARNs
	// KV is the registry bucket; Code the code blob bucket.
	KV   store.KV
	Code store.Blobs
	// AccountConcurrency is the account's concurrent executions limit.
	AccountConcurrency int
	// Layers resolves layer version ARNs; nil means no layer exists.
	Layers LayerResolver
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// CodeGrace is how long an unreferenced code blob is kept before it
	// is collected (it may belong to a create in flight).
	CodeGrace time.Duration
	// CheckRuntime says whether this server can run a runtime: an error
	// refuses it, a warning is logged (it runs on a nearby version). nil
	// accepts every runtime.
	CheckRuntime func(runtime string) (warning string, err error)
	// Networks resolves the subnets and security groups a VpcConfig
	// names; nil accepts and echoes every VpcConfig without a VpcId.
	Networks Networks
	// EnvKeys encrypts environment variables at rest; nil stores them
	// in plain text.
	EnvKeys EnvKeys
	// Images resolves and pulls container images; nil refuses
	// PackageType Image.
	Images Images
}

// Networks looks up the VPC network resources a function's VpcConfig
// names (the EC2 service keeps them).
type Networks interface {
	// SubnetVPC returns the VPC of a subnet; ok is false when the
	// subnet does not exist.
	SubnetVPC(ctx context.Context, id string) (vpc string, ok bool, err error)
	// GroupVPC returns the VPC of a security group; ok is false when the
	// group does not exist.
	GroupVPC(ctx context.Context, id string) (vpc string, ok bool, err error)
}

// LayerResolver looks up layer versions referenced by functions.
type LayerResolver interface {
	// Layer returns the layer version's code size, or an error that
	// the caller returns to the client.
	Layer(ctx context.Context, arn string) (Layer, error)
}

// Registry is the Lambda resource model. Its methods are safe for
// concurrent use. Writes go to the store with compare-and-set and are applied
// to the in-memory view before they return, so a caller reads its own writes;
// changes made by other nodes arrive through the store watch.
type Registry struct {
	cfg  Config
	arns ARNs
	kv   store.KV
	code store.Blobs
	log  *slog.Logger
	now  func() time.Time

	mu   sync.RWMutex
	fns  map[string]*fnState
	revs map[string]uint64 // last revision applied per key, deletions too
	// reservedSum is the sum of every function's reserved concurrency.
	reservedSum int
	// layers is the view of the layer keys (see layers.go).
	layers map[string]*layerState
	// watch is told of every change applied to the view (see Watch).
	watch watchers
	// urlIDs indexes the URL configurations by url-id (see urls.go).
	urlIDs map[string]urlTarget

	prepare chan string
	gc      chan struct{}
	// pulls are the image preparations in flight (image.go).
	pulls  imagePulls
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// fnState is the view of one function: its document and published versions.
type fnState struct {
	fn       Function
	rev      uint64
	versions map[int]*Version
}

func fnKey(name string) string         { return "fn." + name }
func verKey(name string, n int) string { return "ver." + name + "." + strconv.Itoa(n) }
func verPrefix(name string) string     { return "ver." + name + "." }
func newRevisionID() string            { return awsproto.NewRequestID() }
func (r *Registry) timestamp() string  { return r.now().UTC().Format("2006-01-02T15:04:05.000-0700") }
func notFound(arn string) *awsproto.Error {
	return awsproto.Errorf(awsproto.ResourceNotFoundException, "Function not found: %s", arn)
}

// Open loads the view from the store, starts the watch that keeps it current
// and the background preparation and code collection, and returns once the
// view holds everything the store held at the start.
func Open(ctx context.Context, cfg Config) (*Registry, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.AccountConcurrency == 0 {
		cfg.AccountConcurrency = 1000
	}
	if cfg.CodeGrace == 0 {
		cfg.CodeGrace = 15 * time.Minute
	}
	r := &Registry{
		cfg: cfg, arns: cfg.ARNs, kv: cfg.KV, code: cfg.Code, log: cfg.Logger, now: cfg.Now,
		fns: map[string]*fnState{}, layers: map[string]*layerState{}, revs: map[string]uint64{},
		prepare: make(chan string, 1024), gc: make(chan struct{}, 1),
	}
	if r.cfg.Layers == nil {
		r.cfg.Layers = r
	}
	wctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	ch, err := r.kv.Watch(wctx, "")
	if err != nil {
		cancel()
		return nil, fmt.Errorf("registry: watch: %w", err)
	}
	// Initial values, up to the marker.
	for e := range ch {
		if e.Key == "" {
			break
		}
		r.apply(e)
	}
	if ctx.Err() != nil {
		cancel()
		return nil, ctx.Err()
	}
	r.done.Add(3)
	go func() {
		defer r.done.Done()
		for e := range ch {
			if e.Key != "" {
				r.apply(e)
			}
		}
	}()
	go r.prepareLoop(wctx)
	go r.gcLoop(wctx)
	// Finish what a crash interrupted.
	r.mu.RLock()
	for name, st := range r.fns {
		if needsPrepare(st) {
			r.kick(name)
		}
	}
	r.mu.RUnlock()
	r.collect()
	r.done.Add(1)
	go func() {
		defer r.done.Done()
		r.migrateEnv(wctx)
	}()
	return r, nil
}

// Close stops the watch and the background work.
func (r *Registry) Close() {
	r.cancel()
	r.done.Wait()
}

// apply puts one store entry into the view unless the view already has
// that key at the same or a later revision.
func (r *Registry) apply(e store.Entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Revision <= r.revs[e.Key] {
		return
	}
	r.revs[e.Key] = e.Revision
	defer r.watch.notify() // under mu, before Unlock: never blocks
	switch {
	case strings.HasPrefix(e.Key, "fn."):
		name := e.Key[len("fn."):]
		r.unindexURLs(name)
		if old := r.fns[name]; old != nil && old.fn.ReservedConcurrency != nil {
			r.reservedSum -= *old.fn.ReservedConcurrency
		}
		if e.Deleted {
			delete(r.fns, name)
			return
		}
		var f Function
		if err := json.Unmarshal(e.Value, &f); err != nil {
			r.log.Error("registry: undecodable function document", "key", e.Key, "err", err)
			return
		}
		f.Latest.fillLayers()
		r.readEnv(&f.Latest)
		st := r.fns[name]
		if st == nil {
			st = &fnState{versions: map[int]*Version{}}
			r.fns[name] = st
		}
		st.fn, st.rev = f, e.Revision
		r.indexURLs(name, &st.fn)
		if f.ReservedConcurrency != nil {
			r.reservedSum += *f.ReservedConcurrency
		}
	case strings.HasPrefix(e.Key, "ver."):
		rest := e.Key[len("ver."):]
		i := strings.LastIndexByte(rest, '.')
		if i < 0 {
			return
		}
		name := rest[:i]
		n, err := strconv.Atoi(rest[i+1:])
		if err != nil {
			return
		}
		st := r.fns[name]
		if e.Deleted {
			if st != nil {
				delete(st.versions, n)
			}
			return
		}
		var v Version
		if err := json.Unmarshal(e.Value, &v); err != nil {
			r.log.Error("registry: undecodable version", "key", e.Key, "err", err)
			return
		}
		v.fillLayers()
		r.readEnv(&v)
		if st == nil {
			// The version arrived before its function document;
			// keep it for when the document comes.
			st = &fnState{versions: map[int]*Version{}}
			r.fns[name] = st
		}
		st.versions[n] = &v
	case strings.HasPrefix(e.Key, "layer"):
		r.applyLayer(e)
	}
}

// view returns a copy of a function's state for reading, or nil. The
// document and versions it points to are shared and must not be modified:
// apply replaces them, never changes them in place.
func (r *Registry) view(name string) *fnState {
	r.mu.RLock()
	defer r.mu.RUnlock()
	st := r.fns[name]
	if st == nil || st.rev == 0 {
		return nil
	}
	cp := fnState{fn: st.fn, rev: st.rev, versions: make(map[int]*Version, len(st.versions))}
	for n, v := range st.versions {
		cp.versions[n] = v
	}
	return &cp
}

// load reads a function document from the store for a read-modify-write.
func (r *Registry) load(ctx context.Context, name string) (Function, uint64, error) {
	e, err := r.kv.Get(ctx, fnKey(name))
	if errors.Is(err, store.ErrNotFound) {
		return Function{}, 0, notFound(r.arns.Function(name))
	}
	if err != nil {
		return Function{}, 0, awsproto.Internal(err)
	}
	var f Function
	if err := json.Unmarshal(e.Value, &f); err != nil {
		return Function{}, 0, awsproto.Internal(err)
	}
	f.Latest.fillLayers()
	r.readEnv(&f.Latest)
	return f, e.Revision, nil
}

// errRetry asks update to run its closure again on a fresh document.
var errRetry = errors.New("registry: retry")

// update is the read-modify-write of one function document. change may be
// called several times (once per conflicting concurrent write) and must only
// modify f. It returns the document as stored.
func (r *Registry) update(ctx context.Context, name string, change func(f *Function) error) (Function, error) {
	for attempt := 0; attempt < 32; attempt++ {
		f, rev, err := r.load(ctx, name)
		if err != nil {
			return Function{}, err
		}
		if err := change(&f); err != nil {
			if errors.Is(err, errRetry) {
				continue
			}
			return Function{}, err
		}
		if err := r.write(ctx, name, f, rev); err != nil {
			if errors.Is(err, store.ErrConflict) {
				continue
			}
			return Function{}, err
		}
		return f, nil
	}
	return Function{}, awsproto.Errorf(awsproto.ResourceConflictException,
		"The operation cannot be performed at this time. The resource %s is being modified concurrently; retry the request.", r.arns.Function(name))
}

// write stores f at key fn.<name> if its revision is still rev (0: create).
func (r *Registry) write(ctx context.Context, name string, f Function, rev uint64) error {
	f.Latest.syncLayers()
	sealed, err := r.seal(ctx, f.Latest)
	if err != nil {
		return err
	}
	f.Latest = sealed
	b, err := json.Marshal(f)
	if err != nil {
		return awsproto.Internal(err)
	}
	var nrev uint64
	if rev == 0 {
		nrev, err = r.kv.Create(ctx, fnKey(name), b)
	} else {
		nrev, err = r.kv.Update(ctx, fnKey(name), b, rev)
	}
	if err != nil {
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists) {
			return err
		}
		return awsproto.Internal(err)
	}
	r.apply(store.Entry{Key: fnKey(name), Value: b, Revision: nrev})
	return nil
}

func (r *Registry) putVersion(ctx context.Context, name string, n int, v *Version) error {
	v.syncLayers()
	sealed, err := r.seal(ctx, *v)
	if err != nil {
		return err
	}
	b, err := json.Marshal(sealed)
	if err != nil {
		return awsproto.Internal(err)
	}
	rev, err := r.kv.Put(ctx, verKey(name, n), b)
	if err != nil {
		return awsproto.Internal(err)
	}
	r.apply(store.Entry{Key: verKey(name, n), Value: b, Revision: rev})
	return nil
}

// checkRevision compares a caller's RevisionId with the current one.
func checkRevision(given, current string) error {
	if given != "" && given != current {
		return awsproto.Errorf(awsproto.PreconditionFailedException,
			"The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
	}
	return nil
}

// hasVersion reports whether version n exists.
func (f *Function) hasVersion(n int) bool {
	_, ok := slices.BinarySearch(f.Versions, n)
	return ok
}
