// Package attr holds DynamoDB's attribute values: their wire form (the
// AttributeValue JSON of the DynamoDB API), their validation with
// DynamoDB's messages, exact 38-digit numbers, the ordering of key values
// and the item size as DynamoDB counts it. It knows nothing of tables or
// storage and never does I/O.
package attr

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// Kind is an attribute value's data type, named as the wire names it.
type Kind string

// The data types of DynamoDB.
const (
	S    Kind = "S"
	N    Kind = "N"
	B    Kind = "B"
	BOOL Kind = "BOOL"
	NULL Kind = "NULL"
	M    Kind = "M"
	L    Kind = "L"
	SS   Kind = "SS"
	NS   Kind = "NS"
	BS   Kind = "BS"
)

// Value is one attribute value. Numbers (N, and NS's members) are kept in
// canonical text (see Number); sets are kept in the order received.
// A Value is immutable once built: operations return new values.
type Value struct {
	Kind Kind
	S    string
	N    string
	B    []byte
	Bool bool
	L    []Value
	M    map[string]Value
	SS   []string
	NS   []string
	BS   [][]byte
}

// Item is a map of attribute names to values.
type Item = map[string]Value

// Error is a validation failure; its message is DynamoDB's.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func invalid(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// Str, Num, Bin build values.
func Str(s string) Value { return Value{Kind: S, S: s} }

// Num builds a number from canonical text.
func Num(n string) Value { return Value{Kind: N, N: n} }

// Bin builds a binary value.
func Bin(b []byte) Value { return Value{Kind: B, B: b} }

// MarshalJSON writes v in the AttributeValue wire form.
func (v Value) MarshalJSON() ([]byte, error) {
	var x any
	switch v.Kind {
	case S:
		x = v.S
	case N:
		x = v.N
	case B:
		x = base64.StdEncoding.EncodeToString(v.B)
	case BOOL:
		x = v.Bool
	case NULL:
		x = true
	case M:
		m := v.M
		if m == nil {
			m = map[string]Value{}
		}
		x = m
	case L:
		l := v.L
		if l == nil {
			l = []Value{}
		}
		x = l
	case SS:
		x = v.SS
	case NS:
		x = v.NS
	case BS:
		bs := make([]string, len(v.BS))
		for i, b := range v.BS {
			bs[i] = base64.StdEncoding.EncodeToString(b)
		}
		x = bs
	default:
		return nil, fmt.Errorf("attr: value without a type")
	}
	return json.Marshal(map[string]any{string(v.Kind): x})
}

// UnmarshalJSON reads the wire form and validates it (Validate).
func (v *Value) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	var set []string
	for k := range raw {
		if string(raw[k]) != "null" {
			set = append(set, k)
		}
	}
	if len(set) != 1 {
		if len(set) == 0 {
			return invalid("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
		}
		return invalid("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
	}
	k := set[0]
	r := raw[k]
	var out Value
	var err error
	switch Kind(k) {
	case S:
		out.Kind = S
		err = json.Unmarshal(r, &out.S)
	case N:
		var s string
		if err = json.Unmarshal(r, &s); err == nil {
			out = Value{Kind: N}
			out.N, err = Number(s)
		}
	case B:
		out.Kind = B
		err = json.Unmarshal(r, &out.B)
	case BOOL:
		out.Kind = BOOL
		err = json.Unmarshal(r, &out.Bool)
	case NULL:
		var t bool
		if err = json.Unmarshal(r, &t); err == nil && !t {
			return invalid("One or more parameter values were invalid: Null attribute value types must have the value of true")
		}
		out.Kind = NULL
	case M:
		out.Kind = M
		out.M = map[string]Value{}
		err = json.Unmarshal(r, &out.M)
	case L:
		out.Kind = L
		out.L = []Value{}
		err = json.Unmarshal(r, &out.L)
	case SS:
		out.Kind = SS
		err = json.Unmarshal(r, &out.SS)
	case NS:
		out.Kind = NS
		var ns []string
		if err = json.Unmarshal(r, &ns); err == nil {
			for _, n := range ns {
				c, nerr := Number(n)
				if nerr != nil {
					return nerr
				}
				out.NS = append(out.NS, c)
			}
			if out.NS == nil {
				out.NS = []string{}
			}
		}
	case BS:
		out.Kind = BS
		err = json.Unmarshal(r, &out.BS)
	default:
		return invalid("Supplied AttributeValue has an unknown datatype %s", k)
	}
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return err
		}
		return fmt.Errorf("attr: %s: %w", k, err)
	}
	if err := checkSet(out); err != nil {
		return err
	}
	*v = out
	return nil
}

