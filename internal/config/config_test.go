package config

import (
	"io"
	"strings"
	"testing"
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
