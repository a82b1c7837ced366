package esm_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/esm"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/poll"
)

func (h *harness) mapping(t testing.TB, in *lambda.CreateEventSourceMappingInput) string {
	t.Helper()
	out, err := h.lc.CreateEventSourceMapping(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateEventSourceMapping: %v", err)
	}
	return aws.ToString(out.UUID)
}

// drained waits until the queue holds no message, visible or in flight.
func (h *harness) drained(t testing.TB, url string) {
	t.Helper()
	poll.Until(t, 0, "the queue to drain", func() error {
		if v, n := h.queueCounts(t, url); v+n != 0 {
			return fmt.Errorf("%d visible, %d in flight", v, n)
		}
		return nil
	})
}

// TestPollerDelivers: every message reaches the function once, in the
// SQS event's shape, and is deleted after the invoke succeeded; batches
// hold at most BatchSize.
func TestPollerDelivers(t *testing.T) {
	h := newHarness(t)
	h.function(t, "f")
	url, arn := h.queue(t, "q", nil)
	if _, err := h.qc.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("with-attrs"),
		MessageAttributes: map[string]sqstypesMAV{"color": {DataType: aws.String("String"), StringValue: aws.String("red")}}}); err != nil {
		t.Fatal(err)
	}
	for i := range 24 {
		h.send(t, url, "m"+strconv.Itoa(i))
	}
	uuid := h.mapping(t, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(arn), BatchSize: aws.Int32(4)})
	poll.Until(t, 0, "every message delivered", func() error {
		if n := len(h.inv.bodies()); n != 25 {
			return fmt.Errorf("%d of 25 delivered", n)
		}
		return nil
	})
	h.drained(t, url)
	for body, n := range h.inv.bodies() {
		if n != 1 {
			t.Errorf("%s delivered %d times", body, n)
		}
	}
	for _, b := range h.inv.all() {
		if len(b) > 4 {
			t.Errorf("batch of %d, BatchSize 4", len(b))
		}
		for _, r := range b {
			if r.EventSource != "aws:sqs" || r.EventSourceARN != arn || r.AWSRegion != "us-east-1" || r.MessageID == "" ||
				r.ReceiptHandle == "" || r.MD5OfBody == "" || r.Attributes["ApproximateReceiveCount"] != "1" ||
				r.Attributes["SentTimestamp"] == "" || r.Attributes["SenderId"] == "" || r.Attributes["ApproximateFirstReceiveTimestamp"] == "" {
				t.Fatalf("record %+v", r)
			}
			if r.Body == "with-attrs" {
				a := r.MessageAttributes["color"]
				if a.DataType != "String" || a.StringValue == nil || *a.StringValue != "red" || a.StringListValues == nil {
					t.Fatalf("message attributes %+v", r.MessageAttributes)
				}
			}
		}
	}
	// Disabled: the poller stops; a message sent then stays in the queue.
	if _, err := h.lc.UpdateEventSourceMapping(t.Context(), &lambda.UpdateEventSourceMappingInput{UUID: aws.String(uuid), Enabled: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	h.waitState(t, uuid, "Disabled")
	h.send(t, url, "after-disable")
	got, err := h.qc.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 10})
	if err != nil || len(got.Messages) != 1 || aws.ToString(got.Messages[0].Body) != "after-disable" {
		t.Fatalf("a disabled mapping consumed the message: %+v %v", got, err)
	}
	if h.inv.bodies()["after-disable"] != 0 {
		t.Fatal("a disabled mapping invoked the function")
	}
}