var setNames = map[Kind]string{SS: "string set", NS: "number set", BS: "binary set"}

func checkSet(v Value) error {
	var n int
	var dup bool
	switch v.Kind {
	case SS:
		n = len(v.SS)
		dup = hasDup(v.SS, func(a, b string) int { return strings.Compare(a, b) })
	case NS:
		n = len(v.NS)
		dup = hasDup(v.NS, CompareNumbers)
	case BS:
		n = len(v.BS)
		dup = hasDup(v.BS, bytes.Compare)
	default:
		return nil
	}
	if n == 0 {
		return invalid("One or more parameter values were invalid: An %s  may not be empty", setNames[v.Kind])
	}
	if dup {
		return invalid("One or more parameter values were invalid: Input collection %s contains duplicates.", setString(v))
	}
	return nil
}

func setString(v Value) string {
	var parts []string
	switch v.Kind {
	case SS:
		parts = v.SS
	case NS:
		parts = v.NS
	case BS:
		for _, b := range v.BS {
			parts = append(parts, base64.StdEncoding.EncodeToString(b))
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func hasDup[T any](xs []T, cmp func(a, b T) int) bool {
	c := slices.Clone(xs)
	slices.SortFunc(c, cmp)
	for i := 1; i < len(c); i++ {
		if cmp(c[i-1], c[i]) == 0 {
			return true
		}
	}
	return false
}

// Number validates s as DynamoDB does (at most 38 significant digits,
// magnitude between 1E-130 and 9.9999999999999999999999999999999999999E+125,
// or zero) and returns its canonical text: no exponent, no leading or
// trailing zeros ("01.50" → "1.5", "1E2" → "100", "-0" → "0").
func Number(s string) (string, error) {
	d, err := parseNumber(s)
	if err != nil {
		return "", err
	}
	return format(d), nil
}

func parseNumber(s string) (*apd.Decimal, error) {
	t := strings.TrimSpace(s)
	if t == "" || strings.ContainsAny(t, "xXpP_") {
		return nil, invalid("The parameter cannot be converted to a numeric value: %s", s)
	}
	d, _, err := apd.NewFromString(t)
	if err != nil || d.Form != apd.Finite {
		return nil, invalid("The parameter cannot be converted to a numeric value: %s", s)
	}
	d.Reduce(d)
	if d.IsZero() {
		return apd.New(0, 0), nil
	}
	if d.NumDigits() > 38 {
		return nil, invalid("Attempting to store more than 38 significant digits in a Number")
	}
	adj := d.NumDigits() + int64(d.Exponent) - 1 // exponent of the leading digit
	if adj > 125 {
		return nil, invalid("Number overflow. Attempting to store a number with magnitude larger than supported range")
	}
	if adj < -130 {
		return nil, invalid("Number underflow. Attempting to store a number with magnitude smaller than supported range")
	}
	return d, nil
}

func format(d *apd.Decimal) string {
	r := new(apd.Decimal)
	r.Reduce(d)
	if r.IsZero() {
		return "0"
	}
	return r.Text('f')
}

// Decimal parses canonical number text.
func Decimal(n string) *apd.Decimal {
	d, _, err := apd.NewFromString(n)
	if err != nil {
		return apd.New(0, 0)
	}
	return d
}

// CompareNumbers orders two numbers exactly.
func CompareNumbers(a, b string) int { return Decimal(a).Cmp(Decimal(b)) }

// Add returns a+b (sub: a-b) checked against DynamoDB's limits.
func Add(a, b string, sub bool) (string, error) {
	x, y := Decimal(a), Decimal(b)
	r := new(apd.Decimal)
	ctx := apd.BaseContext.WithPrecision(200)
	var err error
	if sub {
		_, err = ctx.Sub(r, x, y)
	} else {
		_, err = ctx.Add(r, x, y)
	}
	if err != nil {
		return "", invalid("The parameter cannot be converted to a numeric value")
	}
	return Number(r.Text('E'))
}

// Compare orders two values of the same scalar kind (S, N, B) as DynamoDB
// orders keys: strings and binaries bytewise (UTF-8), numbers by value.
// Values of other or different kinds compare by kind name, then equal.
func Compare(a, b Value) int {
	if a.Kind != b.Kind {
		return strings.Compare(string(a.Kind), string(b.Kind))
	}
	switch a.Kind {
	case S:
		return strings.Compare(a.S, b.S)
	case N:
		return CompareNumbers(a.N, b.N)
	case B:
		return bytes.Compare(a.B, b.B)
	}
	return 0
}

// Equal reports whether a and b are the same value (sets as sets, numbers
// by value).
func Equal(a, b Value) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case S:
		return a.S == b.S
	case N:
		return CompareNumbers(a.N, b.N) == 0
	case B:
		return bytes.Equal(a.B, b.B)
	case BOOL:
		return a.Bool == b.Bool
	case NULL:
		return true
	case L:
		return slices.EqualFunc(a.L, b.L, Equal)
	case M:
		if len(a.M) != len(b.M) {
			return false
		}
		for k, x := range a.M {
			y, ok := b.M[k]
			if !ok || !Equal(x, y) {
				return false
			}
		}
		return true
	case SS:
		return sameSet(a.SS, b.SS, strings.Compare)
	case NS:
		return sameSet(a.NS, b.NS, CompareNumbers)
	case BS:
		return sameSet(a.BS, b.BS, bytes.Compare)
	}
	return false
}

func sameSet[T any](a, b []T, cmp func(x, y T) int) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y T) bool { return cmp(x, y) == 0 }) {
			return false
		}
	}
	return true
}

