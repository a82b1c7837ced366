package token

import (
	"crypto/subtle"
	"errors"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// Store resolves the credentials the edge accepts: the long-term root key
// and the temporary credentials Issuer minted. It implements
// awsproto.IdentityStore and is safe for concurrent use; its fields must
// not change once it is in use.
type Store struct {
	Issuer *Issuer
	// RootKeyID and RootSecret are the account's long-term root key.
	RootKeyID, RootSecret string
	// Root is the root key's identity (see Root).
	Root awsproto.Identity
}

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
		return "", awsproto.Identity{}, awsproto.Errorf(awsproto.UnrecognizedClientException, msgInvalid)
	}
	if s.Issuer == nil {
		return "", awsproto.Identity{}, awsproto.Errorf(awsproto.UnrecognizedClientException, msgInvalid)
	}
	secret, id, err := s.Issuer.Open(accessKeyID, sessionToken, now)
	switch {
	case errors.Is(err, ErrExpired):
		return "", id, awsproto.Errorf(awsproto.ExpiredTokenException, msgExpired)
	case err != nil:
		return "", id, awsproto.Errorf(awsproto.UnrecognizedClientException, msgInvalid)
	}
	return secret, id, nil
}
