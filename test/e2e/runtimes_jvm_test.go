package e2e

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// requireTool skips the test when the host lacks a program (CI installs
// them: openjdk-17-jdk-headless, ruby).
func requireTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s is not installed on this host: the runtime cannot be tested here", name)
	}
}

// zipDir zips a directory, paths relative to it.
func zipDir(t testing.TB, root string) []byte {
	t.Helper()
	var names []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range names {
		rel, _ := filepath.Rel(root, p)
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// javaZip compiles testdata/java with the host's javac against Kumo's own
// aws-lambda-java-core interfaces, which the zip does not bundle: the
// function's classes at the root and a helper library in lib/greeter.jar.
func javaZip(t testing.TB) []byte { return javaZipOf(t, false) }

// javaZipOf is javaZip; with bundleCore the zip holds its own copy of the
// aws-lambda-java-core interfaces, as a function built with Maven does.
func javaZipOf(t testing.TB, bundleCore bool) []byte {
	t.Helper()
	src := filepath.Join(repoDir, "test", "e2e", "testdata", "java")
	core := filepath.Join(repoDir, "internal", "runtimes", "bootstrap", "java")
	tmp := t.TempDir()
	libOut, fnOut, pkg := filepath.Join(tmp, "libclasses"), filepath.Join(tmp, "classes"), filepath.Join(tmp, "pkg")
	javac := func(args ...string) {
		t.Helper()
		out, err := exec.Command("javac", append([]string{"-nowarn", "-encoding", "UTF-8"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("javac %v: %v\n%s", args, err, out)
		}
	}
	javac("-d", libOut, filepath.Join(src, "lib", "example", "lib", "Greeter.java"))
	fnSrc, _ := filepath.Glob(filepath.Join(src, "src", "example", "*.java"))
	implicit := "-implicit:none"
	if bundleCore {
		implicit = "-implicit:class"
	}
	javac(append([]string{"-d", fnOut, "-cp", libOut, "-sourcepath", core, implicit}, fnSrc...)...)
	if _, err := os.Stat(filepath.Join(fnOut, "com")); (err == nil) != bundleCore {
		t.Fatalf("the function's classes include aws-lambda-java-core: %v, want %v", err == nil, bundleCore)
	}
	if err := os.MkdirAll(filepath.Join(pkg, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkg, "lib", "greeter.jar"), zipDir(t, libOut), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(pkg, os.DirFS(fnOut)); err != nil {
		t.Fatal(err)
	}
	return zipDir(t, pkg)
}

// TestRuntimeJava runs Java functions in Kumo's Java runtime client on
// the host's JDK.
func TestRuntimeJava(t *testing.T) {
	requireTool(t, "javac")
	t.Parallel()
	_, lc := runtimeServer(t)
	zip := javaZip(t)

	t.Run("Echo", func(t *testing.T) {
		t.Parallel()
		deployManaged(t, lc, "java-echo", types.RuntimeJava17, "example.Hello::handleRequest", zip)
		payload := []byte(`{"action":"echo","n":[1,2.5,null],"s":"雲 ☁"}`)
		first := call(t, lc, "java-echo", "", payload)
		p := first.ok(t, "java echo")
		checkLog(t, first, "$LATEST", 256, true)
		expectEq(t, "event.s", jstr(p, "event", "s"), "雲 ☁")
		expectEq(t, "event.n[1]", jnum(p, "event", "n", "1"), 2.5)
		expectEq(t, "list_type", jstr(p, "list_type"), "list")
		expectEq(t, "calls", jnum(p, "calls"), 1)
		expectEq(t, "greeting from lib/greeter.jar", jstr(p, "greeting"), "hello, java")
		expectEq(t, "function_name", jstr(p, "function_name"), "java-echo")
		expectEq(t, "function_version", jstr(p, "function_version"), "$LATEST")
		expectEq(t, "invoked_function_arn", jstr(p, "invoked_function_arn"), functionARN("java-echo"))
		expectEq(t, "memory_limit_in_mb", jnum(p, "memory_limit_in_mb"), 256)
		expectEq(t, "aws_request_id", jstr(p, "aws_request_id"), first.RequestID)
		expectEq(t, "log_group_name", jstr(p, "log_group_name"), "/aws/lambda/java-echo")
		if !streamRE.MatchString(jstr(p, "log_stream_name")) {
			t.Errorf("log_stream_name %q", jstr(p, "log_stream_name"))
		}
		if ms := jnum(p, "remaining_ms"); ms <= 5000 || ms > 10000 {
			t.Errorf("getRemainingTimeInMillis() = %v, want about 10000", ms)
		}
		expectEq(t, "AWS_EXECUTION_ENV", jstr(p, "execution_env"), "AWS_Lambda_java17")
		expectEq(t, "_HANDLER", jstr(p, "handler_env"), "example.Hello::handleRequest")
		// The heap is sized from the function's memory (85% of 256 MB).
		if h := jnum(p, "max_heap_mb"); h < 150 || h > 256 {
			t.Errorf("max heap %v MB, want it sized from 256 MB", h)
		}

		cc := `{"custom":{"flavour":"vanilla"},"env":{"platform":"linux"}}`
		r, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String("java-echo"), Payload: payload,
			ClientContext: aws.String(base64.StdEncoding.EncodeToString([]byte(cc)))})
		if err != nil {
			t.Fatal(err)
		}
		p2 := r.ok(t, "warm java echo")
		checkLog(t, r, "$LATEST", 256, false)
		expectEq(t, "calls after a warm invoke", jnum(p2, "calls"), 2)
		expectEq(t, "client context custom.flavour", jstr(p2, "client_custom", "flavour"), "vanilla")
		t.Logf("java17 cold invoke: %.1f ms (REPORT Duration), warm: %.1f ms", reportDuration(t, first), reportDuration(t, r))
	})

	t.Run("POJO", func(t *testing.T) {
		t.Parallel()
		deployManaged(t, lc, "java-pojo", types.RuntimeJava21, "example.Orders::place", zip)
		r := call(t, lc, "java-pojo", "", []byte(`{"id":"o-1","express":true,"items":[{"sku":"a","quantity":2},{"SKU":"b","Quantity":3}]}`))
		p := r.ok(t, "POJO in and out")
		expectEq(t, "orderId", jstr(p, "orderId"), "o-1")
		expectEq(t, "total", jnum(p, "total"), 5)
		expectEq(t, "express", jget(p, "express"), any(true))

		deployManaged(t, lc, "java-static", types.RuntimeJava17, "example.Orders::shout", zip)
		r = call(t, lc, "java-static", "", []byte(`"quiet"`))
		if r.Status != 200 || r.FunctionError != "" {
			t.Errorf("static String method: %s", r)
		}
		expectEq(t, "payload", string(r.Payload), `"QUIET"`)

		deployManaged(t, lc, "java-stream", types.RuntimeJava17, "example.Orders::raw", zip)
		r = call(t, lc, "java-stream", "", []byte(`{"x":1}`))
		p = r.ok(t, "stream method")
		expectEq(t, "bytes", jnum(p, "bytes"), 7)
		expectEq(t, "id", jstr(p, "id"), r.RequestID)

		// An event the POJO cannot take.
		r = call(t, lc, "java-pojo", "", []byte(`{"id":"o-2","items":"none"}`))
		e := r.failed(t, "bad POJO event", "java.lang.RuntimeException")
		if !strings.HasPrefix(jstr(e, "errorMessage"), "An error occurred during JSON parsing: ") {
			t.Errorf("errorMessage %q", jstr(e, "errorMessage"))
		}
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		deployManaged(t, lc, "java-errors", types.RuntimeJava17, "example.Hello", zip)
		r := call(t, lc, "java-errors", "", []byte(`{"action":"raise","why":"tests"}`))
		e := r.failed(t, "java exception", "example.Hello$BoomException")
		expectEq(t, "errorMessage", jstr(e, "errorMessage"), "it went wrong: tests")
		expectEq(t, "stackTrace[0]", jstr(e, "stackTrace", "0"), "example.Hello.fail(Hello.java:59)")
		expectEq(t, "stackTrace[1]", jstr(e, "stackTrace", "1"), "example.Hello.handleRequest(Hello.java:27)")
		for _, f := range jget(e, "stackTrace").([]any) {
			if s := f.(string); strings.HasPrefix(s, "kumo.") || strings.Contains(s, "reflect") {
				t.Errorf("stackTrace holds a frame of the runtime: %s", s)
			}
		}
		expectEq(t, "cause.errorType", jstr(e, "cause", "errorType"), "java.lang.IllegalStateException")
		expectEq(t, "cause.errorMessage", jstr(e, "cause", "errorMessage"), "the cause")
		expectLog(t, r, `(?m)^example\.Hello\$BoomException: it went wrong: tests\r\tat example\.Hello\.fail\(Hello\.java:59\)\r`)
		// The sandbox survives a function error.
		r = call(t, lc, "java-errors", "", []byte(`{"action":"echo"}`))
		expectEq(t, "calls after an error", jnum(r.ok(t, "echo after an error"), "calls"), 2)
	})

	t.Run("InitErrors", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			handler, errorType, message string
		}{
			{"example.Missing::handleRequest", "java.lang.ClassNotFoundException", "Class not found: example.Missing"},
			{"example.Orders::nope", "java.lang.NoSuchMethodException", "No public method named nope with appropriate method signature found on class example.Orders"},
			{"example.BrokenInit", "java.lang.IllegalStateException", "failed during init"},
		} {
			name := "java-init-" + strings.NewReplacer(".", "-", ":", "-").Replace(c.handler)
			deployManaged(t, lc, name, types.RuntimeJava17, c.handler, zip)
			r := call(t, lc, name, "", []byte(`{}`))
			e := r.failed(t, c.handler, c.errorType)
			expectEq(t, c.handler+": errorMessage", jstr(e, "errorMessage"), c.message)
		}
	})

	t.Run("Logs", func(t *testing.T) {
		t.Parallel()
		deployManaged(t, lc, "java-logs", types.RuntimeJava17, "example.Hello::handleRequest", zip)
		r := call(t, lc, "java-logs", "", []byte(`{"action":"log"}`))
		r.ok(t, "java logging")
		expectLog(t, r, `(?m)^logged through the LambdaLogger$`)
		expectLog(t, r, `(?m)^two\rlines$`)
		expectLog(t, r, `(?m)^printed line$`)
		expectLog(t, r, `(?m)^to stderr$`)
	})

	t.Run("BundledCore", func(t *testing.T) {
		t.Parallel()
		// A function that bundles aws-lambda-java-core runs against the
		// runtime's copy of the same interfaces.
		deployManaged(t, lc, "java-bundled", types.RuntimeJava17, "example.Hello::handleRequest", javaZipOf(t, true))
		r := call(t, lc, "java-bundled", "", []byte(`{"action":"echo"}`))
		expectEq(t, "function_name", jstr(r.ok(t, "bundled aws-lambda-java-core"), "function_name"), "java-bundled")
	})

	t.Run("OlderRuntimeRunsOnHostJDK", func(t *testing.T) {
		t.Parallel()
		deployManaged(t, lc, "java-11", types.RuntimeJava11, "example.Hello::handleRequest", zip)
		r := call(t, lc, "java-11", "", []byte(`{"action":"echo"}`))
		expectEq(t, "AWS_EXECUTION_ENV", jstr(r.ok(t, "java11 on the host's JDK"), "execution_env"), "AWS_Lambda_java11")
	})
}

// TestRuntimeRuby runs Ruby functions in Kumo's Ruby runtime client.
func TestRuntimeRuby(t *testing.T) {
	requireTool(t, "ruby")
	t.Parallel()
	_, lc := runtimeServer(t)
	zip := dirZip(t, "ruby")

	t.Run("Echo", func(t *testing.T) {
		t.Parallel()
		deployManaged(t, lc, "rb-echo", types.RuntimeRuby33, "lambda_function.handler", zip)
		payload := []byte(`{"action":"echo","n":[1,2.5,null],"s":"雲 ☁"}`)
		first := call(t, lc, "rb-echo", "", payload)
		p := first.ok(t, "ruby echo")
		checkLog(t, first, "$LATEST", 256, true)
		expectEq(t, "event.s", jstr(p, "event", "s"), "雲 ☁")
		expectEq(t, "calls", jnum(p, "calls"), 1)
		expectEq(t, "function_name", jstr(p, "function_name"), "rb-echo")
		expectEq(t, "function_version", jstr(p, "function_version"), "$LATEST")
		expectEq(t, "invoked_function_arn", jstr(p, "invoked_function_arn"), functionARN("rb-echo"))
		expectEq(t, "memory_limit_in_mb", jstr(p, "memory_limit_in_mb"), "256")
		expectEq(t, "aws_request_id", jstr(p, "aws_request_id"), first.RequestID)
		expectEq(t, "log_group_name", jstr(p, "log_group_name"), "/aws/lambda/rb-echo")
		if !streamRE.MatchString(jstr(p, "log_stream_name")) {
			t.Errorf("log_stream_name %q", jstr(p, "log_stream_name"))
		}
		if ms := jnum(p, "remaining_ms"); ms <= 5000 || ms > 10000 {
			t.Errorf("get_remaining_time_in_millis = %v, want about 10000", ms)
		}
		expectEq(t, "AWS_EXECUTION_ENV", jstr(p, "execution_env"), "AWS_Lambda_ruby3.3")
		expectEq(t, "_HANDLER", jstr(p, "handler_env"), "lambda_function.handler")

		cc := `{"custom":{"flavour":"vanilla"}}`
		r, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String("rb-echo"), Payload: payload,
			ClientContext: aws.String(base64.StdEncoding.EncodeToString([]byte(cc)))})
		if err != nil {
			t.Fatal(err)
		}
		p2 := r.ok(t, "warm ruby echo")
		checkLog(t, r, "$LATEST", 256, false)
		expectEq(t, "calls after a warm invoke", jnum(p2, "calls"), 2)
		expectEq(t, "client_context custom.flavour", jstr(p2, "client_custom", "flavour"), "vanilla")
		t.Logf("ruby3.3 (Ruby %s) cold invoke: %.1f ms (REPORT Duration), warm: %.1f ms", jstr(p, "ruby"), reportDuration(t, first), reportDuration(t, r))

		deployManaged(t, lc, "rb-module", types.RuntimeRuby32, "lambda_function.Shop::Orders.total", zip)
		r = call(t, lc, "rb-module", "", []byte(`{"items":[{"quantity":2},{"quantity":3}]}`))
		p = r.ok(t, "class method handler")
		expectEq(t, "total", jnum(p, "total"), 5)
		expectEq(t, "id", jstr(p, "id"), r.RequestID)
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		deployManaged(t, lc, "rb-errors", types.RuntimeRuby33, "lambda_function.handler", zip)
		r := call(t, lc, "rb-errors", "", []byte(`{"action":"raise","why":"tests"}`))
		e := r.failed(t, "ruby exception", "Function<Boom>")
		expectEq(t, "errorMessage", jstr(e, "errorMessage"), "it went wrong: tests")
		if tr := jstr(e, "stackTrace", "0"); !strings.HasPrefix(tr, "/var/task/lambda_function.rb:11:in ") {
			t.Errorf("stackTrace[0] = %q", tr)
		}
		for _, f := range jget(e, "stackTrace").([]any) {
			if strings.Contains(f.(string), "/var/runtime/") {
				t.Errorf("stackTrace holds a frame of the runtime: %s", f)
			}
		}
		expectLog(t, r, `(?m)^Error raised from handler method\r\{\r  "errorMessage": "it went wrong: tests",\r  "errorType": "Function<Boom>",`)
		r = call(t, lc, "rb-errors", "", []byte(`{"action":"echo"}`))
		expectEq(t, "calls after an error", jnum(r.ok(t, "echo after an error"), "calls"), 2)
	})

	t.Run("InitErrors", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			handler, errorType, message string
		}{
			{"missing.handler", "Init<LoadError>", "cannot load such file -- /var/task/missing"},
			{"init_fail.handler", "Init<ArgumentError>", "failed during init"},
			{"lambda_function.Nope::Thing.run", "Init<NameError>", "uninitialized constant Nope"},
		} {
			name := "rb-init-" + strings.NewReplacer(".", "-", "_", "-", ":", "-").Replace(c.handler)
			deployManaged(t, lc, name, types.RuntimeRuby33, c.handler, zip)
			r := call(t, lc, name, "", []byte(`{}`))
			e := r.failed(t, c.handler, c.errorType)
			expectEq(t, c.handler+": errorMessage", jstr(e, "errorMessage"), c.message)
		}
		// A missing method is reported on each invocation, as Lambda does.
		deployManaged(t, lc, "rb-no-method", types.RuntimeRuby33, "lambda_function.nope", zip)
		e := call(t, lc, "rb-no-method", "", []byte(`{}`)).failed(t, "missing method", "Function<NoMethodError>")
		if !regexp.MustCompile("undefined method `nope'").MatchString(jstr(e, "errorMessage")) {
			t.Errorf("errorMessage %q", jstr(e, "errorMessage"))
		}
	})

	t.Run("Logs", func(t *testing.T) {
		t.Parallel()
		deployManaged(t, lc, "rb-logs", types.RuntimeRuby34, "lambda_function.handler", zip)
		r := call(t, lc, "rb-logs", "", []byte(`{"action":"log"}`))
		r.ok(t, "ruby logging")
		expectLog(t, r, `(?m)^printed line$`)
		expectLog(t, r, `(?m)^to stderr$`)
	})
}

