package logs

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Pattern is a parsed CloudWatch Logs filter pattern. The zero Pattern
// matches every event.
//
// Supported: terms (all must occur, case-sensitive), "quoted phrases",
// ?alternatives (at least one must occur), -exclusions, and JSON patterns
// { $.a.b[0] = "x*" && ($.n >= 3 || $.c != 1) }, with IS NULL, IS TRUE,
// IS FALSE and NOT EXISTS, and space-delimited patterns
// [ip, user, ..., status=4*, size>1000] (see filter_delim.go).
type Pattern struct {
	terms *termsPattern
	json  jsonExpr
	delim *delimPattern
}

type termsPattern struct {
	all, any, none []string
}

// jsonExpr is a node of a JSON pattern's AST.
type jsonExpr interface {
	eval(doc any) bool
}

type andExpr struct{ l, r jsonExpr }
type orExpr struct{ l, r jsonExpr }

// cmpExpr compares the value a selector picks with a literal.
type cmpExpr struct {
	sel   []step
	op    string // = != < <= > >=
	num   float64
	isNum bool
	str   string // may hold * wildcards
}

// isExpr is "IS NULL", "IS TRUE", "IS FALSE" or "NOT EXISTS".
type isExpr struct {
	sel  []step
	kind string // "null", "true", "false", "notexists"
}

// step of a selector: a member name or an array index.
type step struct {
	name  string
	index int // -1 for a member
}

// ErrPattern is wrapped by every parse error.
var ErrPattern = errors.New("invalid filter pattern")

// ParsePattern parses a filter pattern.
func ParsePattern(s string) (Pattern, error) {
	t := strings.TrimSpace(s)
	switch {
	case t == "":
		return Pattern{}, nil
	case t[0] == '{':
		p := &jsonParser{lex: lexer{s: t}}
		e, err := p.parse()
		if err != nil {
			return Pattern{}, fmt.Errorf("%w: %v", ErrPattern, err)
		}
		return Pattern{json: e}, nil
	case t[0] == '[':
		dp, err := parseDelim(t)
		if err != nil {
			return Pattern{}, fmt.Errorf("%w: %v", ErrPattern, err)
		}
		return Pattern{delim: dp}, nil
	}
	tp, err := parseTerms(t)
	if err != nil {
		return Pattern{}, fmt.Errorf("%w: %v", ErrPattern, err)
	}
	return Pattern{terms: tp}, nil
}

func parseTerms(s string) (*termsPattern, error) {
	tp := &termsPattern{}
	for i := 0; i < len(s); {
		if s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' {
			i++
			continue
		}
		kind := byte(0)
		if s[i] == '?' || s[i] == '-' {
			kind = s[i]
			i++
			if i == len(s) || s[i] == ' ' {
				if kind == '-' {
					// A lone "-" is a term of its own.
					tp.all = append(tp.all, "-")
					continue
				}
				return nil, errors.New("? must precede a term")
			}
		}
		var term string
		if s[i] == '"' {
			str, n, err := readQuoted(s[i:])
			if err != nil {
				return nil, err
			}
			term, i = str, i+n
		} else {
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' && s[j] != '\r' {
				j++
			}
			term, i = s[i:j], j
		}
		if term == "" {
			continue
		}
		switch kind {
		case '?':
			tp.any = append(tp.any, term)
		case '-':
			tp.none = append(tp.none, term)
		default:
			tp.all = append(tp.all, term)
		}
	}
	return tp, nil
}

// readQuoted reads a double-quoted string with \" and \\ escapes at the
// start of s, returning it and the bytes consumed.
func readQuoted(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), i + 1, nil
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, errors.New("unterminated quoted string")
}

// Match reports whether the pattern matches a message.
func (p Pattern) Match(msg string) bool {
	switch {
	case p.terms != nil:
		return p.terms.match(msg)
	case p.delim != nil:
		_, ok := p.delim.match(msg)
		return ok
	case p.json != nil:
		var doc any
		d := json.NewDecoder(strings.NewReader(msg))
		d.UseNumber()
		if err := d.Decode(&doc); err != nil {
			return false
		}
		return p.json.eval(doc)
	}
	return true
}

