package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// TestNodeMemoryBudget: sandboxes are charged what they use. With room
// for two sandboxes that really use 200 MB each, a third such function
// evicts the least recently used idle sandbox; when both are busy the next
// cold start is throttled, never overcommitted.
func TestNodeMemoryBudget(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--memory-budget", "512")
	lc := newSDK(t, s)
	for _, name := range []string{"cap1", "cap2", "cap3"} {
		deployFn(t, lc, name, "one", fnConfig{Memory: 256, Timeout: 10})
	}
	hold := event("hold", "size", 200)
	call(t, lc, "cap1", "", hold).succeeded(t, "cap1 cold")
	call(t, lc, "cap2", "", hold).succeeded(t, "cap2 cold")
	// cap3 needs room: cap1, used longest ago, is evicted; cap2 stays warm.
	call(t, lc, "cap3", "", hold).succeeded(t, "cap3 cold, evicting cap1")
	if r := call(t, lc, "cap2", "", event("echo")); r.body(t)["invocations"] != float64(2) {
		t.Errorf("cap2 was evicted although cap1 was older: %v", r.body(t))
	}
	if r := call(t, lc, "cap1", "", hold); r.body(t)["invocations"] != float64(1) {
		t.Errorf("cap1 should have been evicted and started cold: %v", r.body(t))
	}

	// Now cap1 and one of the others hold the budget. Keep both busy and
	// a cold start of the third must be throttled.
	var wg sync.WaitGroup
	started := make(chan struct{}, 2)
	for _, name := range []string{"cap1", "cap2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			call(t, lc, name, "", event("sleep", "ms", 2500)).succeeded(t, name+" busy")
		}()
	}
	<-started
	<-started
	eventually(t, 5*time.Second, "both sleeping invocations running", func() error {
		samples, _ := scrape(t, s)
		if n, _ := promSum(samples, "kumo_lambda_account_concurrent_executions", nil); n != 2 {
			return fmt.Errorf("%v running", n)
		}
		return nil
	})
	_, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String("cap3"), Payload: event("echo")})
	wantThrottle(t, "cold start with no memory left", err, "ConcurrentInvocationLimitExceeded")
	wg.Wait()
	call(t, lc, "cap3", "", event("echo")).succeeded(t, "cap3 once memory is free again")
}

// TestNodeMemoryOvercommit: functions that use a fraction of their
// configured memory are charged what they use, so more of them stay warm
// than their configured sizes add up to.
func TestNodeMemoryOvercommit(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--memory-budget", "512")
	lc := newSDK(t, s)
	names := []string{"oc1", "oc2", "oc3", "oc4"} // 4 × 256 MB configured
	for _, name := range names {
		deployFn(t, lc, name, "one", fnConfig{Memory: 256, Timeout: 10})
	}
	for _, name := range names {
		call(t, lc, name, "", event("echo")).succeeded(t, name+" cold")
	}
	for _, name := range names {
		if r := call(t, lc, name, "", event("echo")); r.body(t)["invocations"] != float64(2) {
			t.Errorf("%s was evicted from a budget its use fits in: %v", name, r.body(t))
		}
	}
}
