package expr

import (
	"bytes"
	"slices"
	"strings"

	"github.com/kumo-run/kumo/internal/services/dynamodb/attr"
)

// Update is a parsed UpdateExpression.
type Update struct {
	Set    []SetAction
	Remove []Path
	Add    []PathValue
	Delete []PathValue
}

// SetAction is path = value.
type SetAction struct {
	Path Path
	Val  *Term
}

// PathValue is an ADD or DELETE action.
type PathValue struct {
	Path  Path
	Value attr.Value
}

// Term is the right side of SET: an operand, a function or arithmetic.
type Term struct {
	Op   string // "" (Operand), "+", "-", "if_not_exists", "list_append"
	Arg  Operand
	L, R *Term
	// if_not_exists(Path, R)
	Path Path
}

// ParseUpdate parses an UpdateExpression.
func ParseUpdate(src string, refs *Refs) (*Update, error) {
	p, err := newParser("UpdateExpression", src, refs)
	if err != nil {
		return nil, err
	}
	u := &Update{}
	seen := map[string]bool{}
	for p.peek().kind != tEOF {
		t := p.peek()
		clause := strings.ToUpper(t.text)
		if t.kind != tIdent || (clause != "SET" && clause != "REMOVE" && clause != "ADD" && clause != "DELETE") {
			return nil, p.unexpected()
		}
		if seen[clause] {
			return nil, p.errf("The \"%s\" section can only be used once in an update expression;", clause)
		}
		seen[clause] = true
		p.i++
		for {
			pa, err := p.path()
			if err != nil {
				return nil, err
			}
			switch clause {
			case "SET":
				if err := p.expectOp("="); err != nil {
					return nil, err
				}
				v, err := p.term()
				if err != nil {
					return nil, err
				}
				u.Set = append(u.Set, SetAction{Path: pa, Val: v})
			case "REMOVE":
				u.Remove = append(u.Remove, pa)
			default:
				t := p.peek()
				if t.kind != tValue {
					return nil, p.unexpected()
				}
				p.i++
				v, err := p.value(t)
				if err != nil {
					return nil, err
				}
				if clause == "ADD" && v.Kind != attr.N && v.Kind != attr.SS && v.Kind != attr.NS && v.Kind != attr.BS {
					return nil, p.errf("Incorrect operand type for operator or function; operator: ADD, operand type: %s", typeName(v.Kind))
				}
				if clause == "DELETE" && v.Kind != attr.SS && v.Kind != attr.NS && v.Kind != attr.BS {
					return nil, p.errf("Incorrect operand type for operator or function; operator: DELETE, operand type: %s", typeName(v.Kind))
				}
				pv := PathValue{Path: pa, Value: v}
				if clause == "ADD" {
					u.Add = append(u.Add, pv)
				} else {
					u.Delete = append(u.Delete, pv)
				}
			}
			if !p.isOp(",") {
				break
			}
			p.i++
		}
	}
	all := u.Paths()
	for i := range all {
		for j := range i {
			if overlaps(all[i], all[j]) {
				if slices.Equal(all[i], all[j]) {
					return nil, p.errf("Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [%s], path two: [%s]", all[j], all[i])
				}
				return nil, p.errf("Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [%s], path two: [%s]", all[j], all[i])
			}
		}
	}
	return u, nil
}

var typeNames = map[attr.Kind]string{attr.S: "STRING", attr.N: "NUMBER", attr.B: "BINARY", attr.BOOL: "BOOLEAN",
	attr.NULL: "NULL", attr.M: "MAP", attr.L: "LIST", attr.SS: "STRING_SET", attr.NS: "NUMBER_SET", attr.BS: "BINARY_SET"}

func typeName(k attr.Kind) string { return typeNames[k] }

// Paths returns the paths the update writes, in clause order.
func (u *Update) Paths() []Path {
	var out []Path
	for _, s := range u.Set {
		out = append(out, s.Path)
	}
	out = append(out, u.Remove...)
	for _, a := range u.Add {
		out = append(out, a.Path)
	}
	for _, d := range u.Delete {
		out = append(out, d.Path)
	}
	return out
}