// TestReportBatchItemFailures: the reported items stay in the queue and
// follow its redrive policy into the dead-letter queue; the rest of each
// batch is deleted. An invalid response fails the whole batch; a function
// error leaves the batch.
func TestReportBatchItemFailures(t *testing.T) {
	h := newHarness(t)
	h.function(t, "f")
	dlqURL, dlqARN := h.queue(t, "dlq", nil)
	url, arn := h.queue(t, "q", map[string]string{"VisibilityTimeout": "1",
		"RedrivePolicy": `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":"2"}`})
	var invalidOnce, errorOnce bool
	h.inv.mu.Lock()
	h.inv.respond = func(recs []record) (*invoke.Output, error) {
		var failed []string
		for _, r := range recs {
			switch r.Body {
			case "bad":
				failed = append(failed, `{"itemIdentifier":"`+r.MessageID+`"}`)
			case "invalid":
				h.inv.mu.Lock()
				first := !invalidOnce
				invalidOnce = true
				h.inv.mu.Unlock()
				if first {
					return &invoke.Output{Status: 200, Payload: []byte(`{"batchItemFailures":[{"itemIdentifier":""}]}`)}, nil
				}
			case "error":
				h.inv.mu.Lock()
				first := !errorOnce
				errorOnce = true
				h.inv.mu.Unlock()
				if first {
					return &invoke.Output{Status: 200, FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"boom"}`)}, nil
				}
			}
		}
		return &invoke.Output{Status: 200, Payload: fmt.Appendf(nil, `{"batchItemFailures":[%s]}`, joinComma(failed))}, nil
	}
	h.inv.mu.Unlock()
	h.send(t, url, "good1", "bad", "good2", "invalid", "error")
	h.mapping(t, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(arn), BatchSize: aws.Int32(1),
		FunctionResponseTypes: []ltypes.FunctionResponseType{ltypes.FunctionResponseTypeReportBatchItemFailures}})
	poll.Until(t, 0, "the failed message in the dead-letter queue", func() error {
		if v, _ := h.queueCounts(t, dlqURL); v != 1 {
			return fmt.Errorf("%d in the dead-letter queue", v)
		}
		return nil
	})
	h.drained(t, url)
	got, err := h.qc.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), WaitTimeSeconds: 5})
	if err != nil || len(got.Messages) != 1 || aws.ToString(got.Messages[0].Body) != "bad" {
		t.Fatalf("dead-letter queue: %+v %v", got, err)
	}
	b := h.inv.bodies()
	if b["bad"] != 2 || b["invalid"] != 2 || b["error"] != 2 || b["good1"] != 1 || b["good2"] != 1 {
		t.Fatalf("deliveries %v; want bad, invalid and error twice, the good ones once", b)
	}
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// TestThrottledInvokesLoseNothing: throttled invokes (the function's
// concurrency) back off and retry; every message is processed once, none
// reaches the dead-letter queue.
func TestThrottledInvokesLoseNothing(t *testing.T) {
	h := newHarness(t)
	h.function(t, "f")
	dlqURL, dlqARN := h.queue(t, "dlq", nil)
	url, arn := h.queue(t, "q", map[string]string{
		"RedrivePolicy": `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":"1"}`})
	throttles := 0
	h.inv.mu.Lock()
	h.inv.respond = func(recs []record) (*invoke.Output, error) {
		h.inv.mu.Lock()
		defer h.inv.mu.Unlock()
		if throttles < 6 {
			throttles++
			// The recorder counts this batch; take it back.
			h.inv.batches = h.inv.batches[:len(h.inv.batches)-1]
			return nil, awsproto.Errorf(awsproto.TooManyRequestsException, "Rate Exceeded.")
		}
		return &invoke.Output{Status: 200, Payload: []byte("null")}, nil
	}
	h.inv.mu.Unlock()
	for i := range 5 {
		h.send(t, url, "m"+strconv.Itoa(i))
	}
	h.mapping(t, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(arn), BatchSize: aws.Int32(1)})
	h.drained(t, url)
	b := h.inv.bodies()
	for i := range 5 {
		if n := b["m"+strconv.Itoa(i)]; n != 1 {
			t.Errorf("m%d processed %d times", i, n)
		}
	}
	if v, n := h.queueCounts(t, dlqURL); v+n != 0 {
		t.Fatalf("%d messages in the dead-letter queue", v+n)
	}
}

// TestMappingsSurviveRestart: a reopened service has the mappings, settled,
// and polls them.
func TestMappingsSurviveRestart(t *testing.T) {
	h := newHarness(t)
	h.function(t, "f")
	url, arn := h.queue(t, "q", nil)
	uuid := h.mapping(t, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(arn)})
	h.waitState(t, uuid, "Enabled")
	h.svc.Close()
	svc, err := esm.Open(t.Context(), h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	m, err := svc.Get(t.Context(), uuid)
	if err != nil || m.State != esm.Enabled || m.EventSourceArn != arn {
		t.Fatalf("after reopening: %+v %v", m, err)
	}
	h.send(t, url, "after-restart")
	poll.Until(t, 0, "delivery after the restart", func() error {
		if h.inv.bodies()["after-restart"] != 1 {
			return fmt.Errorf("not delivered")
		}
		return nil
	})
}

// TestFIFOOrder: a FIFO queue's messages reach the function in order.
func TestFIFOOrder(t *testing.T) {
	h := newHarness(t)
	h.function(t, "f")
	url, arn := h.queue(t, "q.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})
	for i := range 12 {
		if _, err := h.qc.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(strconv.Itoa(i)),
			MessageGroupId: aws.String("g")}); err != nil {
			t.Fatal(err)
		}
	}
	h.mapping(t, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(arn), BatchSize: aws.Int32(5)})
	h.drained(t, url)
	var got []string
	for _, b := range h.inv.all() {
		for _, r := range b {
			got = append(got, r.Body)
			if r.Attributes["MessageGroupId"] != "g" || r.Attributes["SequenceNumber"] == "" {
				t.Fatalf("FIFO attributes %v", r.Attributes)
			}
		}
	}
	for i, b := range got {
		if b != strconv.Itoa(i) {
			t.Fatalf("order %v", got)
		}
	}
	if len(got) != 12 {
		t.Fatalf("got %v", got)
	}
}

// TestLeaseOneOwner: two nodes share the mappings' bucket; only the lease
// holder polls, and when it closes the other takes over.
func TestLeaseOneOwner(t *testing.T) {
	h := newHarness(t)
	h.function(t, "f")
	url, arn := h.queue(t, "q", nil)
	uuid := h.mapping(t, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(arn)})
	h.waitState(t, uuid, "Enabled")
	other := &recorder{}
	cfg := h.cfg
	cfg.Invoker, cfg.Node, cfg.LeaseTTL = other, "node-b", 300*time.Millisecond
	b, err := esm.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	for i := range 30 {
		h.send(t, url, "a"+strconv.Itoa(i))
	}
	h.drained(t, url)
	if n := len(h.inv.bodies()); n != 30 {
		t.Fatalf("the owner processed %d of 30", n)
	}
	if n := len(other.bodies()); n != 0 {
		t.Fatalf("the node without the lease processed %d messages", n)
	}
	h.svc.Close()
	h.send(t, url, "after-handover")
	poll.Until(t, 0, "the other node to take over", func() error {
		if other.bodies()["after-handover"] != 1 {
			return fmt.Errorf("not processed by node-b")
		}
		return nil
	})
}

