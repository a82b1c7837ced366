package dynamodb_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kumo-run/kumo/internal/poll"
)

// TestTTL: with TTL on, items whose expiry has passed (by the service's
// clock) are deleted by the sweeper; others, and items without a numeric
// expiry, stay. Until then an expired item is still read, as on AWS.
func TestTTL(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.createTable(t, "sessions", "")
	tbl := aws.String("sessions")
	d, err := h.cl.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: tbl})
	if err != nil || d.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusDisabled {
		t.Fatalf("DescribeTimeToLive %v %v", d, err)
	}
	now := time.Now().Unix()
	for id, exp := range map[string]types.AttributeValue{
		"past":    n(fmt.Sprint(now - 60)),
		"hour":    n(fmt.Sprint(now + 3600)),
		"day":     n(fmt.Sprint(now + 86400)),
		"string":  s(fmt.Sprint(now - 60)),
		"ancient": n(fmt.Sprint(now - 6*365*86400)),
	} {
		if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"pk": s(id), "exp": exp}}); err != nil {
			t.Fatal(err)
		}
	}
	g, err := h.cl.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"pk": s("past")}})
	if err != nil || g.Item == nil {
		t.Fatalf("an expired item before TTL is on: %v %v", g, err)
	}
	u, err := h.cl.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: tbl, TimeToLiveSpecification: &types.TimeToLiveSpecification{Enabled: aws.Bool(true), AttributeName: aws.String("exp")}})
	if err != nil || !*u.TimeToLiveSpecification.Enabled {
		t.Fatalf("UpdateTimeToLive %v %v", u, err)
	}
	_, err = h.cl.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: tbl, TimeToLiveSpecification: &types.TimeToLiveSpecification{Enabled: aws.Bool(true), AttributeName: aws.String("exp")}})
	wantCode(t, err, "ValidationException", "TimeToLive is already enabled")
	d, _ = h.cl.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: tbl})
	if d.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled || *d.TimeToLiveDescription.AttributeName != "exp" {
		t.Fatalf("DescribeTimeToLive %+v", d.TimeToLiveDescription)
	}
	remaining := func(want string) error {
		out, err := h.cl.Scan(ctx, &dynamodb.ScanInput{TableName: tbl, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return poll.Stop{Err: err}
		}
		ids := map[string]bool{}
		for _, it := range out.Items {
			ids[it["pk"].(*types.AttributeValueMemberS).Value] = true
		}
		var got []string
		for _, id := range []string{"ancient", "day", "hour", "past", "string"} {
			if ids[id] {
				got = append(got, id)
			}
		}
		if fmt.Sprint(got) != want {
			return fmt.Errorf("items %v, want %s", got, want)
		}
		return nil
	}
	poll.Until(t, time.Minute, "items left: [ancient day hour string]", func() error { return remaining("[ancient day hour string]") })
	h.skew.Store(int64(2 * time.Hour))
	poll.Until(t, time.Minute, "items left: [ancient day string]", func() error { return remaining("[ancient day string]") })
}
