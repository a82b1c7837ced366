package logs

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/worker"
)

func messages(t *testing.T, h *harness, g, s string) []string {
	t.Helper()
	var out []string
	var tok *string
	for {
		got, err := h.cl.GetLogEvents(ctxT(t), &cwl.GetLogEventsInput{LogGroupName: &g, LogStreamName: &s, StartFromHead: aws.Bool(true), NextToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range got.Events {
			out = append(out, *e.Message)
		}
		if tok != nil && *tok == *got.NextForwardToken {
			return out
		}
		tok = got.NextForwardToken
	}
}

func TestSinkCreatesGroupAndStores(t *testing.T) {
	h := newHarness(t, "", Config{})
	g, s := "/aws/lambda/fn", "2026/01/01/[$LATEST]abc"
	t0 := time.Now()
	for i := range 600 {
		h.st.Append(g, s, []worker.LogEvent{{Time: t0.Add(time.Duration(i) * time.Millisecond), Message: fmt.Sprintf("line %d", i)}})
	}
	if err := h.st.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	got := messages(t, h, g, s)
	if len(got) != 600 || got[0] != "line 0" || got[599] != "line 599" {
		t.Fatalf("%d events: %v...", len(got), got[:min(3, len(got))])
	}
	out, err := h.cl.DescribeLogStreams(ctxT(t), &cwl.DescribeLogStreamsInput{LogGroupName: &g})
	if err != nil || len(out.LogStreams) != 1 {
		t.Fatal(err, out)
	}
	ls := out.LogStreams[0]
	if *ls.FirstEventTimestamp != t0.UnixMilli() || *ls.LastEventTimestamp != t0.Add(599*time.Millisecond).UnixMilli() {
		t.Errorf("stream times %d %d", *ls.FirstEventTimestamp, *ls.LastEventTimestamp)
	}
	groups, _ := h.cl.DescribeLogGroups(ctxT(t), &cwl.DescribeLogGroupsInput{})
	if len(groups.LogGroups) != 1 || *groups.LogGroups[0].StoredBytes == 0 {
		t.Errorf("groups %+v", groups.LogGroups)
	}

	// A deleted group comes back with the next line, as Lambda's does.
	h.cl.DeleteLogGroup(ctxT(t), &cwl.DeleteLogGroupInput{LogGroupName: &g})
	h.st.Append(g, s, []worker.LogEvent{{Time: time.Now(), Message: "again"}})
	h.st.Flush(ctxT(t))
	if got := messages(t, h, g, s); len(got) != 1 || got[0] != "again" {
		t.Errorf("after delete: %v", got)
	}
}

func TestSinkDropsOverBudget(t *testing.T) {
	h := newHarness(t, "", Config{FlushInterval: time.Hour, FlushEvents: 1 << 30, StreamBudget: 10 * (100 + eventOverhead), GlobalBudget: 1 << 20})
	g, s := "/aws/lambda/fn", "s"
	line := strings.Repeat("x", 100)
	for range 25 {
		h.st.Append(g, s, []worker.LogEvent{{Time: time.Now(), Message: line}})
	}
	// The first flush stores the 10 that fit; drops are still fresh, so
	// the marker waits for a flush with no new drops.
	h.st.Flush(ctxT(t))
	h.st.Flush(ctxT(t))
	got := messages(t, h, g, s)
	if len(got) != 11 {
		t.Fatalf("%d events, want 10 and a marker: %v", len(got), got)
	}
	if want := fmt.Sprintf(DroppedFormat, 15); got[10] != want {
		t.Errorf("marker %q, want %q", got[10], want)
	}
	// Room again: lines are kept.
	h.st.Append(g, s, []worker.LogEvent{{Time: time.Now(), Message: "later"}})
	h.st.Flush(ctxT(t))
	if got := messages(t, h, g, s); got[len(got)-1] != "later" || len(got) != 12 {
		t.Errorf("after the episode: %v", got[10:])
	}
}

func TestRetentionSweep(t *testing.T) {
	var clock atomic.Int64
	t0 := time.Now().Truncate(time.Millisecond)
	clock.Store(t0.UnixMilli())
	h := newHarness(t, "", Config{Now: func() time.Time { return time.UnixMilli(clock.Load()) }})
	ctx := ctxT(t)
	g := "/aws/lambda/fn"
	h.cl.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: &g})
	for _, s := range []string{"mixed", "allold", "young"} {
		h.cl.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: &g, LogStreamName: aws.String(s)})
	}
	put := func(s string, at time.Time, msg string) {
		t.Helper()
		if _, err := h.cl.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: &g, LogStreamName: &s,
			LogEvents: []types.InputLogEvent{{Timestamp: aws.Int64(at.UnixMilli()), Message: &msg}}}); err != nil {
			t.Fatal(err)
		}
	}
	put("mixed", t0.Add(-20*time.Hour), "old1")
	put("mixed", t0.Add(-21*time.Hour), "old2")
	put("mixed", t0, "young")
	put("mixed", t0.Add(-20*time.Hour), "old3") // out of order: deleted on its own
	put("allold", t0.Add(-20*time.Hour), "old")
	put("young", t0, "young")
	if _, err := h.cl.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: &g, RetentionInDays: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	if err := h.st.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := messages(t, h, g, "mixed"); len(got) != 4 {
		t.Fatalf("nothing is past retention yet, but %v remain", got)
	}
	// Ten hours later, whatever is older than a day goes.
	clock.Store(t0.Add(10 * time.Hour).UnixMilli())
	if err := h.st.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]string{"mixed": "young", "allold": "", "young": "young"} {
		if got := strings.Join(messages(t, h, g, s), ","); got != want {
			t.Errorf("%s: %q, want %q", s, got, want)
		}
	}
	streams, _ := h.cl.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: &g, LogStreamNamePrefix: aws.String("mixed")})
	if f := aws.ToInt64(streams.LogStreams[0].FirstEventTimestamp); f != t0.UnixMilli() {
		t.Errorf("first event of mixed %d, want %d", f, t0.UnixMilli())
	}
	groups, _ := h.cl.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{})
	if b := aws.ToInt64(groups.LogGroups[0].StoredBytes); b != int64(2*len("young")) {
		t.Errorf("stored bytes %d after the sweep, want %d", b, 2*len("young"))
	}
	// Events past retention are refused with expiredLogEventEndIndex.
	out, err := h.cl.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: &g, LogStreamName: aws.String("young"),
		LogEvents: []types.InputLogEvent{{Timestamp: aws.Int64(t0.Add(-20 * time.Hour).UnixMilli()), Message: aws.String("late")}}})
	if err != nil || out.RejectedLogEventsInfo == nil || aws.ToInt32(out.RejectedLogEventsInfo.ExpiredLogEventEndIndex) != 1 {
		t.Errorf("expired: %v %+v", err, out)
	}
}

