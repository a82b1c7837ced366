package app

import (
	"net"
	"sync/atomic"
	"time"

	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/sandbox"
	"github.com/kumo-run/kumo/internal/worker"
)

// tokenKeyFile is the node key that seals session tokens (package token),
// kept in the data dir with mode 0600 like url-signing.key. The nodes of a
// cluster share one through the store (keyring); replacing it invalidates
// every session token outstanding.
const tokenKeyFile = "session-token.key"

// roleMinter mints sandboxes' execution-role credentials with the token
// issuer, the way STS AssumeRole does.
type roleMinter struct{ is *token.Issuer }

var _ worker.CredentialMinter = roleMinter{}

func (m roleMinter) RoleCredentials(roleARN, session string, lifetime time.Duration) (worker.RoleCredentials, error) {
	id, err := m.is.RoleSession(roleARN, session)
	if err != nil {
		return worker.RoleCredentials{}, err
	}
	c, err := m.is.Mint(id, lifetime)
	if err != nil {
		return worker.RoleCredentials{}, err
	}
	return worker.RoleCredentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
		SessionToken: c.SessionToken, Expiration: c.Expiration}, nil
}

// edgeReacher is implemented by a sandbox driver whose sandboxes have a
// network of their own: EdgeURL is the edge, listening at listenAddr on
// the host, as its sandboxes reach it ("" when they cannot).
type edgeReacher interface {
	EdgeURL(listenAddr string) string
}

// sandboxEdge is the edge's URL as sandboxes see it (worker.Config's
// SandboxEdgeURL), known once the edge listens.
type sandboxEdge struct{ url atomic.Pointer[string] }

func (e *sandboxEdge) URL() string {
	if u := e.url.Load(); u != nil {
		return *u
	}
	return ""
}

// set records the edge's listening address: a driver with networking
// says how its sandboxes reach it; sandboxes that share the host's
// network (the process driver) use its loopback address; isolated
// sandboxes without a network get none.
func (e *sandboxEdge) set(d sandbox.Driver, listenAddr string) {
	var u string
	switch r, ok := d.(edgeReacher); {
	case ok:
		u = r.EdgeURL(listenAddr)
	case !d.Capabilities().Isolated:
		u = hostLoopbackURL(listenAddr)
	}
	e.url.Store(&u)
}

// setURL records the edge's URL as sandboxes on a network of their own
// reach it (a listener on the sandbox network's bridge address).
func (e *sandboxEdge) setURL(u string) { e.url.Store(&u) }

// hostLoopbackURL is http://host:port for a listening address, with an
// unspecified host ("", 0.0.0.0, ::) replaced by the loopback address.
func hostLoopbackURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		return ""
	}
	switch ip := net.ParseIP(host); {
	case host == "", ip != nil && ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
