package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/config"
	"github.com/kumo-run/kumo/internal/poll"
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

// TestStartingHealthz: a cluster member that cannot reach the other
// members answers /healthz on its edge address with 503 and what it waits
// for, and stops when its context ends.
func TestStartingHealthz(t *testing.T) {
	addrs := make([]string, 4)
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = l.Addr().String()
		l.Close()
	}
	edgeAddr, routes := addrs[0], addrs[1:]
	cfg, err := config.Parse([]string{"--listen", edgeAddr, "--data-dir", t.TempDir(), "--node-id", "n1", "--zone", "a",
		"--cluster-name", "c", "--cluster-listen", routes[0], "--peers", strings.Join(routes, ",")}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.DiscardHandler), nil) }()
	var body string
	err = poll.Wait(time.Minute, func() error {
		select {
		case err := <-done:
			return poll.Stop{Err: fmt.Errorf("Run returned: %v", err)}
		default:
		}
		resp, err := http.Get("http://" + edgeAddr + "/healthz")
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "; last: ") {
			return fmt.Errorf("%s: %q", resp.Status, b)
		}
		return nil
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	for _, want := range []string{"not ready\n", "node: n1\nzone: a\n", "waiting: the cluster's store"} {
		if !strings.Contains(body, want) {
			t.Errorf("/healthz %q lacks %q", body, want)
		}
	}
	resp, err := http.Get("http://" + edgeAddr + "/2015-03-31/functions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a request while starting: %s, want 503", resp.Status)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run after its context ended: %v", err)
	}
}
