package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/extensions"
	"github.com/kumo-run/kumo/internal/keepalive"
	"github.com/kumo-run/kumo/internal/netns"
	"github.com/kumo-run/kumo/internal/placement"
	"github.com/kumo-run/kumo/internal/runtimeapi"
	"github.com/kumo-run/kumo/internal/runtimes"
	"github.com/kumo-run/kumo/internal/sandbox"
	"golang.org/x/sys/unix"
)

// Config wires a Worker.
type Config struct {
	Driver sandbox.Driver
	// Policy resolves the network policy of a function in a VPC when
	// one of its sandboxes starts (the EC2 service's Policy). nil: a
	// Spec with a Vpc does not start.
	Policy func(ctx context.Context, subnetIDs, securityGroupIDs []string) (netns.Policy, error)
	Code   *CodeCache
	// Images gives container-image functions their unpacked roots
	// (an *image.Cache); nil: they cannot run here.
	Images ImageRoots
	Region string
	Logs   LogSink
	Logger *slog.Logger
	// IdleTimeout is how long an idle sandbox is kept warm when KeepAlive
	// is nil.
	IdleTimeout time.Duration
	// KeepAlive decides, per version key, how long idle sandboxes stay
	// loaded and when one is loaded ahead of an expected invocation. nil:
	// keepalive.Fixed{Idle: IdleTimeout}.
	KeepAlive keepalive.Policy
	// InitTimeout bounds a runtime's init phase (Lambda: 10 s).
	InitTimeout time.Duration
	// MemoryBudgetMB bounds the memory this node's sandboxes are
	// charged for (DefaultMemoryBudgetMB when zero): their measured peak
	// use when the driver measures it, else their MemorySize (see
	// capacity.go).
	MemoryBudgetMB int
	// ChargeConfigured charges every sandbox its full MemorySize even
	// when the driver measures use.
	ChargeConfigured bool
	// Live reports whether sandboxes of a version key may still be used;
	// idle sandboxes of keys no longer live are retired. nil: all live.
	Live func(key string) bool
	// Runtimes resolves managed runtimes (python, nodejs). nil: OS-only
	// runtimes only.
	Runtimes *runtimes.Table
	// Now is the clock of idle times, keep-alive windows and provisioned
	// retries (not of durations). nil: time.Now.
	Now func() time.Time
	// Provisioned is told what the worker allocated for the
	// provisioned-concurrency configurations pushed with SetProvisioned.
	// nil: nobody is told.
	Provisioned ProvisionedReporter
	// Credentials mints each sandbox's execution-role credentials
	// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) at
	// its start: a session of Spec.Role named after the function. nil:
	// sandboxes get no credentials.
	Credentials CredentialMinter
	// CredentialLifetime is how long those credentials last;
	// DefaultCredentialLifetime when zero. A sandbox is retired, not
	// reused, once its credentials have less than CredentialRenewMargin
	// left, so a function never holds expired credentials (see
	// credentials.go).
	CredentialLifetime time.Duration
	// SandboxEdgeURL returns Kumo's edge as a sandbox reaches it
	// ("http://127.0.0.1:9070"), given to the function as
	// AWS_ENDPOINT_URL so that an unmodified SDK calls Kumo. It is asked
	// at each sandbox start; nil or "" (sandboxes cannot reach the edge)
	// sets no AWS_ENDPOINT_URL.
	SandboxEdgeURL func() string
}

// Spec is what the worker runs: one function version's configuration, as
// the invoke frontend builds it from the registry's model. The worker keeps
// the pointer it is given (for pre-warming); nothing may change a Spec or
// its Environment and Layers once handed over.
type Spec struct {
	// Key identifies the exact version and configuration; sandboxes are
	// reused only for the same key.
	Key string
	// FunctionName and Version (a number or $LATEST) name the version.
	FunctionName, Version string
	Runtime, Handler      string
	MemoryMB              int
	// Timeout bounds one invocation.
	Timeout time.Duration
	// EphemeralMB is the size of /tmp.
	EphemeralMB int
	// Environment is the function's own variables; shared, read only.
	Environment map[string]string
	// Code is the blob of the function's code zip.
	Code string
	// Layers are the function's layers, in order (later ones win at /opt).
	Layers   []Layer
	LogGroup string
	// Provisioned marks a sandbox started for provisioned concurrency
	// (AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency).
	Provisioned bool
	// SnapStart is set for a published version whose SnapStart ApplyOn
	// is PublishedVersions: the node keeps one initialized sandbox of it
	// ready (snapstart.go).
	SnapStart bool `json:",omitempty"`
	// restore marks the copy of a Spec a kept-ready sandbox is started
	// from (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start).
	restore bool
	// Role is the function's execution role ARN, whose credentials the
	// sandbox gets (Config.Credentials).
	Role string
	// Image is set for a container-image function: its root, command
	// and environment replace Runtime, Handler, Code and Layers.
	Image *Image
	// ReservedConcurrency is the function's reserved concurrency (nil:
	// none) and UnreservedConcurrency the account's unreserved pool, for
	// a cluster's per-node shares of them (package forward). The worker
	// itself does not count them.
	ReservedConcurrency   *int `json:",omitempty"`
	UnreservedConcurrency int  `json:",omitempty"`
	// Vpc places the function in a VPC: each sandbox's outbound traffic
	// follows the policy Config.Policy resolves for it when the sandbox
	// starts (so the warm path costs nothing; a sandbox keeps the policy
	// it started with). nil: not in a VPC.
	Vpc *Vpc
}

