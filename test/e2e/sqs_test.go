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
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// sqsBoto3Script drives a queue with boto3 and checks MD5OfMessageBody
// and MD5OfMessageAttributes against its own implementation of SQS's
// documented digest (botocore does not check them); it raises on any
// difference from what it expects.
const sqsBoto3Script = `
import hashlib, json, struct, sys
import boto3
from botocore.config import Config


def md5_attrs(attrs):
    h = hashlib.md5()
    def put(b):
        h.update(struct.pack(">I", len(b)) + b)
    for name in sorted(attrs):
        a = attrs[name]
        put(name.encode())
        put(a["DataType"].encode())
        if a["DataType"].startswith("Binary"):
            h.update(b"\x02")
            put(a["BinaryValue"])
        else:
            h.update(b"\x01")
            put(a["StringValue"].encode())
    return h.hexdigest()

cfg = json.load(open(sys.argv[1]))
sqs = boto3.client("sqs", endpoint_url=cfg["endpoint"], region_name=cfg["region"],
    aws_access_key_id=cfg["key"], aws_secret_access_key=cfg["secret"],
    config=Config(retries={"total_max_attempts": 1}))

dlq = sqs.create_queue(QueueName="b3-dead")["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
src = sqs.create_queue(QueueName="b3-src", Attributes={"VisibilityTimeout": "0",
    "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})})["QueueUrl"]
assert src == cfg["endpoint"] + "/" + cfg["account"] + "/b3-src", src

attrs = {"colour": {"DataType": "String", "StringValue": "blue"},
         "n": {"DataType": "Number", "StringValue": "42"},
         "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}}
sent = sqs.send_message(QueueUrl=src, MessageBody="hello <world> & ünïcode", MessageAttributes=attrs)
assert sent["MD5OfMessageBody"] == hashlib.md5("hello <world> & ünïcode".encode()).hexdigest(), sent
assert sent["MD5OfMessageAttributes"] == md5_attrs(attrs), sent
msgs = sqs.receive_message(QueueUrl=src, MessageAttributeNames=["All"], AttributeNames=["All"], WaitTimeSeconds=1)["Messages"]
assert len(msgs) == 1 and msgs[0]["Body"] == "hello <world> & ünïcode", msgs
assert msgs[0]["MessageAttributes"]["raw"]["BinaryValue"] == b"\x00\xff", msgs
assert msgs[0]["Attributes"]["ApproximateReceiveCount"] == "1", msgs
assert msgs[0]["MD5OfMessageAttributes"] == md5_attrs(msgs[0]["MessageAttributes"]) == md5_attrs(attrs), msgs
assert msgs[0]["MD5OfBody"] == sent["MD5OfMessageBody"], msgs

# Received a second time: more than maxReceiveCount, so it moves.
got = sqs.receive_message(QueueUrl=src, WaitTimeSeconds=1).get("Messages", [])
assert got == [], got
moved = sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"], AttributeNames=["All"], WaitTimeSeconds=5)["Messages"]
assert moved[0]["Body"] == "hello <world> & ünïcode", moved
assert moved[0]["Attributes"]["DeadLetterQueueSourceArn"].endswith(":b3-src"), moved
sqs.delete_message(QueueUrl=dlq, ReceiptHandle=moved[0]["ReceiptHandle"])

batch = sqs.send_message_batch(QueueUrl=dlq, Entries=[
    {"Id": "a", "MessageBody": "one", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
    {"Id": "b", "MessageBody": "two"}])
assert len(batch["Successful"]) == 2, batch

try:
    sqs.get_queue_url(QueueName="b3-missing")
    raise SystemExit("get_queue_url of a missing queue succeeded")
except sqs.exceptions.QueueDoesNotExist as e:
    assert e.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue", e.response
sqs.delete_queue(QueueUrl=src)

fifo = sqs.create_queue(QueueName="b3.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
first = sqs.send_message(QueueUrl=fifo, MessageBody="f1", MessageGroupId="g")
again = sqs.send_message(QueueUrl=fifo, MessageBody="f1", MessageGroupId="g")
assert again["MessageId"] == first["MessageId"], (first, again)
sqs.send_message(QueueUrl=fifo, MessageBody="f2", MessageGroupId="g", MessageDeduplicationId="two")
sqs.send_message(QueueUrl=fifo, MessageBody="f2 again", MessageGroupId="g", MessageDeduplicationId="two")
order = []
while True:
    got = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
    if not got:
        break
    for m in got:
        assert m["Attributes"]["MessageGroupId"] == "g", m
        order.append(m["Body"])
        sqs.delete_message(QueueUrl=fifo, ReceiptHandle=m["ReceiptHandle"])
assert order == ["f1", "f2"], order

# Message groups flow in parallel: g is held while g1 is in flight, h is not.
for body, group in [("g1", "g"), ("g2", "g"), ("h1", "h")]:
    sqs.send_message(QueueUrl=fifo, MessageBody=body, MessageGroupId=group)
got = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=1, ReceiveRequestAttemptId="try-1")["Messages"]
assert [m["Body"] for m in got] == ["g1"], got
retry = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=1, ReceiveRequestAttemptId="try-1")["Messages"]
assert [(m["Body"], m["ReceiptHandle"]) for m in retry] == [(m["Body"], m["ReceiptHandle"]) for m in got], (got, retry)
other = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]
assert [m["Body"] for m in other] == ["h1"], other
sqs.change_message_visibility(QueueUrl=fifo, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0)
try:
    sqs.change_message_visibility(QueueUrl=fifo, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=30)
    raise SystemExit("changing the visibility of a message not in flight succeeded")
except sqs.exceptions.MessageNotInflight as e:
    assert e.response["Error"]["Code"] == "AWS.SimpleQueueService.MessageNotInflight", e.response
back = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
assert [m["Body"] for m in back] == ["g1", "g2"], back
assert back[0]["Attributes"]["ApproximateReceiveCount"] == "2", back
print("OK")
`

