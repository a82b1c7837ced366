package logs

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
)

func TestLogGroups(t *testing.T) {
	h := newHarness(t, "", Config{})
	ctx := ctxT(t)
	for _, n := range []string{"/aws/lambda/b", "/aws/lambda/a", "/other/x", "/aws/lambda/c"} {
		if _, err := h.cl.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String(n)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := h.cl.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("/aws/lambda/a")})
	wantCode(t, err, "ResourceAlreadyExistsException")
	_, err = h.cl.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("bad:name")})
	wantCode(t, err, "InvalidParameterException")

	// Pagination over a prefix, two at a time.
	var names []string
	p := cwl.NewDescribeLogGroupsPaginator(h.cl, &cwl.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws/lambda/"), Limit: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, g := range out.LogGroups {
			names = append(names, *g.LogGroupName)
			if g.CreationTime == nil || *g.CreationTime == 0 || !strings.HasSuffix(*g.Arn, ":log-group:"+*g.LogGroupName+":*") {
				t.Errorf("group %+v", g)
			}
		}
	}
	if want := []string{"/aws/lambda/a", "/aws/lambda/b", "/aws/lambda/c"}; !slices.Equal(names, want) || pages != 2 {
		t.Errorf("groups %v in %d pages, want %v in 2", names, pages, want)
	}
	out, err := h.cl.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{LogGroupNamePattern: aws.String("OTHER")})
	if err != nil || len(out.LogGroups) != 1 || *out.LogGroups[0].LogGroupName != "/other/x" {
		t.Errorf("pattern: %v %+v", err, out)
	}
	_, err = h.cl.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{LogGroupNamePattern: aws.String("a"), LogGroupNamePrefix: aws.String("/a")})
	wantCode(t, err, "InvalidParameterException")
	_, err = h.cl.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{NextToken: aws.String("!!!")})
	wantCode(t, err, "InvalidParameterException")

	// Retention.
	if _, err := h.cl.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: aws.String("/other/x"), RetentionInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: aws.String("/other/x"), RetentionInDays: aws.Int32(2)})
	wantCode(t, err, "InvalidParameterException")
	_, err = h.cl.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: aws.String("/nope"), RetentionInDays: aws.Int32(1)})
	wantCode(t, err, "ResourceNotFoundException")
	out, _ = h.cl.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/other")})
	if r := out.LogGroups[0].RetentionInDays; r == nil || *r != 7 {
		t.Errorf("retention %v, want 7", r)
	}
	if _, err := h.cl.DeleteRetentionPolicy(ctx, &cwl.DeleteRetentionPolicyInput{LogGroupName: aws.String("/other/x")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.DeleteRetentionPolicy(ctx, &cwl.DeleteRetentionPolicyInput{LogGroupName: aws.String("/nope")})
	wantCode(t, err, "ResourceNotFoundException")
	out, _ = h.cl.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/other")})
	if r := out.LogGroups[0].RetentionInDays; r != nil {
		t.Errorf("retention %v after delete", *r)
	}

	// Delete.
	if _, err := h.cl.DeleteLogGroup(ctx, &cwl.DeleteLogGroupInput{LogGroupName: aws.String("/other/x")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.DeleteLogGroup(ctx, &cwl.DeleteLogGroupInput{LogGroupName: aws.String("/other/x")})
	wantCode(t, err, "ResourceNotFoundException")
	out, _ = h.cl.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{})
	if len(out.LogGroups) != 3 {
		t.Errorf("%d groups after delete, want 3", len(out.LogGroups))
	}
}

func TestLogStreams(t *testing.T) {
	h := newHarness(t, "", Config{})
	ctx := ctxT(t)
	g := aws.String("/aws/lambda/fn")
	_, err := h.cl.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: aws.String("s")})
	wantCode(t, err, "ResourceNotFoundException")
	h.cl.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: g})
	now := time.Now().UnixMilli()
	// Streams a..e; the later the name, the older its last event, except "c" with none.
	for i, n := range []string{"2026/01/01/[$LATEST]a", "2026/01/01/[$LATEST]b", "2026/01/01/[$LATEST]c", "2026/01/01/[$LATEST]d", "x"} {
		if _, err := h.cl.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: aws.String(n)}); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			continue
		}
		if _, err := h.cl.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: aws.String(n),
			LogEvents: []types.InputLogEvent{{Timestamp: aws.Int64(now - int64(i)*1000), Message: aws.String("hello " + n)}}}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = h.cl.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: aws.String("x")})
	wantCode(t, err, "ResourceAlreadyExistsException")
	_, err = h.cl.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: aws.String("a:b")})
	wantCode(t, err, "InvalidParameterException")

	list := func(in *cwl.DescribeLogStreamsInput) []string {
		t.Helper()
		var names []string
		p := cwl.NewDescribeLogStreamsPaginator(h.cl, in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range out.LogStreams {
				names = append(names, strings.TrimPrefix(*s.LogStreamName, "2026/01/01/[$LATEST]"))
			}
		}
		return names
	}
	for _, tc := range []struct {
		in   cwl.DescribeLogStreamsInput
		want string
	}{
		{cwl.DescribeLogStreamsInput{Limit: aws.Int32(2)}, "a b c d x"},
		{cwl.DescribeLogStreamsInput{Limit: aws.Int32(2), Descending: aws.Bool(true)}, "x d c b a"},
		{cwl.DescribeLogStreamsInput{LogStreamNamePrefix: aws.String("2026/")}, "a b c d"},
		{cwl.DescribeLogStreamsInput{OrderBy: types.OrderByLastEventTime, Limit: aws.Int32(1)}, "c x d b a"},
		{cwl.DescribeLogStreamsInput{OrderBy: types.OrderByLastEventTime, Descending: aws.Bool(true), Limit: aws.Int32(3)}, "a b d x c"},
	} {
		tc.in.LogGroupName = g
		if got := strings.Join(list(&tc.in), " "); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.in, got, tc.want)
		}
	}
	out, err := h.cl.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: g, LogStreamNamePrefix: aws.String("x")})
	if err != nil || len(out.LogStreams) != 1 {
		t.Fatal(err, out)
	}
	s := out.LogStreams[0]
	if *s.FirstEventTimestamp != now-4000 || *s.LastEventTimestamp != now-4000 || *s.LastIngestionTime == 0 || *s.CreationTime == 0 {
		t.Errorf("stream %+v", s)
	}
	_, err = h.cl.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: g, OrderBy: types.OrderByLastEventTime, LogStreamNamePrefix: aws.String("x")})
	wantCode(t, err, "InvalidParameterException")
	_, err = h.cl.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: aws.String("/nope")})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = h.cl.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: g, Limit: aws.Int32(51)})
	wantCode(t, err, "InvalidParameterException")
}

