package config

import (
	"io"
	"path/filepath"
	"slices"
	"testing"
)

func TestParseInstallSDK(t *testing.T) {
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, c := range []struct {
		name     string
		args     []string
		env      map[string]string
		dir      string
		packages []string
		force    bool
	}{
		{"default", nil, nil, abs("kumo-data/runtimes/sdk"), nil, false},
		{"data dir from the environment", nil, map[string]string{"KUMO_DATA_DIR": "/srv/kumo"}, "/srv/kumo/runtimes/sdk", nil, false},
		{"data dir flag", []string{"--data-dir", "/srv/k"}, nil, "/srv/k/runtimes/sdk", nil, false},
		{"the server's sdk dir", []string{"--data-dir", "/srv/k"}, map[string]string{"KUMO_RUNTIME_SDK_DIR": "/opt/sdk"}, "/opt/sdk", nil, false},
		{"dir flag wins", []string{"--dir", "/x/sdk"}, map[string]string{"KUMO_RUNTIME_SDK_DIR": "/opt/sdk"}, "/x/sdk", nil, false},
		{"relative dir", []string{"--dir", "sdk"}, nil, abs("sdk"), nil, false},
		{"packages and force", []string{"--force", "--dir", "/x", "@aws-sdk/client-ssm", "@aws-sdk/client-iam@3.1.0"}, nil, "/x",
			[]string{"@aws-sdk/client-ssm", "@aws-sdk/client-iam@3.1.0"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseInstallSDK(c.args, func(k string) string { return c.env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got.Dir != c.dir || !slices.Equal(got.Packages, c.packages) || got.Force != c.force || got.NPM != "npm" {
				t.Errorf("got %+v, want dir %q packages %q force %v", got, c.dir, c.packages, c.force)
			}
		})
	}
	if _, err := ParseInstallSDK([]string{"--data-dir", ""}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("an empty data dir was accepted")
	}
	if _, err := ParseInstallSDK([]string{"--nope"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("an unknown flag was accepted")
	}
}

func TestRuntimeSDKDir(t *testing.T) {
	c, err := Parse([]string{"--data-dir", "/srv/k"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.SDKDir() != "/srv/k/runtimes/sdk" {
		t.Errorf("default SDKDir() = %q", c.SDKDir())
	}
	c, err = Parse([]string{"--data-dir", "/srv/k"}, func(k string) string {
		return map[string]string{"KUMO_RUNTIME_SDK_DIR": "sdk"}[k]
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := filepath.Abs("sdk")
	if c.RuntimeSDKDir != a || c.SDKDir() != a {
		t.Errorf("RuntimeSDKDir %q, SDKDir() %q, want %q", c.RuntimeSDKDir, c.SDKDir(), a)
	}
}
