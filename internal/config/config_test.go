package config

import (
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	noenv := func(string) string { return "" }
	c, err := Parse(nil, noenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || c.Region != DefaultRegion || c.AccountID != DefaultAccountID || c.Fsync != "always" || c.AuthDisabled {
		t.Fatalf("defaults: %+v", c)
	}
	env := func(k string) string {
		return map[string]string{"KUMO_REGION": "eu-west-1", "KUMO_ACCOUNT_ID": "123456789012"}[k]
	}
	c, err = Parse([]string{"--region", "ap-southeast-2"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Region != "ap-southeast-2" || c.AccountID != "123456789012" {
		t.Fatalf("flags over env: %+v", c)
	}
	for _, bad := range [][]string{
		{"--account-id", "12345"},
		{"--account-id", "12345678901a"},
		{"--region", "moon"},
		{"--region", "US-EAST-1"},
		{"--listen", "nohost"},
		{"--fsync", "never"},
		{"--account-concurrency", "10"},
		{"--log-level", "loud"},
		{"--keep-alive-policy", "lru"},
		{"extra"},
	} {
		if _, err := Parse(bad, noenv, io.Discard); err == nil {
			t.Errorf("Parse(%v) accepted", bad)
		} else if !strings.Contains(err.Error(), strings.TrimPrefix(bad[0], "--")) && bad[0] != "extra" {
			t.Errorf("Parse(%v): error %q does not name the flag", bad, err)
		}
	}
}

func TestKeepAlivePolicy(t *testing.T) {
	noenv := func(string) string { return "" }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "hybrid (fallback 10m)"},
		{[]string{"--keep-alive", "5m"}, "hybrid (fallback 5m)"},
		{[]string{"--keep-alive-policy", "fixed"}, "fixed 10m"},
		{[]string{"--keep-alive-policy", "fixed", "--keep-alive", "20m"}, "fixed 20m"},
	} {
		c, err := Parse(tc.args, noenv, io.Discard)
		if err != nil {
			t.Fatalf("Parse(%v): %v", tc.args, err)
		}
		if got := c.NewKeepAlivePolicy().Name(); got != tc.want {
			t.Errorf("Parse(%v): policy %q, want %q", tc.args, got, tc.want)
		}
	}
	env := func(k string) string { return map[string]string{"KUMO_KEEP_ALIVE_POLICY": "fixed"}[k] }
	c, err := Parse(nil, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.KeepAlivePolicy != "fixed" {
		t.Errorf("KUMO_KEEP_ALIVE_POLICY=fixed: %q", c.KeepAlivePolicy)
	}
}

// TestEnvRefused: a bad value in the environment is refused with an error
// naming the variable, never replaced by the default.
func TestEnvRefused(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string // in the error
	}{
		{map[string]string{"KUMO_MEMORY_BUDGET": "12x"}, `KUMO_MEMORY_BUDGET="12x" (--memory-budget): must be a whole number`},
		{map[string]string{"KUMO_MEMORY_BUDGET": "64"}, `KUMO_MEMORY_BUDGET="64" (--memory-budget): must be at least 128`},
		{map[string]string{"KUMO_ACCOUNT_CONCURRENCY": "abc"}, `KUMO_ACCOUNT_CONCURRENCY="abc" (--account-concurrency): must be a whole number`},
		{map[string]string{"KUMO_ACCOUNT_CONCURRENCY": "10"}, `KUMO_ACCOUNT_CONCURRENCY="10" (--account-concurrency): must be at least 100`},
		{map[string]string{"KUMO_KEEP_ALIVE": "10"}, `KUMO_KEEP_ALIVE="10" (--keep-alive): must be a duration`},
		{map[string]string{"KUMO_KEEP_ALIVE": "500ms"}, `KUMO_KEEP_ALIVE="500ms" (--keep-alive): must be at least 1s`},
		{map[string]string{"KUMO_KEEP_ALIVE_POLICY": "lru"}, `KUMO_KEEP_ALIVE_POLICY="lru" (--keep-alive-policy): must be "hybrid" or "fixed"`},
		{map[string]string{"KUMO_FSYNC": "never"}, `KUMO_FSYNC="never" (--fsync): must be "always" or "interval"`},
		{map[string]string{"KUMO_SANDBOX": "vm"}, `KUMO_SANDBOX="vm" (--sandbox): must be "auto", "linux" or "process"`},
		{map[string]string{"KUMO_LOG_LEVEL": "loud"}, `KUMO_LOG_LEVEL="loud" (--log-level): must be "debug", "info", "warn" or "error"`},
		{map[string]string{"KUMO_INSECURE_NO_AUTH": "yes"}, `KUMO_INSECURE_NO_AUTH="yes" (--insecure-no-auth): must be true or false`},
		{map[string]string{"KUMO_REGION": "moon"}, `KUMO_REGION="moon" (--region): is not a region name`},
		{map[string]string{"KUMO_ACCOUNT_ID": "42"}, `KUMO_ACCOUNT_ID="42" (--account-id): must be 12 digits`},
		{map[string]string{"KUMO_LISTEN": "nohost"}, `KUMO_LISTEN="nohost" (--listen)`},
		{map[string]string{"KUMO_ASYNC_RETRY_DELAYS": "1s,soon"}, `KUMO_ASYNC_RETRY_DELAYS="1s,soon": "soon": must be a duration`},
		{map[string]string{"KUMO_ASYNC_RETRY_DELAYS": "1s,-1s"}, `KUMO_ASYNC_RETRY_DELAYS="1s,-1s": "-1s": must not be negative`},
		{map[string]string{"KUMO_NETWORK": "host"}, `KUMO_NETWORK="host" (--network): must be "bridge" or "none"`},
		{map[string]string{"KUMO_NETWORK_RANGE": "10.9.0.1/16"}, `KUMO_NETWORK_RANGE="10.9.0.1/16" (--network-range): must be an IPv4 network`},
		{map[string]string{"KUMO_NETWORK_RANGE": "fd00::/64"}, `(--network-range): must be an IPv4 network`},
		{map[string]string{"KUMO_ASYNC_ACK_WAIT": "later"}, `KUMO_ASYNC_ACK_WAIT="later": must be a duration`},
		{map[string]string{"KUMO_ASYNC_ACK_WAIT": "100ms"}, `KUMO_ASYNC_ACK_WAIT="100ms": must be at least 1s`},
		{map[string]string{"KUMO_SCHEDULE_MINUTE": "0s"}, `KUMO_SCHEDULE_MINUTE="0s": must be a positive duration`},
		{map[string]string{"KUMO_SCHEDULE_MINUTE": "fast"}, `KUMO_SCHEDULE_MINUTE="fast": must be a positive duration`},
		{map[string]string{"KUMO_RUNTIME_INTERPRETERS": "python3.12"}, `KUMO_RUNTIME_INTERPRETERS="python3.12": runtime interpreters: "python3.12": want runtime=path`},
		{map[string]string{"KUMO_ROOT_ACCESS_KEY_ID": "AKIAEXAMPLE"}, `KUMO_ROOT_ACCESS_KEY_ID: set both KUMO_ROOT_ACCESS_KEY_ID and KUMO_ROOT_SECRET_ACCESS_KEY, or neither`},
		{map[string]string{"KUMO_ROOT_SECRET_ACCESS_KEY": "s3cret"}, `KUMO_ROOT_ACCESS_KEY_ID: set both KUMO_ROOT_ACCESS_KEY_ID and KUMO_ROOT_SECRET_ACCESS_KEY, or neither`},
	} {
		_, err := Parse(nil, func(k string) string { return tc.env[k] }, io.Discard)
		if err == nil {
			t.Errorf("%v accepted", tc.env)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %q, want it to contain %q", tc.env, err, tc.want)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%v: error %q shows the secret", tc.env, err)
		}
	}
}

