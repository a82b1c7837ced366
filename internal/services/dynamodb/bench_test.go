package dynamodb_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// latencies records each operation's time and reports ops/s, p50 and p99.
type latencies struct {
	b  *testing.B
	ds []time.Duration
}

func (l *latencies) time(f func()) {
	t0 := time.Now()
	f()
	l.ds = append(l.ds, time.Since(t0))
}

func (l *latencies) report() {
	if len(l.ds) == 0 {
		return
	}
	slices.Sort(l.ds)
	l.b.ReportMetric(float64(len(l.ds))/l.b.Elapsed().Seconds(), "ops/s")
	l.b.ReportMetric(float64(l.ds[len(l.ds)/2].Microseconds()), "p50-µs")
	l.b.ReportMetric(float64(l.ds[len(l.ds)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkPutItem: one client's PutItem of a small item with the SDK
// through the SigV4 edge, acknowledged after the store's fsync.
func BenchmarkPutItem(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	h.createTable(b, "bench", "n")
	l := &latencies{b: b}
	i := 0
	for b.Loop() {
		i++
		l.time(func() {
			if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("bench"), Item: map[string]types.AttributeValue{
				"pk": s(fmt.Sprint("p", i%10)), "n": n(fmt.Sprint(i)), "payload": s("a value of modest size, as most are")}}); err != nil {
				b.Fatal(err)
			}
		})
	}
	l.report()
}

// BenchmarkGetItem: one client's eventually consistent GetItem.
func BenchmarkGetItem(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	h.createTable(b, "bench", "n")
	for i := range 100 {
		if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("bench"), Item: map[string]types.AttributeValue{"pk": s("p"), "n": n(fmt.Sprint(i))}}); err != nil {
			b.Fatal(err)
		}
	}
	l := &latencies{b: b}
	i := 0
	for b.Loop() {
		i++
		l.time(func() {
			out, err := h.cl.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("bench"), Key: map[string]types.AttributeValue{"pk": s("p"), "n": n(fmt.Sprint(i % 100))}})
			if err != nil || out.Item == nil {
				b.Fatal(out, err)
			}
		})
	}
	l.report()
}

// BenchmarkQuery100: one client's Query of a partition of 100 items. The
// client retries (the SDK's default of 3 attempts): aws-sdk-go-v2 now and
// then closes a connection whose request it has finished writing while
// it reads the answer ("use of closed network connection", its issues
// #1825 and #2737), which a server as quick as this one meets often.
func BenchmarkQuery100(b *testing.B) {
	h := newHarness(b)
	retrying := h.client(rootKey, rootSecret)
	ctx := context.Background()
	h.createTable(b, "bench", "n")
	for i := range 100 {
		if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("bench"), Item: map[string]types.AttributeValue{
			"pk": s("p"), "n": n(fmt.Sprint(i)), "payload": s("a value of modest size, as most are")}}); err != nil {
			b.Fatal(err)
		}
	}
	l := &latencies{b: b}
	k := 0
	for b.Loop() {
		k++
		l.time(func() {
			out, err := retrying.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("bench"), KeyConditionExpression: aws.String("pk = :p"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("p")}}, func(o *dynamodb.Options) { o.RetryMaxAttempts = 3 })
			if err != nil || out.Count != 100 {
				b.Fatal(k, out, err)
			}
		})
	}
	l.report()
}

// BenchmarkJetStreamFloor is the floor under BenchmarkPutItem: a publish
// to the items stream with the same headers (rollup, expected subject
// sequence), fsynced, without HTTP, SigV4 or the service.
func BenchmarkJetStreamFloor(b *testing.B) {
	h := newHarness(b)
	js, err := jetstream.New(h.nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	l := &latencies{b: b}
	var seq uint64
	for b.Loop() {
		l.time(func() {
			m := nats.NewMsg("kumo.ddb.floor.i.0123456789abcdef0123456789abcdef")
			m.Data = []byte(`{"Item":{"pk":{"S":"p"},"payload":{"S":"a value of modest size, as most are"}},"H":"pk"}`)
			m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
			ack, err := js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(seq))
			if err != nil {
				b.Fatal(err)
			}
			seq = ack.Sequence
		})
	}
	l.report()
}
