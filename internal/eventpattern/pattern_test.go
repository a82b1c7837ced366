package eventpattern

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// The message attributes of the SNS documentation's filter policy
// examples ("Example message with attributes").
var docAttrs = map[string]Attribute{
	"customer_interests": {Type: "String.Array", Value: `["soccer", "rugby", "hockey"]`},
	"store":              {Type: "String", Value: "example_corp"},
	"event":              {Type: "String", Value: "order_placed"},
	"price_usd":          {Type: "Number", Value: "210.75"},
	"photo":              {Type: "Binary", Value: ""},
}

// The same message as a payload, for payload-based filtering.
const docBody = `{
  "customer_interests": ["soccer", "rugby", "hockey"],
  "store": "example_corp",
  "event": "order_placed",
  "price_usd": 210.75,
  "delivery": {"address": {"city": "Seattle", "zip": "98101"}, "express": true, "note": null},
  "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}],
  "source_ip": "10.0.3.17"
}`

func TestMatchAttributes(t *testing.T) {
	cases := []struct {
		policy string
		want   bool
	}{
		// The documentation's first example: every key matches.
		{`{"store":["example_corp"],"event":[{"anything-but":"order_cancelled"}],"customer_interests":["rugby","football","baseball"],"price_usd":[{"numeric":[">=",100]}]}`, true},
		{`{}`, true},
		{`{"store":["example_corp"]}`, true},
		{`{"store":["other_corp"]}`, false},
		{`{"store":["example_corp","other_corp"]}`, true},
		{`{"customer_interests":["rugby"]}`, true},
		{`{"customer_interests":["football","baseball"]}`, false},
		{`{"customer_interests":[{"prefix":"hoc"}]}`, true},
		{`{"customer_interests":[{"prefix":"bas"}]}`, false},
		{`{"store":[{"prefix":"example"}]}`, true},
		{`{"event":[{"suffix":"_placed"}]}`, true},
		{`{"event":[{"suffix":"_cancelled"}]}`, false},
		{`{"store":[{"equals-ignore-case":"EXAMPLE_CORP"}]}`, true},
		{`{"store":[{"equals-ignore-case":"EXAMPLE"}]}`, false},
		{`{"event":[{"anything-but":["order_cancelled","order_failed"]}]}`, true},
		{`{"event":[{"anything-but":["order_placed"]}]}`, false},
		{`{"event":[{"anything-but":{"prefix":"order-"}}]}`, true},
		{`{"event":[{"anything-but":{"prefix":"order_"}}]}`, false},
		{`{"event":[{"anything-but":{"suffix":"_placed"}}]}`, false},
		{`{"missing":[{"anything-but":"x"}]}`, false}, // anything-but needs the key
		{`{"price_usd":[{"anything-but":[100,200]}]}`, true},
		{`{"price_usd":[{"anything-but":[210.75]}]}`, false},
		{`{"price_usd":[{"numeric":[">",0,"<=",150]}]}`, false},
		{`{"price_usd":[{"numeric":[">",200,"<",300]}]}`, true},
		{`{"price_usd":[{"numeric":["=",210.75]}]}`, true},
		{`{"price_usd":[210.75]}`, true},
		{`{"price_usd":[210.750]}`, true},
		{`{"price_usd":["210.75"]}`, false}, // a string does not match a Number attribute
		{`{"store":[{"exists":true}]}`, true},
		{`{"encrypted":[{"exists":false}]}`, true},
		{`{"store":[{"exists":false}]}`, false},
		{`{"encrypted":[{"exists":true}]}`, false},
		{`{"photo":[{"exists":true}]}`, false}, // Binary attributes are not seen
		{`{"encrypted":[false]}`, false},
		{`{"store":["example_corp"],"event":["order_cancelled"]}`, false}, // AND across keys
		// $or: any alternative, AND with the rest.
		{`{"store":["example_corp"],"$or":[{"event":["order_cancelled"]},{"price_usd":[{"numeric":[">",200]}]}]}`, true},
		{`{"store":["example_corp"],"$or":[{"event":["order_cancelled"]},{"price_usd":[{"numeric":["<",200]}]}]}`, false},
		{`{"store":["other"],"$or":[{"event":["order_placed"]},{"price_usd":[210.75]}]}`, false},
	}
	for _, c := range cases {
		p, err := Compile([]byte(c.policy), Options{Scope: Attributes, SNS: true})
		if err != nil {
			t.Errorf("Compile(%s): %v", c.policy, err)
			continue
		}
		if got := p.MatchAttributes(docAttrs); got != c.want {
			t.Errorf("%s: match = %v, want %v", c.policy, got, c.want)
		}
	}
}

