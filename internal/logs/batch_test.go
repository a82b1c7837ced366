package logs

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/kumo-run/kumo/internal/worker"
)

// TestSinkStoresOneMessagePerFlush appends a sandbox's lines one call at a
// time, as the worker does, and finds them stored as one message, read
// back in order one by one through every read path, including pages that
// end inside the message.
func TestSinkStoresOneMessagePerFlush(t *testing.T) {
	h := newHarness(t, "", Config{FlushInterval: time.Hour, FlushEvents: 1 << 20})
	ctx := ctxT(t)
	g, s := "/aws/lambda/batched", "2026/12/05/[$LATEST]abc"
	now := time.Now()
	var want []string
	for i := range 10 {
		m := fmt.Sprintf("line %d\n", i)
		want = append(want, m)
		h.st.Append(g, s, []worker.LogEvent{{Time: now.Add(time.Duration(i) * time.Millisecond), Message: m}})
	}
	before, err := h.st.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := h.st.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := after.State.Msgs - before.State.Msgs; n != 1 {
		t.Fatalf("one flush of 10 lines of one stream stored %d messages, want 1", n)
	}

	// Forward pages of 3: every page boundary but the last falls inside
	// the stored message.
	var got []string
	var token *string
	for range 10 {
		out, err := h.cl.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: &g, LogStreamName: &s,
			StartFromHead: aws.Bool(true), Limit: aws.Int32(3), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Events {
			got = append(got, aws.ToString(e.Message))
		}
		if len(out.Events) == 0 {
			break
		}
		token = out.NextForwardToken
	}
	if !slices.Equal(got, want) {
		t.Fatalf("forward pages: %q, want %q", got, want)
	}

	// Backward pages of 4 from the end.
	got = nil
	token = nil
	for range 10 {
		out, err := h.cl.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: &g, LogStreamName: &s,
			Limit: aws.Int32(4), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		var page []string
		for _, e := range out.Events {
			page = append(page, aws.ToString(e.Message))
		}
		got = append(page, got...)
		if len(out.Events) == 0 {
			break
		}
		token = out.NextBackwardToken
	}
	if !slices.Equal(got, want) {
		t.Fatalf("backward pages: %q, want %q", got, want)
	}

	// FilterLogEvents pages of 4, with event IDs unique.
	got = nil
	ids := map[string]bool{}
	token = nil
	for {
		out, err := h.cl.FilterLogEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: &g, Limit: aws.Int32(4), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Events {
			got = append(got, aws.ToString(e.Message))
			ids[aws.ToString(e.EventId)] = true
		}
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
	}
	if !slices.Equal(got, want) || len(ids) != len(want) {
		t.Fatalf("filter pages: %q with %d distinct ids, want %q", got, len(ids), want)
	}
}

func TestBatches(t *testing.T) {
	ev := func(ms int64, size int) stored { return stored{Time: ms, Message: strings.Repeat("x", size)} }
	for _, c := range []struct {
		name string
		evs  []stored
		want []int // events per batch
	}{
		{"none", nil, nil},
		{"one", []stored{ev(1, 10)}, []int{1}},
		{"close in time", []stored{ev(1, 10), ev(2, 10), ev(3, 10)}, []int{3}},
		{"a minute apart", []stored{ev(0, 10), ev(batchSpan.Milliseconds(), 10), ev(batchSpan.Milliseconds()+1, 10)}, []int{2, 1}},
		{"large event alone", []stored{ev(1, 10), ev(1, maxBatchBytes+1), ev(1, 10)}, []int{1, 1, 1}},
		{"bytes", []stored{ev(1, maxBatchBytes/2), ev(1, maxBatchBytes/2), ev(1, 10)}, []int{1, 2}},
		{"count", slices.Repeat([]stored{ev(1, 0)}, maxBatchEvents+1), []int{maxBatchEvents, 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []int
			var all []stored
			for _, b := range batches(c.evs) {
				got = append(got, len(b))
				all = append(all, b...)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("batch sizes %v, want %v", got, c.want)
			}
			if !slices.Equal(all, c.evs) {
				t.Errorf("batches do not hold the events in order")
			}
		})
	}
}

func TestDecodeEvents(t *testing.T) {
	evs := []stored{{Time: -5, Message: ""}, {Time: 1733400000000, Message: "héllo\n"}, {Time: 7, Message: strings.Repeat("z", 300)}}
	h := map[string][]string{eventsHeader: {"3"}}
	got, err := decodeEvents(h, encodeBatch(evs))
	if err != nil || !slices.Equal(got, evs) {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for _, bad := range []struct {
		n    string
		data []byte
	}{
		{"4", encodeBatch(evs)},
		{"x", encodeBatch(evs)},
		{"-1", nil},
		{"1", []byte{2, 10, 'a'}},
	} {
		if _, err := decodeEvents(map[string][]string{eventsHeader: {bad.n}}, bad.data); err == nil {
			t.Errorf("count %s, body %q: decoded, want an error", bad.n, bad.data)
		}
	}
	one, err := decodeEvents(map[string][]string{timestampHeader: {"42"}}, []byte("single"))
	if err != nil || len(one) != 1 || one[0] != (stored{Time: 42, Message: "single"}) {
		t.Errorf("single-event message: %v %v", one, err)
	}
}
