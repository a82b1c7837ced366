package esm

import (
	"testing"

	"github.com/kumo-run/kumo/internal/services/sqs"
)

// TestFailures: Lambda's rules for a ReportBatchItemFailures response.
func TestFailures(t *testing.T) {
	msgs := []sqs.Message{{MessageID: "a"}, {MessageID: "b"}}
	for _, c := range []struct {
		payload string
		ok      bool
		failed  []string
	}{
		{"", true, nil},
		{"null", true, nil},
		{"{}", true, nil},
		{`{"batchItemFailures":null}`, true, nil},
		{`{"batchItemFailures":[]}`, true, nil},
		{`"done"`, true, nil},
		{`{"batchItemFailures":[{"itemIdentifier":"b"}]}`, true, []string{"b"}},
		{`{"batchItemFailures":[{"itemIdentifier":"a"},{"itemIdentifier":"b"}]}`, true, []string{"a", "b"}},
		{`{"batchItemFailures":[{"itemIdentifier":""}]}`, false, nil},
		{`{"batchItemFailures":[{"itemIdentifier":null}]}`, false, nil},
		{`{"batchItemFailures":[{"id":"a"}]}`, false, nil},
		{`{"batchItemFailures":[{"itemIdentifier":"zzz"}]}`, false, nil},
		{`{"batchItemFailures":"a"}`, false, nil},
		{`{not json`, false, nil},
	} {
		failed, ok := failures([]byte(c.payload), msgs)
		if ok != c.ok || len(failed) != len(c.failed) {
			t.Errorf("%s: %v %v, want %v %v", c.payload, failed, ok, c.failed, c.ok)
			continue
		}
		for _, id := range c.failed {
			if !failed[id] {
				t.Errorf("%s: %s not failed", c.payload, id)
			}
		}
	}
}

// TestEvent: the SQS event's wire shape.
func TestEvent(t *testing.T) {
	b, err := event("arn:aws:sqs:us-east-1:123456789012:q", "us-east-1", []sqs.Message{{MessageID: "m", ReceiptHandle: "h", Body: "x", MD5OfBody: "d",
		Attributes:        map[string]string{"ApproximateReceiveCount": "1"},
		MessageAttributes: map[string]sqs.MessageAttribute{"s": {DataType: "String", StringValue: "v"}, "b": {DataType: "Binary", BinaryValue: []byte{0, 1}}}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Records":[{"messageId":"m","receiptHandle":"h","body":"x","attributes":{"ApproximateReceiveCount":"1"},` +
		`"messageAttributes":{"b":{"binaryValue":"AAE=","stringListValues":[],"binaryListValues":[],"dataType":"Binary"},` +
		`"s":{"stringValue":"v","stringListValues":[],"binaryListValues":[],"dataType":"String"}},` +
		`"md5OfBody":"d","eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-1:123456789012:q","awsRegion":"us-east-1"}]}`
	if string(b) != want {
		t.Fatalf("event\n%s\nwant\n%s", b, want)
	}
}
