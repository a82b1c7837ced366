package sqs_test

import (
	"slices"
	"strconv"
	"strings"
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
	lastSeq := map[string]string{} // by group: order holds within a group
	for len(order) < 5 {
		msgs := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
		if len(msgs) == 0 {
			t.Fatalf("received %v, then nothing", order)
		}
		for _, m := range msgs {
			order = append(order, aws.ToString(m.Body))
			seq, g := m.Attributes["SequenceNumber"], m.Attributes["MessageGroupId"]
			if seq <= lastSeq[g] || g == "" || m.Attributes["MessageDeduplicationId"] == "" {
				t.Fatalf("message %s: attributes %v after sequence %s", aws.ToString(m.Body), m.Attributes, lastSeq[g])
			}
			lastSeq[g] = seq
			if _, err := h.cl.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// One receive takes as much of one group as it can, oldest group
	// first, in each group's order.
	want := []string{"a1", "a2", "a3", "b1", "b2"}
	if !slices.Equal(order, want) {
		t.Fatalf("received %v, want %v", order, want)
	}
	if m := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)}); len(m) != 0 {
		t.Fatalf("a duplicate was stored: %+v", m)
	}
}

// sendFIFO sends body to group g of a FIFO queue, deduplicated by body.
func sendFIFO(t *testing.T, h *harness, url, g, body string) {
	t.Helper()
	if _, err := h.cl.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body),
		MessageGroupId: aws.String(g), MessageDeduplicationId: aws.String(body)}); err != nil {
		t.Fatal(err)
	}
}

// bodies are the bodies of msgs, in order.
func bodies(msgs []types.Message) []string {
	out := []string{}
	for _, m := range msgs {
		out = append(out, aws.ToString(m.Body))
	}
	return out
}

func wantBodies(t *testing.T, what string, msgs []types.Message, want ...string) {
	t.Helper()
	if got := bodies(msgs); !slices.Equal(got, append([]string{}, want...)) {
		t.Fatalf("%s: received %v, want %v", what, got, want)
	}
}

// TestFIFOGroupsInParallel: a group with a message in flight is held, the
// other groups flow; one receive takes a group's messages together and in
// order; a message whose visibility ends comes back before the later
// messages of its group.
func TestFIFOGroupsInParallel(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	url := h.createQueue(t, "groups.fifo", map[string]string{"FifoQueue": "true"})
	for _, b := range []string{"g1", "h1", "g2", "g3", "h2"} {
		sendFIFO(t, h, url, b[:1], b)
	}
	all := []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}
	first := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 2})
	wantBodies(t, "first receive", first, "g1", "g2")
	wantBodies(t, "while g is held", receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10}), "h1", "h2")
	wantBodies(t, "while both are held", receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10}))

	// g1 deleted, g2 still in flight: g stays held.
	if _, err := h.cl.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: first[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	wantBodies(t, "while g2 is in flight", receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10}))
	if a := h.queueAttrs(t, url, types.QueueAttributeNameAll); a["ApproximateNumberOfMessages"] != "1" || a["ApproximateNumberOfMessagesNotVisible"] != "3" {
		t.Fatalf("counts %v, want 1 visible (g3) and 3 in flight (g2, h1, h2)", a)
	}
	// g2 visible again: it comes before g3, received a second time.
	if _, err := h.cl.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: first[1].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	again := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, MessageSystemAttributeNames: all})
	wantBodies(t, "after g2's visibility ended", again, "g2", "g3")
	if n := again[0].Attributes["ApproximateReceiveCount"]; n != "2" {
		t.Fatalf("g2 received %s times, want 2", n)
	}
	// The deleted message's old handle deletes nothing more; g2's first
	// handle is stale and deletes nothing either.
	if _, err := h.cl.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: first[1].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if a := h.queueAttrs(t, url, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible); a["ApproximateNumberOfMessagesNotVisible"] != "4" {
		t.Fatalf("a stale handle deleted a message: %v", a)
	}
	_, err := h.cl.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: first[1].ReceiptHandle, VisibilityTimeout: 5})
	wantCode(t, err, "InvalidParameterValue")
}

// TestFIFOInflightSurvivesRestart: what is in flight stays invisible
// across a restart and holds its group; its handle still works after it.
func TestFIFOInflightSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	url := h.createQueue(t, "restart.fifo", map[string]string{"FifoQueue": "true", "VisibilityTimeout": "600"})
	for _, b := range []string{"g1", "g2", "h1"} {
		sendFIFO(t, h, url, b[:1], b)
	}
	got := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
	wantBodies(t, "before the restart", got, "g1")
	h.restart(t)
	wantBodies(t, "after the restart", receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10}), "h1")
	if _, err := h.cl.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: got[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	back := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount}})
	wantBodies(t, "after g1's visibility ended", back, "g1", "g2")
	if n := back[0].Attributes["ApproximateReceiveCount"]; n != "2" {
		t.Fatalf("g1 received %s times, want 2", n)
	}
}

// TestFIFOVisibilityExpires: a message whose visibility timeout passes is
// received again before the later messages of its group.
func TestFIFOVisibilityExpires(t *testing.T) {
	h := newHarness(t)
	url := h.createQueue(t, "expire.fifo", map[string]string{"FifoQueue": "true"})
	sendFIFO(t, h, url, "g", "first")
	sendFIFO(t, h, url, "g", "second")
	wantBodies(t, "first receive", receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), VisibilityTimeout: 1}), "first")
	var next []types.Message
	eventually(t, "first back", func() bool {
		next = receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
		return len(next) > 0
	})
	wantBodies(t, "after the visibility timeout", next, "first", "second")
}

