package awsproto_test

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
)

type tag struct {
	Key   string
	Value string
}

type policyARN struct {
	ARN string `query:"arn"`
}

// assumeRole is STS AssumeRole's input shape, with members of every kind
// the codec handles.
type assumeRole struct {
	RoleArn         string
	RoleSessionName string
	DurationSeconds *int32
	Tags            []tag
	PolicyArns      []policyARN
	TransitiveKeys  []string `query:"TransitiveTagKeys"`
	Attributes      map[string]string
	Flat            map[string]string `query:"Attribute,flattened,key=Name,value=Value"`
	Numbers         []int64           `query:"Number,flattened"`
	Enabled         bool
	Ratio           float64
	When            *time.Time
	Nested          struct{ Inner struct{ Leaf string } }
	skipped         string //lint:ignore U1000 shows that unexported fields are not decoded
	Ignored         string `query:"-"`
}

func ptr[T any](v T) *T { return &v }

func TestUnmarshalQuery(t *testing.T) {
	when := time.Date(2026, 12, 5, 9, 30, 0, 500_000_000, time.UTC)
	for _, tc := range []struct {
		name  string
		form  string
		want  assumeRole
		code  awsproto.Code // of the error, "" for none
		check func(t *testing.T, got assumeRole)
	}{
		{name: "scalars", form: "RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fr&RoleSessionName=s&DurationSeconds=900&Enabled=true&Ratio=0.5&When=2026-12-05T09%3A30%3A00.5Z",
			want: assumeRole{RoleArn: "arn:aws:iam::000000000000:role/r", RoleSessionName: "s", DurationSeconds: ptr[int32](900), Enabled: true, Ratio: 0.5, When: &when}},
		{name: "list of structures, out of order",
			form: "Tags.member.2.Key=b&Tags.member.2.Value=2&Tags.member.1.Key=a&Tags.member.1.Value=1",
			want: assumeRole{Tags: []tag{{"a", "1"}, {"b", "2"}}}},
		{name: "list with a member name of its own", form: "PolicyArns.member.1.arn=x&TransitiveTagKeys.member.1=k",
			want: assumeRole{PolicyArns: []policyARN{{"x"}}, TransitiveKeys: []string{"k"}}},
		{name: "empty list", form: "TransitiveTagKeys=", want: assumeRole{TransitiveKeys: []string{}}},
		{name: "map", form: "Attributes.entry.1.key=Policy&Attributes.entry.1.value=%7B%7D&Attributes.entry.2.key=Name&Attributes.entry.2.value=",
			want: assumeRole{Attributes: map[string]string{"Policy": "{}", "Name": ""}}},
		{name: "flattened map and list", form: "Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=30&Number.1=7&Number.2=-1",
			want: assumeRole{Flat: map[string]string{"VisibilityTimeout": "30"}, Numbers: []int64{7, -1}}},
		{name: "nested structures", form: "Nested.Inner.Leaf=x", want: func() (a assumeRole) { a.Nested.Inner.Leaf = "x"; return }()},
		{name: "unknown and skipped members are ignored", form: "Action=AssumeRole&Version=2011-06-15&skipped=x&Ignored=y&Other.member.1=z"},
		{name: "bad integer", form: "DurationSeconds=ten", code: awsproto.ValidationError},
		{name: "integer out of range", form: "DurationSeconds=99999999999", code: awsproto.ValidationError},
		{name: "bad boolean", form: "Enabled=yes", code: awsproto.ValidationError},
		{name: "bad number", form: "Ratio=half", code: awsproto.ValidationError},
		{name: "bad time", form: "When=yesterday", code: awsproto.ValidationError},
		{name: "list sent as a scalar", form: "TransitiveTagKeys=k", code: awsproto.ValidationError},
		{name: "list index not a number", form: "TransitiveTagKeys.member.x=k", code: awsproto.ValidationError},
		{name: "list index zero", form: "TransitiveTagKeys.member.0=k", code: awsproto.ValidationError},
		{name: "list index with a leading zero", form: "TransitiveTagKeys.member.01=k", code: awsproto.ValidationError},
		{name: "scalar with members", form: "RoleArn=a&RoleArn.x=b", code: awsproto.ValidationError},
		{name: "map entry without key", form: "Attributes.entry.1.value=v", code: awsproto.ValidationError},
		{name: "map sent as a scalar", form: "Attributes=x", code: awsproto.ValidationError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params, err := url.ParseQuery(tc.form)
			if err != nil {
				t.Fatal(err)
			}
			var got assumeRole
			err = awsproto.UnmarshalQuery(params, &got)
			if tc.code != "" {
				var ae *awsproto.Error
				if !errors.As(err, &ae) || ae.Code != tc.code {
					t.Fatalf("err = %v, want %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestMarshalQueryRoundTrip(t *testing.T) {
	when := time.Date(2026, 12, 5, 9, 30, 0, 0, time.UTC)
	in := assumeRole{RoleArn: "arn:aws:iam::000000000000:role/r", RoleSessionName: "s", DurationSeconds: ptr[int32](3600),
		Tags: []tag{{"a", "1"}, {"b", ""}}, PolicyArns: []policyARN{{"p"}}, TransitiveKeys: []string{},
		Attributes: map[string]string{"z": "1", "a": "2"}, Flat: map[string]string{"N": "V"}, Numbers: []int64{1, 2, 3},
		Enabled: true, Ratio: 1.25, When: &when}
	in.Nested.Inner.Leaf = "leaf"
	params, err := awsproto.MarshalQuery(in)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"Tags.member.2.Key": "b", "PolicyArns.member.1.arn": "p", "TransitiveTagKeys": "",
		"Attributes.entry.1.key": "a", "Attributes.entry.2.value": "1", "Attribute.1.Name": "N", "Attribute.1.Value": "V",
		"Number.3": "3", "When": "2026-12-05T09:30:00Z", "Nested.Inner.Leaf": "leaf", "Enabled": "true",
	} {
		if got := params.Get(k); got != want || !params.Has(k) {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	var out assumeRole
	if err := awsproto.UnmarshalQuery(params, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n in %+v\nout %+v", in, out)
	}
}

// TestBotocoreSerializer decodes what botocore's QuerySerializer writes for
// real operations of IAM and SNS.
func TestBotocoreSerializer(t *testing.T) {
	type createRole struct {
		RoleName                 string
		AssumeRolePolicyDocument string
		MaxSessionDuration       int32
		Tags                     []tag
	}
	type msgAttr struct {
		DataType    string
		StringValue string
	}
	type publish struct {
		TopicArn          string
		Message           string
		MessageAttributes map[string]msgAttr `query:",key=Name,value=Value"`
	}
	type createTopic struct {
		Name       string
		Attributes map[string]string
		Tags       []tag
	}
	calls := []struct {
		Service, Operation string
		Params             map[string]any
		into               any
		want               any
	}{
		{"iam", "CreateRole", map[string]any{"RoleName": "r", "AssumeRolePolicyDocument": "{\"Version\":\"2012-10-17\"}", "MaxSessionDuration": 7200,
			"Tags": []map[string]string{{"Key": "team", "Value": "core"}, {"Key": "env", "Value": "dev"}}},
			&createRole{}, &createRole{"r", "{\"Version\":\"2012-10-17\"}", 7200, []tag{{"team", "core"}, {"env", "dev"}}}},
		{"sns", "Publish", map[string]any{"TopicArn": "arn:aws:sns:us-east-1:000000000000:t", "Message": "hi & bye",
			"MessageAttributes": map[string]any{"color": map[string]string{"DataType": "String", "StringValue": "blue"}}},
			&publish{}, &publish{"arn:aws:sns:us-east-1:000000000000:t", "hi & bye", map[string]msgAttr{"color": {"String", "blue"}}}},
		{"sns", "CreateTopic", map[string]any{"Name": "t", "Attributes": map[string]string{"DisplayName": "T", "Policy": "{}"}, "Tags": []map[string]string{}},
			&createTopic{}, &createTopic{"t", map[string]string{"DisplayName": "T", "Policy": "{}"}, []tag{}}},
		{"sts", "AssumeRole", map[string]any{"RoleArn": "arn:aws:iam::000000000000:role/r", "RoleSessionName": "sess", "DurationSeconds": 900,
			"PolicyArns": []map[string]string{{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}}, "TransitiveTagKeys": []string{"a", "b"}},
			&assumeRole{}, &assumeRole{RoleArn: "arn:aws:iam::000000000000:role/r", RoleSessionName: "sess", DurationSeconds: ptr[int32](900),
				PolicyArns: []policyARN{{"arn:aws:iam::aws:policy/ReadOnlyAccess"}}, TransitiveKeys: []string{"a", "b"}}},
	}
	b, _ := json.Marshal(calls)
	out := python(t, strings.NewReader(string(b)), botocoreSerialize)
	var bodies []string
	if err := json.Unmarshal(out, &bodies); err != nil || len(bodies) != len(calls) {
		t.Fatalf("botocore answered %s (%v)", out, err)
	}
	for i, c := range calls {
		req := httptest.NewRequest("POST", "/", strings.NewReader(bodies[i]))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		q, err := awsproto.ReadQuery(req)
		if err != nil || q.Action != c.Operation || q.Version == "" {
			t.Fatalf("%s: ReadQuery = %+v, %v", c.Operation, q, err)
		}
		if err := awsproto.UnmarshalQuery(q.Params, c.into); err != nil {
			t.Fatalf("%s: %v\n%s", c.Operation, err, bodies[i])
		}
		if !reflect.DeepEqual(c.into, c.want) {
			t.Errorf("%s from %s:\n got %+v\nwant %+v", c.Operation, bodies[i], c.into, c.want)
		}
	}
}

const botocoreSerialize = `
import json, sys
import botocore.session
from botocore.serialize import create_serializer
s = botocore.session.get_session()
out = []
for c in json.load(sys.stdin):
    m = s.get_service_model(c["Service"])
    op = m.operation_model(c["Operation"])
    req = create_serializer("query").serialize_to_request(c["Params"], op)
    body = req["body"]
    if isinstance(body, dict):
        from urllib.parse import urlencode
        body = urlencode(body)
    out.append(body if isinstance(body, str) else body.decode())
json.dump(out, sys.stdout)
`

func TestReadQuery(t *testing.T) {
	for _, tc := range []struct {
		name, method, target, ctype, body string
		action, roleArn                   string
		code                              awsproto.Code
	}{
		{name: "GET", method: "GET", target: "/?Action=GetCallerIdentity&Version=2011-06-15", action: "GetCallerIdentity"},
		{name: "POST form", method: "POST", target: "/", ctype: "application/x-www-form-urlencoded; charset=utf-8",
			body: "Action=AssumeRole&Version=2011-06-15&RoleArn=a%2Fb", action: "AssumeRole", roleArn: "a/b"},
		{name: "POST form wins over the URL", method: "POST", target: "/?Action=X&RoleArn=url", ctype: "application/x-www-form-urlencoded",
			body: "Action=AssumeRole&RoleArn=form", action: "AssumeRole", roleArn: "form"},
		{name: "POST without a content type", method: "POST", target: "/", body: "Action=A", action: "A"},
		{name: "no action", method: "POST", target: "/", ctype: "application/x-www-form-urlencoded", body: "Version=2011-06-15", code: awsproto.MissingAction},
		{name: "malformed body", method: "POST", target: "/", ctype: "application/x-www-form-urlencoded", body: "Action=%zz", code: awsproto.MalformedQueryString},
		{name: "malformed query", method: "GET", target: "/?Action=%zz", code: awsproto.MalformedQueryString},
		{name: "JSON body", method: "POST", target: "/", ctype: "application/x-amz-json-1.1", body: "{}", code: awsproto.InvalidParameterValue},
		{name: "too many parameters", method: "POST", target: "/", body: "Action=A" + strings.Repeat("&p=1&q=2", 1) + manyParams(10001), code: awsproto.MalformedQueryString},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			q, err := awsproto.ReadQuery(req)
			if tc.code != "" {
				var ae *awsproto.Error
				if !errors.As(err, &ae) || ae.Code != tc.code {
					t.Fatalf("err = %v, want %s", err, tc.code)
				}
				return
			}
			if err != nil || q.Action != tc.action || q.Params.Get("RoleArn") != tc.roleArn {
				t.Errorf("ReadQuery = %+v, %v", q, err)
			}
		})
	}
}

func manyParams(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("&k")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(url.QueryEscape(time.Duration(i).String()))
		b.WriteString("=1")
	}
	return b.String()
}

func TestWriteQueryResult(t *testing.T) {
	type member struct {
		Name string `xml:"Name"`
	}
	type result struct {
		Arn     string    `xml:"Arn"`
		Expires time.Time `xml:"Expiration"`
		Items   []member  `xml:"Items>member"`
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/", nil)
	req = req.WithContext(awsproto.WithRequestID(req.Context(), "req-1"))
	awsproto.WriteQueryResult(rec, req, "Describe", "https://example.amazonaws.com/doc/2011-06-15/",
		result{Arn: "a<&>b", Expires: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC), Items: []member{{"x"}, {"y"}}})
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/xml" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	var got struct {
		XMLName xml.Name
		Result  struct {
			Arn        string
			Expiration string
			Items      []string `xml:"Items>member>Name"`
		} `xml:"DescribeResult"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, rec.Body)
	}
	if got.XMLName.Local != "DescribeResponse" || got.XMLName.Space != "https://example.amazonaws.com/doc/2011-06-15/" ||
		got.Result.Arn != "a<&>b" || got.Result.Expiration != "2026-12-05T10:00:00Z" ||
		!reflect.DeepEqual(got.Result.Items, []string{"x", "y"}) || got.RequestID != "req-1" {
		t.Errorf("parsed %+v from\n%s", got, rec.Body)
	}

	// An operation without a result has only the metadata.
	rec = httptest.NewRecorder()
	awsproto.WriteQueryResult(rec, req, "DeleteThing", "", nil)
	if want := "<DeleteThingResponse><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></DeleteThingResponse>"; !strings.HasSuffix(rec.Body.String(), want) {
		t.Errorf("body %s", rec.Body)
	}
}

// FuzzUnmarshalQuery feeds arbitrary forms to the decoder: it must never
// panic, and what it accepts must encode and decode to the same value.
func FuzzUnmarshalQuery(f *testing.F) {
	f.Add("Action=AssumeRole&Tags.member.1.Key=a&Tags.member.1.Value=b&Attributes.entry.1.key=k&Attributes.entry.1.value=v")
	f.Add("Attribute.1.Name=a&Attribute.1.Value=b&Number.1=1&Number.2=2&TransitiveTagKeys=")
	f.Add("DurationSeconds=900&When=2026-12-05T09:30:00Z&Enabled=false&Nested.Inner.Leaf=x")
	f.Add("Tags.member.1=&Tags..=&.=&Tags.member.99999999999999999999.Key=a")
	f.Fuzz(func(t *testing.T, form string) {
		params, err := url.ParseQuery(form)
		if err != nil {
			return
		}
		var v assumeRole
		if err := awsproto.UnmarshalQuery(params, &v); err != nil {
			var ae *awsproto.Error
			if !errors.As(err, &ae) || ae.Status() != 400 {
				t.Fatalf("error %v is not a client error", err)
			}
			return
		}
		again, err := awsproto.MarshalQuery(v)
		if err != nil {
			t.Fatal(err)
		}
		var w assumeRole
		if err := awsproto.UnmarshalQuery(again, &w); err != nil {
			t.Fatalf("re-decoding %v: %v", again, err)
		}
		if !reflect.DeepEqual(v, w) && !hasNaN(v) {
			t.Fatalf("round trip of %q:\n%+v\n%+v", form, v, w)
		}
	})
}

func hasNaN(v assumeRole) bool { return v.Ratio != v.Ratio }
