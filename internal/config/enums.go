package config

import (
	"fmt"
	"log/slog"
	"strings"
)

// Fsync is the store's sync policy.
type Fsync string

const (
	// FsyncAlways fsyncs every write before acknowledging it.
	FsyncAlways Fsync = "always"
	// FsyncInterval leaves syncing to the store's periodic flush: a crash
	// of the machine may lose the last acknowledged writes.
	FsyncInterval Fsync = "interval"
)

// ParseFsync parses "always" or "interval".
func ParseFsync(s string) (Fsync, error) { return parseEnum(s, FsyncAlways, FsyncInterval) }

func (f Fsync) String() string { return string(f) }

// Set implements flag.Value.
func (f *Fsync) Set(s string) error { return set(f, s, ParseFsync) }

// SandboxDriver chooses the sandbox driver.
type SandboxDriver string

const (
	// SandboxAuto is linux when it can run here, else process.
	SandboxAuto SandboxDriver = "auto"
	// SandboxLinux isolates with namespaces, cgroups and seccomp; it
	// needs root on Linux.
	SandboxLinux SandboxDriver = "linux"
	// SandboxProcess runs plain child processes and isolates nothing.
	SandboxProcess SandboxDriver = "process"
)

// ParseSandboxDriver parses "auto", "linux" or "process".
func ParseSandboxDriver(s string) (SandboxDriver, error) {
	return parseEnum(s, SandboxAuto, SandboxLinux, SandboxProcess)
}

func (d SandboxDriver) String() string { return string(d) }

// Set implements flag.Value.
func (d *SandboxDriver) Set(s string) error { return set(d, s, ParseSandboxDriver) }

// KeepAlivePolicy chooses how long idle sandboxes stay warm.
type KeepAlivePolicy string

const (
	// KeepAliveHybrid learns each function version's idle times: it
	// unloads sooner, keeps longer or pre-warms as they suggest.
	KeepAliveHybrid KeepAlivePolicy = "hybrid"
	// KeepAliveFixed keeps every idle sandbox for Config.KeepAlive.
	KeepAliveFixed KeepAlivePolicy = "fixed"
)

// ParseKeepAlivePolicy parses "hybrid" or "fixed".
func ParseKeepAlivePolicy(s string) (KeepAlivePolicy, error) {
	return parseEnum(s, KeepAliveHybrid, KeepAliveFixed)
}

func (p KeepAlivePolicy) String() string { return string(p) }

// Set implements flag.Value.
func (p *KeepAlivePolicy) Set(s string) error { return set(p, s, ParseKeepAlivePolicy) }

// LogLevel is the least severe level the server logs.
type LogLevel string

const (
	LogDebug LogLevel = "debug"
	LogInfo  LogLevel = "info"
	LogWarn  LogLevel = "warn"
	LogError LogLevel = "error"
)

// ParseLogLevel parses "debug", "info", "warn" or "error".
func ParseLogLevel(s string) (LogLevel, error) {
	return parseEnum(s, LogDebug, LogInfo, LogWarn, LogError)
}

func (l LogLevel) String() string { return string(l) }

// Set implements flag.Value.
func (l *LogLevel) Set(s string) error { return set(l, s, ParseLogLevel) }

// Slog is the level as log/slog knows it; info for an unknown level.
func (l LogLevel) Slog() slog.Level {
	switch l {
	case LogDebug:
		return slog.LevelDebug
	case LogWarn:
		return slog.LevelWarn
	case LogError:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// parseEnum returns the value of values that s names.
func parseEnum[T ~string](s string, values ...T) (T, error) {
	for _, v := range values {
		if string(v) == s {
			return v, nil
		}
	}
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = fmt.Sprintf("%q", string(v))
	}
	last := len(quoted) - 1
	return "", fmt.Errorf("must be %s or %s", strings.Join(quoted[:last], ", "), quoted[last])
}

func set[T ~string](dst *T, s string, parse func(string) (T, error)) error {
	v, err := parse(s)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}
