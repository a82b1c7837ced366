package sqs_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkSendReceiveDelete is one message's round trip with the SDK
// through the SigV4 edge: SendMessage (acknowledged after the store's
// fsync), ReceiveMessage, DeleteMessage. Sequential: the latency of one
// client.
func BenchmarkSendReceiveDelete(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	out, err := h.cl.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bench")})
	if err != nil {
		b.Fatal(err)
	}
	url := out.QueueUrl
	body := aws.String("a message of modest size, as most are")
	for b.Loop() {
		if _, err := h.cl.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: body}); err != nil {
			b.Fatal(err)
		}
		r, err := h.cl.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, WaitTimeSeconds: 1})
		if err != nil || len(r.Messages) != 1 {
			b.Fatalf("receive: %v %v", r, err)
		}
		if _, err := h.cl.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: url, ReceiptHandle: r.Messages[0].ReceiptHandle}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendReceiveDeleteBatch moves ten messages per call of each
// operation: SendMessageBatch, ReceiveMessage (10), DeleteMessageBatch.
func BenchmarkSendReceiveDeleteBatch(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	out, err := h.cl.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bench")})
	if err != nil {
		b.Fatal(err)
	}
	url := out.QueueUrl
	ids := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	for b.Loop() {
		var entries []types.SendMessageBatchRequestEntry
		for _, id := range ids {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String("message " + id)})
		}
		if _, err := h.cl.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: url, Entries: entries}); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < 10; {
			r, err := h.cl.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				b.Fatal(err)
			}
			var del []types.DeleteMessageBatchRequestEntry
			for i, m := range r.Messages {
				del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(ids[i]), ReceiptHandle: m.ReceiptHandle})
			}
			if len(del) > 0 {
				if _, err := h.cl.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: url, Entries: del}); err != nil {
					b.Fatal(err)
				}
			}
			got += len(r.Messages)
		}
	}
	b.ReportMetric(float64(10*b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkJetStreamFloor is the floor under BenchmarkSendReceiveDelete:
// the same store work without HTTP, SigV4 or the service — a publish
// acknowledged after fsync, a fetch, and an ack JetStream confirms.
func BenchmarkJetStreamFloor(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	js, err := jetstream.New(h.nc)
	if err != nil {
		b.Fatal(err)
	}
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "FLOOR", Subjects: []string{"floor"}, Storage: jetstream.FileStorage,
		Retention: jetstream.WorkQueuePolicy})
	if err != nil {
		b.Fatal(err)
	}
	c, err := st.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "floor", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := js.Publish(ctx, "floor", []byte("a message of modest size, as most are")); err != nil {
			b.Fatal(err)
		}
		batch, err := c.Fetch(1)
		if err != nil {
			b.Fatal(err)
		}
		for m := range batch.Messages() {
			if err := m.DoubleAck(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkFIFOSendReceiveDeleteBatch is BenchmarkSendReceiveDeleteBatch
// on a FIFO queue, the ten messages of each batch in one message group or
// spread over ten.
func BenchmarkFIFOSendReceiveDeleteBatch(b *testing.B) {
	for _, groups := range []int{1, 10} {
		b.Run(strconv.Itoa(groups)+"groups", func(b *testing.B) {
			h := newHarness(b)
			ctx := context.Background()
			out, err := h.cl.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bench.fifo"),
				Attributes: map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"}})
			if err != nil {
				b.Fatal(err)
			}
			url := out.QueueUrl
			ids := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
			n := 0
			for b.Loop() {
				var entries []types.SendMessageBatchRequestEntry
				for i, id := range ids {
					n++
					entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String("message " + strconv.Itoa(n)),
						MessageGroupId: aws.String("g" + strconv.Itoa(i%groups))})
				}
				if _, err := h.cl.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: url, Entries: entries}); err != nil {
					b.Fatal(err)
				}
				for got := 0; got < 10; {
					r, err := h.cl.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
					if err != nil {
						b.Fatal(err)
					}
					var del []types.DeleteMessageBatchRequestEntry
					for i, m := range r.Messages {
						del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(ids[i]), ReceiptHandle: m.ReceiptHandle})
					}
					if len(del) > 0 {
						if _, err := h.cl.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: url, Entries: del}); err != nil {
							b.Fatal(err)
						}
					}
					got += len(r.Messages)
				}
			}
			b.ReportMetric(float64(10*b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkFIFOReceiveManyGroups is one ReceiveMessage (10) and its
// DeleteMessageBatch on a FIFO queue with a backlog of a thousand message
// groups of one message each: a receive looks at the head of every group
// that is not held.
func BenchmarkFIFOReceiveManyGroups(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	out, err := h.cl.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("many.fifo"),
		Attributes: map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"}})
	if err != nil {
		b.Fatal(err)
	}
	url := out.QueueUrl
	n := 0
	fill := func(count int) {
		for count > 0 {
			var entries []types.SendMessageBatchRequestEntry
			for i := 0; i < 10 && count > 0; i, count = i+1, count-1 {
				n++
				entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)),
					MessageBody: aws.String("message " + strconv.Itoa(n)), MessageGroupId: aws.String("g" + strconv.Itoa(n%1000))})
			}
			if _, err := h.cl.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: url, Entries: entries}); err != nil {
				b.Fatal(err)
			}
		}
	}
	fill(1000)
	for b.Loop() {
		r, err := h.cl.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10})
		if err != nil || len(r.Messages) == 0 {
			b.Fatalf("receive: %v %v", r, err)
		}
		var del []types.DeleteMessageBatchRequestEntry
		for i, m := range r.Messages {
			del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
		if _, err := h.cl.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: url, Entries: del}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		fill(len(del))
		b.StartTimer()
	}
}
