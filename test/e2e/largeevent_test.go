package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestRuntimeLargeEvent sends a 5 MB event to the smallest Python
// function with the default timeout (3 s) and gets it back: the bootstrap
// reads and answers it in time linear in its size, within the CPU its
// memory size buys (128 MB: 7 % of a vCPU), so the function's own timeout
// is the bound, not a clock in the test. (Node.js reads a body as a list
// of chunks concatenated once; it is not in this table because V8 needs
// more CPU than 128 MB buys for 5 MB on a loaded machine.)
func TestRuntimeLargeEvent(t *testing.T) {
	t.Parallel()
	_, lc := runtimeServer(t)
	blob := strings.Repeat("0123456789abcdef", 5<<20/16)
	event, err := json.Marshal(map[string]string{"action": "echo", "blob": blob})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		runtime      types.Runtime
		handler, dir string
		need         []string
	}{
		{types.RuntimePython312, "app.handler", "py", []string{"/usr/bin/python3", "/usr/local/bin/python3"}},
	} {
		t.Run(string(c.runtime), func(t *testing.T) {
			requireInterpreter(t, c.need...)
			t.Parallel()
			name := "large-" + strings.ReplaceAll(string(c.runtime), ".", "")
			deployManagedSized(t, lc, name, c.runtime, c.handler, dirZip(t, c.dir), nil, nil)
			// A cold start first: the invocation measured below runs in a
			// sandbox past its init, at its regular CPU share.
			call(t, lc, name, "", []byte(`{"action":"echo"}`)).ok(t, "a small event")
			r := call(t, lc, name, "", event)
			p := r.ok(t, "a 5 MB event")
			got, _ := jget(p, "event").(map[string]any)
			if b, _ := got["blob"].(string); b != blob {
				t.Errorf("the event came back with a blob of %d bytes, want the %d sent", len(b), len(blob))
			}
		})
	}
}