// Vpc is the VPC side of a Spec: a function's subnets and security
// groups.
type Vpc struct {
	SubnetIDs, SecurityGroupIDs []string
}

// Layer is one layer of a Spec.
type Layer struct {
	ARN  string
	Blob string // the layer's code zip
}

// Request is one invocation.
type Request struct {
	Invocation runtimeapi.Invocation
	// Tail asks for the last 4 KB of the invocation's log.
	Tail bool
	// WarmOnly runs the invocation only in an idle sandbox of the
	// version: without one, Invoke returns ErrNotWarm and starts
	// nothing (a cluster then sends it to a node that has one).
	WarmOnly bool `json:"-"`
}

// Outcome is what an invocation produced. Function errors (the runtime's
// own, timeouts, crashes) are outcomes, not Go errors.
type Outcome struct {
	Payload []byte
	// FunctionError is runtimeapi.FunctionErrorUnhandled when the
	// function failed.
	FunctionError string
	// ErrorType is the error's type (Runtime.ExitError, …) when it failed.
	ErrorType    string
	LogTail      []byte
	Duration     time.Duration
	InitDuration time.Duration
	// RestoreDuration is set on the first invocation a SnapStart
	// version's kept-ready sandbox serves (snapstart.go), which has no
	// InitDuration and is not a ColdStart.
	RestoreDuration time.Duration `json:",omitempty"`
	ColdStart       bool
	// MaxMemoryMB is the sandbox's peak memory use, measured for the
	// REPORT line; set only when Tail was asked for (otherwise the REPORT
	// line is written after Invoke returns).
	MaxMemoryMB int
}

// Worker runs invocations in sandboxes on this node. Safe for concurrent
// use.
//
// One owner for each sandbox's life: a sandbox is torn down only through
// retire, which claims it with the lifecycle's checked move to Broken (a
// second claim is refused, so nothing is destroyed twice) and counts the
// teardown in done, so that Close returns only once every sandbox is gone.
type Worker struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	idle    map[string][]*instance // by key; the most recently used last
	all     map[string]*instance   // by sandbox id
	memUsed int                    // MB charged to sandboxes and starts (capacity.go)
	closed  bool
	// measured: sandboxes are charged by measured use (capacity.go).
	measured bool
	// est is, per version key, the charge of the last sandbox of the
	// key measured: what a new one is admitted for.
	est map[string]int
	// cands and candIns are placement's scratch: the evictable sandboxes
	// of the decision being taken, reused under mu.
	cands   []placement.Candidate
	candIns []*instance

	keep *keeper
	prov provPools
	// warming is the version keys with a pre-warm or SnapStart start
	// under way; under mu.
	warming map[string]bool
	// bg is the context of background starts, cancelled by Close.
	bg       context.Context
	cancelBg context.CancelFunc
	// finishing counts, per version key, the sandboxes whose caller has
	// its response while their extensions finish the invocation
	// (extensions.go); under mu.
	finishing map[string]*finishing

	stop chan struct{}
	// done counts the background loops, sandbox starts and teardowns.
	// Add is called under mu while the worker is open, or by one of them
	// (the count is then above zero), never otherwise: Close waits on it.
	done sync.WaitGroup
}

// instance is one sandbox with its Runtime API server.
type instance struct {
	id       string
	key      string
	sb       sandbox.Sandbox
	api      *runtimeapi.Server
	life     *sandbox.Lifecycle
	logs     *capture
	out, err *writer
	memoryMB int
	// charge is what the sandbox counts against the budget (MB); under
	// Worker.mu.
	charge   int
	lastUsed time.Time
	// launched is when the driver was asked to start the sandbox; the
	// init duration counts from there.
	launched time.Time
	initDur  time.Duration
	// restored marks a sandbox kept ready for SnapStart that has not
	// served an invocation yet; only its owner (the invocation that took
	// it busy) reads and clears it.
	restored bool
	exited   chan struct{} // closed when the runtime process exited
	// credsExpire is when the sandbox's role credentials expire; zero
	// when it has none.
	credsExpire time.Time
	// freeze freezes the sandbox while it is idle (freeze.go); nil when
	// the driver cannot.
	freeze *freezer
	// ext keeps the sandbox's extensions (extensions.go); extInvoke
	// says, once init ended, whether any is subscribed to INVOKE. It is
	// set by start and read by invocations after it.
	ext       *extensions.Manager
	extInvoke bool
	// reporting is held from an invocation's answer until its END and
	// REPORT lines are written (report), when that happens after the
	// caller got the answer: the next invocation's START and teardown wait
	// for it. Never held while waiting on the runtime.
	reporting sync.Mutex
}

// awaitReport returns once no REPORT line of the sandbox is pending.
func (in *instance) awaitReport() {
	in.reporting.Lock()
	defer in.reporting.Unlock()
}

// ErrClosed: the worker is closed.
var ErrClosed = errors.New("worker: closed")

