package iam

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// cmp is the comparison a condition operator makes.
type cmp uint8

const (
	cmpString cmp = iota + 1
	cmpStringIgnoreCase
	cmpStringLike
	cmpNumEq
	cmpNumLT
	cmpNumLE
	cmpNumGT
	cmpNumGE
	cmpDateEq
	cmpDateLT
	cmpDateLE
	cmpDateGT
	cmpDateGE
	cmpBool
	cmpBinary
	cmpIP
	cmpARN
	cmpNull
)

// operator is one condition operator of the IAM reference ("IAM JSON policy
// elements: Condition operators"); negate marks the Not forms, which are
// true for a missing key.
type operator struct {
	cmp    cmp
	negate bool
}

// operators maps each operator name, lower-case, to what it does. Every
// operator but Null also takes the IfExists suffix and the ForAnyValue: and
// ForAllValues: prefixes.
var operators = map[string]operator{
	"stringequals":              {cmpString, false},
	"stringnotequals":           {cmpString, true},
	"stringequalsignorecase":    {cmpStringIgnoreCase, false},
	"stringnotequalsignorecase": {cmpStringIgnoreCase, true},
	"stringlike":                {cmpStringLike, false},
	"stringnotlike":             {cmpStringLike, true},
	"numericequals":             {cmpNumEq, false},
	"numericnotequals":          {cmpNumEq, true},
	"numericlessthan":           {cmpNumLT, false},
	"numericlessthanequals":     {cmpNumLE, false},
	"numericgreaterthan":        {cmpNumGT, false},
	"numericgreaterthanequals":  {cmpNumGE, false},
	"dateequals":                {cmpDateEq, false},
	"datenotequals":             {cmpDateEq, true},
	"datelessthan":              {cmpDateLT, false},
	"datelessthanequals":        {cmpDateLE, false},
	"dategreaterthan":           {cmpDateGT, false},
	"dategreaterthanequals":     {cmpDateGE, false},
	"bool":                      {cmpBool, false},
	"binaryequals":              {cmpBinary, false},
	"ipaddress":                 {cmpIP, false},
	"notipaddress":              {cmpIP, true},
	"arnequals":                 {cmpARN, false},
	"arnlike":                   {cmpARN, false},
	"arnnotequals":              {cmpARN, true},
	"arnnotlike":                {cmpARN, true},
	"null":                      {cmpNull, false},
}

// setOp is a condition's set operator prefix.
type setOp uint8

const (
	setNone setOp = iota
	setAnyValue
	setAllValues
)

// condition is one key of one operator of a Condition block. The block
// holds when every condition holds; a condition holds when the request's
// value matches any of its values.
type condition struct {
	op       operator
	set      setOp
	ifExists bool
	key      string // lower-case: condition key names are case-insensitive
	values   []condValue
}

// condValue is one value of a condition, compiled for its operator.
type condValue struct {
	v      value // text, with policy variables for String* and Arn*
	num    float64
	t      time.Time
	prefix netip.Prefix
	b      bool
	ok     bool // the value parsed for its operator; if not, it matches nothing
}

