package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	kpoll "github.com/kumo-run/kumo/internal/poll"
)

// BenchmarkESMSQS measures SQS → Lambda end to end on the built binary
// (process driver): messages sent with SendMessageBatch by 4 clients, a
// mapping with BatchSize 10 and MaximumConcurrency ESM_CONCURRENCY (10
// unless set), the Go recorder function. It reports events/s (first send
// → last run) and the latency of each message from its send to the run
// of the function that got it.
//
//	go test ./test/e2e -run '^$' -bench BenchmarkESMSQS -benchtime 1x
func BenchmarkESMSQS(b *testing.B) {
	const n = 2000
	s := launch(b, b.TempDir(), []string{"KUMO_ROOT_ACCESS_KEY_ID=" + rootAccessKeyID,
		"KUMO_ROOT_SECRET_ACCESS_KEY=" + rootSecretAccessKey}, "--sandbox", "process")
	lc, qc := newSDK(b, s), newSQS(s)
	ctx := b.Context()
	file := filepath.Join(b.TempDir(), "bench.jsonl")
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("esm-bench"), Runtime: types.RuntimeProvidedal2023, Role: aws.String(esmRole(b, s, "esm-bench-role")),
		Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: esmRecorderZip(b)}, MemorySize: aws.Int32(128),
		Timeout: aws.Int32(30), Environment: &types.Environment{Variables: map[string]string{"REC_FILE": file}},
	}); err != nil {
		b.Fatal(err)
	}
	q, err := qc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("esm-bench")})
	if err != nil {
		b.Fatal(err)
	}
	arn := "arn:aws:sqs:" + region + ":" + accountID + ":esm-bench"
	conc := int32(10)
	if v, err := strconv.Atoi(os.Getenv("ESM_CONCURRENCY")); err == nil && v >= 2 {
		conc = int32(v)
	}
	kpoll.Until(b, 0, "the function to be active", func() error {
		out, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("esm-bench")})
		if err != nil {
			return err
		}
		if out.Configuration.State != types.StateActive {
			return fmt.Errorf("state %s", out.Configuration.State)
		}
		return nil
	})
	m, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-bench"),
		EventSourceArn: aws.String(arn), BatchSize: aws.Int32(10), ScalingConfig: &types.ScalingConfig{MaximumConcurrency: aws.Int32(conc)}})
	if err != nil {
		b.Fatal(err)
	}
	kpoll.Until(b, 0, "the mapping to be enabled", func() error {
		out, err := lc.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: m.UUID})
		if err != nil {
			return err
		}
		if aws.ToString(out.State) != "Enabled" {
			return fmt.Errorf("state %s", aws.ToString(out.State))
		}
		return nil
	})
	b.ResetTimer()
	t0 := time.Now()
	var wg sync.WaitGroup
	var sendErr error
	var mu sync.Mutex
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c * 10; i < n; i += 40 {
				var entries []sqstypes.SendMessageBatchRequestEntry
				for j := i; j < i+10 && j < n; j++ {
					entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)),
						MessageBody: aws.String(strconv.FormatInt(time.Now().UnixNano(), 10))})
				}
				if _, err := qc.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: q.QueueUrl, Entries: entries}); err != nil {
					mu.Lock()
					sendErr = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if sendErr != nil {
		b.Fatal(sendErr)
	}
	sent := time.Since(t0)
	var lines []esmLine
	kpoll.Until(b, 5*time.Minute, "every message processed", func() error {
		lines = readESMRec(b, file)
		if len(lines) < n {
			return fmt.Errorf("%d of %d", len(lines), n)
		}
		return nil
	})
	var last int64
	lat := make([]float64, 0, len(lines))
	for _, l := range lines {
		sentNs, _ := strconv.ParseInt(l.Body, 10, 64)
		ran, _ := strconv.ParseInt(l.T, 10, 64)
		last = max(last, ran)
		lat = append(lat, float64(ran-sentNs)/1e6)
	}
	sort.Float64s(lat)
	total := time.Duration(last - t0.UnixNano())
	b.ReportMetric(float64(n)/total.Seconds(), "events/s")
	b.ReportMetric(float64(n)/sent.Seconds(), "sent/s")
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
	b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
	b.Logf("%d messages, MaximumConcurrency %d: sent in %v, processed in %v; latency p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		n, conc, sent, total, lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])

	// Unloaded: one message at a time, the next once the last has run.
	const one = 50
	idle := make([]float64, 0, one)
	for i := range one {
		body := strconv.FormatInt(time.Now().UnixNano(), 10)
		if _, err := qc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(body)}); err != nil {
			b.Fatal(err)
		}
		kpoll.Until(b, time.Minute, "the single message processed", func() error {
			lines = readESMRec(b, file)
			if len(lines) < n+i+1 {
				return fmt.Errorf("not yet")
			}
			return nil
		})
		l := lines[len(lines)-1]
		sentNs, _ := strconv.ParseInt(l.Body, 10, 64)
		ran, _ := strconv.ParseInt(l.T, 10, 64)
		idle = append(idle, float64(ran-sentNs)/1e6)
	}
	sort.Float64s(idle)
	b.ReportMetric(idle[len(idle)/2], "idle-p50-ms")
	b.ReportMetric(idle[len(idle)*99/100], "idle-p99-ms")
	b.Logf("one message at a time (%d): latency p50 %.1f ms, p99 %.1f ms", one, idle[len(idle)/2], idle[len(idle)*99/100])
}
