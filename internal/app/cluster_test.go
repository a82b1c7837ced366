package app

import (
	"strings"
	"testing"

	"github.com/kumo-run/kumo/internal/config"
)

// TestNodeID: --node-id wins; without it a node generates an id at its
// first start and keeps it in the data dir, so that it restarts as the same
// cluster member.
func TestNodeID(t *testing.T) {
	cfg := config.Config{DataDir: t.TempDir()}
	first, err := nodeID(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first, "kumo-") || len(first) != len("kumo-")+8 {
		t.Fatalf("generated id %q", first)
	}
	again, err := nodeID(cfg)
	if err != nil || again != first {
		t.Fatalf("second start: %q, %v; want %q", again, err, first)
	}
	cfg.Cluster.NodeID = "n7"
	if id, err := nodeID(cfg); err != nil || id != "n7" {
		t.Fatalf("--node-id: %q, %v", id, err)
	}
	if other, _ := nodeID(config.Config{DataDir: t.TempDir()}); other == first {
		t.Fatalf("two data dirs share the id %q", first)
	}
}

func TestNodeLine(t *testing.T) {
	if got := nodeLine(config.Config{}, "n1"); got != "node: n1" {
		t.Errorf("nodeLine = %q", got)
	}
	cfg := config.Config{Cluster: config.Cluster{Zone: "b"}}
	if got := nodeLine(cfg, "n2"); got != "node: n2\nzone: b" {
		t.Errorf("nodeLine = %q", got)
	}
}
