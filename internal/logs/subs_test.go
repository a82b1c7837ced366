package logs

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// recorder is a Functions that records what it is asked to invoke. The
// function "denied" refuses the permission check; fail, while set, makes
// InvokeAsync fail as a full queue would.
type recorder struct {
	mu    sync.Mutex
	calls []recorded
	fail  int // invocations left to fail
}

type recorded struct {
	function, source string
	data             events.CloudwatchLogsData
}

func (r *recorder) Permitted(ctx context.Context, fn, source string) error {
	if strings.HasSuffix(fn, ":denied") {
		return awsproto.Errorf(awsproto.AccessDeniedException, "denied")
	}
	return nil
}

func (r *recorder) InvokeAsync(ctx context.Context, fn, source string, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return awsproto.Errorf(awsproto.TooManyRequestsException, "queue full")
	}
	var ev events.CloudwatchLogsEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		panic(err)
	}
	raw, err := base64.StdEncoding.DecodeString(ev.AWSLogs.Data)
	if err != nil {
		panic(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		panic(err)
	}
	js, _ := io.ReadAll(zr)
	var d events.CloudwatchLogsData
	if err := json.Unmarshal(js, &d); err != nil {
		panic(err)
	}
	r.calls = append(r.calls, recorded{fn, source, d})
	return nil
}

// messages returns every delivered message, in delivery order.
func (r *recorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.calls {
		for _, e := range c.data.LogEvents {
			out = append(out, c.data.LogStream+"/"+e.Message)
		}
	}
	return out
}

const fnARN = "arn:aws:lambda:us-east-1:000000000000:function:notify"

func putEvents(t *testing.T, h *harness, group, stream string, msgs ...string) {
	t.Helper()
	var evs []types.InputLogEvent
	for _, m := range msgs {
		evs = append(evs, types.InputLogEvent{Message: aws.String(m), Timestamp: aws.Int64(h.st.now().UnixMilli())})
	}
	if _, err := h.cl.PutLogEvents(ctxT(t), &cwl.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: evs}); err != nil {
		t.Fatal(err)
	}
}

