package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The test function (testdata/fn) is built once, static, next to the kumo
// binary; its zips are cached per tag.
var fnBuild struct {
	once sync.Once
	bin  []byte
	err  error

	mu   sync.Mutex
	zips map[string][]byte
}

func fnBootstrap(t testing.TB) []byte {
	t.Helper()
	fnBuild.once.Do(func() {
		out := filepath.Join(filepath.Dir(kumoBin), "fn-bootstrap")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./test/e2e/testdata/fn")
		cmd.Dir = repoDir
		cmd.Env = append(cleanEnv(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			fnBuild.err = fmt.Errorf("go build ./test/e2e/testdata/fn: %v\n%s", err, b)
			return
		}
		fnBuild.bin, fnBuild.err = os.ReadFile(out)
	})
	if fnBuild.err != nil {
		t.Fatal(fnBuild.err)
	}
	return fnBuild.bin
}

// fnZip is the test function's package: the bootstrap and a tag.txt the
// function reports, so that two zips of one binary are told apart.
func fnZip(t testing.TB, tag string) []byte {
	t.Helper()
	bin := fnBootstrap(t)
	fnBuild.mu.Lock()
	defer fnBuild.mu.Unlock()
	if z, ok := fnBuild.zips[tag]; ok {
		return z
	}
	z := makeZip(t, zipEntry{Name: "bootstrap", Body: string(bin), Mode: 0o755}, zipEntry{Name: "tag.txt", Body: tag + "\n"})
	if fnBuild.zips == nil {
		fnBuild.zips = map[string][]byte{}
	}
	fnBuild.zips[tag] = z
	return z
}

// fnConfig is what a test function is created with; zero values take
// 128 MB, 10 s and Lambda's default /tmp.
type fnConfig struct {
	Memory, Timeout, Ephemeral int32
	Env                        map[string]string
	Publish                    bool
	// Role is the execution role; the suite's testRole when empty.
	Role string
}

// deployFn creates the test function as provided.al2023 and waits until
// it is Active.
func deployFn(t *testing.T, lc *lambda.Client, name, tag string, c fnConfig) *lambda.CreateFunctionOutput {
	t.Helper()
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      types.RuntimeProvidedal2023,
		Role:         aws.String(testRole),
		Handler:      aws.String("bootstrap"),
		Code:         &types.FunctionCode{ZipFile: fnZip(t, tag)},
		MemorySize:   aws.Int32(128),
		Timeout:      aws.Int32(10),
		Publish:      c.Publish,
	}
	if c.Memory != 0 {
		in.MemorySize = aws.Int32(c.Memory)
	}
	if c.Timeout != 0 {
		in.Timeout = aws.Int32(c.Timeout)
	}
	if c.Ephemeral != 0 {
		in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(c.Ephemeral)}
	}
	if c.Env != nil {
		in.Environment = &types.Environment{Variables: c.Env}
	}
	if c.Role != "" {
		in.Role = aws.String(c.Role)
	}
	out := must[*lambda.CreateFunctionOutput](t, "CreateFunction "+name)(lc.CreateFunction(t.Context(), in))
	waitActive(t, lc, name)
	return out
}

func waitActive(t *testing.T, lc *lambda.Client, name string) {
	t.Helper()
	if err := lambda.NewFunctionActiveV2Waiter(lc).Wait(t.Context(),
		&lambda.GetFunctionInput{FunctionName: aws.String(name)}, 60*time.Second); err != nil {
		t.Fatalf("waiting for %s to be Active: %v", name, err)
	}
}

func waitUpdated(t *testing.T, lc *lambda.Client, name string) {
	t.Helper()
	if err := lambda.NewFunctionUpdatedV2Waiter(lc).Wait(t.Context(),
		&lambda.GetFunctionInput{FunctionName: aws.String(name)}, 60*time.Second); err != nil {
		t.Fatalf("waiting for the update of %s: %v", name, err)
	}
}

// invoked is what one Invoke answered.
type invoked struct {
	Status        int32
	FunctionError string
	Version       string // X-Amz-Executed-Version
	Payload       []byte
	Log           string // X-Amz-Log-Result, decoded
	LogB64        string
	RequestID     string // x-amzn-RequestId
}

func (r *invoked) String() string {
	p := string(r.Payload)
	if len(p) > 2000 {
		p = p[:2000] + "…"
	}
	return fmt.Sprintf("status %d, function error %q, executed version %q, request id %s\npayload: %s\nlog:\n%s",
		r.Status, r.FunctionError, r.Version, r.RequestID, p, r.Log)
}

// body decodes the payload as a JSON object.
func (r *invoked) body(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Payload, &m); err != nil {
		t.Fatalf("payload is not a JSON object: %v\n%s", err, r)
	}
	return m
}

// sdkInvoke calls Invoke with aws-sdk-go-v2, always asking for the log tail.
func sdkInvoke(t *testing.T, lc *lambda.Client, in *lambda.InvokeInput) (*invoked, error) {
	t.Helper()
	if in.LogType == "" {
		in.LogType = types.LogTypeTail
	}
	out, err := lc.Invoke(t.Context(), in)
	if err != nil {
		return nil, err
	}
	r := &invoked{Status: out.StatusCode, FunctionError: aws.ToString(out.FunctionError),
		Version: aws.ToString(out.ExecutedVersion), Payload: out.Payload, LogB64: aws.ToString(out.LogResult)}
	if r.LogB64 != "" {
		b, err := base64.StdEncoding.DecodeString(r.LogB64)
		if err != nil {
			t.Errorf("X-Amz-Log-Result is not base64: %v", err)
		}
		r.Log = string(b)
	}
	r.RequestID, _ = awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	return r, nil
}

// event is a test function event.
func event(action string, kv ...any) []byte {
	m := map[string]any{"action": action}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return b
}

// call invokes name (with a qualifier if given) and fails the test on an
// API error.
func call(t *testing.T, lc *lambda.Client, name, qualifier string, payload []byte) *invoked {
	t.Helper()
	in := &lambda.InvokeInput{FunctionName: aws.String(name), Payload: payload}
	if qualifier != "" {
		in.Qualifier = aws.String(qualifier)
	}
	r, err := sdkInvoke(t, lc, in)
	if err != nil {
		t.Fatalf("Invoke %s (qualifier %q): %v", name, qualifier, err)
	}
	return r
}

