package dynamodb_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

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