func TestMatchStringArrayNumbers(t *testing.T) {
	attrs := map[string]Attribute{"sizes": {Type: "String.Array", Value: `[5, "large", true, null]`}, "n": {Type: "Number.float", Value: "1e2"}, "bad": {Type: "String.Array", Value: `not json`}}
	cases := []struct {
		policy string
		want   bool
	}{
		{`{"sizes":[5]}`, true},
		{`{"sizes":[{"numeric":[">",4]}]}`, true},
		{`{"sizes":["large"]}`, true},
		{`{"sizes":["5"]}`, false},
		{`{"n":[100]}`, true},
		{`{"bad":[{"exists":true}]}`, true},
		{`{"bad":["not json"]}`, false},
	}
	for _, c := range cases {
		p := MustCompile(c.policy, Options{Scope: Attributes, SNS: true})
		if got := p.MatchAttributes(attrs); got != c.want {
			t.Errorf("%s: match = %v, want %v", c.policy, got, c.want)
		}
	}
}

func TestMatchBody(t *testing.T) {
	cases := []struct {
		policy string
		want   bool
	}{
		{`{"store":["example_corp"]}`, true},
		{`{"customer_interests":["rugby"]}`, true},
		{`{"price_usd":[{"numeric":[">=",200]}]}`, true},
		{`{"price_usd":[210.75]}`, true},
		{`{"delivery":{"address":{"city":["Seattle"]}}}`, true},
		{`{"delivery":{"address":{"city":["Portland"]}}}`, false},
		{`{"delivery":{"address":{"zip":[{"prefix":"981"}]}}}`, true},
		{`{"delivery":{"express":[true]}}`, true},
		{`{"delivery":{"express":[false]}}`, false},
		{`{"delivery":{"note":[null]}}`, true},
		{`{"delivery":{"note":[{"exists":true}]}}`, true},
		{`{"delivery":{"gift":[{"exists":false}]}}`, true},
		{`{"delivery":[{"exists":true}]}`, false}, // exists looks at leaves
		{`{"items":{"sku":["B-7"]}}`, true},       // arrays of objects flatten
		{`{"items":{"qty":[{"numeric":[">",5]}]}}`, false},
		{`{"source_ip":[{"cidr":"10.0.0.0/16"}]}`, true},
		{`{"source_ip":[{"cidr":"10.1.0.0/16"}]}`, false},
		{`{"$or":[{"store":["nope"]},{"delivery":{"address":{"city":["Seattle"]}}}]}`, true},
		{`{"store":[{"wildcard":"ex*corp"}]}`, true},
		// EventBridge's case-insensitive variants (not SNS's).
		{`{"store":[{"prefix":{"equals-ignore-case":"EXAMPLE"}}]}`, true},
		{`{"store":[{"suffix":{"equals-ignore-case":"_CORP"}}]}`, true},
		{`{"store":[{"suffix":{"equals-ignore-case":"_INC"}}]}`, false},
		{`{"store":[{"anything-but":{"equals-ignore-case":["EXAMPLE_CORP","x"]}}]}`, false},
		{`{"store":[{"anything-but":{"equals-ignore-case":"OTHER"}}]}`, true},
	}
	for _, c := range cases {
		sns := !strings.Contains(c.policy, "wildcard") && !strings.Contains(c.policy, `:{"equals-ignore-case"`)
		p, err := Compile([]byte(c.policy), Options{Scope: Body, SNS: sns})
		if err != nil {
			t.Errorf("Compile(%s): %v", c.policy, err)
			continue
		}
		if got := p.MatchJSON([]byte(docBody)); got != c.want {
			t.Errorf("%s: match = %v, want %v", c.policy, got, c.want)
		}
	}
	// A body that is not JSON matches only the empty policy.
	if MustCompile(`{"a":["b"]}`, Options{SNS: true}).MatchJSON([]byte("hello")) {
		t.Error("a plain-text body matched a payload policy")
	}
	if !MustCompile(`{}`, Options{SNS: true}).MatchJSON([]byte("hello")) {
		t.Error("a plain-text body did not match the empty policy")
	}
}

