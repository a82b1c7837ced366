package dynamodb_test

import (
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
)

// TestTables: create, describe, list, update, tag and delete, with
// DynamoDB's errors for a duplicate, a missing table and a bad schema.
func TestTables(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.createTable(t, "orders", "n")
	d, err := h.cl.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	tb := d.Table
	if tb.TableStatus != types.TableStatusActive || *tb.TableArn != "arn:aws:dynamodb:us-east-1:000000000000:table/orders" ||
		len(tb.KeySchema) != 2 || tb.BillingModeSummary.BillingMode != types.BillingModePayPerRequest || *tb.ItemCount != 0 {
		t.Fatalf("table %+v", tb)
	}
	_, err = h.cl.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("orders"), BillingMode: types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}}})
	wantCode(t, err, "ResourceInUseException", "Table already exists: orders")
	_, err = h.cl.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("bad"), BillingMode: types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}}})
	wantCode(t, err, "ValidationException", "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [id], AttributeDefinitions: [pk]")
	_, err = h.cl.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("prov"),
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}}})
	wantCode(t, err, "ValidationException", "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED")
	_, err = h.cl.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException", "Requested resource not found: Table: nope not found")

	h.createTable(t, "alpha", "")
	l, err := h.cl.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
	if err != nil || len(l.TableNames) != 1 || l.TableNames[0] != "alpha" || *l.LastEvaluatedTableName != "alpha" {
		t.Fatalf("ListTables %v %v", l, err)
	}
	l, err = h.cl.ListTables(ctx, &dynamodb.ListTablesInput{ExclusiveStartTableName: aws.String("alpha")})
	if err != nil || strings.Join(l.TableNames, ",") != "orders" || l.LastEvaluatedTableName != nil {
		t.Fatalf("ListTables page 2 %v %v", l, err)
	}

	u, err := h.cl.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String("orders"), BillingMode: types.BillingModeProvisioned,
		ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(5), WriteCapacityUnits: aws.Int64(7)}})
	if err != nil || *u.TableDescription.ProvisionedThroughput.WriteCapacityUnits != 7 {
		t.Fatalf("UpdateTable %v %v", u, err)
	}

	arn := "arn:aws:dynamodb:us-east-1:000000000000:table/orders"
	if _, err := h.cl.TagResource(ctx, &dynamodb.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}, {Key: aws.String("env"), Value: aws.String("dev")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.UntagResource(ctx, &dynamodb.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"env"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := h.cl.ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: aws.String(arn)})
	if err != nil || len(tags.Tags) != 1 || *tags.Tags[0].Key != "team" {
		t.Fatalf("tags %v %v", tags, err)
	}

	if _, err := h.cl.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String("orders")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("orders"), Key: map[string]types.AttributeValue{"pk": s("a"), "n": n("1")}})
	wantCode(t, err, "ResourceNotFoundException", "Requested resource not found")
	// The name is free again, for a new, empty table.
	h.createTable(t, "orders", "n")
	g, err := h.cl.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("orders")})
	if err != nil || g.Count != 0 {
		t.Fatalf("Scan %v %v", g, err)
	}
}

