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
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	stypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// recordPhoto stores each uploaded object's key, size and ETag in the
// photos table with boto3.
const recordPhoto = `import os, urllib.parse
import boto3

table = boto3.resource("dynamodb").Table("photos")


def handler(event, context):
    for r in event["Records"]:
        o = r["s3"]["object"]
        key = urllib.parse.unquote_plus(o["key"])
        table.put_item(Item={"id": key, "key": key, "size": o["size"], "etag": o["eTag"]})
    return {}
`

// announcePhoto publishes each new photo of the table's stream to the
// topic in TOPIC_ARN.
const announcePhoto = `import json, os
import boto3

sns = boto3.client("sns")


def handler(event, context):
    for r in event["Records"]:
        img = r["dynamodb"].get("NewImage")
        if r["eventName"] != "INSERT" or not img:
            continue
        sns.publish(TopicArn=os.environ["TOPIC_ARN"], Message=json.dumps({
            "event": r["eventName"], "source": r["eventSource"], "arn": r["eventSourceARN"],
            "key": img["key"]["S"], "size": img["size"]["N"], "etag": img["etag"]["S"],
            "old": "OldImage" in r["dynamodb"], "view": r["dynamodb"]["StreamViewType"]}))
    return {}
`

// TestDynamoDBStreamPipeline: uploading photos/cat.jpg invokes a Python
// function (S3 notification, prefix photos/) that writes the photo's
// key, size and ETag to a table with boto3; the write's stream record
// (NEW_AND_OLD_IMAGES) invokes a second function through an event source
// mapping, which publishes to an SNS topic a queue subscribes to; the
// queue's message describes the photo.
func TestDynamoDBStreamPipeline(t *testing.T) {
	requireHostBoto3(t)
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	c := newCLI(t, s)
	grantTestRole(t, s)
	c.ok("iam", "put-role-policy", "--role-name", "lambda-role", "--policy-name", "pipeline",
		"--policy-document", policyDoc("Allow", []string{"s3:*", "dynamodb:*", "sns:Publish"}, "*"))

	stream := jstr(c.ok("dynamodb", "create-table", "--table-name", "photos", "--billing-mode", "PAY_PER_REQUEST",
		"--attribute-definitions", "AttributeName=id,AttributeType=S", "--key-schema", "AttributeName=id,KeyType=HASH",
		"--stream-specification", "StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES"), "TableDescription", "LatestStreamArn")
	if !strings.HasPrefix(stream, "arn:aws:dynamodb:"+region+":"+accountID+":table/photos/stream/") {
		t.Fatalf("LatestStreamArn %q", stream)
	}
	topic := jstr(c.ok("sns", "create-topic", "--name", "new-photos"), "TopicArn")
	queueURL := jstr(c.ok("sqs", "create-queue", "--queue-name", "new-photos"), "QueueUrl")
	queueARN := "arn:aws:sqs:" + region + ":" + accountID + ":new-photos"
	policy, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]string{"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
		"Resource": queueARN, "Condition": map[string]any{"ArnEquals": map[string]string{"aws:SourceArn": topic}}}}})
	attrs, _ := json.Marshal(map[string]string{"Policy": string(policy)})
	c.ok("sqs", "set-queue-attributes", "--queue-url", queueURL, "--attributes", string(attrs))
	c.ok("sns", "subscribe", "--topic-arn", topic, "--protocol", "sqs", "--notification-endpoint", queueARN,
		"--attributes", `{"RawMessageDelivery":"true"}`)

	create := func(name, body string, extra ...string) {
		t.Helper()
		zip := makeZip(t, zipEntry{Name: "app.py", Body: body})
		args := append([]string{"lambda", "create-function", "--function-name", name, "--runtime", "python3.12", "--handler", "app.handler",
			"--role", testRole, "--timeout", "30", "--zip-file", "fileb://" + writeTemp(t, name+".zip", zip)}, extra...)
		if cliV2(t) {
			args = append(args, "--cli-binary-format", "raw-in-base64-out")
		}
		c.ok(args...)
		c.ok("lambda", "wait", "function-active-v2", "--function-name", name)
	}
	create("record-photo", recordPhoto)
	create("announce-photo", announcePhoto, "--environment", `{"Variables":{"TOPIC_ARN":"`+topic+`"}}`)

	c.ok("s3api", "create-bucket", "--bucket", "uploads")
	c.ok("lambda", "add-permission", "--function-name", "record-photo", "--statement-id", "s3", "--action", "lambda:InvokeFunction",
		"--principal", "s3.amazonaws.com", "--source-arn", "arn:aws:s3:::uploads", "--source-account", accountID)
	c.ok("s3api", "put-bucket-notification-configuration", "--bucket", "uploads", "--notification-configuration",
		`{"LambdaFunctionConfigurations":[{"Id":"photos","LambdaFunctionArn":"`+functionARN("record-photo")+`",
		"Events":["s3:ObjectCreated:*"],"Filter":{"Key":{"FilterRules":[{"Name":"prefix","Value":"photos/"}]}}}]}`)
	m := c.ok("lambda", "create-event-source-mapping", "--function-name", "announce-photo", "--event-source-arn", stream,
		"--starting-position", "LATEST", "--batch-size", "10")
	uuid := jstr(m, "UUID")
	eventually(t, 60*time.Second, "the mapping enabled", func() error {
		if st := jstr(c.ok("lambda", "get-event-source-mapping", "--uuid", uuid), "State"); st != "Enabled" {
			return fmt.Errorf("state %s", st)
		}
		return nil
	})

	put := jstr(c.ok("s3api", "put-object", "--bucket", "uploads", "--key", "photos/cat.jpg", "--body", writeTemp(t, "cat.jpg", []byte("MEOW JPEG"))), "ETag")
	var body string
	eventually(t, 180*time.Second, "the photo's announcement in the queue", func() error {
		out := c.ok("sqs", "receive-message", "--queue-url", queueURL, "--wait-time-seconds", "1")
		ms, _ := jget(out, "Messages").([]any)
		if len(ms) == 0 {
			return fmt.Errorf("no message yet")
		}
		body = jstr(ms[0], "Body")
		return nil
	})
	var got struct {
		Event, Source, ARN, Key, Size, Etag, View string
		Old                                       bool
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("message %q: %v", body, err)
	}
	if got.Event != "INSERT" || got.Source != "aws:dynamodb" || got.ARN != stream || got.Key != "photos/cat.jpg" || got.Size != "9" ||
		strings.Trim(got.Etag, `"`) != strings.Trim(put, `"`) || got.Old || got.View != "NEW_AND_OLD_IMAGES" {
		t.Fatalf("message %+v (ETag %s)", got, put)
	}
	// the table holds the photo too
	item := c.ok("dynamodb", "get-item", "--table-name", "photos", "--key", `{"id":{"S":"photos/cat.jpg"}}`, "--consistent-read")
	if jstr(item, "Item", "size", "N") != "9" {
		t.Fatalf("item %v", item)
	}
}

