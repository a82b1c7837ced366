package apigateway

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Route keys a WebSocket API gives meaning to: $connect runs when a
// client connects (its answer can refuse the connection), $disconnect
// when the connection closes, $default for messages no other route's key
// matches.
const (
	ConnectRoute    = "$connect"
	DisconnectRoute = "$disconnect"
)

// Selection is a parsed WebSocket route selection expression:
// $request.body.<path> or ${request.body.<path>}, a JSON path of member
// names into the message.
type Selection []string

// ParseSelection parses a WebSocket API's route selection expression.
func ParseSelection(expr string) (Selection, error) {
	p, ok := strings.CutPrefix(expr, "$request.body.")
	if !ok {
		if q, ok2 := strings.CutPrefix(expr, "${request.body."); ok2 && strings.HasSuffix(q, "}") {
			p, ok = strings.TrimSuffix(q, "}"), true
		}
	}
	if !ok || p == "" {
		return nil, fmt.Errorf("route selection expression %q must be $request.body.<member> or ${request.body.<member>}", expr)
	}
	parts := strings.Split(p, ".")
	for _, s := range parts {
		if s == "" || strings.ContainsAny(s, " ${}[]") {
			return nil, fmt.Errorf("route selection expression %q has an invalid member name %q", expr, s)
		}
	}
	return Selection(parts), nil
}

// Key is the route key a message selects: the value at the expression's
// path when the message is a JSON object and the value a string (or a
// number or boolean, as its JSON text); "" otherwise.
func (s Selection) Key(message []byte) string {
	var v any
	if len(s) == 0 || json.Unmarshal(message, &v) != nil {
		return ""
	}
	for _, name := range s {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[name]
	}
	switch x := v.(type) {
	case string:
		return x
	case float64, bool:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return ""
}

// ValidWebSocketRouteKey checks a WebSocket route key: $connect,
// $disconnect, $default, or a custom key of 1 to 128 characters not
// starting with '$'.
func ValidWebSocketRouteKey(key string) error {
	switch key {
	case ConnectRoute, DisconnectRoute, DefaultRoute:
		return nil
	}
	if key == "" || len(key) > 128 {
		return fmt.Errorf("route key %q must be 1 to 128 characters", key)
	}
	if strings.HasPrefix(key, "$") {
		return fmt.Errorf("route key %q: keys starting with '$' are reserved ($connect, $disconnect, $default)", key)
	}
	return nil
}