// TestEnvAccepted: every variable reaches its field; a flag wins over its
// variable, even one the variable's bad value would refuse.
func TestEnvAccepted(t *testing.T) {
	env := map[string]string{
		"KUMO_LISTEN": "127.0.0.1:9999", "KUMO_DATA_DIR": "/tmp/kumo-x", "KUMO_REGION": "eu-west-1",
		"KUMO_ACCOUNT_ID": "123456789012", "KUMO_INSECURE_NO_AUTH": "1", "KUMO_FSYNC": "interval",
		"KUMO_ACCOUNT_CONCURRENCY": "200", "KUMO_LOG_LEVEL": "debug", "KUMO_SANDBOX": "process",
		"KUMO_KEEP_ALIVE": "5m", "KUMO_KEEP_ALIVE_POLICY": "fixed", "KUMO_MEMORY_BUDGET": "2048",
		"KUMO_ROOT_ACCESS_KEY_ID": "AKIAEXAMPLE", "KUMO_ROOT_SECRET_ACCESS_KEY": "secret",
		"KUMO_RUNTIME_INTERPRETERS": "python3.12=/opt/py/bin/python3", "KUMO_ASYNC_RETRY_DELAYS": "200ms, 400ms",
		"KUMO_ASYNC_ACK_WAIT": "2s", "KUMO_NETWORK": "none", "KUMO_NETWORK_RANGE": "10.9.0.0/16",
		"KUMO_SCHEDULE_MINUTE": "1s",
	}
	c, err := Parse(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Listen: "127.0.0.1:9999", DataDir: "/tmp/kumo-x", Region: "eu-west-1", AccountID: "123456789012",
		AuthDisabled: true, Fsync: FsyncInterval, AccountConcurrency: 200, LogLevel: LogDebug, Sandbox: SandboxProcess,
		KeepAlive: 5 * time.Minute, KeepAlivePolicy: KeepAliveFixed, MemoryBudgetMB: 2048, MaxConnections: DefaultMaxConnections,
		Root:                RootCredentials{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "secret"},
		RuntimeInterpreters: map[string]string{"python3.12": "/opt/py/bin/python3"},
		AsyncRetryDelays:    []time.Duration{200 * time.Millisecond, 400 * time.Millisecond},
		AsyncAckWait:        2 * time.Second,
		ScheduleMinute:      time.Second,
		Network:             NetworkNone, NetworkRange: "10.9.0.0/16",
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("from the environment:\n got %+v\nwant %+v", c, want)
	}

	bad := map[string]string{"KUMO_MEMORY_BUDGET": "12x", "KUMO_FSYNC": "never"}
	c, err = Parse([]string{"--memory-budget", "512", "--fsync", "interval"}, func(k string) string { return bad[k] }, io.Discard)
	if err != nil {
		t.Fatalf("flags over bad variables: %v", err)
	}
	if c.MemoryBudgetMB != 512 || c.Fsync != FsyncInterval {
		t.Fatalf("flags over variables: %+v", c)
	}
}

