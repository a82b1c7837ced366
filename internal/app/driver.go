package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/kumo-run/kumo/internal/config"
	"github.com/kumo-run/kumo/internal/netns"
	"github.com/kumo-run/kumo/internal/sandbox"
	"github.com/kumo-run/kumo/internal/sandbox/linux"
	"github.com/kumo-run/kumo/internal/sandbox/process"
)

// pickDriver returns the sandbox driver the configuration asks for: linux
// when it can run here (root on Linux), else process, which isolates
// nothing and says so. With the linux driver and --network bridge it also
// starts the sandboxes' network (nil otherwise), which the caller closes
// after the driver.
func pickDriver(ctx context.Context, cfg config.Config, log *slog.Logger) (sandbox.Driver, *netns.Network, error) {
	// Each server owns the cgroups, bridge, veths and nftables table
	// named after its data dir, so that two servers on one machine never
	// clean up each other's.
	sum := sha256.Sum256([]byte(cfg.DataDir))
	id := hex.EncodeToString(sum[:4])
	lcfg := linux.Config{
		StateDir:     filepath.Join(cfg.DataDir, "sandbox"),
		CgroupParent: "kumo-" + id,
		Logger:       log,
	}
	ld := linux.New(lcfg)
	switch cfg.Sandbox {
	case config.SandboxLinux:
		if err := ld.Available(); err != nil {
			return nil, nil, fmt.Errorf("--sandbox linux: %w", err)
		}
	case config.SandboxProcess:
		return process.New(log), nil, nil
	default:
		if err := ld.Available(); err != nil {
			log.Warn("the linux sandbox driver cannot run here; falling back to the process driver", "reason", err)
			return process.New(log), nil, nil
		}
	}
	if cfg.Network == config.NetworkNone {
		return ld, nil, nil
	}
	nw, err := netns.Start(ctx, netns.Config{ID: id, Range: cfg.NetworkRange, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("--network bridge: %w (--network none gives sandboxes loopback only)", err)
	}
	lcfg.Network = nw
	return linux.New(lcfg), nw, nil
}
