package app

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kumo-run/kumo/internal/config"
	"github.com/kumo-run/kumo/internal/metrics"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// nodeIDFile keeps a node's generated id in its data dir, so that a node
// restarting on its data dir is the same cluster member.
const nodeIDFile = "node-id"

// nodeID is --node-id, else the id kept in the data dir, generated at the
// first start.
func nodeID(cfg config.Config) (string, error) {
	if cfg.Cluster.NodeID != "" {
		return cfg.Cluster.NodeID, nil
	}
	path := filepath.Join(cfg.DataDir, nodeIDFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	id := "kumo-" + randomString(8, "abcdefghijklmnopqrstuvwxyz0123456789")
	return id, writeFileAtomic(path, []byte(id+"\n"), 0o600)
}

// openNATS starts the embedded server (alone or as a cluster member) or
// attaches to the external cluster cfg names.
func openNATS(cfg config.Config, node string, sync natsd.SyncPolicy, log *slog.Logger) (*natsd.Server, error) {
	c := cfg.Cluster
	if c.NATSURL != "" {
		return natsd.Attach(natsd.AttachConfig{DataDir: cfg.DataDir, URL: c.NATSURL, Creds: c.NATSCreds,
			CA: c.NATSTLSCA, Cert: c.NATSTLSCert, Key: c.NATSTLSKey, Logger: log})
	}
	nc := natsd.Config{DataDir: cfg.DataDir, ServerName: node, Sync: sync, Logger: log, MaxStore: cfg.StoreMaxBytes}
	if c.Name != "" {
		nc.Cluster = &natsd.ClusterConfig{Name: c.Name, Listen: c.Listen, Peers: c.Peers, Zone: c.Zone}
	}
	return natsd.Start(nc)
}

// replicas is --replicas, else min(3, cluster size).
func replicas(cfg config.Config, ns *natsd.Server) int {
	if cfg.Cluster.Replicas > 0 {
		return cfg.Cluster.Replicas
	}
	return natsd.Replicas(ns.ClusterSize())
}

// registerNode publishes kumo_node_info{node,zone,cluster} 1.
func registerNode(mx *metrics.Metrics, cfg config.Config, node string, replicas int) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "kumo_node_info",
		Help:        "This node: its id, zone, cluster and the replicas of the buckets and streams it creates (always 1).",
		ConstLabels: prometheus.Labels{"node": node, "zone": cfg.Cluster.Zone, "cluster": clusterLabel(cfg), "replicas": strconv.Itoa(replicas)}})
	g.Set(1)
	mx.Register(g)
}

func clusterLabel(cfg config.Config) string {
	switch {
	case cfg.Cluster.Name != "":
		return cfg.Cluster.Name
	case cfg.Cluster.NATSURL != "":
		return "external"
	}
	return ""
}

// nodeLine is what /healthz says of this node: "node: <id>", then
// " zone: <zone>" when it has one.
func nodeLine(cfg config.Config, node string) string {
	line := "node: " + node
	if cfg.Cluster.Zone != "" {
		line += "\nzone: " + cfg.Cluster.Zone
	}
	return line
}

// startAttempts bounds how often a cluster member starts again when its
// store was too slow to open.
const startAttempts = 5

// Run starts the server and blocks until ctx is done, then shuts it down.
// ready, if not nil, is called with the listening address once the server
// answers requests.
//
// A cluster member whose store timed out while opening (its first buckets
// and streams are created and elected across the cluster, which a loaded
// machine can make slower than a request's timeout) closes what it opened
// and starts again: creating what exists already is a no-op, so each
// attempt gets further. A single node fails at once.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, ready func(addr string)) error {
	for attempt := 1; ; attempt++ {
		started := false
		err := run(ctx, cfg, log, func(addr string) {
			started = true
			if ready != nil {
				ready(addr)
			}
		})
		if err == nil || started || !cfg.Cluster.Clustered() || ctx.Err() != nil || attempt >= startAttempts || !slowStore(err) {
			return err
		}
		log.Warn("the cluster's store was too slow to open; starting again", "attempt", attempt, "err", err)
	}
}

// slowStore reports whether err is a JetStream request that timed out.
func slowStore(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)
}
