package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Floor item keys, which the other sections compare themselves with.
const (
	floorExec     = "exec"
	floorTrue     = "exec_true"
	floorExecNS   = "exec_ns"
	floorCgroup   = "cgroup"
	floorPython   = "python"
	floorNode     = "node"
	floorHTTP     = "http_rtt"
	floorHTTPPar  = "http_parallel_"
	floorIdleProc = "idle_runtime"
)

// FloorResult is what this machine allows: the cost of the primitives a
// platform like Kumo is built from, measured in the same run.
type FloorResult struct {
	Section
	Items []FloorItem `json:"items"`
}

// FloorItem is one primitive.
type FloorItem struct {
	Key  string `json:"key"`
	Name string `json:"name"`
	// Dist is the time of one operation; Rate is operations per second
	// (parallel HTTP) and KB a memory size (idle runtime), where those
	// apply.
	Dist    Dist    `json:"dist"`
	Rate    float64 `json:"per_second,omitempty"`
	KB      float64 `json:"kb,omitempty"`
	Skipped string  `json:"skipped,omitempty"`
}

func (f *FloorResult) get(key string) *FloorItem {
	if f == nil {
		return nil
	}
	for i := range f.Items {
		if f.Items[i].Key == key && f.Items[i].Skipped == "" {
			return &f.Items[i]
		}
	}
	return nil
}

// p50 of a floor item, 0 when it was not measured.
func (f *FloorResult) p50(key string) float64 {
	if it := f.get(key); it != nil {
		return it.Dist.P50
	}
	return 0
}

// execFloor is what starting a sandbox compares with: exec in the
// namespaces a linux sandbox gets, or a plain exec for the process driver
// (or when the namespaced one was not measured); and its name.
func (f *FloorResult) execFloor(driver string) (float64, string) {
	if v := f.p50(floorExecNS); v > 0 && driver != "process" {
		return v, "exec in namespaces"
	}
	return f.p50(floorExec), "exec"
}

// timeExec runs the command n times and returns the durations.
func timeExec(n int, mk func() *exec.Cmd) (Dist, error) {
	var out []float64
	for range n {
		cmd := mk()
		t0 := time.Now()
		if b, err := cmd.CombinedOutput(); err != nil {
			return Dist{}, fmt.Errorf("%s: %v %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(b)))
		}
		out = append(out, ms(time.Since(t0)))
	}
	return distOf(out), nil
}

func (b *bench) runFloor(ctx context.Context) *FloorResult {
	n := b.size.FloorN
	res := &FloorResult{Section: Section{Status: statusOK}}
	add := func(key, name string, d Dist, err error) {
		it := FloorItem{Key: key, Name: name, Dist: d}
		if err != nil {
			it.Skipped = err.Error()
		}
		res.Items = append(res.Items, it)
	}
	exitEnv := append(os.Environ(), "KUMO_BENCH_EXIT=1")

	d, err := timeExec(n, func() *exec.Cmd {
		c := exec.Command(b.fns.NoopBin)
		c.Env = exitEnv
		return c
	})
	add(floorExec, "exec a static Go binary (the no-op bootstrap, exiting at once)", d, err)

	if tr, lerr := exec.LookPath("true"); lerr == nil {
		d, err = timeExec(n, func() *exec.Cmd { return exec.Command(tr) })
		add(floorTrue, "exec "+tr, d, err)
	}

	name := "exec the same binary in new mount, pid, ipc, uts and net namespaces"
	if os.Geteuid() != 0 {
		add(floorExecNS, name, Dist{}, fmt.Errorf("needs root"))
	} else {
		d, err = timeExec(n, func() *exec.Cmd {
			c := exec.Command(b.fns.NoopBin)
			c.Env = exitEnv
			inNamespaces(c)
			return c
		})
		add(floorExecNS, name, d, err)
	}

	d, err = cgroupFloor(n)
	add(floorCgroup, "create and remove a cgroup (memory, cpu, pids)", d, err)

	if py, perr := realPython(); perr != nil {
		add(floorPython, "python3 -c pass", Dist{}, perr)
	} else {
		d, err = timeExec(n, func() *exec.Cmd { return exec.Command(py, "-c", "pass") })
		add(floorPython, "python3 -c pass ("+py+")", d, err)
	}
	if node, nerr := exec.LookPath("node"); nerr != nil {
		add(floorNode, "node -e 0", Dist{}, fmt.Errorf("node not found"))
	} else {
		d, err = timeExec(n, func() *exec.Cmd { return exec.Command(node, "-e", "0") })
		add(floorNode, "node -e 0", d, err)
	}

	rtt, rates, err := httpFloor(ctx, b.size.HTTPRoundTrips, b.size.Parallel, b.size.Window/2)
	add(floorHTTP, "loopback HTTP round trip (net/http, keep-alive, 1 client)", rtt, err)
	for _, p := range b.size.Parallel {
		it := FloorItem{Key: fmt.Sprintf("%s%d", floorHTTPPar, p), Name: "loopback HTTP requests/s, " + clients(p), Rate: rates[p]}
		if err != nil {
			it.Skipped = err.Error()
		}
		res.Items = append(res.Items, it)
	}

	kb, err := idleRuntimeKB(ctx, b.fns.NoopBin, b.size.DensityK)
	res.Items = append(res.Items, FloorItem{Key: floorIdleProc,
		Name: fmt.Sprintf("memory of one of %d Go no-op runtimes started by hand, idle in /next (PSS)", b.size.DensityK), KB: kb, Skipped: errString(err)})
	return res
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// realPython finds the interpreter python3 runs (a pyenv shim is a shell
// script whose start-up is not Python's).
func realPython() (string, error) {
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		return "", fmt.Errorf("python3 not found")
	}
	return strings.TrimSpace(string(out)), nil
}

// cgroupFloor creates and removes a cgroup in each of the hierarchies a
// linux sandbox uses (v1: memory, cpu, pids; v2: one directory).
func cgroupFloor(n int) (Dist, error) {
	if os.Geteuid() != 0 {
		return Dist{}, fmt.Errorf("needs root")
	}
	var roots []string
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		roots = []string{"/sys/fs/cgroup"}
	} else {
		for _, c := range []string{"memory", "cpu", "pids"} {
			roots = append(roots, filepath.Join("/sys/fs/cgroup", c))
		}
	}
	name := "kumo-bench-floor-" + randHex(4)
	var out []float64
	for range n {
		t0 := time.Now()
		for _, r := range roots {
			if err := os.Mkdir(filepath.Join(r, name), 0o755); err != nil {
				return Dist{}, fmt.Errorf("cgroup: %v", err)
			}
		}
		for _, r := range roots {
			if err := os.Remove(filepath.Join(r, name)); err != nil {
				return Dist{}, fmt.Errorf("cgroup: %v", err)
			}
		}
		out = append(out, ms(time.Since(t0)))
	}
	return distOf(out), nil
}