// TestMessageNotInflight: changing the visibility of a message that is not
// in flight is MessageNotInflight, in standard and FIFO queues.
func TestMessageNotInflight(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	for _, name := range []string{"std", "nif.fifo"} {
		attrs := map[string]string{}
		if name == "nif.fifo" {
			attrs["FifoQueue"] = "true"
		}
		url := h.createQueue(t, name, attrs)
		sendFIFO := &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("m")}
		if attrs["FifoQueue"] != "" {
			sendFIFO.MessageGroupId, sendFIFO.MessageDeduplicationId = aws.String("g"), aws.String("m")
		}
		if _, err := h.cl.SendMessage(ctx, sendFIFO); err != nil {
			t.Fatal(err)
		}
		m := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
		if len(m) != 1 {
			t.Fatalf("%s: received %v", name, bodies(m))
		}
		change := &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: m[0].ReceiptHandle, VisibilityTimeout: 0}
		if _, err := h.cl.ChangeMessageVisibility(ctx, change); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		change.VisibilityTimeout = 30
		_, err := h.cl.ChangeMessageVisibility(ctx, change)
		wantCode(t, err, "AWS.SimpleQueueService.MessageNotInflight")
		if _, err := h.cl.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m[0].ReceiptHandle}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, err = h.cl.ChangeMessageVisibility(ctx, change)
		wantCode(t, err, "InvalidParameterValue")
	}
}

// TestReceiveRequestAttemptID: a FIFO receive retried with the same
// ReceiveRequestAttemptId answers the same messages and receipt handles,
// also after a restart; another attempt id receives anew.
func TestReceiveRequestAttemptID(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	url := h.createQueue(t, "attempt.fifo", map[string]string{"FifoQueue": "true"})
	for _, b := range []string{"g1", "g2", "h1"} {
		sendFIFO(t, h, url, b[:1], b)
	}
	in := &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 2, ReceiveRequestAttemptId: aws.String("try-1")}
	first := receive(t, h, in)
	wantBodies(t, "first attempt", first, "g1", "g2")
	h.restart(t)
	retry := receive(t, h, in)
	wantBodies(t, "retried attempt", retry, "g1", "g2")
	for i := range retry {
		if aws.ToString(retry[i].ReceiptHandle) != aws.ToString(first[i].ReceiptHandle) {
			t.Fatalf("retry answered handle %s for %s, first %s", aws.ToString(retry[i].ReceiptHandle), aws.ToString(retry[i].Body), aws.ToString(first[i].ReceiptHandle))
		}
	}
	other := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, ReceiveRequestAttemptId: aws.String("try-2")})
	wantBodies(t, "another attempt", other, "h1")
	// Deleted messages are not answered again.
	if _, err := h.cl.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: first[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	wantBodies(t, "retry after a delete", receive(t, h, in), "g2")
}

// TestFIFORedrive: a FIFO message received more than maxReceiveCount
// times goes to the dead-letter queue, and its group's next message comes
// next.
func TestFIFORedrive(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	dlq := h.createQueue(t, "dead.fifo", map[string]string{"FifoQueue": "true"})
	url := h.createQueue(t, "src.fifo", map[string]string{"FifoQueue": "true",
		"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:` + account + `:dead.fifo","maxReceiveCount":"1"}`})
	sendFIFO(t, h, url, "g", "poison")
	sendFIFO(t, h, url, "g", "next")
	got := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
	wantBodies(t, "first receive", got, "poison")
	if _, err := h.cl.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: got[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	wantBodies(t, "after the poison message moved", receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10}), "next")
	moved := receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
	wantBodies(t, "dead-letter queue", moved, "poison")
	if moved[0].Attributes["MessageGroupId"] != "g" || !strings.HasSuffix(moved[0].Attributes["DeadLetterQueueSourceArn"], ":src.fifo") {
		t.Fatalf("moved attributes %v", moved[0].Attributes)
	}
}

// TestFIFOManyGroups: with more groups than a receive reads one by one
// (it scans the stream then), groups still come oldest first, each
// group's messages together, held groups skipped.
func TestFIFOManyGroups(t *testing.T) {
	h := newHarness(t)
	url := h.createQueue(t, "many.fifo", map[string]string{"FifoQueue": "true"})
	var entries []types.SendMessageBatchRequestEntry
	send := func() {
		if _, err := h.cl.SendMessageBatch(t.Context(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries}); err != nil {
			t.Fatal(err)
		}
		entries = nil
	}
	for i := range 60 {
		g := "g" + strconv.Itoa(i)
		entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(g), MessageBody: aws.String(g),
			MessageGroupId: aws.String(g), MessageDeduplicationId: aws.String(g)})
		if len(entries) == 10 {
			send()
		}
	}
	sendFIFO(t, h, url, "g0", "g0-second")
	want := []string{"g0", "g0-second", "g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8"}
	wantBodies(t, "first receive", receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10}), want...)
	want = []string{"g9", "g10", "g11", "g12", "g13", "g14", "g15", "g16", "g17", "g18"}
	wantBodies(t, "second receive", receive(t, h, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10}), want...)
}
