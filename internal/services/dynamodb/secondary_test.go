package dynamodb_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestSecondaryIndexes: a sparse GSI with KEYS_ONLY and one with INCLUDE,
// an LSI, Query and Scan on them with paging, a GSI added and removed by
// UpdateTable, and their errors.
func TestSecondaryIndexes(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	_, err := h.cl.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("orders"), BillingMode: types.BillingModePayPerRequest,
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("n"), KeyType: types.KeyTypeRange}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("n"), AttributeType: types.ScalarAttributeTypeN}, {AttributeName: aws.String("status"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("total"), AttributeType: types.ScalarAttributeTypeN}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			{IndexName: aws.String("by-status"), KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("status"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("total"), KeyType: types.KeyTypeRange}},
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}},
			{IndexName: aws.String("by-status-inc"), KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("status"), KeyType: types.KeyTypeHash}},
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{"note"}}},
		},
		LocalSecondaryIndexes: []types.LocalSecondaryIndex{
			{IndexName: aws.String("by-total"), KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("total"), KeyType: types.KeyTypeRange}},
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		it := map[string]types.AttributeValue{"pk": s(fmt.Sprint("c", i%2)), "n": n(fmt.Sprint(i)), "total": n(fmt.Sprint(100 - i)), "note": s("x"), "other": s("y")}
		if i%4 != 3 { // sparse: some orders have no status
			it["status"] = s(map[bool]string{true: "open", false: "shipped"}[i%2 == 0])
		}
		if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("orders"), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := h.cl.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("orders")})
	if err != nil || len(d.Table.GlobalSecondaryIndexes) != 2 || d.Table.GlobalSecondaryIndexes[0].IndexStatus != types.IndexStatusActive ||
		*d.Table.GlobalSecondaryIndexes[0].ItemCount != 15 || len(d.Table.LocalSecondaryIndexes) != 1 {
		t.Fatalf("DescribeTable %+v %v", d, err)
	}
	// open: i = 0,2,4,...,18 (10 items), totals 100..82; KEYS_ONLY projects the keys only.
	var got []string
	var start map[string]types.AttributeValue
	for {
		out, err := h.cl.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("orders"), IndexName: aws.String("by-status"),
			KeyConditionExpression: aws.String("#s = :o AND #t > :t"), ExpressionAttributeNames: map[string]string{"#s": "status", "#t": "total"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":o": s("open"), ":t": n("85")}, Limit: aws.Int32(3), ExclusiveStartKey: start})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			if _, ok := it["note"]; ok || len(it) != 4 {
				t.Fatalf("KEYS_ONLY item %v", it)
			}
			got = append(got, it["total"].(*types.AttributeValueMemberN).Value)
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		if len(out.LastEvaluatedKey) != 4 {
			t.Fatalf("LastEvaluatedKey of an index query: %v", out.LastEvaluatedKey)
		}
		start = out.LastEvaluatedKey
	}
	if fmt.Sprint(got) != "[86 88 90 92 94 96 98 100]" {
		t.Fatalf("GSI query: %v", got)
	}
	inc, err := h.cl.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("orders"), IndexName: aws.String("by-status-inc"),
		KeyConditionExpression: aws.String("#s = :o"), ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": s("shipped")}})
	if err != nil || inc.Count != 5 || inc.Items[0]["note"] == nil || inc.Items[0]["other"] != nil {
		t.Fatalf("INCLUDE query %v %v", inc, err)
	}
	sc, err := h.cl.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("orders"), IndexName: aws.String("by-status")})
	if err != nil || sc.Count != 15 {
		t.Fatalf("GSI scan %v %v", sc, err)
	}
	lsi, err := h.cl.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("orders"), IndexName: aws.String("by-total"), ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("pk = :p AND #t < :t"), ExpressionAttributeNames: map[string]string{"#t": "total"}, ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("c1"), ":t": n("90")}})
	if err != nil || lsi.Count != 5 || lsi.Items[0]["total"].(*types.AttributeValueMemberN).Value != "81" {
		t.Fatalf("LSI query %v %v", lsi, err)
	}

	// Updates move items in and out of the index.
	if _, err := h.cl.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("orders"), Key: map[string]types.AttributeValue{"pk": s("c0"), "n": n("0")},
		UpdateExpression: aws.String("REMOVE #s"), ExpressionAttributeNames: map[string]string{"#s": "status"}}); err != nil {
		t.Fatal(err)
	}
	c, _ := h.cl.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("orders"), IndexName: aws.String("by-status"), Select: types.SelectCount,
		KeyConditionExpression: aws.String("#s = :o"), ExpressionAttributeNames: map[string]string{"#s": "status"}, ExpressionAttributeValues: map[string]types.AttributeValue{":o": s("open")}})
	if c.Count != 9 {
		t.Fatalf("after removing an index key: %d", c.Count)
	}

	_, err = h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("orders"), Item: map[string]types.AttributeValue{"pk": s("c"), "n": n("1"), "status": n("1")}})
	wantCode(t, err, "ValidationException", "One or more parameter values were invalid: Type mismatch for Index Key status Expected: S Actual: N IndexName: by-status")
	_, err = h.cl.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("orders"), IndexName: aws.String("by-status"), ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("#s = :o"), ExpressionAttributeNames: map[string]string{"#s": "status"}, ExpressionAttributeValues: map[string]types.AttributeValue{":o": s("open")}})
	wantCode(t, err, "ValidationException", "Consistent reads are not supported on global secondary indexes")
	_, err = h.cl.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("orders"), IndexName: aws.String("nope"),
		KeyConditionExpression: aws.String("pk = :p"), ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("c1")}})
	wantCode(t, err, "ValidationException", "The table does not have the specified index: nope")

	// A GSI added later is built from the items there; then removed.
	_, err = h.cl.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String("orders"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("other"), AttributeType: types.ScalarAttributeTypeS}},
		GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{IndexName: aws.String("by-other"),
			KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("other"), KeyType: types.KeyTypeHash}}, Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}}}}})
	if err != nil {
		t.Fatal(err)
	}
	o, err := h.cl.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("orders"), IndexName: aws.String("by-other"),
		KeyConditionExpression: aws.String("#o = :y"), ExpressionAttributeNames: map[string]string{"#o": "other"}, ExpressionAttributeValues: map[string]types.AttributeValue{":y": s("y")}})
	if err != nil || o.Count != 20 {
		t.Fatalf("new GSI %v %v", o, err)
	}
	if _, err := h.cl.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String("orders"),
		GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Delete: &types.DeleteGlobalSecondaryIndexAction{IndexName: aws.String("by-other")}}}}); err != nil {
		t.Fatal(err)
	}
	d, _ = h.cl.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("orders")})
	if len(d.Table.GlobalSecondaryIndexes) != 2 || len(d.Table.AttributeDefinitions) != 4 {
		t.Fatalf("after deleting the GSI: %+v", d.Table)
	}
	// The indexes are rebuilt after a restart.
	h.restart(t)
	sc, err = h.cl.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("orders"), IndexName: aws.String("by-status")})
	if err != nil || sc.Count != 14 {
		t.Fatalf("GSI scan after restart %v %v", sc, err)
	}
}
