package dynamodb_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestItemBudget: with MaxItemBytes, a write that would grow the items
// held past it is refused with a clear error and stores nothing (single
// writes, batches and transactions); writes that shrink are allowed, a
// deletion makes room, the count survives a restart and DeleteTable
// frees it.
func TestItemBudget(t *testing.T) {
	h := newHarness(t)
	h.maxItemBytes = 2000
	h.restart(t)
	ctx := t.Context()
	h.createTable(t, "budget", "")
	tbl := aws.String("budget")
	item := func(pk string, size int) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": s(pk), "v": s(strings.Repeat("x", size))}
	}
	put := func(pk string, size int) error {
		_, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: item(pk, size)})
		return err
	}
	// items of 300 bytes: 6 fit in 2000
	for i := range 6 {
		if err := put(fmt.Sprint("k", i), 295); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	held := h.svc.HeldItemBytes()
	if held < 1700 || held > 2000 {
		t.Fatalf("held %d", held)
	}
	const msg = "Kumo's item memory budget is spent: tables hold %d bytes of items, the limit is 2000 (--dynamodb-max-item-bytes); delete items or raise the limit"
	wantCode(t, put("k6", 295), "ItemCollectionSizeLimitExceededException", fmt.Sprintf(msg, held))
	_, err := h.cl.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
		"budget": {{PutRequest: &types.PutRequest{Item: item("k7", 295)}}}}})
	wantCode(t, err, "ItemCollectionSizeLimitExceededException", "")
	_, err = h.cl.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: tbl, Item: item("k8", 295)}}}})
	wantCode(t, err, "ItemCollectionSizeLimitExceededException", "")
	for _, k := range []string{"k6", "k7", "k8"} {
		g, err := h.cl.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"pk": s(k)}, ConsistentRead: aws.Bool(true)})
		if err != nil || g.Item != nil {
			t.Fatalf("refused %s stored: %v %v", k, g, err)
		}
	}
	// shrinking is allowed; so is growing into what a deletion freed
	if err := put("k0", 10); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"pk": s("k1")}}); err != nil {
		t.Fatal(err)
	}
	if err := put("k6", 295); err != nil {
		t.Fatal(err)
	}
	held = h.svc.HeldItemBytes()
	h.restart(t)
	// a read waits for the node to have replayed the items
	if _, err := h.cl.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"pk": s("k0")}}); err != nil {
		t.Fatal(err)
	}
	if got := h.svc.HeldItemBytes(); got != held {
		t.Fatalf("held %d after a restart, %d before", got, held)
	}
	if _, err := h.cl.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: tbl}); err != nil {
		t.Fatal(err)
	}
	if got := h.svc.HeldItemBytes(); got != 0 {
		t.Fatalf("held %d after DeleteTable", got)
	}
}
