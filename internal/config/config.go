// Package config turns flags and environment into a validated server
// configuration. Flags win over environment variables, which win over the
// defaults.
package config

import (
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/keepalive"
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
	// Fsync is the store's sync policy: "always" or "interval".
	Fsync string
	// AccountConcurrency is the account's concurrent executions limit.
	AccountConcurrency int
	LogLevel           string
	// Sandbox is the sandbox driver: "auto" (linux when it can run,
	// else process), "linux" or "process".
	Sandbox string
	// KeepAlive is how long an idle sandbox is kept warm: always under
	// the fixed policy, and under the hybrid one for functions whose
	// invocation pattern it has not learned.
	KeepAlive time.Duration
	// KeepAlivePolicy is "hybrid" (learn each function version's idle
	// times, unload early and pre-warm) or "fixed" (KeepAlive for all).
	KeepAlivePolicy string
	// MemoryBudgetMB bounds the sum of MemorySize of this node's
	// sandboxes; 0 means three quarters of the machine's memory.
	MemoryBudgetMB int
	// StoreMaxBytes caps the bytes the store keeps on disk; 0 derives it
	// from the size of the data dir's file system (natsd.DefaultMaxStore).
	StoreMaxBytes int64
}

// Defaults.
const (
	DefaultListen    = "127.0.0.1:9070"
	DefaultDataDir   = "kumo-data"
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "000000000000"
)

