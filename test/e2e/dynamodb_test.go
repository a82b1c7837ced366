package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// dynamodbBoto3Script drives tables with boto3's client and its resource
// layer (Table, with boto3.dynamodb.conditions); it raises on any
// difference from what it expects.
const dynamodbBoto3Script = `
import json, sys
from decimal import Decimal
import boto3
from boto3.dynamodb.conditions import Key, Attr
from botocore.config import Config
from botocore.exceptions import ClientError

cfg = json.load(open(sys.argv[1]))
kw = dict(endpoint_url=cfg["endpoint"], region_name=cfg["region"], aws_access_key_id=cfg["key"],
          aws_secret_access_key=cfg["secret"], config=Config(retries={"total_max_attempts": 1}))
client = boto3.client("dynamodb", **kw)
ddb = boto3.resource("dynamodb", **kw)

table = ddb.create_table(TableName="music", BillingMode="PAY_PER_REQUEST",
    KeySchema=[{"AttributeName": "artist", "KeyType": "HASH"}, {"AttributeName": "song", "KeyType": "RANGE"}],
    AttributeDefinitions=[{"AttributeName": "artist", "AttributeType": "S"}, {"AttributeName": "song", "AttributeType": "S"},
                          {"AttributeName": "genre", "AttributeType": "S"}, {"AttributeName": "plays", "AttributeType": "N"}],
    GlobalSecondaryIndexes=[{"IndexName": "by-genre", "Projection": {"ProjectionType": "ALL"},
        "KeySchema": [{"AttributeName": "genre", "KeyType": "HASH"}, {"AttributeName": "plays", "KeyType": "RANGE"}]}])
table.wait_until_exists()
assert table.table_status == "ACTIVE", table.table_status
assert table.table_arn == "arn:aws:dynamodb:%s:%s:table/music" % (cfg["region"], cfg["account"]), table.table_arn

# Put with the resource layer: Decimals, sets, nested maps, binary.
for i in range(30):
    table.put_item(Item={"artist": "a", "song": "s%03d" % i, "plays": Decimal(i), "price": Decimal("0.99"), "genre": "g%d" % (i % 3),
                         "tags": {"rock", "live"} if i % 2 else {"pop"}, "meta": {"len": Decimal(180 + i), "by": ["x", "y"]},
                         "raw": b"\x00\x01"})
table.put_item(Item={"artist": "b", "song": "only"})

item = table.get_item(Key={"artist": "a", "song": "s007"}, ConsistentRead=True)["Item"]
assert item["plays"] == Decimal(7) and item["tags"] == {"rock", "live"} and item["meta"]["by"] == ["x", "y"], item
assert bytes(item["raw"].value) == b"\x00\x01", item

# A conditional write that fails, with the old item returned.
try:
    table.put_item(Item={"artist": "a", "song": "s007"}, ConditionExpression=Attr("artist").not_exists(),
                   ReturnValuesOnConditionCheckFailure="ALL_OLD")
    raise SystemExit("conditional put over an existing item succeeded")
except ClientError as e:
    assert e.response["Error"]["Code"] == "ConditionalCheckFailedException", e.response
    assert e.response["Error"]["Message"] == "The conditional request failed", e.response
    assert e.response["Item"]["song"] == {"S": "s007"}, e.response
try:
    client.put_item(TableName="music", Item={"artist": {"S": "a"}})
    raise SystemExit("put without the sort key succeeded")
except ClientError as e:
    assert e.response["Error"]["Code"] == "ValidationException", e.response
    assert e.response["Error"]["Message"] == "One or more parameter values were invalid: Missing the key song in the item", e.response

# Update with the resource layer's expressions.
out = table.update_item(Key={"artist": "a", "song": "s007"},
    UpdateExpression="SET plays = plays + :one, #m.#l = :len REMOVE price ADD tags :t",
    ExpressionAttributeNames={"#m": "meta", "#l": "len"},
    ExpressionAttributeValues={":one": Decimal(1), ":len": Decimal("181.5"), ":t": {"studio"}},
    ReturnValues="ALL_NEW")["Attributes"]
assert out["plays"] == Decimal(8) and out["meta"]["len"] == Decimal("181.5") and "price" not in out and "studio" in out["tags"], out

# Query: key conditions, filter, paging with the resource layer.
q = table.query(KeyConditionExpression=Key("artist").eq("a") & Key("song").between("s010", "s019"))
assert [i["song"] for i in q["Items"]] == ["s%03d" % i for i in range(10, 20)], q["Items"]
q = table.query(KeyConditionExpression=Key("artist").eq("a") & Key("song").begins_with("s02"), ScanIndexForward=False)
assert [i["song"] for i in q["Items"]] == ["s%03d" % i for i in range(29, 19, -1)], q["Items"]
songs, start, pages = [], None, 0
while True:
    args = dict(KeyConditionExpression=Key("artist").eq("a"), FilterExpression=Attr("tags").contains("pop"), Limit=7)
    if start:
        args["ExclusiveStartKey"] = start
    page = table.query(**args)
    pages += 1
    songs += [i["song"] for i in page["Items"]]
    start = page.get("LastEvaluatedKey")
    if not start:
        break
assert songs == ["s%03d" % i for i in range(0, 30, 2)] and pages == 5, (songs, pages)
assert table.query(KeyConditionExpression=Key("artist").eq("a"), Select="COUNT")["Count"] == 30

# A GSI query, paged by the client's paginator.
pages = client.get_paginator("query").paginate(TableName="music", IndexName="by-genre",
    KeyConditionExpression="genre = :g AND plays > :p", ExpressionAttributeValues={":g": {"S": "g1"}, ":p": {"N": "10"}},
    PaginationConfig={"PageSize": 2})
plays = [int(i["plays"]["N"]) for page in pages for i in page["Items"]]
assert plays == [13, 16, 19, 22, 25, 28], plays
gsi = table.query(IndexName="by-genre", KeyConditionExpression=Key("genre").eq("g0"), ScanIndexForward=False, Limit=2)
assert [i["plays"] for i in gsi["Items"]] == [Decimal(27), Decimal(24)] and "LastEvaluatedKey" in gsi, gsi
assert table.global_secondary_indexes[0]["IndexStatus"] == "ACTIVE", table.global_secondary_indexes

# Scan pages with the client's paginator, in two parallel segments.
seen = []
for seg in range(2):
    for page in client.get_paginator("scan").paginate(TableName="music", Segment=seg, TotalSegments=2, PaginationConfig={"PageSize": 4}):
        seen += [i["song"]["S"] for i in page["Items"]]
assert sorted(seen) == sorted(["s%03d" % i for i in range(30)] + ["only"]), seen

# Batches.
with table.batch_writer() as bw:
    for i in range(40):
        bw.put_item(Item={"artist": "c", "song": "t%02d" % i})
got = ddb.batch_get_item(RequestItems={"music": {"Keys": [{"artist": "c", "song": "t%02d" % i} for i in range(0, 40, 4)]}})
assert len(got["Responses"]["music"]) == 10 and got["UnprocessedKeys"] == {}, got

# A transaction cancelled by its condition writes nothing; then one that passes.
try:
    client.transact_write_items(TransactItems=[
        {"Put": {"TableName": "music", "Item": {"artist": {"S": "d"}, "song": {"S": "x"}}}},
        {"ConditionCheck": {"TableName": "music", "Key": {"artist": {"S": "b"}, "song": {"S": "only"}},
                            "ConditionExpression": "attribute_not_exists(artist)"}}])
    raise SystemExit("a transaction with a failing condition succeeded")
except client.exceptions.TransactionCanceledException as e:
    reasons = [r["Code"] for r in e.response["CancellationReasons"]]
    assert reasons == ["None", "ConditionalCheckFailed"], e.response
assert "Item" not in table.get_item(Key={"artist": "d", "song": "x"}, ConsistentRead=True)
client.transact_write_items(ClientRequestToken="tok-e2e", TransactItems=[
    {"Put": {"TableName": "music", "Item": {"artist": {"S": "d"}, "song": {"S": "x"}}}},
    {"Update": {"TableName": "music", "Key": {"artist": {"S": "b"}, "song": {"S": "only"}},
                "UpdateExpression": "SET n = if_not_exists(n, :z) + :one", "ExpressionAttributeValues": {":z": {"N": "0"}, ":one": {"N": "1"}}}}])
tg = client.transact_get_items(TransactItems=[{"Get": {"TableName": "music", "Key": {"artist": {"S": "d"}, "song": {"S": "x"}}}},
                                              {"Get": {"TableName": "music", "Key": {"artist": {"S": "b"}, "song": {"S": "only"}}}}])
assert tg["Responses"][0]["Item"]["song"] == {"S": "x"} and tg["Responses"][1]["Item"]["n"] == {"N": "1"}, tg

try:
    client.describe_table(TableName="missing")
    raise SystemExit("describe of a missing table succeeded")
except client.exceptions.ResourceNotFoundException as e:
    assert e.response["Error"]["Message"] == "Requested resource not found: Table: missing not found", e.response

client.tag_resource(ResourceArn=table.table_arn, Tags=[{"Key": "team", "Value": "audio"}])
assert client.list_tags_of_resource(ResourceArn=table.table_arn)["Tags"] == [{"Key": "team", "Value": "audio"}]
table.delete()
table.wait_until_not_exists()
print("OK")
`