func TestCompileErrors(t *testing.T) {
	six := `{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}`
	var many []string
	for i := range 151 {
		many = append(many, `"v`+strings.Repeat("x", i%3)+string(rune('a'+i%26))+`"`)
	}
	cases := []struct {
		policy string
		scope  Scope
		reason string
	}{
		{`{`, Body, "failed to parse JSON."},
		{`["a"]`, Body, "Filter policy must be a JSON object"},
		{six, Attributes, "Filter policy can not have more than 5 keys"},
		{`{"a":[` + strings.Join(many, ",") + `]}`, Attributes, "Filter policy is too complex"},
		{`{"a":{"b":["c"]}}`, Attributes, "Filter policy scope MessageAttributes does not support nested filter policy"},
		{`{"a":"b"}`, Body, `"a" must be an object or an array`},
		{`{"a":[]}`, Body, "Empty arrays are not allowed"},
		{`{"a":[["x"]]}`, Body, "Match value must be String, number, true, false, or null"},
		{`{"a":[{"regex":"x"}]}`, Body, "Unrecognized match type regex"},
		{`{"a":[{"wildcard":"x*"}]}`, Body, "Unrecognized match type wildcard"},
		{`{"a":[{"prefix":{"equals-ignore-case":"x"}}]}`, Body, "prefix match pattern must be a string"},
		{`{"a":[{"anything-but":{"equals-ignore-case":"x"}}]}`, Body, "Unsupported anything-but pattern: equals-ignore-case"},
		{`{"a":[{"exists":"yes"}]}`, Body, "exists match pattern must be either true or false."},
		{`{"a":[{"prefix":5}]}`, Body, "prefix match pattern must be a string"},
		{`{"a":[{"numeric":["<","100"]}]}`, Body, "Value of < must be numeric"},
		{`{"a":[{"numeric":["~",1]}]}`, Body, "Unrecognized numeric range operator: ~"},
		{`{"a":[{"numeric":["<",1,">",0]}]}`, Body, "Too many elements in numeric expression"},
		{`{"a":[{"numeric":[">",1,">",0]}]}`, Body, "Bad numeric range operator: >"},
		{`{"a":[{"numeric":[">",10,"<",5]}]}`, Body, "Bottom must be less than top"},
		{`{"a":[{"numeric":[">",1]}, 2e9]}`, Body, "Numeric values must be between -1.0E9 and 1.0E9 inclusive"},
		{`{"a":[{"anything-but":[true]}]}`, Body, "Inside anything but list, start|null|boolean is not supported."},
		{`{"a":[{"cidr":"10.0.0.0"}]}`, Body, "Malformed CIDR, one '/' required"},
		{`{"$or":[{"a":["b"]}]}`, Body, "$or must be an array of at least two objects"},
	}
	for _, c := range cases {
		_, err := Compile([]byte(c.policy), Options{Scope: c.scope, SNS: true})
		var pe *Error
		if !errors.As(err, &pe) || pe.Reason != c.reason {
			t.Errorf("Compile(%.60s) = %v, want %q", c.policy, err, c.reason)
		}
	}
}

// TestCombinations: the documentation's nested example counts 72
// (four values three levels deep, three values two levels deep).
func TestCombinations(t *testing.T) {
	var obj map[string]any
	json.Unmarshal([]byte(`{"key_a":{"key_b":{"key_c":["value_one","value_two","value_three","value_four"]}},"key_d":{"key_e":["value_one","value_two","value_three"]}}`), &obj)
	if got := combinations(obj, 1); got != 72 {
		t.Errorf("combinations = %d, want 72", got)
	}
	// The documentation's $or example: source × (metricName + namespace).
	obj = nil
	json.Unmarshal([]byte(`{"source":["aws.cloudwatch","aws.events"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"namespace":["AWS/EC2","AWS/ES"]}]}`), &obj)
	if got := combinations(obj, 1); got != 8 {
		t.Errorf("combinations = %d, want 8", got)
	}
}

func FuzzCompile(f *testing.F) {
	f.Add(`{"store":["example_corp"],"price_usd":[{"numeric":[">",0,"<=",150]}]}`, docBody)
	f.Add(`{"$or":[{"a":[{"prefix":"x"}]},{"b":{"c":[{"anything-but":{"suffix":"y"}}]}}]}`, `{"a":"xyz","b":{"c":["q"]}}`)
	f.Add(`{"a":[{"cidr":"::1/128"},{"exists":false},null,true,1.5]}`, `[1,2]`)
	f.Add(`{"a":[{"anything-but":{"wildcard":["*/lib/*","x*"]}},{"wildcard":"a*b*"}]}`, `{"a":"/usr/lib/x"}`)
	f.Fuzz(func(t *testing.T, policy, doc string) {
		for _, scope := range []Scope{Body, Attributes} {
			p, err := Compile([]byte(policy), Options{Scope: scope, SNS: scope == Attributes})
			if err != nil {
				var pe *Error
				if !errors.As(err, &pe) {
					t.Fatalf("error %v is not an *Error", err)
				}
				continue
			}
			p.MatchJSON([]byte(doc))
			p.MatchAttributes(map[string]Attribute{"a": {Type: "String.Array", Value: doc}, "b": {Type: "Number", Value: doc}, "store": {Type: "String", Value: doc}})
		}
	})
}

// BenchmarkMatch: one compiled policy (the documentation's first
// example) matched against one message, in each scope.
func BenchmarkMatch(b *testing.B) {
	policy := `{"store":["example_corp"],"event":[{"anything-but":"order_cancelled"}],"customer_interests":["rugby","football","baseball"],"price_usd":[{"numeric":[">=",100]}]}`
	b.Run("attributes", func(b *testing.B) {
		p := MustCompile(policy, Options{Scope: Attributes, SNS: true})
		b.ReportAllocs()
		for b.Loop() {
			if !p.MatchAttributes(docAttrs) {
				b.Fatal("no match")
			}
		}
	})
	b.Run("body", func(b *testing.B) {
		p := MustCompile(policy, Options{Scope: Body, SNS: true})
		doc := []byte(docBody)
		b.ReportAllocs()
		for b.Loop() {
			if !p.MatchJSON(doc) {
				b.Fatal("no match")
			}
		}
	})
	b.Run("compile", func(b *testing.B) {
		raw := []byte(policy)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Compile(raw, Options{Scope: Attributes, SNS: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
