package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// options are the command line.
type options struct {
	Suite             string
	Quick             bool
	JSON              string
	Endpoint          string
	Sandbox           string
	CompareInvoke     string
	CompareRuntimeAPI string
	// CompareRuntimeInvoke is the Invoke endpoint that feeds
	// CompareRuntimeAPI; default CompareInvoke.
	CompareRuntimeInvoke string
	CompareFunction      string
	// Caller is who invokes: callerKey or callerRole.
	Caller string
}

var suites = []string{"all", "cold", "warm", "churn", "density", "async", "floor", "compare", "dynamodb"}

func parseFlags(args []string, errOut io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&o.Suite, "suite", "all", strings.Join(suites, "|"))
	fs.BoolVar(&o.Quick, "quick", false, "fewer samples and 1 s windows: under a minute")
	fs.StringVar(&o.JSON, "json", "", "also write the results to this JSON file")
	fs.StringVar(&o.Endpoint, "endpoint", "", "measure this running Kumo server instead of starting one (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)")
	fs.StringVar(&o.Sandbox, "sandbox", "", "sandbox driver of the server started here: linux or process (default: the server's auto)")
	fs.StringVar(&o.CompareInvoke, "compare-invoke", "", "also run the warm measurement against this Lambda Invoke endpoint")
	fs.StringVar(&o.CompareRuntimeAPI, "compare-runtime-api", "", "also measure next/response round trips against this Runtime API endpoint")
	fs.StringVar(&o.CompareRuntimeInvoke, "compare-runtime-invoke", "", "Invoke endpoint whose invocations reach -compare-runtime-api (default: -compare-invoke)")
	fs.StringVar(&o.CompareFunction, "compare-function", "kumo-bench-noop", "name of the warm no-op function, on Kumo and on -compare-invoke")
	fs.StringVar(&o.Caller, "caller", callerKey, "who invokes: key (the server's key, the root for a server started here) or role (a session of a role assumed with it, with a session policy)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	ok := false
	for _, s := range suites {
		ok = ok || s == o.Suite
	}
	if !ok {
		return o, fmt.Errorf("-suite %q: want one of %s", o.Suite, strings.Join(suites, ", "))
	}
	if o.Sandbox != "" && o.Sandbox != "linux" && o.Sandbox != "process" {
		return o, fmt.Errorf(`-sandbox %q: want "linux" or "process"`, o.Sandbox)
	}
	if o.Caller != callerKey && o.Caller != callerRole {
		return o, fmt.Errorf(`-caller %q: want "key" or "role"`, o.Caller)
	}
	if o.CompareRuntimeInvoke == "" {
		o.CompareRuntimeInvoke = o.CompareInvoke
	}
	if o.Sandbox != "" && o.Endpoint != "" {
		return o, errors.New("-sandbox applies to the server started here, not to -endpoint")
	}
	return o, nil
}

// sizes are how much each measurement does.
type sizes struct {
	ColdN          int           // fresh versions per runtime
	WarmSeq        int           // sequential warm invokes
	TailN          int           // warm invokes with LogType Tail
	Window         time.Duration // each throughput run
	Parallel       []int
	ChurnN         int // sandboxes per churn phase
	DensityK       int // idle sandboxes
	AsyncN         int // events
	FloorN         int // runs of each floor command
	HTTPRoundTrips int
}

func sizesFor(quick bool) sizes {
	if quick {
		return sizes{ColdN: 5, WarmSeq: 200, TailN: 50, Window: time.Second, Parallel: []int{1, 8, 64},
			ChurnN: 10, DensityK: 10, AsyncN: 200, FloorN: 20, HTTPRoundTrips: 500}
	}
	return sizes{ColdN: 30, WarmSeq: 2000, TailN: 300, Window: 10 * time.Second, Parallel: []int{1, 8, 64},
		ChurnN: 40, DensityK: 50, AsyncN: 2000, FloorN: 100, HTTPRoundTrips: 5000}
}

// bench is one run.
type bench struct {
	opts   options
	size   sizes
	out    io.Writer
	tgt    *target
	hc     *http.Client
	dep    *deployer
	inv    *invoker
	fns    *functions
	prefix string // of every function this run creates, but the warm one
}

