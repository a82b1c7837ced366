package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The external extension of the tests (testdata/ext), built once.
var extBuild struct {
	once sync.Once
	bin  []byte
	err  error
}

func extBinary(t testing.TB) []byte {
	t.Helper()
	extBuild.once.Do(func() {
		out := filepath.Join(filepath.Dir(kumoBin), "kumo-test-ext")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./test/e2e/testdata/ext")
		cmd.Dir = repoDir
		cmd.Env = append(cleanEnv(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			extBuild.err = fmt.Errorf("go build ./test/e2e/testdata/ext: %v\n%s", err, b)
			return
		}
		extBuild.bin, extBuild.err = os.ReadFile(out)
	})
	if extBuild.err != nil {
		t.Fatal(extBuild.err)
	}
	return extBuild.bin
}

// extLines are the function's log lines the extension printed.
func extLines(events []logLine) []string {
	var out []string
	for _, e := range events {
		if strings.HasPrefix(e.Message, "EXT ") {
			out = append(out, strings.TrimSpace(e.Message))
		}
	}
	return out
}

func hasExtLine(lines []string, want string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, want) {
			return true
		}
	}
	return false
}

// TestExtensions runs an external extension from a layer's extensions/
// directory beside a Python function: it registers (and gets the
// function's name, version, handler and account), receives an INVOKE
// event for every invocation with its request id and ARN, and a SHUTDOWN
// event (spindown) when its sandbox goes after the function is deleted;
// all of which it prints into the function's log, read back with
// CloudWatch Logs. A second function's extension posts init/error: the
// invocation fails with the extension's error type.
func TestExtensions(t *testing.T) {
	t.Parallel()
	var args []string
	if os.Geteuid() == 0 {
		args = []string{"--sandbox", "linux"}
	}
	s := startServer(t, t.TempDir(), args...)
	lc := newSDK(t, s)
	cl := newLogsClient(s)

	layer := publishLayer(t, lc, "ext-layer", makeZip(t, zipEntry{Name: "extensions/kumo-test-ext", Body: string(extBinary(t)), Mode: 0o755}))
	code := makeZip(t, zipEntry{Name: "app.py", Body: "def handler(event, context):\n    return {'ok': True, 'rid': context.aws_request_id}\n"})

	const fn = "ext-fn"
	createWithLayers(t, lc, fn, types.RuntimePython312, "app.handler", code, aws.ToString(layer.LayerVersionArn))
	var rids []string
	for i := 0; i < 2; i++ {
		r := call(t, lc, fn, "", []byte(`{}`))
		r.ok(t, "invoke with an extension")
		rids = append(rids, r.RequestID)
	}
	group := "/aws/lambda/" + fn
	var lines []string
	eventually(t, 30*time.Second, "the extension's INVOKE lines", func() error {
		events, err := allLogEvents(t, cl, group, "")
		if err != nil {
			return err
		}
		lines = extLines(events)
		for _, rid := range rids {
			if !hasExtLine(lines, "EXT kumo-test-ext INVOKE "+rid+" arn="+functionARN(fn)+" deadline=true") {
				return fmt.Errorf("no INVOKE line for %s; extension lines:\n%s", rid, strings.Join(lines, "\n"))
			}
		}
		return nil
	})
	want := "EXT kumo-test-ext registered status=200 function=" + fn + " version=$LATEST handler=app.handler account=" + accountID
	if !hasExtLine(lines, want) {
		t.Errorf("no line %q; extension lines:\n%s", want, strings.Join(lines, "\n"))
	}
	if n := strings.Count(strings.Join(lines, "\n"), " registered "); n != 1 {
		t.Errorf("the extension registered %d times for two sequential invocations in one sandbox, want 1:\n%s", n, strings.Join(lines, "\n"))
	}

	// Deleting the function retires its idle sandbox: SHUTDOWN first.
	must[*lambda.DeleteFunctionOutput](t, "DeleteFunction")(lc.DeleteFunction(t.Context(), &lambda.DeleteFunctionInput{FunctionName: aws.String(fn)}))
	eventually(t, 60*time.Second, "the extension's SHUTDOWN line", func() error {
		events, err := allLogEvents(t, cl, group, "")
		if err != nil {
			return err
		}
		lines = extLines(events)
		if !hasExtLine(lines, "EXT kumo-test-ext SHUTDOWN spindown deadline=true") {
			return fmt.Errorf("no SHUTDOWN line; extension lines:\n%s", strings.Join(lines, "\n"))
		}
		return nil
	})
	events, err := allLogEvents(t, cl, group, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if strings.Contains(e.Message, "kumo-extension-exited") {
			t.Errorf("the launcher's exit line reached the function's log: %q", e.Message)
		}
	}

	t.Run("InitError", func(t *testing.T) {
		const fn = "ext-initerror"
		must[*lambda.CreateFunctionOutput](t, "CreateFunction "+fn)(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
			FunctionName: aws.String(fn), Runtime: types.RuntimePython312, Role: aws.String(testRole),
			Handler: aws.String("app.handler"), Code: &types.FunctionCode{ZipFile: code}, MemorySize: aws.Int32(256),
			Timeout: aws.Int32(10), Layers: []string{aws.ToString(layer.LayerVersionArn)},
			Environment: &types.Environment{Variables: map[string]string{"KUMO_EXT_MODE": "initerror"}},
		}))
		waitActive(t, lc, fn)
		r := call(t, lc, fn, "", []byte(`{}`))
		p := r.failed(t, "invoke with an extension that posted init/error", "Extension.ConfigInvalid")
		if m, _ := p["errorMessage"].(string); !strings.Contains(m, "kumo-test-ext") {
			t.Errorf("errorMessage %q does not name the extension", m)
		}
	})

	t.Run("Crash", func(t *testing.T) {
		const fn = "ext-crash"
		must[*lambda.CreateFunctionOutput](t, "CreateFunction "+fn)(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
			FunctionName: aws.String(fn), Runtime: types.RuntimePython312, Role: aws.String(testRole),
			Handler: aws.String("app.handler"), Code: &types.FunctionCode{ZipFile: code}, MemorySize: aws.Int32(256),
			Timeout: aws.Int32(10), Layers: []string{aws.ToString(layer.LayerVersionArn)},
			Environment: &types.Environment{Variables: map[string]string{"KUMO_EXT_MODE": "crash"}},
		}))
		waitActive(t, lc, fn)
		r := call(t, lc, fn, "", []byte(`{}`))
		p := r.failed(t, "invoke with an extension that exits before it registers", "Extension.Crash")
		if m, _ := p["errorMessage"].(string); !strings.Contains(m, "kumo-test-ext exited with status 3") {
			t.Errorf("errorMessage %q does not say which extension exited how", m)
		}
	})

	t.Run("TimeoutShutdown", func(t *testing.T) {
		// A function that runs past its timeout: its sandbox goes, and
		// the extension's SHUTDOWN says why.
		const fn = "ext-timeout"
		slow := makeZip(t, zipEntry{Name: "app.py", Body: "import time\n\ndef handler(event, context):\n    time.sleep(30)\n"})
		must[*lambda.CreateFunctionOutput](t, "CreateFunction "+fn)(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
			FunctionName: aws.String(fn), Runtime: types.RuntimePython312, Role: aws.String(testRole),
			Handler: aws.String("app.handler"), Code: &types.FunctionCode{ZipFile: slow}, MemorySize: aws.Int32(256),
			Timeout: aws.Int32(1), Layers: []string{aws.ToString(layer.LayerVersionArn)},
		}))
		waitActive(t, lc, fn)
		r := call(t, lc, fn, "", []byte(`{}`))
		r.failed(t, "invoke past the timeout", "Sandbox.Timedout")
		eventually(t, 30*time.Second, "the extension's SHUTDOWN timeout line", func() error {
			events, err := allLogEvents(t, cl, "/aws/lambda/"+fn, "")
			if err != nil {
				return err
			}
			lines := extLines(events)
			if !hasExtLine(lines, "EXT kumo-test-ext SHUTDOWN timeout deadline=true") {
				return fmt.Errorf("no SHUTDOWN timeout line; extension lines:\n%s", strings.Join(lines, "\n"))
			}
			return nil
		})
	})

	t.Run("RuntimeAfterRegistration", func(t *testing.T) {
		// The runtime starts once the extensions registered: the
		// function's init code sees what a slow extension did first.
		const fn = "ext-order"
		order := makeZip(t, zipEntry{Name: "app.py", Body: "import os\nSEEN = os.path.exists('/tmp/kumo-ext-" + fn + "')\n\ndef handler(event, context):\n    return {'seen': SEEN}\n"})
		must[*lambda.CreateFunctionOutput](t, "CreateFunction "+fn)(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
			FunctionName: aws.String(fn), Runtime: types.RuntimePython312, Role: aws.String(testRole),
			Handler: aws.String("app.handler"), Code: &types.FunctionCode{ZipFile: order}, MemorySize: aws.Int32(256),
			Timeout: aws.Int32(10), Layers: []string{aws.ToString(layer.LayerVersionArn)},
			Environment: &types.Environment{Variables: map[string]string{"KUMO_EXT_MODE": "slowregister"}},
		}))
		waitActive(t, lc, fn)
		p := call(t, lc, fn, "", []byte(`{}`)).ok(t, "invoke with a slowly registering extension")
		if p["seen"] != true {
			t.Errorf("the function's init ran before the extension registered: %v", p)
		}
	})

	t.Run("ExecWrapper", func(t *testing.T) {
		const fn = "exec-wrapper"
		wrapper := publishLayer(t, lc, "wrapper-layer", makeZip(t, zipEntry{Name: "wrapper",
			Body: "#!/bin/sh\nexport KUMO_WRAPPED=\"$1\"\nexec \"$@\"\n", Mode: 0o755}))
		wcode := makeZip(t, zipEntry{Name: "app.py", Body: "import os\n\ndef handler(event, context):\n    return {'wrapped': os.environ.get('KUMO_WRAPPED', '')}\n"})
		must[*lambda.CreateFunctionOutput](t, "CreateFunction "+fn)(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
			FunctionName: aws.String(fn), Runtime: types.RuntimePython312, Role: aws.String(testRole),
			Handler: aws.String("app.handler"), Code: &types.FunctionCode{ZipFile: wcode}, MemorySize: aws.Int32(256),
			Timeout: aws.Int32(10), Layers: []string{aws.ToString(wrapper.LayerVersionArn)},
			Environment: &types.Environment{Variables: map[string]string{"AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrapper"}},
		}))
		waitActive(t, lc, fn)
		p := call(t, lc, fn, "", []byte(`{}`)).ok(t, "invoke through AWS_LAMBDA_EXEC_WRAPPER")
		// The wrapper got the runtime's command: the interpreter first.
		if w, _ := p["wrapped"].(string); !strings.Contains(w, "python") {
			t.Errorf("the wrapper's first argument is %q, want the runtime's interpreter", w)
		}
	})
}

