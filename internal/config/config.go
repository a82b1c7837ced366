package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/keepalive"
	"github.com/kumo-run/kumo/internal/runtimes"
)

// Config is the server's configuration.
type Config struct {
	Listen    string
	DataDir   string
	Region    string
	AccountID string
	// AuthDisabled turns SigV4 verification off: any request is accepted
	// as the account's root. For throwaway local use only.
	AuthDisabled bool
	// Fsync is the store's sync policy.
	Fsync Fsync
	// AccountConcurrency is the account's concurrent executions limit.
	AccountConcurrency int
	LogLevel           LogLevel
	// Sandbox is the sandbox driver.
	Sandbox SandboxDriver
	// KeepAlive is how long an idle sandbox is kept warm: always under
	// the fixed policy, and under the hybrid one for functions whose
	// invocation pattern it has not learned.
	KeepAlive       time.Duration
	KeepAlivePolicy KeepAlivePolicy
	// MemoryBudgetMB bounds the sum of MemorySize of this node's
	// sandboxes; 0 means three quarters of the machine's memory.
	MemoryBudgetMB int

	// Root holds the root credentials chosen with KUMO_ROOT_ACCESS_KEY_ID
	// and KUMO_ROOT_SECRET_ACCESS_KEY; zero when they are not set, and the
	// server then generates its own into the data dir.
	Root RootCredentials
	// RuntimeInterpreters maps a runtime id to the interpreter that runs
	// it (KUMO_RUNTIME_INTERPRETERS="python3.12=/opt/py/bin/python3.12,…"),
	// overriding the ones found on the host.
	RuntimeInterpreters map[string]string
	// RuntimeSDKDir holds the AWS SDKs given to managed runtimes besides
	// the host's boto3 (kumo runtimes install-sdk fills it); "" for
	// <data-dir>/runtimes/sdk (see SDKDir).
	RuntimeSDKDir string
	// ImageLayoutDir is the directory under which container-image
	// functions may name OCI image layouts (ImageUri oci:<dir>…); ""
	// refuses oci: URIs.
	ImageLayoutDir string
	// ImageRegistries are the registry hosts (host or host:port) an
	// ImageUri may name; empty allows any.
	ImageRegistries []string
	// AsyncRetryDelays are the waits before the retries of an
	// asynchronous invocation's function error (KUMO_ASYNC_RETRY_DELAYS,
	// "200ms,400ms"); nil for Lambda's.
	AsyncRetryDelays []time.Duration
	// AsyncAckWait is how long a delivered asynchronous event may go
	// without a heartbeat before it is handed out again
	// (KUMO_ASYNC_ACK_WAIT); 0 for the queue's default.
	AsyncAckWait time.Duration
	// ScheduleMinute is how long a minute of an EventBridge rate()
	// schedule lasts (KUMO_SCHEDULE_MINUTE, "1s"); 0 for a minute. For
	// tests only: it makes rate(1 minute) rules fire every second.
	ScheduleMinute time.Duration

	// The edge's listeners.
	// MetricsListen is a second address serving GET /metrics without
	// authentication (for a Prometheus on a private network); "" serves
	// /metrics only on the edge port, behind SigV4 like every API call.
	MetricsListen string
	// MaxConnections caps the edge port's open connections; a client
	// over it is answered 503 ServiceUnavailableException.
	MaxConnections int

	// StoreMaxBytes caps the bytes the store keeps on disk; 0 derives it
	// from the size of the data dir's file system (natsd.DefaultMaxStore).
	StoreMaxBytes int64
	// DynamoDBMaxItemBytes bounds the table items each node holds in
	// memory (dynamodb.Config.MaxItemBytes); 0: no bound.
	DynamoDBMaxItemBytes int64
	// Network is how the linux driver's sandboxes reach the network:
	// NetworkBridge (a veth into Kumo's bridge, NAT out; package netns)
	// or NetworkNone (lo only). NetworkRange is the sandboxes' IPv4
	// range; "" picks a free /16.
	Network      string
	NetworkRange string

	// KMSMasterKeyFile is the file holding the node master key that
	// wraps KMS key material at rest (32 bytes, raw, base64 or hex); ""
	// takes KMSMasterKey, else <data-dir>/kms-master.key (generated).
	KMSMasterKeyFile string
	// KMSPreviousMasterKeyFile is the master key used before
	// KMSMasterKeyFile: material it wrapped is wrapped again with the
	// current one at start (master key rotation).
	KMSPreviousMasterKeyFile string
	// KMSMasterKey is the master key itself (KUMO_KMS_MASTER_KEY, base64
	// or hex; environment only, never a flag), when no file is named.
	KMSMasterKey string

	// Cluster is how this node shares its state with other nodes.
	Cluster Cluster
}

