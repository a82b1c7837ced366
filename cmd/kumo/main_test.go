package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kumo-run/kumo/internal/version"
)

func runKumo(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, func(k string) string { return env[k] }, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestHelpListsCommands(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		code, out, _ := runKumo(t, nil, args...)
		if code != 0 {
			t.Errorf("kumo %v: exit %d", args, code)
		}
		for _, c := range []string{"kumo server", "kumo env", "kumo version", "kumo help"} {
			if !strings.Contains(out, c) {
				t.Errorf("kumo %v does not list %q:\n%s", args, c, out)
			}
		}
	}
	if code, _, errOut := runKumo(t, nil); code != 2 || !strings.Contains(errOut, "kumo version") {
		t.Errorf("kumo without a command: exit %d, usage %q", code, errOut)
	}
	if code, _, errOut := runKumo(t, nil, "serve"); code != 2 || !strings.Contains(errOut, `unknown command "serve"`) {
		t.Errorf("kumo serve: exit %d, %q", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runKumo(t, nil, "version")
	if code != 0 || out != "kumo "+version.String()+"\n" {
		t.Fatalf("kumo version: exit %d, %q", code, out)
	}
}

// TestServerRefusesBadEnv: the server does not start on a bad variable and
// says which.
func TestServerRefusesBadEnv(t *testing.T) {
	code, _, errOut := runKumo(t, map[string]string{"KUMO_MEMORY_BUDGET": "12x", "KUMO_DATA_DIR": t.TempDir()}, "server")
	if code != 1 || !strings.Contains(errOut, "KUMO_MEMORY_BUDGET") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func exports(t *testing.T, out string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok || !strings.HasPrefix(line, "export ") {
			t.Fatalf("not an export: %q", line)
		}
		m[k] = v
	}
	return m
}

func TestEnvFromCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "root-credentials.json"), []byte(`{"AccessKeyId":"AKIAFILE","SecretAccessKey":"filesecret"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runKumo(t, map[string]string{"KUMO_REGION": "eu-west-1"}, "env", "--data-dir", dir, "--endpoint", "http://127.0.0.1:1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := exports(t, out)
	want := map[string]string{"AWS_ACCESS_KEY_ID": "AKIAFILE", "AWS_SECRET_ACCESS_KEY": "filesecret", "AWS_REGION": "eu-west-1",
		"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
	// Keys in the environment win over the file.
	_, out, _ = runKumo(t, map[string]string{"KUMO_ROOT_ACCESS_KEY_ID": "AKIAENV", "KUMO_ROOT_SECRET_ACCESS_KEY": "envsecret"}, "env", "--data-dir", dir)
	if got := exports(t, out); got["AWS_ACCESS_KEY_ID"] != "AKIAENV" || got["AWS_SECRET_ACCESS_KEY"] != "envsecret" || got["AWS_ENDPOINT_URL"] != "http://127.0.0.1:9070" {
		t.Errorf("with KUMO_ROOT_*: %v", got)
	}
}

// TestEnvWithoutCredentials: with no credentials anywhere, kumo env prints
// placeholder keys only for a server that accepts unsigned requests, and
// otherwise says to start the server.
func TestEnvWithoutCredentials(t *testing.T) {
	open := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/2015-03-31/functions" || r.Header.Get("Authorization") != "" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		w.Write([]byte(`{"Functions":[]}`))
	}))
	defer open.Close()
	closed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"message":"Missing Authentication Token"}`, http.StatusForbidden)
	}))
	defer closed.Close()

	code, out, errOut := runKumo(t, nil, "env", "--data-dir", t.TempDir(), "--endpoint", open.URL)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := exports(t, out)
	if got["AWS_ACCESS_KEY_ID"] != noAuthAccessKeyID || got["AWS_SECRET_ACCESS_KEY"] != noAuthSecretAccessKey || got["AWS_ENDPOINT_URL"] != open.URL {
		t.Errorf("no-auth server: %v", got)
	}
	if !strings.Contains(errOut, "--insecure-no-auth") {
		t.Errorf("no-auth server: stderr %q does not say why the keys are placeholders", errOut)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := "http://" + ln.Addr().String()
	ln.Close()
	for _, endpoint := range []string{closed.URL, nobody} {
		code, out, errOut := runKumo(t, nil, "env", "--data-dir", t.TempDir(), "--endpoint", endpoint)
		if code != 1 || out != "" || !strings.Contains(errOut, "start the server first") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", endpoint, code, out, errOut)
		}
	}
}
