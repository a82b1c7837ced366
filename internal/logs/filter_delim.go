package logs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Space-delimited patterns, as CloudWatch Logs documents them:
//
//	[ip, user, username, timestamp, request, status_code=4*, bytes>1000]
//	[..., status_code = 404 || status_code = 410, bytes]
//
// A message is split into fields at spaces; text between double quotes
// or square brackets is one field (without its quotes or brackets). The
// pattern lists the fields by name, "..." standing for any number of
// them; without "..." a message must have exactly as many fields as the
// pattern. A field may carry conditions on its own value or others':
// = and != (strings with * wildcards, or numbers), <, <=, > and >=
// (numbers), joined with && and ||, && binding tighter.

// delimPattern is a parsed space-delimited pattern.
type delimPattern struct {
	fields []delimField
	conds  []delimExpr // all must hold
}

type delimField struct {
	name     string // "" for "..."
	ellipsis bool
}

// delimExpr is a condition on named fields.
type delimExpr interface {
	eval(vals map[string]string) bool
}

type delimAnd struct{ l, r delimExpr }
type delimOr struct{ l, r delimExpr }

func (e delimAnd) eval(v map[string]string) bool { return e.l.eval(v) && e.r.eval(v) }
func (e delimOr) eval(v map[string]string) bool  { return e.l.eval(v) || e.r.eval(v) }

// delimCmp compares a field with a literal.
type delimCmp struct {
	field string
	op    string // = != < <= > >=
	str   string
	num   float64
	isNum bool
}

func (c delimCmp) eval(vals map[string]string) bool {
	v, ok := vals[c.field]
	if !ok {
		return false
	}
	if c.isNum {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return c.op == "!=" && v != c.str
		}
		switch c.op {
		case "=":
			return f == c.num
		case "!=":
			return f != c.num
		case "<":
			return f < c.num
		case "<=":
			return f <= c.num
		case ">":
			return f > c.num
		case ">=":
			return f >= c.num
		}
		return false
	}
	eq := wildcard(c.str, v)
	if c.op == "!=" {
		return !eq
	}
	return eq
}

// maxDelimFields bounds the fields of a pattern.
const maxDelimFields = 100

func parseDelim(s string) (*delimPattern, error) {
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, errors.New("a space-delimited pattern is enclosed in [ ]")
	}
	body := s[1 : len(s)-1]
	parts, err := splitTop(body)
	if err != nil {
		return nil, err
	}
	if len(parts) > maxDelimFields {
		return nil, fmt.Errorf("more than %d fields", maxDelimFields)
	}
	dp := &delimPattern{}
	seen := map[string]bool{}
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("field %d is empty", i+1)
		}
		if p == "..." {
			dp.fields = append(dp.fields, delimField{ellipsis: true})
			continue
		}
		name := p
		if j := strings.IndexAny(p, "=!<>&|"); j >= 0 {
			name = strings.TrimSpace(p[:j])
		}
		if !validFieldName(name) {
			return nil, fmt.Errorf("invalid field name %q", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("field %s named twice", name)
		}
		seen[name] = true
		dp.fields = append(dp.fields, delimField{name: name})
		if name != p {
			e, err := parseDelimExpr(p, name)
			if err != nil {
				return nil, err
			}
			dp.conds = append(dp.conds, e)
		}
	}
	if len(dp.fields) == 0 {
		return nil, errors.New("a space-delimited pattern names at least one field")
	}
	return dp, nil
}

