package worker

import (
	"fmt"
	"time"
)

// Execution-role credentials.
//
// Every sandbox gets credentials for its function's execution role, minted
// when it starts (Config.Credentials): a role session named after the
// function, as Lambda names it, lasting Config.CredentialLifetime (12 h by
// default, the longest a role session may last). Credentials in an
// environment cannot be replaced while the runtime runs, so the worker
// renews them the only way it can: by retiring a sandbox — when it is
// idle, in the reaper, or when it would be reused — once less than
// CredentialRenewMargin of their life is left. That margin covers the
// longest invocation (15 minutes), so no invocation starts with
// credentials that could expire before it ends. A sandbox thus lives at
// most CredentialLifetime − CredentialRenewMargin (11 h 44 min by
// default); keep-alive windows longer than that end early, at the cost of
// one cold start. Provisioned-concurrency sandboxes are renewed the same
// way: the reconciler retires an idle one whose credentials near expiry
// and starts its replacement in the same pass.

// DefaultCredentialLifetime is Config.CredentialLifetime when zero.
const DefaultCredentialLifetime = 12 * time.Hour

// CredentialRenewMargin is how much life a sandbox's credentials must have
// left for it to take another invocation: Lambda's longest timeout and a
// minute.
const CredentialRenewMargin = 16 * time.Minute

// Environment variables the worker sets for the SDKs inside a sandbox.
const endpointVar = "AWS_ENDPOINT_URL"

// credentialVar reports whether name is one of the role credentials'
// variables, which a function's own environment cannot set.
func credentialVar(name string) bool {
	switch name {
	case "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN":
		return true
	}
	return false
}

// CredentialMinter mints the credentials of a role session; the worker
// names the session after the function, as Lambda does. It must be
// safe for concurrent use and must not block on I/O: it runs on every
// cold start.
type CredentialMinter interface {
	RoleCredentials(roleARN, sessionName string, lifetime time.Duration) (RoleCredentials, error)
}

// RoleCredentials are temporary credentials of a role session.
type RoleCredentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
}

// roleCredentials mints spec's sandbox credentials, or returns nil when the
// worker gives none (no minter, or a function without a role).
func (w *Worker) roleCredentials(spec *Spec) (*RoleCredentials, error) {
	if w.cfg.Credentials == nil || spec.Role == "" {
		return nil, nil
	}
	d := w.cfg.CredentialLifetime
	if d <= 0 {
		d = DefaultCredentialLifetime
	}
	c, err := w.cfg.Credentials.RoleCredentials(spec.Role, spec.FunctionName, d)
	if err != nil {
		return nil, fmt.Errorf("minting credentials for role %s: %w", spec.Role, err)
	}
	return &c, nil
}

// credsStale reports whether in's credentials have less than
// CredentialRenewMargin left at now.
func (in *instance) credsStale(now time.Time) bool {
	return !in.credsExpire.IsZero() && !now.Add(CredentialRenewMargin).Before(in.credsExpire)
}
