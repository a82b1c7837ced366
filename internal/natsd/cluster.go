package natsd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ClusterConfig makes the embedded server a member of a NATS cluster: routes
// to its peers, JetStream clustered (a Raft meta-group over all members,
// one Raft group per replicated stream).
type ClusterConfig struct {
	// Name is the cluster's name; every member gives the same.
	Name string
	// Listen is the "host:port" the other members' routes dial.
	Listen string
	// Peers are the other members' Listen addresses; this server's own
	// address may be among them and is skipped.
	Peers []string
	// Zone, when set, tags the server "zone:<Zone>" and makes JetStream
	// place a stream's replicas on servers of distinct zones (nats-server's
	// unique_tag): give every member a zone, or none.
	Zone string
	// Secret, when set, is the password every member's routes present
	// and require; without it anyone reaching Listen can join.
	Secret string
}

// routeUser is the user name routes log in with when a Secret is set.
const routeUser = "kumo-route"

// ZoneTagPrefix prefixes the zone in a server's placement tag: "zone:a".
const ZoneTagPrefix = "zone:"

// Size is the number of members the configuration names: this server and
// its distinct peers.
func (c *ClusterConfig) Size() int {
	seen := map[string]bool{c.Listen: true}
	for _, p := range c.Peers {
		seen[p] = true
	}
	return len(seen)
}

func (c *ClusterConfig) apply(opts *server.Options) error {
	host, port, err := splitListen(c.Listen)
	if err != nil {
		return fmt.Errorf("natsd: cluster %w", err)
	}
	opts.Cluster = server.ClusterOpts{Name: c.Name, Host: host, Port: port}
	var user *url.Userinfo
	if c.Secret != "" {
		opts.Cluster.Username, opts.Cluster.Password = routeUser, c.Secret
		user = url.UserPassword(routeUser, c.Secret)
	}
	for _, p := range c.Peers {
		if p == c.Listen {
			continue
		}
		if _, _, err := net.SplitHostPort(p); err != nil {
			return fmt.Errorf("natsd: peer %q: %w", p, err)
		}
		opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats-route", Host: p, User: user})
	}
	if c.Zone != "" {
		opts.Tags = []string{ZoneTagPrefix + c.Zone}
		opts.JetStreamUniqueTag = ZoneTagPrefix
	}
	return nil
}

// Name is the server's name: the node id in a cluster.
func (s *Server) Name() string {
	if s.ns == nil {
		return ""
	}
	return s.ns.Name()
}

// ClusterSize is the number of servers the store's data can be replicated
// over: 1 for a single node, the configured members of an embedded
// cluster, and for an external cluster the servers the connection knows of.
func (s *Server) ClusterSize() int {
	switch {
	case s.cluster != nil:
		return s.cluster.Size()
	case s.ns == nil:
		return max(1, s.remote.size)
	}
	return 1
}

// Replicas is the replica count for buckets and streams on a store of
// clusterSize servers: min(3, clusterSize), at least 1.
func Replicas(clusterSize int) int { return max(1, min(3, clusterSize)) }

// WaitReady returns once JetStream answers through nc (the meta-group has
// a leader) and, for an embedded member, it is current with the
// meta-group and every configured member is online (a missing one would
// stall the first streams placed on it). A single node is ready at once; a cluster member waits for its
// peers, logging every ten seconds, until ctx ends.
func (s *Server) WaitReady(ctx context.Context, nc *nats.Conn, replicas int, log *slog.Logger) error {
	return waitReady(ctx, nc, replicas, log, s.membersCurrent)
}

// membersCurrent fails unless this member is current with the
// meta-group's leader and with every stream it holds a replica of, and
// every configured member is online.
func (s *Server) membersCurrent() error {
	if s.ns == nil || s.cluster == nil {
		return nil
	}
	jsi, err := s.ns.Jsz(&server.JSzOptions{})
	if err != nil {
		return err
	}
	if jsi.Meta == nil || jsi.Meta.Leader == "" {
		return errors.New("no meta leader yet")
	}
	if !s.ns.JetStreamIsCurrent() {
		return errors.New("this member is not current with the meta leader yet")
	}
	// Only the leader knows how current the others are; every member
	// knows which of them are online.
	online := 1 // the leader
	for _, p := range jsi.Meta.Replicas {
		if !p.Offline {
			online++
		}
	}
	if want := s.cluster.Size(); online < want {
		return fmt.Errorf("%d of %d members online", online, want)
	}
	// A member restarting on its data dir first catches up on the
	// streams it holds a replica of.
	if hs := s.ns.Healthz(&server.HealthzOptions{}); hs.Error != "" {
		return errors.New(hs.Error)
	}
	return nil
}

// WaitReady is Server.WaitReady without the members' check, for a store
// known only by a connection.
func WaitReady(ctx context.Context, nc *nats.Conn, replicas int, log *slog.Logger) error {
	return waitReady(ctx, nc, replicas, log, func() error { return nil })
}

