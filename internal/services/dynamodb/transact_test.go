package dynamodb_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestBatch: BatchWriteItem and BatchGetItem across two tables, with
// nothing unprocessed, and their limits.
func TestBatch(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.createTable(t, "bt1", "")
	h.createTable(t, "bt2", "n")
	var w1, w2 []types.WriteRequest
	for i := range 10 {
		w1 = append(w1, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{"pk": s(fmt.Sprint(i))}}})
		w2 = append(w2, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{"pk": s("p"), "n": n(fmt.Sprint(i))}}})
	}
	out, err := h.cl.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"bt1": w1, "bt2": w2}})
	if err != nil || len(out.UnprocessedItems) != 0 {
		t.Fatalf("BatchWriteItem %v %v", out, err)
	}
	del, err := h.cl.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
		"bt1": {{DeleteRequest: &types.DeleteRequest{Key: map[string]types.AttributeValue{"pk": s("0")}}}}}})
	if err != nil || len(del.UnprocessedItems) != 0 {
		t.Fatalf("BatchWriteItem delete %v %v", del, err)
	}
	g, err := h.cl.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
		"bt1": {Keys: []map[string]types.AttributeValue{{"pk": s("0")}, {"pk": s("1")}, {"pk": s("2")}}, ConsistentRead: aws.Bool(true)},
		"bt2": {Keys: []map[string]types.AttributeValue{{"pk": s("p"), "n": n("9")}}, ProjectionExpression: aws.String("n")},
	}})
	if err != nil || len(g.Responses["bt1"]) != 2 || len(g.Responses["bt2"]) != 1 || len(g.Responses["bt2"][0]) != 1 || len(g.UnprocessedKeys) != 0 {
		t.Fatalf("BatchGetItem %v %v", g, err)
	}
	var many []types.WriteRequest
	for i := range 26 {
		many = append(many, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{"pk": s(fmt.Sprint("m", i))}}})
	}
	_, err = h.cl.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"bt1": many}})
	wantCode(t, err, "ValidationException", "Too many items requested for the BatchWriteItem call")
	_, err = h.cl.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"bt1": {w1[1], w1[1]}}})
	wantCode(t, err, "ValidationException", "Provided list of item keys contains duplicates")
	sc, _ := h.cl.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("bt1")})
	if sc.Count != 9 {
		t.Fatalf("b1 has %d items after refused batches", sc.Count)
	}
}

// TestTransactions: all or nothing, cancellation reasons, idempotency
// tokens and a consistent TransactGetItems.
func TestTransactions(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.createTable(t, "accounts", "")
	h.createTable(t, "ledger", "n")
	put := func(id, bal string) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{TableName: aws.String("accounts"), Item: map[string]types.AttributeValue{"pk": s(id), "bal": n(bal)}}}
	}
	if _, err := h.cl.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{put("alice", "100"), put("bob", "0")}}); err != nil {
		t.Fatal(err)
	}
	transfer := func(amount string, token *string) error {
		_, err := h.cl.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{ClientRequestToken: token, TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{TableName: aws.String("accounts"), Key: map[string]types.AttributeValue{"pk": s("alice")},
				UpdateExpression: aws.String("SET bal = bal - :a"), ConditionExpression: aws.String("bal >= :a"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":a": n(amount)}, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
			{Update: &types.Update{TableName: aws.String("accounts"), Key: map[string]types.AttributeValue{"pk": s("bob")},
				UpdateExpression: aws.String("SET bal = bal + :a"), ExpressionAttributeValues: map[string]types.AttributeValue{":a": n(amount)}}},
			{Put: &types.Put{TableName: aws.String("ledger"), Item: map[string]types.AttributeValue{"pk": s("t"), "n": n(amount), "token": s(aws.ToString(token))}}},
			{ConditionCheck: &types.ConditionCheck{TableName: aws.String("accounts"), Key: map[string]types.AttributeValue{"pk": s("carol")},
				ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		}})
		return err
	}
	bal := func(id string) string {
		g, err := h.cl.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("accounts"), Key: map[string]types.AttributeValue{"pk": s(id)}, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		return g.Item["bal"].(*types.AttributeValueMemberN).Value
	}
	if err := transfer("30", aws.String("tok-1")); err != nil {
		t.Fatal(err)
	}
	// The same token again: done once only.
	if err := transfer("30", aws.String("tok-1")); err != nil {
		t.Fatal(err)
	}
	if bal("alice") != "70" || bal("bob") != "30" {
		t.Fatalf("after a transfer and its retry: alice %s bob %s", bal("alice"), bal("bob"))
	}
	err := transfer("31", aws.String("tok-1"))
	wantCode(t, err, "IdempotentParameterMismatchException", "")

	// Too much: cancelled, nothing written, reasons in order.
	err = transfer("500", nil)
	wantCode(t, err, "TransactionCanceledException", "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None, None, None]")
	var tce *types.TransactionCanceledException
	if !asErr(err, &tce) || len(tce.CancellationReasons) != 4 || aws.ToString(tce.CancellationReasons[0].Code) != "ConditionalCheckFailed" ||
		tce.CancellationReasons[0].Item["bal"] == nil || aws.ToString(tce.CancellationReasons[1].Code) != "None" {
		t.Fatalf("reasons %#v", err)
	}
	if bal("alice") != "70" || bal("bob") != "30" {
		t.Fatalf("a cancelled transaction wrote: alice %s bob %s", bal("alice"), bal("bob"))
	}
	q, _ := h.cl.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("ledger"), KeyConditionExpression: aws.String("pk = :t"), ExpressionAttributeValues: map[string]types.AttributeValue{":t": s("t")}})
	if q.Count != 1 {
		t.Fatalf("ledger has %d entries", q.Count)
	}

	// Racing transfers of 10 each: the balance stays whole, and the ones
	// that lost to an empty account are cancelled.
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := transfer("10", nil); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 7 || bal("alice") != "0" || bal("bob") != "100" {
		t.Fatalf("%d transfers went through: alice %s bob %s", ok, bal("alice"), bal("bob"))
	}

	g, err := h.cl.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
		{Get: &types.Get{TableName: aws.String("accounts"), Key: map[string]types.AttributeValue{"pk": s("alice")}}},
		{Get: &types.Get{TableName: aws.String("accounts"), Key: map[string]types.AttributeValue{"pk": s("nobody")}}},
		{Get: &types.Get{TableName: aws.String("accounts"), Key: map[string]types.AttributeValue{"pk": s("bob")}, ProjectionExpression: aws.String("bal")}},
	}})
	if err != nil || len(g.Responses) != 3 || g.Responses[1].Item != nil || len(g.Responses[2].Item) != 1 {
		t.Fatalf("TransactGetItems %v %v", g, err)
	}
	_, err = h.cl.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{put("x", "1"), put("x", "2")}})
	wantCode(t, err, "ValidationException", "Transaction request cannot include multiple operations on one item")

	// After a restart the token is remembered by the stream's duplicate
	// window: the transfer (which would now fail its condition) is not
	// run again, and succeeds.
	h.restart(t)
	if err := transfer("30", aws.String("tok-1")); err != nil {
		t.Fatalf("a token's retry after a restart: %v", err)
	}
	if bal("alice") != "0" || bal("bob") != "100" {
		t.Fatalf("after the retry: alice %s bob %s", bal("alice"), bal("bob"))
	}
}
