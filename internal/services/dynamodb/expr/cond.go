package expr

import (
	"bytes"
	"strings"

	"github.com/kumo-run/kumo/internal/services/dynamodb/attr"
)

// Operand is a value in an expression: a path, a :value, or size(path).
type Operand struct {
	Path  Path
	Value *attr.Value
	Size  bool // size(Path)
}

// Cond is a parsed condition.
type Cond struct {
	Op   string // AND OR NOT = <> < <= > >= BETWEEN IN or a function name
	L, R *Cond
	Args []Operand
}

// ParseCond parses a condition; what names the expression in messages
// ("ConditionExpression", "FilterExpression", "KeyConditionExpression").
func ParseCond(what, src string, refs *Refs) (*Cond, error) {
	p, err := newParser(what, src, refs)
	if err != nil {
		return nil, err
	}
	c, err := p.or()
	if err != nil {
		return nil, err
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	return c, nil
}

func (p *parser) or() (*Cond, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("OR") {
		p.i++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &Cond{Op: "OR", L: l, R: r}
	}
	return l, nil
}

func (p *parser) and() (*Cond, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("AND") {
		p.i++
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = &Cond{Op: "AND", L: l, R: r}
	}
	return l, nil
}

func (p *parser) not() (*Cond, error) {
	if p.isKeyword("NOT") {
		p.i++
		c, err := p.not()
		if err != nil {
			return nil, err
		}
		return &Cond{Op: "NOT", L: c}, nil
	}
	return p.primary()
}

var functions = map[string]int{ // name → argument count
	"attribute_exists": 1, "attribute_not_exists": 1, "attribute_type": 2,
	"begins_with": 2, "contains": 2,
}

func (p *parser) primary() (*Cond, error) {
	if p.isOp("(") {
		p.i++
		c, err := p.or()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return c, nil
	}
	t := p.peek()
	if t.kind == tIdent && p.toks[p.i+1].kind == tOp && p.toks[p.i+1].text == "(" {
		name := strings.ToLower(t.text)
		if n, ok := functions[t.text]; ok {
			p.i += 2
			args, err := p.args()
			if err != nil {
				return nil, err
			}
			if len(args) != n {
				return nil, p.errf("Incorrect number of operands for operator or function; operator or function: %s, number of operands: %d", t.text, len(args))
			}
			if args[0].Path == nil || args[0].Size {
				return nil, p.errf("Operator or function requires a document path; operator or function: %s", t.text)
			}
			if t.text == "attribute_type" {
				if args[1].Value == nil || args[1].Value.Kind != attr.S {
					return nil, p.errf("Incorrect operand type for operator or function; operator or function: attribute_type, operand type: %s", kindOf(args[1]))
				}
				if !validType(args[1].Value.S) {
					return nil, p.errf("Invalid type: %s", args[1].Value.S)
				}
			}
			return &Cond{Op: t.text, Args: args}, nil
		}
		if name != "size" {
			return nil, p.errf("Invalid function name; function: %s", t.text)
		}
	}
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	switch {
	case p.isKeyword("BETWEEN"):
		p.i++
		lo, err := p.operand()
		if err != nil {
			return nil, err
		}
		if !p.isKeyword("AND") {
			return nil, p.unexpected()
		}
		p.i++
		hi, err := p.operand()
		if err != nil {
			return nil, err
		}
		if lo.Value != nil && hi.Value != nil {
			if lo.Value.Kind != hi.Value.Kind || attr.Compare(*lo.Value, *hi.Value) > 0 {
				return nil, p.errf("The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {%s}, upper bound operand: AttributeValue: {%s}", show(*lo.Value), show(*hi.Value))
			}
		}
		return &Cond{Op: "BETWEEN", Args: []Operand{l, lo, hi}}, nil
	case p.isKeyword("IN"):
		p.i++
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		args, err := p.args()
		if err != nil {
			return nil, err
		}
		if len(args) > 100 {
			return nil, p.errf("The IN operator is provided with too many operands; number of operands: %d", len(args))
		}
		return &Cond{Op: "IN", Args: append([]Operand{l}, args...)}, nil
	}
	t = p.peek()
	if t.kind == tOp {
		switch t.text {
		case "=", "<>", "<", "<=", ">", ">=":
			p.i++
			r, err := p.operand()
			if err != nil {
				return nil, err
			}
			return &Cond{Op: t.text, Args: []Operand{l, r}}, nil
		}
	}
	return nil, p.unexpected()
}

func validType(s string) bool {
	switch attr.Kind(s) {
	case attr.S, attr.N, attr.B, attr.BOOL, attr.NULL, attr.M, attr.L, attr.SS, attr.NS, attr.BS:
		return true
	}
	return false
}

func kindOf(o Operand) string {
	if o.Value != nil {
		return string(o.Value.Kind)
	}
	return "PATH"
}

func show(v attr.Value) string {
	b, _ := v.MarshalJSON()
	s := strings.Trim(string(b), "{}")
	return strings.Replace(strings.ReplaceAll(s, `"`, ""), ":", ",", 1)
}

// args parses operands up to and including ")".
func (p *parser) args() ([]Operand, error) {
	var out []Operand
	for {
		o, err := p.operand()
		if err != nil {
			return nil, err
		}
		out = append(out, o)
		if p.isOp(",") {
			p.i++
			continue
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return out, nil
	}
}

func (p *parser) operand() (Operand, error) {
	t := p.peek()
	switch {
	case t.kind == tValue:
		p.i++
		v, err := p.value(t)
		if err != nil {
			return Operand{}, err
		}
		return Operand{Value: &v}, nil
	case t.kind == tIdent && strings.EqualFold(t.text, "size") && p.toks[p.i+1].kind == tOp && p.toks[p.i+1].text == "(":
		p.i += 2
		pa, err := p.path()
		if err != nil {
			return Operand{}, err
		}
		if err := p.expectOp(")"); err != nil {
			return Operand{}, err
		}
		return Operand{Path: pa, Size: true}, nil
	case t.kind == tIdent && p.toks[p.i+1].kind == tOp && p.toks[p.i+1].text == "(":
		return Operand{}, p.errf("Invalid function name; function: %s", t.text)
	case t.kind == tIdent || t.kind == tName:
		pa, err := p.path()
		if err != nil {
			return Operand{}, err
		}
		return Operand{Path: pa}, nil
	}
	return Operand{}, p.unexpected()
}

// Get resolves a path in an item.
func Get(it attr.Item, p Path) (attr.Value, bool) {
	if len(p) == 0 || it == nil {
		return attr.Value{}, false
	}
	v, ok := it[p[0].Name]
	if !ok || p[0].Index >= 0 {
		return attr.Value{}, false
	}
	for _, s := range p[1:] {
		if s.Index >= 0 {
			if v.Kind != attr.L || s.Index >= len(v.L) {
				return attr.Value{}, false
			}
			v = v.L[s.Index]
			continue
		}
		if v.Kind != attr.M {
			return attr.Value{}, false
		}
		v, ok = v.M[s.Name]
		if !ok {
			return attr.Value{}, false
		}
	}
	return v, true
}

func (o Operand) eval(it attr.Item) (attr.Value, bool) {
	if o.Value != nil {
		return *o.Value, true
	}
	v, ok := Get(it, o.Path)
	if !ok || !o.Size {
		return v, ok
	}
	var n int
	switch v.Kind {
	case attr.S:
		n = len(v.S)
	case attr.B:
		n = len(v.B)
	case attr.L:
		n = len(v.L)
	case attr.M:
		n = len(v.M)
	case attr.SS:
		n = len(v.SS)
	case attr.NS:
		n = len(v.NS)
	case attr.BS:
		n = len(v.BS)
	default:
		return attr.Value{}, false
	}
	return attr.Num(itoa(n)), true
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// Eval evaluates c on an item (nil when there is none): a missing
// attribute makes a comparison false.
func (c *Cond) Eval(it attr.Item) bool {
	switch c.Op {
	case "AND":
		return c.L.Eval(it) && c.R.Eval(it)
	case "OR":
		return c.L.Eval(it) || c.R.Eval(it)
	case "NOT":
		return !c.L.Eval(it)
	case "attribute_exists":
		_, ok := Get(it, c.Args[0].Path)
		return ok
	case "attribute_not_exists":
		_, ok := Get(it, c.Args[0].Path)
		return !ok
	case "attribute_type":
		v, ok := Get(it, c.Args[0].Path)
		return ok && string(v.Kind) == c.Args[1].Value.S
	}
	a, ok := c.Args[0].eval(it)
	if !ok {
		return false
	}
	switch c.Op {
	case "begins_with":
		b, ok := c.Args[1].eval(it)
		if !ok || a.Kind != b.Kind {
			return false
		}
		switch a.Kind {
		case attr.S:
			return strings.HasPrefix(a.S, b.S)
		case attr.B:
			return bytes.HasPrefix(a.B, b.B)
		}
		return false
	case "contains":
		b, ok := c.Args[1].eval(it)
		if !ok {
			return false
		}
		return contains(a, b)
	case "BETWEEN":
		lo, ok1 := c.Args[1].eval(it)
		hi, ok2 := c.Args[2].eval(it)
		return ok1 && ok2 && scalar(a) && a.Kind == lo.Kind && a.Kind == hi.Kind &&
			attr.Compare(a, lo) >= 0 && attr.Compare(a, hi) <= 0
	case "IN":
		for _, o := range c.Args[1:] {
			if b, ok := o.eval(it); ok && attr.Equal(a, b) {
				return true
			}
		}
		return false
	}
	b, ok := c.Args[1].eval(it)
	if !ok {
		return false
	}
	switch c.Op {
	case "=":
		return attr.Equal(a, b)
	case "<>":
		return !attr.Equal(a, b)
	}
	if !scalar(a) || a.Kind != b.Kind {
		return false
	}
	n := attr.Compare(a, b)
	switch c.Op {
	case "<":
		return n < 0
	case "<=":
		return n <= 0
	case ">":
		return n > 0
	case ">=":
		return n >= 0
	}
	return false
}

func scalar(v attr.Value) bool { return v.Kind == attr.S || v.Kind == attr.N || v.Kind == attr.B }

func contains(a, b attr.Value) bool {
	switch a.Kind {
	case attr.S:
		return b.Kind == attr.S && strings.Contains(a.S, b.S)
	case attr.B:
		return b.Kind == attr.B && bytes.Contains(a.B, b.B)
	case attr.SS:
		return b.Kind == attr.S && containsFn(a.SS, func(s string) bool { return s == b.S })
	case attr.NS:
		return b.Kind == attr.N && containsFn(a.NS, func(s string) bool { return attr.CompareNumbers(s, b.N) == 0 })
	case attr.BS:
		return b.Kind == attr.B && containsFn(a.BS, func(s []byte) bool { return bytes.Equal(s, b.B) })
	case attr.L:
		return containsFn(a.L, func(v attr.Value) bool { return attr.Equal(v, b) })
	}
	return false
}

func containsFn[T any](xs []T, f func(T) bool) bool {
	for _, x := range xs {
		if f(x) {
			return true
		}
	}
	return false
}

// Paths returns every document path c reads.
func (c *Cond) Paths() []Path {
	if c == nil {
		return nil
	}
	out := append(c.L.Paths(), c.R.Paths()...)
	for _, a := range c.Args {
		if a.Path != nil {
			out = append(out, a.Path)
		}
	}
	return out
}