// ok fails the test unless the invocation succeeded; it returns the
// payload as a JSON object.
func (r *invoked) ok(t *testing.T, what string) map[string]any {
	t.Helper()
	if r.Status != 200 || r.FunctionError != "" {
		t.Fatalf("%s: want a successful invocation, got %s", what, r)
	}
	return r.body(t)
}

// succeeded is ok for checks after which the test can go on: a failure is
// reported and nil returned.
func (r *invoked) succeeded(t *testing.T, what string) map[string]any {
	t.Helper()
	if r.Status != 200 || r.FunctionError != "" {
		t.Errorf("%s: want a successful invocation, got %s", what, r)
		return nil
	}
	return r.body(t)
}

// failed checks that the function failed with errorType and returns the
// error payload.
func (r *invoked) failed(t *testing.T, what, errorType string) map[string]any {
	t.Helper()
	if r.Status != 200 || r.FunctionError != "Unhandled" {
		t.Fatalf("%s: want status 200 with X-Amz-Function-Error Unhandled, got %s", what, r)
	}
	m := r.body(t)
	if got := jstr(m, "errorType"); got != errorType {
		t.Errorf("%s: errorType %q, want %q\n%s", what, got, errorType, r)
	}
	return m
}

var (
	uuidRE   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	streamRE = regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/\[(\$LATEST|\d+)\][0-9a-f]{32}$`)
	reportRE = regexp.MustCompile(`(?m)^REPORT RequestId: (\S+)\tDuration: (\d+\.\d\d) ms\tBilled Duration: (\d+) ms\s*\tMemory Size: (\d+) MB\tMax Memory Used: (\d+) MB\t?(Init Duration: (\d+\.\d\d) ms)?`)
)

// checkLog checks the START / END / REPORT lines of an invocation's log
// tail.
func checkLog(t *testing.T, r *invoked, version string, memoryMB int, wantInit bool) {
	t.Helper()
	if len(r.Log) > 4096 {
		t.Errorf("log tail is %d bytes, want at most 4096", len(r.Log))
	}
	start := "START RequestId: " + r.RequestID + " Version: " + version + "\n"
	if !strings.Contains(r.Log, start) {
		t.Errorf("log tail lacks %q:\n%s", start, r.Log)
	}
	if !strings.Contains(r.Log, "\nEND RequestId: "+r.RequestID+"\n") {
		t.Errorf("log tail lacks the END line:\n%s", r.Log)
	}
	m := reportRE.FindStringSubmatch(r.Log)
	if m == nil {
		t.Errorf("log tail lacks a REPORT line in Lambda's format:\n%q", r.Log)
		return
	}
	expectEq(t, "REPORT RequestId", m[1], r.RequestID)
	dur, _ := strconv.ParseFloat(m[2], 64)
	billed, _ := strconv.Atoi(m[3])
	if billed < int(dur) || billed > int(dur)+1 {
		t.Errorf("REPORT: Billed Duration %d ms for Duration %.2f ms, want it rounded up to the ms", billed, dur)
	}
	expectEq(t, "REPORT Memory Size", m[4], strconv.Itoa(memoryMB))
	if wantInit && m[6] == "" {
		t.Errorf("a cold start's REPORT line lacks Init Duration: %q", m[0])
	}
	if !wantInit && m[6] != "" {
		t.Errorf("a warm invocation's REPORT line has Init Duration: %q", m[0])
	}
	lines := strings.Split(strings.TrimRight(r.Log, "\n"), "\n")
	if !strings.HasPrefix(lines[len(lines)-1], "REPORT ") {
		t.Errorf("REPORT is not the last line of the tail:\n%s", r.Log)
	}
}

// suiteOptions says what the server's sandbox driver enforces.
type suiteOptions struct {
	// isolated: the sandbox has Lambda's file system layout (/var/task)
	// and enforces MemorySize (a memory bomb is killed).
	isolated bool
}

// TestInvoke runs functions in the default sandbox driver (linux when
// running as root) through aws-sdk-go-v2 and the AWS CLI.
func TestInvoke(t *testing.T) {
	t.Parallel()
	var args []string
	root := os.Geteuid() == 0
	if root {
		args = []string{"--sandbox", "linux"}
	}
	s := startServer(t, t.TempDir(), args...)
	invokeSuite(t, s, suiteOptions{isolated: root})
}

// TestInvokeProcessDriver runs the same invocations in plain child
// processes.
func TestInvokeProcessDriver(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	invokeSuite(t, s, suiteOptions{})
}

func invokeSuite(t *testing.T, s *server, o suiteOptions) {
	lc := newSDK(t, s)
	fnBootstrap(t)
	t.Run("Echo", func(t *testing.T) { t.Parallel(); testEcho(t, lc, o) })
	t.Run("Errors", func(t *testing.T) { t.Parallel(); testErrors(t, lc) })
	t.Run("Timeout", func(t *testing.T) { t.Parallel(); testTimeout(t, lc) })
	t.Run("Concurrent", func(t *testing.T) { t.Parallel(); testConcurrent(t, lc) })
	if o.isolated {
		t.Run("OutOfMemory", func(t *testing.T) { t.Parallel(); testOutOfMemory(t, lc) })
	}
	t.Run("PayloadLimits", func(t *testing.T) { t.Parallel(); testPayloadLimits(t, lc) })
	t.Run("Tail", func(t *testing.T) { t.Parallel(); testTail(t, lc) })
	t.Run("Qualifiers", func(t *testing.T) { t.Parallel(); testQualifiers(t, lc) })
	t.Run("Requests", func(t *testing.T) { t.Parallel(); testBadRequests(t, lc) })
	t.Run("CLI", func(t *testing.T) { t.Parallel(); testInvokeCLI(t, s, lc) })
}

func testEcho(t *testing.T, lc *lambda.Client, o suiteOptions) {
	name := "echo"
	deployFn(t, lc, name, "echo", fnConfig{Timeout: 7, Env: map[string]string{"USER_VAR": "hello", "WITH_EQUALS": "a=b c"}})

	payload := event("echo", "nested", map[string]any{"list": []any{1.5, "two", nil, true}, "unicode": "雲 ☁"})
	before := time.Now()
	first := call(t, lc, name, "", payload)
	after := time.Now()
	p := first.ok(t, "echo")

	// The payload round trip, exactly.
	var sent, got any
	json.Unmarshal(payload, &sent)
	got = jget(p, "event")
	if a, b := toJSON(sent), toJSON(got); a != b {
		t.Errorf("event round trip: sent %s, the function got %s", a, b)
	}
	expectEq(t, "X-Amz-Executed-Version", first.Version, "$LATEST")
	if !uuidRE.MatchString(first.RequestID) {
		t.Errorf("x-amzn-RequestId %q is not a UUID", first.RequestID)
	}
	expectEq(t, "request id seen by the function", jstr(p, "requestId"), first.RequestID)
	expectEq(t, "invoked function ARN", jstr(p, "functionArn"), functionARN(name))
	deadline := time.UnixMilli(int64(jnum(p, "deadlineMs")))
	if deadline.Before(before.Add(6*time.Second)) || deadline.After(after.Add(7*time.Second+time.Second)) {
		t.Errorf("deadline %v is not about 7 s (the Timeout) after the invocation at %v", deadline, before)
	}

	// The environment Lambda gives.
	env, _ := jget(p, "env").(map[string]any)
	want := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_REGION":                      region,
		"AWS_DEFAULT_REGION":              region,
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + name,
		"_HANDLER":                        "bootstrap",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"USER_VAR":                        "hello",
		"WITH_EQUALS":                     "a=b c",
	}
	for k, v := range want {
		if got := jstr(env, k); got != v {
			t.Errorf("env %s = %q, want %q", k, got, v)
		}
	}
	// The process driver cannot remap paths: it names the code's host
	// directory instead.
	if root := jstr(env, "LAMBDA_TASK_ROOT"); o.isolated && root != "/var/task" || root == "" {
		t.Errorf("env LAMBDA_TASK_ROOT = %q, want /var/task", root)
	}
	for _, k := range []string{"LAMBDA_RUNTIME_DIR", "TZ", "AWS_LAMBDA_RUNTIME_API"} {
		if jstr(env, k) == "" {
			t.Errorf("env %s is missing", k)
		}
	}
	stream := jstr(env, "AWS_LAMBDA_LOG_STREAM_NAME")
	if m := streamRE.FindStringSubmatch(stream); m == nil || m[1] != "$LATEST" {
		t.Errorf("env AWS_LAMBDA_LOG_STREAM_NAME = %q, want YYYY/MM/DD/[$LATEST]<32 hex>", stream)
	} else if day := time.Now().UTC().Format("2006/01/02"); !strings.HasPrefix(stream, day) && !strings.HasPrefix(stream, before.UTC().Format("2006/01/02")) {
		t.Errorf("log stream %q is not dated today (%s, UTC)", stream, day)
	}
	for k, v := range env {
		if strings.HasPrefix(k, "KUMO_") || v == rootSecretAccessKey {
			t.Errorf("the server's environment leaks into the function: %s", k)
		}
	}
	expectEq(t, "invocations of a new sandbox", jnum(p, "invocations"), 1)
	checkLog(t, first, "$LATEST", 128, true)

	// Warm: the same process, its state kept, no Init Duration.
	second := call(t, lc, name, "", event("echo"))
	p2 := second.ok(t, "second echo")
	expectEq(t, "invocations after a warm invoke", jnum(p2, "invocations"), 2)
	expectEq(t, "log stream of the warm sandbox", jstr(p2, "env", "AWS_LAMBDA_LOG_STREAM_NAME"), stream)
	if second.RequestID == first.RequestID || jstr(p2, "requestId") != second.RequestID {
		t.Errorf("request ids: first %s, second %s, the function saw %s", first.RequestID, second.RequestID, jstr(p2, "requestId"))
	}
	checkLog(t, second, "$LATEST", 128, false)

	// Client context reaches the handler.
	cc := `{"client":{"installation_id":"inst-1","app_title":"kumo-e2e"},"custom":{"flavour":"vanilla"},"env":{"platform":"linux"}}`
	r, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: event("echo"),
		ClientContext: aws.String(base64.StdEncoding.EncodeToString([]byte(cc)))})
	if err != nil {
		t.Fatalf("Invoke with ClientContext: %v", err)
	}
	p3 := r.ok(t, "echo with client context")
	expectEq(t, "clientContext.custom.flavour", jstr(p3, "clientContext", "custom", "flavour"), "vanilla")
	expectEq(t, "clientContext.env.platform", jstr(p3, "clientContext", "env", "platform"), "linux")
	expectEq(t, "clientContext.Client.app_title", jstr(p3, "clientContext", "Client", "app_title"), "kumo-e2e")
	expectEq(t, "clientContext.Client.installation_id", jstr(p3, "clientContext", "Client", "installation_id"), "inst-1")

	_, err = sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: event("echo"),
		ClientContext: aws.String("not base64 json")})
	expectAPIError(t, "Invoke with a client context that is not base64 JSON", err, "InvalidRequestContentException", 400)

	// DryRun runs nothing.
	r, err = sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String(name), InvocationType: types.InvocationTypeDryRun})
	if err != nil {
		t.Fatalf("DryRun: %v", err)
	}
	if r.Status != 204 || len(r.Payload) != 0 {
		t.Errorf("DryRun: want 204 with no body, got %s", r)
	}
	p4 := call(t, lc, name, "", event("echo")).ok(t, "echo after DryRun")
	expectEq(t, "invocations after DryRun (it must not run the function)", jnum(p4, "invocations"), 4)

	// A configuration change retires the warm sandbox.
	must[*lambda.UpdateFunctionConfigurationOutput](t, "UpdateFunctionConfiguration")(lc.UpdateFunctionConfiguration(t.Context(),
		&lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name),
			Environment: &types.Environment{Variables: map[string]string{"USER_VAR": "changed"}}}))
	waitUpdated(t, lc, name)
	p5 := call(t, lc, name, "", event("echo")).ok(t, "echo after a configuration update")
	expectEq(t, "USER_VAR after the update", jstr(p5, "env", "USER_VAR"), "changed")
	expectEq(t, "invocations after the update (a new sandbox)", jnum(p5, "invocations"), 1)
	if jstr(p5, "env", "WITH_EQUALS") != "" {
		t.Errorf("a removed variable is still set: WITH_EQUALS=%q", jstr(p5, "env", "WITH_EQUALS"))
	}
}

func testErrors(t *testing.T, lc *lambda.Client) {
	name := "fails"
	deployFn(t, lc, name, "fails", fnConfig{})

	r := call(t, lc, name, "", event("error", "message", "it went wrong"))
	m := r.failed(t, "returned error", "TestError")
	expectEq(t, "errorMessage", jstr(m, "errorMessage"), "it went wrong")
	if !strings.Contains(r.Log, "it went wrong") {
		t.Errorf("the runtime's error log line is not in the tail:\n%s", r.Log)
	}
	checkLog(t, r, "$LATEST", 128, true)
	// A returned error leaves the sandbox usable.
	p := call(t, lc, name, "", event("echo")).ok(t, "echo after an error")
	expectEq(t, "invocations after a returned error (same sandbox)", jnum(p, "invocations"), 2)

	// A panic: aws-lambda-go reports it and exits; the next invocation gets
	// a fresh sandbox and succeeds.
	r = call(t, lc, name, "", event("panic", "message", "kaboom"))
	m = r.failed(t, "panic", "string")
	expectEq(t, "panic errorMessage", jstr(m, "errorMessage"), "kaboom")
	if _, ok := jget(m, "stackTrace").([]any); !ok {
		t.Errorf("a panic's error payload has no stackTrace: %s", r.Payload)
	}
	if p := call(t, lc, name, "", event("echo")).succeeded(t, "echo right after a panic"); p != nil {
		expectEq(t, "invocations after a panic (a new sandbox)", jnum(p, "invocations"), 1)
	}

	// Exit during an invocation.
	r = call(t, lc, name, "", event("exit", "code", 3))
	m = r.failed(t, "os.Exit(3)", "Runtime.ExitError")
	expectEq(t, "exit errorMessage", jstr(m, "errorMessage"),
		"RequestId: "+r.RequestID+" Error: Runtime exited with error: exit status 3")
	p = call(t, lc, name, "", event("echo")).ok(t, "echo after an exit")
	expectEq(t, "invocations after an exit (a new sandbox)", jnum(p, "invocations"), 1)
}

func testTimeout(t *testing.T, lc *lambda.Client) {
	name := "slow"
	deployFn(t, lc, name, "slow", fnConfig{Timeout: 1})
	r := call(t, lc, name, "", event("sleep", "ms", 5000))
	m := r.failed(t, "sleep past the timeout", "Sandbox.Timedout")
	expectEq(t, "timeout errorMessage", jstr(m, "errorMessage"),
		"RequestId: "+r.RequestID+" Error: Task timed out after 1.00 seconds")
	if !strings.Contains(r.Log, "Task timed out after 1.00 seconds") {
		t.Errorf("the log tail does not say the task timed out:\n%s", r.Log)
	}
	if !strings.Contains(r.Log, "Status: timeout") {
		t.Errorf("the REPORT line of a timeout lacks Status: timeout:\n%s", r.Log)
	}
	// The next invocation runs in a fresh sandbox and succeeds (within its
	// own 1 s timeout: it does not wait on the timed-out sandbox).
	p := call(t, lc, name, "", event("sleep", "ms", 10)).ok(t, "invoke after a timeout")
	expectEq(t, "tag", jstr(p, "tag"), "slow")
	p = call(t, lc, name, "", event("echo")).ok(t, "echo after a timeout")
	expectEq(t, "invocations after a timeout (a new sandbox)", jnum(p, "invocations"), 2)
}

// Concurrent invocations of one version run in sandboxes of their own.
func testConcurrent(t *testing.T, lc *lambda.Client) {
	name := "parallel"
	deployFn(t, lc, name, "parallel", fnConfig{})
	// Three at once need three sandboxes; three more at once reuse them.
	for round := 1; round <= 2; round++ {
		const n = 3
		results := make([]*invoked, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: event("sleep", "ms", 1500)})
			}()
		}
		wg.Wait()
		for i, r := range results {
			if errs[i] != nil {
				t.Fatalf("round %d: concurrent Invoke: %v", round, errs[i])
			}
			p := r.ok(t, "concurrent invocation")
			expectEq(t, fmt.Sprintf("round %d: invocations of the sandbox", round), jnum(p, "invocations"), float64(round))
			if !strings.HasPrefix(r.Log, "START RequestId: "+r.RequestID+" ") {
				t.Errorf("round %d: the log tail of %s is not its own:\n%s", round, r.RequestID, r.Log)
			}
		}
	}
}

func testOutOfMemory(t *testing.T, lc *lambda.Client) {
	name := "hungry"
	// The limit, not the clock, must end the bomb: 128 MB touched page
	// by page on 7 % of a vCPU outlasts 10 s on a loaded machine.
	deployFn(t, lc, name, "hungry", fnConfig{Memory: 128, Timeout: 120})
	r := call(t, lc, name, "", event("membomb"))
	m := r.failed(t, "memory bomb", "Runtime.OutOfMemory")
	if msg := jstr(m, "errorMessage"); !strings.HasPrefix(msg, "RequestId: "+r.RequestID+" Error: Runtime exited with error: signal: killed") {
		t.Errorf("out of memory errorMessage = %q, want RequestId: %s Error: Runtime exited with error: signal: killed", msg, r.RequestID)
	}
	if mm := reportRE.FindStringSubmatch(r.Log); mm != nil {
		if used, _ := strconv.Atoi(mm[5]); used < 100 || used > 140 {
			t.Errorf("REPORT Max Memory Used %d MB after a memory bomb at 128 MB", used)
		}
	} else {
		t.Errorf("no REPORT line after a memory bomb:\n%s", r.Log)
	}
	p := call(t, lc, name, "", event("echo")).ok(t, "echo after running out of memory")
	expectEq(t, "invocations after running out of memory (a new sandbox)", jnum(p, "invocations"), 1)
}

// The synchronous payload limit is 6291456 bytes for requests; responses
// over it fail as Function.ResponseSizeTooLarge (Lambda's message says
// 6291556).
func testPayloadLimits(t *testing.T, lc *lambda.Client) {
	name := "big"
	deployFn(t, lc, name, "big", fnConfig{Memory: 512})
	const limit = 6291456

	// A request of exactly the limit.
	head := `{"action":"size","pad":"`
	pad := strings.Repeat("x", limit-len(head)-2)
	p := call(t, lc, name, "", []byte(head+pad+`"}`)).ok(t, "request of 6291456 bytes")
	expectEq(t, "size of the event the function got", jnum(p, "size"), limit)

	// One byte more.
	_, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(head + pad + `x"}`)})
	expectAPIError(t, "request of 6291457 bytes", err, "RequestEntityTooLargeException", 413)

	// A response of exactly 6 MB.
	r := call(t, lc, name, "", event("respond", "size", limit))
	if r.Status != 200 || r.FunctionError != "" || len(r.Payload) != limit {
		t.Errorf("response of 6291456 bytes: status %d, function error %q, %d bytes", r.Status, r.FunctionError, len(r.Payload))
	}

	// A response over it.
	r = call(t, lc, name, "", event("respond", "size", limit+1024))
	m := r.failed(t, "response of 6 MB + 1 KB", "Function.ResponseSizeTooLarge")
	expectEq(t, "errorMessage", jstr(m, "errorMessage"),
		"Response payload size exceeded maximum allowed payload size (6291556 bytes).")

	// The function still answers afterwards.
	if p := call(t, lc, name, "", event("size")).succeeded(t, "invoke after a too large response"); p != nil {
		expectEq(t, "tag", jstr(p, "tag"), "big")
	}
}

