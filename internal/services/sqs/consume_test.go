package sqs_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	kumosqs "github.com/kumo-run/kumo/internal/services/sqs"
)

// TestConsumerAPI: Receive returns what ReceiveMessage would, with the
// system and message attributes Lambda's event carries; its handles work
// with the public DeleteMessage, Delete and ChangeVisibility; redrive
// applies; an unknown queue is QueueDoesNotExist.
func TestConsumerAPI(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	dlqURL := h.createQueue(t, "dlq", nil)
	url := h.createQueue(t, "work", map[string]string{"VisibilityTimeout": "60",
		"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"2"}`})
	arn := "arn:aws:sqs:us-east-1:000000000000:work"
	if !h.svc.QueueExists(arn) || h.svc.QueueExists(arn+"x") || h.svc.QueueFIFO(arn) {
		t.Fatal("QueueExists/QueueFIFO wrong")
	}
	if v := h.svc.QueueVisibilityTimeout(arn); v != time.Minute {
		t.Fatalf("QueueVisibilityTimeout = %v, want 1m", v)
	}
	for i := range 3 {
		_, err := h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("m" + strconv.Itoa(i)),
			MessageAttributes: map[string]types.MessageAttributeValue{"k": {DataType: aws.String("String"), StringValue: aws.String("v")}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	var got []kumosqs.Message
	for len(got) < 3 {
		ms, err := h.svc.Receive(ctx, arn, 10, 5*time.Second, 0)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ms...)
	}
	for _, m := range got {
		if m.Attributes["ApproximateReceiveCount"] != "1" || m.Attributes["SentTimestamp"] == "" || m.Attributes["SenderId"] == "" ||
			m.Attributes["ApproximateFirstReceiveTimestamp"] == "" || m.MessageAttributes["k"].StringValue != "v" || m.MD5OfBody == "" {
			t.Fatalf("message %+v", m)
		}
	}
	// All three are in flight for the queue's 60 s.
	if ms, err := h.svc.Receive(ctx, arn, 10, 0, 0); err != nil || len(ms) != 0 {
		t.Fatalf("in-flight messages received again: %v %v", ms, err)
	}
	if _, err := h.cl.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String(got[0].ReceiptHandle)}); err != nil {
		t.Fatalf("DeleteMessage with a Receive handle: %v", err)
	}
	if err := h.svc.Delete(ctx, arn, got[1].ReceiptHandle); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := h.svc.Delete(ctx, arn, "bogus"); err == nil {
		t.Fatal("Delete of a bogus handle succeeded")
	}
	// The third, made visible now, comes back with count 2; once more and
	// it exceeds maxReceiveCount 2 and goes to the dead-letter queue.
	if err := h.svc.ChangeVisibility(ctx, arn, got[2].ReceiptHandle, 0); err != nil {
		t.Fatalf("ChangeVisibility: %v", err)
	}
	ms, err := h.svc.Receive(ctx, arn, 10, 5*time.Second, time.Second)
	if err != nil || len(ms) != 1 || ms[0].Attributes["ApproximateReceiveCount"] != "2" || ms[0].Body != got[2].Body {
		t.Fatalf("redelivery: %+v %v", ms, err)
	}
	if err := h.svc.ChangeVisibility(ctx, arn, ms[0].ReceiptHandle, 0); err != nil {
		t.Fatal(err)
	}
	if ms, err := h.svc.Receive(ctx, arn, 10, 0, 0); err != nil || len(ms) != 0 {
		t.Fatalf("a message past maxReceiveCount was received: %+v %v", ms, err)
	}
	d := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), WaitTimeSeconds: 5})
	if len(d) != 1 || aws.ToString(d[0].Body) != got[2].Body {
		t.Fatalf("dead-letter queue holds %+v", d)
	}
	if _, err := h.svc.Receive(ctx, arn+"x", 1, 0, 0); err == nil {
		t.Fatal("Receive from a missing queue succeeded")
	}
}
