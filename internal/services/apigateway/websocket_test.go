package apigateway

import "testing"

// TestSelection: route selection expressions parse in both spellings and
// select the value at their JSON path; what is not a JSON object, a
// missing member or an object value selects nothing.
func TestSelection(t *testing.T) {
	for _, bad := range []string{"", "$request.body", "$request.body.", "$request.header.x", "${request.body.a", "$request.body.a..b", "${request.method} ${request.path}"} {
		if _, err := ParseSelection(bad); err == nil {
			t.Errorf("ParseSelection(%q) accepted", bad)
		}
	}
	for _, tc := range []struct {
		expr, msg, want string
	}{
		{"$request.body.action", `{"action":"send"}`, "send"},
		{"${request.body.action}", `{"action":"send"}`, "send"},
		{"$request.body.msg.kind", `{"msg":{"kind":"join"}}`, "join"},
		{"$request.body.n", `{"n":3}`, "3"},
		{"$request.body.ok", `{"ok":true}`, "true"},
		{"$request.body.action", `{"other":"x"}`, ""},
		{"$request.body.action", `{"action":{"a":1}}`, ""},
		{"$request.body.action", `not json`, ""},
		{"$request.body.action", `["action"]`, ""},
	} {
		sel, err := ParseSelection(tc.expr)
		if err != nil {
			t.Fatalf("ParseSelection(%q): %v", tc.expr, err)
		}
		if got := sel.Key([]byte(tc.msg)); got != tc.want {
			t.Errorf("%s on %s = %q, want %q", tc.expr, tc.msg, got, tc.want)
		}
	}
	for key, ok := range map[string]bool{"$connect": true, "$disconnect": true, "$default": true, "sendmessage": true, "$other": false, "": false} {
		if err := ValidWebSocketRouteKey(key); (err == nil) != ok {
			t.Errorf("ValidWebSocketRouteKey(%q) = %v", key, err)
		}
	}
}
