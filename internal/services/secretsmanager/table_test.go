package secretsmanager

import "testing"

// TestOperationTableCoversEveryOperation: every operation the service
// dispatches has its IAM action, and the table names no other.
func TestOperationTableCoversEveryOperation(t *testing.T) {
	ops := (&Service{}).dispatch()
	for name := range ops {
		if operations[name] != "secretsmanager:"+name {
			t.Errorf("operation %s: action %q", name, operations[name])
		}
	}
	for name := range operations {
		if _, ok := ops[name]; !ok {
			t.Errorf("operations has %s, which the service does not dispatch", name)
		}
	}
}