func TestSubscriptionFilterAPI(t *testing.T) {
	h := newHarness(t, "", Config{})
	h.st.SetFunctions(&recorder{})
	ctx := ctxT(t)
	put := func(group, name, pattern, dest string) error {
		_, err := h.cl.PutSubscriptionFilter(ctx, &cwl.PutSubscriptionFilterInput{LogGroupName: aws.String(group),
			FilterName: aws.String(name), FilterPattern: aws.String(pattern), DestinationArn: aws.String(dest)})
		return err
	}
	wantCode(t, put("/missing", "f", "", fnARN), "ResourceNotFoundException")
	h.cl.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("/g")})

	err := put("/g", "f", "", fnARN+":denied")
	wantCode(t, err, "InvalidParameterException")
	if !strings.Contains(err.Error(), "Could not execute the lambda function. Make sure you have given CloudWatch Logs permission to execute your function.") {
		t.Errorf("permission error: %v", err)
	}
	wantCode(t, put("/g", "f", "", "arn:aws:sqs:us-east-1:000000000000:q"), "InvalidParameterException")
	wantCode(t, put("/g", "bad:name", "", fnARN), "InvalidParameterException")
	wantCode(t, put("/g", "f", `{ $.a = `, fnARN), "InvalidParameterException")
	_, err = h.cl.PutSubscriptionFilter(ctx, &cwl.PutSubscriptionFilterInput{LogGroupName: aws.String("/g"),
		FilterName: aws.String("f"), FilterPattern: aws.String(""), DestinationArn: aws.String(fnARN), Distribution: "Everywhere"})
	wantCode(t, err, "InvalidParameterException")

	if err := put("/g", "b", "ERROR", fnARN); err != nil {
		t.Fatal(err)
	}
	if err := put("/g", "a", "", fnARN); err != nil {
		t.Fatal(err)
	}
	wantCode(t, put("/g", "c", "", fnARN), "LimitExceededException")
	// Updating one of the two is no third filter.
	if err := put("/g", "b", "WARN", fnARN); err != nil {
		t.Fatal(err)
	}
	out, err := h.cl.DescribeSubscriptionFilters(ctx, &cwl.DescribeSubscriptionFiltersInput{LogGroupName: aws.String("/g")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.SubscriptionFilters) != 2 {
		t.Fatalf("filters %+v", out.SubscriptionFilters)
	}
	a, b := out.SubscriptionFilters[0], out.SubscriptionFilters[1]
	if *a.FilterName != "a" || *b.FilterName != "b" || *b.FilterPattern != "WARN" || *b.DestinationArn != fnARN ||
		b.Distribution != types.DistributionByLogStream || *b.LogGroupName != "/g" || b.CreationTime == nil || *b.CreationTime == 0 {
		t.Errorf("filters %+v %+v", a, b)
	}
	page, err := h.cl.DescribeSubscriptionFilters(ctx, &cwl.DescribeSubscriptionFiltersInput{LogGroupName: aws.String("/g"), Limit: aws.Int32(1)})
	if err != nil || len(page.SubscriptionFilters) != 1 || page.NextToken == nil {
		t.Fatalf("page: %v %+v", err, page)
	}
	page, err = h.cl.DescribeSubscriptionFilters(ctx, &cwl.DescribeSubscriptionFiltersInput{LogGroupName: aws.String("/g"), NextToken: page.NextToken})
	if err != nil || len(page.SubscriptionFilters) != 1 || *page.SubscriptionFilters[0].FilterName != "b" {
		t.Fatalf("second page: %v %+v", err, page)
	}
	_, err = h.cl.DescribeSubscriptionFilters(ctx, &cwl.DescribeSubscriptionFiltersInput{LogGroupName: aws.String("/missing")})
	wantCode(t, err, "ResourceNotFoundException")

	_, err = h.cl.DeleteSubscriptionFilter(ctx, &cwl.DeleteSubscriptionFilterInput{LogGroupName: aws.String("/g"), FilterName: aws.String("zz")})
	wantCode(t, err, "ResourceNotFoundException")
	if _, err := h.cl.DeleteSubscriptionFilter(ctx, &cwl.DeleteSubscriptionFilterInput{LogGroupName: aws.String("/g"), FilterName: aws.String("a")}); err != nil {
		t.Fatal(err)
	}
	// The filters survive a restart.
	h.restart(t, Config{})
	h.st.SetFunctions(&recorder{})
	out, err = h.cl.DescribeSubscriptionFilters(ctx, &cwl.DescribeSubscriptionFiltersInput{LogGroupName: aws.String("/g")})
	if err != nil || len(out.SubscriptionFilters) != 1 || *out.SubscriptionFilters[0].FilterName != "b" {
		t.Fatalf("after restart: %v %+v", err, out)
	}
	// Deleting the group deletes its filters and their consumers.
	if _, err := h.cl.DeleteLogGroup(ctx, &cwl.DeleteLogGroupInput{LogGroupName: aws.String("/g")}); err != nil {
		t.Fatal(err)
	}
	h.cl.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("/g")})
	out, err = h.cl.DescribeSubscriptionFilters(ctx, &cwl.DescribeSubscriptionFiltersInput{LogGroupName: aws.String("/g")})
	if err != nil || len(out.SubscriptionFilters) != 0 {
		t.Fatalf("after the group was deleted: %v %+v", err, out)
	}
	if n := h.st.stream.CachedInfo().State.Consumers; n != 0 {
		info, _ := h.st.stream.Info(ctx)
		if info.State.Consumers != 0 {
			t.Errorf("%d consumers left", info.State.Consumers)
		}
	}
}

