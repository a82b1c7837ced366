package eventpattern

import "testing"

// ec2Event is the example event of EventBridge's "Event patterns" and
// "Comparison operators" pages, with the detail fields their examples
// match on.
const ec2Event = `{
  "version": "0",
  "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "111122223333",
  "time": "2017-12-22T18:43:48Z",
  "region": "us-west-1",
  "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
  "detail": {
    "instance-id": "i-1234567890abcdef0",
    "state": "terminated",
    "Location": "New York", "Day": "Monday", "Name": "Alice", "LastName": "",
    "FileName": "photo.png", "FilePath": "/usr/lib/libc.so", "service": "EventBridge",
    "c-count": 4, "d-count": 12, "x-limit": 301.8, "source-ip": "10.0.0.123",
    "eventVersion": "1.05", "ids": [1, 2, 3], "flag": true, "nothing": null,
    "EventType": "ec2:Terminate"
  }
}`

// TestEventBridgeDocExamples takes its patterns from EventBridge's
// documentation (the comparison operators table and the sections after
// it) and checks them against ec2Event.
func TestEventBridgeDocExamples(t *testing.T) {
	tests := []struct {
		pattern string
		want    bool
	}{
		// Event patterns: the whole-event examples.
		{`{"source":["aws.ec2"]}`, true},
		{`{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"],"detail":{"state":["terminated"]}}`, true},
		{`{"source":["aws.ec2"],"detail":{"state":["running"]}}`, false},
		{`{"resources":["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"]}`, true},
		// And; anything-but and its forms.
		{`{"detail":{"Location":["New York"],"Day":["Monday"]}}`, true},
		{`{"detail":{"state":[{"anything-but":"initializing"}]}}`, true},
		{`{"detail":{"state":[{"anything-but":["stopped","terminated"]}]}}`, false},
		{`{"region":[{"anything-but":{"prefix":"us-"}}]}`, false},
		{`{"detail":{"FileName":[{"anything-but":{"suffix":".png"}}]}}`, false},
		{`{"detail":{"state":[{"anything-but":{"equals-ignore-case":"TERMINATED"}}]}}`, false},
		{`{"detail":{"state":[{"anything-but":{"equals-ignore-case":["Running","Pending"]}}]}}`, true},
		{`{"detail":{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}}`, false},
		{`{"detail":{"FilePath":[{"anything-but":{"wildcard":["*/bin/*","*/sbin/*"]}}]}}`, true},
		{`{"detail":{"FilePath":[{"anything-but":{"wildcard":["*/bin/*","*/lib/*"]}}]}}`, false},
		{`{"detail":{"c-count":[{"anything-but":[1,2,3]}]}}`, true},
		// Begins with, ends with, ignoring case.
		{`{"region":[{"prefix":"us-"}]}`, true},
		{`{"detail":{"service":[{"prefix":{"equals-ignore-case":"eventb"}}]}}`, true},
		{`{"detail":{"FileName":[{"suffix":".png"}]}}`, true},
		{`{"detail":{"service":[{"suffix":{"equals-ignore-case":"tbridge"}}]}}`, true},
		// Empty, equals, equals ignoring case.
		{`{"detail":{"LastName":[""]}}`, true},
		{`{"detail":{"Name":["Alice"]}}`, true},
		{`{"detail":{"Name":[{"equals-ignore-case":"alice"}]}}`, true},
		{`{"detail":{"Name":["alice"]}}`, false},
		// Exists, does not exist, null, booleans.
		{`{"detail":{"state":[{"exists":true}]}}`, true},
		{`{"detail":{"missing":[{"exists":false}]}}`, true},
		{`{"detail":{"state":[{"exists":false}]}}`, false},
		{`{"detail":{"nothing":[null]}}`, true},
		{`{"detail":{"flag":[true]}}`, true},
		// IP addresses, numbers.
		{`{"detail":{"source-ip":[{"cidr":"10.0.0.0/24"}]}}`, true},
		{`{"detail":{"source-ip":[{"cidr":"10.0.1.0/24"}]}}`, false},
		{`{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}]}}`, true},
		{`{"detail":{"d-count":[{"numeric":["<",10]}]}}`, false},
		{`{"detail":{"x-limit":[{"numeric":["=",3.018e2]}]}}`, true},
		// Or, across keys and within a key.
		{`{"detail":{"$or":[{"c-count":[{"numeric":[">",0,"<=",5]}]},{"d-count":[{"numeric":["<",10]}]},{"x-limit":[{"numeric":["=",3.018e2]}]}]}}`, true},
		{`{"detail":{"$or":[{"c-count":[{"numeric":[">",5]}]},{"d-count":[{"numeric":["<",10]}]}]}}`, false},
		{`{"source":["aws.ec2"],"$or":[{"detail-type":["nope"]},{"detail":{"state":["terminated"]}}]}`, true},
		{`{"detail":{"state":["running","terminated"]}}`, true},
		// Wildcards.
		{`{"detail":{"EventType":[{"wildcard":"ec2:*"}]}}`, true},
		{`{"detail":{"FilePath":[{"wildcard":"*/lib/*.so"}]}}`, true},
		{`{"detail":{"EventType":[{"wildcard":"s3:*"}]}}`, false},
		// Arrays match when one element does.
		{`{"detail":{"ids":[2]}}`, true},
		{`{"detail":{"ids":[{"numeric":[">",5]}]}}`, false},
		// A number matches numerically, not as text.
		{`{"detail":{"eventVersion":[1.05]}}`, false},
		{`{"detail":{"c-count":[4.0]}}`, true},
	}
	for _, tt := range tests {
		p, err := Compile([]byte(tt.pattern), Options{Scope: Body})
		if err != nil {
			t.Errorf("Compile(%s): %v", tt.pattern, err)
			continue
		}
		if got := p.MatchJSON([]byte(ec2Event)); got != tt.want {
			t.Errorf("%s: match = %v, want %v", tt.pattern, got, tt.want)
		}
	}
}

// TestEventBridgeInvalidPatterns: patterns EventBridge refuses.
func TestEventBridgeInvalidPatterns(t *testing.T) {
	for _, p := range []string{
		`{"source":"aws.ec2"}`,
		`["aws.ec2"]`,
		`{"a":[{"wildcard":"a**b"}]}`,
		`{"a":[{"anything-but":{"wildcard":[]}}]}`,
		`{"a":[{"anything-but":{"wildcard":[1]}}]}`,
		`{"a":[{"numeric":[">",5,">",6]}]}`,
		`{"a":[{"cidr":"10.0.0.0/33"}]}`,
		`{"a":[{"exists":"yes"}]}`,
		`{"a":[{"unknown":"x"}]}`,
	} {
		if _, err := Compile([]byte(p), Options{Scope: Body}); err == nil {
			t.Errorf("Compile(%s) accepted it", p)
		}
	}
}
