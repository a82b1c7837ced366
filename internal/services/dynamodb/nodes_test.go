package dynamodb_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kumo-run/kumo/internal/natsd"
	kumoddb "github.com/kumo-run/kumo/internal/services/dynamodb"
	"github.com/kumo-run/kumo/internal/store"
)

// TestTwoNodes: two services on one JetStream, as two nodes of a cluster
// are. Increments through both lose nothing (a write whose item changed
// on the other node is refused by the stream and evaluated again), and a
// strongly consistent read on one node sees what the other acknowledged.
func TestTwoNodes(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.createTable(t, "shared", "")
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
	call := func(svc *kumoddb.Service, target, body string) string {
		t.Helper()
		return serve(t, svc, target, body)
	}
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				if i == 0 {
					_, err := h.cl.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("shared"), Key: map[string]types.AttributeValue{"pk": s("c")},
						UpdateExpression: aws.String("ADD v :one"), ExpressionAttributeValues: map[string]types.AttributeValue{":one": n("1")}})
					if err != nil {
						t.Error(err)
						return
					}
				} else {
					call(b, "UpdateItem", `{"TableName":"shared","Key":{"pk":{"S":"c"}},"UpdateExpression":"ADD v :one","ExpressionAttributeValues":{":one":{"N":"1"}}}`)
				}
			}
		}()
	}
	wg.Wait()
	got := call(b, "GetItem", `{"TableName":"shared","Key":{"pk":{"S":"c"}},"ConsistentRead":true}`)
	if got != `{"Item":{"pk":{"S":"c"},"v":{"N":"50"}}}` {
		t.Fatalf("node b reads %s", got)
	}
	for i := range 5 {
		if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("shared"), Item: map[string]types.AttributeValue{"pk": s(fmt.Sprint("k", i))}}); err != nil {
			t.Fatal(err)
		}
		got := call(b, "GetItem", fmt.Sprintf(`{"TableName":"shared","Key":{"pk":{"S":"k%d"}},"ConsistentRead":true}`, i))
		if got != fmt.Sprintf(`{"Item":{"pk":{"S":"k%d"}}}`, i) {
			t.Fatalf("node b, right after node a's write: %s", got)
		}
	}
}

// TestConsistentReadAfterPurge: a strongly consistent read on a node
// started after the stream's last messages were purged (a deleted
// table's) does not wait for them.
func TestConsistentReadAfterPurge(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.createTable(t, "keep", "")
	h.createTable(t, "gone", "")
	if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("keep"), Item: map[string]types.AttributeValue{"pk": s("k")}}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("gone"), Item: map[string]types.AttributeValue{"pk": s(fmt.Sprint(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.cl.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	h.restart(t)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	g, err := h.cl.GetItem(cctx, &dynamodb.GetItemInput{TableName: aws.String("keep"), Key: map[string]types.AttributeValue{"pk": s("k")}, ConsistentRead: aws.Bool(true)})
	if err != nil || g.Item == nil {
		t.Fatalf("consistent read after a purge: %v %v", g, err)
	}
}
