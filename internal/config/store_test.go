package config

import (
	"io"
	"strings"
	"testing"
)

func TestStoreMaxBytes(t *testing.T) {
	noenv := func(string) string { return "" }
	c, err := Parse(nil, noenv, io.Discard)
	if err != nil || c.StoreMaxBytes != 0 {
		t.Fatalf("default: %d %v", c.StoreMaxBytes, err)
	}
	c, err = Parse([]string{"--store-max-bytes", "1073741824"}, noenv, io.Discard)
	if err != nil || c.StoreMaxBytes != 1<<30 {
		t.Fatalf("flag: %d %v", c.StoreMaxBytes, err)
	}
	env := func(k string) string { return map[string]string{"KUMO_STORE_MAX_BYTES": "536870912"}[k] }
	if c, err = Parse(nil, env, io.Discard); err != nil || c.StoreMaxBytes != 1<<29 {
		t.Fatalf("env: %d %v", c.StoreMaxBytes, err)
	}
	for _, bad := range [][]string{{"--store-max-bytes", "-1"}, {"--store-max-bytes", "1000"}, {"--store-max-bytes", "12x"}} {
		if _, err := Parse(bad, noenv, io.Discard); err == nil || !strings.Contains(err.Error(), "store-max-bytes") {
			t.Errorf("Parse(%v): %v", bad, err)
		}
	}
	badEnv := func(k string) string { return map[string]string{"KUMO_STORE_MAX_BYTES": "12x"}[k] }
	if _, err := Parse(nil, badEnv, io.Discard); err == nil || !strings.Contains(err.Error(), "KUMO_STORE_MAX_BYTES") {
		t.Errorf("bad env: %v", err)
	}
}
