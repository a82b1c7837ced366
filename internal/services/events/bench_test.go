package events_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/kumo-run/kumo/internal/poll"
)

// BenchmarkPutEvents: PutEvents of 10 entries through the SigV4 edge,
// each stored (fsync) before the answer, matched by one of 20 rules and
// delivered to a queue target; the time is per entry, until every entry
// reached its target.
func BenchmarkPutEvents(b *testing.B) {
	h := newHarness(b)
	ctx := b.Context()
	for i := range 20 {
		name := "r" + string(rune('a'+i))
		pattern := `{"source":["app"],"detail":{"n":[{"numeric":[">=",` + string(rune('0'+i%10)) + `]}],"k":["` + name + `"]}}`
		if i == 0 {
			pattern = `{"source":["app"],"detail":{"k":["hit"]}}`
		}
		if _, err := h.cl.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(pattern)}); err != nil {
			b.Fatal(err)
		}
		if _, err := h.cl.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), Targets: []types.Target{{Id: aws.String("q"), Arn: aws.String(queueARN)}}}); err != nil {
			b.Fatal(err)
		}
	}
	entries := make([]types.PutEventsRequestEntry, 10)
	for i := range entries {
		entries[i] = types.PutEventsRequestEntry{Source: aws.String("app"), DetailType: aws.String("bench"), Detail: aws.String(`{"n":5,"k":"hit"}`)}
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		out, err := h.cl.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil || out.FailedEntryCount != 0 {
			b.Fatalf("PutEvents: %v", err)
		}
	}
	acked := time.Since(start)
	poll.True(b, "every entry delivered", func() bool { return len(h.tg.to(queueARN)) == 10*b.N })
	b.ReportMetric(float64(acked.Nanoseconds())/float64(b.N), "ns/PutEvents-answered")
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(10*b.N), "ns/entry-delivered")
}