// Values of --network.
const (
	NetworkBridge = "bridge"
	NetworkNone   = "none"
)

// RootCredentials is an access key pair given in the environment.
type RootCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
}

// Defaults.
const (
	DefaultListen             = "127.0.0.1:9070"
	DefaultDataDir            = "kumo-data"
	DefaultRegion             = "us-east-1"
	DefaultAccountID          = "000000000000"
	DefaultFsync              = FsyncAlways
	DefaultAccountConcurrency = 1000
	DefaultLogLevel           = LogInfo
	DefaultSandbox            = SandboxAuto
	DefaultKeepAlive          = 10 * time.Minute
	DefaultKeepAlivePolicy    = KeepAliveHybrid
	DefaultMaxConnections     = 2048
)

// Limits Validate enforces.
const (
	MinAccountConcurrency = 100
	MinMemoryBudgetMB     = 128
	MinKeepAlive          = time.Second
	MinAsyncAckWait       = time.Second
	MinMaxConnections     = 16
	MinStoreMaxBytes      = 16 << 20
)

// Environment variables that have no flag.
const (
	EnvRootAccessKeyID     = "KUMO_ROOT_ACCESS_KEY_ID"
	EnvRootSecretAccessKey = "KUMO_ROOT_SECRET_ACCESS_KEY"
	EnvRuntimeInterpreters = "KUMO_RUNTIME_INTERPRETERS"
	EnvAsyncRetryDelays    = "KUMO_ASYNC_RETRY_DELAYS"
	EnvAsyncAckWait        = "KUMO_ASYNC_ACK_WAIT"
	EnvScheduleMinute      = "KUMO_SCHEDULE_MINUTE" // test-only
	// EnvRuntimeSDKDir is --runtime-sdk-dir's variable, which kumo
	// runtimes install-sdk reads too.
	EnvRuntimeSDKDir = "KUMO_RUNTIME_SDK_DIR"
	// EnvKMSMasterKey holds the KMS node master key (base64 or hex).
	EnvKMSMasterKey = "KUMO_KMS_MASTER_KEY"
	// EnvClusterSecret is the password a cluster's routes present and
	// require, and the key the cluster's shared secrets are sealed with in
	// the store (environment only, never a flag).
	EnvClusterSecret = "KUMO_CLUSTER_SECRET"
)