// TestDynamoDBBoto3: tables, items, conditional failures, expressions,
// Query and Scan paging, batches and transactions with boto3's client and
// resource layers.
func TestDynamoDBBoto3(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	cfg, _ := json.Marshal(map[string]any{"endpoint": s.url, "region": region, "account": accountID, "key": rootAccessKeyID, "secret": rootSecretAccessKey})
	r := runCmd(t, s.env(), nil, 3*time.Minute, "python3", writeTemp(t, "ddb.py", []byte(dynamodbBoto3Script)), writeTemp(t, "ddb.json", cfg))
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "OK" {
		t.Fatalf("boto3 DynamoDB script:\n%s", r)
	}
}

// TestDynamoDBCLI: the AWS CLI creates a table, puts items and queries
// them.
func TestDynamoDBCLI(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	env := s.env()
	var created struct {
		TableDescription struct{ TableName, TableStatus string }
	}
	awsJSON(t, env, &created, "--endpoint-url", s.url, "dynamodb", "create-table", "--table-name", "cli-t",
		"--attribute-definitions", "AttributeName=pk,AttributeType=S", "AttributeName=n,AttributeType=N",
		"--key-schema", "AttributeName=pk,KeyType=HASH", "AttributeName=n,KeyType=RANGE", "--billing-mode", "PAY_PER_REQUEST")
	if created.TableDescription.TableStatus != "ACTIVE" {
		t.Fatalf("create-table: %+v", created)
	}
	for _, n := range []string{"9", "10", "100", "-1"} {
		r := runCmd(t, env, nil, time.Minute, "aws", "--endpoint-url", s.url, "dynamodb", "put-item", "--table-name", "cli-t",
			"--item", fmt.Sprintf(`{"pk":{"S":"p"},"n":{"N":"%s"},"note":{"S":"n is %s"}}`, n, n))
		if r.Code != 0 {
			t.Fatalf("put-item: %s", r)
		}
	}
	var q struct {
		Count int
		Items []map[string]map[string]string
	}
	awsJSON(t, env, &q, "--endpoint-url", s.url, "dynamodb", "query", "--table-name", "cli-t",
		"--key-condition-expression", "pk = :p AND n >= :lo", "--expression-attribute-values", `{":p":{"S":"p"},":lo":{"N":"9"}}`)
	var ns []string
	for _, it := range q.Items {
		ns = append(ns, it["n"]["N"])
	}
	if q.Count != 3 || strings.Join(ns, ",") != "9,10,100" {
		t.Fatalf("query: %+v", q)
	}
	r := runCmd(t, env, nil, time.Minute, "aws", "--endpoint-url", s.url, "dynamodb", "put-item", "--table-name", "cli-t",
		"--item", `{"pk":{"S":"p"},"n":{"N":"9"}}`, "--condition-expression", "attribute_not_exists(pk)")
	if r.Code == 0 || !strings.Contains(r.Stderr, "ConditionalCheckFailedException") {
		t.Fatalf("conditional put-item: %s", r)
	}
	// a reserved word as a bare attribute name is refused
	r = runCmd(t, env, nil, time.Minute, "aws", "--endpoint-url", s.url, "dynamodb", "update-item", "--table-name", "cli-t",
		"--key", `{"pk":{"S":"p"},"n":{"N":"9"}}`, "--update-expression", "SET status = :s", "--expression-attribute-values", `{":s":{"S":"x"}}`)
	if r.Code == 0 || !strings.Contains(r.Stderr, "ValidationException") ||
		!strings.Contains(r.Stderr, "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: status") {
		t.Fatalf("reserved word: %s", r)
	}
}

