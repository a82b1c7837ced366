package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// clusterKMSKey is the KMS master key every node of a test cluster shares
// (hex of 32 bytes).
const clusterKMSKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// clusterNode is one kumo process of a test cluster.
type clusterNode struct {
	*server
	id, zone, dataDir, metricsAddr string
	args, env                      []string
}

// startCluster starts n nodes (n1…, zones a…) of one cluster on this
// machine: distinct edge, route and metrics ports and data dirs, the
// process driver, shared root credentials and KMS master key. Node 1 has
// room for one 128 MB sandbox: what it cannot run, it forwards.
func startCluster(t *testing.T, n int) []*clusterNode {
	return startClusterWith(t, n, clusterSpec{name: "e2e", idPrefix: "n", metrics: true,
		env: []string{"KUMO_ROOT_ACCESS_KEY_ID=" + rootAccessKeyID, "KUMO_ROOT_SECRET_ACCESS_KEY=" + rootSecretAccessKey,
			"KUMO_KMS_MASTER_KEY=" + clusterKMSKey, "KUMO_CLUSTER_SECRET=e2e-route-secret"},
		args: func(i int) []string {
			if i == 0 {
				return []string{"--memory-budget", "128"}
			}
			return nil
		}})
}

// clusterSpec is what differs between the test clusters.
type clusterSpec struct {
	name     string               // --cluster-name
	idPrefix string               // node ids are idPrefix1, idPrefix2, …
	metrics  bool                 // a --metrics-listen address per node
	env      []string             // every node's environment
	args     func(i int) []string // node i's further flags; nil: none
}

// startClusterWith starts n nodes of one cluster as spec says (zones a…,
// distinct edge and route ports and data dirs, the process driver). They
// start in parallel: each waits for the others before it answers /healthz.
func startClusterWith(t *testing.T, n int, spec clusterSpec) []*clusterNode {
	t.Helper()
	routes := make([]string, n)
	for i := range routes {
		a, err := freeAddr()
		if err != nil {
			t.Fatal(err)
		}
		routes[i] = a
	}
	nodes := make([]*clusterNode, n)
	for i := range nodes {
		nd := &clusterNode{id: fmt.Sprintf("%s%d", spec.idPrefix, i+1), zone: string(rune('a' + i)), dataDir: t.TempDir(), env: slices.Clone(spec.env)}
		nd.args = []string{"--sandbox", "process", "--fsync", "interval", "--node-id", nd.id, "--zone", nd.zone,
			"--cluster-name", spec.name, "--cluster-listen", routes[i], "--peers", strings.Join(routes, ",")}
		if spec.metrics {
			m, err := freeAddr()
			if err != nil {
				t.Fatal(err)
			}
			nd.metricsAddr = m
			nd.args = append(nd.args, "--metrics-listen", m)
		}
		if spec.args != nil {
			nd.args = append(nd.args, spec.args(i)...)
		}
		nodes[i] = nd
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, nd := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nd.server, errs[i] = tryLaunch(t, nd.dataDir, nd.env, nd.args)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %s: %v", nodes[i].id, err)
		}
	}
	return nodes
}

// restartCeiling bounds a member's restart on its data dir: waiting for
// the other members and its catch-up, then opening its store.
const restartCeiling = 2 * time.Minute