func testTail(t *testing.T, lc *lambda.Client) {
	name := "printer"
	deployFn(t, lc, name, "printer", fnConfig{})

	r := call(t, lc, name, "", event("print", "lines", 5))
	r.ok(t, "print 5 lines")
	checkLog(t, r, "$LATEST", 128, true)
	var missing []int
	for i := 1; i <= 5; i++ {
		if !strings.Contains(r.Log, fmt.Sprintf("\nfn line %d of 5\n", i)) {
			missing = append(missing, i)
		}
	}
	startAt, lineAt, endAt := strings.Index(r.Log, "START "), strings.Index(r.Log, "fn line 1 of 5"), strings.Index(r.Log, "END ")
	if len(missing) > 0 || !(startAt >= 0 && startAt < lineAt && lineAt < endAt) {
		t.Errorf("log tail is not START, the function's 5 lines, END, REPORT (lines %v missing):\n%s", missing, r.Log)
	}

	// Only the invocation's own lines, and at most the last 4 KB of them.
	r = call(t, lc, name, "", event("print", "lines", 400))
	r.ok(t, "print 400 lines")
	if len(r.Log) > 4096 || len(r.Log) < 3500 {
		t.Errorf("log tail of a long log is %d bytes, want the last 4096", len(r.Log))
	}
	if !strings.Contains(r.Log, "fn line 400 of 400\n") || strings.Contains(r.Log, "fn line 1 of 400\n") {
		t.Errorf("log tail is not the end of the log:\n%s", r.Log)
	}
	if strings.Contains(r.Log, "of 5\n") {
		t.Errorf("log tail holds lines of the previous invocation:\n%s", r.Log)
	}
	if !reportRE.MatchString(r.Log) || !strings.Contains(r.Log, "END RequestId: "+r.RequestID) {
		t.Errorf("the END and REPORT lines are not in the tail of a long log:\n%s", r.Log)
	}

	// Without LogType Tail there is no log result.
	r, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: event("print", "lines", 1), LogType: types.LogTypeNone})
	if err != nil {
		t.Fatal(err)
	}
	if r.LogB64 != "" {
		t.Errorf("LogType None: X-Amz-Log-Result is set: %q", r.Log)
	}
}

