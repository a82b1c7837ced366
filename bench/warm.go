package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
)

// WarmResult is the warm invoke measurement of one endpoint.
type WarmResult struct {
	Section
	Endpoint string `json:"endpoint"`
	Function string `json:"function"`
	// Client is the latency a client sees, invoking sequentially, without
	// Tail.
	Client Dist `json:"client"`
	// Handler is the time the handler measured itself (from its payload).
	Handler Dist `json:"handler"`
	// Overhead is Client minus Handler, paired per invoke: everything
	// that is not the function's own code.
	Overhead Dist `json:"overhead"`
	// Report is REPORT's Duration over a sample invoked with Tail, and
	// ClientTail those invokes' client latency.
	Report     Dist `json:"report_duration"`
	ClientTail Dist `json:"client_with_tail"`
	// Throughput at each parallelism.
	Throughput []Throughput `json:"throughput"`
	// Runtimes is the client latency of a hello-world function per
	// managed runtime, sequential, at one vCPU.
	Runtimes []RuntimeWarm `json:"runtimes,omitempty"`
}

// RuntimeWarm is the warm latency of one runtime's hello-world function.
type RuntimeWarm struct {
	Label  string `json:"label"`
	Status string `json:"status"`
	Client Dist   `json:"client"`
}

// Throughput is one fixed-duration run of parallel clients.
type Throughput struct {
	Parallel int `json:"parallel"`
	// Functions, when not 0, is how many copies of the no-op the clients
	// were spread over: client i invokes copy i mod Functions.
	Functions int `json:"functions,omitempty"`
	// MemoryMB is the function's memory size.
	MemoryMB int     `json:"memory_mb"`
	Seconds  float64 `json:"seconds"`
	Invokes  int     `json:"invokes"`
	Errors   int     `json:"errors"`
	PerSec   float64 `json:"invokes_per_second"`
	Latency  Dist    `json:"latency"`
	// CPU per invoke, in microseconds: this program (the client), the
	// server process, and the sandbox processes below it (when the
	// server runs on this machine).
	ClientCPUUs  float64 `json:"client_cpu_us_per_invoke"`
	ServerCPUUs  float64 `json:"server_cpu_us_per_invoke,omitempty"`
	SandboxCPUUs float64 `json:"sandbox_cpu_us_per_invoke,omitempty"`
	// ClientCPUShare is the client's CPU over the run as a share of the
	// machine's cores.
	ClientCPUShare float64 `json:"client_cpu_share"`
	FirstError     string  `json:"first_error,omitempty"`
}

// handlerTime reads the no-op's {"handlerNs": n}.
func handlerTime(payload []byte) (float64, bool) {
	var v struct {
		HandlerNs *int64 `json:"handlerNs"`
	}
	if json.Unmarshal(payload, &v) != nil || v.HandlerNs == nil {
		return 0, false
	}
	return float64(*v.HandlerNs) / 1e6, true
}