// restart starts nd again on its data dir (a new edge port) and waits until
// it is ready, logging what its /healthz says it waits for meanwhile. A
// restart that does not end in time dumps the node's goroutines (SIGQUIT)
// into its log, which the failing test prints.
func (nd *clusterNode) restart(t *testing.T) {
	t.Helper()
	start := time.Now()
	s, err := tryLaunch(t, nd.dataDir, nd.env, nd.args)
	if s == nil {
		t.Fatalf("restarting %s: %v", nd.id, err)
	}
	if err != nil {
		// Not ready within tryLaunch's wait: it says on /healthz what
		// it waits for.
		var waiting string
		err = poll(restartCeiling-time.Since(start), func() error {
			select {
			case <-s.done:
				return stopPolling(fmt.Errorf("kumo exited before it was ready: %v", s.exitErr))
			default:
			}
			resp, err := healthClient.Get(s.url + "/healthz")
			if err != nil {
				return err
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				for _, line := range strings.Split(string(b), "\n") {
					// "waiting: stream X (12s; last: …)": logged when
					// what it waits for changes.
					if w, ok := strings.CutPrefix(line, "waiting: "); ok && whatOf(w) != waiting {
						waiting = whatOf(w)
						t.Logf("%s after %s: waiting: %s", nd.id, time.Since(start).Round(time.Second), w)
					}
				}
				return fmt.Errorf("GET /healthz: %s: %s", resp.Status, b)
			}
			return nil
		})
	}
	if err != nil {
		s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
		}
		t.Fatalf("restarting %s: %v after %s", nd.id, err, time.Since(start).Round(time.Millisecond))
	}
	t.Logf("%s restarted in %s", nd.id, time.Since(start).Round(time.Millisecond))
	// What made it wait: an open that needed retries, or an update of
	// what it found (a restart should find everything as it left it).
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		if strings.Contains(line, "still opening the store") || strings.Contains(line, "updating to the configuration") {
			t.Logf("%s: %s", nd.id, line)
		}
	}
	nd.server = s
}

// whatOf is what a "waiting:" line of /healthz names, without its
// duration and last error.
func whatOf(w string) string {
	what, _, _ := strings.Cut(w, " (")
	return what
}

// metric sums the samples of name on nd's /metrics whose labels contain
// every one of match ("state=\"idle\"").
func (nd *clusterNode) metric(t *testing.T, name string, match ...string) float64 {
	t.Helper()
	resp, err := healthClient.Get("http://" + nd.metricsAddr + "/metrics")
	if err != nil {
		t.Fatalf("%s /metrics: %v", nd.id, err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, m := range match {
			ok = ok && strings.Contains(line, m)
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		sum += v
	}
	return sum
}

// TestCluster runs three nodes in zones a, b and c: a function deployed
// through node 1 is invoked through nodes 2 and 3,
// a message sent through node 1 is received through node 3; then node 3 is
// killed with SIGKILL under a mixed load of sync invokes, Event invokes
// and SQS sends: every acknowledged Event invocation runs and every
// acknowledged message is received, the failed requests are counted and
// few; node 3 restarts on its data dir and serves again.
func TestCluster(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx := t.Context()
	for _, nd := range nodes {
		resp, err := healthClient.Get(nd.url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "node: "+nd.id+"\n") || !strings.Contains(string(b), "zone: "+nd.zone+"\n") {
			t.Errorf("%s /healthz: %q", nd.id, b)
		}
		if v := nd.metric(t, "kumo_node_info", `node="`+nd.id+`"`, `zone="`+nd.zone+`"`, `replicas="3"`); v != 1 {
			t.Errorf("%s: kumo_node_info{node=%q,zone=%q,replicas=3} = %v", nd.id, nd.id, nd.zone, v)
		}
	}

	// Deploy through node 1; invoke through nodes 2 and 3.
	lc1 := newSDK(t, nodes[0].server)
	rec := deployRecorder(t, lc1, "cl-rec", "")
	for _, nd := range nodes[1:] {
		lc := newSDK(t, nd.server)
		eventually(t, time.Minute, nd.id+" sees the function", func() error {
			out, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("cl-rec")})
			if err != nil {
				return err
			}
			if out.Configuration.State != types.StateActive {
				return fmt.Errorf("state %s", out.Configuration.State)
			}
			return nil
		})
		out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("cl-rec"), Payload: []byte(`{"via":"` + nd.id + `"}`)})
		if err != nil {
			t.Fatalf("invoke through %s: %v", nd.id, err)
		}
		if out.FunctionError != nil || string(out.Payload) != `{"echo":{"via":"`+nd.id+`"}}` {
			t.Fatalf("invoke through %s: %s %s", nd.id, aws.ToString(out.FunctionError), out.Payload)
		}
	}
	// Where they ran is placement's choice: the second node may run its
	// invocation there or, knowing the first node's idle sandbox, forward
	// it (warm affinity). Either way some node holds a sandbox; that
	// sandboxes spread over nodes is TestClusterPlacement's.
	placed := 0
	for _, nd := range nodes {
		n := nd.metric(t, "kumo_sandboxes")
		t.Logf("%s (zone %s): %v sandboxes", nd.id, nd.zone, n)
		if n > 0 {
			placed++
		}
	}
	if placed == 0 {
		t.Error("no node holds a sandbox after two invocations")
	}

	// SQS: send through node 1, receive through node 3.
	sq1, sq3 := newSQS(nodes[0].server), newSQS(nodes[2].server)
	q := must[*sqs.CreateQueueOutput](t, "CreateQueue")(sq1.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("cl-q")}))
	must[*sqs.SendMessageOutput](t, "SendMessage")(sq1.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("hello from n1")}))
	eventually(t, time.Minute, "n3 receives the message sent through n1", func() error {
		out, err := sq3.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 1})
		if err != nil {
			return err
		}
		if len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != "hello from n1" {
			return fmt.Errorf("received %d messages", len(out.Messages))
		}
		_, err = sq3.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: out.Messages[0].ReceiptHandle})
		return err
	})

	t.Run("Forward", func(t *testing.T) { clusterForward(t, nodes) })
	t.Run("KillNode", func(t *testing.T) { clusterKill(t, nodes, rec, q.QueueUrl) })
}