// TestTelemetryAPI runs an extension that subscribes to the Telemetry
// API's platform, function and extension streams on a listener of its own and prints
// what it receives: the init phase's records, an invocation's start,
// runtimeDone and report with its request id, and the function's own log
// line, and its own output as extension records (not function ones). On
// both drivers: the linux driver's server reaches the listener inside the
// sandbox's own network.
func TestTelemetryAPI(t *testing.T) {
	t.Parallel()
	drivers := []string{"process"}
	if os.Geteuid() == 0 {
		drivers = append(drivers, "linux")
	}
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			telemetryAPI(t, driver)
		})
	}
}

func telemetryAPI(t *testing.T, driver string) {
	s := startServer(t, t.TempDir(), "--sandbox", driver)
	lc := newSDK(t, s)
	cl := newLogsClient(s)

	layer := publishLayer(t, lc, "tel-layer", makeZip(t, zipEntry{Name: "extensions/kumo-test-ext", Body: string(extBinary(t)), Mode: 0o755}))
	code := makeZip(t, zipEntry{Name: "app.py", Body: "def handler(event, context):\n    print('kumo-handler-' + 'says-hello')\n    return {'ok': True}\n"})
	const fn = "tel-fn"
	must[*lambda.CreateFunctionOutput](t, "CreateFunction "+fn)(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String(fn), Runtime: types.RuntimePython312, Role: aws.String(testRole),
		Handler: aws.String("app.handler"), Code: &types.FunctionCode{ZipFile: code}, MemorySize: aws.Int32(256),
		Timeout: aws.Int32(10), Layers: []string{aws.ToString(layer.LayerVersionArn)},
		Environment: &types.Environment{Variables: map[string]string{"KUMO_EXT_MODE": "telemetry"}},
	}))
	waitActive(t, lc, fn)
	r := call(t, lc, fn, "", []byte(`{}`))
	r.ok(t, "invoke with a telemetry subscriber")
	rid := r.RequestID
	want := []string{
		"EXT kumo-test-ext subscribed status 200",
		"EXT kumo-test-ext TELEMETRY platform.initStart  ",
		"EXT kumo-test-ext TELEMETRY platform.initRuntimeDone  success",
		"EXT kumo-test-ext TELEMETRY platform.initReport  success",
		"EXT kumo-test-ext TELEMETRY platform.start " + rid + "  time=true",
		"EXT kumo-test-ext TELEMETRY platform.runtimeDone " + rid + " success",
		"EXT kumo-test-ext TELEMETRY platform.report " + rid + " success",
		"EXT kumo-test-ext TELEMETRY function-marker",
		"EXT kumo-test-ext TELEMETRY extension-marker",
	}
	eventually(t, 30*time.Second, "the extension's telemetry lines", func() error {
		events, err := allLogEvents(t, cl, "/aws/lambda/"+fn, "")
		if err != nil {
			return err
		}
		lines := extLines(events)
		if hasExtLine(lines, "EXT kumo-test-ext TELEMETRY own line") {
			return stopPolling(fmt.Errorf("the extension's output came as function records:\n%s", strings.Join(lines, "\n")))
		}
		for _, w := range want {
			if !hasExtLine(lines, w) {
				return fmt.Errorf("no line %q; extension lines:\n%s", w, strings.Join(lines, "\n"))
			}
		}
		return nil
	})
}

