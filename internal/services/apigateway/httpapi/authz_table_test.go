package httpapi

import (
	"strings"
	"testing"
)

// TestOperations: every operation has its IAM action, apigateway:<HTTP
// method>, and the tag operations act on the tagged resource's ARN.
func TestOperations(t *testing.T) {
	h := (&API{}).handlers()
	if len(operations) != len(h) {
		t.Fatalf("%d operations for %d handlers", len(operations), len(h))
	}
	for pattern := range h {
		op, ok := operations[pattern]
		method, path, _ := strings.Cut(pattern, " ")
		if !ok || op.action != "apigateway:"+method {
			t.Errorf("%s: action %q", pattern, op.action)
		}
		if op.tagged != strings.HasPrefix(path, "/v2/tags/") {
			t.Errorf("%s: tagged %v", pattern, op.tagged)
		}
	}
	for _, want := range []string{"POST /v2/apis", "PUT /v2/apis", "PUT /v2/apis/{apiId}", "PATCH /v2/apis/{apiId}/stages/{stageName}", "DELETE /v2/tags/{arn...}"} {
		if _, ok := operations[want]; !ok {
			t.Errorf("no operation %s", want)
		}
	}
}