// New returns a worker and starts its reaper and its provisioned-concurrency
// reconciler.
func New(cfg Config) *Worker {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Logs == nil {
		cfg.Logs = NoLogs{}
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.MemoryBudgetMB == 0 {
		cfg.MemoryBudgetMB = DefaultMemoryBudgetMB()
	}
	if cfg.InitTimeout == 0 {
		cfg.InitTimeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	w := &Worker{cfg: cfg, log: cfg.Logger, idle: map[string][]*instance{}, all: map[string]*instance{}, stop: make(chan struct{}),
		measured: !cfg.ChargeConfigured && cfg.Driver != nil && cfg.Driver.Capabilities().MemoryLimit, est: map[string]int{}}
	w.keep = newKeeper(w.policy())
	w.warming = map[string]bool{}
	w.bg, w.cancelBg = context.WithCancel(context.Background())
	w.prov.kick = make(chan struct{}, 1)
	w.done.Add(2)
	go w.reaper()
	go w.provisioner()
	return w
}

// Close destroys every sandbox, idle or busy, and returns once they are
// all torn down and every background loop and start has ended. Invocations
// running then fail. Idempotent.
func (w *Worker) Close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	var claimed []*instance
	for _, in := range w.all {
		if w.retireLocked(in) {
			claimed = append(claimed, in)
		}
	}
	w.mu.Unlock()
	close(w.stop)
	w.cancelBg()
	for _, in := range claimed {
		go w.teardown(in, "worker closed")
	}
	w.done.Wait()
}

// Stats counts sandboxes by state; those being torn down count as Broken.
func (w *Worker) Stats() map[sandbox.State]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[sandbox.State]int{}
	for _, in := range w.all {
		s, _ := in.life.State()
		out[s]++
	}
	return out
}

// grant is room made for a new sandbox: charge MB reserved in the budget,
// a start counted in done, and the idle sandboxes claimed to make the room,
// which start destroys before it starts the new one.
type grant struct {
	charge  int
	evicted []*instance
}

// place decides where an invocation of spec runs (package placement): it
// returns an idle sandbox of spec.Key, marked busy; or nil and a grant for
// a new sandbox, which start consumes. Else ErrCapacity, or ErrClosed; or,
// when warmOnly and no sandbox of spec.Key is idle, ErrNotWarm.
func (w *Worker) place(spec *Spec, warmOnly bool) (*instance, grant, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		if w.closed {
			return nil, grant{}, ErrClosed
		}
		need := w.needLocked(spec)
		s := placement.Snapshot{Idle: w.idleCountLocked(spec.Key), NeedMB: need, UsedMB: w.memUsed + w.reservedMB(), BudgetMB: w.cfg.MemoryBudgetMB}
		if s.Idle == 0 && warmOnly {
			return nil, grant{}, ErrNotWarm
		}
		if s.Idle == 0 {
			s.Evictable = w.evictableLocked()
		}
		d := placement.Decide(s)
		switch d.Action {
		case placement.UseIdle:
			if in := w.takeIdleLocked(spec.Key); in != nil {
				return in, grant{}, nil
			}
			// Every idle one had died: decide again.
		case placement.Start, placement.EvictThenStart:
			g := grant{charge: need, evicted: w.evictLocked(d.Evict)}
			w.memUsed += need
			w.done.Add(1)
			return nil, g, nil
		default:
			return nil, grant{}, ErrCapacity
		}
	}
}

// reservedMB is the memory the driver holds outside any sandbox (waiting
// snapshots: sandbox.Reserver), counted against the budget.
func (w *Worker) reservedMB() int {
	if r, ok := w.cfg.Driver.(sandbox.Reserver); ok {
		return r.ReservedMB()
	}
	return 0
}

// reserve is place for a sandbox that must be new (provisioned
// concurrency): it never takes an idle one.
func (w *Worker) reserve(spec *Spec) (grant, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return grant{}, ErrClosed
	}
	need := w.needLocked(spec)
	d := placement.Decide(placement.Snapshot{NeedMB: need, UsedMB: w.memUsed + w.reservedMB(), BudgetMB: w.cfg.MemoryBudgetMB, Evictable: w.evictableLocked()})
	if d.Action == placement.Throttle {
		return grant{}, ErrCapacity
	}
	g := grant{charge: need, evicted: w.evictLocked(d.Evict)}
	w.memUsed += need
	w.done.Add(1)
	return g, nil
}

// hasIdle reports whether a sandbox of key is idle now.
func (w *Worker) hasIdle(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.idleCountLocked(key) > 0
}

// idleCountLocked is the number of idle sandboxes of key, provisioned ones
// included.
func (w *Worker) idleCountLocked(key string) int {
	return len(w.idle[key]) + w.provIdleLocked(key)
}

// evictableLocked fills the scratch with the idle sandboxes outside
// provisioned pools.
func (w *Worker) evictableLocked() []placement.Candidate {
	w.cands, w.candIns = w.cands[:0], w.candIns[:0]
	for _, list := range w.idle {
		for _, in := range list {
			w.cands = append(w.cands, placement.Candidate{MemoryMB: in.charge, LastUsed: in.lastUsed})
			w.candIns = append(w.candIns, in)
		}
	}
	return w.cands
}

