package sns

import "testing"

// TestOperationTableCoversEveryOperation: every operation the service
// dispatches is in the authorization table, and the table names no
// other.
func TestOperationTableCoversEveryOperation(t *testing.T) {
	ops := (&Service{}).dispatch()
	for name := range ops {
		if _, ok := operations[name]; !ok {
			t.Errorf("operation %s has no entry in operations", name)
		}
	}
	for name := range operations {
		if _, ok := ops[name]; !ok {
			t.Errorf("operations has %s, which the service does not dispatch", name)
		}
	}
}