// loadStats counts a mixed load's requests.
type loadStats struct {
	mu     sync.Mutex
	events map[string]bool // acknowledged Event payload keys
	msgs   map[string]bool // acknowledged message bodies
	sync   int             // synchronous invokes answered 200
	failed map[string]int  // failed requests by node and kind
	acked  atomic.Int64
}

func (ls *loadStats) fail(node, kind string, err error, t *testing.T) {
	ls.mu.Lock()
	ls.failed[node+" "+kind]++
	n := ls.failed[node+" "+kind]
	ls.mu.Unlock()
	if n <= 3 {
		t.Logf("%s %s failed: %v", node, kind, err)
	}
}

func clusterKill(t *testing.T, nodes []*clusterNode, rec string, queueURL *string) {
	ls := &loadStats{events: map[string]bool{}, msgs: map[string]bool{}, failed: map[string]int{}}
	// The load stops by a flag, not by cancelling: a request cancelled
	// under way is a failure of the client's making.
	ctx := t.Context()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var killed atomic.Bool
	for _, nd := range nodes {
		lc, sq := newSDK(t, nd.server), newSQS(nd.server)
		gone := func() bool { return nd == nodes[2] && killed.Load() }
		worker := func(kind string, do func(i int) error) {
			defer wg.Done()
			for i := 0; !stop.Load() && !gone(); i++ {
				err := do(i)
				if err != nil {
					ls.fail(nd.id, kind, err, t)
				}
			}
		}
		wg.Add(3)
		go worker("sync", func(i int) error {
			// Longer than a node waits for an invocation it forwarded
			// to the killed one (the function's 10 s timeout with its
			// init, and margins: package forward), so that the node
			// answers it with a 5xx rather than the client giving up.
			rctx, rcancel := context.WithTimeout(ctx, time.Minute)
			defer rcancel()
			out, err := lc.Invoke(rctx, &lambda.InvokeInput{FunctionName: aws.String("cl-rec"), Payload: fmt.Appendf(nil, `{"k":"sync-%s-%d"}`, nd.id, i)})
			if err != nil {
				return err
			}
			if out.FunctionError != nil {
				return fmt.Errorf("function error %s", aws.ToString(out.FunctionError))
			}
			ls.mu.Lock()
			ls.sync++
			ls.mu.Unlock()
			ls.acked.Add(1)
			return nil
		})
		go worker("event", func(i int) error {
			rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
			defer rcancel()
			key := fmt.Sprintf("event-%s-%d", nd.id, i)
			if _, err := lc.Invoke(rctx, &lambda.InvokeInput{FunctionName: aws.String("cl-rec"), InvocationType: types.InvocationTypeEvent,
				Payload: fmt.Appendf(nil, `{"k":%q}`, key)}); err != nil {
				return err
			}
			ls.mu.Lock()
			ls.events[key] = true
			ls.mu.Unlock()
			ls.acked.Add(1)
			return nil
		})
		go worker("sqs", func(i int) error {
			rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
			defer rcancel()
			body := fmt.Sprintf("msg-%s-%d", nd.id, i)
			if _, err := sq.SendMessage(rctx, &sqs.SendMessageInput{QueueUrl: queueURL, MessageBody: aws.String(body)}); err != nil {
				return err
			}
			ls.mu.Lock()
			ls.msgs[body] = true
			ls.mu.Unlock()
			ls.acked.Add(1)
			return nil
		})
	}
	waitAcked := func(n int64) {
		t.Helper()
		eventually(t, 3*time.Minute, fmt.Sprintf("%d acknowledged requests", n), func() error {
			if got := ls.acked.Load(); got < n {
				return fmt.Errorf("%d acknowledged", got)
			}
			return nil
		})
	}
	waitAcked(90)
	before := ls.acked.Load()
	nodes[2].expectedErrors = append(nodes[2].expectedErrors, "") // killed: its log is cut anywhere
	for _, nd := range nodes[:2] {
		// The survivors' routes to the dead node break, and a write
		// whose stream's leader was there waits for the next election:
		// past its timeout it is answered a retryable 5xx (counted), as
		// is a synchronous invoke forwarded to the dead node.
		nd.expectedErrors = append(nd.expectedErrors, "Error flushing", "cannot store events now", "sqs request failed", "did not answer within")
	}
	killed.Store(true)
	nodes[2].kill9()
	t.Logf("killed %s after %d acknowledged requests", nodes[2].id, before)
	waitAcked(before + 90)
	stop.Store(true)
	wg.Wait()

	ls.mu.Lock()
	total := int(ls.acked.Load())
	var failed int
	for k, n := range ls.failed {
		failed += n
		t.Logf("failed requests, %s: %d", k, n)
	}
	t.Logf("mixed load: %d acknowledged (%d sync invokes, %d Event invokes, %d SQS sends), %d failed", total, ls.sync, len(ls.events), len(ls.msgs), failed)
	events, msgs := ls.events, ls.msgs
	ls.mu.Unlock()
	if failed > 3+total/10 {
		t.Errorf("%d of %d requests failed", failed, total+failed)
	}

	// Every acknowledged Event invocation runs (see everyEventRan).
	eventually(t, 3*time.Minute, "every acknowledged Event invocation runs", func() error {
		return everyEventRan(t, nodes, rec, events)
	})
	// Event attempts the survivors had sent to the killed node: each
	// waits for its answer until the forwarder gives up (the function's
	// timeout and a margin), then runs again.
	for _, nd := range nodes[:2] {
		for _, l := range strings.Split(nd.server.stderr.String(), "\n") {
			if strings.Contains(l, "component=asyncq") && (strings.Contains(l, "did not answer") ||
				strings.Contains(l, "long attempt ended") || strings.Contains(l, "still held by a running attempt")) {
				t.Logf("%s: %s", nd.id, l)
			}
		}
	}
	// Every acknowledged message is received (through the survivors).
	got := map[string]bool{}
	sq := newSQS(nodes[0].server)
	eventually(t, 3*time.Minute, "every acknowledged message is received", func() error {
		out, err := sq.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: queueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			return err
		}
		for _, m := range out.Messages {
			got[aws.ToString(m.Body)] = true
			sq.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: queueURL, ReceiptHandle: m.ReceiptHandle})
		}
		missing := 0
		for b := range msgs {
			if !got[b] {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d acknowledged messages not received yet", missing, len(msgs))
		}
		return nil
	})

	// Node 3 rejoins on its data dir and serves invokes and queues again.
	nodes[2].restart(t)
	lc := newSDK(t, nodes[2].server)
	eventually(t, time.Minute, "the restarted node invokes", func() error {
		out, err := lc.Invoke(t.Context(), &lambda.InvokeInput{FunctionName: aws.String("cl-rec"), Payload: []byte(`{"k":"after-rejoin"}`)})
		if err != nil {
			return err
		}
		if string(out.Payload) != `{"echo":{"k":"after-rejoin"}}` {
			return fmt.Errorf("payload %s", out.Payload)
		}
		return nil
	})
	sq3 := newSQS(nodes[2].server)
	if _, err := sq3.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: queueURL, MessageBody: aws.String("after rejoin")}); err != nil {
		t.Fatalf("send through the restarted node: %v", err)
	}
}

