package e2e

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// startPlacementCluster is startCluster with the same budget on every
// node (startCluster gives node 1 room for one sandbox only).
func startPlacementCluster(t *testing.T, n int) []*clusterNode {
	return startClusterWith(t, n, clusterSpec{name: "e2e-placement", idPrefix: "n", metrics: true,
		env: []string{"KUMO_ROOT_ACCESS_KEY_ID=" + rootAccessKeyID, "KUMO_ROOT_SECRET_ACCESS_KEY=" + rootSecretAccessKey,
			"KUMO_KMS_MASTER_KEY=" + clusterKMSKey, "KUMO_CLUSTER_SECRET=e2e-route-secret"},
		args: func(int) []string { return []string{"--memory-budget", "2048"} }})
}

// TestClusterPlacement runs three nodes in zones a, b and c.
//
// Warm affinity: a version warm only on node 1 and invoked through node 2
// runs in node 1's sandbox (the function counts the invocations its
// sandbox served), with no sandbox started on node 2.
//
// Reserved concurrency 2 holds across the three nodes: a function that
// blocks until the test releases it, invoked six times at once through
// all three nodes, runs at most twice at a time cluster-wide; the others
// are throttled with 429 TooManyRequestsException; the two that run are
// placed on two nodes.
//
// Provisioned concurrency 2 is kept by two nodes in two zones, one sandbox
// each, and is READY once they add up to 2.
func TestClusterPlacement(t *testing.T) {
	nodes := startPlacementCluster(t, 3)
	ctx := t.Context()
	clients := make([]*lambda.Client, len(nodes))
	for i, nd := range nodes {
		clients[i] = newSDK(t, nd.server)
	}
	deployFn(t, clients[0], "pl-warm", "warm", fnConfig{Timeout: 30})
	deployFn(t, clients[0], "pl-res", "res", fnConfig{Timeout: 30})
	deployFn(t, clients[0], "pl-prov", "prov", fnConfig{Timeout: 30, Publish: true})
	must[*lambda.PutFunctionConcurrencyOutput](t, "PutFunctionConcurrency 2")(clients[0].PutFunctionConcurrency(ctx,
		&lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("pl-res"), ReservedConcurrentExecutions: aws.Int32(2)}))
	for i, nd := range nodes {
		eventually(t, time.Minute, nd.id+" sees both functions and the reservation, and hears the other nodes", func() error {
			for _, fn := range []string{"pl-warm", "pl-res", "pl-prov"} {
				out, err := clients[i].GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(fn)})
				if err != nil {
					return err
				}
				if out.Configuration.State != types.StateActive {
					return fmt.Errorf("%s: state %s", fn, out.Configuration.State)
				}
				if fn == "pl-res" && (out.Concurrency == nil || aws.ToInt32(out.Concurrency.ReservedConcurrentExecutions) != 2) {
					return errors.New("pl-res: reservation not seen yet")
				}
			}
			if p := nd.metric(t, "kumo_cluster_peers"); p != 2 {
				return fmt.Errorf("%v peers", p)
			}
			return nil
		})
	}

	t.Run("WarmAffinity", func(t *testing.T) {
		first := call(t, clients[0], "pl-warm", "", event("sleep", "ms", 0)).ok(t, "invoke through n1")
		if first["invocations"] != float64(1) {
			t.Fatalf("first invocation through n1: %v, want a new sandbox", first)
		}
		eventually(t, time.Minute, "n2 hears of n1's idle sandbox", func() error {
			if n := nodes[1].metric(t, "kumo_cluster_peer_idle_sandboxes"); n < 1 {
				return fmt.Errorf("%v idle sandboxes reported to n2", n)
			}
			return nil
		})
		for i := 2; i <= 4; i++ {
			r := call(t, clients[1], "pl-warm", "", event("sleep", "ms", 0))
			got := r.ok(t, "invoke through n2")
			if got["invocations"] != float64(i) {
				t.Fatalf("invocation %d through n2 ran in a sandbox that served %v invocations, want n1's (%d)\n%s", i, got["invocations"], i, r)
			}
		}
		if n := nodes[1].metric(t, "kumo_sandboxes"); n != 0 {
			t.Errorf("n2 has %v sandboxes, want none (no cold start there)", n)
		}
		if n := nodes[1].metric(t, "kumo_cluster_invocations_total", `placement="warm"`); n != 3 {
			t.Errorf("n2 forwarded %v invocations to a warm sandbox, want 3", n)
		}
		if n := nodes[0].metric(t, "kumo_cluster_served_total"); n != 3 {
			t.Errorf("n1 served %v forwarded invocations, want 3", n)
		}
	})

	t.Run("ReservedConcurrency", func(t *testing.T) {
		// The function fetches from this server, which holds each
		// request until released (or 8 s, under the function's 10 s
		// client timeout).
		release := make(chan struct{})
		var held, peak, served atomic.Int32
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := held.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			select {
			case <-release:
			case <-time.After(8 * time.Second):
			}
			held.Add(-1)
			served.Add(1)
			fmt.Fprint(w, "released")
		})}
		go hs.Serve(ln)
		defer hs.Close()
		url := "http://" + ln.Addr().String() + "/"

		before := make([]float64, len(nodes))
		for i, nd := range nodes {
			before[i] = nd.metric(t, "kumo_sandboxes")
		}
		type result struct {
			r   *invoked
			err error
		}
		results := make(chan result, 6)
		for i := range 6 {
			go func() {
				r, err := sdkInvoke(t, clients[i%3], &lambda.InvokeInput{FunctionName: aws.String("pl-res"), Payload: event("fetch", "url", url)})
				results <- result{r, err}
			}()
		}
		var throttled, ok int
		take := func(res result) {
			switch {
			case res.err != nil:
				wantThrottle(t, "a third invocation at once", res.err, "ReservedFunctionConcurrentInvocationLimitExceeded")
				throttled++
			default:
				if body := res.r.succeeded(t, "a held invocation"); body != nil && body["body"] != "released" {
					t.Errorf("a held invocation fetched %v", body)
				}
				ok++
			}
		}
		// Until four are answered; with two held, they are throttles.
		for range 4 {
			take(<-results)
		}
		eventually(t, time.Minute, "the two admitted invocations reach the server", func() error {
			if n := held.Load() + served.Load(); n < 2 {
				return fmt.Errorf("%d reached it", n)
			}
			return nil
		})
		close(release)
		for range 2 {
			take(<-results)
		}
		t.Logf("%d ran, %d throttled; at most %d at once", ok, throttled, peak.Load())
		if p := peak.Load(); p > 2 {
			t.Errorf("%d invocations ran at once across the cluster, want at most the reserved 2", p)
		}
		if throttled < 1 || ok < 2 {
			t.Errorf("%d ran and %d were throttled, want at least 2 and at least 1", ok, throttled)
		}
		// Each node admits its share (1, 1 and 0 of 2): the two ran on
		// two nodes, each in a sandbox of its own.
		placed := 0
		for i, nd := range nodes {
			if nd.metric(t, "kumo_sandboxes") > before[i] {
				placed++
			}
		}
		if placed != 2 {
			t.Errorf("pl-res sandboxes started on %d nodes, want 2 (one per node with a share)", placed)
		}
		throttles := 0.0
		for _, nd := range nodes {
			throttles += nd.metric(t, "kumo_lambda_throttles_total", `function_name="pl-res"`)
		}
		if throttles != float64(throttled) {
			t.Errorf("kumo_lambda_throttles_total over the nodes = %v, want %d", throttles, throttled)
		}
	})
	t.Run("ProvisionedSpread", func(t *testing.T) {
		before := make([]float64, len(nodes))
		for i, nd := range nodes {
			before[i] = nd.metric(t, "kumo_sandboxes")
		}
		must[*lambda.PutProvisionedConcurrencyConfigOutput](t, "PutProvisionedConcurrencyConfig 2")(clients[0].PutProvisionedConcurrencyConfig(ctx,
			&lambda.PutProvisionedConcurrencyConfigInput{FunctionName: aws.String("pl-prov"), Qualifier: aws.String("1"),
				ProvisionedConcurrentExecutions: aws.Int32(2)}))
		// READY once the nodes' pools add up to 2.
		eventually(t, 2*time.Minute, "provisioned concurrency READY", func() error {
			out, err := clients[0].GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{
				FunctionName: aws.String("pl-prov"), Qualifier: aws.String("1")})
			if err != nil {
				return err
			}
			if out.Status != types.ProvisionedConcurrencyStatusEnumReady {
				return fmt.Errorf("status %s, %d allocated", out.Status, aws.ToInt32(out.AllocatedProvisionedConcurrentExecutions))
			}
			return nil
		})
		// Each node keeps its share (1, 1 and 0, in two zones), not the
		// whole count.
		var grew []string
		total := 0.0
		for i, nd := range nodes {
			d := nd.metric(t, "kumo_sandboxes") - before[i]
			total += d
			if d > 0 {
				grew = append(grew, nd.zone)
			}
		}
		if total != 2 || len(grew) != 2 {
			t.Errorf("%v provisioned sandboxes in zones %v, want 2 in two zones", total, grew)
		}
	})
}