// evictLocked claims the scratch's sandboxes at idx for teardown and
// returns them.
func (w *Worker) evictLocked(idx []int) []*instance {
	var out []*instance
	for _, i := range idx {
		if in := w.candIns[i]; w.retireLocked(in) {
			out = append(out, in)
		}
	}
	clear(w.candIns)
	return out
}

// takeIdleLocked takes an idle sandbox of key, provisioned ones first,
// marking it busy, or returns nil. Sandboxes found dead are retired.
func (w *Worker) takeIdleLocked(key string) *instance {
	if in := w.takeProvisionedLocked(key); in != nil {
		return in
	}
	for {
		list := w.idle[key]
		if len(list) == 0 {
			return nil
		}
		in := list[len(list)-1]
		list[len(list)-1] = nil
		if len(list) == 1 {
			delete(w.idle, key)
		} else {
			w.idle[key] = list[:len(list)-1]
		}
		if isClosed(in.exited) {
			// Died while idle (after reporting a panic, say).
			if w.retireLocked(in) {
				go w.teardown(in, "runtime exited while idle")
			}
			continue
		}
		if in.credsStale(w.cfg.Now()) {
			if w.retireLocked(in) {
				go w.teardown(in, "role credentials expiring")
			}
			continue
		}
		if in.ext != nil && in.ext.Failure() != nil {
			if w.retireLocked(in) {
				go w.teardown(in, "extension failed while idle")
			}
			continue
		}
		if in.life.To(sandbox.Busy) == nil {
			return in
		}
	}
}

// release returns a healthy sandbox after an invocation, whose peak
// memory use so far was peakBytes: to its provisioned pool or to the idle
// pool. A sandbox claimed meanwhile (by Close) is left to its owner.
func (w *Worker) release(in *instance, peakBytes int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if in.life.To(sandbox.Idle) != nil {
		return
	}
	w.measuredLocked(in, peakBytes)
	in.lastUsed = w.cfg.Now()
	w.scheduleFreezeLocked(in)
	if w.releaseProvisionedLocked(in) {
		return
	}
	w.idle[in.key] = append(w.idle[in.key], in)
}

// retire tears a sandbox down now, unless another owner claimed it first.
func (w *Worker) retire(in *instance, reason string) {
	w.mu.Lock()
	ok := w.retireLocked(in)
	w.mu.Unlock()
	if ok {
		w.teardown(in, reason)
	}
}

// retireAsync is retire in a goroutine counted in done.
func (w *Worker) retireAsync(in *instance, reason string) {
	w.mu.Lock()
	ok := w.retireLocked(in)
	w.mu.Unlock()
	if ok {
		go w.teardown(in, reason)
	}
}

// retireLocked claims in for teardown: the lifecycle's move to Broken,
// which only the first claim makes. The claimed sandbox is taken out of
// the idle and provisioned pools, its memory goes back to the budget, and
// its teardown is counted in done: the caller must then run teardown
// exactly once, which removes it from w.all (Stats shows it Broken until
// then). It reports false, and does nothing, when in was claimed already.
func (w *Worker) retireLocked(in *instance) bool {
	if in.life.To(sandbox.Broken) != nil {
		return false
	}
	w.memUsed -= in.charge
	w.removeIdleLocked(in)
	w.dropProvisionedLocked(in)
	// Open, or closed with a start (which holds a count) owning in:
	// either way Add is allowed here.
	w.done.Add(1)
	return true
}

// teardown destroys a claimed sandbox: the sandbox first, so that its
// runtime is killed before its Runtime API goes away (a runtime that sees
// the API close prints errors into the function's log), then the API.
func (w *Worker) teardown(in *instance, reason string) {
	defer w.done.Done()
	w.log.Debug("worker: retiring sandbox", "sandbox", in.id, "key", in.key, "reason", reason)
	in.awaitReport() // the last invocation's REPORT line is written
	w.shutdownExtensions(in, reason)
	if in.ext != nil {
		defer in.ext.Close()
	}
	if in.sb != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := in.sb.Destroy(ctx); err != nil {
			w.log.Warn("worker: destroying sandbox", "sandbox", in.id, "err", err)
		}
		cancel()
	}
	if in.api != nil {
		in.api.Close()
	}
	in.out.flush()
	in.err.flush()
	if err := in.life.To(sandbox.Destroyed); err != nil {
		w.log.Error("worker: sandbox lifecycle", "sandbox", in.id, "err", err)
	}
	w.mu.Lock()
	delete(w.all, in.id)
	w.mu.Unlock()
}

func (w *Worker) reaper() {
	defer w.done.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // aborts pre-warms still starting
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		w.reap(ctx, w.cfg.Now())
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errorPayload is Lambda's error shape for platform-reported failures.
func errorPayload(typ, msg string) []byte {
	b, _ := json.Marshal(struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}{typ, msg})
	return b
}

func failed(typ, msg string) *Outcome {
	return &Outcome{Payload: errorPayload(typ, msg), FunctionError: runtimeapi.FunctionErrorUnhandled, ErrorType: typ}
}

// StreamName is a log stream name as Lambda gives them:
// YYYY/MM/DD/[VERSION]<32 hex>.
func StreamName(t time.Time, version, id string) string {
	return t.UTC().Format("2006/01/02") + "/[" + version + "]" + id
}

