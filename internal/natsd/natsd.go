package natsd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// SyncPolicy says when JetStream fsyncs its files. See the package
// documentation for what each policy survives.
type SyncPolicy int

const (
	// SyncAlways fsyncs every write before it is acknowledged.
	SyncAlways SyncPolicy = iota
	// SyncInterval writes to the OS before acknowledging but fsyncs only
	// periodically in the background.
	SyncInterval
)

func (p SyncPolicy) String() string {
	switch p {
	case SyncAlways:
		return "always"
	case SyncInterval:
		return "interval"
	}
	return "SyncPolicy(" + strconv.Itoa(int(p)) + ")"
}

// Config configures the embedded server. Only DataDir is required.
type Config struct {
	// DataDir holds the LOCK file and the JetStream store (DataDir/jetstream).
	// It is created if missing.
	DataDir string
	// ServerName names the server in its cluster; default "kumo".
	ServerName string
	// Listen is "" (the default) for no listening port at all, so that only
	// in-process connections reach the server, or "host:port" to open a
	// client port (port 0 picks a free one).
	Listen string
	// Sync is the fsync policy; default SyncAlways.
	Sync SyncPolicy
	// Logger receives nats-server's log; default slog.Default().
	Logger *slog.Logger
	// MaxStore caps the bytes JetStream keeps on disk; past it a write is
	// refused (JetStream's "insufficient resources") instead of reaching
	// a full disk. Zero takes DefaultMaxStore of the data dir's file
	// system size (never nats-server's own default, 75% of the space free
	// at start, which shrinks each time the server starts on a fuller disk).
	MaxStore int64
	// Reserve is the free space below which Writable refuses writes; zero
	// takes DefaultReserve of the file system's size.
	Reserve uint64
	// Cluster, when not nil, makes the server a member of a NATS cluster
	// with JetStream clustered (cluster.go); ServerName must then be
	// unique in the cluster.
	Cluster *ClusterConfig
}

// ErrLocked is returned by Start when another server holds the data dir.
var ErrLocked = errors.New("natsd: data dir is locked by another server")

const (
	lockFile     = "LOCK"
	readyTimeout = 10 * time.Second
)

// Server is a running embedded nats-server. Its methods are safe for
// concurrent use.
type Server struct {
	ns      *server.Server
	lock    *dirLock
	dataDir string
	log     *slog.Logger

	maxStore int64
	reserve  uint64
	kick     chan struct{} // a critical write error was seen
	quit     chan struct{} // closed by Shutdown
	watched  chan struct{} // closed when watch returns

	cluster    *ClusterConfig // nil for a single node
	clientUser nats.Option    // what in-process connections log in with, if anything
	remote     remote         // the external NATS cluster, when ns is nil

	mu      sync.Mutex
	conns   []*nats.Conn
	down    bool
	broken  string    // the critical write error awaiting repair, if any
	space   Space     // Writable's last measurement
	spaceAt time.Time // when it was taken
	once    sync.Once
}

