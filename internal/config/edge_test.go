package config

import (
	"io"
	"strings"
	"testing"
)

func TestEdgeFlags(t *testing.T) {
	tests := []struct {
		args    []string
		env     map[string]string
		metrics string
		conns   int
		err     string
	}{
		{nil, nil, "", DefaultMaxConnections, ""},
		{[]string{"--metrics-listen", "127.0.0.1:9071", "--max-connections", "100"}, nil, "127.0.0.1:9071", 100, ""},
		{nil, map[string]string{"KUMO_METRICS_LISTEN": ":9071", "KUMO_MAX_CONNECTIONS": "64"}, ":9071", 64, ""},
		{[]string{"--metrics-listen", "9071"}, nil, "", 0, "--metrics-listen"},
		{[]string{"--max-connections", "3"}, nil, "", 0, `--max-connections "3": must be at least 16`},
		{nil, map[string]string{"KUMO_MAX_CONNECTIONS": "lots"}, "", 0, "KUMO_MAX_CONNECTIONS"},
	}
	for _, tc := range tests {
		args := append([]string{"--data-dir", t.TempDir()}, tc.args...)
		c, err := Parse(args, func(k string) string { return tc.env[k] }, io.Discard)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v %v: err %v, want %q", tc.args, tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || c.MetricsListen != tc.metrics || c.MaxConnections != tc.conns {
			t.Errorf("%v %v: %q %d %v", tc.args, tc.env, c.MetricsListen, c.MaxConnections, err)
		}
	}
}
