package sqs_test

import (
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestMessageMoveTask: a move task returns dead-lettered messages to the
// queue they came from.
func TestMessageMoveTask(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	dlq := h.createQueue(t, "mt-dead", nil)
	dlqARN := "arn:aws:sqs:us-east-1:000000000000:mt-dead"
	src := h.createQueue(t, "mt-src", map[string]string{"VisibilityTimeout": "0",
		"RedrivePolicy": `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":1}`})
	for i := range 3 {
		if _, err := h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(src), MessageBody: aws.String(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "three dead-lettered messages", func() bool {
		receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(src), MaxNumberOfMessages: 10})
		return h.queueAttrs(t, dlq, types.QueueAttributeNameApproximateNumberOfMessages)["ApproximateNumberOfMessages"] == "3"
	})

	_, err := h.cl.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: aws.String("arn:aws:sqs:us-east-1:000000000000:mt-src")})
	wantCode(t, err, "AWS.SimpleQueueService.UnsupportedOperation")
	_, err = h.cl.CancelMessageMoveTask(ctx, &sqs.CancelMessageMoveTaskInput{TaskHandle: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException")

	// Messages go back to where they came from: stop them from coming
	// straight back.
	if _, err := h.cl.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(src),
		Attributes: map[string]string{"VisibilityTimeout": "600"}}); err != nil {
		t.Fatal(err)
	}
	task, err := h.cl.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(dlqARN)})
	if err != nil || aws.ToString(task.TaskHandle) == "" {
		t.Fatalf("StartMessageMoveTask: %v %v", task, err)
	}
	var res types.ListMessageMoveTasksResultEntry
	eventually(t, "the task to complete", func() bool {
		out, err := h.cl.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: aws.String(dlqARN)})
		if err != nil || len(out.Results) != 1 {
			t.Fatalf("ListMessageMoveTasks: %v %v", out, err)
		}
		res = out.Results[0]
		return aws.ToString(res.Status) != "RUNNING"
	})
	if aws.ToString(res.Status) != "COMPLETED" || res.ApproximateNumberOfMessagesMoved != 3 || aws.ToInt64(res.ApproximateNumberOfMessagesToMove) != 3 {
		t.Fatalf("task %+v", res)
	}
	got := map[string]bool{}
	eventually(t, "the moved messages in the source queue", func() bool {
		for _, m := range receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(src), MaxNumberOfMessages: 10}) {
			got[aws.ToString(m.Body)] = true
		}
		return len(got) == 3
	})
}
