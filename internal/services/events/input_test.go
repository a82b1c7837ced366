package events

import (
	"encoding/json"
	"testing"
)

const sampleEvent = `{"version":"0","id":"e1","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"123456789012",` +
	`"time":"2026-12-05T10:00:00Z","region":"us-east-1","resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-1"],` +
	`"detail":{"instance":"i-1","state":"running","count":3,"ok":true,"tags":["a","b"],"quote":"say \"hi\"","nested":{"k":"v"}}}`

// TestInputTransformer: the template examples of EventBridge's "Input
// transformation" page, with their quoting rules.
func TestInputTransformer(t *testing.T) {
	paths := map[string]string{"instance": "$.detail.instance", "status": "$.detail.state", "count": "$.detail.count",
		"ok": "$.detail.ok", "tags": "$.detail.tags", "quote": "$.detail.quote", "nested": "$.detail.nested", "none": "$.detail.none",
		"first": "$.resources[0]", "tag1": "$.detail.tags[1]"}
	tests := []struct{ template, want string }{
		// A plain string template takes values' text.
		{`<instance> is in state <status>`, `i-1 is in state running`},
		{`"<instance> is in state <status>"`, `"i-1 is in state running"`},
		{`"<instance> is in state \"<status>\""`, `"i-1 is in state \"running\""`},
		// A JSON template: outside strings a value's JSON, inside its text.
		{`{"instance": <instance>, "state": "<status>"}`, `{"instance": "i-1", "state": "running"}`},
		{`{"myInstance": <instance>, "myStatus": "<instance> is in state \"<status>\""}`, `{"myInstance": "i-1", "myStatus": "i-1 is in state \"running\""}`},
		{`{"n": <count>, "ok": <ok>, "tags": <tags>, "nested": <nested>}`, `{"n": 3, "ok": true, "tags": ["a","b"], "nested": {"k":"v"}}`},
		{`{"text": "count <count>, tags <tags>"}`, `{"text": "count 3, tags [\"a\",\"b\"]"}`},
		{`{"q": "<quote>", "raw": <quote>}`, `{"q": "say \"hi\"", "raw": "say \"hi\""}`},
		{`{"missing": <none>, "inText": "[<none>]"}`, `{"missing": null, "inText": "[]"}`},
		{`{"first": <first>, "tag": "<tag1>"}`, `{"first": "arn:aws:ec2:us-east-1:123456789012:instance/i-1", "tag": "b"}`},
		// Reserved variables.
		{`{"rule": "<aws.events.rule-name>", "arn": <aws.events.rule-arn>}`, `{"rule": "r", "arn": "arn:aws:events:us-east-1:123456789012:rule/r"}`},
		{`<aws.events.event.json>`, sampleEvent},
		// A '<' that is not a placeholder stays.
		{`a < b <> <not a var>`, `a < b <> <not a var>`},
	}
	for _, tt := range tests {
		tr := &InputTransformer{InputPathsMap: paths, InputTemplate: tt.template}
		got, err := input(&Target{InputTransformer: tr}, []byte(sampleEvent), "arn:aws:events:us-east-1:123456789012:rule/r", "r")
		if err != nil {
			t.Errorf("%s: %v", tt.template, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.template, got, tt.want)
		}
		if tt.template[0] == '{' && !json.Valid(got) {
			t.Errorf("%s: output is not JSON: %s", tt.template, got)
		}
	}
}

func TestInputPathAndInput(t *testing.T) {
	for _, tt := range []struct{ path, want string }{
		{"$", sampleEvent},
		{"$.detail.instance", `"i-1"`},
		{"$.detail.nested", `{"k":"v"}`},
		{"$['detail']['count']", `3`},
		{"$.detail.tags[0]", `"a"`},
		{"$.detail.none", `null`},
	} {
		p := tt.path
		got, err := input(&Target{InputPath: &p}, []byte(sampleEvent), "", "")
		if err != nil || (string(got) != tt.want && !(tt.path == "$" && jsonEqual(got, []byte(tt.want)))) {
			t.Errorf("InputPath %s = %s (%v), want %s", tt.path, got, err, tt.want)
		}
	}
	in := `{"fixed":true}`
	if got, _ := input(&Target{Input: &in}, []byte(sampleEvent), "", ""); string(got) != in {
		t.Errorf("Input = %s", got)
	}
	if got, _ := input(&Target{}, []byte(sampleEvent), "", ""); string(got) != sampleEvent {
		t.Errorf("no input = %s", got)
	}
	for _, bad := range []string{"", "detail", "$.", "$..a", "$[x]", "$[-1]", "$.a[", "$a"} {
		if _, err := parsePath(bad); err == nil {
			t.Errorf("parsePath(%q) accepted it", bad)
		}
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// FuzzTransform: any template and paths over any event give an answer,
// never a panic.
func FuzzTransform(f *testing.F) {
	f.Add(`{"a": <x>, "b": "<x> \"<y>\""}`, "$.detail.a", sampleEvent)
	f.Add(`<x> and <aws.events.event>`, "$['detail'][0]", `{"detail":[1]}`)
	f.Fuzz(func(t *testing.T, template, path, event string) {
		tr := &InputTransformer{InputPathsMap: map[string]string{"x": path, "y": "$"}, InputTemplate: template}
		_, _ = input(&Target{InputTransformer: tr}, []byte(event), "arn", "r")
		_, _ = input(&Target{InputPath: &path}, []byte(event), "arn", "r")
	})
}