func putN(t *testing.T, h *harness, g, s string, n int, ts func(i int) int64) {
	t.Helper()
	var evs []types.InputLogEvent
	for i := range n {
		evs = append(evs, types.InputLogEvent{Timestamp: aws.Int64(ts(i)), Message: aws.String(fmt.Sprintf("line %d", i))})
	}
	if _, err := h.cl.PutLogEvents(ctxT(t), &cwl.PutLogEventsInput{LogGroupName: &g, LogStreamName: &s, LogEvents: evs}); err != nil {
		t.Fatal(err)
	}
}

func TestPutAndGetLogEvents(t *testing.T) {
	h := newHarness(t, "", Config{})
	ctx := ctxT(t)
	g, s := aws.String("/aws/lambda/fn"), aws.String("s1")
	ev := []types.InputLogEvent{{Timestamp: aws.Int64(1), Message: aws.String("x")}}
	_, err := h.cl.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: ev})
	wantCode(t, err, "ResourceNotFoundException")
	h.cl.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: g})
	_, err = h.cl.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: ev})
	wantCode(t, err, "ResourceNotFoundException")
	h.cl.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: s})

	now := time.Now()
	// Too old, ok, ok, too new.
	_, err = h.cl.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: []types.InputLogEvent{
		{Timestamp: aws.Int64(now.Add(-15 * 24 * time.Hour).UnixMilli()), Message: aws.String("old")},
		{Timestamp: aws.Int64(now.Add(-2 * time.Hour).UnixMilli()), Message: aws.String("ok")},
		{Timestamp: aws.Int64(now.UnixMilli()), Message: aws.String("ok")},
		{Timestamp: aws.Int64(now.Add(3 * time.Hour).UnixMilli()), Message: aws.String("new")},
	}})
	wantCode(t, err, "InvalidParameterException") // spans more than 24 hours
	out, err := h.cl.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: []types.InputLogEvent{
		{Timestamp: aws.Int64(now.Add(-14*24*time.Hour - time.Minute).UnixMilli()), Message: aws.String("old")},
		{Timestamp: aws.Int64(now.Add(-14*24*time.Hour + 10*time.Hour).UnixMilli()), Message: aws.String("ok")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.NextSequenceToken == nil || out.RejectedLogEventsInfo == nil || aws.ToInt32(out.RejectedLogEventsInfo.TooOldLogEventEndIndex) != 1 {
		t.Errorf("rejected %+v", out.RejectedLogEventsInfo)
	}
	out, err = h.cl.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: []types.InputLogEvent{
		{Timestamp: aws.Int64(now.UnixMilli()), Message: aws.String("ok")},
		{Timestamp: aws.Int64(now.Add(3 * time.Hour).UnixMilli()), Message: aws.String("new")},
	}})
	if err != nil || out.RejectedLogEventsInfo == nil || aws.ToInt32(out.RejectedLogEventsInfo.TooNewLogEventStartIndex) != 1 {
		t.Errorf("too new: %v %+v", err, out)
	}
	_, err = h.cl.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: []types.InputLogEvent{
		{Timestamp: aws.Int64(2), Message: aws.String("b")}, {Timestamp: aws.Int64(1), Message: aws.String("a")},
	}})
	wantCode(t, err, "InvalidParameterException") // out of order

	// A fresh stream of 25 events for paging.
	s2 := "paged"
	h.cl.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: &s2})
	base := now.Add(-time.Hour).UnixMilli()
	putN(t, h, *g, s2, 25, func(i int) int64 { return base + int64(i) })

	msgs := func(evs []types.OutputLogEvent) string {
		var b []string
		for _, e := range evs {
			b = append(b, strings.TrimPrefix(*e.Message, "line "))
		}
		return strings.Join(b, ",")
	}
	// Default: the latest events.
	got, err := h.cl.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: &s2, Limit: aws.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	if m := msgs(got.Events); m != "15,16,17,18,19,20,21,22,23,24" {
		t.Errorf("tail: %s", m)
	}
	if got.Events[0].IngestionTime == nil || *got.Events[0].IngestionTime == 0 {
		t.Error("no ingestion time")
	}
	// Backwards from there.
	got, _ = h.cl.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: &s2, Limit: aws.Int32(10), NextToken: got.NextBackwardToken})
	if m := msgs(got.Events); m != "5,6,7,8,9,10,11,12,13,14" {
		t.Errorf("backward: %s", m)
	}
	got, _ = h.cl.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: &s2, Limit: aws.Int32(10), NextToken: got.NextBackwardToken})
	if m := msgs(got.Events); m != "0,1,2,3,4" {
		t.Errorf("backward 2: %s", m)
	}
	b := got.NextBackwardToken
	got, _ = h.cl.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: &s2, Limit: aws.Int32(10), NextToken: b})
	if len(got.Events) != 0 || *got.NextBackwardToken != *b {
		t.Errorf("past the head: %d events, token %s want %s", len(got.Events), *got.NextBackwardToken, *b)
	}

	// Forwards from the head, to the end, where the token repeats.
	var all []string
	tok := (*string)(nil)
	for i := 0; ; i++ {
		got, err = h.cl.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: &s2, Limit: aws.Int32(10), StartFromHead: aws.Bool(true), NextToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		if tok != nil && *got.NextForwardToken == *tok {
			if len(got.Events) != 0 {
				t.Error("events with a repeated token")
			}
			break
		}
		if m := msgs(got.Events); m != "" {
			all = append(all, m)
		}
		tok = got.NextForwardToken
		if i > 10 {
			t.Fatal("no end")
		}
	}
	if strings.Join(all, "|") != "0,1,2,3,4,5,6,7,8,9|10,11,12,13,14,15,16,17,18,19|20,21,22,23,24" {
		t.Errorf("forward pages %v", all)
	}
	// New events show up behind the forward token.
	putN(t, h, *g, s2, 1, func(int) int64 { return base + 100 })
	got, _ = h.cl.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: &s2, NextToken: tok})
	if m := msgs(got.Events); m != "0" {
		t.Errorf("after the end: %q", m)
	}

	// Time range.
	got, _ = h.cl.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: &s2, StartFromHead: aws.Bool(true),
		StartTime: aws.Int64(base + 3), EndTime: aws.Int64(base + 6)})
	if m := msgs(got.Events); m != "3,4,5" {
		t.Errorf("time range: %s", m)
	}
	// By ARN.
	got, err = h.cl.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupIdentifier: aws.String("arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/fn:*"),
		LogStreamName: &s2, Limit: aws.Int32(1)})
	if err != nil || len(got.Events) != 1 {
		t.Errorf("by ARN: %v", err)
	}
	// A sparse stream among many events of another: reading back from the
	// tail widens its window until it finds enough.
	h.cl.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: aws.String("sparse")})
	h.cl.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: aws.String("busy")})
	putN(t, h, *g, "sparse", 3, func(i int) int64 { return base + int64(i) })
	for range 3 {
		putN(t, h, *g, "busy", 1000, func(i int) int64 { return base + int64(i) })
	}
	got, err = h.cl.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: aws.String("sparse"), Limit: aws.Int32(2)})
	if m := msgs(got.Events); err != nil || m != "1,2" {
		t.Errorf("sparse tail: %q %v", m, err)
	}
	got, err = h.cl.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: aws.String("sparse"), Limit: aws.Int32(2), NextToken: got.NextBackwardToken})
	if m := msgs(got.Events); err != nil || m != "0" {
		t.Errorf("sparse backward: %q %v", m, err)
	}
	got, err = h.cl.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: aws.String("busy")})
	if err != nil || len(got.Events) != 3000 {
		t.Errorf("busy tail: %d events, %v", len(got.Events), err)
	}

	_, err = h.cl.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = h.cl.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: &s2, NextToken: aws.String("x/1")})
	wantCode(t, err, "InvalidParameterException")
}

