package e2e

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// parallelInvokes starts n invocations of name at once and returns how
// many succeeded and the throttling reasons of the others (function errors
// are counted under "function error").
func parallelInvokes(t *testing.T, lc *lambda.Client, name string, n int, payload []byte) (ok int, reasons map[string]int) {
	t.Helper()
	var mu sync.Mutex
	reasons = map[string]int{}
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			began := time.Now()
			r, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: payload, LogType: types.LogTypeNone})
			mu.Lock()
			defer mu.Unlock()
			var tm *types.TooManyRequestsException
			switch {
			case err == nil && r.FunctionError == "":
				ok++
			case errors.As(err, &tm):
				reasons[string(tm.Reason)]++
			case err != nil:
				t.Errorf("invoke %s: %v", name, err)
			default:
				reasons["function error"]++
				t.Logf("invoke %s (%v): %s: %.300s", name, time.Since(began).Round(time.Millisecond), r.FunctionError, r.Payload)
			}
		}()
	}
	close(gate)
	wg.Wait()
	return ok, reasons
}

func running(t *testing.T, s *server, fn string) float64 {
	samples, _ := scrape(t, s)
	n, _ := promSum(samples, "kumo_lambda_concurrent_executions", map[string]string{"function_name": fn})
	return n
}

// TestConcurrencyLimits: with parallel clients, a function reserving 5
// runs exactly 5 at once and throttles the rest with
// ReservedFunctionConcurrentInvocationLimitExceeded; the unreserved pool
// throttles exactly at its limit with ConcurrentInvocationLimitExceeded
// while the reserved function keeps serving through the flood; counts
// return to zero after timeouts and crashed runtimes.
func TestConcurrencyLimits(t *testing.T) {
	t.Parallel()
	// Account limit 110: "res" reserves 10, leaving the 100 unreserved
	// that Lambda keeps at least.
	s := startServer(t, t.TempDir(), "--account-concurrency", "110")
	lc := newSDK(t, s)
	// res's 6 s timeout leaves room for a loaded machine to run its 700 ms
	// sleeps, and its echoes while a hundred of flood's sandboxes start;
	// its timeout step sleeps far past it. flood's 8 s sleeps hold its
	// hundred slots while a loaded machine is still admitting the last of
	// them.
	deployFn(t, lc, "res", "one", fnConfig{Timeout: 6})
	deployFn(t, lc, "flood", "one", fnConfig{Timeout: 15})
	must[*lambda.PutFunctionConcurrencyOutput](t, "PutFunctionConcurrency")(lc.PutFunctionConcurrency(t.Context(),
		&lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("res"), ReservedConcurrentExecutions: aws.Int32(10)}))

	ok, reasons := parallelInvokes(t, lc, "res", 16, event("sleep", "ms", 700))
	if reasons["function error"] > 0 {
		t.Errorf("function errors: %v", reasons)
	}
	if ok != 10 || reasons["ReservedFunctionConcurrentInvocationLimitExceeded"] != 6 {
		t.Errorf("16 parallel invokes with 10 reserved: %d ran, throttled %v; want 10 and 6 ReservedFunctionConcurrentInvocationLimitExceeded", ok, reasons)
	}

	// Flood the unreserved pool with 104 long invocations while the
	// reserved function serves 8 at once.
	var wg sync.WaitGroup
	var floodOK int
	var floodReasons map[string]int
	wg.Add(1)
	go func() {
		defer wg.Done()
		floodOK, floodReasons = parallelInvokes(t, lc, "flood", 104, event("sleep", "ms", 8000))
	}()
	eventually(t, 30*time.Second, "the flood holding the unreserved pool", func() error {
		if n := running(t, s, "flood"); n < 100 {
			return fmt.Errorf("%v running", n)
		}
		return nil
	})
	resOK, resReasons := parallelInvokes(t, lc, "res", 8, event("echo"))
	if resOK != 8 {
		t.Errorf("the reserved function during another's flood: %d of 8 ran, throttled %v", resOK, resReasons)
	}
	wg.Wait()
	if floodOK != 100 || floodReasons["ConcurrentInvocationLimitExceeded"] != 4 {
		t.Errorf("104 parallel invokes on the 100-wide unreserved pool: %d ran, throttled %v; want 100 and 4 ConcurrentInvocationLimitExceeded", floodOK, floodReasons)
	}

	// Timeouts and crashed runtimes give their slots back.
	ok, reasons = parallelInvokes(t, lc, "res", 3, event("sleep", "ms", 20000))
	if ok != 0 || reasons["function error"] != 3 {
		t.Errorf("3 invocations past the 6 s timeout: %d succeeded, %v", ok, reasons)
	}
	for i := 0; i < 3; i++ {
		if r, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String("res"), Payload: event("exit", "code", 3)}); err != nil || r.FunctionError == "" {
			t.Errorf("a crashing runtime: %v %+v", err, r)
		}
	}
	eventually(t, 10*time.Second, "no invocation counted as running", func() error {
		for _, fn := range []string{"res", "flood"} {
			if n := running(t, s, fn); n != 0 {
				return fmt.Errorf("%s: %v running", fn, n)
			}
		}
		return nil
	})
	ok, reasons = parallelInvokes(t, lc, "res", 10, event("sleep", "ms", 300))
	if ok != 10 {
		t.Errorf("after timeouts and crashes, 10 reserved slots: %d ran, throttled %v", ok, reasons)
	}
}

// TestCanaryShare: an alias sending 30% to version 2 does so within
// statistical bounds over 1,000 invocations.
func TestCanaryShare(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	lc := newSDK(t, s)
	deployFn(t, lc, "canary", "v1", fnConfig{Publish: true})
	must[*lambda.UpdateFunctionCodeOutput](t, "UpdateFunctionCode")(lc.UpdateFunctionCode(t.Context(),
		&lambda.UpdateFunctionCodeInput{FunctionName: aws.String("canary"), ZipFile: fnZip(t, "v2")}))
	waitUpdated(t, lc, "canary")
	must[*lambda.PublishVersionOutput](t, "PublishVersion")(lc.PublishVersion(t.Context(), &lambda.PublishVersionInput{FunctionName: aws.String("canary")}))
	const weight, n = 0.3, 1000
	must[*lambda.CreateAliasOutput](t, "CreateAlias")(lc.CreateAlias(t.Context(), &lambda.CreateAliasInput{
		FunctionName: aws.String("canary"), Name: aws.String("live"), FunctionVersion: aws.String("1"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": weight}},
	}))
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	work := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		work <- struct{}{}
	}
	close(work)
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				r := call(t, lc, "canary", "live", event("echo"))
				tag := jstr(r.ok(t, "canary invoke"), "tag")
				if (tag == "v2") != (r.Version == "2") {
					t.Errorf("executed version %s ran code %s", r.Version, tag)
				}
				mu.Lock()
				counts[r.Version]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Binomial(1000, 0.3): mean 300, sd 14.5; 5 sd either side.
	sd := math.Sqrt(n * weight * (1 - weight))
	if got := float64(counts["2"]); math.Abs(got-n*weight) > 5*sd || counts["1"]+counts["2"] != n {
		t.Errorf("version counts %v over %d invocations, want about %.0f on version 2 (±%.0f)", counts, n, n*weight, 5*sd)
	}
	t.Logf("version 2 share %.3f (weight %.2f)", float64(counts["2"])/n, weight)
}