// httpFloor measures a loopback net/http server that answers "{}" to a
// POST of "{}": the round trip of one keep-alive client (n requests), and
// the requests per second of each parallelism for window.
func httpFloor(ctx context.Context, n int, parallel []int, window time.Duration) (Dist, map[int]float64, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Dist{}, nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{}"))
	})}
	go srv.Serve(l)
	defer srv.Close()
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	u := "http://" + l.Addr().String() + "/"
	once := func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader("{}"))
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	for range 50 {
		if err := once(); err != nil {
			return Dist{}, nil, err
		}
	}
	var lat []float64
	for range n {
		t0 := time.Now()
		if err := once(); err != nil {
			return Dist{}, nil, err
		}
		lat = append(lat, ms(time.Since(t0)))
	}
	rates := map[int]float64{}
	for _, p := range parallel {
		var mu sync.Mutex
		total := 0
		var wg sync.WaitGroup
		start := time.Now()
		deadline := start.Add(window)
		for range p {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k := 0
				for time.Now().Before(deadline) && once() == nil {
					k++
				}
				mu.Lock()
				total += k
				mu.Unlock()
			}()
		}
		wg.Wait()
		rates[p] = float64(total) / time.Since(start).Seconds()
	}
	return distOf(lat), rates, nil
}

// idleRuntimeKB starts k Go no-op runtimes against a Runtime API that never
// answers /next and returns their mean PSS once all have started: the
// memory a sandbox of that function cannot do without, with the binary's
// pages shared between k processes as they are between k sandboxes.
func idleRuntimeKB(ctx context.Context, bin string, k int) (float64, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	polled := make(chan struct{}, k)
	go func() {
		var held []net.Conn // /next never answers
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
			polled <- struct{}{}
		}
	}()
	var cmds []*exec.Cmd
	defer func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
	}()
	for range k {
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + l.Addr().String(), "AWS_LAMBDA_FUNCTION_NAME=noop",
			"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST"}
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		cmds = append(cmds, cmd)
	}
	timeout := time.After(10 * time.Second)
	for range k {
		select {
		case <-polled:
		case <-timeout:
			return 0, fmt.Errorf("the no-op runtimes did not all poll /next")
		}
	}
	time.Sleep(200 * time.Millisecond)
	var total int64
	for _, c := range cmds {
		kb := pssKB(c.Process.Pid)
		if kb == 0 {
			return 0, fmt.Errorf("cannot read /proc/%d/smaps_rollup", c.Process.Pid)
		}
		total += kb
	}
	return float64(total) / float64(k), nil
}

func (b *bench) printFloor(f *FloorResult) {
	t := &table{title: "Host floor: what this machine allows", head: []string{"primitive", "p50", "p99", "n"}}
	for _, it := range f.Items {
		switch {
		case it.Skipped != "":
			t.add(it.Name, "skipped: "+it.Skipped, "", "")
		case it.Rate > 0:
			t.add(it.Name, fmtRate(it.Rate, "req/s"), "", "")
		case it.KB > 0:
			t.add(it.Name, fmtMB(it.KB), "", "")
		default:
			t.add(it.Name, fmtMs(it.Dist.P50), fmtMs(it.Dist.P99), fmt.Sprint(it.Dist.N))
		}
	}
	t.note("Every Kumo figure below is also given as a ratio to the matching primitive here.")
	t.text(b.out)
}
