package config

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Cluster is how a node joins other Kumo nodes: as a member of a cluster of
// embedded nats-servers (Name, Listen, Peers) or as a client of an external
// NATS cluster (NATSURL and its credentials and TLS files). The zero value
// is a single node with no listening NATS port.
type Cluster struct {
	// NodeID names this node: the nats-server's server name, the owner in
	// leases, the node label in /metrics. "" for the id kept in the data
	// dir (generated at first start).
	NodeID string
	// Zone is the availability zone of this node; replicas of every
	// bucket and stream go to distinct zones when every node has one.
	Zone string
	// Name is the NATS cluster's name (--cluster-name): set, the embedded
	// nats-server routes to Peers and runs JetStream clustered.
	Name string
	// Listen is the address the cluster's routes dial (--cluster-listen).
	Listen string
	// Peers are the other nodes' route addresses, "host:port" (this
	// node's own address may be among them).
	Peers []string
	// NATSURL attaches to an external NATS cluster instead of starting an
	// embedded server ("nats://h1:4222,nats://h2:4222").
	NATSURL string
	// NATSCreds is a NATS credentials (.creds) file for NATSURL.
	NATSCreds string
	// NATSTLSCA, NATSTLSCert, NATSTLSKey are PEM files for TLS to NATSURL.
	NATSTLSCA, NATSTLSCert, NATSTLSKey string
	// Replicas is the replica count of every bucket and stream Kumo
	// creates; 0 for min(3, cluster size).
	Replicas int
	// Secret is the password routes present and require
	// (KUMO_CLUSTER_SECRET); "" lets anyone reaching Listen join. It also
	// seals the secrets the nodes share through the store (with --nats-url
	// it does only that).
	Secret string
}

// Clustered reports whether this node shares its state with others.
func (c Cluster) Clustered() bool { return c.Name != "" || c.NATSURL != "" }

// MaxReplicas is the most replicas JetStream keeps of a stream.
const MaxReplicas = 5

// bindCluster registers the cluster flags.
func bindCluster(fs *flag.FlagSet, b *binder, c *Cluster) {
	b.str(fs, &c.NodeID, "node-id", "KUMO_NODE_ID", "", "this node's `id` in a cluster (default: generated at first start and kept in the data dir)")
	b.str(fs, &c.Zone, "zone", "KUMO_ZONE", "", "availability `zone` of this node; replicas are placed in distinct zones (give every node one, or none)")
	b.str(fs, &c.Name, "cluster-name", "KUMO_CLUSTER_NAME", "", "`name` of the cluster of embedded NATS servers this node joins (default: none, a single node)")
	b.str(fs, &c.Listen, "cluster-listen", "KUMO_CLUSTER_LISTEN", "", "`address` (host:port) other nodes' routes dial, with --cluster-name")
	b.bind(fs, "peers", "KUMO_PEERS", (*listValue)(&c.Peers), "the other nodes' --cluster-listen `addresses`, comma-separated host:port")
	b.str(fs, &c.NATSURL, "nats-url", "KUMO_NATS_URL", "", "attach to an external NATS cluster at these `URLs` (nats://host:4222,…) instead of the embedded server")
	b.str(fs, &c.NATSCreds, "nats-creds", "KUMO_NATS_CREDS", "", "NATS credentials `file` for --nats-url")
	b.str(fs, &c.NATSTLSCA, "nats-tls-ca", "KUMO_NATS_TLS_CA", "", "CA certificate `file` (PEM) for TLS to --nats-url")
	b.str(fs, &c.NATSTLSCert, "nats-tls-cert", "KUMO_NATS_TLS_CERT", "", "client certificate `file` (PEM) for TLS to --nats-url")
	b.str(fs, &c.NATSTLSKey, "nats-tls-key", "KUMO_NATS_TLS_KEY", "", "client key `file` (PEM) for TLS to --nats-url")
	b.bind(fs, "replicas", "KUMO_REPLICAS", intValue(&c.Replicas, 0), "`replicas` of every bucket and stream created (0: min(3, cluster size))")
}

// validate checks the cluster settings.
func (c *Cluster) validate() error {
	bad := func(flag string, value any, format string, args ...any) error {
		return &Error{Flag: flag, Value: fmt.Sprint(value), Reason: fmt.Sprintf(format, args...)}
	}
	if c.NodeID != "" && !validToken(c.NodeID) {
		return bad("node-id", c.NodeID, "must be 1 to 64 letters, digits, '-' or '_'")
	}
	if c.Zone != "" && !validToken(c.Zone) {
		return bad("zone", c.Zone, "must be 1 to 64 letters, digits, '-' or '_'")
	}
	if c.Name != "" && c.NATSURL != "" {
		return bad("nats-url", c.NATSURL, "cannot be combined with --cluster-name: a node either runs an embedded server in a cluster or attaches to an external one")
	}
	if c.Name != "" {
		if !validToken(c.Name) {
			return bad("cluster-name", c.Name, "must be 1 to 64 letters, digits, '-' or '_'")
		}
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return bad("cluster-listen", c.Listen, "--cluster-name needs the address routes dial: %v", err)
		}
		for _, p := range c.Peers {
			if _, _, err := net.SplitHostPort(p); err != nil {
				return bad("peers", strings.Join(c.Peers, ","), "%q: %v", p, err)
			}
		}
	} else {
		if c.Listen != "" {
			return bad("cluster-listen", c.Listen, "needs --cluster-name")
		}
		if len(c.Peers) > 0 {
			return bad("peers", strings.Join(c.Peers, ","), "needs --cluster-name")
		}
	}
	if c.NATSURL != "" {
		for _, u := range strings.Split(c.NATSURL, ",") {
			p, err := url.Parse(strings.TrimSpace(u))
			if err != nil || p.Host == "" || (p.Scheme != "nats" && p.Scheme != "tls" && p.Scheme != "ws" && p.Scheme != "wss") {
				return bad("nats-url", c.NATSURL, "%q is not a URL like nats://host:4222", u)
			}
		}
	} else {
		for _, f := range []struct{ flag, v string }{{"nats-creds", c.NATSCreds}, {"nats-tls-ca", c.NATSTLSCA}, {"nats-tls-cert", c.NATSTLSCert}, {"nats-tls-key", c.NATSTLSKey}} {
			if f.v != "" {
				return bad(f.flag, f.v, "needs --nats-url")
			}
		}
	}
	if c.Secret != "" && !c.Clustered() {
		return &Error{Env: EnvClusterSecret, Reason: "needs --cluster-name or --nats-url"}
	}
	if (c.NATSTLSCert == "") != (c.NATSTLSKey == "") {
		return bad("nats-tls-cert", c.NATSTLSCert, "give both --nats-tls-cert and --nats-tls-key, or neither")
	}
	if c.Replicas < 0 || c.Replicas > MaxReplicas {
		return bad("replicas", c.Replicas, "must be 1 to %d, or 0 for min(3, cluster size)", MaxReplicas)
	}
	if !c.Clustered() && c.Replicas > 1 {
		return bad("replicas", c.Replicas, "a single node keeps one replica; more need --cluster-name or --nats-url")
	}
	return nil
}

// validToken matches [A-Za-z0-9_-]{1,64}: safe in a server name, a subject
// token and a metric label.
func validToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == ""
}

// listValue is a comma-separated list.
type listValue []string

func (l *listValue) Set(v string) error {
	*l = nil
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			*l = append(*l, f)
		}
	}
	return nil
}
func (l *listValue) String() string { return strings.Join(*l, ",") }
