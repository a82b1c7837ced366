package sts

import "testing"

// TestOperationTableCoversEveryOperation: every operation the service
// dispatches says how it is authorized, and the table names no other.
func TestOperationTableCoversEveryOperation(t *testing.T) {
	s := New(Config{})
	for op := range s.ops {
		if _, ok := operations[op]; !ok {
			t.Errorf("operation %s has no entry in operations", op)
		}
	}
	for op := range operations {
		if _, ok := s.ops[op]; !ok {
			t.Errorf("operations has %s, which the service does not dispatch", op)
		}
	}
}
