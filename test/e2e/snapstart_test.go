package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// snapStartApp answers the sandbox's AWS_LAMBDA_INITIALIZATION_TYPE after
// sleeping event["sleep"] seconds.
const snapStartApp = `import os, time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")}
`

// TestSnapStart creates a Python function with SnapStart through the AWS
// CLI and publishes a version: the version says OptimizationStatus On,
// $LATEST Off. Its first invocation is a cold start (Init Duration); the
// node then keeps a second sandbox of the version initialized beside the
// busy one, and an invocation arriving meanwhile runs in it: its REPORT
// line has a Restore Duration and no Init Duration, and the function sees
// AWS_LAMBDA_INITIALIZATION_TYPE=snap-start.
func TestSnapStart(t *testing.T) {
	t.Parallel()
	requireInterpreter(t, "/usr/bin/python3", "/usr/local/bin/python3")
	s := startServer(t, t.TempDir())
	c := newCLI(t, s)
	lc := newSDK(t, s)

	zip := writeTemp(t, "snap.zip", makeZip(t, zipEntry{Name: "app.py", Body: snapStartApp}))
	created := c.ok("lambda", "create-function", "--function-name", "snap", "--runtime", "python3.12", "--handler", "app.handler",
		"--role", testRole, "--zip-file", "fileb://"+zip, "--timeout", "120", "--snap-start", "ApplyOn=PublishedVersions")
	expectEq(t, "created SnapStart.ApplyOn", jstr(created, "SnapStart", "ApplyOn"), "PublishedVersions")
	expectEq(t, "created SnapStart.OptimizationStatus", jstr(created, "SnapStart", "OptimizationStatus"), "Off")
	c.ok("lambda", "wait", "function-active-v2", "--function-name", "snap")
	published := c.ok("lambda", "publish-version", "--function-name", "snap")
	expectEq(t, "published Version", jstr(published, "Version"), "1")
	expectEq(t, "published SnapStart.OptimizationStatus", jstr(published, "SnapStart", "OptimizationStatus"), "On")
	v1 := c.ok("lambda", "get-function-configuration", "--function-name", "snap", "--qualifier", "1")
	expectEq(t, "version 1 SnapStart.ApplyOn", jstr(v1, "SnapStart", "ApplyOn"), "PublishedVersions")
	expectEq(t, "version 1 SnapStart.OptimizationStatus", jstr(v1, "SnapStart", "OptimizationStatus"), "On")
	latest := c.ok("lambda", "get-function-configuration", "--function-name", "snap")
	expectEq(t, "$LATEST SnapStart.ApplyOn", jstr(latest, "SnapStart", "ApplyOn"), "PublishedVersions")
	expectEq(t, "$LATEST SnapStart.OptimizationStatus", jstr(latest, "SnapStart", "OptimizationStatus"), "Off")

	sandboxes := func(state string) float64 {
		samples, _ := scrape(t, s)
		n, _ := promSum(samples, "kumo_sandboxes", map[string]string{"state": state})
		return n
	}
	// The first invocation cold-starts a sandbox and holds it for 60 s:
	// the kept-ready one must be seen beside it within 45 s (generous on
	// a loaded machine: two Python inits), and the second invocation
	// placed while it still runs.
	type result struct {
		r   *invoked
		err error
	}
	first := make(chan result, 1)
	go func() {
		r, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String("snap"), Qualifier: aws.String("1"),
			Payload: []byte(`{"sleep": 60}`)})
		first <- result{r, err}
	}()
	eventually(t, 45*time.Second, "a sandbox kept ready beside the busy first one", func() error {
		if busy, idle := sandboxes("Busy"), sandboxes("Idle"); busy != 1 || idle != 1 {
			return fmt.Errorf("%v busy, %v idle", busy, idle)
		}
		return nil
	})
	second, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String("snap"), Qualifier: aws.String("1"), Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if second.FunctionError != "" || second.body(t)["init_type"] != "snap-start" ||
		!strings.Contains(second.Log, "\tRestore Duration: ") || !strings.Contains(second.Log, "\tBilled Restore Duration: ") ||
		strings.Contains(second.Log, "Init Duration:") {
		t.Errorf("invocation in the kept-ready sandbox: %s", second)
	}

	var f result
	select {
	case f = <-first:
	case <-time.After(3 * time.Minute):
		t.Fatal("the first invocation did not end")
	}
	if f.err != nil {
		t.Fatal(f.err)
	}
	if f.r.FunctionError != "" || f.r.body(t)["init_type"] != "on-demand" ||
		!strings.Contains(f.r.Log, "\tInit Duration: ") || strings.Contains(f.r.Log, "Restore Duration") {
		t.Errorf("first invocation: %s", f.r)
	}

	t.Logf("cold: %s\nrestored: %s", reportOf(f.r.Log), reportOf(second.Log))

	// Taking the kept-ready sandbox readied another: three sandboxes of
	// version 1 end up idle.
	eventually(t, 60*time.Second, "three idle sandboxes of version 1", func() error {
		if idle, busy, initializing := sandboxes("Idle"), sandboxes("Busy"), sandboxes("Initializing"); idle != 3 || busy+initializing != 0 {
			return fmt.Errorf("%v idle, %v busy, %v initializing", idle, busy, initializing)
		}
		return nil
	})

	// $LATEST has no SnapStart: its cold start readies nothing more.
	before := sandboxes("Idle")
	r, err := sdkInvoke(t, lc, &lambda.InvokeInput{FunctionName: aws.String("snap"), Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if r.body(t)["init_type"] != "on-demand" || !strings.Contains(r.Log, "\tInit Duration: ") || strings.Contains(r.Log, "Restore Duration") {
		t.Errorf("$LATEST invocation: %s", r)
	}
	if after := sandboxes("Idle") + sandboxes("Busy") + sandboxes("Initializing") + sandboxes("Starting"); after != before+1 {
		t.Errorf("%v sandboxes after a $LATEST cold start, want %v", after, before+1)
	}
}

// reportOf is the REPORT line of a log tail.
func reportOf(tail string) string {
	for _, l := range strings.Split(tail, "\n") {
		if strings.HasPrefix(l, "REPORT ") {
			return l
		}
	}
	return ""
}
