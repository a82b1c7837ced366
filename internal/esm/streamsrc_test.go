package esm_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kumo-run/kumo/internal/esm"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/poll"
	kumoddb "github.com/kumo-run/kumo/internal/services/dynamodb"
)

// ddb sends one DynamoDB request to the service directly and returns its
// answer, failing the test on an error.
func (h *harness) ddbCall(t *testing.T, op, body string) map[string]any {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", kumoddb.TargetPrefix+op)
	h.ddb.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("%s: %d %s", op, rec.Code, rec.Body)
	}
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func (h *harness) put(t *testing.T, pk, v string) {
	h.ddbCall(t, "PutItem", `{"TableName":"tbl","Item":{"pk":{"S":"`+pk+`"},"v":{"S":"`+v+`"}}}`)
}

// streamRec is a stream record of an event as the function sees it.
type streamRec struct {
	EventName      string `json:"eventName"`
	EventSourceARN string `json:"eventSourceARN"`
	EventSource    string `json:"eventSource"`
	Dynamodb       struct {
		Keys           map[string]map[string]string `json:"Keys"`
		NewImage       map[string]map[string]string `json:"NewImage"`
		SequenceNumber string                       `json:"SequenceNumber"`
	} `json:"dynamodb"`
}

func (r streamRec) String() string {
	v := "-"
	if r.Dynamodb.NewImage != nil {
		v = r.Dynamodb.NewImage["v"]["S"]
	}
	return r.EventName + " " + r.Dynamodb.Keys["pk"]["S"] + "=" + v
}

// streamBatches are the stream events the function received, in order.
func (h *harness) streamBatches(t *testing.T) [][]streamRec {
	h.inv.mu.Lock()
	defer h.inv.mu.Unlock()
	var out [][]streamRec
	for _, p := range h.inv.payloads {
		var ev struct{ Records []streamRec }
		if err := json.Unmarshal(p, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev.Records)
	}
	return out
}

func delivered(batches [][]streamRec) string {
	var s []string
	for _, b := range batches {
		for _, r := range b {
			s = append(s, r.String())
		}
	}
	return strings.Join(s, ", ")
}