// initializationType is AWS_LAMBDA_INITIALIZATION_TYPE for a sandbox of s.
func (s *Spec) initializationType() string {
	switch {
	case s.Provisioned:
		return "provisioned-concurrency"
	case s.restore:
		return "snap-start"
	}
	return "on-demand"
}

func (w *Worker) env(spec *Spec, stream string, launch runtimes.Launch, creds *RoleCredentials) []string {
	env := []string{
		"AWS_LAMBDA_FUNCTION_NAME=" + spec.FunctionName,
		"AWS_LAMBDA_FUNCTION_VERSION=" + spec.Version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(spec.MemoryMB),
		"AWS_REGION=" + w.cfg.Region,
		"AWS_DEFAULT_REGION=" + w.cfg.Region,
		"AWS_LAMBDA_LOG_GROUP_NAME=" + spec.LogGroup,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + stream,
		"AWS_LAMBDA_INITIALIZATION_TYPE=" + spec.initializationType(),
		"LAMBDA_TASK_ROOT=/var/task",
		"LAMBDA_RUNTIME_DIR=/var/runtime",
		"_HANDLER=" + spec.Handler,
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		"PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
	}
	if launch.ExecutionEnv != "" {
		env = append(env, "AWS_EXECUTION_ENV="+launch.ExecutionEnv)
	}
	env = append(env, launch.Env...)
	keys := make([]string, 0, len(spec.Environment))
	for k := range spec.Environment {
		if creds != nil && credentialVar(k) {
			continue // Lambda reserves them; the role's win
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+spec.Environment[k])
	}
	if _, own := spec.Environment[endpointVar]; !own && w.cfg.SandboxEdgeURL != nil {
		if u := w.cfg.SandboxEdgeURL(); u != "" {
			env = append(env, endpointVar+"="+u)
		}
	}
	if creds != nil {
		env = append(env, "AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
			"AWS_SESSION_TOKEN="+creds.SessionToken)
	}
	return env
}

// start creates a sandbox for spec and runs its init phase in the room g
// made (place, reserve): it destroys g's evicted sandboxes first, so that
// their memory is free, and consumes g's charge (it goes to the instance
// or back to the budget) and its count in done.
// A function whose init fails gets an Outcome (and no instance); platform
// failures are errors. The instance returned is registered and
// Initializing.
func (w *Worker) start(ctx context.Context, spec *Spec, requestID string, g grant) (*instance, *Outcome, error) {
	defer w.done.Done()
	for _, v := range g.evicted {
		w.teardown(v, "evicted for memory")
	}
	in, out, err := w.launch(ctx, spec, requestID)
	if in == nil {
		w.mu.Lock()
		w.memUsed -= g.charge
		w.mu.Unlock()
		return nil, out, err
	}
	in.charge = g.charge
	w.mu.Lock()
	if w.closed {
		ok := w.retireLocked(in)
		w.mu.Unlock()
		if ok {
			w.teardown(in, "worker closed while starting")
		}
		return nil, nil, ErrClosed
	}
	w.all[in.id] = in
	w.mu.Unlock()
	if err := in.life.To(sandbox.Initializing); err != nil {
		w.retire(in, "lifecycle")
		return nil, nil, err
	}

	ictx, cancel := context.WithTimeout(ctx, w.cfg.InitTimeout)
	err = in.api.WaitInit(ictx)
	if err == nil {
		in.ext.Emit(time.Now(), "platform.initRuntimeDone", initDoneRecord{InitializationType: spec.initializationType(), Phase: "init", Status: "success"})
		// Extensions share the Init timeout with the runtime.
		out, err = w.extensionsReady(ictx, in, requestID)
		if out != nil {
			cancel()
			w.retire(in, "init failed")
			return nil, out, nil
		}
	}
	cancel()
	in.initDur = time.Since(in.launched)
	if err == nil {
		in.ext.Emit(time.Now(), "platform.initReport", initDoneRecord{InitializationType: spec.initializationType(), Phase: "init",
			Status: "success", Metrics: &durationRec{DurationMs: ms(in.initDur)}})
		if b, ok := in.sb.(sandbox.InitBooster); ok {
			if err := b.EndInit(); err != nil {
				w.log.Warn("worker: applying the CPU limit after init", "sandbox", in.id, "err", err)
			}
		}
		return in, nil, nil
	}
	// Init failed: the sandbox is never used.
	var ie *runtimeapi.InitError
	switch {
	case errors.As(err, &ie):
		out = &Outcome{Payload: ie.Payload, FunctionError: runtimeapi.FunctionErrorUnhandled, ErrorType: ie.ErrorType}
	case errors.Is(err, runtimeapi.ErrRuntimeExited):
		out = w.exitOutcome(in, requestID)
	case ictx.Err() != nil && ctx.Err() == nil:
		msg := fmt.Sprintf("RequestId: %s Error: Init phase timed out after %.2f seconds", requestID, w.cfg.InitTimeout.Seconds())
		if p := in.ext.Pending(); len(p) > 0 {
			msg += "; extensions not ready: " + strings.Join(p, ", ")
		}
		out = failed(runtimeapi.ErrorTypeTimedOut, msg)
	}
	w.retire(in, "init failed")
	if out == nil {
		return nil, nil, err
	}
	return nil, out, nil
}