func parseConditions(raw json.RawMessage, vars bool) ([]condition, error) {
	block, err := object(raw)
	if err != nil {
		return nil, err
	}
	var out []condition
	for name, raw := range block {
		op, set, ifExists, err := parseOperator(name)
		if err != nil {
			return nil, err
		}
		keys, err := object(raw)
		if err != nil {
			return nil, err
		}
		for key, raw := range keys {
			if err := checkConditionKey(key); err != nil {
				return nil, err
			}
			vals, err := scalars(raw)
			if err != nil {
				return nil, err
			}
			c := condition{op: op, set: set, ifExists: ifExists, key: strings.ToLower(key)}
			for _, v := range vals {
				c.values = append(c.values, compileCondValue(op.cmp, v, vars))
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// parseOperator splits "ForAnyValue:StringLikeIfExists" into its parts.
func parseOperator(name string) (operator, setOp, bool, error) {
	set := setNone
	base := name
	if pre, rest, ok := strings.Cut(name, ":"); ok {
		switch strings.ToLower(pre) {
		case "foranyvalue":
			set = setAnyValue
		case "forallvalues":
			set = setAllValues
		default:
			return operator{}, 0, false, malformedf(msgConditionType, name)
		}
		base = rest
	}
	lower := strings.ToLower(base)
	op, ok := operators[lower]
	ifExists := false
	if !ok && strings.HasSuffix(lower, "ifexists") {
		op, ok = operators[strings.TrimSuffix(lower, "ifexists")]
		ifExists = true
	}
	if !ok || (op.cmp == cmpNull && (ifExists || set != setNone)) {
		return operator{}, 0, false, malformedf(msgConditionType, name)
	}
	return op, set, ifExists, nil
}

// checkConditionKey accepts "vendor:key" (the key may hold further colons
// and slashes, as in aws:PrincipalTag/team or ec2:ResourceTag/a:b).
func checkConditionKey(k string) error {
	vendor, rest, ok := strings.Cut(k, ":")
	if !ok || vendor == "" || rest == "" {
		return malformed(msgVendor)
	}
	return nil
}

func compileCondValue(c cmp, s string, vars bool) condValue {
	cv := condValue{v: compileValue(s, vars && (c == cmpString || c == cmpStringIgnoreCase || c == cmpStringLike || c == cmpARN)), ok: true}
	var err error
	switch c {
	case cmpNumEq, cmpNumLT, cmpNumLE, cmpNumGT, cmpNumGE:
		cv.num, err = strconv.ParseFloat(s, 64)
		cv.ok = err == nil
	case cmpDateEq, cmpDateLT, cmpDateLE, cmpDateGT, cmpDateGE:
		cv.t, cv.ok = parseDate(s)
	case cmpBool, cmpNull:
		cv.b, err = strconv.ParseBool(strings.ToLower(s))
		cv.ok = err == nil && (strings.EqualFold(s, "true") || strings.EqualFold(s, "false"))
	case cmpIP:
		cv.prefix, cv.ok = parseCIDR(s)
	}
	return cv
}

func parseCIDR(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// dateLayouts are the ISO 8601 forms IAM's Date operators accept; a plain
// number is seconds since the epoch.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02",
}

func parseDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if isNumber(s) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return time.Time{}, false
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func isNumber(s string) bool {
	dot := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.' && !dot:
			dot = true
		case c < '0' || c > '9':
			return false
		}
	}
	return true
}

// eval reports whether c holds for r, following the documented rules for
// missing keys and multivalued keys:
//   - IfExists: a missing key makes the condition true.
//   - Null: "true" holds when the key is missing, "false" when present.
//   - no set operator: a positive operator holds when any request value
//     matches any policy value (false for a missing key); a Not operator
//     holds when no request value matches (true for a missing key).
//   - ForAnyValue: at least one request value satisfies the operator;
//     false for a missing key or an empty set.
//   - ForAllValues: every request value satisfies the operator; true for a
//     missing key or an empty set.
func (c *condition) eval(r *Request, scratch []byte) bool {
	vals := r.lookup(c.key)
	if c.op.cmp == cmpNull {
		present := vals.n > 0
		for i := range c.values {
			cv := &c.values[i]
			if cv.ok && cv.b != present {
				return true
			}
		}
		return false
	}
	if vals.n == 0 {
		switch {
		case c.ifExists:
			return true
		case c.set == setAllValues:
			return true
		case c.set == setAnyValue:
			return false
		}
		return c.op.negate
	}
	all := c.set == setAllValues || (c.set == setNone && c.op.negate)
	for i := 0; i < vals.n; i++ {
		sat := c.matchAny(r, vals.at(i), scratch) != c.op.negate
		if all && !sat {
			return false
		}
		if !all && sat {
			return true
		}
	}
	return all
}

// matchAny reports whether the request value s matches any of c's values
// under c's positive operator.
func (c *condition) matchAny(r *Request, s string, scratch []byte) bool {
	var num float64
	var t time.Time
	var addr netip.Addr
	switch c.op.cmp {
	case cmpNumEq, cmpNumLT, cmpNumLE, cmpNumGT, cmpNumGE:
		var err error
		if num, err = strconv.ParseFloat(s, 64); err != nil {
			return false
		}
	case cmpDateEq, cmpDateLT, cmpDateLE, cmpDateGT, cmpDateGE:
		var ok bool
		if c.key == keyCurrentTime && r.currentTimeDerived() {
			t = r.Now
		} else if t, ok = parseDate(s); !ok {
			return false
		}
	case cmpIP:
		var err error
		if addr, err = netip.ParseAddr(s); err != nil {
			return false
		}
		addr = addr.Unmap()
	}
	for i := range c.values {
		cv := &c.values[i]
		if !cv.ok {
			continue
		}
		var m bool
		switch c.op.cmp {
		case cmpString:
			m = cv.v.matchGlob(r, scratch, s, false, false)
		case cmpStringIgnoreCase:
			m = cv.v.matchGlob(r, scratch, s, false, true)
		case cmpStringLike:
			m = cv.v.matchGlob(r, scratch, s, true, false)
		case cmpARN:
			m = cv.v.matchARN(r, scratch, s)
		case cmpNumEq:
			m = num == cv.num
		case cmpNumLT:
			m = num < cv.num
		case cmpNumLE:
			m = num <= cv.num
		case cmpNumGT:
			m = num > cv.num
		case cmpNumGE:
			m = num >= cv.num
		case cmpDateEq:
			m = t.Equal(cv.t)
		case cmpDateLT:
			m = t.Before(cv.t)
		case cmpDateLE:
			m = !t.After(cv.t)
		case cmpDateGT:
			m = t.After(cv.t)
		case cmpDateGE:
			m = !t.Before(cv.t)
		case cmpBool:
			m = strings.EqualFold(s, cv.v.raw)
		case cmpBinary:
			m = s == cv.v.raw
		case cmpIP:
			m = cv.prefix.Contains(addr)
		}
		if m {
			return true
		}
	}
	return false
}
