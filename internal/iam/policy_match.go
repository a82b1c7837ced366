package iam

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// A value is one string of a policy as compiled for matching: a Resource
// or NotResource entry, an Action, or a condition value.
//
// Its glob form escapes what must be taken literally with a backslash:
// `\*`, `\?` and `\\` are the characters themselves, an unescaped `*` or
// `?` is a wildcard where the comparison allows wildcards. Policy variables
// (${aws:username}) are kept as parts and substituted per request; the
// substituted text is always literal.
type value struct {
	raw   string // as written in the policy
	glob  string // escaped form; valid when parts is nil
	plain bool   // glob holds no wildcard or escape: it is the text itself
	parts []part // the value split around policy variables, nil if none
}

// part is literal escaped text, or a variable when key is set.
type part struct {
	lit    string
	key    string // lower-case context key
	def    string // default value, literal
	hasDef bool
}

// compileValue compiles s; vars says whether ${...} is a policy variable
// (Version 2012-10-17) or plain text (2008-10-17, Action).
func compileValue(s string, vars bool) value {
	v := value{raw: s}
	if !vars || !strings.Contains(s, "${") {
		v.glob = escapeBackslash(s)
		v.plain = !strings.ContainsAny(s, `*?\`)
		return v
	}
	var lit strings.Builder
	var parts []part
	hasVar := false
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 >= len(s) || s[i+1] != '{' {
			if s[i] == '\\' {
				lit.WriteString(`\\`)
			} else {
				lit.WriteByte(s[i])
			}
			i++
			continue
		}
		p, n, ok := parseVariable(s[i:])
		if !ok {
			lit.WriteByte('$')
			i++
			continue
		}
		i += n
		if p.key == "" {
			lit.WriteString(p.lit)
			continue
		}
		hasVar = true
		if lit.Len() > 0 {
			parts = append(parts, part{lit: lit.String()})
			lit.Reset()
		}
		parts = append(parts, p)
	}
	if lit.Len() > 0 {
		parts = append(parts, part{lit: lit.String()})
	}
	if !hasVar {
		for _, p := range parts {
			v.glob += p.lit
		}
		v.plain = !strings.ContainsAny(v.glob, `*?\`)
		return v
	}
	v.parts = parts
	return v
}

// parseVariable reads "${...}" at the start of s. It returns the part
// (a literal part for ${*}, ${?} and ${$}), the bytes consumed, and false
// when s does not start with a well-formed variable.
func parseVariable(s string) (part, int, bool) {
	end := -1
	inQuote := false
	for i := 2; i < len(s); i++ {
		c := s[i]
		if inQuote {
			if c == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					i++
					continue
				}
				inQuote = false
			}
			continue
		}
		if c == '\'' {
			inQuote = true
			continue
		}
		if c == '}' {
			end = i
			break
		}
	}
	if end < 0 {
		return part{}, 0, false
	}
	body := strings.TrimSpace(s[2:end])
	switch body {
	case "*":
		return part{lit: `\*`}, end + 1, true
	case "?":
		return part{lit: `\?`}, end + 1, true
	case "$":
		return part{lit: "$"}, end + 1, true
	case "":
		return part{}, 0, false
	}
	key, def, hasDef := strings.Cut(body, ",")
	key = strings.TrimSpace(key)
	if key == "" || strings.ContainsAny(key, " '") {
		return part{}, 0, false
	}
	p := part{key: strings.ToLower(key)}
	if hasDef {
		def = strings.TrimSpace(def)
		if len(def) < 2 || def[0] != '\'' || def[len(def)-1] != '\'' {
			return part{}, 0, false
		}
		p.def = strings.ReplaceAll(def[1:len(def)-1], "''", "'")
		p.hasDef = true
	}
	return p, end + 1, true
}

func escapeBackslash(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return strings.ReplaceAll(s, `\`, `\\`)
}

// appendLiteral appends s escaped so that no character of it is a wildcard.
func appendLiteral(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '\\':
			buf = append(buf, '\\')
		}
		buf = append(buf, s[i])
	}
	return buf
}

// resolve appends v's glob form with its variables substituted from r. It
// reports false when a variable has no single value and no default: AWS
// then treats the element as matching nothing.
func (v *value) resolve(buf []byte, r *Request) ([]byte, bool) {
	for i := range v.parts {
		p := &v.parts[i]
		if p.key == "" {
			buf = append(buf, p.lit...)
			continue
		}
		vals := r.lookup(p.key)
		switch {
		case vals.n == 1:
			buf = appendLiteral(buf, vals.at(0))
		case p.hasDef:
			buf = appendLiteral(buf, p.def)
		default:
			return buf, false
		}
	}
	return buf, true
}

// matchGlob reports whether s matches v for request r (see glob),
// substituting variables into scratch when v has any.
func (v *value) matchGlob(r *Request, scratch []byte, s string, wild, fold bool) bool {
	if v.parts == nil {
		return glob(v.glob, s, wild, fold)
	}
	b, ok := v.resolve(scratch[:0], r)
	return ok && glob(b, s, wild, fold)
}

// matchARN reports whether the ARN s matches v for request r (see
// matchARN).
func (v *value) matchARN(r *Request, scratch []byte, s string) bool {
	if v.plain {
		return v.glob == s
	}
	if v.parts == nil {
		return matchARN(v.glob, s)
	}
	b, ok := v.resolve(scratch[:0], r)
	return ok && matchARN(b, s)
}

// pattern is the glob form of a value: bytes when substituted, a string
// otherwise. Exactly one is used.
type pattern interface{ ~string | ~[]byte }

// glob reports whether s matches the escaped pattern p. With wild false
// '*' and '?' are literal; with fold, letters compare without case.
func glob[P pattern](p P, s string, wild, fold bool) bool {
	pi, si := 0, 0
	starP, starS := -1, -1
	for si < len(s) {
		if pi < len(p) {
			c := p[pi]
			switch {
			case wild && c == '*':
				pi++
				if pi == len(p) {
					return true // a trailing '*' takes the rest
				}
				starP, starS = pi, si
				continue
			case wild && c == '?':
				_, w := utf8.DecodeRuneInString(s[si:])
				pi++
				si += w
				continue
			}
			if c == '\\' && pi+1 < len(p) {
				pi++
				c = p[pi]
			}
			if sc := s[si]; c < utf8.RuneSelf && sc < utf8.RuneSelf {
				if c == sc || (fold && lowerASCII(c) == lowerASCII(sc)) {
					pi++
					si++
					continue
				}
			} else {
				pr, pw := decodeRune(p, pi)
				sr, sw := utf8.DecodeRuneInString(s[si:])
				if pr == utf8.RuneError || sr == utf8.RuneError {
					// Invalid UTF-8 compares byte by byte.
					pr, pw, sr, sw = rune(c), 1, rune(sc), 1
				}
				if pr == sr || (fold && equalFoldRune(pr, sr)) {
					pi += pw
					si += sw
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, w := utf8.DecodeRuneInString(s[starS:])
		starS += w
		si, pi = starS, starP
	}
	for pi < len(p) && wild && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func decodeRune[P pattern](p P, i int) (rune, int) {
	if p[i] < utf8.RuneSelf {
		return rune(p[i]), 1
	}
	var b [utf8.UTFMax]byte
	n := copy(b[:], p[i:min(i+utf8.UTFMax, len(p))])
	return utf8.DecodeRune(b[:n])
}

func equalFoldRune(a, b rune) bool {
	if a < utf8.RuneSelf && b < utf8.RuneSelf {
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		return a == b
	}
	return unicode.ToLower(a) == unicode.ToLower(b)
}

// matchARN matches an ARN the way IAM matches Resource entries and the
// Arn* condition operators ("IAM JSON policy elements: Resource", "Using
// wildcards in resource ARNs"): the ARN is compared segment by segment (the
// parts between colons), a wildcard inside a segment stays inside it, and a
// '*' that is the last character of a pattern segment may expand across
// colons to take in the following segments too. So "*" and
// "arn:aws:lambda:*" match every function ARN, "...:function:*" matches
// qualified ARNs (f:prod), and "...:function:*-prod" does not match
// "...:function:f:x-prod". Within the segments one such '*' takes in,
// other wildcards may cross colons as well.
func matchARN[P pattern](p P, s string) bool {
	if len(p) == 1 && p[0] == '*' {
		return true
	}
	// Start offsets of the request's segments; beyond maxSegments colons
	// the rest is left as one segment.
	var starts [maxSegments + 1]int
	n := 1
	for i := 0; i < len(s) && n <= maxSegments; i++ {
		if s[i] == ':' {
			starts[n] = i + 1
			n++
		}
	}
	end := func(k int) int { // end offset of segment k (exclusive)
		if k+1 < n {
			return starts[k+1] - 1
		}
		return len(s)
	}
	// reach has bit k set when the pattern so far can end just before
	// request segment k; bit n means the whole request is consumed.
	var reach uint64 = 1
	for pi := 0; ; {
		pe := indexColon(p, pi)
		last := pe < 0
		if last {
			pe = len(p)
		}
		seg := p[pi:pe]
		spans := endsWithStar(seg)
		var next uint64
		for k := 0; k < n; k++ {
			if reach&(1<<k) == 0 {
				continue
			}
			from := starts[k]
			if last {
				// The last pattern segment must reach the end of s.
				if (spans || k == n-1) && glob(seg, s[from:], true, false) {
					return true
				}
				continue
			}
			for j := k; j < n; j++ {
				if glob(seg, s[from:end(j)], true, false) {
					next |= 1 << (j + 1)
				}
				if !spans {
					break
				}
			}
		}
		// Paths that used up the request while pattern segments remain fail.
		reach, pi = next&^(1<<n), pe+1
		if last || reach == 0 {
			return false
		}
	}
}

// maxSegments bounds the segments matchARN tells apart (one machine word).
const maxSegments = 62

// endsWithStar reports whether seg ends with an unescaped '*'.
func endsWithStar[P pattern](seg P) bool {
	if len(seg) == 0 || seg[len(seg)-1] != '*' {
		return false
	}
	bs := 0
	for i := len(seg) - 2; i >= 0 && seg[i] == '\\'; i-- {
		bs++
	}
	return bs%2 == 0
}

func segments(s string) int { return strings.Count(s, ":") + 1 }

func indexColon[P pattern](p P, from int) int {
	for i := from; i < len(p); i++ {
		if p[i] == ':' {
			return i
		}
	}
	return -1
}
