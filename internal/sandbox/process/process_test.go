package process_test

import (
	"log/slog"
	"testing"

	"github.com/kumo-run/kumo/internal/sandbox/process"
	"github.com/kumo-run/kumo/internal/sandbox/sandboxtest"
)

func TestConformance(t *testing.T) {
	sandboxtest.Run(t, process.New(slog.New(slog.DiscardHandler)), sandboxtest.Options{})
}

func TestIsolation(t *testing.T) {
	sandboxtest.RunIsolation(t, process.New(slog.New(slog.DiscardHandler)), sandboxtest.Options{})
}
