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
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/keepalive"
	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/runtimeapi"
	"github.com/kumo-run/kumo/internal/runtimes"
	"github.com/kumo-run/kumo/internal/sandbox"
	"golang.org/x/sys/unix"
)

// Config wires a Worker.
type Config struct {
	Driver sandbox.Driver
	Code   *CodeCache
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
	// MemoryBudgetMB bounds the sum of MemorySize of this node's
	// sandboxes (DefaultMemoryBudgetMB when zero).
	MemoryBudgetMB int
	// Live reports whether sandboxes of a version key may still be used;
	// idle sandboxes of keys no longer live are retired. nil: all live.
	Live func(key string) bool
	// Runtimes resolves managed runtimes (python, nodejs). nil: OS-only
	// runtimes only.
	Runtimes *runtimes.Table
}

// Function is what the worker needs to know of a function version.
type Function struct {
	// Key identifies the exact version and configuration; sandboxes are
	// reused only for the same key.
	Key    string
	Config *registry.FunctionConfig
	Blob   string
	// provisioned marks a sandbox started for provisioned concurrency.
	provisioned bool
}

// Request is one invocation.
type Request struct {
	Invocation runtimeapi.Invocation
	Timeout    time.Duration
	// Tail asks for the last 4 KB of the invocation's log.
	Tail bool
}

// Outcome is what an invocation produced. Function errors (the runtime's
// own, timeouts, crashes) are outcomes, not Go errors.
type Outcome struct {
	Payload []byte
	// FunctionError is "Unhandled" when the function failed.
	FunctionError string
	// ErrorType is the error's type (Runtime.ExitError, …) when it failed.
	ErrorType    string
	LogTail      []byte
	Duration     time.Duration
	InitDuration time.Duration
	ColdStart    bool
	MaxMemoryMB  int
}

// Worker runs invocations in sandboxes on this node. Safe for concurrent
// use.
type Worker struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	idle    map[string][]*instance // by key; the most recently used last
	all     map[string]*instance   // by sandbox id
	memUsed int                    // MB of MemorySize held by sandboxes
	closed  bool

	keep *keeper
	prov provPools

	stop chan struct{}
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
	// memReleased is set once memoryMB went back to the budget.
	memReleased bool
	lastUsed    time.Time
	initDur     time.Duration
	exited      chan struct{} // closed when the runtime process exited
}

// New returns a worker and starts its reaper.
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
	w := &Worker{cfg: cfg, log: cfg.Logger, idle: map[string][]*instance{}, all: map[string]*instance{}, stop: make(chan struct{})}
	w.keep = newKeeper(w.policy())
	w.done.Add(1)
	go w.reaper()
	return w
}

// Close destroys every sandbox.
func (w *Worker) Close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	all := make([]*instance, 0, len(w.all))
	for _, in := range w.all {
		all = append(all, in)
	}
	w.idle, w.all = map[string][]*instance{}, map[string]*instance{}
	w.mu.Unlock()
	close(w.stop)
	w.done.Wait()
	var wg sync.WaitGroup
	for _, in := range all {
		wg.Add(1)
		go func() { defer wg.Done(); w.destroy(in) }()
	}
	wg.Wait()
}

// Stats counts sandboxes by state.
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

// acquire takes an idle sandbox of key, marking it busy, or returns nil.
func (w *Worker) acquire(key string) *instance {
	w.mu.Lock()
	defer w.mu.Unlock()
	if in := w.acquireProvisionedLocked(key); in != nil {
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
		select {
		case <-in.exited:
			// Died while idle; the reaper or release removes it.
			in.life.To(sandbox.Broken)
			go w.destroy(in)
			continue
		default:
		}
		if in.life.To(sandbox.Busy) == nil {
			return in
		}
	}
}

// release returns a healthy sandbox to the idle pool.
func (w *Worker) release(in *instance) {
	if in.life.To(sandbox.Idle) != nil {
		go w.destroy(in)
		return
	}
	in.lastUsed = time.Now()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		go w.destroy(in)
		return
	}
	if w.releaseProvisionedLocked(in) {
		w.mu.Unlock()
		return
	}
	w.idle[in.key] = append(w.idle[in.key], in)
	w.mu.Unlock()
}

