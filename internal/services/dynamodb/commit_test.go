package dynamodb_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kumo-run/kumo/internal/natsd"
	kumoddb "github.com/kumo-run/kumo/internal/services/dynamodb"
	"github.com/kumo-run/kumo/internal/services/dynamodb/attr"
	"github.com/kumo-run/kumo/internal/store"
)

// TestStreamGroupCommit: concurrent writers on two nodes increment a few
// hot items of a stream table; writes on one node share atomic batches
// and conflicts between the nodes retry. Every increment is in its item,
// and the stream holds one record per increment, each item's in order
// with no gap.
func TestStreamGroupCommit(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	out, err := h.cl.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("grouped"), BillingMode: types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewImage}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.TableDescription.LatestStreamArn)
	nc, err := h.ns.Connect("node-b")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	st, err := store.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := st.KV(ctx, natsd.DynamoDBBucket)
	if err != nil {
		t.Fatal(err)
	}
	b, err := kumoddb.Open(context.Background(), kumoddb.Config{KV: kv, NC: nc, Region: "us-east-1", Account: account})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const writers, each = 12, 15
	items := []string{"x", "y", "z"}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				pk := items[(w+i)%len(items)]
				if w%3 == 2 {
					serve(t, b, "UpdateItem", `{"TableName":"grouped","Key":{"pk":{"S":"`+pk+`"}},"UpdateExpression":"ADD v :one","ExpressionAttributeValues":{":one":{"N":"1"}}}`)
					continue
				}
				if _, err := h.cl.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("grouped"), Key: map[string]types.AttributeValue{"pk": s(pk)},
					UpdateExpression: aws.String("ADD v :one"), ExpressionAttributeValues: map[string]types.AttributeValue{":one": n("1")}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	total := 0
	want := map[string]int{}
	for _, pk := range items {
		g, err := h.cl.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("grouped"), Key: map[string]types.AttributeValue{"pk": s(pk)}, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := strconv.Atoi(g.Item["v"].(*types.AttributeValueMemberN).Value)
		want[pk] = v
		total += v
	}
	if total != writers*each {
		t.Fatalf("%d increments stored, %d made", total, writers*each)
	}
	recs, _, err := h.svc.ReadStream(ctx, arn, 1, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != total {
		t.Fatalf("%d stream records, %d writes", len(recs), total)
	}
	seen := map[string]int{}
	for _, r := range recs {
		img, _ := r.Record["dynamodb"].(map[string]any)["NewImage"].(attr.Item)
		pk := img["pk"].S
		v, _ := strconv.Atoi(img["v"].N)
		if pk == "" || v != seen[pk]+1 {
			t.Fatalf("record %v after %v", img, seen)
		}
		seen[pk] = v
	}
	for pk, v := range want {
		if seen[pk] != v {
			t.Fatalf("%s: stream ends at %d, item holds %d", pk, seen[pk], v)
		}
	}
}

// BenchmarkPutItemStreamParallel: BenchmarkPutItemStream with 16
// clients at once, whose writes share atomic batches.
func BenchmarkPutItemStreamParallel(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	if _, err := h.cl.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("bench"), BillingMode: types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("n"), KeyType: types.KeyTypeRange}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("n"), AttributeType: types.ScalarAttributeTypeN}},
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}}); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.SetParallelism(8) // 8 per CPU
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("bench"), Item: map[string]types.AttributeValue{
				"pk": s(strconv.FormatInt(i%10, 10)), "n": n(strconv.FormatInt(i, 10)), "payload": s("a value of modest size, as most are")}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