// Error is a setting Parse refused. It names the flag, the environment
// variable when the value came from there, and why.
type Error struct {
	Flag   string // without dashes, "memory-budget"; empty for a variable without a flag
	Env    string // "KUMO_MEMORY_BUDGET" when the value came from the environment
	Value  string // as given; empty for secrets
	Reason string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Env != "" {
		b.WriteString(e.Env)
		if e.Value != "" {
			fmt.Fprintf(&b, "=%q", e.Value)
		}
		if e.Flag != "" {
			fmt.Fprintf(&b, " (--%s)", e.Flag)
		}
	} else {
		fmt.Fprintf(&b, "--%s %q", e.Flag, e.Value)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Parse reads the server subcommand's flags from args, with defaults taken
// from the KUMO_* environment variables getenv returns.
func Parse(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	c := Config{
		Fsync: DefaultFsync, LogLevel: DefaultLogLevel, Sandbox: DefaultSandbox, KeepAlivePolicy: DefaultKeepAlivePolicy,
	}
	fs := flag.NewFlagSet("kumo server", flag.ContinueOnError)
	fs.SetOutput(usage)
	var b binder
	b.str(fs, &c.Listen, "listen", "KUMO_LISTEN", DefaultListen, "`address` of the API and HTTP edge")
	b.str(fs, &c.DataDir, "data-dir", "KUMO_DATA_DIR", DefaultDataDir, "`directory` holding all state; it survives restarts")
	b.str(fs, &c.Region, "region", "KUMO_REGION", DefaultRegion, "AWS `region` this server presents")
	b.str(fs, &c.AccountID, "account-id", "KUMO_ACCOUNT_ID", DefaultAccountID, "12-digit AWS account `id` used in ARNs")
	b.bind(fs, "insecure-no-auth", "KUMO_INSECURE_NO_AUTH", (*boolValue)(&c.AuthDisabled), "accept unsigned requests as the account root: throwaway local use only")
	b.bind(fs, "fsync", "KUMO_FSYNC", &c.Fsync, "store sync `policy`: \"always\" (fsync before acknowledging a write) or \"interval\"")
	b.bind(fs, "account-concurrency", "KUMO_ACCOUNT_CONCURRENCY", intValue(&c.AccountConcurrency, DefaultAccountConcurrency), "account concurrent executions `limit`")
	b.bind(fs, "log-level", "KUMO_LOG_LEVEL", &c.LogLevel, "`level`: debug, info, warn or error")
	b.bind(fs, "sandbox", "KUMO_SANDBOX", &c.Sandbox, "sandbox `driver`: \"auto\" (linux when possible), \"linux\" (isolated; needs root) or \"process\" (NOT isolated)")
	b.bind(fs, "keep-alive", "KUMO_KEEP_ALIVE", durationValue(&c.KeepAlive, DefaultKeepAlive), "how long (a `duration`) an idle sandbox is kept warm; under the hybrid policy, for functions whose pattern is not learned yet")
	b.bind(fs, "keep-alive-policy", "KUMO_KEEP_ALIVE_POLICY", &c.KeepAlivePolicy, "`policy`: \"hybrid\" (learn each function version's idle times: unload sooner, keep longer or pre-warm as they suggest) or \"fixed\" (--keep-alive for every sandbox)")
	b.bind(fs, "memory-budget", "KUMO_MEMORY_BUDGET", intValue(&c.MemoryBudgetMB, 0), "`MB` of function memory this node's sandboxes may hold in all; idle sandboxes are evicted to make room, then invocations are throttled (0: 3/4 of the machine)")
	b.str(fs, &c.MetricsListen, "metrics-listen", "KUMO_METRICS_LISTEN", "", "also serve GET /metrics, unauthenticated, on this `address`, e.g. 127.0.0.1:9071 (default: none; /metrics on the edge port needs SigV4)")
	b.bind(fs, "max-connections", "KUMO_MAX_CONNECTIONS", intValue(&c.MaxConnections, DefaultMaxConnections), "`connections` the edge port serves at once; more are answered 503")
	b.bind(fs, "dynamodb-max-item-bytes", "KUMO_DYNAMODB_MAX_ITEM_BYTES", int64Value(&c.DynamoDBMaxItemBytes, 0), "`bytes` of DynamoDB items (as DynamoDB counts item sizes) each node may hold in memory, all tables together; writes that would grow past it are refused (0: no bound)")
	b.bind(fs, "store-max-bytes", "KUMO_STORE_MAX_BYTES", int64Value(&c.StoreMaxBytes, 0), "`bytes` the store may keep on disk (0: the data dir's file system size less half of a 5% reserve; writes are refused when the disk's free space falls below that reserve)")
	b.str(fs, &c.Network, "network", "KUMO_NETWORK", NetworkBridge, "sandbox `network` (linux driver): \"bridge\" (outbound TCP/UDP through NAT, the edge and DNS reachable, nothing else on the host) or \"none\" (loopback only)")
	b.str(fs, &c.NetworkRange, "network-range", "KUMO_NETWORK_RANGE", "", "IPv4 `prefix` of the sandboxes' addresses with --network bridge, e.g. 10.200.0.0/16 (default: a free /16 from 10.200-254.0.0)")
	b.str(fs, &c.RuntimeSDKDir, "runtime-sdk-dir", EnvRuntimeSDKDir, "", "`directory` of the AWS SDKs for managed runtimes, filled by kumo runtimes install-sdk (default <data-dir>/runtimes/sdk)")
	b.bind(fs, "image-registries", "KUMO_IMAGE_REGISTRIES", (*listValue)(&c.ImageRegistries), "registry `hosts` (host or host:port, comma-separated) container-image functions may be pulled from (default: any)")
	b.str(fs, &c.ImageLayoutDir, "image-layout-dir", "KUMO_IMAGE_LAYOUT_DIR", "", "`directory` under which container-image functions may name OCI image layouts as ImageUri oci:<path>[:tag|@digest] (default: none; registries only)")
	b.str(fs, &c.KMSMasterKeyFile, "kms-master-key-file", "KUMO_KMS_MASTER_KEY_FILE", "", "`file` holding the master key (32 bytes, raw, base64 or hex) that wraps KMS key material at rest; every node of a cluster needs the same one (default: "+EnvKMSMasterKey+", else <data-dir>/kms-master.key, generated)")
	b.str(fs, &c.KMSPreviousMasterKeyFile, "kms-previous-master-key-file", "KUMO_KMS_PREVIOUS_MASTER_KEY_FILE", "", "`file` holding the master key used before: key material it wrapped is wrapped again with the current one at start")
	bindCluster(fs, &b, &c.Cluster)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: kumo server [flags]\n\nFlags (each also read from the environment variable named after it):\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nEnvironment only:\n"+
			"  %s, %s\n\troot credentials (default: generated into the data dir)\n"+
			"  %s\n\tinterpreters for runtimes, \"python3.12=/opt/py/bin/python3.12,nodejs22.x=/usr/bin/node\"\n"+
			"  %s\n\twaits before retrying a failed asynchronous invocation, \"1m,2m\"\n"+
			"  %s\n\tredelivery wait of an asynchronous event without a heartbeat, \"30s\"\n"+
			"  %s\n\tthe KMS master key, base64 or hex, when --kms-master-key-file is not set\n"+
			"  %s\n\tthe password the cluster's routes present and require (the same on every node)\n",
			EnvRootAccessKeyID, EnvRootSecretAccessKey, EnvRuntimeInterpreters, EnvAsyncRetryDelays, EnvAsyncAckWait, EnvKMSMasterKey, EnvClusterSecret)
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	fromEnv, err := b.applyEnv(fs, getenv)
	if err != nil {
		return Config{}, err
	}
	if err := c.parseEnvOnly(getenv); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		var e *Error
		if errors.As(err, &e) && e.Flag != "" && e.Env == "" {
			e.Env = fromEnv[e.Flag]
		}
		return Config{}, err
	}
	return c, nil
}