// launch starts spec's sandbox and its Runtime API; the instance it
// returns holds spec's memory but is not registered yet.
func (w *Worker) launch(ctx context.Context, spec *Spec, requestID string) (*instance, *Outcome, error) {
	var sbs sandbox.Spec
	var launch runtimes.Launch
	var imageEnv, imageCmdline []string
	if spec.Image != nil {
		root, cmd, err := w.imageLaunch(ctx, spec)
		if err != nil {
			var ie *InvalidEntrypointError
			if errors.As(err, &ie) {
				return nil, failed(runtimeapi.ErrorTypeInvalidEntrypoint, "RequestId: "+requestID+" Error: "+err.Error()), nil
			}
			return nil, nil, err
		}
		sbs = sandbox.Spec{ImageRoot: root, Args: cmd.args, Dir: cmd.dir}
		imageEnv, imageCmdline = cmd.env, cmd.cmd
	} else {
		codeDir, err := w.cfg.Code.Path(ctx, spec.Code)
		if err != nil {
			return nil, nil, fmt.Errorf("preparing code: %w", err)
		}
		resolve := runtimes.Resolve
		if w.cfg.Runtimes != nil {
			resolve = w.cfg.Runtimes.Resolve
		}
		layerDirs, optDir, err := w.layerDirs(ctx, spec.Layers)
		if err != nil {
			return nil, nil, fmt.Errorf("preparing layers: %w", err)
		}
		launch, err = resolve(spec.Runtime, spec.Handler, codeDir, optDir)
		if err != nil {
			var ie *runtimes.InvalidEntrypointError
			if errors.As(err, &ie) {
				return nil, failed(runtimeapi.ErrorTypeInvalidEntrypoint, "RequestId: "+requestID+" Error: "+err.Error()), nil
			}
			return nil, nil, err
		}
		sbs = sandbox.Spec{CodeDir: codeDir, LayerDirs: layerDirs, RuntimeDir: launch.RuntimeDir,
			HostPaths: launch.HostPaths, Args: launch.ArgsFor(spec.MemoryMB), Dir: "/var/task"}
	}
	creds, err := w.roleCredentials(spec)
	if err != nil {
		return nil, nil, err
	}
	id := newID()
	stream := StreamName(time.Now(), spec.Version, id)
	logs := newCapture(w.cfg.Logs, spec.LogGroup, stream)
	in := &instance{
		id: id, key: spec.Key, life: sandbox.NewLifecycle(), logs: logs,
		out: &writer{c: logs}, err: &writer{c: logs},
		memoryMB: spec.MemoryMB, exited: make(chan struct{}), restored: spec.restore,
	}
	if creds != nil {
		in.credsExpire = creds.Expiration
	}
	if launch.Warning != "" {
		logs.platform(launch.Warning)
	}
	var policy *netns.Policy
	if spec.Vpc != nil {
		if w.cfg.Policy == nil {
			return nil, nil, errors.New("starting sandbox: the function is in a VPC and this server resolves no VPC policy")
		}
		p, err := w.cfg.Policy(ctx, spec.Vpc.SubnetIDs, spec.Vpc.SecurityGroupIDs)
		if err != nil {
			return nil, nil, fmt.Errorf("starting sandbox: VPC policy: %w", err)
		}
		policy = &p
	}
	extNames := extensionNames(sbs.LayerDirs)
	if spec.Image == nil {
		// A zip function's runtime may be wrapped (AWS_LAMBDA_EXEC_WRAPPER)
		// and started beside its layers' extensions.
		args, hostPaths, err := sandboxCommand(spec, launch, extNames, launcherMarker(id))
		if err != nil {
			return nil, nil, fmt.Errorf("starting sandbox: %w", err)
		}
		sbs.Args, sbs.HostPaths = args, hostPaths
	}
	in.ext = extensions.New(extensions.Metadata{FunctionName: spec.FunctionName, FunctionVersion: spec.Version,
		Handler: spec.Handler, AccountID: accountOf(spec.Role)}, extNames)
	ext := in.ext
	if len(extNames) > 0 {
		marker := launcherMarker(id)
		logs.ctl = func(line []byte) ([]byte, string, bool) {
			l, ok := parseLauncherLine(line, marker)
			switch {
			case !ok:
				return line, extensions.TypeFunction, false
			case l.exited:
				ext.Exited(l.name, l.status)
				return nil, "", true
			}
			return l.text, extensions.TypeExtension, false
		}
	}
	logs.tap = func(t time.Time, stream string, line []byte) {
		if ext.Listening() {
			ext.Emit(t, stream, string(line))
		}
	}
	ext.Emit(time.Now(), "platform.initStart", initStartRecord{InitializationType: spec.initializationType(), Phase: "init",
		RuntimeVersion: spec.Runtime, FunctionName: spec.FunctionName, FunctionVersion: spec.Version, InstanceID: id, InstanceMaxMemory: spec.MemoryMB})
	in.launched = time.Now()
	sbs.Network, sbs.ID = policy, id
	sbs.Env = w.env(spec, stream, launch, creds)
	if spec.Image != nil {
		handler := "" // Lambda's _HANDLER for an image: its first CMD element
		if len(imageCmdline) > 0 {
			handler = imageCmdline[0]
		}
		sbs.Env = imageEnvironment(sbs.Env, imageEnv, spec.Environment, handler)
	}
	sbs.MemoryMB, sbs.EphemeralMB, sbs.MaxProcs = spec.MemoryMB, spec.EphemeralMB, 1024
	sbs.Stdout, sbs.Stderr = in.out, in.err
	sb, err := w.cfg.Driver.Start(ctx, sbs)
	if err != nil {
		return nil, nil, fmt.Errorf("starting sandbox: %w", err)
	}
	in.sb = sb
	in.ext.SetDeliverer(w.telemetryDeliverer(sb))
	in.freeze = newFreezer(sb)
	in.api = runtimeapi.New(runtimeapi.Options{Logger: w.log, Extra: in.ext,
		MaxConnections: runtimeapi.DefaultMaxConnections + maxExtensionConns*len(extNames) + 1})
	go in.api.Serve(sb.Listener())
	go func() {
		<-sb.Exited()
		close(in.exited)
		in.api.RuntimeExited(exitError(sb.Stats()))
	}()
	return in, nil, nil
}