// TestSQSBoto3: create, send with attributes (MD5s checked), receive,
// delete, redrive and a FIFO queue's deduplication and order with boto3.
func TestSQSBoto3(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	cfg, _ := json.Marshal(map[string]any{"endpoint": s.url, "region": region, "account": accountID, "key": rootAccessKeyID, "secret": rootSecretAccessKey})
	r := runCmd(t, s.env(), nil, 2*time.Minute, "python3", writeTemp(t, "sqs.py", []byte(sqsBoto3Script)), writeTemp(t, "sqs.json", cfg))
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "OK" {
		t.Fatalf("boto3 SQS script:\n%s", r)
	}
}

// TestSQSCLI: the AWS CLI creates a queue, sends, receives and deletes.
func TestSQSCLI(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	env := s.env()
	var q struct{ QueueUrl string }
	awsJSON(t, env, &q, "--endpoint-url", s.url, "sqs", "create-queue", "--queue-name", "cli-q")
	var sent struct{ MessageId, MD5OfMessageBody string }
	awsJSON(t, env, &sent, "--endpoint-url", s.url, "sqs", "send-message", "--queue-url", q.QueueUrl, "--message-body", "from the cli",
		"--message-attributes", `{"a":{"DataType":"String","StringValue":"b"}}`)
	var got struct {
		Messages []struct{ MessageId, Body, ReceiptHandle string }
	}
	awsJSON(t, env, &got, "--endpoint-url", s.url, "sqs", "receive-message", "--queue-url", q.QueueUrl, "--wait-time-seconds", "2", "--message-attribute-names", "All")
	if len(got.Messages) != 1 || got.Messages[0].Body != "from the cli" || got.Messages[0].MessageId != sent.MessageId {
		t.Fatalf("receive-message: %+v", got)
	}
	r := runCmd(t, env, nil, time.Minute, "aws", "--endpoint-url", s.url, "sqs", "delete-message", "--queue-url", q.QueueUrl, "--receipt-handle", got.Messages[0].ReceiptHandle)
	if r.Code != 0 {
		t.Fatalf("delete-message: %s", r)
	}
	var attrs struct{ Attributes map[string]string }
	awsJSON(t, env, &attrs, "--endpoint-url", s.url, "sqs", "get-queue-attributes", "--queue-url", q.QueueUrl, "--attribute-names", "All")
	if attrs.Attributes["ApproximateNumberOfMessages"] != "0" || attrs.Attributes["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Fatalf("after delete: %v", attrs.Attributes)
	}
}

func newSQS(s *server) *sqs.Client {
	return sqs.NewFromConfig(aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(rootAccessKeyID, rootSecretAccessKey, ""),
		RetryMaxAttempts: 1}, func(o *sqs.Options) { o.BaseEndpoint = aws.String(s.url) })
}

// TestSQSKill9: every message SendMessage acknowledged before kill -9 is
// received after the restart.
func TestSQSKill9(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "--sandbox", "process")
	cl := newSQS(s)
	q, err := cl.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String("crash")})
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
				body := fmt.Sprintf("m-%d-%05d", w, i)
				if _, err := cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(body)}); err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked[body] = true
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
		t.Fatal("fewer than 200 sends in a minute")
	}
	s.kill9()
	wg.Wait()
	cancel()

	s = startServer(t, dataDir, "--sandbox", "process")
	cl = newSQS(s)
	got := map[string]bool{}
	err = poll(2*time.Minute, func() error {
		out, err := cl.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			return stopPolling(err)
		}
		for _, m := range out.Messages {
			got[aws.ToString(m.Body)] = true
		}
		for body := range acked {
			if !got[body] {
				return fmt.Errorf("%d of %d acknowledged messages received; %s missing", len(got), len(acked), body)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
