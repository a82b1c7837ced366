package linux_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"

	"github.com/kumo-run/kumo/internal/sandbox/linux"
	"github.com/kumo-run/kumo/internal/sandbox/sandboxtest"
)

// newDriver returns a driver with a cgroup parent (one per test process:
// Cleanup must not take another test run's sandboxes) and a state dir of
// its own, or skips the test when the host cannot run it.
func newDriver(t *testing.T) *linux.Driver {
	t.Helper()
	sandboxtest.RequireRoot(t)
	d := linux.New(linux.Config{
		StateDir:     t.TempDir(),
		CgroupParent: fmt.Sprintf("kumo-test-%d", os.Getpid()),
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err := d.Available(); err != nil {
		t.Skipf("linux driver unavailable: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Cleanup(context.Background()); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	return d
}

func TestConformance(t *testing.T) {
	sandboxtest.Run(t, newDriver(t), sandboxtest.Options{})
}

func TestIsolation(t *testing.T) {
	sandboxtest.RunIsolation(t, newDriver(t), sandboxtest.Options{})
}
