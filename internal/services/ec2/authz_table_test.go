package ec2

import (
	"strings"
	"testing"
)

// TestOperationTableCoversEveryOperation: every operation the service
// dispatches has an IAM action, and the table names no other.
func TestOperationTableCoversEveryOperation(t *testing.T) {
	ops := (&Service{}).dispatch()
	for name := range ops {
		if op, ok := operations[name]; !ok || op.action != "ec2:"+name {
			t.Errorf("operation %s: entry %+v, want ec2:%s", name, op, name)
		}
		if op := operations[name]; (strings.HasPrefix(name, "Describe")) != (op.typ == "") {
			t.Errorf("operation %s: resource type %q", name, op.typ)
		}
	}
	for name := range operations {
		if _, ok := ops[name]; !ok {
			t.Errorf("operations has %s, which the service does not dispatch", name)
		}
	}
}