// parseEnvOnly reads the settings that have no flag.
func (c *Config) parseEnvOnly(getenv func(string) string) error {
	c.Root = RootCredentials{AccessKeyID: getenv(EnvRootAccessKeyID), SecretAccessKey: getenv(EnvRootSecretAccessKey)}
	c.KMSMasterKey = getenv(EnvKMSMasterKey)
	c.Cluster.Secret = getenv(EnvClusterSecret)
	if (c.Root.AccessKeyID == "") != (c.Root.SecretAccessKey == "") {
		return &Error{Env: EnvRootAccessKeyID, Reason: "set both " + EnvRootAccessKeyID + " and " + EnvRootSecretAccessKey + ", or neither"}
	}
	if s := getenv(EnvRuntimeInterpreters); s != "" {
		m, err := runtimes.ParseInterpreters(s)
		if err != nil {
			return &Error{Env: EnvRuntimeInterpreters, Value: s, Reason: err.Error()}
		}
		c.RuntimeInterpreters = m
	}
	if s := getenv(EnvAsyncRetryDelays); s != "" {
		ds, err := parseDurations(s)
		if err != nil {
			return &Error{Env: EnvAsyncRetryDelays, Value: s, Reason: err.Error()}
		}
		c.AsyncRetryDelays = ds
	}
	if s := getenv(EnvAsyncAckWait); s != "" {
		d, err := parseDuration(s)
		if err != nil {
			return &Error{Env: EnvAsyncAckWait, Value: s, Reason: err.Error()}
		}
		c.AsyncAckWait = d
	}
	if s := getenv(EnvScheduleMinute); s != "" {
		d, err := parseDuration(s)
		if err != nil || d <= 0 {
			return &Error{Env: EnvScheduleMinute, Value: s, Reason: "must be a positive duration (test-only setting)"}
		}
		c.ScheduleMinute = d
	}
	return nil
}

