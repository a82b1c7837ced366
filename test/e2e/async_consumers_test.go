package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// asyncConsumerDirs lists the async queue's durable consumers on disk.
func asyncConsumerDirs(t *testing.T, dataDir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dataDir, "jetstream", "$G", "streams", "KUMO_ASYNC", "obs"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// Functions that got Event invokes and were then deleted leave no durable
// consumer of the async queue behind, neither before nor after a restart.
func TestAsyncConsumersGoWithFunctions(t *testing.T) {
	dataDir := t.TempDir()
	s := startServer(t, dataDir)
	lc := newSDK(t, s)
	const n = 10
	for i := range n {
		name := fmt.Sprintf("ephemeral-%d", i)
		must[*lambda.CreateFunctionOutput](t, "create")(lc.CreateFunction(t.Context(), createInput(name, handlerZip(t, name))))
		waitActive(t, lc, name)
		invokeEvent(t, lc, name, []byte(`{}`))
		eventually(t, 60*time.Second, "consumer of "+name, func() error {
			for _, d := range asyncConsumerDirs(t, dataDir) {
				if d == "kumo-async-"+name {
					return nil
				}
			}
			return fmt.Errorf("consumers %v", asyncConsumerDirs(t, dataDir))
		})
		must[*lambda.DeleteFunctionOutput](t, "delete")(lc.DeleteFunction(t.Context(), &lambda.DeleteFunctionInput{FunctionName: aws.String(name)}))
	}
	eventually(t, 60*time.Second, "consumers deleted", func() error {
		if d := asyncConsumerDirs(t, dataDir); len(d) > 0 {
			return fmt.Errorf("%d consumers left: %v", len(d), d)
		}
		return nil
	})
	s.stop()
	s = startServer(t, dataDir)
	if d := asyncConsumerDirs(t, dataDir); len(d) > 0 {
		t.Errorf("after a restart: %d consumers: %v", len(d), d)
	}
	s.stop()
}
