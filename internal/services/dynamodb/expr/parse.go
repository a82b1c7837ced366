// Package expr parses and evaluates DynamoDB's expressions:
// ConditionExpression, FilterExpression, KeyConditionExpression,
// UpdateExpression and ProjectionExpression, with their
// ExpressionAttributeNames and ExpressionAttributeValues. Parsing resolves
// every #name and :value and records which were used, so a request can
// refuse unused ones as DynamoDB does. The package is pure: no I/O, no
// clocks; an expression is immutable once parsed and safe to share.
//
// An attribute name in an expression that is one of DynamoDB's reserved
// words (reserved.txt, the list of the DynamoDB Developer Guide's
// "Reserved words in DynamoDB", any case) is refused as DynamoDB refuses
// it: it must be given through ExpressionAttributeNames.
package expr

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/kumo-run/kumo/internal/services/dynamodb/attr"
)

// Error is an invalid expression; Msg is DynamoDB's message.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// Refs are a request's ExpressionAttributeNames and Values, and which of
// them the expressions parsed with it used.
type Refs struct {
	Names      map[string]string
	Values     map[string]attr.Value
	usedNames  map[string]bool
	usedValues map[string]bool
}

// Unused returns DynamoDB's error for names or values no expression used,
// or nil.
func (r *Refs) Unused() error {
	var ns, vs []string
	for k := range r.Names {
		if !r.usedNames[k] {
			ns = append(ns, k)
		}
	}
	for k := range r.Values {
		if !r.usedValues[k] {
			vs = append(vs, k)
		}
	}
	if len(ns) > 0 {
		return &Error{Msg: "Value provided in ExpressionAttributeNames unused in expressions: keys: {" + strings.Join(sorted(ns), ", ") + "}"}
	}
	if len(vs) > 0 {
		return &Error{Msg: "Value provided in ExpressionAttributeValues unused in expressions: keys: {" + strings.Join(sorted(vs), ", ") + "}"}
	}
	return nil
}

func sorted(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// Step is one element of a document path: a name or a list index.
type Step struct {
	Name  string
	Index int // -1 for a name
}

// Path is a document path, a.b[0].c.
type Path []Step

func (p Path) String() string {
	var b strings.Builder
	for i, s := range p {
		if s.Index >= 0 {
			fmt.Fprintf(&b, "[%d]", s.Index)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.Name)
	}
	return b.String()
}

// MaxLen is DynamoDB's limit on an expression's length: 4 KB.
const MaxLen = 4096

// tokens

type tkind int

const (
	tEOF tkind = iota
	tIdent
	tName  // #name
	tValue // :value
	tNumber
	tOp // = <> < <= > >= + - , . ( ) [ ]
)

type token struct {
	kind tkind
	text string
	pos  int
}

func lex(src string) ([]token, error) {
	var out []token
	i := 0
	for i < len(src) {
		c := rune(src[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '#' || c == ':':
			j := i + 1
			for j < len(src) && isIdent(rune(src[j])) {
				j++
			}
			if j == i+1 {
				return nil, syntax(src, i, src[i:i+1])
			}
			k := tName
			if c == ':' {
				k = tValue
			}
			out = append(out, token{k, src[i:j], i})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			out = append(out, token{tNumber, src[i:j], i})
			i = j
		case isIdent(c):
			j := i
			for j < len(src) && isIdent(rune(src[j])) {
				j++
			}
			out = append(out, token{tIdent, src[i:j], i})
			i = j
		case strings.ContainsRune("=+-,.()[]", c):
			out = append(out, token{tOp, src[i : i+1], i})
			i++
		case c == '<':
			if i+1 < len(src) && (src[i+1] == '=' || src[i+1] == '>') {
				out = append(out, token{tOp, src[i : i+2], i})
				i += 2
			} else {
				out = append(out, token{tOp, "<", i})
				i++
			}
		case c == '>':
			if i+1 < len(src) && src[i+1] == '=' {
				out = append(out, token{tOp, ">=", i})
				i += 2
			} else {
				out = append(out, token{tOp, ">", i})
				i++
			}
		default:
			from := i
			if len(out) > 0 {
				from = out[len(out)-1].pos
			}
			return nil, &Error{Msg: fmt.Sprintf("Syntax error; token: \"%c\", near: %q", c, src[from:i+1])}
		}
	}
	return append(out, token{tEOF, "<EOF>", len(src)}), nil
}

func isIdent(c rune) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func near(src string, i int) string {
	a, b := max(0, i-8), min(len(src), i+8)
	return src[a:b]
}

func syntax(src string, pos int, tok string) error {
	return &Error{Msg: fmt.Sprintf("Syntax error; token: %q, near: %q", tok, near(src, pos))}
}

type parser struct {
	src  string
	toks []token
	i    int
	refs *Refs
	what string // "ConditionExpression", for messages
}

func newParser(what, src string, refs *Refs) (*parser, error) {
	if refs == nil {
		refs = &Refs{}
	}
	if refs.usedNames == nil {
		refs.usedNames, refs.usedValues = map[string]bool{}, map[string]bool{}
	}
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Msg: "Invalid " + what + ": The expression can not be empty;"}
	}
	if len(src) > MaxLen {
		return nil, &Error{Msg: "Invalid " + what + ": Expression size has exceeded the maximum allowed size; expression size: " + strconv.Itoa(len(src))}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, &Error{Msg: "Invalid " + what + ": " + err.Error()}
	}
	return &parser{src: src, toks: toks, refs: refs, what: what}, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) errf(format string, args ...any) error {
	return &Error{Msg: "Invalid " + p.what + ": " + fmt.Sprintf(format, args...)}
}