// TestDynamoDBStreamKill9: after kill -9 the stream holds a record of
// every acknowledged write, in each item's write order, with no gap.
func TestDynamoDBStreamKill9(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "--sandbox", "process")
	cl := newDynamoDB(s)
	out, err := cl.CreateTable(t.Context(), &dynamodb.CreateTableInput{TableName: aws.String("crash"), BillingMode: types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewImage}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.TableDescription.LatestStreamArn)
	var mu sync.Mutex
	acked := map[string]int{}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	enough := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pk := fmt.Sprint("w", w)
			for i := 0; ctx.Err() == nil; i++ {
				if _, err := cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("crash"),
					Item: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "v": &types.AttributeValueMemberN{Value: fmt.Sprint(i)}}}); err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked[pk] = i + 1
				n := 0
				for _, c := range acked {
					n += c
				}
				if n >= 200 {
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
	sc := dynamodbstreams.NewFromConfig(aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(rootAccessKeyID, rootSecretAccessKey, ""),
		RetryMaxAttempts: 1}, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(s.url) })
	d, err := sc.DescribeStream(t.Context(), &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	if err != nil || len(d.StreamDescription.Shards) != 1 {
		t.Fatalf("DescribeStream %v %v", d, err)
	}
	it, err := sc.GetShardIterator(t.Context(), &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn),
		ShardId: d.StreamDescription.Shards[0].ShardId, ShardIteratorType: stypes.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{} // the next value each item's records must show
	iter := it.ShardIterator
	for iter != nil {
		r, err := sc.GetRecords(t.Context(), &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range r.Records {
			pk := rec.Dynamodb.Keys["pk"].(*stypes.AttributeValueMemberS).Value
			v := rec.Dynamodb.NewImage["v"].(*stypes.AttributeValueMemberN).Value
			if v != fmt.Sprint(seen[pk]) {
				t.Fatalf("%s: record of v=%s, want v=%d next (a record lost or out of order)", pk, v, seen[pk])
			}
			seen[pk]++
		}
		if len(r.Records) == 0 {
			break
		}
		iter = r.NextShardIterator
	}
	for pk, n := range acked {
		if seen[pk] < n {
			t.Fatalf("%s: %d writes acknowledged, %d records after kill -9", pk, n, seen[pk])
		}
	}
}

// failBad fails every batch that holds the item "bad".
const failBad = `def handler(event, context):
    for r in event["Records"]:
        if r["dynamodb"]["Keys"]["id"]["S"] == "bad":
            raise Exception("bad record")
    return {}
`

// TestDynamoDBStreamOnFailure: a stream mapping made with the AWS CLI
// (ParallelizationFactor 2, BisectBatchOnFunctionError, no retries, an
// SQS on-failure destination) isolates the one record its Python
// function fails on and sends Lambda's record of it to the queue:
// condition, the shard and the record's sequence number.
func TestDynamoDBStreamOnFailure(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	c := newCLI(t, s)
	grantTestRole(t, s)
	c.ok("iam", "put-role-policy", "--role-name", "lambda-role", "--policy-name", "streams",
		"--policy-document", policyDoc("Allow", []string{"dynamodb:*", "sqs:SendMessage"}, "*"))
	stream := jstr(c.ok("dynamodb", "create-table", "--table-name", "things", "--billing-mode", "PAY_PER_REQUEST",
		"--attribute-definitions", "AttributeName=id,AttributeType=S", "--key-schema", "AttributeName=id,KeyType=HASH",
		"--stream-specification", "StreamEnabled=true,StreamViewType=KEYS_ONLY"), "TableDescription", "LatestStreamArn")
	queueURL := jstr(c.ok("sqs", "create-queue", "--queue-name", "discarded"), "QueueUrl")
	queueARN := "arn:aws:sqs:" + region + ":" + accountID + ":discarded"
	zip := makeZip(t, zipEntry{Name: "app.py", Body: failBad})
	args := []string{"lambda", "create-function", "--function-name", "fail-bad", "--runtime", "python3.12", "--handler", "app.handler",
		"--role", testRole, "--timeout", "30", "--zip-file", "fileb://" + writeTemp(t, "fail-bad.zip", zip)}
	if cliV2(t) {
		args = append(args, "--cli-binary-format", "raw-in-base64-out")
	}
	c.ok(args...)
	c.ok("lambda", "wait", "function-active-v2", "--function-name", "fail-bad")
	for _, k := range []string{"a", "b", "bad", "c"} {
		c.ok("dynamodb", "put-item", "--table-name", "things", "--item", `{"id":{"S":"`+k+`"}}`)
	}
	m := c.ok("lambda", "create-event-source-mapping", "--function-name", "fail-bad", "--event-source-arn", stream,
		"--starting-position", "TRIM_HORIZON", "--batch-size", "4", "--parallelization-factor", "2", "--bisect-batch-on-function-error",
		"--maximum-retry-attempts", "0", "--destination-config", `{"OnFailure":{"Destination":"`+queueARN+`"}}`)
	if jstr(m, "DestinationConfig", "OnFailure", "Destination") != queueARN || jget(m, "BisectBatchOnFunctionError") != true ||
		fmt.Sprint(jget(m, "ParallelizationFactor")) != "2" {
		t.Fatalf("mapping %v", m)
	}
	var body string
	eventually(t, 180*time.Second, "the on-failure record in the queue", func() error {
		ms, _ := jget(c.ok("sqs", "receive-message", "--queue-url", queueURL, "--wait-time-seconds", "1"), "Messages").([]any)
		if len(ms) == 0 {
			return fmt.Errorf("no message yet")
		}
		body = jstr(ms[0], "Body")
		return nil
	})
	var rec map[string]any
	if err := json.Unmarshal([]byte(body), &rec); err != nil {
		t.Fatalf("message %q: %v", body, err)
	}
	// the sequence number of "bad"'s record, from the stream itself
	shard := jstr(jget(c.ok("dynamodbstreams", "describe-stream", "--stream-arn", stream), "StreamDescription", "Shards").([]any)[0], "ShardId")
	it := jstr(c.ok("dynamodbstreams", "get-shard-iterator", "--stream-arn", stream, "--shard-id", shard, "--shard-iterator-type", "TRIM_HORIZON"), "ShardIterator")
	var badSeq string
	for _, r := range jget(c.ok("dynamodbstreams", "get-records", "--shard-iterator", it), "Records").([]any) {
		if jstr(r, "dynamodb", "Keys", "id", "S") == "bad" {
			badSeq = jstr(r, "dynamodb", "SequenceNumber")
		}
	}
	if jstr(rec, "requestContext", "condition") != "RetryAttemptsExhausted" || jstr(rec, "requestContext", "functionArn") != functionARN("fail-bad") ||
		jstr(rec, "responseContext", "functionError") != "Unhandled" || jstr(rec, "DDBStreamBatchInfo", "shardId") != shard ||
		badSeq == "" || jstr(rec, "DDBStreamBatchInfo", "startSequenceNumber") != badSeq || jstr(rec, "DDBStreamBatchInfo", "endSequenceNumber") != badSeq ||
		fmt.Sprint(jget(rec, "DDBStreamBatchInfo", "batchSize")) != "1" || jstr(rec, "DDBStreamBatchInfo", "streamArn") != stream {
		t.Fatalf("on-failure record %s (bad is %s in %s)", body, badSeq, shard)
	}
}

// countWindow counts a tumbling window's records in its state and sends
// the count to the queue in QUEUE_URL on the window's final invoke.
const countWindow = `import json, os
import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    n = int((event.get("state") or {}).get("n", "0")) + len(event["Records"])
    if event.get("isFinalInvokeForWindow"):
        sqs.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=json.dumps(
            {"n": n, "window": event["window"], "shard": event["shardId"], "arn": event["eventSourceARN"]}))
        return {}
    return {"state": {"n": str(n)}}
`

// TestDynamoDBStreamTumblingWindow: a Python function aggregates a
// stream's records over 5-second tumbling windows with boto3, carrying
// its count in the window's state; each window's final invoke reports
// the count, and the counts add up to the records written.
func TestDynamoDBStreamTumblingWindow(t *testing.T) {
	requireHostBoto3(t)
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	c := newCLI(t, s)
	grantTestRole(t, s)
	c.ok("iam", "put-role-policy", "--role-name", "lambda-role", "--policy-name", "streams",
		"--policy-document", policyDoc("Allow", []string{"dynamodb:*", "sqs:SendMessage"}, "*"))
	stream := jstr(c.ok("dynamodb", "create-table", "--table-name", "counted", "--billing-mode", "PAY_PER_REQUEST",
		"--attribute-definitions", "AttributeName=id,AttributeType=S", "--key-schema", "AttributeName=id,KeyType=HASH",
		"--stream-specification", "StreamEnabled=true,StreamViewType=NEW_IMAGE"), "TableDescription", "LatestStreamArn")
	queueURL := jstr(c.ok("sqs", "create-queue", "--queue-name", "counts"), "QueueUrl")
	zip := makeZip(t, zipEntry{Name: "app.py", Body: countWindow})
	args := []string{"lambda", "create-function", "--function-name", "count-window", "--runtime", "python3.12", "--handler", "app.handler",
		"--role", testRole, "--timeout", "30", "--zip-file", "fileb://" + writeTemp(t, "count-window.zip", zip),
		"--environment", `{"Variables":{"QUEUE_URL":"` + queueURL + `"}}`}
	if cliV2(t) {
		args = append(args, "--cli-binary-format", "raw-in-base64-out")
	}
	c.ok(args...)
	c.ok("lambda", "wait", "function-active-v2", "--function-name", "count-window")
	m := c.ok("lambda", "create-event-source-mapping", "--function-name", "count-window", "--event-source-arn", stream,
		"--starting-position", "TRIM_HORIZON", "--batch-size", "1", "--tumbling-window-in-seconds", "5")
	if fmt.Sprint(jget(m, "TumblingWindowInSeconds")) != "5" {
		t.Fatalf("mapping %v", m)
	}
	for _, k := range []string{"a", "b", "c"} {
		c.ok("dynamodb", "put-item", "--table-name", "counted", "--item", `{"id":{"S":"`+k+`"}}`)
	}
	total := 0
	eventually(t, 300*time.Second, "the windows' counts adding up to 3", func() error {
		ms, _ := jget(c.ok("sqs", "receive-message", "--queue-url", queueURL, "--wait-time-seconds", "1", "--max-number-of-messages", "10"), "Messages").([]any)
		for _, msg := range ms {
			var got struct {
				N      int
				Window struct{ Start, End string }
				Shard  string
				ARN    string
			}
			if err := json.Unmarshal([]byte(jstr(msg, "Body")), &got); err != nil {
				t.Fatalf("message %v: %v", msg, err)
			}
			start, err1 := time.Parse(time.RFC3339, got.Window.Start)
			end, err2 := time.Parse(time.RFC3339, got.Window.End)
			if err1 != nil || err2 != nil || end.Sub(start) != 5*time.Second || start.Unix()%5 != 0 || got.ARN != stream ||
				!strings.HasPrefix(got.Shard, "shardId-") || got.N < 1 {
				t.Fatalf("final invoke %+v", got)
			}
			total += got.N
			c.ok("sqs", "delete-message", "--queue-url", queueURL, "--receipt-handle", jstr(msg, "ReceiptHandle"))
		}
		if total < 3 {
			return fmt.Errorf("%d counted", total)
		}
		return nil
	})
	if total != 3 {
		t.Fatalf("%d counted, 3 written", total)
	}
}

// TestDynamoDBItemBudget: with --dynamodb-max-item-bytes a put that
// would hold more item bytes than the bound is refused with a clear
// error, through the AWS CLI, and a deletion makes room again.
func TestDynamoDBItemBudget(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process", "--dynamodb-max-item-bytes", "3000")
	c := newCLI(t, s)
	c.ok("dynamodb", "create-table", "--table-name", "small", "--billing-mode", "PAY_PER_REQUEST",
		"--attribute-definitions", "AttributeName=id,AttributeType=S", "--key-schema", "AttributeName=id,KeyType=HASH")
	item := func(id string) string {
		return `{"id":{"S":"` + id + `"},"v":{"S":"` + strings.Repeat("x", 1400) + `"}}`
	}
	c.ok("dynamodb", "put-item", "--table-name", "small", "--item", item("a"))
	c.ok("dynamodb", "put-item", "--table-name", "small", "--item", item("b"))
	r := c.fail("ItemCollectionSizeLimitExceededException", "dynamodb", "put-item", "--table-name", "small", "--item", item("c"))
	if !strings.Contains(r.Stderr, "item memory budget is spent") {
		t.Fatalf("put-item past the budget: %s", r)
	}
	if jget(c.ok("dynamodb", "get-item", "--table-name", "small", "--key", `{"id":{"S":"c"}}`, "--consistent-read"), "Item") != nil {
		t.Fatal("the refused item was stored")
	}
	c.ok("dynamodb", "delete-item", "--table-name", "small", "--key", `{"id":{"S":"a"}}`)
	c.ok("dynamodb", "put-item", "--table-name", "small", "--item", item("c"))
}