func TestSweeperRuns(t *testing.T) {
	h := newHarness(t, "", Config{SweepInterval: 50 * time.Millisecond})
	ctx := ctxT(t)
	g, s := "/aws/lambda/fn", "s"
	old := time.Now().Add(-3 * 24 * time.Hour)
	h.st.Append(g, s, []worker.LogEvent{{Time: old, Message: "old"}, {Time: time.Now(), Message: "new"}})
	h.st.Flush(ctx)
	h.cl.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: &g, RetentionInDays: aws.Int32(1)})
	eventually(t, "the sweeper to delete the old event", func() bool {
		return strings.Join(messages(t, h, g, s), ",") == "new"
	})
}

func TestDurableAcrossRestart(t *testing.T) {
	h := newHarness(t, "", Config{})
	ctx := ctxT(t)
	g := "/aws/lambda/fn"
	h.cl.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: &g})
	h.cl.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: &g, RetentionInDays: aws.Int32(30)})
	h.cl.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: &g, LogStreamName: aws.String("api")})
	putN(t, h, g, "api", 5, func(i int) int64 { return time.Now().UnixMilli() + int64(i) })
	h.st.Append(g, "[$LATEST]sandbox", []worker.LogEvent{{Time: time.Now(), Message: "START RequestId: 1"}})
	h.st.Close() // stores what the sink holds

	h.restart(t, Config{})
	out, err := h.cl.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{})
	if err != nil || len(out.LogGroups) != 1 || aws.ToInt32(out.LogGroups[0].RetentionInDays) != 30 {
		t.Fatalf("groups after restart: %v %+v", err, out)
	}
	if got := messages(t, h, g, "api"); len(got) != 5 || got[4] != "line 4" {
		t.Errorf("api: %v", got)
	}
	if got := messages(t, h, g, "[$LATEST]sandbox"); len(got) != 1 {
		t.Errorf("sandbox: %v", got)
	}
	streams, _ := h.cl.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: &g, OrderBy: types.OrderByLastEventTime})
	if len(streams.LogStreams) != 2 || streams.LogStreams[0].LastEventTimestamp == nil {
		t.Errorf("streams: %+v", streams.LogStreams)
	}
	// And new events keep coming after the old ones.
	putN(t, h, g, "api", 1, func(int) int64 { return time.Now().UnixMilli() + 10 })
	if got := messages(t, h, g, "api"); len(got) != 6 {
		t.Errorf("api after more: %d", len(got))
	}
}

// TestFloodBoundsMemory appends 200 MB of lines as fast as possible from
// several streams and checks the heap stays near the sink's budget.
func TestFloodBoundsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("floods the log store")
	}
	h := newHarness(t, "", Config{})
	g := "/aws/lambda/flood"
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse

	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	const total = 200 << 20
	const producers = 4
	line := []byte(strings.Repeat("flood ", 170)) // ~1 KiB
	var pw sync.WaitGroup
	start := time.Now()
	for p := range producers {
		pw.Add(1)
		go func() {
			defer pw.Done()
			s := fmt.Sprintf("[$LATEST]%d", p)
			for n := 0; n < total/producers; n += len(line) {
				// string(line) allocates, as the worker's capture does.
				h.st.Append(g, s, []worker.LogEvent{{Time: time.Now(), Message: string(line)}})
			}
		}()
	}
	pw.Wait()
	elapsed := time.Since(start)
	h.st.Flush(ctxT(t))
	h.st.Flush(ctxT(t))
	close(done)
	wg.Wait()
	growth := int64(peak.Load()) - int64(base)
	t.Logf("appended 200 MB in %v; heap in use grew by at most %d MB", elapsed, growth>>20)
	if growth > 96<<20 {
		t.Errorf("heap in use grew by %d MB while flooding", growth>>20)
	}
	// Each stream says it lost lines.
	out, err := h.cl.FilterLogEvents(ctxT(t), &cwl.FilterLogEventsInput{LogGroupName: &g, FilterPattern: aws.String(`"log lines dropped"`)})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range out.Events {
		seen[*e.LogStreamName] = true
	}
	if len(seen) != producers {
		t.Errorf("markers in %d streams, want %d", len(seen), producers)
	}

}