func exitError(st sandbox.Stats) error {
	if st.Signal != "" {
		// As Go's os/exec and Lambda word it: "signal: killed".
		if n := unix.SignalNum(st.Signal); n != 0 {
			return fmt.Errorf("signal: %s", n.String())
		}
		return fmt.Errorf("signal: %s", st.Signal)
	}
	return fmt.Errorf("exit status %d", st.ExitCode)
}

// exitOutcome describes a runtime that exited: out of memory or otherwise.
func (w *Worker) exitOutcome(in *instance, requestID string) *Outcome {
	st := in.sb.Stats()
	typ := runtimeapi.ErrorTypeExitError
	if st.OOMKilled {
		typ = runtimeapi.ErrorTypeOutOfMemory
	}
	return failed(typ, "RequestId: "+requestID+" Error: Runtime exited with error: "+exitError(st).Error())
}

// Invoke runs one invocation of spec: in a warm sandbox of the same key if
// one is idle, else in a new one. ctx is the client's; the function's
// timeout is spec.Timeout. It returns ErrCapacity when the node's memory
// budget has no room, ErrClosed after Close.
func (w *Worker) Invoke(ctx context.Context, spec *Spec, req *Request) (*Outcome, error) {
	// A sandbox whose runtime exited while idle (after reporting a panic,
	// say) never receives the invocation; it then runs on another one.
	for attempt := 0; ; attempt++ {
		out, err := w.invokeOnce(ctx, spec, req)
		if errors.Is(err, runtimeapi.ErrNotDelivered) && attempt < 3 && ctx.Err() == nil {
			continue
		}
		return out, err
	}
}