// Size is v's size in bytes as DynamoDB counts it: strings their UTF-8
// length, binaries their length, numbers about one byte per two
// significant digits plus one, BOOL and NULL one byte, lists and maps
// three bytes plus one per element plus their elements (and a map's
// names).
func Size(v Value) int {
	switch v.Kind {
	case S:
		return len(v.S)
	case N:
		return numSize(v.N)
	case B:
		return len(v.B)
	case BOOL, NULL:
		return 1
	case L:
		n := 3
		for _, e := range v.L {
			n += 1 + Size(e)
		}
		return n
	case M:
		n := 3
		for k, e := range v.M {
			n += 1 + len(k) + Size(e)
		}
		return n
	case SS:
		n := 0
		for _, s := range v.SS {
			n += len(s)
		}
		return n
	case NS:
		n := 0
		for _, s := range v.NS {
			n += numSize(s)
		}
		return n
	case BS:
		n := 0
		for _, b := range v.BS {
			n += len(b)
		}
		return n
	}
	return 0
}

func numSize(n string) int {
	digits := 0
	for _, c := range strings.TrimLeft(strings.ReplaceAll(strings.TrimPrefix(n, "-"), ".", ""), "0") {
		if c >= '0' && c <= '9' {
			digits++
		}
	}
	return (digits+1)/2 + 1
}

// ItemSize is the size of an item: its names and values.
func ItemSize(it Item) int {
	n := 0
	for k, v := range it {
		n += len(k) + Size(v)
	}
	return n
}

// MaxItemSize is DynamoDB's limit on an item: 400 KB.
const MaxItemSize = 400 * 1024

// Clone returns a deep copy of it.
func Clone(it Item) Item {
	if it == nil {
		return nil
	}
	out := make(Item, len(it))
	for k, v := range it {
		out[k] = v
	}
	return out
}

// Names returns it's attribute names, sorted.
func Names(it Item) []string {
	ks := make([]string, 0, len(it))
	for k := range it {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// KeyBytes encodes a scalar key value so that equal values encode equally
// (numbers canonical): the basis of a key's identity.
func KeyBytes(v Value) []byte {
	switch v.Kind {
	case S:
		return append([]byte("S"), v.S...)
	case N:
		return append([]byte("N"), v.N...)
	case B:
		return append([]byte("B"), v.B...)
	}
	return nil
}