func TestFilterLogEvents(t *testing.T) {
	h := newHarness(t, "", Config{})
	ctx := ctxT(t)
	g := "/aws/lambda/fn"
	h.cl.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: &g})
	base := time.Now().Add(-time.Hour).UnixMilli()
	for _, s := range []string{"a1", "a2", "b1"} {
		h.cl.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: &g, LogStreamName: aws.String(s)})
		putN(t, h, g, s, 10, func(i int) int64 { return base + int64(i) })
	}
	h.cl.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: &g, LogStreamName: aws.String("b1"), LogEvents: []types.InputLogEvent{
		{Timestamp: aws.Int64(base + 50), Message: aws.String(`{"level":"ERROR","latency":120,"user":{"id":"u-17"}}`)},
		{Timestamp: aws.Int64(base + 51), Message: aws.String(`{"level":"INFO","latency":20,"user":{"id":"u-18"}}`)},
	}})

	all := func(in cwl.FilterLogEventsInput) (int, []string) {
		t.Helper()
		in.LogGroupName = &g
		n := 0
		var streams []string
		p := cwl.NewFilterLogEventsPaginator(h.cl, &in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range out.Events {
				n++
				if *e.EventId == "" || *e.IngestionTime == 0 {
					t.Errorf("event %+v", e)
				}
				if !slices.Contains(streams, *e.LogStreamName) {
					streams = append(streams, *e.LogStreamName)
				}
			}
		}
		slices.Sort(streams)
		return n, streams
	}
	for _, tc := range []struct {
		name    string
		in      cwl.FilterLogEventsInput
		n       int
		streams string
	}{
		{"everything, paged", cwl.FilterLogEventsInput{Limit: aws.Int32(7)}, 32, "a1 a2 b1"},
		{"stream names", cwl.FilterLogEventsInput{LogStreamNames: []string{"a2", "b1"}, Limit: aws.Int32(3)}, 22, "a2 b1"},
		{"prefix", cwl.FilterLogEventsInput{LogStreamNamePrefix: aws.String("a")}, 20, "a1 a2"},
		{"prefix matching nothing", cwl.FilterLogEventsInput{LogStreamNamePrefix: aws.String("z")}, 0, ""},
		{"time range", cwl.FilterLogEventsInput{StartTime: aws.Int64(base + 2), EndTime: aws.Int64(base + 4)}, 9, "a1 a2 b1"},
		{"term", cwl.FilterLogEventsInput{FilterPattern: aws.String("line 7")}, 3, "a1 a2 b1"},
		{"phrase", cwl.FilterLogEventsInput{FilterPattern: aws.String(`"line 7"`)}, 3, "a1 a2 b1"},
		{"json", cwl.FilterLogEventsInput{FilterPattern: aws.String(`{ $.latency > 100 }`)}, 1, "b1"},
		{"json string", cwl.FilterLogEventsInput{FilterPattern: aws.String(`{ $.user.id = "u-1*" && $.level != "ERROR" }`)}, 1, "b1"},
	} {
		n, streams := all(tc.in)
		if n != tc.n || strings.Join(streams, " ") != tc.streams {
			t.Errorf("%s: %d events in %v, want %d in %s", tc.name, n, streams, tc.n, tc.streams)
		}
	}
	_, err := h.cl.FilterLogEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: &g, FilterPattern: aws.String(`{ $.x = `)})
	wantCode(t, err, "InvalidParameterException")
	_, err = h.cl.FilterLogEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: &g, LogStreamNames: []string{"a1"}, LogStreamNamePrefix: aws.String("a")})
	wantCode(t, err, "InvalidParameterException")
	_, err = h.cl.FilterLogEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: aws.String("/nope")})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = h.cl.FilterLogEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: &g, NextToken: aws.String("???")})
	wantCode(t, err, "InvalidParameterException")
}

