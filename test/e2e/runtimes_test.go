package e2e

import (
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// dirZip zips a directory of testdata, paths relative to it.
func dirZip(t testing.TB, dir string) []byte {
	t.Helper()
	root := filepath.Join(repoDir, "test", "e2e", "testdata", dir)
	var entries []zipEntry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		entries = append(entries, zipEntry{Name: filepath.ToSlash(rel), Body: string(b)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	return makeZip(t, entries...)
}

// deployManaged creates a function of a managed runtime and waits until it
// is Active.
func deployManaged(t *testing.T, lc *lambda.Client, name string, runtime types.Runtime, handler string, zip []byte) {
	t.Helper()
	deployManagedSized(t, lc, name, runtime, handler, zip, aws.Int32(256), aws.Int32(10))
}

// deployManagedSized is deployManaged with a memory size and timeout;
// nil leaves them to the defaults (128 MB, 3 s).
func deployManagedSized(t *testing.T, lc *lambda.Client, name string, runtime types.Runtime, handler string, zip []byte, memoryMB, timeout *int32) {
	t.Helper()
	must[*lambda.CreateFunctionOutput](t, "CreateFunction "+name)(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      runtime,
		Role:         aws.String(testRole),
		Handler:      aws.String(handler),
		Code:         &types.FunctionCode{ZipFile: zip},
		MemorySize:   memoryMB,
		Timeout:      timeout,
	}))
	waitActive(t, lc, name)
}

// runtimeServer starts a server with the linux driver when running as
// root, the process driver otherwise.
func runtimeServer(t *testing.T) (*server, *lambda.Client) {
	args := []string{"--sandbox", "process"}
	if os.Geteuid() == 0 {
		args = []string{"--sandbox", "linux"}
	}
	s := startServer(t, t.TempDir(), args...)
	return s, newSDK(t, s)
}

// TestRuntimeProcessDriver runs Python and Node.js functions in plain
// child processes, where /var/task and /var/runtime are rewritten paths.
func TestRuntimeProcessDriver(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	lc := newSDK(t, s)
	for _, c := range []struct {
		runtime      types.Runtime
		handler, dir string
		need         []string
	}{
		{types.RuntimePython312, "app.handler", "py", []string{"/usr/bin/python3", "/usr/local/bin/python3"}},
		{types.RuntimeNodejs20x, "index.handler", "node/cjs", []string{"/usr/bin/node", "/usr/local/bin/node"}},
		{types.RuntimeNodejs20x, "index.handler", "node/esm", []string{"/usr/bin/node", "/usr/local/bin/node"}},
	} {
		t.Run(string(c.runtime)+"/"+c.dir, func(t *testing.T) {
			requireInterpreter(t, c.need...)
			name := "proc-" + strings.NewReplacer(".", "", "/", "-").Replace(string(c.runtime)+"-"+c.dir)
			deployManaged(t, lc, name, c.runtime, c.handler, dirZip(t, c.dir))
			r := call(t, lc, name, "", []byte(`{"action":"echo"}`))
			r.ok(t, "echo")
			checkLog(t, r, "$LATEST", 256, true)
			r = call(t, lc, name, "", []byte(`{"action":"echo"}`))
			r.ok(t, "warm echo")
			checkLog(t, r, "$LATEST", 256, false)
		})
	}
}

func requireInterpreter(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return
		}
	}
	t.Skipf("no interpreter here (%s)", strings.Join(paths, ", "))
}

var (
	// pyLogRE is a line of Lambda's Python logging format.
	pyLogRE = `\[%s\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t%s\t%s\n`
	// nodeLogRE is a console line of Lambda's Node.js format.
	nodeLogRE = `(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t%s\t%s\t%s$`
)

func expectLog(t *testing.T, r *invoked, re string) {
	t.Helper()
	if !regexp.MustCompile(re).MatchString(r.Log) {
		t.Errorf("log tail lacks a line matching %q:\n%s", re, r.Log)
	}
}

