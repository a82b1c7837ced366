package eventpattern

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Scope says what a pattern is matched against.
type Scope int

const (
	// Body matches a JSON document: an SNS message body, an EventBridge
	// event, an SQS record for FilterCriteria. Keys may nest.
	Body Scope = iota
	// Attributes matches SNS message attributes; keys do not nest.
	Attributes
)

// Options configure Compile.
type Options struct {
	Scope Scope
	// SNS applies the limits of SNS filter policies (5 keys, 150
	// combinations, numbers within ±10^9).
	SNS bool
}

// SNS's limits on filter policies.
const (
	MaxKeys         = 5
	MaxCombinations = 150
	maxNumber       = 1e9
)

// Error is a pattern that does not compile. Reason is the sentence SNS
// and EventBridge give, without a service's prefix.
type Error struct {
	Reason string
}

func (e *Error) Error() string { return "eventpattern: " + e.Reason }

func fail(format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// Pattern is a compiled pattern. It is immutable and safe for concurrent
// use.
type Pattern struct {
	root  *node
	scope Scope
}

// node is one object level of a pattern.
type node struct {
	fields []field
	ors    [][]*node // each $or: alternatives, at least one must match
}

type field struct {
	key   string
	child *node  // nested object; nil for a leaf
	conds []cond // any of them
}

type condKind uint8

const (
	cExactString condKind = iota
	cExactNumber
	cBool
	cNull
	cPrefix
	cSuffix
	cIgnoreCase
	cAnythingBut // strings and numbers in set
	cAnythingButPrefix
	cAnythingButSuffix
	cNumeric
	cExists
	cCIDR
	cWildcard
	cAnythingButWildcard // strs: none of the wildcards matches
)

type cond struct {
	kind   condKind
	s      string
	f      float64
	b      bool
	strs   []string
	nums   []float64
	ranges []numOp
	prefix netip.Prefix
	fold   bool // prefix, suffix and anything-but ignore case (EventBridge)
}

type numOp struct {
	op string
	v  float64
}

// value is one value found at a key's path.
type value struct {
	kind condKind // cExactString, cExactNumber, cBool, cNull
	s    string
	f    float64
	b    bool
}

// Compile parses and validates a pattern.
func Compile(pattern []byte, o Options) (*Pattern, error) {
	d := json.NewDecoder(bytes.NewReader(pattern))
	d.UseNumber()
	var raw any
	if err := d.Decode(&raw); err != nil {
		return nil, fail("failed to parse JSON.")
	}
	if d.More() {
		return nil, fail("failed to parse JSON.")
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, fail("Filter policy must be a JSON object")
	}
	c := compiler{o: o}
	root, err := c.object(obj, 1, true)
	if err != nil {
		return nil, err
	}
	if o.SNS {
		if n := topKeys(obj); n > MaxKeys {
			return nil, fail("Filter policy can not have more than %d keys", MaxKeys)
		}
		if combinations(obj, 1) > MaxCombinations {
			return nil, fail("Filter policy is too complex")
		}
	}
	return &Pattern{root: root, scope: o.Scope}, nil
}

// MustCompile is Compile for patterns known to be valid; it panics
// otherwise.
func MustCompile(pattern string, o Options) *Pattern {
	p, err := Compile([]byte(pattern), o)
	if err != nil {
		panic(err)
	}
	return p
}

// topKeys counts the keys SNS limits: the top level's (not $or), each $or
// alternative adding its own.
func topKeys(obj map[string]any) int {
	n := 0
	most := 0
	for k, v := range obj {
		if k != "$or" {
			n++
			continue
		}
		for _, alt := range asSlice(v) {
			if m, ok := alt.(map[string]any); ok {
				most = max(most, topKeys(m))
			}
		}
	}
	return n + most
}

// combinations is SNS's measure of a policy's complexity: the product
// over its leaf arrays of their length times their nesting depth, an $or
// contributing the sum over its alternatives.
func combinations(obj map[string]any, depth int) int {
	total := 1
	for k, v := range obj {
		var c int
		switch x := v.(type) {
		case map[string]any:
			c = combinations(x, depth+1)
		case []any:
			if k == "$or" {
				for _, alt := range x {
					if m, ok := alt.(map[string]any); ok {
						c += combinations(m, depth)
					}
				}
			} else {
				c = len(x) * depth
			}
		}
		total *= max(c, 1)
		if total > MaxCombinations*MaxCombinations {
			return total // large enough; avoid overflow on hostile input
		}
	}
	return total
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

type compiler struct {
	o Options
}

func (c *compiler) object(obj map[string]any, depth int, top bool) (*node, error) {
	if depth > 32 {
		return nil, fail("Filter policy is too deeply nested")
	}
	n := &node{}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := obj[k]
		if k == "$or" {
			alts, ok := v.([]any)
			if !ok || len(alts) < 2 {
				return nil, fail("$or must be an array of at least two objects")
			}
			var group []*node
			for _, a := range alts {
				m, ok := a.(map[string]any)
				if !ok || len(m) == 0 {
					return nil, fail("$or must be an array of at least two objects")
				}
				alt, err := c.object(m, depth, top)
				if err != nil {
					return nil, err
				}
				group = append(group, alt)
			}
			n.ors = append(n.ors, group)
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			if c.o.Scope == Attributes {
				return nil, &Error{Reason: "Filter policy scope MessageAttributes does not support nested filter policy"}
			}
			child, err := c.object(x, depth+1, false)
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, field{key: k, child: child})
		case []any:
			f, err := c.leaf(k, x)
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, f)
		default:
			return nil, fail("%q must be an object or an array", k)
		}
	}
	return n, nil
}