// Start locks cfg.DataDir, starts the server and returns once it accepts
// connections and JetStream is enabled (after JetStream has recovered what
// is on disk). It fails with ErrLocked if another server, in this process
// or another, uses the same data dir.
func Start(cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("natsd: DataDir is required")
	}
	if cfg.Sync != SyncAlways && cfg.Sync != SyncInterval {
		return nil, fmt.Errorf("natsd: unknown sync policy %v", cfg.Sync)
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "kumo"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "nats-server")

	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("natsd: data dir %q: %w", cfg.DataDir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("natsd: create data dir: %w", err)
	}
	total, _, err := statfs(dir)
	if err != nil && (cfg.MaxStore == 0 || cfg.Reserve == 0) {
		return nil, fmt.Errorf("natsd: size of the file system of %s: %w", dir, err)
	}
	if cfg.Reserve == 0 {
		cfg.Reserve = DefaultReserve(total)
	}
	if cfg.MaxStore == 0 {
		cfg.MaxStore = DefaultMaxStore(total)
	}
	if cfg.MaxStore < 0 {
		return nil, fmt.Errorf("natsd: MaxStore %d < 0", cfg.MaxStore)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	if err := checkMode(dir, cfg.Cluster != nil); err != nil {
		lock.release()
		return nil, err
	}

	opts := &server.Options{
		ServerName: cfg.ServerName,
		DontListen: cfg.Listen == "",
		NoSigs:     true,
		JetStream:  true,
		// nats-server stores JetStream under StoreDir/jetstream.
		StoreDir: dir,
		// A 1 MB Event payload plus its envelope, and destination records
		// carrying a response, exceed nats-server's 1 MB default.
		MaxPayload: 8 << 20,
		// No HTTP monitoring port: HTTPPort stays 0.
		JetStreamMaxStore: cfg.MaxStore,
	}
	switch cfg.Sync {
	case SyncAlways:
		opts.SyncAlways = true
	case SyncInterval:
		// nats-server's default background fsync interval applies.
	}
	var clientUser nats.Option
	if cfg.Cluster != nil {
		if err := cfg.Cluster.apply(opts); err != nil {
			lock.release()
			return nil, err
		}
		if cfg.Listen == "" {
			// nats-server opens its routes only once a client port is
			// open: a loopback one, on a free port, that takes only a
			// password made here and handed to in-process connections.
			opts.DontListen, opts.Host, opts.Port = false, "127.0.0.1", server.RANDOM_PORT
			opts.Username, opts.Password = "kumo", randomSecret()
			clientUser = nats.UserInfo(opts.Username, opts.Password)
		}
	}
	if cfg.Listen != "" {
		host, port, err := splitListen(cfg.Listen)
		if err != nil {
			lock.release()
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}

	ns, err := server.NewServer(opts)
	if err != nil {
		lock.release()
		return nil, fmt.Errorf("natsd: %w", err)
	}
	srv := &Server{ns: ns, clientUser: clientUser, lock: lock, dataDir: dir, log: log, maxStore: cfg.MaxStore, reserve: cfg.Reserve, cluster: cfg.Cluster,
		kick: make(chan struct{}, 1), quit: make(chan struct{}), watched: make(chan struct{})}
	logger := &logAdapter{log: log, onError: srv.critical}
	ns.SetLoggerV2(logger, log.Enabled(context.Background(), levelServerDebug), false, false)

	// Start returns once JetStream is enabled, or early after a fatal error.
	ns.Start()
	fail := func(err error) (*Server, error) {
		ns.Shutdown()
		ns.WaitForShutdown()
		lock.release()
		return nil, err
	}
	if msg := logger.fatal(); msg != "" {
		return fail(fmt.Errorf("natsd: start: %s", msg))
	}
	if !ns.ReadyForConnections(readyTimeout) {
		return fail(fmt.Errorf("natsd: not ready for connections after %s", readyTimeout))
	}
	if !ns.JetStreamEnabled() {
		return fail(errors.New("natsd: JetStream did not start"))
	}
	log.Debug("nats-server started", "data_dir", dir, "sync", cfg.Sync.String(), "listen", cfg.Listen,
		"max_store", cfg.MaxStore, "reserve", cfg.Reserve)
	go srv.watch()
	return srv, nil
}

func splitListen(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("natsd: listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("natsd: listen address %q: bad port", addr)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// Connect returns a new in-process connection named name. Shutdown closes
// it if the caller has not.
func (s *Server) Connect(name string) (*nats.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, errors.New("natsd: server is shut down")
	}
	var nc *nats.Conn
	var err error
	if s.ns == nil {
		nc, err = s.remote.connect(name)
	} else {
		opts := []nats.Option{nats.InProcessServer(s.ns), nats.Name(name)}
		if s.clientUser != nil {
			opts = append(opts, s.clientUser)
		}
		nc, err = nats.Connect("", opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("natsd: connect %q: %w", name, err)
	}
	// Forget connections closed by their owners.
	live := s.conns[:0]
	for _, c := range s.conns {
		if !c.IsClosed() {
			live = append(live, c)
		}
	}
	s.conns = append(live, nc)
	return nc, nil
}

// ClientURL is the address clients outside the process dial, or "" when
// the server does not listen.
func (s *Server) ClientURL() string {
	if s.ns == nil {
		return s.remote.url
	}
	if s.ns.Addr() == nil {
		return ""
	}
	return s.ns.ClientURL()
}

// ResetJetStream stops every stream and consumer and opens them again from
// their files. nats-server keeps a stream that met a write error (a full
// disk, a descriptor limit) refusing every later write until its store is
// opened again; this does that without restarting the process. Data
// already stored is kept and durable consumers come back; connections
// stay open, requests under way may fail, and ordered consumers (KV
// watchers) resume once they notice their missed heartbeats (about 20 s).
func (s *Server) ResetJetStream() error {
	if s.ns == nil {
		return errors.New("natsd: reset JetStream: the store is an external NATS cluster")
	}
	acc := s.ns.GlobalAccount()
	if err := acc.DisableJetStream(); err != nil {
		return fmt.Errorf("natsd: reset JetStream: %w", err)
	}
	if err := acc.EnableJetStream(nil, nil); err != nil {
		return fmt.Errorf("natsd: reset JetStream: %w", err)
	}
	return nil
}

// DataDir is the absolute data directory.
func (s *Server) DataDir() string { return s.dataDir }

// Shutdown closes the connections made by Connect, stops the server, waits
// until it has stopped and releases the data dir lock. Calling it again does
// nothing.
func (s *Server) Shutdown() {
	s.once.Do(func() {
		s.mu.Lock()
		s.down = true
		conns := s.conns
		s.conns = nil
		s.mu.Unlock()
		close(s.quit)
		<-s.watched
		for _, nc := range conns {
			nc.Close()
		}
		if s.ns != nil {
			s.ns.Shutdown()
			s.ns.WaitForShutdown()
		}
		if err := s.lock.release(); err != nil {
			s.log.Warn("release data dir lock", "err", err)
		}
		s.log.Debug("nats-server stopped")
	})
}

// levelServerDebug is the slog level of nats-server's debug log; the server
// produces it only when the logger is enabled at this level.
const levelServerDebug = slog.LevelDebug - 4

// logAdapter sends nats-server's log to slog: errors and warnings at their
// levels, notices (startup banner, lifecycle) at Debug, its debug log
// below that, and never its protocol trace.
type logAdapter struct {
	log     *slog.Logger
	onError func(msg string) // sees every error line

	mu       sync.Mutex
	fatalMsg string
}

func (a *logAdapter) logf(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if a.log.Enabled(ctx, level) {
		a.log.Log(ctx, level, fmt.Sprintf(format, v...))
	}
}

func (a *logAdapter) Noticef(format string, v ...any) { a.logf(slog.LevelDebug, format, v) }
func (a *logAdapter) Warnf(format string, v ...any) {
	if strings.HasPrefix(format, "Plaintext passwords detected") {
		// A cluster member's loopback client port takes a password made
		// at start for in-process connections only (cluster.go).
		a.logf(slog.LevelDebug, format, v)
		return
	}
	a.logf(slog.LevelWarn, format, v)
}
func (a *logAdapter) Errorf(format string, v ...any) {
	if strings.HasPrefix(format, "Error trying to connect to route") {
		// A peer not up yet, or down: the cluster's routine, retried
		// forever; what it costs shows in WaitReady and in replicas.
		a.logf(slog.LevelWarn, format, v)
		return
	}
	a.logf(slog.LevelError, format, v)
	if a.onError != nil {
		a.onError(fmt.Sprintf(format, v...))
	}
}
func (a *logAdapter) Debugf(format string, v ...any) { a.logf(levelServerDebug, format, v) }
func (a *logAdapter) Tracef(string, ...any)          {}

// Fatalf records the first fatal message so that Start can return it; the
// server stops what it was doing after calling it.
func (a *logAdapter) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	a.mu.Lock()
	if a.fatalMsg == "" {
		a.fatalMsg = msg
	}
	a.mu.Unlock()
	a.log.Error(msg, "fatal", true)
}

func (a *logAdapter) fatal() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fatalMsg
}