// TestItems: put, get, update and delete with conditions, return values
// and projections; DynamoDB's validation messages.
func TestItems(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.createTable(t, "items", "")
	tbl := aws.String("items")
	key := map[string]types.AttributeValue{"pk": s("a")}

	item := map[string]types.AttributeValue{"pk": s("a"), "n": n("12345678901234567890123456789012345678"),
		"tags": &types.AttributeValueMemberSS{Value: []string{"x", "y"}},
		"doc":  &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"list": &types.AttributeValueMemberL{Value: []types.AttributeValue{n("1"), s("two")}}}},
		"bin":  &types.AttributeValueMemberB{Value: []byte{0, 1, 2}}, "ok": &types.AttributeValueMemberBOOL{Value: true}, "nil": &types.AttributeValueMemberNULL{Value: true}}
	if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: item}); err != nil {
		t.Fatal(err)
	}
	g, err := h.cl.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil || len(g.Item) != len(item) || g.Item["n"].(*types.AttributeValueMemberN).Value != "12345678901234567890123456789012345678" {
		t.Fatalf("GetItem %v %v", g, err)
	}
	if b := g.Item["bin"].(*types.AttributeValueMemberB).Value; string(b) != "\x00\x01\x02" {
		t.Fatalf("binary %v", b)
	}
	p, err := h.cl.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: key, ProjectionExpression: aws.String("#d.#l[1], ok"),
		ExpressionAttributeNames: map[string]string{"#d": "doc", "#l": "list"}})
	if err != nil {
		t.Fatal(err)
	}
	if l := p.Item["doc"].(*types.AttributeValueMemberM).Value["list"].(*types.AttributeValueMemberL).Value; len(p.Item) != 2 || len(l) != 1 || l[0].(*types.AttributeValueMemberS).Value != "two" {
		t.Fatalf("projection %#v", p.Item)
	}

	// Conditional put fails and returns the item when asked.
	_, err = h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"pk": s("a")},
		ConditionExpression: aws.String("attribute_not_exists(pk)"), ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	wantCode(t, err, "ConditionalCheckFailedException", "The conditional request failed")
	var ccf *types.ConditionalCheckFailedException
	if !asErr(err, &ccf) || ccf.Item["ok"] == nil {
		t.Fatalf("ConditionalCheckFailedException without the item: %v", err)
	}

	// Update: arithmetic, if_not_exists, list_append, ADD to a set, REMOVE.
	u, err := h.cl.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: key,
		UpdateExpression:          aws.String("SET n = n + :one, c = if_not_exists(c, :zero), doc.#l = list_append(doc.#l, :l) ADD tags :t REMOVE ok"),
		ExpressionAttributeNames:  map[string]string{"#l": "list"},
		ConditionExpression:       aws.String("size(tags) = :two AND contains(tags, :x) AND attribute_type(n, :N)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n("1"), ":zero": n("0"), ":two": n("2"), ":x": s("x"), ":N": s("N"), ":l": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("three")}}, ":t": &types.AttributeValueMemberSS{Value: []string{"z"}}},
		ReturnValues:              types.ReturnValueUpdatedNew})
	if err != nil {
		t.Fatal(err)
	}
	if v := u.Attributes["n"].(*types.AttributeValueMemberN).Value; v != "12345678901234567890123456789012345679" {
		t.Fatalf("n = %s", v)
	}
	if _, ok := u.Attributes["pk"]; ok || len(u.Attributes["tags"].(*types.AttributeValueMemberSS).Value) != 3 || u.Attributes["c"] == nil {
		t.Fatalf("UPDATED_NEW %#v", u.Attributes)
	}
	g, _ = h.cl.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: key})
	if _, ok := g.Item["ok"]; ok || len(g.Item["doc"].(*types.AttributeValueMemberM).Value["list"].(*types.AttributeValueMemberL).Value) != 3 {
		t.Fatalf("after update %#v", g.Item)
	}

	// An update of a missing item creates it; ALL_OLD of a new item is empty.
	u, err = h.cl.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"pk": s("new")},
		UpdateExpression: aws.String("ADD hits :one"), ExpressionAttributeValues: map[string]types.AttributeValue{":one": n("1")}, ReturnValues: types.ReturnValueAllNew})
	if err != nil || u.Attributes["hits"].(*types.AttributeValueMemberN).Value != "1" || u.Attributes["pk"] == nil {
		t.Fatalf("UpdateItem on a new item %v %v", u, err)
	}

	d, err := h.cl.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: tbl, Key: key, ReturnValues: types.ReturnValueAllOld,
		ConditionExpression: aws.String("attribute_exists(pk)")})
	if err != nil || d.Attributes["pk"] == nil {
		t.Fatalf("DeleteItem %v %v", d, err)
	}
	_, err = h.cl.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: tbl, Key: key, ConditionExpression: aws.String("attribute_exists(pk)")})
	wantCode(t, err, "ConditionalCheckFailedException", "The conditional request failed")

	for _, tc := range []struct {
		name string
		call func() error
		msg  string
	}{
		{"missing key", func() error {
			_, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"x": s("a")}})
			return err
		}, "One or more parameter values were invalid: Missing the key pk in the item"},
		{"key type", func() error {
			_, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"pk": n("1")}})
			return err
		}, "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N"},
		{"bad key", func() error {
			_, err := h.cl.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"pk": s("a"), "x": s("b")}})
			return err
		}, "The provided key element does not match the schema"},
		{"39 digits", func() error {
			_, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"pk": s("a"), "n": n("123456789012345678901234567890123456789")}})
			return err
		}, "Attempting to store more than 38 significant digits in a Number"},
		{"duplicate set", func() error {
			_, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"pk": s("a"), "s": &types.AttributeValueMemberSS{Value: []string{"a", "a"}}}})
			return err
		}, "One or more parameter values were invalid: Input collection [a, a] contains duplicates."},
		{"too big", func() error {
			_, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"pk": s("a"), "big": s(strings.Repeat("x", 400*1024))}})
			return err
		}, "Item size has exceeded the maximum allowed size"},
		{"unused value", func() error {
			_, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"pk": s("a")},
				ConditionExpression: aws.String("attribute_not_exists(pk)"), ExpressionAttributeValues: map[string]types.AttributeValue{":x": s("a")}})
			return err
		}, "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}"},
		{"undefined value", func() error {
			_, err := h.cl.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: key, UpdateExpression: aws.String("SET a = :a")})
			return err
		}, "Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :a"},
		{"key update", func() error {
			_, err := h.cl.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: key, UpdateExpression: aws.String("SET pk = :a"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":a": s("b")}})
			return err
		}, "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"},
	} {
		err := tc.call()
		t.Run(tc.name, func(t *testing.T) { wantCode(t, err, "ValidationException", tc.msg) })
	}
	// Nothing of the refused writes landed.
	sc, err := h.cl.Scan(ctx, &dynamodb.ScanInput{TableName: tbl, ConsistentRead: aws.Bool(true)})
	if err != nil || sc.Count != 1 {
		t.Fatalf("Scan after refused writes: %v %v", sc, err)
	}
}

