package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// path is a parsed JSON path: "$", "$.detail.a", "$.a[0]", "$['a b']".
type path []any // string keys and int indexes

var errPath = errors.New("not a JSON path")

// parsePath parses the JSON paths EventBridge takes in InputPath and
// InputPathsMap: dot and bracket notation from the root "$".
func parsePath(p string) (path, error) {
	if !strings.HasPrefix(p, "$") {
		return nil, errPath
	}
	var out path
	rest := p[1:]
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				return nil, errPath
			}
			out = append(out, rest[:end])
			rest = rest[end:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, errPath
			}
			inner := rest[1:end]
			rest = rest[end+1:]
			if len(inner) >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[len(inner)-1] == inner[0] {
				out = append(out, inner[1:len(inner)-1])
				continue
			}
			n, err := strconv.Atoi(inner)
			if err != nil || n < 0 {
				return nil, errPath
			}
			out = append(out, n)
		default:
			return nil, errPath
		}
	}
	return out, nil
}

// get is the value at p in doc, false when there is none.
func (p path) get(doc any) (any, bool) {
	cur := doc
	for _, step := range p {
		switch k := step.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[k]; !ok {
				return nil, false
			}
		case int:
			a, ok := cur.([]any)
			if !ok || k >= len(a) {
				return nil, false
			}
			cur = a[k]
		}
	}
	return cur, true
}

// input is what a target receives for event (the envelope's JSON): the
// whole event, its Input, the part its InputPath names, or its
// InputTransformer's output.
func input(t *Target, event []byte, ruleARN, ruleName string) ([]byte, error) {
	switch {
	case t.Input != nil:
		return []byte(*t.Input), nil
	case t.InputPath != nil:
		doc, err := decodeEvent(event)
		if err != nil {
			return nil, err
		}
		p, err := parsePath(*t.InputPath)
		if err != nil {
			return nil, err
		}
		if len(p) == 0 {
			return event, nil
		}
		v, ok := p.get(doc)
		if !ok {
			return []byte("null"), nil
		}
		return marshal(v)
	case t.InputTransformer != nil:
		doc, err := decodeEvent(event)
		if err != nil {
			return nil, err
		}
		return transform(t.InputTransformer, doc, event, ruleARN, ruleName)
	}
	return event, nil
}

func decodeEvent(event []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(event))
	d.UseNumber()
	var doc any
	err := d.Decode(&doc)
	return doc, err
}

// transform fills InputTemplate's <name> placeholders with the values
// InputPathsMap extracts, and the reserved aws.events.* variables.
//
// In a JSON template (one starting with '{' or '['), a placeholder inside
// a string takes the value's text (a string without its quotes, escaped
// for JSON), and one outside a string takes the value's JSON. In any other
// template every placeholder takes the value's text. A path that finds
// nothing gives null outside strings and nothing inside them.
func transform(it *InputTransformer, doc any, event []byte, ruleARN, ruleName string) ([]byte, error) {
	vars := map[string]any{}
	for k, p := range it.InputPathsMap {
		pp, err := parsePath(p)
		if err != nil {
			return nil, err
		}
		if v, ok := pp.get(doc); ok {
			vars[k] = v
		}
	}
	// Reserved variables.
	vars["aws.events.rule-arn"] = ruleARN
	vars["aws.events.rule-name"] = ruleName
	vars["aws.events.event"] = json.RawMessage(event)
	vars["aws.events.event.json"] = json.RawMessage(event)
	if m, ok := doc.(map[string]any); ok {
		vars["aws.events.event.ingestion-time"] = m["time"]
	}
	tpl := it.InputTemplate
	trimmed := strings.TrimSpace(tpl)
	jsonMode := strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[")
	var out strings.Builder
	inString, escaped := false, false
	for i := 0; i < len(tpl); i++ {
		c := tpl[i]
		if c == '<' {
			if end := strings.IndexByte(tpl[i+1:], '>'); end > 0 {
				name := tpl[i+1 : i+1+end]
				if v, known := vars[name]; known || isVarName(name) {
					out.WriteString(render(v, known, jsonMode && !inString, jsonMode && inString))
					i += end + 1
					continue
				}
			}
		}
		out.WriteByte(c)
		switch {
		case escaped:
			escaped = false
		case c == '\\' && inString:
			escaped = true
		case c == '"':
			inString = !inString
		}
	}
	return []byte(out.String()), nil
}

func isVarName(name string) bool { return pathKeyRE.MatchString(name) }

// render is a value as a placeholder takes it: its JSON (asJSON), or its
// text, escaped for a JSON string (escape) or not.
func render(v any, known, asJSON, escape bool) string {
	if !known {
		if asJSON {
			return "null"
		}
		return ""
	}
	if raw, ok := v.(json.RawMessage); ok {
		if escape {
			return escapeJSON(string(raw))
		}
		return string(raw)
	}
	if str, ok := v.(string); ok && !asJSON {
		if escape {
			return escapeJSON(str)
		}
		return str
	}
	b, _ := marshal(v)
	if escape {
		return escapeJSON(string(b))
	}
	return string(b)
}

// escapeJSON is s as it appears between a JSON string's quotes.
func escapeJSON(s string) string {
	b, _ := marshal(s)
	return string(b[1 : len(b)-1])
}
