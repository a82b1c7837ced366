package sqs_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestFIFO: a FIFO queue deduplicates by content and by id, keeps each
// group's order, and answers with growing sequence numbers.
func TestFIFO(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	url := h.createQueue(t, "jobs.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})
	if a := h.queueAttrs(t, url, types.QueueAttributeNameAll); a["FifoQueue"] != "true" || a["ContentBasedDeduplication"] != "true" ||
		a["DeduplicationScope"] != "queue" || a["FifoThroughputLimit"] != "perQueue" {
		t.Fatalf("FIFO attributes %v", a)
	}
	_, err := h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x")})
	wantCode(t, err, "MissingParameter")
	_, err = h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x"), MessageGroupId: aws.String("g"), DelaySeconds: 5})
	wantCode(t, err, "InvalidParameterValue")

	send := func(group, body, dedup string) *sqs.SendMessageOutput {
		in := &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body), MessageGroupId: aws.String(group)}
		if dedup != "" {
			in.MessageDeduplicationId = aws.String(dedup)
		}
		out, err := h.cl.SendMessage(ctx, in)
		if err != nil {
			t.Fatalf("SendMessage %s/%s: %v", group, body, err)
		}
		return out
	}
	a1 := send("a", "a1", "")
	b1 := send("b", "b1", "")
	dup := send("a", "a1", "") // the same content: dropped, same id
	if aws.ToString(dup.MessageId) != aws.ToString(a1.MessageId) {
		t.Fatalf("duplicate answered %s, first %s", aws.ToString(dup.MessageId), aws.ToString(a1.MessageId))
	}
	send("a", "a2", "id-a2")
	send("a", "a2 again, other content", "id-a2") // the same id: dropped
	if _, err := h.cl.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("1"), MessageBody: aws.String("b2"), MessageGroupId: aws.String("b")},
		{Id: aws.String("2"), MessageBody: aws.String("a3"), MessageGroupId: aws.String("a")},
	}}); err != nil {
		t.Fatal(err)
	}
	if aws.ToString(a1.SequenceNumber) >= aws.ToString(b1.SequenceNumber) || len(aws.ToString(a1.SequenceNumber)) != 20 {
		t.Fatalf("sequence numbers %s, %s", aws.ToString(a1.SequenceNumber), aws.ToString(b1.SequenceNumber))
	}

	var order []string
	lastSeq := ""
	for len(order) < 5 {
		msgs := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
		if len(msgs) == 0 {
			t.Fatalf("received %v, then nothing", order)
		}
		for _, m := range msgs {
			order = append(order, aws.ToString(m.Body))
			seq := m.Attributes["SequenceNumber"]
			if seq <= lastSeq || m.Attributes["MessageGroupId"] == "" || m.Attributes["MessageDeduplicationId"] == "" {
				t.Fatalf("message %s: attributes %v after sequence %s", aws.ToString(m.Body), m.Attributes, lastSeq)
			}
			lastSeq = seq
			if _, err := h.cl.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []string{"a1", "b1", "a2", "b2", "a3"}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("received %v, want %v", order, want)
		}
	}
	if m := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)}); len(m) != 0 {
		t.Fatalf("a duplicate was stored: %+v", m)
	}
}

// TestFIFOGroupHeldWhileInFlight: while a message is in flight, the
// queue's next message is not received, so its group's order holds.
func TestFIFOGroupHeldWhileInFlight(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	url := h.createQueue(t, "held.fifo", map[string]string{"FifoQueue": "true"})
	for i, body := range []string{"first", "second"} {
		if _, err := h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body),
			MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String(body + string(rune('0'+i)))}); err != nil {
			t.Fatal(err)
		}
	}
	m := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
	if len(m) != 1 || aws.ToString(m[0].Body) != "first" {
		t.Fatalf("first receive %+v", m)
	}
	if again := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10}); len(again) != 0 {
		t.Fatalf("received %q while first is in flight", aws.ToString(again[0].Body))
	}
	if _, err := h.cl.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: m[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	var next []types.Message
	eventually(t, "first back", func() bool {
		next = receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
		return len(next) == 1
	})
	if aws.ToString(next[0].Body) != "first" {
		t.Fatalf("after its visibility ended, received %q before first", aws.ToString(next[0].Body))
	}
}