// TestWire checks the JSON 1.1 error shape a raw client sees.
func TestWire(t *testing.T) {
	h := newHarness(t, "", Config{})
	req, _ := http.NewRequest("POST", h.srv.URL, strings.NewReader(`{"logGroupName":"/nope"}`))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Logs_20140328.DeleteLogGroup")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/x-amz-json-1.1" ||
		string(body) != `{"__type":"ResourceNotFoundException","message":"The specified log group does not exist."}` {
		t.Errorf("%d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	req, _ = http.NewRequest("POST", h.srv.URL, strings.NewReader(`{`))
	req.Header.Set("X-Amz-Target", "Logs_20140328.CreateLogGroup")
	resp, _ = http.DefaultClient.Do(req)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "SerializationException") {
		t.Errorf("bad json: %d %s", resp.StatusCode, body)
	}
	req, _ = http.NewRequest("POST", h.srv.URL, strings.NewReader(`{}`))
	req.Header.Set("X-Amz-Target", "Logs_20140328.StartLiveTail")
	resp, _ = http.DefaultClient.Do(req)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "UnknownOperationException") {
		t.Errorf("unknown op: %d %s", resp.StatusCode, body)
	}
}

// TestSignedThroughEdge checks that SigV4-signed requests for service
// "logs" reach the handler when the edge authenticates.
func TestSignedThroughEdge(t *testing.T) {
	h := newHarness(t, "", Config{})
	srv := httptest.NewServer(edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: awsproto.StaticCredentials{"AKIDTEST": "secret"}},
		Services: map[string]http.Handler{"logs": h.st.Handler()},
	}))
	defer srv.Close()
	cl := cwl.NewFromConfig(aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient: srv.Client(), RetryMaxAttempts: 1,
	}, func(o *cwl.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	ctx := ctxT(t)
	if _, err := cl.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("/signed")}); err != nil {
		t.Fatal(err)
	}
	_, err := cl.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("/signed")})
	wantCode(t, err, "ResourceAlreadyExistsException")
	bad := cwl.NewFromConfig(aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "wrong", ""),
		HTTPClient: srv.Client(), RetryMaxAttempts: 1,
	}, func(o *cwl.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	_, err = bad.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{})
	wantCode(t, err, "InvalidSignatureException")
}