func (p *parser) term() (*Term, error) {
	l, err := p.termOperand()
	if err != nil {
		return nil, err
	}
	if p.isOp("+") || p.isOp("-") {
		op := p.next().text
		r, err := p.termOperand()
		if err != nil {
			return nil, err
		}
		return &Term{Op: op, L: l, R: r}, nil
	}
	return l, nil
}

func (p *parser) termOperand() (*Term, error) {
	t := p.peek()
	if t.kind == tIdent && p.toks[p.i+1].kind == tOp && p.toks[p.i+1].text == "(" {
		switch t.text {
		case "if_not_exists":
			p.i += 2
			pa, err := p.path()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
			r, err := p.term()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return &Term{Op: "if_not_exists", Path: pa, R: r}, nil
		case "size":
			return nil, p.errf("The function is not allowed in an update expression; function: size")
		case "list_append":
			p.i += 2
			l, err := p.term()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
			r, err := p.term()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return &Term{Op: "list_append", L: l, R: r}, nil
		}
		return nil, p.errf("Invalid function name; function: %s", t.text)
	}
	o, err := p.operand()
	if err != nil {
		return nil, err
	}
	if o.Size {
		return nil, p.errf("The function is not allowed in an update expression; function: size")
	}
	return &Term{Arg: o}, nil
}

func updateErr(format string, args ...any) error {
	return &Error{Msg: "Invalid UpdateExpression: " + sprintf(format, args...)}
}

func (t *Term) eval(it attr.Item) (attr.Value, error) {
	switch t.Op {
	case "":
		v, ok := t.Arg.eval(it)
		if !ok {
			return attr.Value{}, &Error{Msg: "The provided expression refers to an attribute that does not exist in the item"}
		}
		return v, nil
	case "if_not_exists":
		if v, ok := Get(it, t.Path); ok {
			return v, nil
		}
		return t.R.eval(it)
	case "list_append":
		l, err := t.L.eval(it)
		if err != nil {
			return l, err
		}
		r, err := t.R.eval(it)
		if err != nil {
			return r, err
		}
		if l.Kind != attr.L || r.Kind != attr.L {
			bad := l
			if l.Kind == attr.L {
				bad = r
			}
			return attr.Value{}, updateErr("Incorrect operand type for operator or function; operator or function: list_append, operand type: %s", typeName(bad.Kind))
		}
		return attr.Value{Kind: attr.L, L: append(slices.Clone(l.L), r.L...)}, nil
	}
	l, err := t.L.eval(it)
	if err != nil {
		return l, err
	}
	r, err := t.R.eval(it)
	if err != nil {
		return r, err
	}
	if l.Kind != attr.N || r.Kind != attr.N {
		bad := l
		if l.Kind == attr.N {
			bad = r
		}
		return attr.Value{}, updateErr("Incorrect operand type for operator or function; operator or function: %s, operand type: %s", t.Op, typeName(bad.Kind))
	}
	n, err := attr.Add(l.N, r.N, t.Op == "-")
	if err != nil {
		return attr.Value{}, err
	}
	return attr.Num(n), nil
}

