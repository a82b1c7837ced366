package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// The Runtime Interface Emulator the compare suite builds when no
// -compare-invoke is given: its module, served by the Go module proxy,
// and its command. It is built into a cache directory with go install,
// never added to Kumo's go.mod.
const (
	rieModule  = "github.com/aws/aws-lambda-runtime-interface-emulator"
	rieVersion = "v0.0.0-20261030222936-bef5c4ba774d"
	riePackage = rieModule + "/cmd/aws-lambda-rie"
	// rieFunction is the only function name the emulator serves.
	rieFunction = "function"
)

// RIEResult is the emulator next to Kumo, measured by this program.
type RIEResult struct {
	Section
	Version string `json:"version"`
	Binary  string `json:"binary"`
	// Warm is the warm measurement of the Go no-op under the emulator;
	// its throughput rows hold server (emulator) and runtime CPU per
	// invoke.
	Warm *WarmResult `json:"warm,omitempty"`
	// Cold is the client-seen latency of the first invoke of a freshly
	// started emulator (it starts the runtime on that invoke), and Init
	// the Init Duration of its REPORT line.
	Cold Dist `json:"cold_client"`
	Init Dist `json:"cold_init_duration"`
	// KumoCold is Kumo's Go cold start at the same memory size, measured
	// in the same run.
	KumoCold *ColdRuntime `json:"kumo_cold,omitempty"`
	// Load is the machine's load average before and after.
	LoadBefore float64 `json:"load_before"`
	LoadAfter  float64 `json:"load_after"`
}

// buildRIE returns the emulator's binary, building it on first use into
// the user's cache directory (GOBIN of a go install of the pinned version).
func buildRIE(ctx context.Context) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "kumo-bench", "rie-"+rieVersion)
	bin := filepath.Join(dir, "aws-lambda-rie")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "install", riePackage+"@"+rieVersion)
	cmd.Dir = dir // outside any module: go install pkg@version
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w\n%s", riePackage, rieVersion, err, truncate(string(out), 2000))
	}
	return bin, nil
}

// rieProc is a running emulator with the no-op as its runtime.
type rieProc struct {
	cmd  *exec.Cmd
	URL  string
	PID  int
	out  *lockedBuffer
	done chan struct{}
}