// TestRuntimePython runs Python functions in Kumo's python bootstrap.
func TestRuntimePython(t *testing.T) {
	requireInterpreter(t, "/usr/bin/python3", "/usr/local/bin/python3")
	t.Parallel()
	_, lc := runtimeServer(t)
	zip := dirZip(t, "py")

	t.Run("Echo", func(t *testing.T) {
		t.Parallel()
		deployManaged(t, lc, "py-echo", types.RuntimePython312, "app.handler", zip)
		payload := []byte(`{"action":"echo","n":[1,2.5,null],"s":"雲 ☁"}`)
		first := call(t, lc, "py-echo", "", payload)
		p := first.ok(t, "python echo")
		checkLog(t, first, "$LATEST", 256, true)
		expectEq(t, "event.s", jstr(p, "event", "s"), "雲 ☁")
		expectEq(t, "calls", jnum(p, "calls"), 1)
		expectEq(t, "function_name", jstr(p, "function_name"), "py-echo")
		expectEq(t, "function_version", jstr(p, "function_version"), "$LATEST")
		expectEq(t, "invoked_function_arn", jstr(p, "invoked_function_arn"), functionARN("py-echo"))
		expectEq(t, "memory_limit_in_mb", jstr(p, "memory_limit_in_mb"), "256")
		expectEq(t, "aws_request_id", jstr(p, "aws_request_id"), first.RequestID)
		expectEq(t, "log_group_name", jstr(p, "log_group_name"), "/aws/lambda/py-echo")
		if !streamRE.MatchString(jstr(p, "log_stream_name")) {
			t.Errorf("log_stream_name %q", jstr(p, "log_stream_name"))
		}
		if ms := jnum(p, "remaining_ms"); ms <= 8000 || ms > 10000 {
			t.Errorf("get_remaining_time_in_millis() = %v, want about 10000", ms)
		}
		expectEq(t, "AWS_EXECUTION_ENV", jstr(p, "execution_env"), "AWS_Lambda_python3.12")
		expectEq(t, "_HANDLER", jstr(p, "handler_env"), "app.handler")
		expectEq(t, "sys.path[0]", jstr(p, "sys_path_head", "0"), "/var/task")
		// python3.12 answers with Unicode unescaped, as Lambda's does.
		if !strings.Contains(string(first.Payload), `"雲"`) {
			t.Errorf("payload escapes Unicode: %s", first.Payload)
		}
		if jstr(p, "python") != "3.12" && !strings.Contains(first.Log, "WARNING: runtime python3.12 is not installed on this server") {
			// The warning is in the stream's first lines, before START;
			// the tail holds the invocation's lines only.
			t.Logf("python3.12 runs on Python %s here", jstr(p, "python"))
		}

		// Module state survives a warm invocation; the client context
		// and identity reach the context.
		cc := `{"custom":{"flavour":"vanilla"},"env":{"platform":"linux"},"client":{"app_title":"kumo"}}`
		r, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String("py-echo"), Payload: payload,
			ClientContext: aws.String(base64.StdEncoding.EncodeToString([]byte(cc)))})
		if err != nil {
			t.Fatal(err)
		}
		p2 := r.ok(t, "warm python echo")
		checkLog(t, r, "$LATEST", 256, false)
		expectEq(t, "calls after a warm invoke", jnum(p2, "calls"), 2)
		expectEq(t, "client_context.custom.flavour", jstr(p2, "client_custom", "flavour"), "vanilla")
		expectEq(t, "log stream of the warm sandbox", jstr(p2, "log_stream_name"), jstr(p, "log_stream_name"))
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		deployManaged(t, lc, "py-errors", types.RuntimePython311, "app.handler", zip)
		r := call(t, lc, "py-errors", "", []byte(`{"action":"raise","why":"tests"}`))
		e := r.failed(t, "python exception", "Boom")
		expectEq(t, "errorMessage", jstr(e, "errorMessage"), "it went wrong: tests")
		expectEq(t, "requestId", jstr(e, "requestId"), r.RequestID)
		if tr := jstr(e, "stackTrace", "0"); !strings.Contains(tr, `File "/var/task/app.py", line 20, in handler`) ||
			!strings.Contains(tr, `raise Boom(`) {
			t.Errorf("stackTrace[0] = %q", tr)
		}
		if len(jget(e, "stackTrace").([]any)) != 1 {
			t.Errorf("stackTrace has frames of the runtime: %v", jget(e, "stackTrace"))
		}
		if !regexp.MustCompile(`(?m)^\[ERROR\] Boom: it went wrong: tests\rTraceback \(most recent call last\):\r  File "/var/task/app.py", line 20, in handler\r`).MatchString(r.Log) {
			t.Errorf("log tail lacks the error line as Lambda prints it:\n%q", r.Log)
		}
		// The sandbox survives a function error.
		r = call(t, lc, "py-errors", "", []byte(`{"action":"echo"}`))
		expectEq(t, "calls after an error", jnum(r.ok(t, "echo after an error"), "calls"), 2)

		r = call(t, lc, "py-errors", "", []byte(`{"action":"unmarshalable"}`))
		e = r.failed(t, "unmarshalable result", "Runtime.MarshalError")
		expectEq(t, "errorMessage", jstr(e, "errorMessage"), "Unable to marshal response: Object of type set is not JSON serializable")
	})

	t.Run("InitErrors", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			handler, errorType, message string
		}{
			{"missing.handler", "Runtime.ImportModuleError", "Unable to import module 'missing': No module named 'missing'"},
			{"imports_missing.handler", "Runtime.ImportModuleError", "Unable to import module 'imports_missing': No module named 'no_such_dependency'"},
			{"app.nope", "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'app'"},
			{"apphandler", "Runtime.MalformedHandlerName", "Bad handler 'apphandler': not enough values to unpack (expected 2, got 1)"},
			{"bad_syntax.handler", "Runtime.UserCodeSyntaxError", "Syntax error in module 'bad_syntax': expected ':' (bad_syntax.py, line 1)"},
			{"init_fail.handler", "RuntimeError", "failed during init"},
		} {
			name := "py-init-" + strings.NewReplacer(".", "-", "_", "-").Replace(c.handler)
			deployManaged(t, lc, name, types.RuntimePython312, c.handler, zip)
			r := call(t, lc, name, "", []byte(`{}`))
			e := r.failed(t, c.handler, c.errorType)
			msg := jstr(e, "errorMessage")
			if c.errorType == "Runtime.UserCodeSyntaxError" {
				// The wording of a syntax error depends on the Python version.
				if !strings.HasPrefix(msg, "Syntax error in module 'bad_syntax': ") || !strings.Contains(msg, "(bad_syntax.py, line 1)") {
					t.Errorf("%s: errorMessage %q", c.handler, msg)
				}
				continue
			}
			expectEq(t, c.handler+": errorMessage", msg, c.message)
		}
	})

	t.Run("Logs", func(t *testing.T) {
		t.Parallel()
		deployManaged(t, lc, "py-logs", types.RuntimePython313, "app.handler", zip)
		r := call(t, lc, "py-logs", "", []byte(`{"action":"log"}`))
		r.ok(t, "python logging")
		id := regexp.QuoteMeta(r.RequestID)
		expectLog(t, r, `(?m)^printed line$`)
		expectLog(t, r, `(?m)^two\nlines$`)
		expectLog(t, r, fmt.Sprintf(pyLogRE, "INFO", id, "info from logging 42"))
		expectLog(t, r, fmt.Sprintf(pyLogRE, "WARNING", id, "warned"))
		expectLog(t, r, `(?m)^to stderr$`)
		if strings.Contains(r.Log, "not shown") {
			t.Errorf("a DEBUG record was logged at level INFO:\n%s", r.Log)
		}
	})

	t.Run("StandardLibrary", func(t *testing.T) {
		t.Parallel()
		deployManaged(t, lc, "py-stdlib", types.RuntimePython312, "tls.handler", zip)
		p := call(t, lc, "py-stdlib", "", []byte(`{}`)).ok(t, "ssl, hashlib and sqlite3")
		expectEq(t, "sqlite", jnum(p, "sqlite"), 2)
		expectEq(t, "sha256", jstr(p, "sha"), "2be7a151e93b9c2f5f1bb63e50c362e1f67b7ecf10267beb983517571b84d743")
		if jnum(p, "certs") == 0 {
			if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
				t.Errorf("ssl sees no CA certificates: %v", p)
			}
		}
		deployManaged(t, lc, "py-nested", types.RuntimePython312, "pkg/mod.handler", zip)
		expectEq(t, "nested module", jget(call(t, lc, "py-nested", "", []byte(`{}`)).ok(t, "pkg/mod.handler"), "nested"), any(true))
	})
}