// TestStreamMapping: a mapping of a DynamoDB stream delivers its records
// in order in batches of at most BatchSize, from TRIM_HORIZON; a failing
// batch blocks what follows it until it succeeds; ReportBatchItemFailures
// resumes at the failed record; a restart resumes at the checkpoint
// without delivering again what was acknowledged; bad settings are
// refused.
func TestStreamMapping(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	out := h.ddbCall(t, "CreateTable", `{"TableName":"tbl","BillingMode":"PAY_PER_REQUEST","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],
		"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"StreamSpecification":{"StreamEnabled":true,"StreamViewType":"NEW_AND_OLD_IMAGES"}}`)
	arn := out["TableDescription"].(map[string]any)["LatestStreamArn"].(string)
	h.function(t, "fn")
	h.put(t, "a", "1")

	for _, c := range []struct {
		in   lambda.CreateEventSourceMappingInput
		code string
	}{
		{lambda.CreateEventSourceMappingInput{}, "InvalidParameterValueException"},
		{lambda.CreateEventSourceMappingInput{StartingPosition: ltypes.EventSourcePositionAtTimestamp}, "InvalidParameterValueException"},
		{lambda.CreateEventSourceMappingInput{StartingPosition: ltypes.EventSourcePositionLatest, BatchSize: aws.Int32(10001)}, "ValidationException"},
		{lambda.CreateEventSourceMappingInput{StartingPosition: ltypes.EventSourcePositionLatest, MaximumRetryAttempts: aws.Int32(-2)}, "ValidationException"},
		{lambda.CreateEventSourceMappingInput{StartingPosition: ltypes.EventSourcePositionLatest, ParallelizationFactor: aws.Int32(11)}, "ValidationException"},
	} {
		c.in.EventSourceArn, c.in.FunctionName = aws.String(arn), aws.String("fn")
		_, err := h.lc.CreateEventSourceMapping(ctx, &c.in)
		wantError(t, err, c.code, "")
	}
	_, err := h.lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(arn + "x"), FunctionName: aws.String("fn"),
		StartingPosition: ltypes.EventSourcePositionTrimHorizon})
	wantError(t, err, "ResourceNotFoundException", "")
	// a role that may not read the stream
	const bare = "arn:aws:iam::123456789012:role/bare"
	h.dir.SetRole(authz.Role{ARN: bare, ID: "AROABARE"}, authz.Principal{})
	h.functionWithRole(t, "bare-fn", bare)
	_, err = h.lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(arn), FunctionName: aws.String("bare-fn"),
		StartingPosition: ltypes.EventSourcePositionTrimHorizon})
	wantError(t, err, "InvalidParameterValueException", "Cannot access stream "+arn+". Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.")

	m, err := h.lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(arn), FunctionName: aws.String("fn"),
		StartingPosition: ltypes.EventSourcePositionTrimHorizon, BatchSize: aws.Int32(2), FunctionResponseTypes: []ltypes.FunctionResponseType{"ReportBatchItemFailures"}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(m.BatchSize) != 2 || m.StartingPosition != ltypes.EventSourcePositionTrimHorizon || aws.ToInt32(m.MaximumRetryAttempts) != -1 ||
		aws.ToInt32(m.ParallelizationFactor) != 1 || aws.ToString(m.EventSourceArn) != arn {
		t.Fatalf("mapping %+v", m)
	}
	h.waitState(t, *m.UUID, "Enabled")
	h.put(t, "a", "2")
	h.put(t, "b", "1")
	h.ddbCall(t, "DeleteItem", `{"TableName":"tbl","Key":{"pk":{"S":"a"}}}`)
	want := "INSERT a=1, MODIFY a=2, INSERT b=1, REMOVE a=-"
	poll.Until(t, time.Minute, want, func() error {
		if got := delivered(h.streamBatches(t)); got != want {
			return fmt.Errorf("delivered %s", got)
		}
		return nil
	})
	for _, b := range h.streamBatches(t) {
		if len(b) > 2 {
			t.Fatalf("a batch of %d", len(b))
		}
		for _, r := range b {
			if r.EventSourceARN != arn || r.EventSource != "aws:dynamodb" {
				t.Fatalf("record %+v", r)
			}
		}
	}

	// a batch with c fails twice: nothing after it is delivered until it
	// succeeds; then d reported failed is delivered again from d
	fails := map[string]int{"c": 2, "d": 1}
	h.inv.mu.Lock()
	h.inv.respond = func([]record) (*invoke.Output, error) {
		h.inv.mu.Lock()
		p := h.inv.payloads[len(h.inv.payloads)-1]
		h.inv.mu.Unlock()
		var ev struct{ Records []streamRec }
		_ = json.Unmarshal(p, &ev)
		for _, r := range ev.Records {
			k := r.Dynamodb.Keys["pk"]["S"]
			if k == "c" && fails["c"] > 0 {
				fails["c"]--
				return &invoke.Output{Status: 200, FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"no"}`)}, nil
			}
			if k == "d" && fails["d"] > 0 {
				fails["d"]--
				return &invoke.Output{Status: 200, Payload: []byte(`{"batchItemFailures":[{"itemIdentifier":"` + r.Dynamodb.SequenceNumber + `"}]}`)}, nil
			}
		}
		return &invoke.Output{Status: 200, Payload: []byte("null")}, nil
	}
	h.inv.mu.Unlock()
	n := len(h.streamBatches(t))
	h.put(t, "c", "1")
	h.put(t, "d", "1")
	h.put(t, "e", "1")
	poll.Until(t, time.Minute, "e delivered", func() error {
		if !strings.Contains(delivered(h.streamBatches(t)[n:]), "INSERT e=1") {
			return fmt.Errorf("delivered %s", delivered(h.streamBatches(t)[n:]))
		}
		return nil
	})
	// every batch starts where the last one failed: c (twice failed), then
	// c again, then d (reported failed) again
	var starts []string
	for _, b := range h.streamBatches(t)[n:] {
		starts = append(starts, b[0].String())
	}
	if got := strings.Join(starts, ", "); !strings.HasPrefix(got, "INSERT c=1, INSERT c=1, INSERT c=1, INSERT d=1") {
		t.Fatalf("batches start at %s", got)
	}

	// a restart resumes at the checkpoint: nothing acknowledged comes again
	h.svc.Close()
	before := len(h.streamBatches(t))
	h.svc, err = esm.Open(ctx, h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.svc.Close)
	h.put(t, "f", "1")
	poll.Until(t, time.Minute, "f delivered", func() error {
		if got := delivered(h.streamBatches(t)[before:]); got != "INSERT f=1" {
			return fmt.Errorf("delivered %q", got)
		}
		return nil
	})
}

// streamTable creates the table "tbl" with a NEW_AND_OLD_IMAGES stream
// and returns the stream's ARN.
func (h *harness) streamTable(t *testing.T) string {
	out := h.ddbCall(t, "CreateTable", `{"TableName":"tbl","BillingMode":"PAY_PER_REQUEST","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],
		"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"StreamSpecification":{"StreamEnabled":true,"StreamViewType":"NEW_AND_OLD_IMAGES"}}`)
	return out["TableDescription"].(map[string]any)["LatestStreamArn"].(string)
}

// lastRecords decodes the payload of the function's invocation: the
// stream event with its records.
func lastRecords(p []byte) []streamRec {
	var ev struct{ Records []streamRec }
	_ = json.Unmarshal(p, &ev)
	return ev.Records
}

// failureRecord is what an on-failure destination receives.
type failureRecord struct {
	RequestContext struct {
		Condition              string `json:"condition"`
		FunctionArn            string `json:"functionArn"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	ResponseContext *struct {
		FunctionError string `json:"functionError"`
	} `json:"responseContext"`
	Version   string `json:"version"`
	BatchInfo struct {
		ShardID      string `json:"shardId"`
		Start        string `json:"startSequenceNumber"`
		End          string `json:"endSequenceNumber"`
		BatchSize    int    `json:"batchSize"`
		StreamArn    string `json:"streamArn"`
		FirstArrival string `json:"approximateArrivalOfFirstRecord"`
	} `json:"DDBStreamBatchInfo"`
}

// receiveFailures waits for n on-failure records on the queue.
func (h *harness) receiveFailures(t *testing.T, url string, n int) []failureRecord {
	var out []failureRecord
	poll.Until(t, time.Minute, fmt.Sprintf("%d on-failure records", n), func() error {
		r, err := h.qc.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
		if err != nil {
			return err
		}
		for _, m := range r.Messages {
			var f failureRecord
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &f); err != nil {
				t.Fatalf("on-failure record %s: %v", aws.ToString(m.Body), err)
			}
			out = append(out, f)
			if _, err := h.qc.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return err
			}
		}
		if len(out) < n {
			return fmt.Errorf("%d records", len(out))
		}
		return nil
	})
	return out
}

// TestStreamOnFailure: with BisectBatchOnFunctionError a failing batch is
// split in halves until the bad record is alone; its retries spent, it is
// sent to the on-failure queue in Lambda's shape and the shard moves on.
// Records older than MaximumRecordAgeInSeconds are discarded there too.
// Destinations Lambda refuses are refused.
func TestStreamOnFailure(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	arn := h.streamTable(t)
	h.function(t, "fn")
	dlqURL, dlq := h.queue(t, "dlq", nil)
	_, fifo := h.queue(t, "dlq.fifo", map[string]string{"FifoQueue": "true"})

	for _, c := range []struct {
		in   lambda.CreateEventSourceMappingInput
		code string
	}{
		{lambda.CreateEventSourceMappingInput{DestinationConfig: &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String("arn:aws:s3:::bucket")}}}, "InvalidParameterValueException"},
		{lambda.CreateEventSourceMappingInput{DestinationConfig: &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String(fifo)}}}, "InvalidParameterValueException"},
		{lambda.CreateEventSourceMappingInput{DestinationConfig: &ltypes.DestinationConfig{OnSuccess: &ltypes.OnSuccess{Destination: aws.String(dlq)}}}, "InvalidParameterValueException"},
		{lambda.CreateEventSourceMappingInput{DestinationConfig: &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String(dlq + "x")}}}, "ResourceNotFoundException"},
		{lambda.CreateEventSourceMappingInput{TumblingWindowInSeconds: aws.Int32(901)}, "ValidationException"},
	} {
		c.in.EventSourceArn, c.in.FunctionName, c.in.StartingPosition = aws.String(arn), aws.String("fn"), ltypes.EventSourcePositionTrimHorizon
		_, err := h.lc.CreateEventSourceMapping(ctx, &c.in)
		wantError(t, err, c.code, "")
	}

	// any batch holding "bad" fails
	h.inv.mu.Lock()
	h.inv.respond = func([]record) (*invoke.Output, error) {
		h.inv.mu.Lock()
		p := h.inv.payloads[len(h.inv.payloads)-1]
		h.inv.mu.Unlock()
		for _, r := range lastRecords(p) {
			if r.Dynamodb.Keys["pk"]["S"] == "bad" {
				return &invoke.Output{Status: 200, FunctionError: "Unhandled", Payload: []byte(`{"errorMessage":"no"}`)}, nil
			}
		}
		return &invoke.Output{Status: 200, Payload: []byte("null")}, nil
	}
	h.inv.mu.Unlock()
	for _, k := range []string{"a", "b", "bad", "c"} {
		h.put(t, k, "1")
	}
	m, err := h.lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(arn), FunctionName: aws.String("fn"),
		StartingPosition: ltypes.EventSourcePositionTrimHorizon, BatchSize: aws.Int32(4), MaximumRetryAttempts: aws.Int32(1),
		BisectBatchOnFunctionError: aws.Bool(true), DestinationConfig: &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: aws.String(dlq)}}})
	if err != nil {
		t.Fatal(err)
	}
	if !aws.ToBool(m.BisectBatchOnFunctionError) || m.DestinationConfig == nil || aws.ToString(m.DestinationConfig.OnFailure.Destination) != dlq ||
		aws.ToInt32(m.TumblingWindowInSeconds) != 0 {
		t.Fatalf("mapping %+v", m)
	}
	fs := h.receiveFailures(t, dlqURL, 1)
	// the batch, its halves, then "bad" alone: tried and retried once
	poll.Until(t, time.Minute, "c delivered", func() error {
		if b := h.streamBatches(t); len(b) < 6 {
			return fmt.Errorf("%d batches", len(b))
		}
		return nil
	})
	var got []string
	for _, b := range h.streamBatches(t) {
		var keys []string
		for _, r := range b {
			keys = append(keys, r.Dynamodb.Keys["pk"]["S"])
		}
		got = append(got, strings.Join(keys, "+"))
	}
	if want := "a+b+bad+c, a+b, bad+c, bad, bad, c"; strings.Join(got, ", ") != want {
		t.Fatalf("batches %s, want %s", strings.Join(got, ", "), want)
	}
	var bad streamRec
	for _, b := range h.streamBatches(t) {
		if len(b) == 1 && b[0].Dynamodb.Keys["pk"]["S"] == "bad" {
			bad = b[0]
		}
	}
	f := fs[0]
	if f.RequestContext.Condition != "RetryAttemptsExhausted" || f.RequestContext.ApproximateInvokeCount != 2 ||
		f.RequestContext.FunctionArn != "arn:aws:lambda:us-east-1:"+account+":function:fn" || f.Version != "1.0" ||
		f.ResponseContext == nil || f.ResponseContext.FunctionError != "Unhandled" ||
		f.BatchInfo.BatchSize != 1 || f.BatchInfo.Start != bad.Dynamodb.SequenceNumber || f.BatchInfo.End != bad.Dynamodb.SequenceNumber ||
		f.BatchInfo.StreamArn != arn || !strings.HasPrefix(f.BatchInfo.ShardID, "shardId-") || f.BatchInfo.FirstArrival == "" {
		t.Fatalf("on-failure record %+v", f)
	}
	// the shard moved on
	h.put(t, "d", "1")
	poll.Until(t, time.Minute, "d delivered", func() error {
		if !strings.Contains(delivered(h.streamBatches(t)), "INSERT d=1") {
			return fmt.Errorf("delivered %s", delivered(h.streamBatches(t)))
		}
		return nil
	})

	// records past their maximum age are discarded to the destination
	// (the function fails them for ever)
	if _, err := h.lc.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: m.UUID, MaximumRetryAttempts: aws.Int32(-1),
		MaximumRecordAgeInSeconds: aws.Int32(60), BisectBatchOnFunctionError: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	h.waitState(t, *m.UUID, "Enabled")
	n := len(h.streamBatches(t))
	h.put(t, "bad", "2")
	poll.Until(t, time.Minute, "bad=2 tried", func() error {
		if !strings.Contains(delivered(h.streamBatches(t)[n:]), "MODIFY bad=2") {
			return fmt.Errorf("delivered %s", delivered(h.streamBatches(t)[n:]))
		}
		return nil
	})
	h.clock.Add(int64(2 * time.Minute))
	fs = h.receiveFailures(t, dlqURL, 1)
	if f := fs[0]; f.RequestContext.Condition != "RecordAgeExceeded" || f.BatchInfo.BatchSize != 1 {
		t.Fatalf("on-failure record %+v", f)
	}
	h.put(t, "e", "1")
	poll.Until(t, time.Minute, "e delivered", func() error {
		if !strings.Contains(delivered(h.streamBatches(t)), "INSERT e=1") {
			return fmt.Errorf("delivered %s", delivered(h.streamBatches(t)))
		}
		return nil
	})
}

// TestStreamParallel: with ParallelizationFactor 3 batches of different
// partition keys run at once, and each key's records still arrive in
// order.
func TestStreamParallel(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	arn := h.streamTable(t)
	h.function(t, "fn")
	const keys = 30
	for v := 1; v <= 2; v++ {
		for k := range keys {
			h.put(t, fmt.Sprintf("k%02d", k), fmt.Sprint(v))
		}
	}
	// the first batch waits (up to a generous ceiling) for a second one
	// to be in flight with it
	var inflight, most atomic.Int32
	second := make(chan struct{})
	var once sync.Once
	h.inv.mu.Lock()
	h.inv.respond = func([]record) (*invoke.Output, error) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		if n >= 2 {
			once.Do(func() { close(second) })
		}
		select {
		case <-second:
		case <-time.After(30 * time.Second):
		}
		return &invoke.Output{Status: 200, Payload: []byte("null")}, nil
	}
	h.inv.mu.Unlock()
	m, err := h.lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(arn), FunctionName: aws.String("fn"),
		StartingPosition: ltypes.EventSourcePositionTrimHorizon, BatchSize: aws.Int32(5), ParallelizationFactor: aws.Int32(3)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(m.ParallelizationFactor) != 3 {
		t.Fatalf("mapping %+v", m)
	}
	poll.Until(t, 2*time.Minute, "every record delivered", func() error {
		n := 0
		for _, b := range h.streamBatches(t) {
			n += len(b)
		}
		if n < 2*keys {
			return fmt.Errorf("%d records", n)
		}
		return nil
	})
	if most.Load() < 2 {
		t.Fatalf("at most %d batches at once", most.Load())
	}
	seen := map[string]string{}
	for _, b := range h.streamBatches(t) {
		if len(b) > 5 {
			t.Fatalf("a batch of %d", len(b))
		}
		for _, r := range b {
			k, v := r.Dynamodb.Keys["pk"]["S"], r.Dynamodb.NewImage["v"]["S"]
			if seen[k]+v != map[string]string{"": "1", "1": "12"}[seen[k]] {
				t.Fatalf("%s: %s after %q", k, v, seen[k])
			}
			seen[k] += v
		}
	}
	if len(seen) != keys {
		t.Fatalf("%d keys", len(seen))
	}
}

// TestStreamTumblingWindow: records of one window are delivered with the
// state the function returned last; once the window has passed, a final
// invoke carries the window's state with isFinalInvokeForWindow; the next
// window starts from an empty state.
func TestStreamTumblingWindow(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	arn := h.streamTable(t)
	h.function(t, "fn")
	// put the clock one second into a 900-second window
	now := time.Now().Unix()
	h.clock.Store(int64(time.Duration(now-now%900+900+1-now) * time.Second))

	type windowEvent struct {
		Records []streamRec
		Window  struct{ Start, End string }
		State   map[string]int
		ShardID string `json:"shardId"`
		ARN     string `json:"eventSourceARN"`
		Final   bool   `json:"isFinalInvokeForWindow"`
		Early   *bool  `json:"isWindowTerminatedEarly"`
	}
	var mu sync.Mutex
	var events []windowEvent
	h.inv.mu.Lock()
	h.inv.respond = func([]record) (*invoke.Output, error) {
		h.inv.mu.Lock()
		p := h.inv.payloads[len(h.inv.payloads)-1]
		h.inv.mu.Unlock()
		var ev windowEvent
		if err := json.Unmarshal(p, &ev); err != nil {
			return nil, err
		}
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
		b, _ := json.Marshal(map[string]any{"state": map[string]int{"n": ev.State["n"] + len(ev.Records)}})
		return &invoke.Output{Status: 200, Payload: b}, nil
	}
	h.inv.mu.Unlock()
	m, err := h.lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{EventSourceArn: aws.String(arn), FunctionName: aws.String("fn"),
		StartingPosition: ltypes.EventSourcePositionTrimHorizon, BatchSize: aws.Int32(1), TumblingWindowInSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(m.TumblingWindowInSeconds) != 900 {
		t.Fatalf("mapping %+v", m)
	}
	h.waitState(t, *m.UUID, "Enabled")
	got := func() []windowEvent {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(events)
	}
	h.put(t, "a", "1")
	h.put(t, "b", "1")
	// the window's state is saved with the checkpoint: a restart goes on
	// with it
	poll.Until(t, time.Minute, "the state after 2 records saved", func() error {
		e, err := h.cfg.KV.Get(ctx, "cp."+*m.UUID)
		if err != nil {
			return err
		}
		if !strings.Contains(string(e.Value), `"state":{"n":2}`) {
			return fmt.Errorf("checkpoint %s", e.Value)
		}
		return nil
	})
	h.svc.Close()
	if h.svc, err = esm.Open(ctx, h.cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.svc.Close)
	h.put(t, "c", "1")
	poll.Until(t, time.Minute, "3 records", func() error {
		if n := len(got()); n < 3 {
			return fmt.Errorf("%d invokes", n)
		}
		return nil
	})
	// the window passes: its final invoke follows
	h.clock.Add(int64(900 * time.Second))
	poll.Until(t, time.Minute, "the final invoke", func() error {
		if n := len(got()); n < 4 {
			return fmt.Errorf("%d invokes", n)
		}
		return nil
	})
	evs := got()
	start := time.Unix(now-now%900+900, 0).UTC()
	for i, ev := range evs[:4] {
		if ev.Window.Start != start.Format(time.RFC3339) || ev.Window.End != start.Add(900*time.Second).Format(time.RFC3339) ||
			ev.ARN != arn || !strings.HasPrefix(ev.ShardID, "shardId-") || ev.Early == nil || *ev.Early || ev.State["n"] != i || ev.Final != (i == 3) {
			t.Fatalf("invoke %d: %+v", i, ev)
		}
	}
	if len(evs[3].Records) != 0 {
		t.Fatalf("final invoke with %d records", len(evs[3].Records))
	}
	// the next window starts afresh
	h.put(t, "d", "1")
	poll.Until(t, time.Minute, "d", func() error {
		if n := len(got()); n < 5 {
			return fmt.Errorf("%d invokes", n)
		}
		return nil
	})
	if ev := got()[4]; ev.State["n"] != 0 || ev.Final || len(ev.Records) != 1 || ev.Window.Start != start.Add(900*time.Second).Format(time.RFC3339) {
		t.Fatalf("next window %+v", ev)
	}
}