// gate is an invoker that counts invokes in flight and holds each one
// until the test opens the gate.
type gate struct {
	recorder
	open     chan struct{}
	inflight int
	maxSeen  int
}

func (g *gate) Invoke(ctx context.Context, in *invoke.Input) (*invoke.Output, error) {
	g.mu.Lock()
	g.inflight++
	g.maxSeen = max(g.maxSeen, g.inflight)
	g.mu.Unlock()
	<-g.open
	g.mu.Lock()
	g.inflight--
	g.mu.Unlock()
	return g.recorder.Invoke(ctx, in)
}

func (g *gate) seen() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.maxSeen
}

// TestScalingBounds: with a backlog the poller runs batches concurrently
// up to ScalingConfig.MaximumConcurrency and no further; the function's
// reserved concurrency bounds it too.
func TestScalingBounds(t *testing.T) {
	for _, c := range []struct {
		name     string
		reserved int32
		want     int
	}{{"MaximumConcurrency", 0, 3}, {"ReservedConcurrency", 1, 1}} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			g := &gate{open: make(chan struct{})}
			h.svc.Close()
			cfg := h.cfg
			cfg.Invoker = g
			svc, err := esm.Open(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(svc.Close)
			h.function(t, "f")
			if c.reserved > 0 {
				if _, err := h.lc.PutFunctionConcurrency(t.Context(), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("f"),
					ReservedConcurrentExecutions: aws.Int32(c.reserved)}); err != nil {
					t.Fatal(err)
				}
			}
			url, arn := h.queue(t, "q", nil)
			for i := range 60 {
				h.send(t, url, "m"+strconv.Itoa(i))
			}
			if _, err := svc.Create(t.Context(), esm.CreateInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(arn),
				BatchSize: aws.Int(2), ScalingConfig: &esm.ScalingConfig{MaximumConcurrency: aws.Int(3)}}); err != nil {
				t.Fatal(err)
			}
			poll.Until(t, 0, fmt.Sprintf("%d batches in flight at once", c.want), func() error {
				if n := g.seen(); n < c.want {
					return fmt.Errorf("%d in flight", n)
				}
				return nil
			})
			close(g.open)
			h.drained(t, url)
			if n := g.seen(); n != c.want {
				t.Fatalf("%d batches in flight at once, want at most %d", n, c.want)
			}
			if n := len(g.bodies()); n != 60 {
				t.Fatalf("%d of 60 processed", n)
			}
		})
	}
}