func (w *Worker) invokeOnce(ctx context.Context, spec *Spec, req *Request) (*Outcome, error) {
	reqID := req.Invocation.RequestID
	if req.WarmOnly && !w.hasIdle(spec.Key) {
		return nil, ErrNotWarm
	}
	ka := w.keep.arrived(spec, w.cfg.Now())
	defer func() { w.keep.ended(ka, w.cfg.Now()) }()
	w.awaitFinishing(ctx, spec.Key)
	in, g, err := w.place(spec, req.WarmOnly)
	if err != nil {
		return nil, err
	}
	cold := in == nil
	if cold {
		var out *Outcome
		in, out, err = w.start(ctx, spec, reqID, g)
		if err != nil {
			return nil, err
		}
		if out != nil {
			out.ColdStart = true
			return out, nil
		}
		if err := in.life.To(sandbox.Busy); err != nil {
			w.retire(in, "claimed while starting")
			return nil, err
		}
		w.keepReady(spec)
	}
	restored := !cold && in.restored
	var taken time.Time // when a kept-ready sandbox was taken
	if restored {
		taken = time.Now()
		in.restored = false
		w.keepReady(spec)
	}
	if !cold {
		if err := in.thaw(); err != nil {
			w.retireAsync(in, "could not be thawed")
			return nil, err
		}
	}
	logs := in.logs
	in.awaitReport() // the previous invocation's REPORT comes first
	logs.begin()
	logs.platform("START RequestId: " + reqID + " Version: " + spec.Version)
	start := time.Now()
	tctx, cancel := context.WithTimeout(ctx, spec.Timeout)
	req.Invocation.Deadline = start.Add(spec.Timeout)
	if in.ext.TelemetrySubscribed() {
		var tr *extensions.Tracing
		if req.Invocation.TraceID != "" {
			tr = &extensions.Tracing{Type: "X-Amzn-Trace-Id", Value: req.Invocation.TraceID}
		}
		in.ext.Emit(start, "platform.start", startRecord{RequestID: reqID, Version: spec.Version, Tracing: tr})
	}
	if in.extInvoke {
		in.ext.Invoke(extensions.Invoke{RequestID: reqID, Deadline: req.Invocation.Deadline,
			InvokedFunctionARN: req.Invocation.FunctionARN, TraceID: req.Invocation.TraceID})
	}
	res, err := in.api.Invoke(tctx, &req.Invocation)
	dur := time.Since(start)
	cancel()
	if errors.Is(err, runtimeapi.ErrNotDelivered) {
		logs.end()
		w.retireAsync(in, "invocation not delivered")
		return nil, err
	}

	out := &Outcome{ColdStart: cold, Duration: dur}
	if cold {
		out.InitDuration = in.initDur
	}
	if restored {
		out.RestoreDuration = start.Sub(taken)
	}
	healthy := false
	switch {
	case err == nil:
		out.Payload = res.Payload
		if res.Error {
			out.FunctionError, out.ErrorType = runtimeapi.FunctionErrorUnhandled, res.ErrorType
		}
		healthy = true
	case errors.Is(err, runtimeapi.ErrRuntimeExited):
		o := w.exitOutcome(in, reqID)
		out.Payload, out.FunctionError, out.ErrorType = o.Payload, o.FunctionError, o.ErrorType
	case tctx.Err() != nil && ctx.Err() == nil:
		o := failed(runtimeapi.ErrorTypeTimedOut, fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", reqID, spec.Timeout.Seconds()))
		out.Payload, out.FunctionError, out.ErrorType = o.Payload, o.FunctionError, o.ErrorType
		logs.platform(time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + " " + reqID + " Task timed out after " + fmt.Sprintf("%.2f", spec.Timeout.Seconds()) + " seconds")
	case ctx.Err() != nil:
		// The caller went away: the invocation is abandoned and the
		// sandbox, still running it, cannot be reused.
		logs.end()
		w.retireAsync(in, "invocation abandoned")
		return nil, ctx.Err()
	default:
		logs.end()
		w.retireAsync(in, "invocation failed")
		return nil, err
	}
	// With extensions to hear from (or telemetry to flush), the sandbox
	// waits for them before it is reused.
	extWait := healthy && (in.extInvoke || in.ext.TelemetrySubscribed())
	if healthy && !req.Tail && !extWait {
		// The caller needs nothing of the END and REPORT lines: the
		// sandbox goes back to its pool and the lines are written after
		// the answer, before the sandbox's next START.
		logs.end()
		in.reporting.Lock()
		o := *out
		w.release(in, 0)
		go w.report(in, reqID, &o)
		return out, nil
	}
	peak := w.finish(in, reqID, out)
	out.LogTail = logs.end()
	switch {
	case extWait:
		// The caller has its response; the sandbox waits for its
		// extensions before it is reused.
		w.startFinishing(in.key)
		go w.afterExtensions(in, peak, req.Invocation.Deadline)
	case healthy:
		w.release(in, peak)
	default:
		w.retireAsync(in, out.ErrorType)
	}
	return out, nil
}

// finish writes an invocation's END and REPORT lines, after the lines the
// function wrote before it answered, and returns the sandbox's peak memory
// use so far.
func (w *Worker) finish(in *instance, reqID string, out *Outcome) int64 {
	if d, ok := in.sb.(sandbox.OutputDrainer); ok {
		d.DrainOutput(10 * time.Millisecond)
	}
	st := in.sb.Stats()
	out.MaxMemoryMB = int(math.Ceil(float64(st.MaxMemoryBytes) / (1 << 20)))
	in.emitInvocation(reqID, out)
	in.logs.platform("END RequestId: " + reqID)
	in.logs.platform(reportLine(reqID, out, in.memoryMB))
	return st.MaxMemoryBytes
}

// report is finish for an invocation whose caller has its answer and whose
// sandbox is back in its pool: it charges the sandbox by its peak memory
// use unless it was retired meanwhile, and releases in.reporting.
func (w *Worker) report(in *instance, reqID string, out *Outcome) {
	defer in.reporting.Unlock()
	peak := w.finish(in, reqID, out)
	w.mu.Lock()
	if st, _ := in.life.State(); st != sandbox.Broken && st != sandbox.Destroyed {
		w.measuredLocked(in, peak)
	}
	w.mu.Unlock()
}

// BilledMs is the billed duration: the duration rounded up to the
// millisecond, at least 1 ms.
func (o *Outcome) BilledMs() int64 {
	billed := int64(math.Ceil(float64(o.Duration.Microseconds()) / 1000))
	if billed < 1 {
		billed = 1
	}
	return billed
}

// reportLine is Lambda's REPORT line.
func reportLine(reqID string, o *Outcome, memoryMB int) string {
	ms := float64(o.Duration.Microseconds()) / 1000
	billed := o.BilledMs()
	s := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\t",
		reqID, ms, billed, memoryMB, o.MaxMemoryMB)
	if o.InitDuration > 0 {
		s += fmt.Sprintf("Init Duration: %.2f ms\t", float64(o.InitDuration.Microseconds())/1000)
	}
	if o.RestoreDuration > 0 {
		s += fmt.Sprintf("Restore Duration: %.2f ms\tBilled Restore Duration: %d ms\t",
			float64(o.RestoreDuration.Microseconds())/1000, o.BilledRestoreMs())
	}
	switch o.ErrorType {
	case runtimeapi.ErrorTypeTimedOut:
		s += "Status: timeout"
	case runtimeapi.ErrorTypeOutOfMemory:
		s += "Status: error\tError Type: " + runtimeapi.ErrorTypeOutOfMemory
	}
	return s
}
