package dynamodb

import (
	"strings"
	"testing"
)

// TestOperationTableCoversEveryOperation: every operation the service
// dispatches has an IAM action, and the table names no other but
// ConditionCheckItem (a transaction's condition check, authorized per
// item). A transaction is authorized item by item as the single-item
// actions, as DynamoDB does.
func TestOperationTableCoversEveryOperation(t *testing.T) {
	ops := (&Service{}).dispatch()
	for name := range ops {
		action, ok := operations[name]
		if !ok || !strings.HasPrefix(action, "dynamodb:") {
			t.Errorf("operation %s: action %q", name, action)
		}
	}
	for name := range operations {
		if _, ok := ops[name]; !ok && name != "ConditionCheckItem" {
			t.Errorf("operations has %s, which the service does not dispatch", name)
		}
	}
}
