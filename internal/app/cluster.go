package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/config"
	"github.com/kumo-run/kumo/internal/forward"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/metrics"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/version"
	"github.com/kumo-run/kumo/internal/worker"
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
		nc.Cluster = &natsd.ClusterConfig{Name: c.Name, Listen: c.Listen, Peers: c.Peers, Zone: c.Zone, Secret: c.Secret}
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

// nodeLine is what /healthz says of this node: "node: <id>", and a
// "zone: <zone>" line when it has one.
func nodeLine(cfg config.Config, node string) string {
	line := "node: " + node
	if cfg.Cluster.Zone != "" {
		line += "\nzone: " + cfg.Cluster.Zone
	}
	return line
}

// openTimeout bounds opening a cluster member's buckets and streams.
const openTimeout = 3 * time.Minute

// openContext is the context the store's buckets and streams are opened
// with. A single node opens them under ctx. A cluster member creates each
// as a Raft group elected across the cluster, which a loaded machine can
// make slow, so it opens them under one deadline of openTimeout for the
// lot. Either way each request is bounded on its own and retried
// (natsd.Retry): an existing bucket or stream is looked up, not created
// again. Only calls that keep no goroutine on their context may take it.
func openContext(ctx context.Context, cfg config.Config) (context.Context, context.CancelFunc) {
	if !cfg.Cluster.Clustered() {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, openTimeout)
}

// clusterRunner is what runs the invoke frontend's invocations: the worker
// alone on a single node; in a cluster, package forward, which places each
// invocation on the node with an idle sandbox of its version or the least
// loaded one, and counts this node's share of the concurrency limits. It
// attaches the worker to prov: on a single node the whole provisioned
// counts, in a cluster this node's share of them.
func clusterRunner(cfg config.Config, nc *nats.Conn, node string, wk *worker.Worker, prov *invoke.Provisioned, mx *metrics.Metrics, log *slog.Logger) (invoke.Runner, func(), error) {
	if !cfg.Cluster.Clustered() {
		prov.Attach(wk)
		return wk, func() {}, nil
	}
	fw, err := forward.NewInZone(nc, node, cfg.Cluster.Zone, wk, log)
	if err != nil {
		return nil, nil, fmt.Errorf("forwarding: %w", err)
	}
	prov.Attach(fw.Provisioned(wk, prov))
	registerPlacement(mx, fw)
	return fw, fw.Close, nil
}

// registerPlacement publishes where this node's invocations ran
// (kumo_cluster_invocations_total{placement}), the forwarded invocations
// it ran for others, and what it knows of the other nodes.
func registerPlacement(mx *metrics.Metrics, fw *forward.Runner) {
	for _, p := range []struct {
		name string
		get  func(forward.Stats) int64
	}{
		{"here", func(s forward.Stats) int64 { return s.Here }},
		{"warm", func(s forward.Stats) int64 { return s.Warm }},
		{"load", func(s forward.Stats) int64 { return s.Load }},
		{"capacity", func(s forward.Stats) int64 { return s.Capacity }},
		{"limit", func(s forward.Stats) int64 { return s.Limit }},
	} {
		mx.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kumo_cluster_invocations_total",
			Help:        "Invocations this node received, by where they ran: here, or forwarded to a node with an idle sandbox (warm), to a less loaded node (load), because this node had no room (capacity) or no share left of a concurrency limit (limit).",
			ConstLabels: prometheus.Labels{"placement": p.name}},
			func() float64 { return float64(p.get(fw.Stats())) }))
	}
	mx.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kumo_cluster_served_total",
		Help: "Invocations other nodes forwarded to this node."},
		func() float64 { return float64(fw.Stats().Served) }))
	mx.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kumo_cluster_peers",
		Help: "Other nodes this node heard from within the last 5 seconds."},
		func() float64 { return float64(fw.Stats().Peers) }))
	mx.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kumo_cluster_peer_idle_sandboxes",
		Help: "Idle sandboxes the other nodes last reported."},
		func() float64 { return float64(fw.Stats().PeerIdle) }))
}

// serveStarting answers on the edge's address while a cluster member
// waits for its cluster and opens its store, which can take a while after
// a crash: GET /healthz is 503 with what the node waits for ("waiting:
// …", from op), any other request 503. stop, idempotent, frees the
// address for the edge. A single node, or a listen address without a
// fixed port, serves nothing until it is ready.
func serveStarting(cfg config.Config, node string, op *natsd.Opening, log *slog.Logger) (stop func(), err error) {
	if !cfg.Cluster.Clustered() {
		return func() {}, nil
	}
	if _, port, err := net.SplitHostPort(cfg.Listen); err != nil || port == "0" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "not ready\nversion: "+version.String()+"\n"+nodeLine(cfg, node)+"\n")
		if what := op.String(); what != "" {
			io.WriteString(w, "waiting: "+what+"\n")
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "kumo is starting: "+op.String(), http.StatusServiceUnavailable)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			srv.Close()
			<-done
		})
	}, nil
}