// parseDurations parses comma-separated durations, none negative.
func parseDurations(s string) ([]time.Duration, error) {
	var ds []time.Duration
	for _, f := range strings.Split(s, ",") {
		d, err := parseDuration(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q: %v", f, err)
		}
		if d < 0 {
			return nil, fmt.Errorf("%q: must not be negative", f)
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// Validate checks every field; it makes DataDir absolute. Its errors are
// *Error.
func (c *Config) Validate() error {
	bad := func(flag string, value any, format string, args ...any) error {
		return &Error{Flag: flag, Value: fmt.Sprint(value), Reason: fmt.Sprintf(format, args...)}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return bad("listen", c.Listen, "%v", err)
	}
	if c.DataDir == "" {
		return bad("data-dir", c.DataDir, "must not be empty")
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return bad("data-dir", c.DataDir, "%v", err)
	}
	c.DataDir = abs
	if c.RuntimeSDKDir != "" {
		if c.RuntimeSDKDir, err = filepath.Abs(c.RuntimeSDKDir); err != nil {
			return bad("runtime-sdk-dir", c.RuntimeSDKDir, "%v", err)
		}
	}
	if !validRegion(c.Region) {
		return bad("region", c.Region, "is not a region name like us-east-1")
	}
	if len(c.AccountID) != 12 || strings.Trim(c.AccountID, "0123456789") != "" {
		return bad("account-id", c.AccountID, "must be 12 digits")
	}
	if _, err := ParseFsync(string(c.Fsync)); err != nil {
		return bad("fsync", c.Fsync, "%v", err)
	}
	if c.AccountConcurrency < MinAccountConcurrency {
		return bad("account-concurrency", c.AccountConcurrency, "must be at least %d", MinAccountConcurrency)
	}
	if _, err := ParseSandboxDriver(string(c.Sandbox)); err != nil {
		return bad("sandbox", c.Sandbox, "%v", err)
	}
	if c.MemoryBudgetMB != 0 && c.MemoryBudgetMB < MinMemoryBudgetMB {
		return bad("memory-budget", c.MemoryBudgetMB, "must be at least %d (MB), or 0 for the default", MinMemoryBudgetMB)
	}
	if c.KeepAlive < MinKeepAlive {
		return bad("keep-alive", c.KeepAlive, "must be at least %s", MinKeepAlive)
	}
	if _, err := ParseKeepAlivePolicy(string(c.KeepAlivePolicy)); err != nil {
		return bad("keep-alive-policy", c.KeepAlivePolicy, "%v", err)
	}
	if _, err := ParseLogLevel(string(c.LogLevel)); err != nil {
		return bad("log-level", c.LogLevel, "%v", err)
	}
	if c.StoreMaxBytes != 0 && c.StoreMaxBytes < MinStoreMaxBytes {
		return bad("store-max-bytes", c.StoreMaxBytes, "must be at least 16 MiB (%d), or 0 for the default", MinStoreMaxBytes)
	}
	if c.DynamoDBMaxItemBytes < 0 {
		return bad("dynamodb-max-item-bytes", c.DynamoDBMaxItemBytes, "must not be negative (0: no bound)")
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			return bad("metrics-listen", c.MetricsListen, "%v", err)
		}
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.MaxConnections < MinMaxConnections {
		return bad("max-connections", c.MaxConnections, "must be at least %d", MinMaxConnections)
	}
	if c.Network == "" {
		c.Network = NetworkBridge
	}
	if c.Network != NetworkBridge && c.Network != NetworkNone {
		return bad("network", c.Network, "must be %q or %q", NetworkBridge, NetworkNone)
	}
	if c.NetworkRange != "" {
		if p, err := netip.ParsePrefix(c.NetworkRange); err != nil || !p.Addr().Is4() || p.Masked() != p || p.Bits() < 8 || p.Bits() > 28 {
			return bad("network-range", c.NetworkRange, "must be an IPv4 network of /8 to /28 such as 10.200.0.0/16")
		}
	}
	if c.AsyncAckWait != 0 && c.AsyncAckWait < MinAsyncAckWait {
		return &Error{Env: EnvAsyncAckWait, Value: c.AsyncAckWait.String(), Reason: fmt.Sprintf("must be at least %s", MinAsyncAckWait)}
	}
	return c.Cluster.validate()
}

// DefaultRuntimeSDKDir is the SDK directory of a server with dataDir.
func DefaultRuntimeSDKDir(dataDir string) string {
	return filepath.Join(dataDir, "runtimes", "sdk")
}

// SDKDir is RuntimeSDKDir, or its default.
func (c *Config) SDKDir() string {
	if c.RuntimeSDKDir != "" {
		return c.RuntimeSDKDir
	}
	return DefaultRuntimeSDKDir(c.DataDir)
}

// NewKeepAlivePolicy returns a fresh policy as --keep-alive-policy and
// --keep-alive choose. The hybrid policy falls back to --keep-alive, without
// pre-warming, for functions whose pattern it has not learned.
func (c *Config) NewKeepAlivePolicy() keepalive.Policy {
	if c.KeepAlivePolicy == KeepAliveFixed {
		return keepalive.Fixed{Idle: c.KeepAlive}
	}
	return keepalive.NewHybrid(keepalive.HybridConfig{Fallback: c.KeepAlive})
}

// Client is what the client subcommands (kumo env) need to reach a
// server: where it listens, where its data dir is, and the root
// credentials from the environment, if any.
type Client struct {
	DataDir  string
	Endpoint string
	Region   string
	Root     RootCredentials
}

// ParseClient reads a client subcommand's flags from args, with defaults
// taken from the same KUMO_* variables the server reads.
func ParseClient(name string, args []string, getenv func(string) string, usage io.Writer) (Client, error) {
	var c Client
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usage)
	var b binder
	var listen string
	b.str(fs, &c.DataDir, "data-dir", "KUMO_DATA_DIR", DefaultDataDir, "the server's data `directory`")
	b.str(fs, &listen, "listen", "KUMO_LISTEN", DefaultListen, "the server's listen `address`; --endpoint wins")
	b.str(fs, &c.Endpoint, "endpoint", "", "", "the server's `URL` (default: http:// and the listen address)")
	b.str(fs, &c.Region, "region", "KUMO_REGION", DefaultRegion, "the server's `region`")
	if err := fs.Parse(args); err != nil {
		return Client{}, err
	}
	if fs.NArg() > 0 {
		return Client{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if _, err := b.applyEnv(fs, getenv); err != nil {
		return Client{}, err
	}
	if c.Endpoint == "" {
		if _, _, err := net.SplitHostPort(listen); err != nil {
			return Client{}, &Error{Flag: "listen", Value: listen, Reason: err.Error()}
		}
		c.Endpoint = "http://" + listen
	}
	if !validRegion(c.Region) {
		return Client{}, &Error{Flag: "region", Value: c.Region, Reason: "is not a region name like us-east-1"}
	}
	c.Root = RootCredentials{AccessKeyID: getenv(EnvRootAccessKeyID), SecretAccessKey: getenv(EnvRootSecretAccessKey)}
	if (c.Root.AccessKeyID == "") != (c.Root.SecretAccessKey == "") {
		return Client{}, &Error{Env: EnvRootAccessKeyID, Reason: "set both " + EnvRootAccessKeyID + " and " + EnvRootSecretAccessKey + ", or neither"}
	}
	return c, nil
}

// validRegion matches [a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d.
func validRegion(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || len(parts[0]) != 2 {
		return false
	}
	last := parts[len(parts)-1]
	if len(last) != 1 || last[0] < '0' || last[0] > '9' {
		return false
	}
	for _, p := range parts[:len(parts)-1] {
		if p == "" || strings.Trim(p, "abcdefghijklmnopqrstuvwxyz") != "" {
			return false
		}
	}
	return true
}

// binder registers flags together with the environment variable each one
// falls back to.
type binder struct {
	env map[string]string // flag name → variable
}

func (b *binder) bind(fs *flag.FlagSet, name, env string, v flag.Value, usage string) {
	if env != "" {
		if b.env == nil {
			b.env = map[string]string{}
		}
		b.env[name] = env
		usage += " (env " + env + ")"
	}
	fs.Var(v, name, usage)
}

func (b *binder) str(fs *flag.FlagSet, p *string, name, env, def, usage string) {
	*p = def
	b.bind(fs, name, env, (*stringValue)(p), usage)
}

// applyEnv sets every flag not given on the command line from its
// variable, when that is set, and returns the flags so set with their
// variables.
func (b *binder) applyEnv(fs *flag.FlagSet, getenv func(string) string) (map[string]string, error) {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	fromEnv := map[string]string{}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := b.env[f.Name]
		if err != nil || env == "" || given[f.Name] {
			return
		}
		v := getenv(env)
		if v == "" {
			return
		}
		if serr := f.Value.Set(v); serr != nil {
			err = &Error{Flag: f.Name, Env: env, Value: v, Reason: serr.Error()}
			return
		}
		fromEnv[f.Name] = env
	})
	return fromEnv, err
}

type stringValue string

func (s *stringValue) Set(v string) error { *s = stringValue(v); return nil }
func (s *stringValue) String() string     { return string(*s) }

type boolValue bool

func (b *boolValue) Set(v string) error {
	x, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New(`must be true or false (1 or 0)`)
	}
	*b = boolValue(x)
	return nil
}
func (b *boolValue) String() string   { return strconv.FormatBool(bool(*b)) }
func (b *boolValue) IsBoolFlag() bool { return true }

type intVal int

func intValue(p *int, def int) *intVal {
	*p = def
	return (*intVal)(p)
}

func (i *intVal) Set(v string) error {
	x, err := strconv.Atoi(v)
	if err != nil {
		return errors.New("must be a whole number")
	}
	*i = intVal(x)
	return nil
}
func (i *intVal) String() string { return strconv.Itoa(int(*i)) }

type int64Val int64

func int64Value(p *int64, def int64) *int64Val {
	*p = def
	return (*int64Val)(p)
}

func (i *int64Val) Set(v string) error {
	x, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return errors.New("must be a whole number")
	}
	*i = int64Val(x)
	return nil
}
func (i *int64Val) String() string { return strconv.FormatInt(int64(*i), 10) }

type durationVal time.Duration

func durationValue(p *time.Duration, def time.Duration) *durationVal {
	*p = def
	return (*durationVal)(p)
}

func (d *durationVal) Set(v string) error {
	x, err := parseDuration(v)
	if err != nil {
		return err
	}
	*d = durationVal(x)
	return nil
}
func (d *durationVal) String() string { return time.Duration(*d).String() }

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New(`must be a duration such as "90s" or "10m"`)
	}
	return d, nil
}
