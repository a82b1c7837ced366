package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestRetiredPythonSandboxLogsNothing: a Python sandbox retired because its
// function changed is killed before its Runtime API closes, so its runtime
// never reports a lost connection: its log stream holds the invocation's
// lines and nothing after them (no ConnectionRefusedError traceback).
func TestRetiredPythonSandboxLogsNothing(t *testing.T) {
	requireInterpreter(t, "/usr/bin/python3", "/usr/local/bin/python3")
	t.Parallel()
	s, lc := runtimeServer(t)
	cl := newLogsClient(s)
	const name = "py-retire"
	deployManaged(t, lc, name, types.RuntimePython312, "app.handler", dirZip(t, "py"))
	first := call(t, lc, name, "", []byte(`{"action":"echo"}`))
	first.ok(t, "python echo")

	// A configuration change retires the warm sandbox (the reaper sees its
	// version key is no longer live).
	must[*lambda.UpdateFunctionConfigurationOutput](t, "UpdateFunctionConfiguration")(lc.UpdateFunctionConfiguration(t.Context(),
		&lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name),
			Environment: &types.Environment{Variables: map[string]string{"VERSION_MARK": "2"}}}))
	waitUpdated(t, lc, name)
	second := call(t, lc, name, "", []byte(`{"action":"echo"}`))
	second.ok(t, "python echo after the update")
	eventually(t, 20*time.Second, "the first sandbox torn down", func() error {
		samples, _ := scrape(t, s)
		if n, _ := promSum(samples, "kumo_sandboxes", nil); n != 1 {
			return fmt.Errorf("%v sandboxes", n)
		}
		return nil
	})
	// Lines are stored in the order they were written: once the next
	// invocation's REPORT is stored, whatever the retired runtime wrote is.
	third := call(t, lc, name, "", []byte(`{"action":"echo"}`))
	third.ok(t, "python echo, warm")
	events := waitForReports(t, cl, "/aws/lambda/"+name, first.RequestID, third.RequestID)
	var firstStream string
	for _, e := range events {
		if strings.HasPrefix(e.Message, "REPORT RequestId: "+first.RequestID) {
			firstStream = e.Stream
		}
	}
	for _, e := range events {
		if e.Stream == firstStream && (strings.Contains(e.Message, "Traceback") || strings.Contains(e.Message, "ConnectionRefusedError") ||
			strings.Contains(e.Message, "Connection refused") || strings.Contains(e.Message, "Error")) {
			t.Errorf("the retired sandbox wrote %q; its stream:\n%s", e.Message, dumpLines(events))
			break
		}
	}
}