func (tp *termsPattern) match(msg string) bool {
	for _, t := range tp.all {
		if !strings.Contains(msg, t) {
			return false
		}
	}
	for _, t := range tp.none {
		if strings.Contains(msg, t) {
			return false
		}
	}
	if len(tp.any) == 0 {
		return true
	}
	for _, t := range tp.any {
		if strings.Contains(msg, t) {
			return true
		}
	}
	return false
}

func (e andExpr) eval(doc any) bool { return e.l.eval(doc) && e.r.eval(doc) }
func (e orExpr) eval(doc any) bool  { return e.l.eval(doc) || e.r.eval(doc) }

// resolve follows a selector; ok is false when the path does not exist.
func resolve(doc any, sel []step) (any, bool) {
	v := doc
	for _, s := range sel {
		if s.index >= 0 {
			a, ok := v.([]any)
			if !ok || s.index >= len(a) {
				return nil, false
			}
			v = a[s.index]
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[s.name]; !ok {
			return nil, false
		}
	}
	return v, true
}

func (e cmpExpr) eval(doc any) bool {
	v, ok := resolve(doc, e.sel)
	if !ok {
		return false
	}
	if e.isNum {
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		f, err := n.Float64()
		if err != nil {
			return false
		}
		switch e.op {
		case "=":
			return f == e.num
		case "!=":
			return f != e.num
		case "<":
			return f < e.num
		case "<=":
			return f <= e.num
		case ">":
			return f > e.num
		case ">=":
			return f >= e.num
		}
		return false
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.Number:
		s = x.String()
	case bool:
		s = strconv.FormatBool(x)
	default:
		return false
	}
	eq := wildcard(e.str, s)
	if e.op == "!=" {
		return !eq
	}
	return eq
}

func (e isExpr) eval(doc any) bool {
	v, ok := resolve(doc, e.sel)
	switch e.kind {
	case "notexists":
		return !ok
	case "null":
		return ok && v == nil
	case "true":
		b, isBool := v.(bool)
		return ok && isBool && b
	case "false":
		b, isBool := v.(bool)
		return ok && isBool && !b
	}
	return false
}

// wildcard matches s against a pattern in which * stands for any run of
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
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// Lexer and parser of JSON patterns:
//
//	pattern := "{" or "}"
//	or      := and { "||" and }
//	and     := unary { "&&" unary }
//	unary   := "(" or ")" | selector op value | selector "IS" (NULL|TRUE|FALSE) | selector "NOT" "EXISTS"
//	selector:= "$" { "." name | "[" digits "]" }
//	value   := number | "quoted" | bareword

type tokKind int

const (
	tEOF tokKind = iota
	tLBrace
	tRBrace
	tLParen
	tRParen
	tAnd
	tOr
	tOp
	tSelector
	tString
	tWord
)

type token struct {
	kind tokKind
	text string
}

type lexer struct {
	s   string
	pos int
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.s) && strings.IndexByte(" \t\r\n", l.s[l.pos]) >= 0 {
		l.pos++
	}
	if l.pos >= len(l.s) {
		return token{kind: tEOF}, nil
	}
	s := l.s[l.pos:]
	switch {
	case s[0] == '{':
		l.pos++
		return token{tLBrace, "{"}, nil
	case s[0] == '}':
		l.pos++
		return token{tRBrace, "}"}, nil
	case s[0] == '(':
		l.pos++
		return token{tLParen, "("}, nil
	case s[0] == ')':
		l.pos++
		return token{tRParen, ")"}, nil
	case strings.HasPrefix(s, "&&"):
		l.pos += 2
		return token{tAnd, "&&"}, nil
	case strings.HasPrefix(s, "||"):
		l.pos += 2
		return token{tOr, "||"}, nil
	case strings.HasPrefix(s, "!="), strings.HasPrefix(s, "<="), strings.HasPrefix(s, ">="):
		l.pos += 2
		return token{tOp, s[:2]}, nil
	case s[0] == '=' || s[0] == '<' || s[0] == '>':
		l.pos++
		return token{tOp, s[:1]}, nil
	case s[0] == '"':
		str, n, err := readQuoted(s)
		if err != nil {
			return token{}, err
		}
		l.pos += n
		return token{tString, str}, nil
	}
	j := 0
	for j < len(s) && strings.IndexByte(" \t\r\n{}()&|=!<>\"", s[j]) < 0 {
		j++
	}
	if j == 0 {
		return token{}, fmt.Errorf("unexpected %q", s[0])
	}
	l.pos += j
	if s[0] == '$' {
		return token{tSelector, s[:j]}, nil
	}
	return token{tWord, s[:j]}, nil
}