func testQualifiers(t *testing.T, lc *lambda.Client) {
	ctx := t.Context()
	name := "versions"
	created := deployFn(t, lc, name, "v1", fnConfig{Publish: true})
	expectEq(t, "version published by CreateFunction", aws.ToString(created.Version), "1")

	p := call(t, lc, name, "", event("echo")).ok(t, "$LATEST before the update")
	expectEq(t, "tag before the update", jstr(p, "tag"), "v1")

	// Update the code and publish version 2: the warm $LATEST sandbox must
	// not answer for the new code.
	must[*lambda.UpdateFunctionCodeOutput](t, "UpdateFunctionCode")(lc.UpdateFunctionCode(ctx,
		&lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: fnZip(t, "v2")}))
	waitUpdated(t, lc, name)
	r := call(t, lc, name, "", event("echo"))
	p = r.ok(t, "$LATEST after the update")
	expectEq(t, "tag after the code update", jstr(p, "tag"), "v2")
	expectEq(t, "invocations after the code update (a new sandbox)", jnum(p, "invocations"), 1)
	v2 := must[*lambda.PublishVersionOutput](t, "PublishVersion")(lc.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name)}))
	expectEq(t, "PublishVersion", aws.ToString(v2.Version), "2")
	must[*lambda.CreateAliasOutput](t, "CreateAlias")(lc.CreateAlias(ctx, &lambda.CreateAliasInput{
		FunctionName: aws.String(name), Name: aws.String("live"), FunctionVersion: aws.String("1"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": 1.0}},
	}))
	must[*lambda.CreateAliasOutput](t, "CreateAlias")(lc.CreateAlias(ctx, &lambda.CreateAliasInput{
		FunctionName: aws.String(name), Name: aws.String("stable"), FunctionVersion: aws.String("1"),
	}))

	cases := []struct {
		fn, qualifier     string
		version, tag, arn string
	}{
		{name, "", "$LATEST", "v2", functionARN(name)},
		{name, "$LATEST", "$LATEST", "v2", functionARN(name) + ":$LATEST"},
		{name, "1", "1", "v1", functionARN(name) + ":1"},
		{name, "2", "2", "v2", functionARN(name) + ":2"},
		{name, "live", "2", "v2", functionARN(name) + ":live"},
		{name, "stable", "1", "v1", functionARN(name) + ":stable"},
		{functionARN(name), "", "$LATEST", "v2", functionARN(name)},
		{functionARN(name), "1", "1", "v1", functionARN(name) + ":1"},
		{functionARN(name) + ":1", "", "1", "v1", functionARN(name) + ":1"},
		{functionARN(name) + ":live", "", "2", "v2", functionARN(name) + ":live"},
		{partialARN(name), "", "$LATEST", "v2", functionARN(name)},
		{partialARN(name) + ":stable", "", "1", "v1", functionARN(name) + ":stable"},
	}
	for _, c := range cases {
		what := fmt.Sprintf("Invoke %s qualifier %q", c.fn, c.qualifier)
		r := call(t, lc, c.fn, c.qualifier, event("echo"))
		p := r.ok(t, what)
		expectEq(t, what+": X-Amz-Executed-Version", r.Version, c.version)
		expectEq(t, what+": code tag", jstr(p, "tag"), c.tag)
		expectEq(t, what+": AWS_LAMBDA_FUNCTION_VERSION", jstr(p, "env", "AWS_LAMBDA_FUNCTION_VERSION"), c.version)
		expectEq(t, what+": invoked function ARN", jstr(p, "functionArn"), c.arn)
		if m := streamRE.FindStringSubmatch(jstr(p, "env", "AWS_LAMBDA_LOG_STREAM_NAME")); m == nil || m[1] != c.version {
			t.Errorf("%s: log stream %q, want one of [%s]", what, jstr(p, "env", "AWS_LAMBDA_LOG_STREAM_NAME"), c.version)
		}
		if !strings.Contains(r.Log, "START RequestId: "+r.RequestID+" Version: "+c.version+"\n") {
			t.Errorf("%s: START line does not name version %s:\n%s", what, c.version, r.Log)
		}
	}

	_, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String(name), Qualifier: aws.String("9")})
	expectAPIError(t, "Invoke of a version that does not exist", err, "ResourceNotFoundException", 404)
	_, err = sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String(name), Qualifier: aws.String("nope")})
	expectAPIError(t, "Invoke of an alias that does not exist", err, "ResourceNotFoundException", 404)
}