func newDynamoDB(s *server) *dynamodb.Client {
	return dynamodb.NewFromConfig(aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(rootAccessKeyID, rootSecretAccessKey, ""),
		RetryMaxAttempts: 1}, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(s.url) })
}

// TestDynamoDBKill9: every item PutItem acknowledged before kill -9 is
// there after the restart.
func TestDynamoDBKill9(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "--sandbox", "process")
	cl := newDynamoDB(s)
	_, err := cl.CreateTable(t.Context(), &dynamodb.CreateTableInput{TableName: aws.String("crash"), BillingMode: types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("n"), KeyType: types.KeyTypeRange}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("n"), AttributeType: types.ScalarAttributeTypeN}}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	acked := map[string]bool{}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	enough := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				pk := fmt.Sprint("w", w)
				if _, err := cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("crash"),
					Item: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "n": &types.AttributeValueMemberN{Value: fmt.Sprint(i)}}}); err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked[fmt.Sprintf("%s/%d", pk, i)] = true
				if len(acked) >= 200 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-enough:
	case <-ctx.Done():
		t.Fatal("fewer than 200 puts in a minute")
	}
	s.kill9()
	wg.Wait()
	cancel()

	s = startServer(t, dataDir, "--sandbox", "process")
	cl = newDynamoDB(s)
	got := map[string]bool{}
	for w := range 4 {
		pk := fmt.Sprint("w", w)
		var start map[string]types.AttributeValue
		for {
			out, err := cl.Query(t.Context(), &dynamodb.QueryInput{TableName: aws.String("crash"), KeyConditionExpression: aws.String("pk = :p"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: pk}}, ExclusiveStartKey: start, ConsistentRead: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range out.Items {
				got[fmt.Sprintf("%s/%s", pk, it["n"].(*types.AttributeValueMemberN).Value)] = true
			}
			if out.LastEvaluatedKey == nil {
				break
			}
			start = out.LastEvaluatedKey
		}
	}
	for k := range acked {
		if !got[k] {
			t.Fatalf("%d of %d acknowledged items found after kill -9; %s missing", len(got), len(acked), k)
		}
	}
}