// TestRuntimeNode runs Node.js functions in Kumo's nodejs bootstrap.
func TestRuntimeNode(t *testing.T) {
	requireInterpreter(t, "/usr/bin/node", "/usr/local/bin/node")
	t.Parallel()
	_, lc := runtimeServer(t)
	cjs := dirZip(t, "node/cjs")
	esm := dirZip(t, "node/esm")

	t.Run("Echo", func(t *testing.T) {
		t.Parallel()
		deployManaged(t, lc, "node-echo", types.RuntimeNodejs20x, "index.handler", cjs)
		first := call(t, lc, "node-echo", "", []byte(`{"s":"雲 ☁","n":[1,null]}`))
		p := first.ok(t, "node echo")
		checkLog(t, first, "$LATEST", 256, true)
		expectEq(t, "event.s", jstr(p, "event", "s"), "雲 ☁")
		expectEq(t, "calls", jnum(p, "calls"), 1)
		expectEq(t, "functionName", jstr(p, "functionName"), "node-echo")
		expectEq(t, "functionVersion", jstr(p, "functionVersion"), "$LATEST")
		expectEq(t, "invokedFunctionArn", jstr(p, "invokedFunctionArn"), functionARN("node-echo"))
		expectEq(t, "memoryLimitInMB", jstr(p, "memoryLimitInMB"), "256")
		expectEq(t, "awsRequestId", jstr(p, "awsRequestId"), first.RequestID)
		expectEq(t, "logGroupName", jstr(p, "logGroupName"), "/aws/lambda/node-echo")
		expectEq(t, "callbackWaitsForEmptyEventLoop", jget(p, "waits"), any(true))
		expectEq(t, "AWS_EXECUTION_ENV", jstr(p, "executionEnv"), "AWS_Lambda_nodejs20.x")
		expectEq(t, "cwd", jstr(p, "cwd"), "/var/task")
		if ms := jnum(p, "remainingMs"); ms <= 8000 || ms > 10000 {
			t.Errorf("getRemainingTimeInMillis() = %v, want about 10000", ms)
		}
		if !streamRE.MatchString(jstr(p, "logStreamName")) {
			t.Errorf("logStreamName %q", jstr(p, "logStreamName"))
		}
		cc := `{"custom":{"flavour":"vanilla"},"env":{"platform":"linux"}}`
		r, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String("node-echo"), Payload: []byte(`{}`),
			ClientContext: aws.String(base64.StdEncoding.EncodeToString([]byte(cc)))})
		if err != nil {
			t.Fatal(err)
		}
		p2 := r.ok(t, "warm node echo")
		checkLog(t, r, "$LATEST", 256, false)
		expectEq(t, "calls after a warm invoke", jnum(p2, "calls"), 2)
		expectEq(t, "clientContext.custom.flavour", jstr(p2, "clientContext", "custom", "flavour"), "vanilla")
	})

	t.Run("Modules", func(t *testing.T) {
		t.Parallel()
		deployManaged(t, lc, "node-mjs", types.RuntimeNodejs22x, "app.handler", cjs)
		p := call(t, lc, "node-mjs", "", []byte(`{}`)).ok(t, ".mjs handler")
		expectEq(t, "kind", jstr(p, "kind"), "mjs")
		expectEq(t, "import.meta", jget(p, "esm"), any(true))
		deployManaged(t, lc, "node-cjs", types.RuntimeNodejs22x, "lib.handler", cjs)
		p = call(t, lc, "node-cjs", "", []byte(`{}`)).ok(t, ".cjs handler")
		expectEq(t, "kind", jstr(p, "kind"), "cjs")
		deployManaged(t, lc, "node-esm", types.RuntimeNodejs20x, "index.handler", esm)
		r := call(t, lc, "node-esm", "", []byte(`{}`))
		p = r.ok(t, `.js handler with "type": "module"`)
		expectEq(t, "kind", jstr(p, "kind"), "esm")
		expectEq(t, "top-level await", jstr(p, "ready"), "top-level await")
		expectEq(t, "requestId", jstr(p, "requestId"), r.RequestID)
	})

	t.Run("Callbacks", func(t *testing.T) {
		t.Parallel()
		deployManaged(t, lc, "node-callback", types.RuntimeNodejs18x, "index.callback", cjs)
		expectEq(t, "callback result", jstr(call(t, lc, "node-callback", "", []byte(`{}`)).ok(t, "callback handler"), "via"), "callback")
		expectEq(t, "warm callback", jnum(call(t, lc, "node-callback", "", []byte(`{}`)).ok(t, "callback handler"), "calls"), 2)

		deployManaged(t, lc, "node-waits", types.RuntimeNodejs20x, "index.waits", cjs)
		call(t, lc, "node-waits", "", []byte(`{}`)).ok(t, "warm-up")
		r := call(t, lc, "node-waits", "", []byte(`{"wait":true}`))
		r.ok(t, "callbackWaitsForEmptyEventLoop = true")
		if d := reportDuration(t, r); d < 290 {
			t.Errorf("callbackWaitsForEmptyEventLoop = true: answered after %.0f ms, before the 300 ms timer", d)
		}
		for i := 0; i < 12; i++ { // no listener piles up across invocations
			call(t, lc, "node-waits", "", []byte(`{"wait":false}`)).ok(t, "repeated invocation")
		}
		r = call(t, lc, "node-waits", "", []byte(`{"wait":false}`))
		expectEq(t, "waited", jget(r.ok(t, "callbackWaitsForEmptyEventLoop = false"), "waited"), any(false))
		if d := reportDuration(t, r); d >= 250 {
			t.Errorf("callbackWaitsForEmptyEventLoop = false: answered after %.0f ms, it waited for the timer", d)
		}
	})

	t.Run("Neither", func(t *testing.T) {
		t.Parallel()
		deployManaged(t, lc, "node-neither", types.RuntimeNodejs20x, "index.neither", cjs)
		for i := 0; i < 2; i++ {
			r := call(t, lc, "node-neither", "", []byte(`{}`))
			if r.FunctionError != "" || string(r.Payload) != "null" {
				t.Errorf("a handler that neither returns a promise nor calls back: %s", r)
			}
			expectLog(t, r, fmt.Sprintf(nodeLogRE, regexp.QuoteMeta(r.RequestID), "INFO", "timer done"))
		}
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct{ handler, errorType, message, trace0 string }{
			{"index.throws", "TypeError", "bad type", "TypeError: bad type"},
			{"index.rejects", "Error", "rejected", "Error: rejected"},
			{"index.cbError", "Error", "callback failed", "Error: callback failed"},
		} {
			name := "node-" + strings.TrimPrefix(c.handler, "index.")
			deployManaged(t, lc, name, types.RuntimeNodejs20x, c.handler, cjs)
			r := call(t, lc, name, "", []byte(`{}`))
			e := r.failed(t, c.handler, c.errorType)
			expectEq(t, c.handler+": errorMessage", jstr(e, "errorMessage"), c.message)
			expectEq(t, c.handler+": trace[0]", jstr(e, "trace", "0"), c.trace0)
			if !strings.Contains(jstr(e, "trace", "1"), "/var/task/index.js") {
				t.Errorf("%s: trace[1] = %q, want a frame of /var/task/index.js", c.handler, jstr(e, "trace", "1"))
			}
			expectLog(t, r, fmt.Sprintf(nodeLogRE, regexp.QuoteMeta(r.RequestID), "ERROR", `Invoke Error \t\{"errorType":"`+c.errorType+`","errorMessage":"`+c.message+`","stack":\[.*`))
			// The sandbox survives a function error.
			if r2 := call(t, lc, name, "", []byte(`{}`)); r2.FunctionError == "" || strings.Contains(r2.Log, "Init Duration") {
				t.Errorf("%s: a second invocation after an error: %s", c.handler, r2)
			}
		}
	})

	t.Run("InitErrors", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct{ handler, errorType, message string }{
			{"missing.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'missing'"},
			{"index.nope", "Runtime.HandlerNotFound", "index.nope is undefined or not exported"},
			{"index.notAFunction", "Runtime.HandlerNotFound", "index.notAFunction is not a function"},
			{"index", "Runtime.MalformedHandlerName", "Bad handler index"},
			{"bad_syntax.handler", "Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected token '=>'"},
			{"init_fail.handler", "Error", "init boom"},
		} {
			name := "node-init-" + strings.NewReplacer(".", "-", "_", "-").Replace(c.handler)
			deployManaged(t, lc, name, types.RuntimeNodejs20x, c.handler, cjs)
			r := call(t, lc, name, "", []byte(`{}`))
			e := r.failed(t, c.handler, c.errorType)
			if msg := jstr(e, "errorMessage"); !strings.HasPrefix(msg, c.message) {
				t.Errorf("%s: errorMessage %q, want it to start with %q", c.handler, msg, c.message)
			}
			if jstr(e, "trace", "0") == "" {
				t.Errorf("%s: no trace: %v", c.handler, e)
			}
		}
	})

	t.Run("Logs", func(t *testing.T) {
		t.Parallel()
		deployManaged(t, lc, "node-logs", types.RuntimeNodejs20x, "index.logs", cjs)
		r := call(t, lc, "node-logs", "", []byte(`{}`))
		expectEq(t, "payload", string(r.Payload), `"ok"`)
		id := regexp.QuoteMeta(r.RequestID)
		expectLog(t, r, fmt.Sprintf(nodeLogRE, id, "INFO", "hello world"))
		expectLog(t, r, fmt.Sprintf(nodeLogRE, id, "ERROR", "an error"))
		expectLog(t, r, fmt.Sprintf(nodeLogRE, id, "WARN", "a warning"))
		expectLog(t, r, fmt.Sprintf(nodeLogRE, id, "INFO", "info"))
		expectLog(t, r, fmt.Sprintf(nodeLogRE, id, "INFO", "multi\rline"))
	})
}