// TestExtensionHoldsSandbox: an extension that does not finish an
// invocation does not delay the response, but keeps its sandbox from
// being reused: the next invocation starts a new one.
func TestExtensionHoldsSandbox(t *testing.T) {
	t.Parallel()
	var args []string
	if os.Geteuid() == 0 {
		args = []string{"--sandbox", "linux"}
	}
	s := startServer(t, t.TempDir(), args...)
	lc := newSDK(t, s)
	layer := publishLayer(t, lc, "hold-layer", makeZip(t, zipEntry{Name: "extensions/kumo-test-ext", Body: string(extBinary(t)), Mode: 0o755}))
	code := makeZip(t, zipEntry{Name: "app.py", Body: "def handler(event, context):\n    return {'ok': True}\n"})
	const fn = "hold-fn"
	must[*lambda.CreateFunctionOutput](t, "CreateFunction "+fn)(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String(fn), Runtime: types.RuntimePython312, Role: aws.String(testRole),
		Handler: aws.String("app.handler"), Code: &types.FunctionCode{ZipFile: code}, MemorySize: aws.Int32(256),
		Timeout: aws.Int32(30), Layers: []string{aws.ToString(layer.LayerVersionArn)},
		Environment: &types.Environment{Variables: map[string]string{"KUMO_EXT_MODE": "hold"}},
	}))
	waitActive(t, lc, fn)
	for i := 1; i <= 2; i++ {
		r, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{}`), LogType: types.LogTypeTail})
		if err != nil {
			t.Fatalf("invoke %d: %v", i, err)
		}
		r.ok(t, fmt.Sprintf("invoke %d while the extension holds the first", i))
		if !strings.Contains(r.Log, "Init Duration") {
			t.Errorf("invoke %d ran in a warm sandbox whose extension had not finished; log:\n%s", i, r.Log)
		}
	}
}

// TestScriptExtension runs an extension laid out as AWS's examples lay
// out theirs: extensions/<name> a bash script that execs a Python program
// elsewhere in the layer, whose "#!/usr/bin/env python3" line finds the
// runtime's interpreter. It registers and gets INVOKE events with nothing
// but Python's standard library.
func TestScriptExtension(t *testing.T) {
	t.Parallel()
	var args []string
	if os.Geteuid() == 0 {
		args = []string{"--sandbox", "linux"}
	}
	s := startServer(t, t.TempDir(), args...)
	lc := newSDK(t, s)
	cl := newLogsClient(s)
	ext := `#!/usr/bin/env python3
import json, os, sys, urllib.request
base = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
name = "py-ext"
req = urllib.request.Request(base + "/register", data=json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(),
                             headers={"Lambda-Extension-Name": name}, method="POST")
with urllib.request.urlopen(req) as r:
    ext_id = r.headers["Lambda-Extension-Identifier"]
    print("[py-ext] registered for", json.load(r)["functionName"], flush=True)
while True:
    req = urllib.request.Request(base + "/event/next", headers={"Lambda-Extension-Identifier": ext_id})
    with urllib.request.urlopen(req) as r:
        ev = json.load(r)
    print("[py-ext]", ev["eventType"], ev.get("requestId", ev.get("shutdownReason")), flush=True)
    if ev["eventType"] == "SHUTDOWN":
        sys.exit(0)
`
	layer := publishLayer(t, lc, "py-ext-layer", makeZip(t,
		zipEntry{Name: "extensions/py-ext", Body: "#!/bin/bash\nset -euo pipefail\nexec /opt/py-ext/extension.py\n", Mode: 0o755},
		zipEntry{Name: "py-ext/extension.py", Body: ext, Mode: 0o755}))
	code := makeZip(t, zipEntry{Name: "app.py", Body: "def handler(event, context):\n    return {'ok': True}\n"})
	const fn = "py-ext-fn"
	createWithLayers(t, lc, fn, types.RuntimePython312, "app.handler", code, aws.ToString(layer.LayerVersionArn))
	r := call(t, lc, fn, "", []byte(`{}`))
	r.ok(t, "invoke with a Python extension")
	eventually(t, 30*time.Second, "the Python extension's lines", func() error {
		events, err := allLogEvents(t, cl, "/aws/lambda/"+fn, "")
		if err != nil {
			return err
		}
		for _, want := range []string{"[py-ext] registered for " + fn, "[py-ext] INVOKE " + r.RequestID} {
			if !hasLine(events, want) {
				return fmt.Errorf("no line %q; log:\n%s", want, dumpLines(events))
			}
		}
		return nil
	})
}
