// Command noop is the function the benchmarks deploy: an aws-lambda-go
// handler that does nothing and says how long that took.
//
// With KUMO_BENCH_EXIT=1 in its environment it exits before the Go runtime
// client starts, which makes it the host-floor measure of executing a
// static binary.
package main

import (
	"context"
	"encoding/json"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// result is the handler's answer: the nanoseconds spent in the handler,
// so that a client can subtract the function's own time from what it
// observed.
type result struct {
	HandlerNs int64 `json:"handlerNs"`
}

func handle(_ context.Context, _ json.RawMessage) (result, error) {
	t := time.Now()
	return result{HandlerNs: time.Since(t).Nanoseconds()}, nil
}

func main() {
	if os.Getenv("KUMO_BENCH_EXIT") == "1" {
		os.Exit(0)
	}
	lambda.Start(handle)
}
