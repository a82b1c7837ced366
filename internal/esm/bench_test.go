package esm_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kumo-run/kumo/internal/poll"
)

// BenchmarkPoller is the mapping's own cost: a backlog of 2,000 messages
// drained through the real SQS service on an embedded NATS into an
// invoker that returns at once (no sandbox), BatchSize 10, 10 concurrent
// batches. It reports events/s from the mapping's creation to the last
// delete.
func BenchmarkPoller(b *testing.B) {
	const n = 2000
	for b.Loop() {
		b.StopTimer()
		h := newHarness(b)
		h.function(b, "f")
		url, arn := h.queue(b, "q", nil)
		for i := 0; i < n; i += 10 {
			var entries []sqstypes.SendMessageBatchRequestEntry
			for j := i; j < i+10; j++ {
				entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), MessageBody: aws.String(strconv.Itoa(j))})
			}
			if _, err := h.qc.SendMessageBatch(b.Context(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		t0 := time.Now()
		h.mapping(b, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(arn)})
		poll.Until(b, time.Minute, "the backlog drained", func() error {
			if v, f := h.queueCounts(b, url); v+f != 0 {
				return fmt.Errorf("%d left", v+f)
			}
			return nil
		})
		b.ReportMetric(n/time.Since(t0).Seconds(), "events/s")
	}
}