// TestConcurrentUpdates: counters updated by many clients at once lose no
// increment (each write is conditional on the item's last sequence).
func TestConcurrentUpdates(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.createTable(t, "counters", "")
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				_, err := h.cl.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("counters"), Key: map[string]types.AttributeValue{"pk": s("c")},
					UpdateExpression: aws.String("ADD v :one"), ExpressionAttributeValues: map[string]types.AttributeValue{":one": n("1")}})
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	g, err := h.cl.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("counters"), Key: map[string]types.AttributeValue{"pk": s("c")}, ConsistentRead: aws.Bool(true)})
	if err != nil || g.Item["v"].(*types.AttributeValueMemberN).Value != fmt.Sprint(workers*each) {
		t.Fatalf("counter %v %v", g, err)
	}
}

// TestRestart: acknowledged items are there after a restart, rebuilt from
// the stream.
func TestRestart(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.createTable(t, "durable", "n")
	for i := range 20 {
		if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("durable"), Item: map[string]types.AttributeValue{"pk": s("p"), "n": n(fmt.Sprint(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.cl.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("durable"), Key: map[string]types.AttributeValue{"pk": s("p"), "n": n("3")}}); err != nil {
		t.Fatal(err)
	}
	h.restart(t)
	q, err := h.cl.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("durable"), KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("p")}})
	if err != nil || q.Count != 19 {
		t.Fatalf("after restart %v %v", q, err)
	}
	d, err := h.cl.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("durable")})
	if err != nil || *d.Table.ItemCount != 19 {
		t.Fatalf("ItemCount %v %v", d, err)
	}
}

