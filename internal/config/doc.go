// Package config turns flags and environment into a validated server
// configuration. Flags win over environment variables, which win over the
// defaults.
//
// It is the only package that reads KUMO_* variables: every other package
// is handed a Config (or the part of it it needs) and must never call
// os.Getenv for a setting. Each flag has a variable named after it
// (--memory-budget, KUMO_MEMORY_BUDGET), registered together in Parse; the
// few settings without a flag (root credentials, runtime interpreters,
// async queue tuning) are the Env* constants.
//
// A value that does not parse or is out of range is refused with an *Error
// naming the flag or the variable it came from, never replaced by a
// default. Settings with a fixed set of values are typed (Fsync,
// SandboxDriver, KeepAlivePolicy, LogLevel), each with a Parse function and
// flag.Value methods.
//
// To add a setting: a field on Config, one b.bind or b.str line in Parse,
// and its check in Validate with a table row in config_test.go.
package config
