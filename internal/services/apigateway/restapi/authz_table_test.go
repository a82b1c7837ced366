package restapi

import (
	"strings"
	"testing"
)

// TestOperations: every operation's IAM action is apigateway:<its HTTP
// method>, and every path is under one of PathPrefixes (so the edge
// routes it here).
func TestOperations(t *testing.T) {
	h := (&API{}).handlers()
	if len(h) < 40 {
		t.Fatalf("only %d operations", len(h))
	}
	for pattern := range h {
		method, path, _ := strings.Cut(pattern, " ")
		switch method {
		case "GET", "POST", "PUT", "PATCH", "DELETE":
		default:
			t.Errorf("%s: method %q is no IAM action", pattern, method)
		}
		ok := false
		for _, p := range PathPrefixes {
			ok = ok || strings.HasPrefix(path, p)
		}
		if !ok {
			t.Errorf("%s: no edge route takes it", pattern)
		}
	}
}
