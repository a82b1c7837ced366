package token

import (
	"crypto/subtle"
	"errors"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// Store resolves the credentials the edge accepts: the long-term root key,
// the IAM users' long-term keys Keys knows, and the temporary credentials
// Issuer minted. It implements
// awsproto.IdentityStore and is safe for concurrent use; its exported
// fields must not change once it is in use, and it must not be copied.
type Store struct {
	Issuer *Issuer
	// RootKeyID and RootSecret are the account's long-term root key.
	RootKeyID, RootSecret string
	// Root is the root key's identity (see Root).
	Root awsproto.Identity
	// Keys, when not nil, resolves the other long-term access keys (IAM
	// users'): the secret and the identity of an active key. It is asked
	// for keys sent without a session token that are not the root's,
	// and must not block on I/O.
	Keys interface {
		AccessKey(accessKeyID string) (secret string, id awsproto.Identity, ok bool)
	}

	// opened caches tokens that opened, so a sandbox's steady stream of
	// calls pays for the AES-GCM open once. Only tokens that opened are
	// kept, and the map is emptied when it reaches maxOpened, so forged
	// tokens cannot grow it. Expiry is checked on every use.
	mu     sync.RWMutex
	opened map[string]openedToken
}

type openedToken struct {
	akid, secret string
	id           awsproto.Identity
}

const maxOpened = 4096

var _ awsproto.IdentityStore = (*Store)(nil)

// SecretKey implements awsproto.CredentialStore for the root key alone: a
// verifier that uses it without a session token never accepts temporary
// credentials.
func (s *Store) SecretKey(accessKeyID string) (string, bool) {
	if s.RootKeyID != "" && subtle.ConstantTimeCompare([]byte(accessKeyID), []byte(s.RootKeyID)) == 1 {
		return s.RootSecret, true
	}
	return "", false
}

// Resolve implements awsproto.IdentityStore. A long-term key sent with a
// session token, and a temporary one without, is not recognized, as AWS
// answers.
func (s *Store) Resolve(accessKeyID, sessionToken string, now time.Time) (string, awsproto.Identity, error) {
	if sessionToken == "" {
		if secret, ok := s.SecretKey(accessKeyID); ok {
			return secret, s.Root, nil
		}
		if s.Keys != nil {
			if secret, id, ok := s.Keys.AccessKey(accessKeyID); ok {
				return secret, id, nil
			}
		}
		return "", awsproto.Identity{}, awsproto.Errorf(awsproto.UnrecognizedClientException, msgInvalid)
	}
	if s.Issuer == nil {
		return "", awsproto.Identity{}, awsproto.Errorf(awsproto.UnrecognizedClientException, msgInvalid)
	}
	s.mu.RLock()
	o, hit := s.opened[sessionToken]
	s.mu.RUnlock()
	if hit && o.akid == accessKeyID {
		if !now.Before(o.id.Expires) {
			return "", o.id, awsproto.Errorf(awsproto.ExpiredTokenException, msgExpired)
		}
		return o.secret, o.id, nil
	}
	secret, id, err := s.Issuer.Open(accessKeyID, sessionToken, now)
	switch {
	case errors.Is(err, ErrExpired):
		return "", id, awsproto.Errorf(awsproto.ExpiredTokenException, msgExpired)
	case err != nil:
		return "", id, awsproto.Errorf(awsproto.UnrecognizedClientException, msgInvalid)
	}
	s.mu.Lock()
	if s.opened == nil || len(s.opened) >= maxOpened {
		s.opened = make(map[string]openedToken)
	}
	s.opened[sessionToken] = openedToken{akid: accessKeyID, secret: secret, id: id}
	s.mu.Unlock()
	return secret, id, nil
}