// lockedBuffer is the emulator's output, written by the process and read
// by this program.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startRIE starts the emulator with bootstrap as its runtime at memoryMB
// and returns once it accepts connections.
func startRIE(ctx context.Context, bin, bootstrap string, memoryMB int) (*rieProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	rapi, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p := &rieProc{URL: "http://" + addr, out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "--runtime-interface-emulator-address", addr, "--runtime-api-address", rapi, "--log-level", "error", bootstrap)
	p.cmd.Dir = filepath.Dir(bootstrap)
	p.cmd.Env = append(os.Environ(), "AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(memoryMB), "AWS_LAMBDA_FUNCTION_TIMEOUT=30")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	p.PID = p.cmd.Process.Pid
	go func() { p.cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("the emulator exited: %s", truncate(p.out.String(), 2000))
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, errors.New("the emulator did not listen within 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (p *rieProc) stop() {
	p.cmd.Process.Kill()
	<-p.done
}

var rieInit = regexp.MustCompile(`Init Duration: ([0-9.]+) ms`)

// runRIE builds the emulator and measures it (warm, then cold starts) and
// Kumo's Go cold start at the same size, back to back.
func (b *bench) runRIE(ctx context.Context) *RIEResult {
	res := &RIEResult{Section: Section{Status: statusOK}, Version: rieModule + "@" + rieVersion, LoadBefore: loadAvg()}
	defer func() { res.LoadAfter = loadAvg() }()
	fmt.Fprintln(b.out, "building the Runtime Interface Emulator ("+res.Version+")…")
	bin, err := buildRIE(ctx)
	if err != nil {
		res.Section = Section{Status: statusFailed, Note: err.Error()}
		return res
	}
	res.Binary = bin
	p, err := startRIE(ctx, bin, b.fns.NoopBin, memOneCPU)
	if err != nil {
		res.Section = Section{Status: statusFailed, Note: err.Error()}
		return res
	}
	iv := newInvoker(p.URL, b.tgt.Region, b.tgt.Key, b.tgt.Secret, b.hc)
	// The emulator runs one invocation at a time: a second one at once
	// makes it exit, so it is measured with one client only.
	size := b.size
	b.size.Parallel = []int{1}
	res.Warm, err = b.measureWarm(ctx, iv, rieFunction, p.PID)
	b.size = size
	p.stop()
	if err != nil {
		res.Section = Section{Status: statusFailed, Note: "warm: " + err.Error()}
		return res
	}

	var cold, initD []float64
	for range b.size.ColdN {
		p, err := startRIE(ctx, bin, b.fns.NoopBin, memOneCPU)
		if err != nil {
			res.Section = Section{Status: statusFailed, Note: "cold: " + err.Error()}
			return res
		}
		r, err := invokeOK(ctx, iv.with(p.URL), invocation{Function: rieFunction})
		p.stop()
		if err != nil {
			res.Section = Section{Status: statusFailed, Note: "cold: " + err.Error()}
			return res
		}
		cold = append(cold, ms(r.Latency))
		if m := rieInit.FindStringSubmatch(p.out.String()); m != nil {
			if v, err := strconv.ParseFloat(m[1], 64); err == nil {
				initD = append(initD, v)
			}
		}
	}
	res.Cold, res.Init = distOf(cold), distOf(initD)
	kc := b.coldRuntime(ctx, b.fns.Go, memOneCPU)
	res.KumoCold = &kc
	return res
}

// with is iv aimed at another endpoint.
func (iv *invoker) with(base string) *invoker {
	c := *iv
	c.base = base
	return &c
}

func loadAvg() float64 {
	var l float64
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Sscan(string(b), &l)
	}
	return l
}

// throughputAt is the row of ths measured with p clients at memOneCPU.
func throughputAt(ths []Throughput, p int) (Throughput, bool) {
	for _, t := range ths {
		if t.Parallel == p && t.Functions == 0 && (t.MemoryMB == memOneCPU || t.MemoryMB == 0) {
			return t, true
		}
	}
	return Throughput{}, false
}

// printRIE prints the table: Kumo and the emulator, same function,
// same client, back to back.
func (b *bench) printRIE(r *RIEResult, kumo *WarmResult) {
	t := &table{title: fmt.Sprintf("Kumo vs the Runtime Interface Emulator: Go no-op (aws-lambda-go) at %d MB", memOneCPU),
		head: []string{"", "p50, 1 client", "p99, 1 client", "p50, 8 clients", "p99, 8 clients", "server CPU/invoke (1 / 8 clients)", "runtime CPU/invoke (1 client)", "cold start p50 (client-seen)", "Init Duration p50"}}
	row := func(name string, w *WarmResult, cold, init Dist) {
		if w == nil {
			t.add(name, "—")
			return
		}
		one, _ := throughputAt(w.Throughput, 1)
		p50, p99, cpu8 := "one at a time", "—", "—"
		if eight, ok := throughputAt(w.Throughput, 8); ok {
			p50, p99, cpu8 = fmtMs(eight.Latency.P50), fmtMs(eight.Latency.P99), fmtUs(eight.ServerCPUUs)
		}
		t.add(name, fmtMs(one.Latency.P50), fmtMs(one.Latency.P99), p50, p99,
			fmtUs(one.ServerCPUUs)+" / "+cpu8, fmtUs(one.SandboxCPUUs), fmtMs(cold.P50), fmtMs(init.P50))
	}
	var kc, ki Dist
	if r.KumoCold != nil {
		kc, ki = r.KumoCold.Client, r.KumoCold.Init
	}
	row("Kumo", kumo, kc, ki)
	if r.Status == statusOK {
		row("Runtime Interface Emulator", r.Warm, r.Cold, r.Init)
	} else {
		t.add("Runtime Interface Emulator", r.Status)
		t.note("Emulator: %s", r.Note)
	}
	t.note("Machine load average %.2f before, %.2f after, on %d cores: the two were measured back to back, so both saw about the same machine.", r.LoadBefore, r.LoadAfter, r.machineCores())
	t.note("Each p50/p99: clients invoking in a loop for the window after warm-up. Server CPU: /proc/<pid>/stat of the kumo server or of the emulator, per invoke; runtime CPU: of the processes below it (the sandbox, or the no-op the emulator runs). Kumo authenticates (SigV4), isolates each sandbox and stores its logs; the emulator does none of these.")
	t.note("The emulator serves one invocation at a time (a concurrent one makes it exit): it has no 8-client figures.")
	t.note("Cold start: Kumo, a new version's first invoke (with Tail; see the cold table); the emulator, the first invoke of a freshly started emulator, which starts the runtime then. Init Duration: from each one's REPORT line; the emulator's counts its own init call only, not the runtime's start, so compare the client-seen column.")
	t.note("Emulator: %s, built with go install into %s.", r.Version, filepath.Dir(r.Binary))
	t.text(b.out)
}

func (r *RIEResult) machineCores() int { return runtime.NumCPU() }
