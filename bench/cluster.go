package main

// The cluster benchmark: warm throughput and latency of one node against
// three nodes of one cluster on this machine, and what the replicated
// write of an Event invocation costs. Run it with
//
//	KUMO_BENCH_CLUSTER=1 go test ./bench -run TestClusterBench -v -timeout 20m
//
// (KUMO_BENCH_CLUSTER_WINDOW sets each run's length, default 10s). The
// nodes share this machine's cores, so three nodes show the cluster's
// overhead, not its scale-out.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// clusterNodes starts n kumo processes of bin as one cluster (n == 1: a
// single node) with the process driver, in dir, sharing root credentials,
// and waits until each answers /healthz.
func clusterNodes(ctx context.Context, bin, dir string, n int) ([]*target, []string, error) {
	free := func() (string, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer l.Close()
		return l.Addr().String(), nil
	}
	key, secret := "AKIAKUMOBENCH"+strings.ToUpper(randHex(4)), randHex(20)
	routes := make([]string, n)
	for i := range routes {
		var err error
		if routes[i], err = free(); err != nil {
			return nil, nil, err
		}
	}
	var nodes []*target
	var metrics []string
	stopAll := func() {
		for _, t := range nodes {
			t.stop()
		}
	}
	for i := range n {
		addr, err := free()
		if err != nil {
			stopAll()
			return nil, nil, err
		}
		maddr, err := free()
		if err != nil {
			stopAll()
			return nil, nil, err
		}
		data := filepath.Join(dir, fmt.Sprintf("node%d", i+1))
		logf, err := os.Create(data + ".log")
		if err != nil {
			stopAll()
			return nil, nil, err
		}
		args := []string{"server", "--listen", addr, "--data-dir", data, "--keep-alive", "10m", "--memory-budget", "131072",
			"--sandbox", "process", "--node-id", fmt.Sprintf("n%d", i+1), "--metrics-listen", maddr}
		if n > 1 {
			args = append(args, "--zone", string(rune('a'+i)), "--cluster-name", "bench", "--cluster-listen", routes[i],
				"--peers", strings.Join(routes, ","))
		}
		t := &target{URL: "http://" + addr, Region: "us-east-1", Key: key, Secret: secret, done: make(chan struct{}), log: logf}
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "KUMO_ROOT_ACCESS_KEY_ID="+key, "KUMO_ROOT_SECRET_ACCESS_KEY="+secret)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			stopAll()
			return nil, nil, err
		}
		t.own, t.PID, t.Driver = cmd, cmd.Process.Pid, "process"
		go func() { cmd.Wait(); close(t.done) }()
		nodes = append(nodes, t)
		metrics = append(metrics, maddr)
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(3 * time.Minute)
	for _, t := range nodes {
		for {
			select {
			case <-t.done:
				stopAll()
				return nil, nil, fmt.Errorf("kumo exited before it was ready:\n%s", t.logTail())
			case <-ctx.Done():
				stopAll()
				return nil, nil, ctx.Err()
			default:
			}
			if resp, err := hc.Get(t.URL + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				stopAll()
				return nil, nil, fmt.Errorf("kumo not ready after 3m:\n%s", t.logTail())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nodes, metrics, nil
}

// ClusterRow is one measurement of the cluster benchmark.
type ClusterRow struct {
	Nodes    int
	Kind     string // "sync" or "event"
	Parallel int
	PerSec   float64
	Latency  Dist
	Errors   int
}

// runAcross runs p clients for d, client i invoking in through ivs[i mod
// len(ivs)].
func runAcross(ctx context.Context, ivs []*invoker, in invocation, p int, d time.Duration) (float64, Dist, int) {
	var (
		mu   sync.Mutex
		lat  []float64
		errs int
		wg   sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for i := range p {
		iv := ivs[i%len(ivs)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []float64
			e := 0
			for time.Now().Before(deadline) && ctx.Err() == nil {
				r, err := iv.invoke(ctx, in)
				if err != nil || r.Status >= 300 {
					e++
					time.Sleep(time.Millisecond)
					continue
				}
				local = append(local, ms(r.Latency))
			}
			mu.Lock()
			lat = append(lat, local...)
			errs += e
			mu.Unlock()
		}()
	}
	wg.Wait()
	return float64(len(lat)) / time.Since(start).Seconds(), distOf(lat), errs
}

// runClusterBench measures 1 and 3 nodes and prints a table to out.
func runClusterBench(ctx context.Context, out io.Writer, window time.Duration) ([]ClusterRow, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kumo-bench-cluster-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	fns, err := buildFunctions(root, dir)
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "kumo")
	if err := goBuild(root, "./cmd/kumo", bin, nil); err != nil {
		return nil, err
	}
	var (
		rows   []ClusterRow
		placed map[string]float64
		cold   float64
	)
	for _, n := range []int{1, 3} {
		ndir := filepath.Join(dir, fmt.Sprintf("c%d", n))
		if err := os.MkdirAll(ndir, 0o700); err != nil {
			return nil, err
		}
		nodes, metrics, err := clusterNodes(ctx, bin, ndir, n)
		if err != nil {
			return nil, err
		}
		rs, err := measureCluster(ctx, nodes, metrics, fns, window)
		if err == nil && n > 1 {
			placed, cold = placementCounts(metrics)
		}
		for _, t := range nodes {
			t.stop()
		}
		if err != nil {
			return nil, err
		}
		rows = append(rows, rs...)
	}
	fmt.Fprintf(out, "\n== cluster: 1 node vs 3 nodes on this machine (%d cores, process driver, %s windows) ==\n", runtime.NumCPU(), window)
	fmt.Fprintf(out, "%-6s %-8s %6s %12s %9s %9s %7s\n", "nodes", "kind", "clients", "invokes/s", "p50 ms", "p99 ms", "errors")
	for _, r := range rows {
		fmt.Fprintf(out, "%-6d %-8s %6d %12.0f %9.2f %9.2f %7d\n", r.Nodes, r.Kind, r.Parallel, r.PerSec, r.Latency.P50, r.Latency.P99, r.Errors)
	}
	var local, fwd *ClusterRow
	for i := range rows {
		switch rows[i].Kind {
		case "warm-n1":
			local = &rows[i]
		case "warm-fwd":
			fwd = &rows[i]
		}
	}
	if local != nil && fwd != nil {
		fmt.Fprintf(out, "forwarding overhead per invoke (p50 through node 2 to node 1's warm sandbox − through node 1): %.0f µs (p99 %.0f µs)\n",
			(fwd.Latency.P50-local.Latency.P50)*1000, (fwd.Latency.P99-local.Latency.P99)*1000)
	}
	if total := placed["here"] + placed["warm"] + placed["load"] + placed["capacity"] + placed["limit"]; total > 0 {
		fmt.Fprintf(out, "3 nodes, all runs: %.0f invocations: %.0f here, %.0f forwarded to a warm sandbox, %.0f to a less loaded node, %.0f for capacity, %.0f for a limit share; %.0f cold starts (warm hit rate %.4f)\n",
			total, placed["here"], placed["warm"], placed["load"], placed["capacity"], placed["limit"], cold, 1-cold/total)
	}
	return rows, nil
}

// measureCluster deploys the Go no-op through the first node and
// measures sync invokes (one client, then 32 spread over the nodes) and
// Event invokes (durably queued: one replica alone, three in a cluster).
func measureCluster(ctx context.Context, nodes []*target, metrics []string, fns *functions, window time.Duration) ([]ClusterRow, error) {
	api, err := newLambdaClient(ctx, nodes[0].URL, nodes[0].Region, nodes[0].Key, nodes[0].Secret)
	if err != nil {
		return nil, err
	}
	dep := &deployer{api: api}
	name := "kumo-bench-cluster-noop"
	if err := dep.create(ctx, name, fns.Go, 1769); err != nil {
		return nil, err
	}
	hc := newHTTPClient()
	var ivs []*invoker
	for _, t := range nodes {
		ivs = append(ivs, newInvoker(t.URL, t.Region, t.Key, t.Secret, hc))
	}
	sync := invocation{Function: name, Payload: []byte(`{}`)}
	// Warm every node, waiting for the function to show on each.
	for _, iv := range ivs {
		deadline := time.Now().Add(time.Minute)
		for {
			r, err := iv.invoke(ctx, sync)
			if err == nil && r.Status == 200 {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("warming a node: %v (status %d)", err, r.Status)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Forwarding first: the Event runs leave a backlog that the nodes
	// drain for a while after.
	var fwd []ClusterRow
	if len(nodes) > 1 {
		if fwd, err = measureForwarding(ctx, dep, ivs, metrics, fns, window); err != nil {
			return nil, err
		}
	}
	var rows []ClusterRow
	for _, c := range []struct {
		kind string
		in   invocation
		p    int
	}{
		{"sync", sync, 1}, {"sync", sync, 32}, {"event", invocation{Function: name, Type: "Event", Payload: []byte(`{}`)}, 1},
		{"event", invocation{Function: name, Type: "Event", Payload: []byte(`{}`)}, 32},
	} {
		ps, d, errs := runAcross(ctx, ivs, c.in, c.p, window)
		rows = append(rows, ClusterRow{Nodes: len(nodes), Kind: c.kind, Parallel: c.p, PerSec: ps, Latency: d, Errors: errs})
	}
	return append(rows, fwd...), nil
}

// measureForwarding deploys a second no-op, warms it on node 1 only and,
// once node 2 has heard of that sandbox, runs one client through node 1
// (kind "warm-n1": local) and one through node 2 (kind "warm-fwd": sent
// to node 1's warm sandbox): the difference of their latencies is what
// forwarding costs an invocation.
func measureForwarding(ctx context.Context, dep *deployer, ivs []*invoker, metrics []string, fns *functions, window time.Duration) ([]ClusterRow, error) {
	name := "kumo-bench-cluster-affinity"
	if err := dep.create(ctx, name, fns.Go, 1769); err != nil {
		return nil, err
	}
	in := invocation{Function: name, Payload: []byte(`{}`)}
	deadline := time.Now().Add(time.Minute)
	for {
		r, err := ivs[0].invoke(ctx, in)
		if err == nil && r.Status == 200 {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("warming %s on node 1: %v (status %d)", name, err, r.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for scrapeSum(metrics[1], "kumo_cluster_peer_idle_sandboxes") < 1 {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("node 2 never heard of node 1's idle sandbox")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var rows []ClusterRow
	for i, kind := range []string{"warm-n1", "warm-fwd"} {
		ps, d, errs := runAcross(ctx, ivs[i:i+1], in, 1, window)
		rows = append(rows, ClusterRow{Nodes: len(ivs), Kind: kind, Parallel: 1, PerSec: ps, Latency: d, Errors: errs})
	}
	return rows, nil
}

// placementCounts sums, over the nodes, where their invocations ran and
// the cold starts.
func placementCounts(metrics []string) (byPlacement map[string]float64, cold float64) {
	byPlacement = map[string]float64{}
	for _, m := range metrics {
		for _, p := range []string{"here", "warm", "load", "capacity", "limit"} {
			byPlacement[p] += scrapeSum(m, "kumo_cluster_invocations_total", `placement="`+p+`"`)
		}
		cold += scrapeSum(m, "kumo_lambda_cold_starts_total")
	}
	return byPlacement, cold
}

// scrapeSum sums the samples of name on the unauthenticated /metrics at
// addr whose labels contain every one of match; 0 when unreachable.
func scrapeSum(addr, name string, match ...string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0
	}
	sum := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, m := range match {
			ok = ok && strings.Contains(line, m)
		}
		if f := strings.Fields(line); ok && len(f) > 1 {
			var v float64
			if _, err := fmt.Sscan(f[len(f)-1], &v); err == nil {
				sum += v
			}
		}
	}
	return sum
}