func main() {
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, opts, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if len(rep.Problems) > 0 {
		os.Exit(1)
	}
}

func (b *bench) wants(suite string) bool { return b.opts.Suite == "all" || b.opts.Suite == suite }

// run measures what opts ask for, printing as it goes, and returns the
// report (also written to opts.JSON).
func run(ctx context.Context, opts options, out io.Writer) (*Report, error) {
	started := time.Now()
	b := &bench{opts: opts, size: sizesFor(opts.Quick), out: out, hc: newHTTPClient(), prefix: "kumo-bench-" + randHex(3) + "-"}
	rep := &Report{Started: started, Suite: opts.Suite, Quick: opts.Quick, Machine: machine()}
	b.header(rep)

	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kumo-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintln(out, "building the no-op function and kumo…")
	if b.fns, err = buildFunctions(root, dir); err != nil {
		return nil, err
	}

	needServer := opts.Suite != "floor"
	if needServer {
		if opts.Endpoint != "" {
			b.tgt, err = endpointTarget(opts.Endpoint)
		} else {
			b.tgt, err = startServer(ctx, root, dir, opts.Sandbox)
		}
		if err != nil {
			return nil, err
		}
		defer b.tgt.stop()
		rep.Server = ServerInfo{URL: b.tgt.URL, Own: b.tgt.own != nil, PID: b.tgt.PID}
		api, err := newLambdaClient(ctx, b.tgt.URL, b.tgt.Region, b.tgt.Key, b.tgt.Secret)
		if err != nil {
			return nil, err
		}
		b.dep = &deployer{api: api}
		b.inv = newInvoker(b.tgt.URL, b.tgt.Region, b.tgt.Key, b.tgt.Secret, b.hc)
		if opts.Caller == callerRole {
			var who string
			if b.inv, who, err = roleInvoker(ctx, b.tgt, b.inv); err != nil {
				return nil, err
			}
			fmt.Fprintf(out, "invoking as %s\n", who)
		}
		fmt.Fprintf(out, "server: %s (pid %d, %s)\n", b.tgt.URL, b.tgt.PID, map[bool]string{true: "started by this program", false: "given with -endpoint"}[b.tgt.own != nil])
	}
	problem := func(section string, err error) {
		rep.Problems = append(rep.Problems, section+": "+err.Error())
		fmt.Fprintf(out, "\n== %s ==\nfailed: %v\n", section, err)
	}

	if opts.Suite != "compare" {
		fmt.Fprintln(out, "measuring the host floor…")
		rep.Floor = b.runFloor(ctx)
		b.printFloor(rep.Floor)
	}
	// Density first: the server's memory is then not already grown by
	// the sandboxes of the other measurements.
	if b.wants("density") {
		d, err := b.runDensity(ctx)
		if err != nil {
			problem("Density", err)
			d = &DensityResult{Section: Section{Status: statusFailed, Note: err.Error()}}
		} else {
			b.printDensity(d, rep.Floor)
		}
		rep.Density = d
	}
	if b.wants("cold") {
		rep.Cold = b.runCold(ctx)
		b.tgt.detectDriver()
		b.printCold(rep.Cold, rep.Floor)
		for _, r := range rep.Cold.Runtimes {
			if r.Status == statusFailed {
				rep.Problems = append(rep.Problems, "cold start "+r.Label+": "+r.Note)
			}
		}
	}
	if b.wants("warm") || b.wants("compare") {
		defer b.dep.delete(context.WithoutCancel(ctx), b.noopName())
		w, err := b.runWarm(ctx)
		if err != nil {
			problem("Warm invoke", err)
			w = &WarmResult{Section: Section{Status: statusFailed, Note: err.Error()}}
		} else {
			b.tgt.detectDriver()
			b.printWarm(w, rep.Floor)
		}
		rep.Warm = w
	}
	if b.wants("churn") {
		c, err := b.runChurn(ctx)
		if err != nil {
			problem("Sandbox churn", err)
			c = &ChurnResult{Section: Section{Status: statusFailed, Note: err.Error()}}
		} else {
			b.tgt.detectDriver()
			b.printChurn(c, rep.Floor)
		}
		rep.Churn = c
	}
	if b.wants("async") {
		a, err := b.runAsync(ctx)
		if err != nil {
			problem("Asynchronous invoke", err)
			a = &AsyncResult{Section: Section{Status: statusFailed, Note: err.Error()}}
		} else {
			b.printAsync(a)
		}
		rep.Async = a
	}
	if b.wants("dynamodb") {
		d, err := b.runDynamoDB(ctx)
		if err != nil {
			problem("DynamoDB", err)
			d = &DynamoDBResult{Section: Section{Status: statusFailed, Note: err.Error()}}
		} else {
			b.printDynamoDB(d, rep.Floor)
		}
		rep.DynamoDB = d
	}
	if b.wants("compare") {
		rep.Compare = b.runCompare(ctx)
		b.printCompare(rep.Compare, rep.Warm)
		if ci := rep.Compare.Invoke; ci != nil && ci.Status == statusFailed {
			rep.Problems = append(rep.Problems, "compare-invoke: "+ci.Note)
		}
		if r := rep.Compare.RIE; r != nil && r.Status == statusFailed {
			rep.Problems = append(rep.Problems, "Runtime Interface Emulator: "+r.Note)
		}
		for _, r := range rep.Compare.RuntimeAPI {
			if r.Status == statusFailed {
				rep.Problems = append(rep.Problems, "runtime API "+r.Name+": "+r.Note)
			}
		}
	}
	if b.tgt != nil {
		b.tgt.detectDriver()
		rep.Server.Driver = b.tgt.Driver
	}
	rep.Seconds = time.Since(started).Seconds()
	rep.Summary = b.summary(rep)
	b.printSummary(rep)
	if len(rep.Problems) > 0 {
		fmt.Fprintln(out, "\nProblems:")
		for _, p := range rep.Problems {
			fmt.Fprintln(out, "  "+p)
		}
	}
	if opts.JSON != "" {
		j, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return rep, err
		}
		if err := os.WriteFile(opts.JSON, append(j, '\n'), 0o644); err != nil {
			return rep, err
		}
		fmt.Fprintf(out, "\nwrote %s\n", opts.JSON)
	}
	return rep, nil
}

