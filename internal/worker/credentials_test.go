package worker

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeMinter hands out numbered credentials that expire lifetime after
// its clock.
type fakeMinter struct {
	now func() time.Time
	err error

	mu    sync.Mutex
	calls []string // role|session|lifetime
}

func (m *fakeMinter) RoleCredentials(role, session string, lifetime time.Duration) (RoleCredentials, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return RoleCredentials{}, m.err
	}
	m.calls = append(m.calls, fmt.Sprintf("%s|%s|%s", role, session, lifetime))
	n := len(m.calls)
	return RoleCredentials{AccessKeyID: fmt.Sprintf("ASIA%016d", n), SecretAccessKey: fmt.Sprintf("secret-%d", n),
		SessionToken: fmt.Sprintf("token-%d", n), Expiration: m.now().Add(lifetime)}, nil
}

func (m *fakeMinter) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.calls)
}

const testRole = "arn:aws:iam::000000000000:role/lambda-role"

func roleSpec(name string) *Spec {
	s := spec(name, "ok", 128)
	s.Role = testRole
	return s
}

// TestSandboxCredentials: a sandbox gets its role's credentials, named
// after the function, and the edge's URL; the function's own variables
// cannot replace the credentials but may point the SDK elsewhere.
func TestSandboxCredentials(t *testing.T) {
	m := &fakeMinter{}
	edgeURL := "http://127.0.0.1:9070"
	h := newHarness(t, Config{Credentials: m, SandboxEdgeURL: func() string { return edgeURL }, IdleTimeout: time.Hour})
	m.now = h.clk.now

	f := roleSpec("my-function")
	f.Environment = map[string]string{"AWS_ACCESS_KEY_ID": "AKIAOWN", "AWS_SESSION_TOKEN": "own", "MINE": "1"}
	h.mustInvoke(f, "echo")
	sb := h.d.sandboxes()[0]
	for k, want := range map[string]string{
		"AWS_ACCESS_KEY_ID": "ASIA0000000000000001", "AWS_SECRET_ACCESS_KEY": "secret-1", "AWS_SESSION_TOKEN": "token-1",
		"AWS_ENDPOINT_URL": edgeURL, "MINE": "1",
	} {
		if got := sb.env(k); got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"} {
		if n := strings.Count("\n"+strings.Join(sb.spec.Env, "\n"), "\n"+k+"="); n != 1 {
			t.Errorf("%s is set %d times", k, n)
		}
	}
	if want := testRole + "|my-function|12h0m0s"; m.calls[0] != want {
		t.Errorf("minted %q, want %q", m.calls[0], want)
	}

	// A function's own AWS_ENDPOINT_URL wins; no URL, no variable.
	g := roleSpec("g")
	g.Environment = map[string]string{"AWS_ENDPOINT_URL": "http://elsewhere"}
	h.mustInvoke(g, "echo")
	edgeURL = ""
	h.mustInvoke(roleSpec("h"), "echo")
	sbs := h.d.sandboxes()
	if got := sbs[1].env("AWS_ENDPOINT_URL"); got != "http://elsewhere" {
		t.Errorf("function's own endpoint: %q", got)
	}
	for _, kv := range sbs[2].spec.Env {
		if strings.HasPrefix(kv, "AWS_ENDPOINT_URL=") {
			t.Errorf("a sandbox that cannot reach the edge got %s", kv)
		}
	}
}

// TestNoCredentials: without a minter, or for a spec without a role, a
// sandbox gets no credentials; a minter's failure fails the start.
func TestNoCredentials(t *testing.T) {
	h := newHarness(t, Config{})
	h.mustInvoke(roleSpec("f"), "echo")
	m := &fakeMinter{now: time.Now}
	h2 := newHarness(t, Config{Credentials: m})
	h2.mustInvoke(spec("f", "ok", 128), "echo")
	for _, sb := range append(h.d.sandboxes(), h2.d.sandboxes()...) {
		for _, kv := range sb.spec.Env {
			if strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID=") || strings.HasPrefix(kv, "AWS_SESSION_TOKEN=") {
				t.Errorf("got %s", kv)
			}
		}
	}
	m.err = errors.New("no key")
	if _, err := h2.invoke(t.Context(), roleSpec("g"), "echo"); err == nil || !strings.Contains(err.Error(), "minting credentials") {
		t.Errorf("start with a failing minter: %v", err)
	}
}

// TestCredentialsRenewedByRetiring: a sandbox whose credentials have less
// than CredentialRenewMargin left is not reused; the next invocation
// starts a sandbox with new credentials.
func TestCredentialsRenewedByRetiring(t *testing.T) {
	m := &fakeMinter{}
	h := newHarness(t, Config{Credentials: m, CredentialLifetime: time.Hour, IdleTimeout: 24 * time.Hour})
	m.now = h.clk.now
	f := roleSpec("f")
	if out := h.mustInvoke(f, "echo"); !out.ColdStart {
		t.Fatal("first invocation was warm")
	}
	h.clk.add(time.Hour - CredentialRenewMargin - time.Minute)
	if out := h.mustInvoke(f, "echo"); out.ColdStart {
		t.Fatal("a sandbox with 17 minutes of credentials left was not reused")
	}
	h.clk.add(2 * time.Minute)
	if out := h.mustInvoke(f, "echo"); !out.ColdStart {
		t.Fatal("a sandbox with 15 minutes of credentials left was reused")
	}
	sbs := h.d.sandboxes()
	if len(sbs) != 2 || m.count() != 2 || sbs[1].env("AWS_SESSION_TOKEN") != "token-2" {
		t.Fatalf("%d sandboxes, %d mints", len(sbs), m.count())
	}
	eventually(t, "the old sandbox destroyed", sbs[0].isDestroyed)

	// The reaper retires an idle sandbox as its credentials near expiry.
	h.reap(h.clk.add(time.Hour - CredentialRenewMargin))
	eventually(t, "the idle sandbox reaped", sbs[1].isDestroyed)
}

// TestProvisionedCredentialsRenewed: a provisioned sandbox whose
// credentials near expiry is replaced by one with new credentials.
func TestProvisionedCredentialsRenewed(t *testing.T) {
	m := &fakeMinter{}
	rep := &reporter{got: map[string]int{}}
	h := newHarness(t, Config{Credentials: m, CredentialLifetime: time.Hour, Provisioned: rep})
	m.now = h.clk.now
	f := roleSpec("f")
	f.Provisioned = true
	h.w.SetProvisioned([]ProvisionedTarget{{ID: "f:1", Spec: f, Want: 1}})
	eventually(t, "the provisioned sandbox", func() bool { return rep.allocated("f:1") == 1 })
	first := h.d.sandboxes()[0]
	h.clk.add(time.Hour - CredentialRenewMargin)
	h.w.kickProvisioned()
	eventually(t, "a replacement with new credentials", func() bool {
		starts, live := h.d.counts()
		return starts == 2 && live == 1 && first.isDestroyed()
	})
	if got := h.d.sandboxes()[1].env("AWS_SESSION_TOKEN"); got != "token-2" {
		t.Errorf("replacement has token %q", got)
	}
}
