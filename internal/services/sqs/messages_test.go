package sqs_test

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/natsd"
	kumosqs "github.com/kumo-run/kumo/internal/services/sqs"
)

func receive(t *testing.T, h *harness, in *sqs.ReceiveMessageInput) []types.Message {
	t.Helper()
	out, err := h.cl.ReceiveMessage(t.Context(), in)
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	return out.Messages
}

func TestSendReceiveDelete(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	url := h.createQueue(t, "work", nil)
	sent, err := h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("héllo ✓"),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"colour": {DataType: aws.String("String"), StringValue: aws.String("blue")},
			"count":  {DataType: aws.String("Number"), StringValue: aws.String("3")},
			"blob":   {DataType: aws.String("Binary.gz"), BinaryValue: []byte{0, 1, 2}},
			"meta.a": {DataType: aws.String("String"), StringValue: aws.String("x")},
		}})
	if err != nil {
		t.Fatal(err) // the SDK checks MD5OfMessageBody
	}
	// MD5OfMessageAttributes as SQS computes it for these attributes.
	if got := aws.ToString(sent.MD5OfMessageAttributes); len(got) != 32 {
		t.Fatalf("MD5OfMessageAttributes %q", got)
	}
	batch, err := h.cl.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: aws.String("one")},
		{Id: aws.String("b"), MessageBody: aws.String("two")},
		{Id: aws.String("c"), MessageBody: aws.String("bad \x01")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(batch.Successful) != 2 || len(batch.Failed) != 1 || aws.ToString(batch.Failed[0].Id) != "c" ||
		aws.ToString(batch.Failed[0].Code) != "InvalidMessageContents" || !batch.Failed[0].SenderFault {
		t.Fatalf("SendMessageBatch: %+v", batch)
	}
	_, err = h.cl.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: aws.String("one")}, {Id: aws.String("a"), MessageBody: aws.String("two")}}})
	wantCode(t, err, "AWS.SimpleQueueService.BatchEntryIdsNotDistinct")
	_, err = h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x"),
		MessageAttributes: map[string]types.MessageAttributeValue{"n": {DataType: aws.String("Number"), StringValue: aws.String("abc")}}})
	wantCode(t, err, "InvalidParameterValue")

	// The largest message fits (with JSON escaping every character of
	// it); one byte more is refused.
	big := strings.Repeat("<", 1<<20)
	bigURL := h.createQueue(t, "big", nil)
	if _, err := h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(bigURL), MessageBody: aws.String(big)}); err != nil {
		t.Fatalf("a 1 MiB message: %v", err)
	}
	_, err = h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(bigURL), MessageBody: aws.String(big + "x")})
	wantCode(t, err, "InvalidParameterValue")
	if m := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(bigURL)}); len(m) != 1 || aws.ToString(m[0].Body) != big {
		t.Fatalf("the 1 MiB message came back as %d messages", len(m))
	}
	attrs := h.queueAttrs(t, url, types.QueueAttributeNameApproximateNumberOfMessages)
	if attrs["ApproximateNumberOfMessages"] != "3" {
		t.Fatalf("ApproximateNumberOfMessages %v", attrs)
	}
	_, err = h.cl.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 11})
	wantCode(t, err, "InvalidParameterValue")

	msgs := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"colour", "meta.*", "blob"}})
	if len(msgs) != 3 {
		t.Fatalf("received %d messages, want 3", len(msgs))
	}
	var first types.Message
	for _, m := range msgs {
		if aws.ToString(m.MessageId) == aws.ToString(sent.MessageId) {
			first = m
		}
		if m.Attributes["ApproximateReceiveCount"] != "1" || m.Attributes["SenderId"] != account {
			t.Errorf("system attributes %v", m.Attributes)
		}
		if ts, _ := strconv.ParseInt(m.Attributes["SentTimestamp"], 10, 64); ts == 0 {
			t.Errorf("SentTimestamp %v", m.Attributes)
		}
		if _, ok := m.Attributes["ApproximateFirstReceiveTimestamp"]; !ok {
			t.Errorf("no ApproximateFirstReceiveTimestamp: %v", m.Attributes)
		}
	}
	if aws.ToString(first.Body) != "héllo ✓" || len(first.MessageAttributes) != 3 ||
		aws.ToString(first.MessageAttributes["colour"].StringValue) != "blue" || string(first.MessageAttributes["blob"].BinaryValue) != "\x00\x01\x02" ||
		aws.ToString(first.MessageAttributes["blob"].DataType) != "Binary.gz" {
		t.Fatalf("first message %+v", first)
	}
	attrs = h.queueAttrs(t, url, types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)
	if attrs["ApproximateNumberOfMessages"] != "0" || attrs["ApproximateNumberOfMessagesNotVisible"] != "3" {
		t.Fatalf("counts in flight %v", attrs)
	}
	if _, err := h.cl.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: msgs[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	del, err := h.cl.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.DeleteMessageBatchRequestEntry{
		{Id: aws.String("1"), ReceiptHandle: msgs[1].ReceiptHandle}, {Id: aws.String("2"), ReceiptHandle: msgs[2].ReceiptHandle},
		{Id: aws.String("3"), ReceiptHandle: aws.String("garbage")}}})
	if err != nil || len(del.Successful) != 2 || len(del.Failed) != 1 || aws.ToString(del.Failed[0].Code) != "ReceiptHandleIsInvalid" {
		t.Fatalf("DeleteMessageBatch: %+v %v", del, err)
	}
	_, err = h.cl.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("garbage")})
	wantCode(t, err, "ReceiptHandleIsInvalid")
	attrs = h.queueAttrs(t, url, types.QueueAttributeNameAll)
	if attrs["ApproximateNumberOfMessages"] != "0" || attrs["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Fatalf("counts after delete %v", attrs)
	}

	// PurgeQueue empties the queue.
	for i := range 3 {
		if _, err := h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.cl.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatal(err)
	}
	if msgs := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10}); len(msgs) != 0 {
		t.Fatalf("after purge: %d messages", len(msgs))
	}
}

