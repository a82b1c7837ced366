package dynamodb

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// TestOperationTableCoversEveryOperation: every operation the service
// dispatches has an IAM action, and the table names no other but
// ConditionCheckItem (a transaction's condition check, authorized per
// item). A transaction is authorized item by item as the single-item
// actions, as DynamoDB does.
func TestOperationTableCoversEveryOperation(t *testing.T) {
	ops := (&Service{}).dispatch()
	for name, o := range (&Service{}).streamOps() {
		ops[name] = o
	}
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

// TestCatalogueMatchesModel: every DynamoDB code Kumo sends is an
// exception of botocore's dynamodb or dynamodbstreams model with the same
// message member casing.
func TestCatalogueMatchesModel(t *testing.T) {
	out, err := exec.Command("python3", "-c", `
import botocore, gzip, json, os
out = {}
for svc in ("dynamodbstreams", "dynamodb"):
    p = os.path.join(os.path.dirname(botocore.__file__), "data/" + svc + "/2012-08-10/service-2.json.gz")
    shapes = json.load(gzip.open(p))["shapes"]
    out.update({n: list(s.get("members", {})) for n, s in shapes.items() if s.get("exception")})
print(json.dumps(out))
`).Output()
	if err != nil {
		t.Skipf("botocore's model is not readable here: %v", err)
	}
	var model map[string][]string
	if err := json.Unmarshal(out, &model); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range awsproto.Specs() {
		if s.Code.Service() != "dynamodb" {
			continue
		}
		n++
		name := s.Code.Name()
		if name == "AccessDeniedException" || name == "UnknownOperationException" || name == "SerializationException" || name == "ValidationException" {
			continue // the protocol's own errors, not in the model
		}
		members, ok := model[name]
		if !ok {
			t.Errorf("%s is not an exception of the model", name)
			continue
		}
		key := s.MessageKey
		if key == "" {
			key = "message"
		}
		if !slices.Contains(members, key) {
			t.Errorf("%s: message member %q, the model has %v", name, key, members)
		}
	}
	if n == 0 {
		t.Fatal("no dynamodb codes in the catalogue")
	}
}
