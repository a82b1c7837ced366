package authz

import (
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// Keys is the edge's awsproto.IdentityStore with IAM users: a long-term
// access key the Directory knows resolves to its user; every other key
// (the root key, temporary credentials) goes to Next.
type Keys struct {
	Directory Directory
	Next      awsproto.IdentityStore
}

var _ awsproto.IdentityStore = Keys{}

// SecretKey implements awsproto.CredentialStore.
func (k Keys) SecretKey(accessKeyID string) (string, bool) {
	if k.Directory != nil {
		if secret, _, ok := k.Directory.AccessKey(accessKeyID); ok {
			return secret, true
		}
	}
	return k.Next.SecretKey(accessKeyID)
}

// Resolve implements awsproto.IdentityStore.
func (k Keys) Resolve(accessKeyID, sessionToken string, now time.Time) (string, awsproto.Identity, error) {
	if sessionToken == "" && k.Directory != nil {
		if secret, id, ok := k.Directory.AccessKey(accessKeyID); ok {
			return secret, id, nil
		}
	}
	return k.Next.Resolve(accessKeyID, sessionToken, now)
}