func TestEnums(t *testing.T) {
	for _, s := range []string{"always", "interval"} {
		if v, err := ParseFsync(s); err != nil || v.String() != s {
			t.Errorf("ParseFsync(%q) = %q, %v", s, v, err)
		}
	}
	for _, s := range []string{"auto", "linux", "process"} {
		if v, err := ParseSandboxDriver(s); err != nil || v.String() != s {
			t.Errorf("ParseSandboxDriver(%q) = %q, %v", s, v, err)
		}
	}
	for _, s := range []string{"hybrid", "fixed"} {
		if v, err := ParseKeepAlivePolicy(s); err != nil || v.String() != s {
			t.Errorf("ParseKeepAlivePolicy(%q) = %q, %v", s, v, err)
		}
	}
	for s, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		if v, err := ParseLogLevel(s); err != nil || v.String() != s || v.Slog() != want {
			t.Errorf("ParseLogLevel(%q) = %q (%v), %v", s, v, v.Slog(), err)
		}
	}
	for _, bad := range []string{"", "ALWAYS", " always"} {
		if _, err := ParseFsync(bad); err == nil {
			t.Errorf("ParseFsync(%q) accepted", bad)
		}
	}
	if _, err := ParseSandboxDriver("LINUX"); err == nil {
		t.Error(`ParseSandboxDriver("LINUX") accepted`)
	}
	if _, err := ParseKeepAlivePolicy("lru"); err == nil {
		t.Error(`ParseKeepAlivePolicy("lru") accepted`)
	}
	if _, err := ParseLogLevel("trace"); err == nil {
		t.Error(`ParseLogLevel("trace") accepted`)
	}
}

func TestParseClient(t *testing.T) {
	env := map[string]string{"KUMO_LISTEN": "127.0.0.1:9999", "KUMO_DATA_DIR": "/srv/kumo", "KUMO_REGION": "eu-west-1"}
	c, err := ParseClient("kumo env", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Endpoint != "http://127.0.0.1:9999" || c.DataDir != "/srv/kumo" || c.Region != "eu-west-1" || c.Root != (RootCredentials{}) {
		t.Fatalf("from the environment: %+v", c)
	}
	c, err = ParseClient("kumo env", []string{"--endpoint", "http://h:1", "--region", "ap-south-1"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.Endpoint != "http://h:1" || c.Region != "ap-south-1" {
		t.Fatalf("flags over env: %+v %v", c, err)
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"--region", "moon"}, nil},
		{nil, map[string]string{"KUMO_LISTEN": "nohost"}},
		{nil, map[string]string{"KUMO_ROOT_ACCESS_KEY_ID": "AKIAEXAMPLE"}},
		{[]string{"extra"}, nil},
	} {
		if _, err := ParseClient("kumo env", tc.args, func(k string) string { return tc.env[k] }, io.Discard); err == nil {
			t.Errorf("ParseClient(%v, %v) accepted", tc.args, tc.env)
		}
	}
}

// TestKMSMasterKeySettings: the master key file and the previous one from
// flags or their variables; the key itself only from the environment.
func TestKMSMasterKeySettings(t *testing.T) {
	env := func(k string) string {
		switch k {
		case "KUMO_KMS_MASTER_KEY":
			return "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
		case "KUMO_KMS_PREVIOUS_MASTER_KEY_FILE":
			return "/etc/kumo/old.key"
		}
		return ""
	}
	c, err := Parse([]string{"--kms-master-key-file", "/etc/kumo/master.key"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.KMSMasterKeyFile != "/etc/kumo/master.key" || c.KMSPreviousMasterKeyFile != "/etc/kumo/old.key" ||
		c.KMSMasterKey != "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" {
		t.Fatalf("%+v", c)
	}
	if _, err := Parse([]string{"--kms-master-key", "x"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Fatal("the master key itself was accepted as a flag")
	}
}