// TestFilterCriteria: only messages some filter matches reach the
// function (patterns reach into JSON bodies, or match a plain body as a
// string); the others are deleted.
func TestFilterCriteria(t *testing.T) {
	h := newHarness(t)
	h.function(t, "f")
	url, arn := h.queue(t, "q", nil)
	h.send(t, url, `{"kind":"keep","n":5}`, `{"kind":"drop","n":5}`, `{"kind":"keep","n":50}`, "plain-keep", "plain-drop")
	h.mapping(t, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(arn),
		FilterCriteria: &ltypes.FilterCriteria{Filters: []ltypes.Filter{
			{Pattern: aws.String(`{"body":{"kind":["keep"],"n":[{"numeric":["<",10]}]}}`)},
			{Pattern: aws.String(`{"body":[{"prefix":"plain-k"}]}`)},
		}}})
	h.drained(t, url)
	b := h.inv.bodies()
	if len(b) != 2 || b[`{"kind":"keep","n":5}`] != 1 || b["plain-keep"] != 1 {
		t.Fatalf("invoked with %v; want the two matching messages once each", b)
	}
}

// TestFIFOGroupsInParallel: two message groups of a FIFO queue are
// processed at once — the function holds group a's batch until group b's
// has arrived — and each group keeps its order.
func TestFIFOGroupsInParallel(t *testing.T) {
	h := newHarness(t)
	h.function(t, "f")
	url, arn := h.queue(t, "par.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})
	for _, b := range []string{"a0", "a1", "a2", "a3", "a4", "b0", "b1"} {
		if _, err := h.qc.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(b),
			MessageGroupId: aws.String(b[:1])}); err != nil {
			t.Fatal(err)
		}
	}
	bSeen := make(chan struct{})
	var once sync.Once
	h.inv.mu.Lock()
	h.inv.respond = func(recs []record) (*invoke.Output, error) {
		if recs[0].Body[0] == 'b' {
			once.Do(func() { close(bSeen) })
			return &invoke.Output{Status: 200, Payload: []byte("null")}, nil
		}
		select {
		case <-bSeen:
			return &invoke.Output{Status: 200, Payload: []byte("null")}, nil
		case <-time.After(time.Minute): // a ceiling: group b never came while a was in flight
			return &invoke.Output{Status: 200, FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"group b did not come"}`)}, nil
		}
	}
	h.inv.mu.Unlock()
	h.mapping(t, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("f"), EventSourceArn: aws.String(arn), BatchSize: aws.Int32(5)})
	h.drained(t, url)
	select {
	case <-bSeen:
	default:
		t.Fatal("group b was never processed")
	}
	order := map[byte][]string{}
	for _, b := range h.inv.all() {
		for _, r := range b {
			order[r.Body[0]] = append(order[r.Body[0]], r.Body)
		}
	}
	if !slices.Equal(order['a'], []string{"a0", "a1", "a2", "a3", "a4"}) || !slices.Equal(order['b'], []string{"b0", "b1"}) {
		t.Fatalf("per-group order %q", order)
	}
}
