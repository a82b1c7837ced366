package app

import (
	"bytes"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/sandbox"
)

func TestHostLoopbackURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:9070": "http://127.0.0.1:9070",
		"0.0.0.0:9070":   "http://127.0.0.1:9070",
		":9070":          "http://127.0.0.1:9070",
		"[::]:9070":      "http://[::1]:9070",
		"[::1]:9070":     "http://[::1]:9070",
		"localhost:9070": "http://localhost:9070",
		"10.1.2.3:80":    "http://10.1.2.3:80",
		"127.0.0.1:0":    "",
		"no port":        "",
	} {
		if got := hostLoopbackURL(addr); got != want {
			t.Errorf("%q: %q, want %q", addr, got, want)
		}
	}
}

type stubDriver struct {
	isolated bool
	sandbox.Driver
}

func (d stubDriver) Capabilities() sandbox.Capabilities {
	return sandbox.Capabilities{Isolated: d.isolated}
}

type networkedDriver struct{ stubDriver }

func (networkedDriver) EdgeURL(listen string) string {
	return "http://10.99.0.1:" + listen[len(listen)-4:]
}

// TestSandboxEdge: sandboxes on the host's network reach the edge on
// loopback, isolated ones without a network get no URL, and a driver with
// networking says where its sandboxes reach the edge.
func TestSandboxEdge(t *testing.T) {
	var e sandboxEdge
	if e.URL() != "" {
		t.Fatal("a URL before the edge listens")
	}
	e.set(stubDriver{isolated: false}, "0.0.0.0:9070")
	if got := e.URL(); got != "http://127.0.0.1:9070" {
		t.Errorf("process driver: %q", got)
	}
	e.set(stubDriver{isolated: true}, "127.0.0.1:9070")
	if got := e.URL(); got != "" {
		t.Errorf("isolated without network: %q", got)
	}
	e.set(networkedDriver{stubDriver{isolated: true}}, "127.0.0.1:9070")
	if got := e.URL(); got != "http://10.99.0.1:9070" {
		t.Errorf("networked driver: %q", got)
	}
}

func TestRoleMinter(t *testing.T) {
	is, err := token.New(bytes.Repeat([]byte{3}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	c, err := roleMinter{is}.RoleCredentials("arn:aws:iam::000000000000:role/r", "fn", 12*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	store := &token.Store{Issuer: is}
	secret, id, err := store.Resolve(c.AccessKeyID, c.SessionToken, time.Now())
	if err != nil || secret != c.SecretAccessKey || id.ARN != "arn:aws:sts::000000000000:assumed-role/r/fn" {
		t.Errorf("Resolve = %q %+v %v", secret, id, err)
	}
	if _, err := (roleMinter{is}).RoleCredentials("not-an-arn", "fn", time.Hour); err == nil {
		t.Error("minted for a role that is not an ARN")
	}
}