// TestWireErrors: the JSON 1.0 error shape with DynamoDB's __type, and
// unknown operations refused.
func TestWireErrors(t *testing.T) {
	h := newHarness(t)
	h.restart(t)
	for _, tc := range []struct {
		target, body string
		typ          string
	}{
		{"DynamoDB_20120810.DescribeTable", `{"TableName":"nope"}`, "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"},
		{"DynamoDB_20120810.Frobnicate", `{}`, "com.amazonaws.dynamodb.v20120810#UnknownOperationException"},
		{"DynamoDB_20120810.CreateTable", `{"TableName":`, "com.amazonaws.dynamodb.v20120810#SerializationException"},
		{"DynamoDB_20120810.PutItem", `{"TableName":"nope","Item":{"pk":{}}}`, "com.amazonaws.dynamodb.v20120810#ValidationException"},
	} {
		rec := httptest.NewRecorder()
		req, _ := http.NewRequest("POST", "/", strings.NewReader(tc.body))
		req.Header.Set("X-Amz-Target", tc.target)
		h.svc.ServeHTTP(rec, req)
		res := rec.Result()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 400 || !strings.Contains(string(b), `"__type":"`+tc.typ+`"`) || res.Header.Get("Content-Type") != "application/x-amz-json-1.0" {
			t.Errorf("%s: %d %s", tc.target, res.StatusCode, b)
		}
	}
	rec := httptest.NewRecorder()
	req, _ := http.NewRequest("POST", "/", strings.NewReader(`{}`))
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
	h.svc.ServeHTTP(rec, req)
	if sum := crc32.ChecksumIEEE(rec.Body.Bytes()); rec.Code != 200 || rec.Header().Get("X-Amz-Crc32") != fmt.Sprint(sum) {
		t.Errorf("ListTables: %d %s, X-Amz-Crc32 %q, want %d", rec.Code, rec.Body, rec.Header().Get("X-Amz-Crc32"), sum)
	}
}

// TestAuthorization: a user with no policy is refused with
// AccessDeniedException until a policy grants it the action on the table.
func TestAuthorization(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	const (
		bobKey, bobSecret = "AKIAKUMODDBBOB000001", "kumo-ddb-test-bob-secret-0000000000000000"
		bobARN            = "arn:aws:iam::000000000000:user/bob"
	)
	h.createTable(t, "guarded", "")
	h.auth.SetUser(awsproto.Identity{Account: account, ARN: bobARN, UserID: "AIDABOB"}, authz.Principal{Policies: []*iam.Policy{}})
	h.auth.SetAccessKey(bobKey, bobSecret, bobARN)
	bob := h.client(bobKey, bobSecret)
	item := map[string]types.AttributeValue{"pk": s("a")}
	_, err := bob.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("guarded"), Item: item})
	wantCode(t, err, "AccessDeniedException", "")
	_, err = bob.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{Put: &types.Put{TableName: aws.String("guarded"), Item: item}}}})
	wantCode(t, err, "AccessDeniedException", "")

	p, err := iam.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:PutItem","dynamodb:GetItem"],"Resource":"arn:aws:dynamodb:us-east-1:000000000000:table/guarded"}]}`, iam.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	h.auth.SetUser(awsproto.Identity{Account: account, ARN: bobARN, UserID: "AIDABOB"}, authz.Principal{Policies: []*iam.Policy{p}})
	if _, err := bob.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("guarded"), Item: item}); err != nil {
		t.Fatalf("PutItem allowed by policy: %v", err)
	}
	_, err = bob.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("guarded"), Key: item})
	wantCode(t, err, "AccessDeniedException", "")
}

// TestReservedWords: an expression naming an attribute with one of
// DynamoDB's reserved words is refused with DynamoDB's message and
// changes nothing; through ExpressionAttributeNames it is accepted.
func TestReservedWords(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.createTable(t, "words", "")
	tbl := aws.String("words")
	key := map[string]types.AttributeValue{"pk": s("a")}
	if _, err := h.cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"pk": s("a"), "status": s("new")}}); err != nil {
		t.Fatal(err)
	}
	_, err := h.cl.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: key, UpdateExpression: aws.String("SET status = :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": s("done")}})
	wantCode(t, err, "ValidationException", "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: status")
	_, err = h.cl.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: tbl, Key: key, ConditionExpression: aws.String("attribute_exists(Status)")})
	wantCode(t, err, "ValidationException", "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: Status")
	_, err = h.cl.Scan(ctx, &dynamodb.ScanInput{TableName: tbl, FilterExpression: aws.String("status = :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": s("new")}})
	wantCode(t, err, "ValidationException", "Invalid FilterExpression: Attribute name is a reserved keyword; reserved keyword: status")
	g, err := h.cl.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil || g.Item["status"].(*types.AttributeValueMemberS).Value != "new" {
		t.Fatalf("GetItem %v %v", g, err)
	}
	if _, err := h.cl.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: key, UpdateExpression: aws.String("SET #s = :s"),
		ExpressionAttributeNames: map[string]string{"#s": "status"}, ExpressionAttributeValues: map[string]types.AttributeValue{":s": s("done")}}); err != nil {
		t.Fatal(err)
	}
}