// clusterForward: node 1 has room for one sandbox; while it runs a slow
// invocation, another invocation through node 1 is forwarded to a node
// with room and answered, where a single node would throttle it.
func clusterForward(t *testing.T, nodes []*clusterNode) {
	lc1 := newSDK(t, nodes[0].server)
	zip := makeZip(t, zipEntry{Name: "app.py", Body: "import time\ndef handler(event, context):\n    time.sleep(event.get('s', 0))\n    return {'slept': event.get('s', 0)}\n"})
	must[*lambda.CreateFunctionOutput](t, "CreateFunction")(lc1.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String("cl-sleep"), Runtime: types.RuntimePython312, Role: aws.String(testRole),
		Handler: aws.String("app.handler"), Code: &types.FunctionCode{ZipFile: zip}, MemorySize: aws.Int32(128), Timeout: aws.Int32(60)}))
	waitActive(t, lc1, "cl-sleep")
	slow := make(chan error, 1)
	go func() {
		out, err := lc1.Invoke(t.Context(), &lambda.InvokeInput{FunctionName: aws.String("cl-sleep"), Payload: []byte(`{"s": 20}`)})
		if err == nil && string(out.Payload) != `{"slept": 20}` {
			err = fmt.Errorf("payload %s", out.Payload)
		}
		slow <- err
	}()
	eventually(t, time.Minute, "node 1 busy with the slow invocation", func() error {
		if n := nodes[0].metric(t, "kumo_sandboxes", `state="Busy"`); n < 1 {
			return fmt.Errorf("%v busy sandboxes on n1", n)
		}
		return nil
	})
	out, err := lc1.Invoke(t.Context(), &lambda.InvokeInput{FunctionName: aws.String("cl-sleep"), Payload: []byte(`{"s": 0}`)})
	if err != nil {
		t.Fatalf("invoke through the full node 1: %v", err)
	}
	if string(out.Payload) != `{"slept": 0}` {
		t.Fatalf("forwarded invoke: %s", out.Payload)
	}
	if n := nodes[0].metric(t, "kumo_sandboxes"); n != 1 {
		t.Errorf("node 1 holds %v sandboxes, want only the busy one", n)
	}
	if err := <-slow; err != nil {
		t.Fatalf("the slow invocation: %v", err)
	}
}

