package app

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/kumo-run/kumo/internal/config"
	"github.com/kumo-run/kumo/internal/sandbox"
	"github.com/kumo-run/kumo/internal/sandbox/linux"
	"github.com/kumo-run/kumo/internal/sandbox/process"
)

// pickDriver returns the sandbox driver the configuration asks for: linux
// when it can run here (root on Linux), else process, which isolates
// nothing and says so.
func pickDriver(cfg config.Config, log *slog.Logger) (sandbox.Driver, error) {
	// Each server owns the cgroups named after its data dir, so that two
	// servers on one machine never clean up each other's sandboxes.
	sum := sha256.Sum256([]byte(cfg.DataDir))
	ld := linux.New(linux.Config{
		StateDir:     filepath.Join(cfg.DataDir, "sandbox"),
		CgroupParent: "kumo-" + hex.EncodeToString(sum[:4]),
		Logger:       log,
	})
	switch cfg.Sandbox {
	case config.SandboxLinux:
		if err := ld.Available(); err != nil {
			return nil, fmt.Errorf("--sandbox linux: %w", err)
		}
		return ld, nil
	case config.SandboxProcess:
		return process.New(log), nil
	}
	if err := ld.Available(); err != nil {
		log.Warn("the linux sandbox driver cannot run here; falling back to the process driver", "reason", err)
		return process.New(log), nil
	}
	return ld, nil
}