// unexpected is DynamoDB's syntax error: the offending token, and near it
// the source from the token before it through it.
func (p *parser) unexpected() error {
	t := p.peek()
	from := t.pos
	if p.i > 0 {
		from = p.toks[p.i-1].pos
	}
	to := min(len(p.src), t.pos+len(t.text))
	return p.errf("Syntax error; token: %q, near: %q", t.text, p.src[from:to])
}

func (p *parser) isOp(s string) bool { t := p.peek(); return t.kind == tOp && t.text == s }

func (p *parser) isKeyword(s string) bool {
	t := p.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, s)
}

func (p *parser) expectOp(s string) error {
	if !p.isOp(s) {
		return p.unexpected()
	}
	p.i++
	return nil
}

func (p *parser) end() error {
	if p.peek().kind != tEOF {
		return p.unexpected()
	}
	return nil
}

// path parses a document path.
func (p *parser) path() (Path, error) {
	var out Path
	name, err := p.pathName()
	if err != nil {
		return nil, err
	}
	out = append(out, Step{Name: name, Index: -1})
	for {
		switch {
		case p.isOp("."):
			p.i++
			name, err := p.pathName()
			if err != nil {
				return nil, err
			}
			out = append(out, Step{Name: name, Index: -1})
		case p.isOp("["):
			p.i++
			t := p.next()
			if t.kind != tNumber {
				p.i--
				return nil, p.unexpected()
			}
			n, err := strconv.Atoi(t.text)
			if err != nil {
				return nil, p.errf("List index is out of range: %s", t.text)
			}
			if err := p.expectOp("]"); err != nil {
				return nil, err
			}
			out = append(out, Step{Index: n})
		default:
			return out, nil
		}
	}
}

//go:embed reserved.txt
var reservedText string

// reserved are DynamoDB's reserved words, in capitals, built on first
// use rather than at every start of the binary.
var reserved = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(reservedText) {
		m[w] = true
	}
	return m
})

// Reserved reports whether name is one of DynamoDB's reserved words.
func Reserved(name string) bool { return reserved()[strings.ToUpper(name)] }

func (p *parser) pathName() (string, error) {
	t := p.peek()
	switch t.kind {
	case tIdent:
		if Reserved(t.text) {
			return "", p.errf("Attribute name is a reserved keyword; reserved keyword: %s", t.text)
		}
		p.i++
		return t.text, nil
	case tName:
		p.i++
		v, ok := p.refs.Names[t.text]
		if !ok {
			return "", p.errf("An expression attribute name used in the document path is not defined; attribute name: %s", t.text)
		}
		p.refs.usedNames[t.text] = true
		return v, nil
	}
	return "", p.unexpected()
}

func (p *parser) value(t token) (attr.Value, error) {
	v, ok := p.refs.Values[t.text]
	if !ok {
		return attr.Value{}, p.errf("An expression attribute value used in expression is not defined; attribute value: %s", t.text)
	}
	p.refs.usedValues[t.text] = true
	return v, nil
}

// ParsePaths parses a ProjectionExpression.
func ParsePaths(src string, refs *Refs) ([]Path, error) {
	p, err := newParser("ProjectionExpression", src, refs)
	if err != nil {
		return nil, err
	}
	var out []Path
	for {
		pa, err := p.path()
		if err != nil {
			return nil, err
		}
		out = append(out, pa)
		if !p.isOp(",") {
			break
		}
		p.i++
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	for i := range out {
		for j := range i {
			if overlaps(out[i], out[j]) {
				return nil, p.errf("Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [%s], path two: [%s]", out[j], out[i])
			}
		}
	}
	return out, nil
}

func overlaps(a, b Path) bool {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