func validFieldName(n string) bool {
	if n == "" {
		return false
	}
	for _, r := range n {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// splitTop splits a pattern's body at commas outside double quotes.
func splitTop(s string) ([]string, error) {
	var out []string
	start, inQuote := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if inQuote {
				i++
			}
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if inQuote {
		return nil, errors.New("unterminated quoted string")
	}
	return append(out, s[start:]), nil
}

// parseDelimExpr parses one field's conditions: "status_code = 4* ||
// status_code = 5*". A condition without a field name before its
// operator is on the field itself.
func parseDelimExpr(s, self string) (delimExpr, error) {
	p := &delimParser{s: s, self: self}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.s) {
		return nil, fmt.Errorf("unexpected %q in field %s", p.s[p.pos:], self)
	}
	return e, nil
}

type delimParser struct {
	s    string
	pos  int
	self string
}

func (p *delimParser) space() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

func (p *delimParser) or() (delimExpr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for {
		p.space()
		if !strings.HasPrefix(p.s[p.pos:], "||") {
			return l, nil
		}
		p.pos += 2
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = delimOr{l, r}
	}
}

func (p *delimParser) and() (delimExpr, error) {
	l, err := p.cmp()
	if err != nil {
		return nil, err
	}
	for {
		p.space()
		if !strings.HasPrefix(p.s[p.pos:], "&&") {
			return l, nil
		}
		p.pos += 2
		r, err := p.cmp()
		if err != nil {
			return nil, err
		}
		l = delimAnd{l, r}
	}
}

func (p *delimParser) cmp() (delimExpr, error) {
	p.space()
	start := p.pos
	for p.pos < len(p.s) && strings.IndexByte(" \t=!<>&|\"", p.s[p.pos]) < 0 {
		p.pos++
	}
	name := p.s[start:p.pos]
	if name == "" {
		name = p.self
	} else if !validFieldName(name) {
		return nil, fmt.Errorf("invalid field name %q", name)
	}
	p.space()
	var op string
	for _, o := range []string{"!=", "<=", ">=", "=", "<", ">"} {
		if strings.HasPrefix(p.s[p.pos:], o) {
			op = o
			break
		}
	}
	if op == "" {
		return nil, fmt.Errorf("expected an operator after %s", name)
	}
	p.pos += len(op)
	p.space()
	c := delimCmp{field: name, op: op}
	if p.pos < len(p.s) && p.s[p.pos] == '"' {
		str, n, err := readQuoted(p.s[p.pos:])
		if err != nil {
			return nil, err
		}
		p.pos += n
		c.str = str
	} else {
		start := p.pos
		for p.pos < len(p.s) && strings.IndexByte(" \t&|", p.s[p.pos]) < 0 {
			p.pos++
		}
		c.str = p.s[start:p.pos]
		if c.str == "" {
			return nil, fmt.Errorf("expected a value after %s %s", name, op)
		}
		if f, err := strconv.ParseFloat(c.str, 64); err == nil {
			c.num, c.isNum = f, true
		}
	}
	if !c.isNum && op != "=" && op != "!=" {
		return nil, fmt.Errorf("%s compares numbers only", op)
	}
	return c, nil
}

// splitFields splits a message into space-delimited fields; text between
// double quotes or square brackets is one field, without them.
func splitFields(msg string) []string {
	var out []string
	for i := 0; i < len(msg); {
		switch msg[i] {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		case '"', '[':
			end := byte('"')
			if msg[i] == '[' {
				end = ']'
			}
			if j := strings.IndexByte(msg[i+1:], end); j >= 0 {
				out = append(out, msg[i+1:i+1+j])
				i += j + 2
				continue
			}
		}
		j := i
		for j < len(msg) && strings.IndexByte(" \t\n\r", msg[j]) < 0 {
			j++
		}
		out = append(out, msg[i:j])
		i = j
	}
	return out
}

// bind assigns the message's fields to the pattern's; ok is false when
// they cannot line up. Fields before the first "..." take the message's
// first fields, those after the last one its last fields, and those
// between two take the leftmost fields that leave room for the rest.
func (dp *delimPattern) bind(fields []string) (map[string]string, bool) {
	vals := map[string]string{}
	set := func(pi, fi int) {
		vals[dp.fields[pi].name] = fields[fi]
		vals["$"+strconv.Itoa(pi+1)] = fields[fi]
	}
	first, last := -1, -1
	named := 0
	for i, f := range dp.fields {
		if f.ellipsis {
			if first < 0 {
				first = i
			}
			last = i
		} else {
			named++
		}
	}
	if first < 0 {
		if len(fields) != len(dp.fields) {
			return nil, false
		}
		for i := range dp.fields {
			set(i, i)
		}
		return vals, true
	}
	if len(fields) < named {
		return nil, false
	}
	for i := 0; i < first; i++ {
		set(i, i)
	}
	tail := len(dp.fields) - 1 - last
	for i := 0; i < tail; i++ {
		set(last+1+i, len(fields)-tail+i)
	}
	fi := first
	for i := first + 1; i < last; i++ {
		if !dp.fields[i].ellipsis {
			set(i, fi)
			fi++
		}
	}
	return vals, true
}

func (dp *delimPattern) match(msg string) (map[string]string, bool) {
	vals, ok := dp.bind(splitFields(msg))
	if !ok {
		return nil, false
	}
	for _, c := range dp.conds {
		if !c.eval(vals) {
			return nil, false
		}
	}
	return vals, true
}
