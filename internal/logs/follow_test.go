package logs

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/kumo-run/kumo/internal/worker"
)

// TestFollowByPolling follows a group the way `aws logs tail --follow`
// (AWS CLI v2) does: FilterLogEvents from the last timestamp seen, with
// events already printed skipped by eventId.
func TestFollowByPolling(t *testing.T) {
	h := newHarness(t, "", Config{FlushInterval: 5 * time.Millisecond})
	g := "/aws/lambda/follow"
	seen := map[string]bool{}
	var got []string
	start := time.Now().Add(-time.Minute).UnixMilli()
	poll := func() {
		p := cwl.NewFilterLogEventsPaginator(h.cl, &cwl.FilterLogEventsInput{LogGroupName: &g, StartTime: aws.Int64(start)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range out.Events {
				if !seen[*e.EventId] {
					seen[*e.EventId] = true
					got = append(got, *e.Message)
				}
				start = max(start, *e.Timestamp)
			}
		}
	}
	h.st.Append(g, "a", []worker.LogEvent{{Time: time.Now(), Message: "one"}})
	h.st.Flush(ctxT(t))
	poll()
	t0 := time.Now()
	h.st.Append(g, "b", []worker.LogEvent{{Time: t0.Add(time.Millisecond), Message: "two"}})
	h.st.Append(g, "a", []worker.LogEvent{{Time: t0.Add(2 * time.Millisecond), Message: "three"}})
	h.st.Flush(ctxT(t))
	eventually(t, "new events to be followed", func() bool { poll(); return len(got) == 3 })
	if strings.Join(got, ",") != "one,two,three" {
		t.Errorf("followed %v", got)
	}
}