// Apply returns the item the update makes of old (nil: no item yet). All
// right-hand sides are evaluated on old, as DynamoDB does. key names the
// key attributes, which may not be changed.
func (u *Update) Apply(old attr.Item, key []string) (attr.Item, error) {
	for _, pa := range u.Paths() {
		if len(pa) == 1 && slices.Contains(key, pa[0].Name) {
			return nil, &Error{Msg: "One or more parameter values were invalid: Cannot update attribute " + pa[0].Name + ". This attribute is part of the key"}
		}
	}
	vals := make([]attr.Value, len(u.Set))
	for i, s := range u.Set {
		v, err := s.Val.eval(old)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	it := attr.Clone(old)
	if it == nil {
		it = attr.Item{}
	}
	for i, s := range u.Set {
		if err := put(it, s.Path, vals[i]); err != nil {
			return nil, err
		}
	}
	// REMOVE of list elements: highest index first, so that indexes refer to old.
	rem := slices.Clone(u.Remove)
	slices.SortStableFunc(rem, func(a, b Path) int {
		if len(a) == len(b) && a[len(a)-1].Index >= 0 && b[len(b)-1].Index >= 0 {
			return b[len(b)-1].Index - a[len(a)-1].Index
		}
		return 0
	})
	for _, pa := range rem {
		remove(it, pa)
	}
	for _, a := range u.Add {
		cur, ok := Get(it, a.Path)
		if !ok {
			if err := put(it, a.Path, a.Value); err != nil {
				return nil, err
			}
			continue
		}
		if cur.Kind != a.Value.Kind {
			return nil, updateErr("Incorrect operand type for operator or function; operator: ADD, operand type: %s, typeSet: ALLOWED_FOR_ADD_OPERAND", typeName(cur.Kind))
		}
		var nv attr.Value
		switch cur.Kind {
		case attr.N:
			n, err := attr.Add(cur.N, a.Value.N, false)
			if err != nil {
				return nil, err
			}
			nv = attr.Num(n)
		case attr.SS:
			nv = attr.Value{Kind: attr.SS, SS: union(cur.SS, a.Value.SS, func(x, y string) bool { return x == y })}
		case attr.NS:
			nv = attr.Value{Kind: attr.NS, NS: union(cur.NS, a.Value.NS, func(x, y string) bool { return attr.CompareNumbers(x, y) == 0 })}
		case attr.BS:
			nv = attr.Value{Kind: attr.BS, BS: union(cur.BS, a.Value.BS, bytes.Equal)}
		}
		if err := put(it, a.Path, nv); err != nil {
			return nil, err
		}
	}
	for _, d := range u.Delete {
		cur, ok := Get(it, d.Path)
		if !ok {
			continue
		}
		if cur.Kind != d.Value.Kind {
			return nil, updateErr("Incorrect operand type for operator or function; operator: DELETE, operand type: %s, typeSet: ALLOWED_FOR_DELETE_OPERAND", typeName(cur.Kind))
		}
		var nv attr.Value
		var n int
		switch cur.Kind {
		case attr.SS:
			nv = attr.Value{Kind: attr.SS, SS: minus(cur.SS, d.Value.SS, func(x, y string) bool { return x == y })}
			n = len(nv.SS)
		case attr.NS:
			nv = attr.Value{Kind: attr.NS, NS: minus(cur.NS, d.Value.NS, func(x, y string) bool { return attr.CompareNumbers(x, y) == 0 })}
			n = len(nv.NS)
		case attr.BS:
			nv = attr.Value{Kind: attr.BS, BS: minus(cur.BS, d.Value.BS, bytes.Equal)}
			n = len(nv.BS)
		}
		if n == 0 {
			remove(it, d.Path)
			continue
		}
		if err := put(it, d.Path, nv); err != nil {
			return nil, err
		}
	}
	return it, nil
}

func union[T any](a, b []T, eq func(x, y T) bool) []T {
	out := slices.Clone(a)
	for _, y := range b {
		if !slices.ContainsFunc(out, func(x T) bool { return eq(x, y) }) {
			out = append(out, y)
		}
	}
	return out
}

func minus[T any](a, b []T, eq func(x, y T) bool) []T {
	var out []T
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y T) bool { return eq(x, y) }) {
			out = append(out, x)
		}
	}
	return out
}

var errBadPath = &Error{Msg: "The document path provided in the update expression is invalid for update"}

// put sets path to v in it, copying the containers on the way (values
// are shared with the old item and must not change).
func put(it attr.Item, p Path, v attr.Value) error {
	if len(p) == 1 {
		it[p[0].Name] = v
		return nil
	}
	root, ok := it[p[0].Name]
	if !ok {
		return errBadPath
	}
	nv, err := putIn(root, p[1:], v)
	if err != nil {
		return err
	}
	it[p[0].Name] = nv
	return nil
}