func (b *bench) header(rep *Report) {
	m := rep.Machine
	mode := "full"
	if b.opts.Quick {
		mode = "quick"
	}
	fmt.Fprintf(b.out, `Kumo benchmarks (suite %s, %s)
  go run ./bench [-suite %s] [-quick] [-json out.json]
                 [-endpoint URL] [-sandbox linux|process]
                 [-compare-invoke URL] [-compare-function NAME]
                 [-compare-runtime-api URL] [-compare-runtime-invoke URL] [-caller key|role]
  Without -endpoint a server is built from ./cmd/kumo and started on a free loopback port with a
  fresh data dir; every function it measures is deployed by this program and deleted afterwards.
  Invokes are signed by %s.
  %s
Machine: %s, %d cores, %.1f GB, Linux %s, %s, %s, load average %.2f
`, b.opts.Suite, mode, strings.Join(suites, "|"), map[bool]string{false: "the server's key", true: "a role session (-caller role)"}[b.opts.Caller == callerRole], compareUsage, m.CPU, m.Cores, m.MemoryGB, m.Kernel, m.Go,
		map[bool]string{true: "root", false: "not root"}[m.Root], m.Load)
	if m.Load > float64(m.Cores)/2 {
		fmt.Fprintf(b.out, "WARNING: the machine is busy (load %.2f on %d cores): every figure below is skewed by what else runs.\n", m.Load, m.Cores)
	}
}

// machine describes this machine from /proc.
func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Root: os.Geteuid() == 0, CPU: runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.Join(strings.Fields(v), " ")
				break
			}
		}
	}
	m.MemoryGB = float64(procKBFile("/proc/meminfo", "MemTotal")) / (1 << 20)
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Sscan(string(b), &m.Load)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func procKBFile(path, field string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			var n int64
			fmt.Sscan(rest, &n)
			return n
		}
	}
	return 0
}