type jsonParser struct {
	lex   lexer
	tok   token
	depth int
}

func (p *jsonParser) advance() error {
	t, err := p.lex.next()
	p.tok = t
	return err
}

func (p *jsonParser) parse() (jsonExpr, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind != tLBrace {
		return nil, errors.New("a JSON pattern starts with {")
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tRBrace {
		return nil, fmt.Errorf("expected } at %q", p.tok.text)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, fmt.Errorf("unexpected %q after }", p.tok.text)
	}
	return e, nil
}

func (p *jsonParser) or() (jsonExpr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tOr {
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orExpr{l, r}
	}
	return l, nil
}

func (p *jsonParser) and() (jsonExpr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tAnd {
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = andExpr{l, r}
	}
	return l, nil
}

// maxDepth bounds the nesting of parentheses.
const maxDepth = 32

func (p *jsonParser) unary() (jsonExpr, error) {
	switch p.tok.kind {
	case tLParen:
		if p.depth++; p.depth > maxDepth {
			return nil, errors.New("too deeply nested")
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			return nil, errors.New("expected )")
		}
		p.depth--
		return e, p.advance()
	case tSelector:
	default:
		return nil, fmt.Errorf("expected a selector ($.field) at %q", p.tok.text)
	}
	sel, err := parseSelector(p.tok.text)
	if err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	switch {
	case p.tok.kind == tWord && strings.EqualFold(p.tok.text, "IS"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		kind := strings.ToLower(p.tok.text)
		if p.tok.kind != tWord || (kind != "null" && kind != "true" && kind != "false") {
			return nil, errors.New("IS takes NULL, TRUE or FALSE")
		}
		return isExpr{sel: sel, kind: kind}, p.advance()
	case p.tok.kind == tWord && strings.EqualFold(p.tok.text, "NOT"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tWord || !strings.EqualFold(p.tok.text, "EXISTS") {
			return nil, errors.New("NOT takes EXISTS")
		}
		return isExpr{sel: sel, kind: "notexists"}, p.advance()
	case p.tok.kind != tOp:
		return nil, errors.New("expected an operator after the selector")
	}
	c := cmpExpr{sel: sel, op: p.tok.text}
	if err := p.advance(); err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tString:
		c.str = p.tok.text
	case tWord:
		if f, err := strconv.ParseFloat(p.tok.text, 64); err == nil {
			c.num, c.isNum = f, true
		} else {
			c.str = p.tok.text
		}
	default:
		return nil, errors.New("expected a value after the operator")
	}
	if !c.isNum && c.op != "=" && c.op != "!=" {
		return nil, fmt.Errorf("%s compares numbers only", c.op)
	}
	return c, p.advance()
}

func parseSelector(s string) ([]step, error) {
	if s == "$" {
		return nil, nil
	}
	var out []step
	rest := s[1:]
	for rest != "" {
		switch rest[0] {
		case '.':
			j := 1
			for j < len(rest) && rest[j] != '.' && rest[j] != '[' {
				j++
			}
			if j == 1 {
				return nil, fmt.Errorf("empty member name in %s", s)
			}
			out = append(out, step{name: rest[1:j], index: -1})
			rest = rest[j:]
		case '[':
			j := strings.IndexByte(rest, ']')
			if j < 0 {
				return nil, fmt.Errorf("missing ] in %s", s)
			}
			n, err := strconv.Atoi(rest[1:j])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("bad index in %s", s)
			}
			out = append(out, step{index: n})
			rest = rest[j+1:]
		default:
			return nil, fmt.Errorf("bad selector %s", s)
		}
	}
	return out, nil
}

// Extract returns the fields a space-delimited pattern names in msg
// ($name, and $1, $2, … by position); ok is false for other patterns or
// when msg does not match.
func (p Pattern) Extract(msg string) (map[string]string, bool) {
	if p.delim == nil {
		return nil, false
	}
	vals, ok := p.delim.match(msg)
	if !ok {
		return nil, false
	}
	out := make(map[string]string, len(vals))
	for k, v := range vals {
		if !strings.HasPrefix(k, "$") {
			k = "$" + k
		}
		out[k] = v
	}
	return out, true
}