func testBadRequests(t *testing.T, lc *lambda.Client) {
	name := "strict"
	// Right after CreateFunction the function may still be Pending: then
	// Invoke answers 409; once Active it runs.
	must[*lambda.CreateFunctionOutput](t, "CreateFunction")(lc.CreateFunction(t.Context(), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2, Role: aws.String(testRole),
		Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: fnZip(t, "strict")},
	}))
	if r, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: event("echo")}); err != nil {
		expectAPIError(t, "Invoke right after CreateFunction", err, "ResourceConflictException", 409)
	} else {
		r.ok(t, "Invoke right after CreateFunction")
	}
	waitActive(t, lc, name)

	for _, bad := range []string{"{not json", `{"action":"echo"`, "\xff\xfe"} {
		_, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(bad)})
		expectAPIError(t, fmt.Sprintf("Invoke with payload %q", bad), err, "InvalidRequestContentException", 400)
	}
	_, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String("no-such-function"), Payload: event("echo")})
	expectAPIError(t, "Invoke of a missing function", err, "ResourceNotFoundException", 404)

	// An empty payload is the empty object.
	r, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatalf("Invoke without a payload: %v", err)
	}
	// The function rejects an event without an action.
	m := r.failed(t, "Invoke without a payload", "errorString")
	expectEq(t, "errorMessage", jstr(m, "errorMessage"), `unknown action ""`)
}