func putIn(c attr.Value, p Path, v attr.Value) (attr.Value, error) {
	s := p[0]
	if s.Index >= 0 {
		if c.Kind != attr.L {
			return c, errBadPath
		}
		l := slices.Clone(c.L)
		if len(p) == 1 {
			if s.Index >= len(l) {
				l = append(l, v)
			} else {
				l[s.Index] = v
			}
			return attr.Value{Kind: attr.L, L: l}, nil
		}
		if s.Index >= len(l) {
			return c, errBadPath
		}
		nv, err := putIn(l[s.Index], p[1:], v)
		if err != nil {
			return c, err
		}
		l[s.Index] = nv
		return attr.Value{Kind: attr.L, L: l}, nil
	}
	if c.Kind != attr.M {
		return c, errBadPath
	}
	m := make(map[string]attr.Value, len(c.M)+1)
	for k, x := range c.M {
		m[k] = x
	}
	if len(p) == 1 {
		m[s.Name] = v
		return attr.Value{Kind: attr.M, M: m}, nil
	}
	child, ok := m[s.Name]
	if !ok {
		return c, errBadPath
	}
	nv, err := putIn(child, p[1:], v)
	if err != nil {
		return c, err
	}
	m[s.Name] = nv
	return attr.Value{Kind: attr.M, M: m}, nil
}

// remove deletes path from it; a missing path is not an error.
func remove(it attr.Item, p Path) {
	if len(p) == 1 {
		delete(it, p[0].Name)
		return
	}
	root, ok := it[p[0].Name]
	if !ok {
		return
	}
	if nv, ok := removeIn(root, p[1:]); ok {
		it[p[0].Name] = nv
	}
}

func removeIn(c attr.Value, p Path) (attr.Value, bool) {
	s := p[0]
	if s.Index >= 0 {
		if c.Kind != attr.L || s.Index >= len(c.L) {
			return c, false
		}
		l := slices.Clone(c.L)
		if len(p) == 1 {
			return attr.Value{Kind: attr.L, L: slices.Delete(l, s.Index, s.Index+1)}, true
		}
		nv, ok := removeIn(l[s.Index], p[1:])
		if !ok {
			return c, false
		}
		l[s.Index] = nv
		return attr.Value{Kind: attr.L, L: l}, true
	}
	if c.Kind != attr.M {
		return c, false
	}
	child, ok := c.M[s.Name]
	if !ok {
		return c, false
	}
	m := make(map[string]attr.Value, len(c.M))
	for k, x := range c.M {
		m[k] = x
	}
	if len(p) == 1 {
		delete(m, s.Name)
		return attr.Value{Kind: attr.M, M: m}, true
	}
	nv, ok := removeIn(child, p[1:])
	if !ok {
		return c, false
	}
	m[s.Name] = nv
	return attr.Value{Kind: attr.M, M: m}, true
}

// Project returns the parts of it the paths name, nested as in it. A list
// element keeps its place among the projected ones (a[2] of a list
// becomes the first element of the projected list, as DynamoDB does).
func Project(it attr.Item, paths []Path) attr.Item {
	if it == nil {
		return nil
	}
	out := attr.Item{}
	for _, p := range paths {
		v, ok := Get(it, p)
		if !ok {
			continue
		}
		if len(p) == 1 {
			out[p[0].Name] = v
			continue
		}
		root, had := out[p[0].Name]
		if !had {
			root = skeleton(p[1])
		}
		out[p[0].Name] = merge(root, p[1:], v)
	}
	return out
}

func skeleton(s Step) attr.Value {
	if s.Index >= 0 {
		return attr.Value{Kind: attr.L}
	}
	return attr.Value{Kind: attr.M, M: map[string]attr.Value{}}
}

func merge(c attr.Value, p Path, v attr.Value) attr.Value {
	s := p[0]
	if s.Index >= 0 {
		// projected list elements are appended in the order met
		if len(p) == 1 {
			return attr.Value{Kind: attr.L, L: append(slices.Clone(c.L), v)}
		}
		return attr.Value{Kind: attr.L, L: append(slices.Clone(c.L), merge(skeleton(p[1]), p[1:], v))}
	}
	m := map[string]attr.Value{}
	for k, x := range c.M {
		m[k] = x
	}
	if len(p) == 1 {
		m[s.Name] = v
	} else {
		child, ok := m[s.Name]
		if !ok {
			child = skeleton(p[1])
		}
		m[s.Name] = merge(child, p[1:], v)
	}
	return attr.Value{Kind: attr.M, M: m}
}