// TestRuntimeDotnetRefused: without a .NET runtime client, CreateFunction
// of a dotnet8 function is refused with InvalidParameterValueException
// saying why, and nothing is created.
func TestRuntimeDotnetRefused(t *testing.T) {
	t.Parallel()
	_, lc := runtimeServer(t)
	_, err := lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String("dotnet-fn"), Runtime: types.RuntimeDotnet8, Role: aws.String(testRole),
		Handler: aws.String("Fn::Fn.Function::Handler"),
		Code:    &types.FunctionCode{ZipFile: makeZip(t, zipEntry{Name: "Fn.dll", Body: "MZ"})},
	})
	var ipv *types.InvalidParameterValueException
	if err == nil || !errors.As(err, &ipv) || !strings.HasPrefix(aws.ToString(ipv.Message), "The runtime dotnet8 cannot run on this server: ") {
		t.Fatalf("CreateFunction dotnet8: %v, want InvalidParameterValueException saying why", err)
	}
	if _, err := lc.GetFunction(t.Context(), &lambda.GetFunctionInput{FunctionName: aws.String("dotnet-fn")}); err == nil {
		t.Error("a refused CreateFunction left a function behind")
	}
}

// TestRuntimeJavaRubyProcessDriver runs Java and Ruby functions in plain
// child processes, where /var/task and /var/runtime are rewritten paths.
func TestRuntimeJavaRubyProcessDriver(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	lc := newSDK(t, s)
	t.Run("java17", func(t *testing.T) {
		requireTool(t, "javac")
		deployManaged(t, lc, "proc-java", types.RuntimeJava17, "example.Hello::handleRequest", javaZip(t))
		for i, cold := range []bool{true, false} {
			r := call(t, lc, "proc-java", "", []byte(`{"action":"echo"}`))
			p := r.ok(t, "java echo")
			checkLog(t, r, "$LATEST", 256, cold)
			expectEq(t, "calls", jnum(p, "calls"), float64(i+1))
			expectEq(t, "greeting from lib/greeter.jar", jstr(p, "greeting"), "hello, java")
		}
	})
	t.Run("ruby3.3", func(t *testing.T) {
		requireTool(t, "ruby")
		deployManaged(t, lc, "proc-ruby", types.RuntimeRuby33, "lambda_function.handler", dirZip(t, "ruby"))
		for i, cold := range []bool{true, false} {
			r := call(t, lc, "proc-ruby", "", []byte(`{"action":"echo"}`))
			p := r.ok(t, "ruby echo")
			checkLog(t, r, "$LATEST", 256, cold)
			expectEq(t, "calls", jnum(p, "calls"), float64(i+1))
		}
	})
}