func (c *compiler) leaf(key string, items []any) (field, error) {
	f := field{key: key}
	if len(items) == 0 {
		return f, fail("Empty arrays are not allowed")
	}
	for _, it := range items {
		cd, err := c.cond(it)
		if err != nil {
			return f, err
		}
		f.conds = append(f.conds, cd)
	}
	return f, nil
}

func (c *compiler) number(n json.Number) (float64, error) {
	v, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fail("Match value must be String, number, true, false, or null")
	}
	if c.o.SNS && (v < -maxNumber || v > maxNumber) {
		return 0, fail("Numeric values must be between -1.0E9 and 1.0E9 inclusive")
	}
	return v, nil
}

func (c *compiler) cond(it any) (cond, error) {
	switch x := it.(type) {
	case string:
		return cond{kind: cExactString, s: x}, nil
	case json.Number:
		v, err := c.number(x)
		return cond{kind: cExactNumber, f: v}, err
	case bool:
		return cond{kind: cBool, b: x}, nil
	case nil:
		return cond{kind: cNull}, nil
	case map[string]any:
		if len(x) != 1 {
			return cond{}, fail("Match object must have exactly one member")
		}
		for k, v := range x {
			return c.operator(k, v)
		}
	}
	return cond{}, fail("Match value must be String, number, true, false, or null")
}

func (c *compiler) operator(k string, v any) (cond, error) {
	switch k {
	case "prefix", "suffix", "equals-ignore-case":
		kind := map[string]condKind{"prefix": cPrefix, "suffix": cSuffix, "equals-ignore-case": cIgnoreCase}[k]
		s, ok := v.(string)
		if m, isObj := v.(map[string]any); isObj && k != "equals-ignore-case" && !c.o.SNS && len(m) == 1 {
			// EventBridge: {"prefix": {"equals-ignore-case": "x"}}.
			s, ok = m["equals-ignore-case"].(string)
			if ok {
				return cond{kind: kind, s: s, fold: true}, nil
			}
		}
		if !ok {
			return cond{}, fail("%s match pattern must be a string", k)
		}
		return cond{kind: kind, s: s}, nil
	case "wildcard":
		s, ok := v.(string)
		if !ok || c.o.SNS {
			return cond{}, fail("Unrecognized match type %s", k)
		}
		if strings.Contains(s, "**") {
			return cond{}, fail("Consecutive wildcard characters at pos %d", strings.Index(s, "**")+1)
		}
		return cond{kind: cWildcard, s: s}, nil
	case "exists":
		b, ok := v.(bool)
		if !ok {
			return cond{}, fail("exists match pattern must be either true or false.")
		}
		return cond{kind: cExists, b: b}, nil
	case "cidr":
		s, ok := v.(string)
		if !ok {
			return cond{}, fail("cidr match pattern must be a string")
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return cond{}, fail("Malformed CIDR, one '/' required")
		}
		return cond{kind: cCIDR, prefix: p.Masked()}, nil
	case "anything-but":
		return c.anythingBut(v)
	case "numeric":
		return c.numeric(v)
	}
	return cond{}, fail("Unrecognized match type %s", k)
}