// TestLongPolling: a receive waiting for a message gets one sent while it
// waits.
func TestLongPolling(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	url := h.createQueue(t, "poll", nil)
	got := make(chan []types.Message, 1)
	go func() {
		out, err := h.cl.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 20})
		if err != nil {
			t.Error(err)
		}
		got <- out.Messages
	}()
	// Wait until the receive is waiting on the queue's consumer.
	js, err := jetstream.New(h.nc)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "a waiting receive", func() bool {
		for name := range js.StreamNames(ctx).Name() {
			c, err := js.Consumer(ctx, name, natsd.SQSConsumer(name[len("KUMO_SQS_"):]))
			if err != nil {
				continue
			}
			if ci, err := c.Info(ctx); err == nil && ci.NumWaiting > 0 {
				return true
			}
		}
		return false
	})
	if _, err := h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("late")}); err != nil {
		t.Fatal(err)
	}
	msgs := <-got
	if len(msgs) != 1 || aws.ToString(msgs[0].Body) != "late" {
		t.Fatalf("long poll got %+v", msgs)
	}
}

// TestVisibility: an undeleted message comes back after its visibility
// timeout with a higher receive count; ChangeMessageVisibility 0 makes it
// visible at once.
func TestVisibility(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	url := h.createQueue(t, "vis", map[string]string{"VisibilityTimeout": "1"})
	if _, err := h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("m")}); err != nil {
		t.Fatal(err)
	}
	all := []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount}
	msgs := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MessageSystemAttributeNames: all})
	if len(msgs) != 1 {
		t.Fatal("no message")
	}
	var again []types.Message
	eventually(t, "the message to come back", func() bool {
		again = receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MessageSystemAttributeNames: all})
		return len(again) == 1
	})
	if again[0].Attributes["ApproximateReceiveCount"] != "2" || aws.ToString(again[0].MessageId) != aws.ToString(msgs[0].MessageId) {
		t.Fatalf("redelivery %+v", again[0])
	}
	// A long visibility timeout for this receive, then visible at once.
	if _, err := h.cl.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url),
		ReceiptHandle: again[0].ReceiptHandle, VisibilityTimeout: 600}); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)}); len(m) != 0 {
		t.Fatalf("message visible during its 600 s timeout")
	}
	res, err := h.cl.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url),
		Entries: []types.ChangeMessageVisibilityBatchRequestEntry{{Id: aws.String("x"), ReceiptHandle: again[0].ReceiptHandle, VisibilityTimeout: 0}}})
	if err != nil || len(res.Successful) != 1 {
		t.Fatalf("ChangeMessageVisibilityBatch: %+v %v", res, err)
	}
	var third []types.Message
	eventually(t, "the message visible again", func() bool {
		third = receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), VisibilityTimeout: 600, MessageSystemAttributeNames: all})
		return len(third) == 1
	})
	if third[0].Attributes["ApproximateReceiveCount"] != "3" {
		t.Fatalf("third receive %v", third[0].Attributes)
	}
}