func TestSubscriptionDelivery(t *testing.T) {
	h := newHarness(t, "", Config{})
	rec := &recorder{}
	h.st.SetFunctions(rec)
	ctx := ctxT(t)
	h.cl.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("/g")})
	for _, s := range []string{"s1", "s2"} {
		h.cl.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: aws.String("/g"), LogStreamName: aws.String(s)})
	}
	putEvents(t, h, "/g", "s1", "ERROR before the filter")
	if _, err := h.cl.PutSubscriptionFilter(ctx, &cwl.PutSubscriptionFilterInput{LogGroupName: aws.String("/g"),
		FilterName: aws.String("errors"), FilterPattern: aws.String("ERROR"), DestinationArn: aws.String(fnARN)}); err != nil {
		t.Fatal(err)
	}
	putEvents(t, h, "/g", "s1", "INFO fine", "ERROR one", "ERROR two")
	putEvents(t, h, "/g", "s2", "ERROR three", "WARN nothing")
	want := []string{"s1/ERROR one", "s1/ERROR two", "s2/ERROR three"}
	eventually(t, "three errors delivered", func() bool { return len(rec.messages()) >= 3 })
	got := rec.messages()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
	rec.mu.Lock()
	for _, c := range rec.calls {
		d := c.data
		if c.function != fnARN || c.source != "arn:aws:logs:us-east-1:000000000000:log-group:/g:*" ||
			d.MessageType != "DATA_MESSAGE" || d.Owner != "000000000000" || d.LogGroup != "/g" ||
			!slices.Equal(d.SubscriptionFilters, []string{"errors"}) {
			t.Errorf("delivery %+v", c)
		}
		for _, e := range d.LogEvents {
			if e.ID == "" || e.Timestamp == 0 {
				t.Errorf("event %+v", e)
			}
			if !strings.HasPrefix(e.Message, "ERROR") || d.LogStream != "s1" && d.LogStream != "s2" {
				t.Errorf("event %+v of %s", e, d.LogStream)
			}
		}
	}
	rec.mu.Unlock()

	// A failed invocation is retried: the event is delivered later.
	rec.mu.Lock()
	rec.fail = 1
	rec.mu.Unlock()
	putEvents(t, h, "/g", "s1", "ERROR retried")
	eventually(t, "the retried event delivered", func() bool { return slices.Contains(rec.messages(), "s1/ERROR retried") })

	// The filter's position survives a restart: events stored while the
	// server was down are delivered once it is back, and nothing twice.
	rec2 := &recorder{}
	h.stop()
	h.start(t, Config{})
	putEvents(t, h, "/g", "s2", "ERROR while nobody delivers")
	h.st.SetFunctions(rec2)
	eventually(t, "the event after restart delivered", func() bool { return slices.Contains(rec2.messages(), "s2/ERROR while nobody delivers") })
	for _, m := range rec2.messages() {
		if m != "s2/ERROR while nobody delivers" {
			t.Errorf("delivered again after restart: %s", m)
		}
	}
}

// loopback is a function that logs a line its own filter matches each time
// it is invoked: subscribed to its own log group, it invokes itself again
// and again, as on AWS.
type loopback struct {
	recorder
	st *Store
}

func (l *loopback) InvokeAsync(ctx context.Context, fn, source string, payload []byte) error {
	if err := l.recorder.InvokeAsync(ctx, fn, source, payload); err != nil {
		return err
	}
	_, err := l.st.publish(ctx, "/aws/lambda/self", "s", []stored{{Time: l.st.now().UnixMilli(), Message: "ERROR from the subscribed function"}})
	return err
}

// TestSubscriptionLoop: a function subscribed to its own log group loops,
// one asynchronous invocation per round; the server keeps serving, and
// deleting the filter and closing the store end it.
func TestSubscriptionLoop(t *testing.T) {
	h := newHarness(t, "", Config{})
	fn := &loopback{st: h.st}
	h.st.SetFunctions(fn)
	ctx := ctxT(t)
	h.cl.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("/aws/lambda/self")})
	h.cl.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: aws.String("/aws/lambda/self"), LogStreamName: aws.String("s")})
	if _, err := h.cl.PutSubscriptionFilter(ctx, &cwl.PutSubscriptionFilterInput{LogGroupName: aws.String("/aws/lambda/self"),
		FilterName: aws.String("self"), FilterPattern: aws.String("ERROR"), DestinationArn: aws.String(fnARN)}); err != nil {
		t.Fatal(err)
	}
	putEvents(t, h, "/aws/lambda/self", "s", "ERROR first")
	eventually(t, "three rounds of the loop", func() bool { return len(fn.messages()) >= 3 })
	if _, err := h.cl.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{}); err != nil {
		t.Fatalf("the API during the loop: %v", err)
	}
	if _, err := h.cl.DeleteSubscriptionFilter(ctx, &cwl.DeleteSubscriptionFilterInput{LogGroupName: aws.String("/aws/lambda/self"), FilterName: aws.String("self")}); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkSubscriptionDelivery stores 10,000 events of 100 bytes, half of
