package eventpattern

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Attribute is one SNS message attribute as filter policies see it.
type Attribute struct {
	// Type is the DataType: String, String.Array, Number, Binary, or one
	// of them with a custom suffix ("Number.float").
	Type string
	// Value is the StringValue (a JSON array for String.Array).
	Value string
}

// MatchAttributes reports whether SNS message attributes match.
func (p *Pattern) MatchAttributes(attrs map[string]Attribute) bool {
	return p.root.match(func(key string) ([]value, bool) {
		a, ok := attrs[key]
		if !ok {
			return nil, false
		}
		return attributeValues(a)
	})
}

func attributeValues(a Attribute) ([]value, bool) {
	base, _, _ := strings.Cut(a.Type, ".")
	switch {
	case a.Type == "String.Array":
		var items []any
		d := json.NewDecoder(strings.NewReader(a.Value))
		d.UseNumber()
		if d.Decode(&items) != nil {
			return nil, true
		}
		var out []value
		for _, it := range items {
			if v, ok := scalar(it); ok {
				out = append(out, v)
			}
		}
		return out, true
	case base == "Number":
		f, err := strconv.ParseFloat(a.Value, 64)
		if err != nil {
			return nil, true
		}
		return []value{{kind: cExactNumber, f: f}}, true
	case base == "String":
		return []value{{kind: cExactString, s: a.Value}}, true
	}
	return nil, false // Binary: not seen by filter policies
}

// MatchJSON reports whether a JSON document matches. A document that is
// not a JSON object matches only a pattern with no keys.
func (p *Pattern) MatchJSON(doc []byte) bool {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return p.root.empty()
	}
	return p.Match(v)
}

// Match reports whether a decoded JSON document (as encoding/json decodes
// into any, with or without UseNumber) matches.
func (p *Pattern) Match(doc any) bool {
	obj, ok := doc.(map[string]any)
	if !ok {
		return p.root.empty()
	}
	return p.root.matchObject(obj)
}

func (n *node) empty() bool { return len(n.fields) == 0 && len(n.ors) == 0 }

// match applies n with lookup finding the values of a top-level key.
func (n *node) match(lookup func(string) ([]value, bool)) bool {
	for _, f := range n.fields {
		vals, present := lookup(f.key)
		if !f.matchValues(vals, present) {
			return false
		}
	}
	for _, group := range n.ors {
		if !slices.ContainsFunc(group, func(alt *node) bool { return alt.match(lookup) }) {
			return false
		}
	}
	return true
}

func (n *node) matchObject(obj map[string]any) bool {
	return n.matchObjects([]map[string]any{obj})
}

// matchObjects matches n against every object found at one path (arrays
// of objects flatten): a field matches when it matches in one of them.
func (n *node) matchObjects(objs []map[string]any) bool {
	for _, f := range n.fields {
		if f.child != nil {
			var kids []map[string]any
			for _, o := range objs {
				kids = appendObjects(kids, o[f.key])
			}
			if !f.child.matchObjects(kids) {
				return false
			}
			continue
		}
		var vals []value
		present := false
		for _, o := range objs {
			if v, ok := o[f.key]; ok {
				if _, isObj := v.(map[string]any); isObj {
					continue // exists matches leaves only
				}
				present = true
				vals = appendValues(vals, v)
			}
		}
		if !f.matchValues(vals, present) {
			return false
		}
	}
	for _, group := range n.ors {
		if !slices.ContainsFunc(group, func(alt *node) bool { return alt.matchObjects(objs) }) {
			return false
		}
	}
	return true
}

func appendObjects(dst []map[string]any, v any) []map[string]any {
	switch x := v.(type) {
	case map[string]any:
		return append(dst, x)
	case []any:
		for _, e := range x {
			dst = appendObjects(dst, e)
		}
	}
	return dst
}

func appendValues(dst []value, v any) []value {
	if arr, ok := v.([]any); ok {
		for _, e := range arr {
			dst = appendValues(dst, e)
		}
		return dst
	}
	if s, ok := scalar(v); ok {
		dst = append(dst, s)
	}
	return dst
}

func scalar(v any) (value, bool) {
	switch x := v.(type) {
	case string:
		return value{kind: cExactString, s: x}, true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return value{}, false
		}
		return value{kind: cExactNumber, f: f}, true
	case float64:
		return value{kind: cExactNumber, f: x}, true
	case bool:
		return value{kind: cBool, b: x}, true
	case nil:
		return value{kind: cNull}, true
	}
	return value{}, false
}

// matchValues: any condition matches any value; exists looks at presence.
func (f *field) matchValues(vals []value, present bool) bool {
	for i := range f.conds {
		c := &f.conds[i]
		if c.kind == cExists {
			if c.b == present {
				return true
			}
			continue
		}
		for _, v := range vals {
			if c.matches(v) {
				return true
			}
		}
	}
	return false
}

func (c *cond) matches(v value) bool {
	switch c.kind {
	case cExactString:
		return v.kind == cExactString && v.s == c.s
	case cExactNumber:
		return v.kind == cExactNumber && v.f == c.f
	case cBool:
		return v.kind == cBool && v.b == c.b
	case cNull:
		return v.kind == cNull
	case cPrefix:
		if c.fold {
			return v.kind == cExactString && len(v.s) >= len(c.s) && strings.EqualFold(v.s[:len(c.s)], c.s)
		}
		return v.kind == cExactString && strings.HasPrefix(v.s, c.s)
	case cSuffix:
		if c.fold {
			return v.kind == cExactString && len(v.s) >= len(c.s) && strings.EqualFold(v.s[len(v.s)-len(c.s):], c.s)
		}
		return v.kind == cExactString && strings.HasSuffix(v.s, c.s)
	case cIgnoreCase:
		return v.kind == cExactString && strings.EqualFold(v.s, c.s)
	case cAnythingBut:
		switch v.kind {
		case cExactString:
			if c.fold {
				return !slices.ContainsFunc(c.strs, func(x string) bool { return strings.EqualFold(x, v.s) })
			}
			return !slices.Contains(c.strs, v.s)
		case cExactNumber:
			return !slices.Contains(c.nums, v.f)
		}
		return false
	case cAnythingButPrefix:
		return v.kind == cExactString && !strings.HasPrefix(v.s, c.s)
	case cAnythingButSuffix:
		return v.kind == cExactString && !strings.HasSuffix(v.s, c.s)
	case cNumeric:
		if v.kind != cExactNumber {
			return false
		}
		for _, r := range c.ranges {
			if !compare(v.f, r) {
				return false
			}
		}
		return true
	case cCIDR:
		if v.kind != cExactString {
			return false
		}
		ip, err := netip.ParseAddr(v.s)
		return err == nil && c.prefix.Contains(ip.Unmap())
	case cWildcard:
		return v.kind == cExactString && wildcard(c.s, v.s)
	case cAnythingButWildcard:
		return v.kind == cExactString && !slices.ContainsFunc(c.strs, func(w string) bool { return wildcard(w, v.s) })
	}
	return false
}

func compare(x float64, r numOp) bool {
	switch r.op {
	case "<":
		return x < r.v
	case "<=":
		return x <= r.v
	case "=":
		return x == r.v
	case ">":
		return x > r.v
	case ">=":
		return x >= r.v
	}
	return false
}

// wildcard matches s against a pattern where * stands for any run of
// characters.
func wildcard(pat, s string) bool {
	parts := strings.Split(pat, "*")
	if len(parts) == 1 {
		return pat == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}
