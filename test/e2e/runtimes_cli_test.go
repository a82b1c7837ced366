package e2e

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// TestRuntimesWithCLI deploys a Python and a Node.js function with the AWS
// CLI and checks, through `aws lambda invoke`, their context and
// environment, warm module state, logging in the Tail, a library imported
// from a layer (Python) and Lambda's timeout.
func TestRuntimesWithCLI(t *testing.T) {
	t.Parallel()
	requireInterpreter(t, "/usr/bin/python3", "/usr/local/bin/python3")
	requireInterpreter(t, "/usr/bin/node", "/usr/local/bin/node")
	s := startServer(t, t.TempDir())
	c := newCLI(t, s)
	cliOnce.once.Do(func() { cliOnce.v2 = cliV2(t) })
	var blobArgs []string
	if cliOnce.v2 {
		blobArgs = []string{"--cli-binary-format", "raw-in-base64-out"}
	}

	layerZip := writeTemp(t, "layer.zip", makeZip(t, zipEntry{Name: "python/kumo_layer_helper.py", Body: "GREETING = 'hi from a layer'\n"}))
	layer := c.ok("lambda", "publish-layer-version", "--layer-name", "helpers", "--zip-file", "fileb://"+layerZip,
		"--compatible-runtimes", "python3.12")
	layerARN, _ := layer["LayerVersionArn"].(string)
	if !strings.HasSuffix(layerARN, ":layer:helpers:1") {
		t.Fatalf("LayerVersionArn %q", layerARN)
	}

	pyZip := writeTemp(t, "py.zip", dirZip(t, "py"))
	nodeZip := writeTemp(t, "node.zip", dirZip(t, "node/cjs"))
	c.ok("lambda", "create-function", "--function-name", "cli-py", "--runtime", "python3.12", "--handler", "app.handler",
		"--role", testRole, "--zip-file", "fileb://"+pyZip, "--timeout", "3", "--layers", layerARN,
		"--environment", `{"Variables":{"GREETING":"hello"}}`)
	c.ok("lambda", "create-function", "--function-name", "cli-node", "--runtime", "nodejs20.x", "--handler", "index.handler",
		"--role", testRole, "--zip-file", "fileb://"+nodeZip, "--timeout", "3")
	c.ok("lambda", "wait", "function-active-v2", "--function-name", "cli-py")
	c.ok("lambda", "wait", "function-active-v2", "--function-name", "cli-node")

	invoke := func(fn, payload string, extra ...string) (map[string]any, map[string]any, string) {
		t.Helper()
		meta, out, r := c.invoke(append(append([]string{"--function-name", fn, "--payload", payload, "--log-type", "Tail"}, blobArgs...), extra...)...)
		if meta == nil {
			t.Fatalf("aws lambda invoke %s failed:\n%s", fn, r)
		}
		var body map[string]any
		if err := json.Unmarshal(out, &body); err != nil {
			t.Fatalf("%s answered %q: %v", fn, out, err)
		}
		tail, _ := base64.StdEncoding.DecodeString(jstr(meta, "LogResult"))
		return meta, body, string(tail)
	}

	// Timeouts are 3 s: room for a loaded machine, while the sleeps that
	// must time out sleep far longer.
	// Python: context fields, environment, warm state.
	_, p1, tail := invoke("cli-py", `{"k":"v"}`)
	expectEq(t, "python function_name", jstr(p1, "function_name"), "cli-py")
	expectEq(t, "python memory_limit_in_mb", jstr(p1, "memory_limit_in_mb"), "128")
	expectEq(t, "python AWS_EXECUTION_ENV", jstr(p1, "execution_env"), "AWS_Lambda_python3.12")
	if !strings.Contains(tail, "Init Duration:") {
		t.Errorf("first Python invoke is not cold:\n%s", tail)
	}
	_, p2, tail := invoke("cli-py", `{}`)
	if p2["calls"] != float64(2) || strings.Contains(tail, "Init Duration:") {
		t.Errorf("second Python invoke not warm (calls %v):\n%s", p2["calls"], tail)
	}
	_, logged, tail := invoke("cli-py", `{"action":"log"}`)
	if logged["logged"] != true || !strings.Contains(tail, "printed line") || !strings.Contains(tail, "[INFO]\t") {
		t.Errorf("Python logging lines missing from the Tail:\n%s", tail)
	}
	_, fromLayer, _ := invoke("cli-py", `{"action":"layer"}`)
	expectEq(t, "module imported from a layer", jstr(fromLayer, "from_layer"), "hi from a layer")
	meta, timedOut, _ := invoke("cli-py", `{"action":"sleep","seconds":20}`)
	expectEq(t, "Python timeout FunctionError", jstr(meta, "FunctionError"), "Unhandled")
	expectEq(t, "Python timeout errorType", jstr(timedOut, "errorType"), "Sandbox.Timedout")

	// Node.js: the same through the CLI.
	_, n1, tail := invoke("cli-node", `{"k":"v"}`)
	expectEq(t, "node functionName", jstr(n1, "functionName"), "cli-node")
	expectEq(t, "node AWS_EXECUTION_ENV", jstr(n1, "executionEnv"), "AWS_Lambda_nodejs20.x")
	if !strings.Contains(tail, "Init Duration:") {
		t.Errorf("first Node.js invoke is not cold:\n%s", tail)
	}
	_, n2, _ := invoke("cli-node", `{}`)
	if n2["calls"] != float64(2) {
		t.Errorf("second Node.js invoke not warm: calls %v", n2["calls"])
	}
	c.ok("lambda", "update-function-configuration", "--function-name", "cli-node", "--handler", "index.sleep")
	c.ok("lambda", "wait", "function-updated-v2", "--function-name", "cli-node")
	meta, timedOut, _ = invoke("cli-node", `{"ms":20000}`)
	expectEq(t, "Node.js timeout FunctionError", jstr(meta, "FunctionError"), "Unhandled")
	expectEq(t, "Node.js timeout errorType", jstr(timedOut, "errorType"), "Sandbox.Timedout")
}