func (c *compiler) anythingBut(v any) (cond, error) {
	cd := cond{kind: cAnythingBut}
	add := func(x any) error {
		switch y := x.(type) {
		case string:
			cd.strs = append(cd.strs, y)
		case json.Number:
			f, err := c.number(y)
			if err != nil {
				return err
			}
			cd.nums = append(cd.nums, f)
		default:
			return fail("Inside anything but list, start|null|boolean is not supported.")
		}
		return nil
	}
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return cd, fail("Empty arrays are not allowed")
		}
		for _, e := range x {
			if err := add(e); err != nil {
				return cd, err
			}
		}
		return cd, nil
	case map[string]any:
		if len(x) != 1 {
			return cd, fail("Value of anything-but must be an array or single string/number value.")
		}
		for k, s := range x {
			str, ok := s.(string)
			switch {
			case k == "prefix" && ok:
				return cond{kind: cAnythingButPrefix, s: str}, nil
			case k == "suffix" && ok:
				return cond{kind: cAnythingButSuffix, s: str}, nil
			case k == "prefix" || k == "suffix":
				return cd, fail("%s match pattern must be a string", k)
			case k == "wildcard" && !c.o.SNS:
				// EventBridge: {"anything-but": {"wildcard": "x*" or ["x*", …]}}.
				ws := []any{s}
				if list, isList := s.([]any); isList {
					ws = list
				}
				if len(ws) == 0 {
					return cd, fail("wildcard match pattern must be a string or a non-empty array of strings")
				}
				wc := cond{kind: cAnythingButWildcard}
				for _, w := range ws {
					str, isStr := w.(string)
					if !isStr {
						return cd, fail("wildcard match pattern must be a string or a non-empty array of strings")
					}
					if strings.Contains(str, "**") {
						return cd, fail("Consecutive wildcard characters at pos %d", strings.Index(str, "**")+1)
					}
					wc.strs = append(wc.strs, str)
				}
				return wc, nil
			case k == "equals-ignore-case" && !c.o.SNS:
				// EventBridge: {"anything-but": {"equals-ignore-case": "x" or ["x", …]}}.
				cd.fold = true
				if ok {
					cd.strs = []string{str}
					return cd, nil
				}
				list, isList := s.([]any)
				if !isList || len(list) == 0 {
					return cd, fail("equals-ignore-case match pattern must be a string or a non-empty array of strings")
				}
				for _, e := range list {
					es, isStr := e.(string)
					if !isStr {
						return cd, fail("equals-ignore-case match pattern must be a string or a non-empty array of strings")
					}
					cd.strs = append(cd.strs, es)
				}
				return cd, nil
			}
			return cd, fail("Unsupported anything-but pattern: %s", k)
		}
	}
	if err := add(v); err != nil {
		return cd, fail("Value of anything-but must be an array or single string/number value.")
	}
	return cd, nil
}

func (c *compiler) numeric(v any) (cond, error) {
	items, ok := v.([]any)
	if !ok || len(items) == 0 {
		return cond{}, fail("Value of numeric must be an array.")
	}
	cd := cond{kind: cNumeric}
	for i := 0; i < len(items); i += 2 {
		op, ok := items[i].(string)
		if !ok {
			return cd, fail("Invalid member in numeric match: %v", items[i])
		}
		switch {
		case i == 0 && !slices.Contains([]string{"<", "<=", "=", ">", ">="}, op):
			return cd, fail("Unrecognized numeric range operator: %s", op)
		case i == 2 && cd.ranges[0].op != ">" && cd.ranges[0].op != ">=":
			return cd, fail("Too many elements in numeric expression")
		case i == 2 && op != "<" && op != "<=":
			return cd, fail("Bad numeric range operator: %s", op)
		case i > 2:
			return cd, fail("Too many elements in numeric expression")
		}
		if i+1 >= len(items) {
			return cd, fail("Value of %s must be numeric", op)
		}
		n, ok := items[i+1].(json.Number)
		if !ok {
			return cd, fail("Value of %s must be numeric", op)
		}
		f, err := c.number(n)
		if err != nil {
			return cd, err
		}
		cd.ranges = append(cd.ranges, numOp{op, f})
	}
	if len(cd.ranges) == 2 && cd.ranges[1].v <= cd.ranges[0].v {
		return cd, fail("Bottom must be less than top")
	}
	return cd, nil
}
