package esm

import (
	"bytes"
	"encoding/json"

	"github.com/kumo-run/kumo/internal/eventpattern"
	"github.com/kumo-run/kumo/internal/services/sqs"
)

// compileFilters compiles a mapping's FilterCriteria (nil: every message
// passes). A pattern that does not compile is Lambda's "Invalid filter
// pattern definition.".
func compileFilters(fc *FilterCriteria) ([]*eventpattern.Pattern, error) {
	if fc == nil {
		return nil, nil
	}
	var out []*eventpattern.Pattern
	for _, f := range fc.Filters {
		if f.Pattern == nil {
			continue
		}
		p, err := eventpattern.Compile([]byte(*f.Pattern), eventpattern.Options{Scope: eventpattern.Body})
		if err != nil {
			return nil, invalid("Invalid filter pattern definition.")
		}
		out = append(out, p)
	}
	return out, nil
}

// filterDoc is the document a filter sees for one message: the record of
// the SQS event, its body decoded when it is a JSON object (so that
// patterns can reach into it), else the body as a string.
func filterDoc(queueARN, region string, m sqs.Message) any {
	attrs := map[string]any{}
	for k, v := range m.Attributes {
		attrs[k] = v
	}
	mattrs := map[string]any{}
	for k, a := range m.MessageAttributes {
		e := map[string]any{"dataType": a.DataType}
		if a.BinaryValue == nil {
			e["stringValue"] = a.StringValue
		}
		mattrs[k] = e
	}
	var body any = m.Body
	if t := bytes.TrimSpace([]byte(m.Body)); len(t) > 0 && t[0] == '{' {
		d := json.NewDecoder(bytes.NewReader(t))
		d.UseNumber()
		var v map[string]any
		if d.Decode(&v) == nil && !d.More() {
			body = v
		}
	}
	return map[string]any{"messageId": m.MessageID, "receiptHandle": m.ReceiptHandle, "body": body, "attributes": attrs,
		"messageAttributes": mattrs, "md5OfBody": m.MD5OfBody, "eventSource": "aws:sqs", "eventSourceARN": queueARN, "awsRegion": region}
}

// matches reports whether m passes any of filters (all pass without
// filters).
func matches(filters []*eventpattern.Pattern, queueARN, region string, m sqs.Message) bool {
	if len(filters) == 0 {
		return true
	}
	doc := filterDoc(queueARN, region, m)
	for _, f := range filters {
		if f.Match(doc) {
			return true
		}
	}
	return false
}