// invokeOK invokes and turns a function error into an error.
func invokeOK(ctx context.Context, iv *invoker, in invocation) (reply, error) {
	r, err := iv.invoke(ctx, in)
	if err == nil && r.FunctionError != "" {
		err = fmt.Errorf("function error %s: %s", r.FunctionError, truncate(string(r.Payload), 200))
	}
	return r, err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// measureWarm runs the warm measurement against fn on iv. pid, when not 0,
// is the server's process, for CPU figures.
func (b *bench) measureWarm(ctx context.Context, iv *invoker, fn string, pid int) (*WarmResult, error) {
	res := &WarmResult{Section: Section{Status: statusOK}, Endpoint: iv.base, Function: fn}
	in := invocation{Function: fn}
	for range 20 {
		if _, err := invokeOK(ctx, iv, in); err != nil {
			return nil, fmt.Errorf("warming %s: %w", fn, err)
		}
	}
	var client, handler, over []float64
	for range b.size.WarmSeq {
		r, err := invokeOK(ctx, iv, in)
		if err != nil {
			return nil, err
		}
		c := ms(r.Latency)
		client = append(client, c)
		if h, ok := handlerTime(r.Payload); ok {
			handler = append(handler, h)
			over = append(over, c-h)
		}
	}
	res.Client, res.Handler, res.Overhead = distOf(client), distOf(handler), distOf(over)

	var rep, clientTail []float64
	in.Tail = true
	for range b.size.TailN {
		r, err := invokeOK(ctx, iv, in)
		if err != nil {
			return nil, err
		}
		if p := parseReport(r.LogTail); p.Found {
			rep = append(rep, p.Duration)
			clientTail = append(clientTail, ms(r.Latency))
		}
	}
	res.Report, res.ClientTail = distOf(rep), distOf(clientTail)
	in.Tail = false

	for _, p := range b.size.Parallel {
		// Bring up p sandboxes first: p concurrent invokes, a few times.
		for range 3 {
			burst(ctx, iv, in, p)
		}
		th := runParallel(ctx, iv, in, p, b.size.Window, pid)
		th.MemoryMB = memOneCPU
		res.Throughput = append(res.Throughput, th)
	}
	return res, nil
}

// burst sends p invokes at once and waits for them.
func burst(ctx context.Context, iv *invoker, in invocation, p int) {
	burstOver(ctx, iv, []invocation{in}, p)
}

// burstOver sends max(p, len(ins)) invokes at once, invoke i to
// ins[i mod len(ins)], and waits for them: every function gets as many
// concurrent invokes as runParallelOver's p clients will send it, and at
// least one.
func burstOver(ctx context.Context, iv *invoker, ins []invocation, p int) {
	var wg sync.WaitGroup
	for i := range max(p, len(ins)) {
		wg.Add(1)
		go func() { defer wg.Done(); iv.invoke(ctx, ins[i%len(ins)]) }()
	}
	wg.Wait()
}

// runParallel runs p clients invoking in a loop for d.
func runParallel(ctx context.Context, iv *invoker, in invocation, p int, d time.Duration, pid int) Throughput {
	return runParallelOver(ctx, iv, []invocation{in}, p, d, pid)
}

// runParallelOver runs p clients invoking in a loop for d, client i
// invoking ins[i mod len(ins)].
func runParallelOver(ctx context.Context, iv *invoker, ins []invocation, p int, d time.Duration, pid int) Throughput {
	var (
		mu       sync.Mutex
		lat      []float64
		errs     int
		firstErr error
		wg       sync.WaitGroup
	)
	cpu0 := processCPU()
	var srv0, box0 float64
	if pid > 0 {
		srv0, box0 = treeCPU(pid)
	}
	start := time.Now()
	deadline := start.Add(d)
	for i := range p {
		in := ins[i%len(ins)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]float64, 0, 4096)
			e := 0
			var fe error
			for time.Now().Before(deadline) && ctx.Err() == nil {
				r, err := invokeOK(ctx, iv, in)
				if err != nil {
					e++
					if fe == nil {
						fe = err
					}
					time.Sleep(time.Millisecond)
					continue
				}
				local = append(local, ms(r.Latency))
			}
			mu.Lock()
			lat = append(lat, local...)
			errs += e
			if firstErr == nil {
				firstErr = fe
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	t := Throughput{Parallel: p, Seconds: elapsed, Invokes: len(lat), Errors: errs, Latency: distOf(lat)}
	t.PerSec = float64(len(lat)) / elapsed
	cpu := processCPU() - cpu0
	if n := float64(len(lat) + errs); n > 0 {
		t.ClientCPUUs = cpu / n * 1e6
		if pid > 0 {
			srv1, box1 := treeCPU(pid)
			t.ServerCPUUs = (srv1 - srv0) / n * 1e6
			t.SandboxCPUUs = (box1 - box0) / n * 1e6
		}
	}
	t.ClientCPUShare = cpu / elapsed / float64(runtime.NumCPU())
	if firstErr != nil {
		t.FirstError = firstErr.Error()
	}
	return t
}

// runWarm measures the no-op at one full vCPU, so that the function's CPU
// quota does not limit what is measured, and then one client against the
// same no-op at 128 MB, where it does.
func (b *bench) runWarm(ctx context.Context) (*WarmResult, error) {
	if err := b.dep.create(ctx, b.noopName(), b.fns.Go, memOneCPU); err != nil {
		return nil, fmt.Errorf("creating %s: %w", b.noopName(), err)
	}
	w, err := b.measureWarm(ctx, b.inv, b.noopName(), b.tgt.PID)
	if err != nil {
		return nil, err
	}
	small := b.prefix + "warm-128"
	if err := b.dep.create(ctx, small, b.fns.Go, memDefault); err != nil {
		return nil, err
	}
	defer b.dep.delete(context.WithoutCancel(ctx), small)
	in := invocation{Function: small}
	burst(ctx, b.inv, in, 1)
	th := runParallel(ctx, b.inv, in, 1, b.size.Window, b.tgt.PID)
	th.MemoryMB = memDefault
	w.Throughput = append(w.Throughput, th)
	w.Throughput = append(w.Throughput, b.runSpread(ctx, b.spreadFunctions(), spreadClients, memDefault))
	for _, rt := range b.fns.all()[1:] {
		w.Runtimes = append(w.Runtimes, b.warmRuntime(ctx, rt))
	}
	return w, nil
}

// spreadClients is how many clients the run across many functions has.
const spreadClients = 64

// spreadFunctions is how many copies of the no-op the run across many
// functions deploys. At 128 MB, 100 sandboxes hold 12.5 GB of the node's
// memory budget (3/4 of the machine's memory by default).
func (b *bench) spreadFunctions() int {
	if b.opts.Quick {
		return 10
	}
	return 100
}

// runSpread deploys n copies of the Go no-op at memoryMB, brings up the
// sandboxes p clients need (and at least one per copy), and then runs p
// clients for the window, client i invoking copy i mod n. The copies are
// deleted afterwards. A failed deployment is reported in the row's
// FirstError, with no invokes.
func (b *bench) runSpread(ctx context.Context, n, p, memoryMB int) Throughput {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%swarm-spread-%03d", b.prefix, i)
	}
	defer eachConcurrently(context.WithoutCancel(ctx), names, func(ctx context.Context, name string) error {
		return b.dep.delete(ctx, name)
	})
	if err := eachConcurrently(ctx, names, func(ctx context.Context, name string) error {
		if err := b.dep.create(ctx, name, b.fns.Go, memoryMB); err != nil {
			return fmt.Errorf("creating %s: %w", name, err)
		}
		return nil
	}); err != nil {
		return Throughput{Parallel: p, Functions: n, MemoryMB: memoryMB, FirstError: err.Error()}
	}
	ins := make([]invocation, n)
	for i, name := range names {
		ins[i] = invocation{Function: name}
	}
	for range 3 {
		burstOver(ctx, b.inv, ins, p)
	}
	th := runParallelOver(ctx, b.inv, ins, p, b.size.Window, b.tgt.PID)
	th.Functions, th.MemoryMB = n, memoryMB
	return th
}

// eachConcurrently calls f for every name, 16 at a time, and returns the
// first error.
func eachConcurrently(ctx context.Context, names []string, f func(context.Context, string) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, 16)
	for _, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(ctx, name); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// warmRuntime measures sequential warm invokes of rt's hello-world
// function at one vCPU.
func (b *bench) warmRuntime(ctx context.Context, rt fnRuntime) RuntimeWarm {
	res := RuntimeWarm{Label: rt.Label, Status: statusOK}
	name := b.prefix + "warm-" + rt.ID
	name = strings.NewReplacer(".", "-").Replace(name)
	if err := b.dep.create(ctx, name, rt, memOneCPU); err != nil {
		res.Status = unavailable(err).Status
		return res
	}
	defer b.dep.delete(context.WithoutCancel(ctx), name)
	in := invocation{Function: name}
	for range 10 {
		if _, err := invokeOK(ctx, b.inv, in); err != nil {
			res.Status = "failed: " + err.Error()
			return res
		}
	}
	var lat []float64
	for range max(b.size.WarmSeq/4, 20) {
		r, err := invokeOK(ctx, b.inv, in)
		if err != nil {
			res.Status = "failed: " + err.Error()
			return res
		}
		lat = append(lat, ms(r.Latency))
	}
	res.Client = distOf(lat)
	return res
}

// noopName is the warm function's name: the same on every server, so
// that -compare-invoke can call the same function elsewhere.
func (b *bench) noopName() string { return b.opts.CompareFunction }

func (b *bench) printWarm(w *WarmResult, f *FloorResult) {
	rtt := f.p50(floorHTTP)
	t := &table{title: fmt.Sprintf("Warm invoke: Go no-op (%d MB), %s", memOneCPU, w.Endpoint), head: []string{"measure", "p50", "p90", "p99", "n", "× floor"}}
	row := func(name string, d Dist, floor float64) {
		t.add(name, fmtMs(d.P50), fmtMs(d.P90), fmtMs(d.P99), fmt.Sprint(d.N), fmtRatio(ratio(d.P50, floor)))
	}
	row("client latency (sequential, no Tail)", w.Client, rtt)
	if w.Handler.N > 0 {
		row("handler's own time (from its payload)", w.Handler, 0)
		row("platform overhead = client − handler", w.Overhead, rtt)
	}
	if w.Report.N > 0 {
		row("REPORT Duration (Tail sample)", w.Report, 0)
		row("client latency of the Tail sample", w.ClientTail, rtt)
		t.note("Outside REPORT Duration (client p50 − REPORT Duration p50): %s — the edge, SigV4, routing and the HTTP hop to the client; REPORT Duration itself is the Runtime API hop to the runtime and back plus the handler.",
			fmtMs(w.Client.P50-w.Report.P50))
		t.note("Tail costs %s per invoke at p50 (the server waits for the invocation's log to go quiet); the other rows are measured without it.",
			fmtMs(w.ClientTail.P50-w.Client.P50))
	} else {
		t.note("No REPORT line came back with LogType Tail: REPORT Duration not measured.")
	}
	if rtt > 0 {
		t.note("× floor: p50 over a loopback net/http round trip (%s). A warm invoke needs at least two: client→server and server↔runtime.", fmtMs(rtt))
	}
	for _, r := range w.Runtimes {
		if r.Status != statusOK {
			t.add(r.Label+": client latency", r.Status, "", "", "", "")
			continue
		}
		row(r.Label+" hello world: client latency", r.Client, rtt)
	}
	t.text(b.out)

	tt := &table{title: "Warm throughput: Go no-op, " + w.Endpoint, head: []string{"clients", "invokes/s", "p50", "p99", "errors", "client CPU/inv", "server CPU/inv", "sandbox CPU/inv", "client CPU", "× floor"}}
	for _, th := range w.Throughput {
		floor := 0.0
		if it := f.get(fmt.Sprintf("%s%d", floorHTTPPar, th.Parallel)); it != nil {
			floor = it.Rate
		}
		label := fmt.Sprint(th.Parallel)
		if th.Functions > 0 {
			label += fmt.Sprintf(" across %d functions (%d MB)", th.Functions, th.MemoryMB)
		} else if th.MemoryMB != memOneCPU {
			label += fmt.Sprintf(" (%d MB)", th.MemoryMB)
		}
		tt.add(label, fmtRate(th.PerSec, ""), fmtMs(th.Latency.P50), fmtMs(th.Latency.P99), fmt.Sprint(th.Errors),
			fmtUs(th.ClientCPUUs), fmtUs(th.ServerCPUUs), fmtUs(th.SandboxCPUUs), fmt.Sprintf("%.0f%%", th.ClientCPUShare*100), fmtRatio(ratio(floor, th.PerSec)))
		if th.FirstError != "" {
			tt.note("%s: first error: %s", clients(th.Parallel), th.FirstError)
		}
	}
	tt.note("The function has %d MB (one vCPU); the row marked (%d MB) is one client against the same no-op at %d MB, whose CPU quota (7%% of a vCPU per 100 ms) then limits the rate and makes the p99.", memOneCPU, memDefault, memDefault)
	for _, th := range w.Throughput {
		if th.Functions > 0 {
			tt.note("%s across %d functions: %d copies of the no-op at %d MB, client i invoking copy i mod %d; before the window each copy got as many concurrent invokes as clients it serves, and at least one, so %d sandboxes are up. Each sandbox has the CPU quota of %d MB.",
				clients(th.Parallel), th.Functions, th.Functions, th.MemoryMB, th.Functions, max(th.Parallel, th.Functions), th.MemoryMB)
		}
	}
	tt.note("Each row: that many clients invoking in a loop for %s after the sandboxes were brought up; one sandbox serves one invoke at a time, so N clients use N sandboxes.", b.size.Window)
	tt.note("CPU per invoke from getrusage (client) and /proc/<pid>/stat of the server and its sandbox processes; client CPU is the share of all %d cores this program used. × floor: loopback net/http requests/s at the same parallelism over Kumo's invokes/s.", runtime.NumCPU())
	tt.text(b.out)
}

// clients says "1 client", "8 clients".
func clients(n int) string {
	if n == 1 {
		return "1 client"
	}
	return fmt.Sprintf("%d clients", n)
}
