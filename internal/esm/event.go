package esm

import (
	"encoding/json"

	"github.com/kumo-run/kumo/internal/services/sqs"
)

// The SQS event Lambda sends (aws-lambda-go events.SQSEvent).
type sqsEvent struct {
	Records []sqsRecord `json:"Records"`
}

type sqsRecord struct {
	MessageID         string                  `json:"messageId"`
	ReceiptHandle     string                  `json:"receiptHandle"`
	Body              string                  `json:"body"`
	Attributes        map[string]string       `json:"attributes"`
	MessageAttributes map[string]sqsAttribute `json:"messageAttributes"`
	MD5OfBody         string                  `json:"md5OfBody"`
	EventSource       string                  `json:"eventSource"`
	EventSourceARN    string                  `json:"eventSourceARN"`
	AWSRegion         string                  `json:"awsRegion"`
}

type sqsAttribute struct {
	StringValue      *string  `json:"stringValue,omitempty"`
	BinaryValue      []byte   `json:"binaryValue,omitempty"`
	StringListValues []string `json:"stringListValues"`
	BinaryListValues [][]byte `json:"binaryListValues"`
	DataType         string   `json:"dataType"`
}

// event is the payload of one batch.
func event(queueARN, region string, msgs []sqs.Message) ([]byte, error) {
	ev := sqsEvent{Records: make([]sqsRecord, len(msgs))}
	for i, m := range msgs {
		attrs := make(map[string]sqsAttribute, len(m.MessageAttributes))
		for k, a := range m.MessageAttributes {
			sa := sqsAttribute{DataType: a.DataType, StringListValues: []string{}, BinaryListValues: [][]byte{}}
			if a.BinaryValue != nil {
				sa.BinaryValue = a.BinaryValue
			} else {
				v := a.StringValue
				sa.StringValue = &v
			}
			attrs[k] = sa
		}
		ev.Records[i] = sqsRecord{MessageID: m.MessageID, ReceiptHandle: m.ReceiptHandle, Body: m.Body,
			Attributes: m.Attributes, MessageAttributes: attrs, MD5OfBody: m.MD5OfBody,
			EventSource: "aws:sqs", EventSourceARN: queueARN, AWSRegion: region}
	}
	return json.Marshal(ev)
}

// batchResponse is what a function with ReportBatchItemFailures returns.
type batchResponse struct {
	BatchItemFailures []struct {
		ItemIdentifier *string `json:"itemIdentifier"`
	} `json:"batchItemFailures"`
}

// failures reads a ReportBatchItemFailures response: the ids of the
// failed messages, or ok false when the response is invalid, which fails
// the whole batch (Lambda's rules: an empty or null response or list is a
// success; invalid JSON, an empty or null itemIdentifier, or one naming
// no message of the batch is a failure of the batch).
func failures(payload []byte, msgs []sqs.Message) (failed map[string]bool, ok bool) {
	failed = map[string]bool{}
	if len(payload) == 0 || string(payload) == "null" {
		return failed, true
	}
	var r batchResponse
	if err := json.Unmarshal(payload, &r); err != nil {
		// A function returning a JSON value that is not an object (a
		// string, a number) has reported no failures.
		var v any
		if json.Unmarshal(payload, &v) == nil {
			if _, isObject := v.(map[string]any); !isObject {
				return failed, true
			}
		}
		return nil, false
	}
	ids := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		ids[m.MessageID] = true
	}
	for _, f := range r.BatchItemFailures {
		if f.ItemIdentifier == nil || *f.ItemIdentifier == "" || !ids[*f.ItemIdentifier] {
			return nil, false
		}
		failed[*f.ItemIdentifier] = true
	}
	return failed, true
}
