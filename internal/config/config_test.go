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
		{"extra"},
	} {
		if _, err := Parse(bad, noenv, io.Discard); err == nil {
			t.Errorf("Parse(%v) accepted", bad)
		} else if !strings.Contains(err.Error(), strings.TrimPrefix(bad[0], "--")) && bad[0] != "extra" {
			t.Errorf("Parse(%v): error %q does not name the flag", bad, err)
		}
	}
}