// them matching, in 10 PutLogEvents calls and waits until the matching
// ones reached the function; it reports delivered events a second and the
// events each invocation carried.
func BenchmarkSubscriptionDelivery(b *testing.B) {
	h := newHarness(b, "", Config{})
	rec := &recorder{}
	h.st.SetFunctions(rec)
	ctx := context.Background()
	h.cl.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("/bench")})
	h.cl.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: aws.String("/bench"), LogStreamName: aws.String("s")})
	if _, err := h.cl.PutSubscriptionFilter(ctx, &cwl.PutSubscriptionFilterInput{LogGroupName: aws.String("/bench"),
		FilterName: aws.String("f"), FilterPattern: aws.String("ERROR"), DestinationArn: aws.String(fnARN)}); err != nil {
		b.Fatal(err)
	}
	line := strings.Repeat("x", 90)
	want := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := 0; k < 10; k++ {
			var evs []types.InputLogEvent
			for j := 0; j < 1000; j++ {
				lvl := "INFO "
				if j%2 == 0 {
					lvl = "ERROR"
				}
				evs = append(evs, types.InputLogEvent{Message: aws.String(lvl + line), Timestamp: aws.Int64(h.st.now().UnixMilli())})
			}
			if _, err := h.cl.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: aws.String("/bench"), LogStreamName: aws.String("s"), LogEvents: evs}); err != nil {
				b.Fatal(err)
			}
		}
		want += 5000
		for len(rec.messages()) < want {
			time.Sleep(time.Millisecond)
		}
	}
	b.StopTimer()
	rec.mu.Lock()
	calls := len(rec.calls)
	rec.mu.Unlock()
	b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(want)/float64(calls), "events/invocation")
}

// TestSubscriptionTwoNodes: two stores on one JetStream (two servers of a
// cluster) both hold a filter; each event is delivered by one of them,
// and a delete through one stops the other's delivery too.
func TestSubscriptionTwoNodes(t *testing.T) {
	h := newHarness(t, "", Config{})
	ctx := ctxT(t)
	h.cl.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("/g")})
	h.cl.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: aws.String("/g"), LogStreamName: aws.String("s")})
	recA := &recorder{}
	h.st.SetFunctions(recA)
	if _, err := h.cl.PutSubscriptionFilter(ctx, &cwl.PutSubscriptionFilterInput{LogGroupName: aws.String("/g"),
		FilterName: aws.String("all"), FilterPattern: aws.String(""), DestinationArn: aws.String(fnARN)}); err != nil {
		t.Fatal(err)
	}
	nc2, err := h.ns.Connect("logs-test-b")
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	b, err := Open(ctx, nc2, Config{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	recB := &recorder{}
	b.SetFunctions(recB)
	const n = 400
	for i := 0; i < n; i += 20 {
		var msgs []string
		for j := i; j < i+20; j++ {
			msgs = append(msgs, fmt.Sprintf("event %03d", j))
		}
		putEvents(t, h, "/g", "s", msgs...)
	}
	eventually(t, "every event delivered", func() bool { return len(recA.messages())+len(recB.messages()) >= n })
	seen := map[string]int{}
	for _, m := range append(recA.messages(), recB.messages()...) {
		seen[m]++
	}
	for i := 0; i < n; i++ {
		if k := seen[fmt.Sprintf("s/event %03d", i)]; k != 1 {
			t.Errorf("event %03d delivered %d times", i, k)
		}
	}
	t.Logf("node A delivered %d events, node B %d", len(recA.messages()), len(recB.messages()))
	consumer := consumerNameOf(h.st)
	if _, err := h.cl.DeleteSubscriptionFilter(ctx, &cwl.DeleteSubscriptionFilterInput{LogGroupName: aws.String("/g"), FilterName: aws.String("all")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node B stops delivering the deleted filter", func() bool {
		b.dl.mu.Lock()
		defer b.dl.mu.Unlock()
		return len(b.dl.run) == 0
	})
	if _, err := h.st.stream.Consumer(ctx, consumer); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("node B made the deleted filter's consumer again")
	}
}

// consumerNameOf is the consumer of the one filter of group /g.
func consumerNameOf(st *Store) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, f := range st.groups["/g"].subs {
		return f.Consumer
	}
	return ""
}