// TestRedrive: a message received more than maxReceiveCount times moves
// to the dead-letter queue.
func TestRedrive(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	dlq := h.createQueue(t, "dead", nil)
	src := h.createQueue(t, "src", map[string]string{"VisibilityTimeout": "0",
		"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dead","maxReceiveCount":2}`})
	if _, err := h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(src), MessageBody: aws.String("poison"),
		MessageAttributes: map[string]types.MessageAttributeValue{"k": {DataType: aws.String("String"), StringValue: aws.String("v")}}}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		var m []types.Message
		eventually(t, "receive "+strconv.Itoa(i+1), func() bool {
			m = receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(src)})
			return len(m) == 1
		})
	}
	var moved []types.Message
	eventually(t, "the message in the dead-letter queue", func() bool {
		if m := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(src)}); len(m) != 0 {
			t.Fatalf("received a third time from the source: %+v", m)
		}
		moved = receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), MessageAttributeNames: []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
		return len(moved) == 1
	})
	if aws.ToString(moved[0].Body) != "poison" || aws.ToString(moved[0].MessageAttributes["k"].StringValue) != "v" ||
		moved[0].Attributes["DeadLetterQueueSourceArn"] != "arn:aws:sqs:us-east-1:000000000000:src" {
		t.Fatalf("dead-lettered %+v", moved[0])
	}
}

// TestDelay: a delayed message is counted as delayed, then arrives.
func TestDelay(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	url := h.createQueue(t, "later", nil)
	if _, err := h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("soon"), DelaySeconds: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("much later"), DelaySeconds: 900}); err != nil {
		t.Fatal(err)
	}
	if d := h.queueAttrs(t, url, types.QueueAttributeNameApproximateNumberOfMessagesDelayed); d["ApproximateNumberOfMessagesDelayed"] == "0" {
		t.Fatalf("delayed count %v", d)
	}
	var m []types.Message
	eventually(t, "the delayed message", func() bool {
		m = receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
		return len(m) == 1
	})
	if aws.ToString(m[0].Body) != "soon" || m[0].Attributes["ApproximateReceiveCount"] != "1" {
		t.Fatalf("delayed message %+v", m[0])
	}
	sent, _ := strconv.ParseInt(m[0].Attributes["SentTimestamp"], 10, 64)
	first, _ := strconv.ParseInt(m[0].Attributes["ApproximateFirstReceiveTimestamp"], 10, 64)
	if first-sent < 1000 {
		t.Fatalf("received %d ms after sending, before its delay", first-sent)
	}
	if d := h.queueAttrs(t, url, types.QueueAttributeNameApproximateNumberOfMessagesDelayed); d["ApproximateNumberOfMessagesDelayed"] != "1" {
		t.Fatalf("delayed count after %v", d)
	}
}

// TestPersistence: messages and queues survive a restart of the store;
// an in-flight message comes back.
func TestPersistence(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	url := h.createQueue(t, "durable", map[string]string{"VisibilityTimeout": "1"})
	for i := range 5 {
		if _, err := h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if m := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)}); len(m) != 1 {
		t.Fatal("no message")
	}
	h.restart(t)
	seen := map[string]bool{}
	eventually(t, "all five messages after the restart", func() bool {
		for _, m := range receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10}) {
			seen[aws.ToString(m.Body)] = true
			if _, err := h.cl.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
		return len(seen) == 5
	})
	if a := h.queueAttrs(t, url, "VisibilityTimeout"); a["VisibilityTimeout"] != "1" {
		t.Fatalf("attributes after restart %v", a)
	}
}

// TestDeliver: the method SNS and Lambda use sends as SendMessage does.
func TestDeliver(t *testing.T) {
	h := newHarness(t)
	url := h.createQueue(t, "target", nil)
	id, err := h.svc.Deliver(context.Background(), "arn:aws:sqs:us-east-1:000000000000:target", "from sns",
		map[string]kumosqs.MessageAttribute{"a": {DataType: "String", StringValue: "b"}})
	if err != nil || id == "" {
		t.Fatalf("Deliver: %q %v", id, err)
	}
	m := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MessageAttributeNames: []string{"All"}})
	if len(m) != 1 || aws.ToString(m[0].Body) != "from sns" || aws.ToString(m[0].MessageId) != id ||
		aws.ToString(m[0].MessageAttributes["a"].StringValue) != "b" {
		t.Fatalf("delivered %+v", m)
	}
	if _, err := h.svc.Deliver(context.Background(), "arn:aws:sqs:us-east-1:000000000000:missing", "x", nil); err == nil {
		t.Fatal("Deliver to a missing queue succeeded")
	}
}

// TestForgedReceiptHandle: a handle naming a delivery JetStream never
// made is refused as invalid, and one of another queue too.
func TestForgedReceiptHandle(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	url := h.createQueue(t, "forged", nil)
	other := h.createQueue(t, "other", nil)
	if _, err := h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("m")}); err != nil {
		t.Fatal(err)
	}
	m := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
	if len(m) != 1 {
		t.Fatal("no message")
	}
	_, err := h.cl.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(other), ReceiptHandle: m[0].ReceiptHandle})
	wantCode(t, err, "ReceiptHandleIsInvalid")

	// The same handle with a stream sequence past the queue's last.
	raw, err := base64.RawURLEncoding.DecodeString(aws.ToString(m[0].ReceiptHandle))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(raw), ".")
	parts[len(parts)-4] = "999999"
	forged := base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, ".")))
	_, err = h.cl.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String(forged)})
	wantCode(t, err, "ReceiptHandleIsInvalid")

	// The real one still deletes, and deleting again is not an error.
	for range 2 {
		if _, err := h.cl.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m[0].ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
}
