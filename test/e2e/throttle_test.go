package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// wantThrottle checks err is Lambda's 429 TooManyRequestsException with
// the given Reason and a Retry-After header.
func wantThrottle(t *testing.T, what string, err error, reason string) {
	t.Helper()
	var tm *types.TooManyRequestsException
	if !errors.As(err, &tm) {
		t.Fatalf("%s: error %v, want TooManyRequestsException", what, err)
	}
	if string(tm.Reason) != reason {
		t.Errorf("%s: Reason %q, want %q", what, tm.Reason, reason)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		if re.HTTPStatusCode() != http.StatusTooManyRequests {
			t.Errorf("%s: status %d, want 429", what, re.HTTPStatusCode())
		}
		if re.Response.Header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After header", what)
		}
	}
}

// TestThrottling: reserved concurrency bounds a function's parallel
// invocations across its versions and aliases, 0 throttles everything, and
// removing the reservation lifts the limit.
func TestThrottling(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	lc := newSDK(t, s)
	deployFn(t, lc, "thr", "one", fnConfig{Memory: 256, Timeout: 10, Publish: true})
	call(t, lc, "thr", "", event("echo")).succeeded(t, "before any reservation")

	must[*lambda.PutFunctionConcurrencyOutput](t, "PutFunctionConcurrency 0")(lc.PutFunctionConcurrency(t.Context(),
		&lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("thr"), ReservedConcurrentExecutions: aws.Int32(0)}))
	_, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String("thr"), Payload: event("echo")})
	wantThrottle(t, "reserved 0", err, "ReservedFunctionConcurrentInvocationLimitExceeded")

	must[*lambda.PutFunctionConcurrencyOutput](t, "PutFunctionConcurrency 1")(lc.PutFunctionConcurrency(t.Context(),
		&lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("thr"), ReservedConcurrentExecutions: aws.Int32(1)}))
	// One slow invocation of version 1 holds the only slot; $LATEST is the
	// same function and is throttled meanwhile.
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		close(started)
		call(t, lc, "thr", "1", event("sleep", "ms", 1500)).succeeded(t, "the slow invocation")
	}()
	<-started
	eventually(t, 5*time.Second, "the slow invocation running", func() error {
		samples, _ := scrape(t, s)
		if n, _ := promSum(samples, "kumo_lambda_concurrent_executions", map[string]string{"function_name": "thr"}); n != 1 {
			return fmt.Errorf("%v running", n)
		}
		return nil
	})
	_, err = sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String("thr"), Payload: event("echo")})
	wantThrottle(t, "second invocation with reserved 1", err, "ReservedFunctionConcurrentInvocationLimitExceeded")
	wg.Wait()
	// The slot came back when the slow invocation ended.
	call(t, lc, "thr", "", event("echo")).succeeded(t, "after the slot was released")

	if _, err := lc.DeleteFunctionConcurrency(t.Context(), &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("thr")}); err != nil {
		t.Fatal(err)
	}
	var par sync.WaitGroup
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		par.Add(1)
		go func() {
			defer par.Done()
			_, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String("thr"), Payload: event("sleep", "ms", 300)})
			errs <- err
		}()
	}
	par.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("without a reservation, parallel invocations: %v", err)
		}
	}
	samples, _ := scrape(t, s)
	if n, _ := promSum(samples, "kumo_lambda_throttles_total", map[string]string{"function_name": "thr"}); n < 2 {
		t.Errorf("kumo_lambda_throttles_total = %v, want at least 2", n)
	}
}