var durationRE = regexp.MustCompile(`REPORT RequestId: \S+\tDuration: (\d+\.\d\d) ms`)

// reportDuration is the Duration of an invocation's REPORT line in ms.
func reportDuration(t *testing.T, r *invoked) float64 {
	t.Helper()
	m := durationRE.FindStringSubmatch(r.Log)
	if m == nil {
		t.Fatalf("no REPORT line:\n%s", r.Log)
	}
	d, _ := strconv.ParseFloat(m[1], 64)
	return d
}

var initDurationRE = regexp.MustCompile(`Init Duration: (\d+\.\d\d) ms`)

// BenchmarkRuntimeColdStart measures cold starts of the managed runtimes:
// each iteration creates a function and invokes it once; init-ms is the
// REPORT line's Init Duration, invoke-ms the whole Invoke as the client
// saw it.
//
//	go test -run '^$' -bench RuntimeColdStart -benchtime 20x ./test/e2e/
func BenchmarkRuntimeColdStart(b *testing.B) {
	args := []string{"--sandbox", "process"}
	if os.Geteuid() == 0 {
		args = []string{"--sandbox", "linux"}
	}
	s := startServer(b, b.TempDir(), args...)
	lc := newSDK(b, s)
	n := 0
	for _, c := range []struct {
		runtime types.Runtime
		handler string
		zip     []byte
		need    string
	}{
		{types.RuntimePython312, "plain.handler", dirZip(b, "py"), "/usr/bin/python3"},
		{types.RuntimeNodejs20x, "index.handler", dirZip(b, "node/cjs"), "/usr/bin/node"},
		{types.RuntimeNodejs20x, "index.handler(esm)", dirZip(b, "node/esm"), "/usr/bin/node"},
		{types.RuntimeProvidedal2023, "bootstrap", fnZip(b, "bench"), ""},
	} {
		name := string(c.runtime) + "/" + c.handler
		c.handler = strings.TrimSuffix(c.handler, "(esm)")
		b.Run(name, func(b *testing.B) {
			if c.need != "" {
				if _, err := os.Stat(c.need); err != nil {
					b.Skipf("no %s", c.need)
				}
			}
			var initMs, invokeMs float64
			for i := 0; i < b.N; i++ {
				n++
				fn := fmt.Sprintf("cold-%d", n)
				_, err := lc.CreateFunction(b.Context(), &lambda.CreateFunctionInput{
					FunctionName: aws.String(fn), Runtime: c.runtime, Role: aws.String(testRole),
					Handler: aws.String(c.handler), Code: &types.FunctionCode{ZipFile: c.zip},
					MemorySize: aws.Int32(1769), Timeout: aws.Int32(10),
				})
				if err != nil {
					b.Fatal(err)
				}
				if err := lambda.NewFunctionActiveV2Waiter(lc).Wait(b.Context(),
					&lambda.GetFunctionInput{FunctionName: aws.String(fn)}, 60*time.Second); err != nil {
					b.Fatal(err)
				}
				payload := []byte(`{"action":"echo"}`)
				t0 := time.Now()
				out, err := lc.Invoke(b.Context(), &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: payload, LogType: types.LogTypeTail})
				invokeMs += float64(time.Since(t0).Microseconds()) / 1000
				if err != nil || out.FunctionError != nil {
					b.Fatalf("invoke: %v %s", err, out.Payload)
				}
				log, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
				m := initDurationRE.FindSubmatch(log)
				if m == nil {
					b.Fatalf("no Init Duration:\n%s", log)
				}
				d, _ := strconv.ParseFloat(string(m[1]), 64)
				initMs += d
			}
			b.ReportMetric(initMs/float64(b.N), "init-ms")
			b.ReportMetric(invokeMs/float64(b.N), "invoke-ms")
		})
	}
}