// everyEventRan fails unless every acknowledged Event invocation in events
// has run (the recorder function rec logged it). An event whose attempt
// a survivor had sent to the killed node, or whose attempt never got an
// answer, runs again once the forwarder's bound or the queue's (the
// function's timeout and margins: package asyncq) has passed.
func everyEventRan(t *testing.T, nodes []*clusterNode, rec string, events map[string]bool) error {
	seen := map[string]bool{}
	for _, l := range readRec(t, rec) {
		var ev struct{ K string }
		json.Unmarshal(l.Event, &ev)
		seen[ev.K] = true
	}
	var missing []string
	for k := range events {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		// Which node accepted them (the key names it), and whether
		// the survivors still store events of cl-rec: stored means
		// nothing drains them, not stored means they were lost.
		sort.Strings(missing)
		var depth []string
		for _, nd := range nodes[:2] {
			depth = append(depth, fmt.Sprintf("%s: %v stored, %v redelivered", nd.id,
				nd.metric(t, "kumo_async_queue_depth", `function_name="cl-rec"`), nd.metric(t, "kumo_async_redeliveries_total")))
		}
		return fmt.Errorf("%d of %d acknowledged Event invocations have not run (%s; %s)", len(missing), len(events),
			strings.Join(missing[:min(len(missing), 5)], " "), strings.Join(depth, "; "))
	}
	return nil
}