// destroy removes a sandbox for good.
func (w *Worker) destroy(in *instance) {
	w.mu.Lock()
	if !in.memReleased {
		in.memReleased = true
		w.memUsed -= in.memoryMB
	}
	delete(w.all, in.id)
	if list := w.idle[in.key]; len(list) > 0 {
		for i, x := range list {
			if x == in {
				w.idle[in.key] = append(list[:i:i], list[i+1:]...)
				if len(w.idle[in.key]) == 0 {
					delete(w.idle, in.key)
				}
				break
			}
		}
	}
	w.mu.Unlock()
	if s, _ := in.life.State(); s != sandbox.Destroyed && s != sandbox.Broken {
		in.life.To(sandbox.Broken)
	}
	if in.api != nil {
		in.api.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.sb.Destroy(ctx); err != nil {
		w.log.Warn("worker: destroying sandbox", "sandbox", in.id, "err", err)
	}
	in.out.flush()
	in.err.flush()
	in.life.To(sandbox.Destroyed)
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
		w.reap(ctx, time.Now())
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
	return &Outcome{Payload: errorPayload(typ, msg), FunctionError: "Unhandled", ErrorType: typ}
}

// StreamName is a log stream name as Lambda gives them:
// YYYY/MM/DD/[VERSION]<32 hex>.
func StreamName(t time.Time, version, id string) string {
	return t.UTC().Format("2006/01/02") + "/[" + version + "]" + id
}

func (w *Worker) env(fn *Function, stream string, launch runtimes.Launch) []string {
	c := fn.Config
	env := []string{
		"AWS_LAMBDA_FUNCTION_NAME=" + c.FunctionName,
		"AWS_LAMBDA_FUNCTION_VERSION=" + c.Version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(c.MemorySize),
		"AWS_REGION=" + w.cfg.Region,
		"AWS_DEFAULT_REGION=" + w.cfg.Region,
		"AWS_LAMBDA_LOG_GROUP_NAME=" + c.LoggingConfig.LogGroup,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + stream,
		"AWS_LAMBDA_INITIALIZATION_TYPE=" + fn.initializationType(),
		"LAMBDA_TASK_ROOT=/var/task",
		"LAMBDA_RUNTIME_DIR=/var/runtime",
		"_HANDLER=" + c.Handler,
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		"PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
	}
	if launch.ExecutionEnv != "" {
		env = append(env, "AWS_EXECUTION_ENV="+launch.ExecutionEnv)
	}
	env = append(env, launch.Env...)
	if c.Environment != nil {
		keys := make([]string, 0, len(c.Environment.Variables))
		for k := range c.Environment.Variables {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			env = append(env, k+"="+c.Environment.Variables[k])
		}
	}
	return env
}

// start creates a sandbox for fn and runs its init phase. A function whose
// init fails gets an Outcome (and no instance); platform failures are errors.
func (w *Worker) start(ctx context.Context, fn *Function, requestID string) (*instance, *Outcome, error) {
	codeDir, err := w.cfg.Code.Path(ctx, fn.Blob)
	if err != nil {
		return nil, nil, fmt.Errorf("preparing code: %w", err)
	}
	resolve := runtimes.Resolve
	if w.cfg.Runtimes != nil {
		resolve = w.cfg.Runtimes.Resolve
	}
	layerDirs, optDir, err := w.layerDirs(ctx, fn.Config.Layers)
	if err != nil {
		return nil, nil, fmt.Errorf("preparing layers: %w", err)
	}
	launch, err := resolve(fn.Config.Runtime, fn.Config.Handler, codeDir, optDir)
	if err != nil {
		var ie *runtimes.InvalidEntrypointError
		if errors.As(err, &ie) {
			return nil, failed("Runtime.InvalidEntrypoint", "RequestId: "+requestID+" Error: "+err.Error()), nil
		}
		return nil, nil, err
	}
	id := newID()
	stream := StreamName(time.Now(), fn.Config.Version, id)
	logs := newCapture(w.cfg.Logs, fn.Config.LoggingConfig.LogGroup, stream)
	in := &instance{
		id: id, key: fn.Key, life: sandbox.NewLifecycle(), logs: logs,
		out: &writer{c: logs}, err: &writer{c: logs},
		memoryMB: fn.Config.MemorySize, exited: make(chan struct{}),
	}
	if launch.Warning != "" {
		logs.platform(launch.Warning)
	}
	if err := w.reserveMemory(in.memoryMB); err != nil {
		return nil, nil, err
	}
	t0 := time.Now()
	sb, err := w.cfg.Driver.Start(ctx, sandbox.Spec{
		ID:          id,
		CodeDir:     codeDir,
		LayerDirs:   layerDirs,
		RuntimeDir:  launch.RuntimeDir,
		HostPaths:   launch.HostPaths,
		Args:        launch.Args,
		Env:         w.env(fn, stream, launch),
		Dir:         "/var/task",
		MemoryMB:    fn.Config.MemorySize,
		EphemeralMB: fn.Config.EphemeralStorage.Size,
		MaxProcs:    1024,
		Stdout:      in.out,
		Stderr:      in.err,
	})
	if err != nil {
		w.releaseMemory(in.memoryMB)
		return nil, nil, fmt.Errorf("starting sandbox: %w", err)
	}
	in.sb = sb
	in.api = runtimeapi.New(runtimeapi.Options{Logger: w.log})
	go in.api.Serve(sb.Listener())
	go func() {
		<-sb.Exited()
		close(in.exited)
		st := sb.Stats()
		in.api.RuntimeExited(exitError(st))
	}()
	w.mu.Lock()
	if w.closed {
		w.memUsed -= in.memoryMB
		in.memReleased = true
		w.mu.Unlock()
		in.api.Close()
		sb.Destroy(context.Background())
		return nil, nil, errors.New("worker is closed")
	}
	w.all[id] = in
	w.mu.Unlock()
	in.life.To(sandbox.Initializing)

	ictx, cancel := context.WithTimeout(ctx, w.cfg.InitTimeout)
	err = in.api.WaitInit(ictx)
	cancel()
	in.initDur = time.Since(t0)
	if err == nil {
		if b, ok := sb.(sandbox.InitBooster); ok {
			if err := b.EndInit(); err != nil {
				w.log.Warn("worker: applying the CPU limit after init", "sandbox", id, "err", err)
			}
		}
		return in, nil, nil
	}
	// Init failed: the sandbox is never used.
	in.life.To(sandbox.Broken)
	var out *Outcome
	var ie *runtimeapi.InitError
	switch {
	case errors.As(err, &ie):
		out = &Outcome{Payload: ie.Payload, FunctionError: "Unhandled", ErrorType: ie.ErrorType}
	case errors.Is(err, runtimeapi.ErrRuntimeExited):
		out = w.exitOutcome(in, requestID)
	case ictx.Err() != nil && ctx.Err() == nil:
		out = failed("Sandbox.Timedout", fmt.Sprintf("RequestId: %s Error: Init phase timed out after %.2f seconds", requestID, w.cfg.InitTimeout.Seconds()))
	default:
		w.destroy(in)
		return nil, nil, err
	}
	w.destroy(in)
	return nil, out, nil
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
	if st.OOMKilled {
		return failed("Runtime.OutOfMemory", "RequestId: "+requestID+" Error: Runtime exited with error: "+exitError(st).Error())
	}
	return failed("Runtime.ExitError", "RequestId: "+requestID+" Error: Runtime exited with error: "+exitError(st).Error())
}

// Invoke runs one invocation of fn: in a warm sandbox of the same key if
// one is idle, else in a new one. ctx is the client's; the function's
// timeout is in req.
func (w *Worker) Invoke(ctx context.Context, fn *Function, req *Request) (*Outcome, error) {
	// A sandbox whose runtime exited while idle (after reporting a panic,
	// say) never receives the invocation; it then runs on another one.
	for attempt := 0; ; attempt++ {
		out, err := w.invokeOnce(ctx, fn, req)
		if errors.Is(err, runtimeapi.ErrNotDelivered) && attempt < 3 && ctx.Err() == nil {
			continue
		}
		return out, err
	}
}

func (w *Worker) invokeOnce(ctx context.Context, fn *Function, req *Request) (*Outcome, error) {
	reqID := req.Invocation.RequestID
	ka := w.keep.arrived(fn, time.Now())
	defer func() { w.keep.ended(ka, time.Now()) }()
	in := w.acquire(fn.Key)
	cold := in == nil
	if cold {
		var out *Outcome
		var err error
		in, out, err = w.start(ctx, fn, reqID)
		if err != nil {
			return nil, err
		}
		if out != nil {
			out.ColdStart = true
			return out, nil
		}
		if err := in.life.To(sandbox.Busy); err != nil {
			w.destroy(in)
			return nil, err
		}
	}
	logs := in.logs
	logs.begin()
	logs.platform("START RequestId: " + reqID + " Version: " + fn.Config.Version)
	start := time.Now()
	tctx, cancel := context.WithTimeout(ctx, req.Timeout)
	req.Invocation.Deadline = start.Add(req.Timeout)
	res, err := in.api.Invoke(tctx, &req.Invocation)
	dur := time.Since(start)
	cancel()
	if errors.Is(err, runtimeapi.ErrNotDelivered) {
		logs.end()
		in.life.To(sandbox.Broken)
		w.destroy(in)
		return nil, err
	}

	out := &Outcome{ColdStart: cold, Duration: dur}
	if cold {
		out.InitDuration = in.initDur
	}
	healthy := false
	switch {
	case err == nil:
		out.Payload = res.Payload
		if res.Error {
			out.FunctionError, out.ErrorType = "Unhandled", res.ErrorType
		}
		healthy = true
	case errors.Is(err, runtimeapi.ErrRuntimeExited):
		o := w.exitOutcome(in, reqID)
		out.Payload, out.FunctionError, out.ErrorType = o.Payload, o.FunctionError, o.ErrorType
	case tctx.Err() != nil && ctx.Err() == nil:
		o := failed("Sandbox.Timedout", fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", reqID, req.Timeout.Seconds()))
		out.Payload, out.FunctionError, out.ErrorType = o.Payload, o.FunctionError, o.ErrorType
		logs.platform(time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + " " + reqID + " Task timed out after " + fmt.Sprintf("%.2f", req.Timeout.Seconds()) + " seconds")
	case ctx.Err() != nil:
		// The caller went away: the invocation is abandoned and the
		// sandbox, still running it, cannot be reused.
		in.life.To(sandbox.Broken)
		w.destroy(in)
		return nil, ctx.Err()
	default:
		in.life.To(sandbox.Broken)
		w.destroy(in)
		return nil, err
	}
	// Lines the function wrote before it answered come before END.
	if d, ok := in.sb.(sandbox.OutputDrainer); ok {
		d.DrainOutput(10 * time.Millisecond)
	}
	st := in.sb.Stats()
	out.MaxMemoryMB = int(math.Ceil(float64(st.MaxMemoryBytes) / (1 << 20)))
	logs.platform("END RequestId: " + reqID)
	logs.platform(reportLine(reqID, out, in.memoryMB))
	out.LogTail = logs.end()
	if healthy {
		w.release(in)
	} else {
		in.life.To(sandbox.Broken)
		go w.destroy(in)
	}
	return out, nil
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
	if o.ErrorType == "Sandbox.Timedout" {
		s += "Status: timeout"
	} else if o.ErrorType == "Runtime.OutOfMemory" {
		s += "Status: error\tError Type: Runtime.OutOfMemory"
	}
	return s
}