// cliOnce caches whether the AWS CLI is version 2.
var cliOnce struct {
	once sync.Once
	v2   bool
}

// invoke runs aws lambda invoke with args and returns its JSON output and
// the payload file's bytes.
func (c *awsCLI) invoke(args ...string) (map[string]any, []byte, cmdResult) {
	c.t.Helper()
	cliOnce.once.Do(func() { cliOnce.v2 = cliV2(c.t) })
	outFile := filepath.Join(c.t.TempDir(), "payload.out")
	full := []string{"lambda", "invoke"}
	if cliOnce.v2 {
		full = append(full, "--cli-binary-format", "raw-in-base64-out")
	}
	full = append(append(full, args...), outFile)
	r := c.run(full...)
	if r.Code != 0 {
		return nil, nil, r
	}
	var meta map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &meta); err != nil {
		c.t.Fatalf("aws lambda invoke printed no JSON object: %v\n%s", err, r)
	}
	payload, _ := os.ReadFile(outFile)
	return meta, payload, r
}

func testInvokeCLI(t *testing.T, s *server, lc *lambda.Client) {
	name := "cli-invoke"
	deployFn(t, lc, name, "cli", fnConfig{Publish: true})

	t.Run("EchoTail", func(t *testing.T) {
		t.Parallel()
		c := newCLI(t, s)
		cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"via":"cli"}}`))
		meta, payload, r := c.invoke("--function-name", name, "--payload", `{"action":"echo","from":"cli"}`,
			"--log-type", "Tail", "--client-context", cc)
		if meta == nil {
			t.Fatalf("aws lambda invoke failed:\n%s", r)
		}
		expectEq(t, "StatusCode", jnum(meta, "StatusCode"), 200)
		expectEq(t, "ExecutedVersion", jstr(meta, "ExecutedVersion"), "$LATEST")
		if _, ok := meta["FunctionError"]; ok {
			t.Errorf("FunctionError on success: %v", meta)
		}
		var p map[string]any
		if err := json.Unmarshal(payload, &p); err != nil {
			t.Fatalf("payload file: %v: %s", err, payload)
		}
		expectEq(t, "event.from", jstr(p, "event", "from"), "cli")
		expectEq(t, "clientContext.custom.via", jstr(p, "clientContext", "custom", "via"), "cli")
		log, err := base64.StdEncoding.DecodeString(jstr(meta, "LogResult"))
		if err != nil {
			t.Fatalf("LogResult is not base64: %v", err)
		}
		checkLog(t, &invoked{Log: string(log), RequestID: jstr(p, "requestId")}, "$LATEST", 128, jnum(p, "invocations") == 1)
	})
	t.Run("Error", func(t *testing.T) {
		t.Parallel()
		c := newCLI(t, s)
		meta, payload, r := c.invoke("--function-name", name, "--qualifier", "1", "--payload", `{"action":"error","message":"cli boom"}`)
		if meta == nil {
			t.Fatalf("aws lambda invoke failed:\n%s", r)
		}
		expectEq(t, "StatusCode", jnum(meta, "StatusCode"), 200)
		expectEq(t, "FunctionError", jstr(meta, "FunctionError"), "Unhandled")
		expectEq(t, "ExecutedVersion", jstr(meta, "ExecutedVersion"), "1")
		var p map[string]any
		json.Unmarshal(payload, &p)
		expectEq(t, "errorType", jstr(p, "errorType"), "TestError")
		expectEq(t, "errorMessage", jstr(p, "errorMessage"), "cli boom")
	})
	t.Run("DryRun", func(t *testing.T) {
		t.Parallel()
		c := newCLI(t, s)
		meta, payload, r := c.invoke("--function-name", functionARN(name), "--invocation-type", "DryRun")
		if meta == nil {
			t.Fatalf("aws lambda invoke failed:\n%s", r)
		}
		expectEq(t, "StatusCode", jnum(meta, "StatusCode"), 204)
		if len(payload) != 0 {
			t.Errorf("DryRun wrote a payload: %q", payload)
		}
	})
	t.Run("InvalidJSON", func(t *testing.T) {
		t.Parallel()
		c := newCLI(t, s)
		_, _, r := c.invoke("--function-name", name, "--payload", "{nope")
		if r.Code == 0 || !strings.Contains(r.Stderr, "(InvalidRequestContentException)") {
			t.Errorf("want InvalidRequestContentException:\n%s", r)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		c := newCLI(t, s)
		_, _, r := c.invoke("--function-name", "cli-no-such-function", "--payload", "{}")
		if r.Code == 0 || !strings.Contains(r.Stderr, "(ResourceNotFoundException)") {
			t.Errorf("want ResourceNotFoundException:\n%s", r)
		}
	})
}

// requireLinuxDriver skips tests of the sandbox's isolation unless the
// server can use the linux driver.
func requireLinuxDriver(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("isolation tests need root (the linux sandbox driver); CI runs as root")
	}
}

// cgroupParent is the cgroup the server running on dataDir keeps its
// sandboxes in: kumo-<first 4 bytes of sha256(data dir), hex>.
func cgroupParent(dataDir string) string {
	sum := sha256.Sum256([]byte(dataDir))
	return "kumo-" + hex.EncodeToString(sum[:4])
}

// cgroupDirs are the directories holding a server's sandbox cgroups, one
// per hierarchy (cgroup v2: one).
func cgroupDirs(dataDir string) []string {
	parent := cgroupParent(dataDir)
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{filepath.Join("/sys/fs/cgroup", parent)}
	}
	var dirs []string
	for _, c := range []string{"pids", "memory", "cpu", "freezer"} {
		dirs = append(dirs, filepath.Join("/sys/fs/cgroup", c, parent))
	}
	return dirs
}

// sandboxCgroups lists a server's sandbox cgroups (by name) with the pids
// in each, as the pids hierarchy (v1) or the unified one (v2) says.
func sandboxCgroups(t *testing.T, dataDir string) map[string][]int {
	t.Helper()
	dir := cgroupDirs(dataDir)[0]
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("reading %s: %v", dir, err)
	}
	out := map[string][]int{}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "kumo-") {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(dir, e.Name(), "cgroup.procs"))
		var pids []int
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		out[e.Name()] = pids
	}
	return out
}

// cgroupValue reads one control file of a sandbox cgroup in the pids
// hierarchy (v1) or the unified one (v2).
func cgroupValue(dataDir, name, file string) string {
	b, _ := os.ReadFile(filepath.Join(cgroupDirs(dataDir)[0], name, file))
	return strings.TrimSpace(string(b))
}

// procStart is a process's start time in clock ticks, "" if it is gone:
// with the pid it names one process, whatever reuses the pid later.
func procStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// hostIPv4 is a non-loopback address of this machine, "" if none.
func hostIPv4() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

func healthy(t *testing.T, s *server) {
	t.Helper()
	resp, err := healthClient.Get(s.url + "/healthz")
	if err != nil {
		t.Errorf("GET /healthz: %v", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %s", resp.Status)
	}
}

// TestIsolation runs hostile functions in the linux driver: each must be
// stopped by its sandbox while the server and other functions carry on.
func TestIsolation(t *testing.T) {
	requireLinuxDriver(t)
	t.Parallel()
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "--sandbox", "linux")
	lc := newSDK(t, s)
	fnBootstrap(t)
	deployFn(t, lc, "bystander", "bystander", fnConfig{})
	call(t, lc, "bystander", "", event("echo")).ok(t, "bystander warm-up")

	t.Run("Probes", func(t *testing.T) {
		t.Parallel()
		deployFn(t, lc, "prober", "prober", fnConfig{Memory: 1024, Ephemeral: 512})
		// A listener on every interface, so a refused connection cannot be
		// mistaken for isolation: only "no route" keeps the probe out.
		ln, err := net.Listen("tcp", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		var connections int
		var mu sync.Mutex
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				connections++
				mu.Unlock()
				c.Close()
			}
		}()
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		targets := []string{s.addr, "127.0.0.1:" + port}
		if ip := hostIPv4(); ip != "" {
			_, serverPort, _ := net.SplitHostPort(s.addr)
			targets = append(targets, net.JoinHostPort(ip, port), net.JoinHostPort(ip, serverPort))
		}
		r := call(t, lc, "prober", "", event("probe", "connect", targets, "fillMb", 600))
		p := r.ok(t, "probe")
		errs, _ := jget(p, "errors").(map[string]any)
		for name, v := range errs {
			if v == "" {
				t.Errorf("inside the sandbox, %s succeeded", name)
			} else {
				t.Logf("%s: %v", name, v)
			}
		}
		for _, target := range targets {
			if _, ok := errs["connect "+target]; !ok {
				t.Errorf("the probe did not try to connect to %s", target)
			}
		}
		if e := jstr(errs, "fill /tmp"); !strings.Contains(e, "no space left on device") {
			t.Errorf("writing 600 MB to a 512 MB /tmp: error %q, want ENOSPC", e)
		}
		if w := jnum(p, "tmpWritten"); w < 500<<20 || w > 512<<20 {
			t.Errorf("the probe wrote %.0f bytes to /tmp before ENOSPC, want about 512 MB", w)
		}
		if e := jstr(errs, "write /var/task"); !strings.Contains(e, "read-only file system") && !strings.Contains(e, "permission denied") {
			t.Errorf("writing to /var/task: %q, want a read-only file system", e)
		}
		procs, _ := jget(p, "procs").([]any)
		t.Logf("processes the function sees: %v", procs)
		if len(procs) == 0 || len(procs) > 4 {
			t.Errorf("the function sees %d processes in /proc, want only its own few: %v", len(procs), procs)
		}
		if uid := jnum(p, "uid"); uid == 0 {
			t.Errorf("the function runs as root")
		}
		mu.Lock()
		if connections > 0 {
			t.Errorf("the sandbox reached a listener on the host (%d connections)", connections)
		}
		mu.Unlock()
		// The probe's sandbox is still usable, and /tmp was freed.
		call(t, lc, "prober", "", event("echo")).ok(t, "echo after the probes")
	})

	t.Run("ForkBomb", func(t *testing.T) {
		t.Parallel()
		deployFn(t, lc, "bomber", "bomber", fnConfig{Memory: 1024, Timeout: 60})
		type result struct {
			r   *invoked
			err error
		}
		done := make(chan result, 1)
		go func() {
			r, err := lc.Invoke(t.Context(), &lambda.InvokeInput{FunctionName: aws.String("bomber"),
				Payload: event("forkbomb", "holdMs", 4000), LogType: types.LogTypeTail})
			if err != nil {
				done <- result{err: err}
				return
			}
			log, _ := base64.StdEncoding.DecodeString(aws.ToString(r.LogResult))
			done <- result{r: &invoked{Status: r.StatusCode, FunctionError: aws.ToString(r.FunctionError), Payload: r.Payload, Log: string(log)}}
		}()
		// Wait for the bomb to reach its limit.
		var bombCG string
		err := poll(30*time.Second, func() error {
			select {
			case res := <-done:
				done <- res
				return stopPolling(fmt.Errorf("the fork bomb ended before it was seen at its limit: %v %v", res.err, res.r))
			default:
			}
			for name := range sandboxCgroups(t, dataDir) {
				if n, _ := strconv.Atoi(cgroupValue(dataDir, name, "pids.current")); n >= 900 {
					bombCG = name
					return nil
				}
			}
			return fmt.Errorf("no sandbox cgroup has 900 tasks yet")
		})
		if err != nil {
			t.Fatalf("fork bomb: %v", err)
		}
		expectEq(t, "pids.max of the bomb's sandbox", cgroupValue(dataDir, bombCG, "pids.max"), "1024")
		// While it holds: the server and another function work.
		t0 := time.Now()
		healthy(t, s)
		p := call(t, lc, "bystander", "", event("echo")).ok(t, "bystander during the fork bomb")
		if d := time.Since(t0); d > 5*time.Second {
			t.Errorf("the bystander took %v during the fork bomb", d)
		}
		expectEq(t, "bystander tag", jstr(p, "tag"), "bystander")
		deployFn(t, lc, "newcomer", "newcomer", fnConfig{})
		call(t, lc, "newcomer", "", event("echo")).ok(t, "a cold start during the fork bomb")
		if n, _ := strconv.Atoi(cgroupValue(dataDir, bombCG, "pids.current")); n < 900 {
			t.Logf("the bomb had let go (%d tasks) before the other functions were done", n)
		}

		res := <-done
		if res.err != nil {
			t.Fatalf("Invoke of the fork bomb: %v", res.err)
		}
		r := res.r
		bp := r.ok(t, "fork bomb")
		if jstr(bp, "bomberFailed") != "" {
			t.Fatalf("the bomb did not report: %s", jstr(bp, "bomberFailed"))
		}
		if started := jnum(bp, "started"); started < 100 {
			t.Errorf("the bomb started only %.0f processes", started)
		}
		if e := jstr(bp, "error"); !strings.Contains(e, "resource temporarily unavailable") {
			t.Errorf("the bomb was stopped by %q, want EAGAIN from the pids limit", e)
		}
		if tasks := jnum(bp, "tasks"); tasks > 1024 {
			t.Errorf("the bomb's sandbox saw %.0f tasks, over the limit of 1024", tasks)
		}
		t.Logf("fork bomb: %s", r.Payload)
		call(t, lc, "bomber", "", event("echo")).ok(t, "echo after the fork bomb")
	})

	t.Run("MemoryBomb", func(t *testing.T) {
		t.Parallel()
		// Touching 128 MB page by page takes 32,768 page faults on 7 % of
		// a vCPU, which a loaded machine may not even give: the timeout
		// leaves the memory limit, not the clock, to end the invocation.
		deployFn(t, lc, "gobbler", "gobbler", fnConfig{Memory: 128, Timeout: 120})
		var wg sync.WaitGroup
		var bomb *invoked
		wg.Add(1)
		go func() {
			defer wg.Done()
			bomb, _ = sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String("gobbler"), Payload: event("membomb")})
		}()
		for i := 0; i < 5; i++ {
			call(t, lc, "bystander", "", event("echo")).ok(t, "bystander during the memory bomb")
			healthy(t, s)
		}
		wg.Wait()
		if bomb == nil {
			t.Fatal("Invoke of the memory bomb failed")
		}
		bomb.failed(t, "memory bomb", "Runtime.OutOfMemory")
		call(t, lc, "gobbler", "", event("echo")).ok(t, "echo after the memory bomb")
		healthy(t, s)
	})
}

// TestCrashCleanup kills the server while sandboxes are warm and checks
// that the restarted server leaves nothing of them behind.
func TestCrashCleanup(t *testing.T) {
	requireLinuxDriver(t)
	t.Parallel()
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "--sandbox", "linux")
	lc := newSDK(t, s)
	names := []string{"crash-a", "crash-b", "crash-c"}
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deployFn(t, lc, name, name, fnConfig{})
			call(t, lc, name, "", event("echo")).ok(t, "warm-up of "+name)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	type proc struct {
		pid   int
		start string
	}
	old := sandboxCgroups(t, dataDir)
	var procs []proc
	busy := 0
	for _, pids := range old {
		if len(pids) > 0 {
			busy++
		}
		for _, pid := range pids {
			procs = append(procs, proc{pid, procStart(pid)})
		}
	}
	if busy < 3 {
		t.Fatalf("want at least 3 sandbox cgroups with processes, got %v", old)
	}
	s.kill9()

	s2 := startServer(t, dataDir, "--sandbox", "linux")
	eventually(t, 10*time.Second, "the old sandboxes to be gone", func() error {
		for _, p := range procs {
			if p.start != "" && procStart(p.pid) == p.start {
				return fmt.Errorf("process %d of a sandbox of the killed server still runs", p.pid)
			}
		}
		for name := range old {
			for _, dir := range cgroupDirs(dataDir) {
				if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
					return fmt.Errorf("cgroup %s of the killed server is still there", filepath.Join(dir, name))
				}
			}
		}
		return nil
	})
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mi), "\n") {
		if strings.Contains(line, dataDir) {
			t.Errorf("a mount of the sandboxes is left on the host: %s", line)
		}
	}
	lc2 := newSDK(t, s2)
	for _, name := range names {
		p := call(t, lc2, name, "", event("echo")).ok(t, "invoke after the restart")
		expectEq(t, name+" invocations after the restart (a new sandbox)", jnum(p, "invocations"), 1)
		expectEq(t, name+" tag", jstr(p, "tag"), name)
	}
}