// Close returns within its bound when the store never answers the sink's
// writes, and says how many events it dropped.
func TestCloseBoundedWhenStoreHangs(t *testing.T) {
	var buf syncBuffer
	h := newHarness(t, "", Config{CloseTimeout: 200 * time.Millisecond, FlushInterval: time.Hour, FlushEvents: 1 << 30,
		Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	// Writes to the log stream get no answer: the stream is gone and a
	// silent subscriber takes its subject.
	js, err := jetstream.New(h.nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(ctxT(t), natsd.LogsStream); err != nil {
		t.Fatal(err)
	}
	sub, err := h.nc.SubscribeSync(natsd.LogsSubjects)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	for i := range 3 {
		h.st.Append("/aws/lambda/fn", fmt.Sprintf("s%d", i), []worker.LogEvent{{Time: time.Now(), Message: "lost"}})
	}
	closed := make(chan struct{})
	go func() { h.st.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second): // 90 s without the bound
		t.Fatal("Close did not return")
	}
	if !strings.Contains(buf.String(), "could not be stored before shutdown") || !strings.Contains(buf.String(), "events=3") {
		t.Errorf("log: %s", buf.String())
	}
}

// A log group past its byte cap loses its oldest events first.
func TestGroupByteCap(t *testing.T) {
	h := newHarness(t, "", Config{GroupMaxBytes: 10 << 10})
	g := "/aws/lambda/big"
	line := strings.Repeat("y", 1000)
	for i := range 40 {
		h.st.Append(g, fmt.Sprintf("s%d", i%2), []worker.LogEvent{{Time: time.Now(), Message: fmt.Sprintf("%03d %s", i, line)}})
		if err := h.st.Flush(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "group under its cap", func() bool {
		_, streams, _ := h.st.groupInfo(g)
		var n int64
		for _, m := range streams {
			n += m.StoredBytes
		}
		return n <= 10<<10
	})
	got := messages(t, h, g, "s1")
	if len(got) == 0 || len(got) >= 20 || !strings.HasPrefix(got[len(got)-1], "039 ") {
		t.Fatalf("%d events kept in s1, last %q", len(got), got[len(got)-1])
	}
	if strings.HasPrefix(got[0], "001 ") {
		t.Errorf("oldest event kept: %q", got[0][:4])
	}
}

// Groups the sink creates for functions expire after RetentionDays;
// groups created through the API never expire, as in CloudWatch Logs.
func TestRetentionDefault(t *testing.T) {
	h := newHarness(t, "", Config{})
	h.st.Append("/aws/lambda/fn", "s", []worker.LogEvent{{Time: time.Now(), Message: "x"}})
	h.st.Flush(ctxT(t))
	if _, err := h.cl.CreateLogGroup(ctxT(t), &cwl.CreateLogGroupInput{LogGroupName: aws.String("/mine")}); err != nil {
		t.Fatal(err)
	}
	out, err := h.cl.DescribeLogGroups(ctxT(t), &cwl.DescribeLogGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int32{}
	for _, lg := range out.LogGroups {
		got[*lg.LogGroupName] = aws.ToInt32(lg.RetentionInDays)
	}
	if got["/aws/lambda/fn"] != DefaultRetentionDays || got["/mine"] != 0 {
		t.Errorf("retention %v", got)
	}
}

// While the store refuses writes the sink drops lines and says so with a
// marker once it can write again.
func TestSinkRespectsWritable(t *testing.T) {
	var refuse atomic.Bool
	refuse.Store(true)
	h := newHarness(t, "", Config{Writable: func() error {
		if refuse.Load() {
			return errors.New("disk full")
		}
		return nil
	}})
	g, s := "/aws/lambda/fn", "s"
	h.st.Append(g, s, []worker.LogEvent{{Time: time.Now(), Message: "dropped"}})
	h.st.Flush(ctxT(t))
	refuse.Store(false)
	h.st.Append(g, s, []worker.LogEvent{{Time: time.Now(), Message: "kept"}})
	h.st.Flush(ctxT(t))
	h.st.Flush(ctxT(t))
	got := messages(t, h, g, s)
	if len(got) != 2 || got[0] != "kept" || got[1] != fmt.Sprintf(DroppedFormat, 1) {
		t.Errorf("events %q", got)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