// Parse reads the server subcommand's flags from args, with defaults taken
// from the KUMO_* environment variables getenv returns.
func Parse(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("kumo server", flag.ContinueOnError)
	fs.SetOutput(usage)
	var c Config
	fs.StringVar(&c.Listen, "listen", env("KUMO_LISTEN", DefaultListen), "address of the API and HTTP edge (env KUMO_LISTEN)")
	fs.StringVar(&c.DataDir, "data-dir", env("KUMO_DATA_DIR", DefaultDataDir), "directory holding all state; it survives restarts (env KUMO_DATA_DIR)")
	fs.StringVar(&c.Region, "region", env("KUMO_REGION", DefaultRegion), "AWS region this server presents (env KUMO_REGION)")
	fs.StringVar(&c.AccountID, "account-id", env("KUMO_ACCOUNT_ID", DefaultAccountID), "12-digit AWS account id used in ARNs (env KUMO_ACCOUNT_ID)")
	fs.BoolVar(&c.AuthDisabled, "insecure-no-auth", env("KUMO_INSECURE_NO_AUTH", "") == "1", "accept unsigned requests as the account root: throwaway local use only (env KUMO_INSECURE_NO_AUTH=1)")
	fs.StringVar(&c.Fsync, "fsync", env("KUMO_FSYNC", "always"), `store sync policy: "always" (fsync before acknowledging a write) or "interval" (env KUMO_FSYNC)`)
	conc, _ := strconv.Atoi(env("KUMO_ACCOUNT_CONCURRENCY", "1000"))
	fs.IntVar(&c.AccountConcurrency, "account-concurrency", conc, "account concurrent executions limit (env KUMO_ACCOUNT_CONCURRENCY)")
	fs.StringVar(&c.LogLevel, "log-level", env("KUMO_LOG_LEVEL", "info"), "debug, info, warn or error (env KUMO_LOG_LEVEL)")
	fs.StringVar(&c.Sandbox, "sandbox", env("KUMO_SANDBOX", "auto"), `sandbox driver: "auto" (linux when possible), "linux" (isolated; needs root) or "process" (NOT isolated) (env KUMO_SANDBOX)`)
	keepAlive, err := time.ParseDuration(env("KUMO_KEEP_ALIVE", "10m"))
	if err != nil {
		return Config{}, fmt.Errorf("KUMO_KEEP_ALIVE: %v", err)
	}
	fs.DurationVar(&c.KeepAlive, "keep-alive", keepAlive, "how long an idle sandbox is kept warm; under the hybrid policy, for functions whose pattern is not learned yet (env KUMO_KEEP_ALIVE)")
	fs.StringVar(&c.KeepAlivePolicy, "keep-alive-policy", env("KUMO_KEEP_ALIVE_POLICY", "hybrid"), `"hybrid" (learn each function version's idle times: unload sooner, keep longer or pre-warm as they suggest) or "fixed" (--keep-alive for every sandbox) (env KUMO_KEEP_ALIVE_POLICY)`)
	budget, _ := strconv.Atoi(env("KUMO_MEMORY_BUDGET", "0"))
	fs.IntVar(&c.MemoryBudgetMB, "memory-budget", budget, "MB of function memory this node's sandboxes may hold in all; idle sandboxes are evicted to make room, then invocations are throttled (default: 3/4 of the machine) (env KUMO_MEMORY_BUDGET)")
	storeMax, err := strconv.ParseInt(env("KUMO_STORE_MAX_BYTES", "0"), 10, 64)
	if err != nil {
		return Config{}, fmt.Errorf("KUMO_STORE_MAX_BYTES %q must be a number of bytes", env("KUMO_STORE_MAX_BYTES", ""))
	}
	fs.Int64Var(&c.StoreMaxBytes, "store-max-bytes", storeMax, "bytes the store may keep on disk (default: the data dir's file system size less half of a 5% reserve; writes are refused when the disk's free space falls below that reserve) (env KUMO_STORE_MAX_BYTES)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return c, c.Validate()
}

// Validate checks every field.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen %q: %v", c.Listen, err)
	}
	if c.DataDir == "" {
		return fmt.Errorf("--data-dir must not be empty")
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("--data-dir %q: %v", c.DataDir, err)
	}
	c.DataDir = abs
	if !validRegion(c.Region) {
		return fmt.Errorf("--region %q is not a region name like us-east-1", c.Region)
	}
	if len(c.AccountID) != 12 || strings.Trim(c.AccountID, "0123456789") != "" {
		return fmt.Errorf("--account-id %q must be 12 digits", c.AccountID)
	}
	if c.StoreMaxBytes != 0 && c.StoreMaxBytes < 16<<20 {
		return fmt.Errorf("--store-max-bytes %d must be at least 16 MiB (16777216), or 0 for the default", c.StoreMaxBytes)
	}
	if c.Fsync != "always" && c.Fsync != "interval" {
		return fmt.Errorf(`--fsync %q must be "always" or "interval"`, c.Fsync)
	}
	if c.AccountConcurrency < 100 {
		return fmt.Errorf("--account-concurrency %d must be at least 100", c.AccountConcurrency)
	}
	switch c.Sandbox {
	case "auto", "linux", "process":
	default:
		return fmt.Errorf(`--sandbox %q must be "auto", "linux" or "process"`, c.Sandbox)
	}
	if c.MemoryBudgetMB != 0 && c.MemoryBudgetMB < 128 {
		return fmt.Errorf("--memory-budget %d must be at least 128 (MB), or 0 for the default", c.MemoryBudgetMB)
	}
	if c.KeepAlive < time.Second {
		return fmt.Errorf("--keep-alive %s must be at least 1s", c.KeepAlive)
	}
	if c.KeepAlivePolicy != "hybrid" && c.KeepAlivePolicy != "fixed" {
		return fmt.Errorf(`--keep-alive-policy %q must be "hybrid" or "fixed"`, c.KeepAlivePolicy)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q must be debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// NewKeepAlivePolicy returns a fresh policy as --keep-alive-policy and
// --keep-alive choose. The hybrid policy falls back to --keep-alive, without
// pre-warming, for functions whose pattern it has not learned.
func (c *Config) NewKeepAlivePolicy() keepalive.Policy {
	if c.KeepAlivePolicy == "fixed" {
		return keepalive.Fixed{Idle: c.KeepAlive}
	}
	return keepalive.NewHybrid(keepalive.HybridConfig{Fallback: c.KeepAlive})
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
