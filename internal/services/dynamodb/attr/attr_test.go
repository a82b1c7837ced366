package attr

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestNumber(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"1", "1", ""},
		{"01.50", "1.5", ""},
		{"1E2", "100", ""},
		{"-0", "0", ""},
		{"0.000", "0", ""},
		{"-1.25e-3", "-0.00125", ""},
		{"12345678901234567890123456789012345678", "12345678901234567890123456789012345678", ""},
		{"1234567890123456789012345678901234567800000", "1234567890123456789012345678901234567800000", ""},
		{"123456789012345678901234567890123456789", "", "Attempting to store more than 38 significant digits in a Number"},
		{"9.9999999999999999999999999999999999999E+125", "", ""},
		{"1E126", "", "Number overflow. Attempting to store a number with magnitude larger than supported range"},
		{"1E-130", "", ""},
		{"1E-131", "", "Number underflow. Attempting to store a number with magnitude smaller than supported range"},
		{"abc", "", "The parameter cannot be converted to a numeric value: abc"},
		{"", "", "The parameter cannot be converted to a numeric value: "},
		{"NaN", "", "The parameter cannot be converted to a numeric value: NaN"},
		{"Infinity", "", "The parameter cannot be converted to a numeric value: Infinity"},
	} {
		got, err := Number(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: %v, want %s", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || (tc.want != "" && got != tc.want) {
			t.Errorf("%q = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if CompareNumbers("10", "9.99999999999999999999999999999999999") <= 0 || CompareNumbers("-1", "-0.5") >= 0 || CompareNumbers("1.0", "1") != 0 {
		t.Error("number ordering")
	}
	if s, err := Add("99999999999999999999999999999999999999", "0.1", false); err == nil {
		t.Errorf("overflow of 38 digits: %s", s)
	}
}

func TestValues(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{`{"S":"x"}`, ""},
		{`{"M":{"a":{"L":[{"NS":["1","01"]}]}}}`, "One or more parameter values were invalid: Input collection [1, 1] contains duplicates."},
		{`{"SS":[]}`, "One or more parameter values were invalid: An string set  may not be empty"},
		{`{}`, "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"},
		{`{"S":"x","N":"1"}`, "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"},
		{`{"NULL":false}`, "One or more parameter values were invalid: Null attribute value types must have the value of true"},
		{`{"BS":["AA==","AQ=="]}`, ""},
	} {
		var v Value
		err := json.Unmarshal([]byte(tc.in), &v)
		if (tc.err == "" && err != nil) || (tc.err != "" && (err == nil || err.Error() != tc.err)) {
			t.Errorf("%s: %v, want %q", tc.in, err, tc.err)
		}
		if err == nil {
			b, _ := json.Marshal(v)
			var w Value
			if json.Unmarshal(b, &w) != nil || !Equal(v, w) {
				t.Errorf("%s does not round-trip: %s", tc.in, b)
			}
		}
	}
}

func TestOrderAndSize(t *testing.T) {
	if Compare(Str("a"), Str("b")) >= 0 || Compare(Str("Z"), Str("a")) >= 0 || Compare(Str("é"), Str("z")) <= 0 {
		t.Error("strings order by UTF-8 bytes")
	}
	if Compare(Num("9"), Num("10")) >= 0 || Compare(Bin([]byte{0xff}), Bin([]byte{0x00, 0x01})) <= 0 {
		t.Error("numbers by value, binaries bytewise")
	}
	it := Item{"name": Str("abc"), "n": Num("123"), "l": {Kind: L, L: []Value{Str("x")}}}
	// name 4+3, n 1+(3 digits: 2+1), l 1+(3+1+1)
	if got := ItemSize(it); got != 7+4+6 {
		t.Errorf("size %d", got)
	}
	if ItemSize(Item{"s": Str(strings.Repeat("x", MaxItemSize))}) <= MaxItemSize {
		t.Error("limit")
	}
}