func waitReady(ctx context.Context, nc *nats.Conn, replicas int, log *slog.Logger, members func() error) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	start := time.Now()
	lastLog := start
	o := OpeningFrom(ctx)
	prev := o.enter("the cluster's store: a meta leader, every member online, this member caught up")
	for {
		err := probe(ctx, js)
		if err == nil {
			err = members()
		}
		if err == nil {
			o.leave(prev)
			if replicas > 1 {
				log.Info("cluster store ready", "replicas", replicas, "waited", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		o.note(err)
		if time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			log.Info("waiting for the cluster's store", "replicas", replicas, "err", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("natsd: waiting for the cluster's store (%d replicas): %w (last: %v)", replicas, ctx.Err(), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// probe checks that JetStream answers an account request through js.
func probe(ctx context.Context, js jetstream.JetStream) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := js.AccountInfo(pctx)
	return err
}

// modeFile marks in the data dir a store that belongs to a cluster member.
const modeFile = "store-mode"

const modeCluster = "cluster"

// checkMode refuses to start a cluster member on a single node's store:
// nats-server would take the streams it finds on disk but not in the
// cluster's meta-group for strays and delete them. A store is a cluster
// member's when modeFile says so (written at its first start as one),
// else a single node's once it holds streams. A single node writes
// nothing (it starts on a full disk too). The upgrade path is documented
// in doc.go.
func checkMode(dir string, clustered bool) error {
	if !clustered {
		return nil
	}
	path := filepath.Join(dir, modeFile)
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("natsd: %w", err)
	}
	if strings.TrimSpace(string(b)) == modeCluster {
		return nil
	}
	if hasStreams(dir) {
		return fmt.Errorf("natsd: %s holds a single node's store; joining a cluster would delete it. "+
			"Move its data into the cluster as the upgrade procedure describes (kumo's README, \"Cluster mode\"), "+
			"or start this node with a new --data-dir", dir)
	}
	if err := os.WriteFile(path, []byte(modeCluster+"\n"), 0o600); err != nil {
		return fmt.Errorf("natsd: %w", err)
	}
	return nil
}

// hasStreams reports whether dir holds JetStream streams.
func hasStreams(dir string) bool {
	ents, err := os.ReadDir(filepath.Join(dir, "jetstream", "$G", "streams"))
	return err == nil && len(ents) > 0
}

// AttachConfig attaches Kumo to an external NATS cluster instead of an
// embedded server.
type AttachConfig struct {
	// DataDir holds the LOCK file (and the node's other local files).
	DataDir string
	// URL lists the cluster's servers, comma-separated.
	URL string
	// Creds is a credentials file; CA, Cert and Key are PEM files for TLS.
	Creds, CA, Cert, Key string
	Logger               *slog.Logger
}

// remote is how Connect reaches an external cluster.
type remote struct {
	url  string
	opts []nats.Option
	size int // servers known at attach time
}

func (r remote) connect(name string) (*nats.Conn, error) {
	return nats.Connect(r.url, append([]nats.Option{nats.Name(name)}, r.opts...)...)
}

// Attach locks cfg.DataDir and checks that the external cluster at cfg.URL
// answers JetStream requests. The Server it returns runs nothing: Connect
// dials the cluster (reconnecting forever), Space measures only the data
// dir, Writable leaves refusing writes to the cluster.
func Attach(cfg AttachConfig) (*Server, error) {
	if cfg.DataDir == "" || cfg.URL == "" {
		return nil, errors.New("natsd: DataDir and URL are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("natsd: data dir %q: %w", cfg.DataDir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("natsd: create data dir: %w", err)
	}
	opts := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond), nats.RetryOnFailedConnect(false)}
	if cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	if cfg.CA != "" {
		opts = append(opts, nats.RootCAs(cfg.CA))
	}
	if cfg.Cert != "" {
		opts = append(opts, nats.ClientCert(cfg.Cert, cfg.Key))
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	r := remote{url: cfg.URL, opts: opts}
	nc, err := r.connect("kumo-attach")
	if err != nil {
		lock.release()
		return nil, fmt.Errorf("natsd: attach to %s: %w", cfg.URL, err)
	}
	r.size = len(nc.Servers())
	nc.Close()
	srv := &Server{lock: lock, dataDir: dir, log: log.With("component", "nats"), remote: r,
		kick: make(chan struct{}, 1), quit: make(chan struct{}), watched: make(chan struct{})}
	go srv.watch()
	return srv, nil
}

// randomSecret is 32 random hex digits.
func randomSecret() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// openLockKey is the key of the open lock in ClusterBucket.
const openLockKey = "open"

// openLockTTL is how long a lock left by a member that died while opening
// holds (the bucket's MaxAge).
const openLockTTL = time.Minute

// OpenLock makes the members of a cluster open (create) the store's buckets
// and streams one at a time: nats-server can leave a request to create a
// stream unanswered while another member's identical request is being
// applied, so concurrent first starts would stall. It returns once this
// member, named node, holds the lock; unlock releases it (a member that
// dies holding it loses it after openLockTTL). A single node (replicas 1)
// takes no lock.
func OpenLock(ctx context.Context, nc *nats.Conn, node string, replicas int, log *slog.Logger) (unlock func(), err error) {
	if replicas <= 1 {
		return func() {}, nil
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	kv, err := EnsureKeyValue(ctx, js, jetstream.KeyValueConfig{Bucket: ClusterBucket, TTL: openLockTTL,
		Replicas: replicas, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("natsd: the cluster's open lock: %w", err)
	}
	o := OpeningFrom(ctx)
	prev := o.enter("the cluster's open lock")
	var last error
	lastLog := time.Now()
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, last = kv.Create(actx, openLockKey, []byte(node))
		if errors.Is(last, jetstream.ErrKeyExists) {
			// Say who holds it.
			if e, err := kv.Get(actx, openLockKey); err == nil {
				last = fmt.Errorf("held by %s", e.Value())
			}
		}
		cancel()
		if last == nil {
			o.leave(prev)
			return func() {
				dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := kv.Delete(dctx, openLockKey); err != nil {
					log.Warn("releasing the cluster's open lock; it expires by itself", "err", err, "ttl", openLockTTL)
				}
			}, nil
		}
		o.note(last)
		if time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			log.Info("waiting for another member to open the store", "err", last)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("natsd: waiting for the cluster's open lock: %w (last: %v)", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
