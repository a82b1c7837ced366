package runtimes

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/runtimeapi"
)

// bootstrapCase is a managed runtime's bootstrap run on the host against a
// real Runtime API server, with a handler that echoes its event.
type bootstrapCase struct {
	name, interpreter, bootstrap, handler, file, code string
}

var bootstrapCases = []bootstrapCase{
	{"python", "python3", "bootstrap.py", "app.handler", "app.py", "def handler(event, context):\n    return event\n"},
	{"nodejs", "node", "bootstrap.js", "index.handler", "index.js", "exports.handler = async (event) => event;\n"},
}

// runBootstrap starts c's bootstrap against the Runtime API at addr and
// returns the command, whose stdout and stderr go to out.
func runBootstrap(t *testing.T, c bootstrapCase, addr string, out *bytes.Buffer) *exec.Cmd {
	t.Helper()
	interp, err := exec.LookPath(c.interpreter)
	if err != nil {
		t.Skipf("no %s here", c.interpreter)
	}
	dir, err := writeRuntimeDir(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	task := t.TempDir()
	if err := os.WriteFile(filepath.Join(task, c.file), []byte(c.code), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(interp, filepath.Join(dir, c.bootstrap))
	cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + addr, "_HANDLER=" + c.handler, "LAMBDA_TASK_ROOT=" + task,
		"PATH=" + os.Getenv("PATH"), "HOME=" + task}
	cmd.Dir = task
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// serveRuntimeAPI serves a Runtime API on loopback until the test ends
// and returns it with its address.
func serveRuntimeAPI(t *testing.T) (*runtimeapi.Server, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := runtimeapi.New(runtimeapi.Options{})
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return s, l.Addr().String()
}

// exitQuietly waits for the bootstrap to exit and checks it said nothing.
func exitQuietly(t *testing.T, cmd *exec.Cmd, out *bytes.Buffer) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the bootstrap exited with %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("the bootstrap did not exit once the Runtime API was gone; output:\n%s", out)
	}
	if out.Len() != 0 {
		t.Errorf("the bootstrap wrote to the function's log as it went:\n%s", out)
	}
}

// TestBootstrapsExitQuietly: when the Runtime API closes the connection
// a runtime waits on for its next invocation (the platform retiring the
// sandbox), or refuses it, the bootstraps exit without a traceback or
// stack in the function's log.
func TestBootstrapsExitQuietly(t *testing.T) {
	for _, c := range bootstrapCases {
		t.Run(c.name+"/closed", func(t *testing.T) {
			s, addr := serveRuntimeAPI(t)
			var out bytes.Buffer
			cmd := runBootstrap(t, c, addr, &out)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := s.Invoke(ctx, &runtimeapi.Invocation{RequestID: "first", Payload: []byte(`{"n":1}`)})
			if err != nil {
				t.Fatalf("Invoke: %v; output:\n%s", err, &out)
			}
			if p := string(res.Payload); res.Error || (p != `{"n":1}` && p != `{"n": 1}`) {
				t.Fatalf("Invoke: %+v %s", res, res.Payload)
			}
			s.Close()
			exitQuietly(t, cmd, &out)
		})
		t.Run(c.name+"/refused", func(t *testing.T) {
			// A port that was listening and is not any more.
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close()
			var out bytes.Buffer
			exitQuietly(t, runBootstrap(t, c, addr, &out), &out)
		})
	}
}

// TestPythonBootstrapSparesJSON: the Python bootstrap reads events and
// writes responses with the json module's C accelerators, without
// importing json (and re, enum: tens of milliseconds of a small
// function's CPU quota on its first invocation) when the function does
// not; the answers are what json would give.
func TestPythonBootstrapSparesJSON(t *testing.T) {
	c := bootstrapCase{"python", "python3", "bootstrap.py", "app.handler", "app.py", `import sys, decimal
def handler(event, context):
    return {"json_loaded": "json" in sys.modules, "event": event, "d": decimal.Decimal("1.5"), 1: "int key", "u": "\u00e9"}
`}
	s, addr := serveRuntimeAPI(t)
	var out bytes.Buffer
	runBootstrap(t, c, addr, &out)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := s.Invoke(ctx, &runtimeapi.Invocation{RequestID: "first", Payload: []byte(` {"a": [1, 2.5, "s\u00e9", null, true, {"b": -0}]} `)})
	if err != nil {
		t.Fatalf("Invoke: %v; output:\n%s", err, &out)
	}
	want := `{"json_loaded": false, "event": {"a": [1, 2.5, "s\u00e9", null, true, {"b": 0}]}, "d": 1.5, "1": "int key", "u": "\u00e9"}`
	if res.Error || string(res.Payload) != want {
		t.Fatalf("Invoke: error %v, payload\n%s\nwant\n%s\noutput:\n%s", res.Error, res.Payload, want, &out)
	}
}
