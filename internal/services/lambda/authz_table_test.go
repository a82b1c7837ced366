package lambda

import (
	"strings"
	"testing"

	"github.com/kumo-run/kumo/internal/registry"
)

// TestOperationTableCoversEveryRoute: every route the API serves has an
// IAM action, and the table names no route the API does not serve.
func TestOperationTableCoversEveryRoute(t *testing.T) {
	api := New(Config{ARNs: registry.ARNs{Partition: "aws", Region: "us-east-1", Account: "000000000000"}})
	if len(api.patterns) < 40 {
		t.Fatalf("only %d routes recorded", len(api.patterns))
	}
	routed := map[string]bool{}
	for _, p := range api.patterns {
		routed[p] = true
		op, ok := operations[p]
		if !ok {
			t.Errorf("route %q has no entry in operations", p)
			continue
		}
		if !strings.HasPrefix(op.action, "lambda:") || len(op.action) == len("lambda:") {
			t.Errorf("route %q: action %q is not a Lambda action", p, op.action)
		}
		if op.res == resFunction && !strings.Contains(p, "{FunctionName}") {
			t.Errorf("route %q names a function but has no {FunctionName}", p)
		}
	}
	for p := range operations {
		if !routed[p] {
			t.Errorf("operations has %q, which is not a route", p)
		}
	}
}
