package iam

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/store"
)

// Tag is a user's, role's or policy's tag.
type Tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// user is a stored IAM user.
type user struct {
	Name, Path, ID string
	Created        time.Time
	Tags           []Tag             `json:",omitempty"`
	Inline         map[string]string `json:",omitempty"` // policy name → document
	Attached       []string          `json:",omitempty"` // managed policy ARNs
	Boundary       string            `json:",omitempty"`
	Groups         []string          `json:",omitempty"` // group names
	Keys           []accessKey       `json:",omitempty"`
}

// accessKey is one of a user's long-term access keys. Sealed is the
// secret sealed with the issuer's stored-secret cipher: nonce, then
// ciphertext, with the key id as additional data.
type accessKey struct {
	ID      string
	Sealed  []byte
	Status  string
	Created time.Time
}

// Access key statuses.
const (
	statusActive   = "Active"
	statusInactive = "Inactive"
)

// group is a stored IAM group. Its members are in the users' documents.
type group struct {
	Name, Path, ID string
	Created        time.Time
	Inline         map[string]string `json:",omitempty"`
	Attached       []string          `json:",omitempty"`
}

// role is a stored IAM role.
type role struct {
	Name, Path, ID string
	Description    string `json:",omitempty"`
	Created        time.Time
	Trust          string
	MaxSession     int32             // seconds
	Tags           []Tag             `json:",omitempty"`
	Inline         map[string]string `json:",omitempty"`
	Attached       []string          `json:",omitempty"`
	Boundary       string            `json:",omitempty"`
}

// policy is a customer managed policy.
type policy struct {
	Name, Path, ID string
	Description    string `json:",omitempty"`
	Created        time.Time
	Updated        time.Time
	Tags           []Tag `json:",omitempty"`
	Default        string
	Versions       []policyVersion
	// NextVersion is the number of the next version: versions are never
	// renumbered, v3 stays v3 after v2 is deleted.
	NextVersion int
}

type policyVersion struct {
	ID       string
	Document string
	Created  time.Time
}

func (p *policy) version(id string) *policyVersion {
	for i := range p.Versions {
		if p.Versions[i].ID == id {
			return &p.Versions[i]
		}
	}
	return nil
}

func (p *policy) defaultDocument() string {
	if v := p.version(p.Default); v != nil {
		return v.Document
	}
	return ""
}

// Key prefixes of the bucket's documents.
const (
	userPrefix   = "user."
	groupPrefix  = "group."
	rolePrefix   = "role."
	policyPrefix = "policy."
)

// nameToken is a name as one key token: lower case (IAM names are unique
// regardless of case), unpadded base64url.
func nameToken(name string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strings.ToLower(name)))
}

func userKey(name string) string   { return userPrefix + nameToken(name) }
func groupKey(name string) string  { return groupPrefix + nameToken(name) }
func roleKey(name string) string   { return rolePrefix + nameToken(name) }
func policyKey(name string) string { return policyPrefix + nameToken(name) }

// newID is an IAM unique id: the prefix and 17 characters, as AWS's.
func newID(prefix string) string {
	var b [11]byte
	rand.Read(b[:])
	return prefix + base32.StdEncoding.EncodeToString(b[:])[:17]
}

// newAccessKeyID is AKIA and 16 characters.
func newAccessKeyID() string {
	var b [10]byte
	rand.Read(b[:])
	return "AKIA" + base32.StdEncoding.EncodeToString(b[:])
}

// newSecret is a 40-character secret access key.
func newSecret() string {
	var b [30]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// maxAttempts bounds how often a write is tried again after losing a race
// with another writer of the same document.
const maxAttempts = 32

func concurrent() error {
	return awsproto.Errorf(awsproto.IAMConcurrentModification, "Another request changed this entity at the same time. Try again.")
}

// create writes a new document under key; exists is the error when the
// key is taken.
func create[T any](ctx context.Context, s *Service, key string, doc *T, exists error) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return awsproto.Internal(err)
	}
	rev, err := s.kv.Create(ctx, key, b)
	switch {
	case errors.Is(err, store.ErrExists):
		return exists
	case err != nil:
		return awsproto.Internal(fmt.Errorf("creating %s: %w", key, err))
	}
	s.dir.apply(store.Entry{Key: key, Value: b, Revision: rev})
	return nil
}

// modify reads the document under key, lets fn change it and writes it
// back at the revision read, starting again when another writer came
// first. missing is the error for an absent key; an error from fn is
// returned as it is and nothing is written.
func modify[T any](ctx context.Context, s *Service, key string, missing error, fn func(*T) error) (*T, error) {
	for range maxAttempts {
		e, err := s.kv.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil, missing
		}
		if err != nil {
			return nil, awsproto.Internal(fmt.Errorf("reading %s: %w", key, err))
		}
		doc := new(T)
		if err := json.Unmarshal(e.Value, doc); err != nil {
			return nil, awsproto.Internal(fmt.Errorf("decoding %s: %w", key, err))
		}
		if err := fn(doc); err != nil {
			return nil, err
		}
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, awsproto.Internal(err)
		}
		rev, err := s.kv.Update(ctx, key, b, e.Revision)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, awsproto.Internal(fmt.Errorf("writing %s: %w", key, err))
		}
		s.dir.apply(store.Entry{Key: key, Value: b, Revision: rev})
		return doc, nil
	}
	return nil, concurrent()
}

// remove deletes the document under key if check accepts it, at the
// revision check saw.
func remove[T any](ctx context.Context, s *Service, key string, missing error, check func(*T) error) error {
	for range maxAttempts {
		e, err := s.kv.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return missing
		}
		if err != nil {
			return awsproto.Internal(fmt.Errorf("reading %s: %w", key, err))
		}
		doc := new(T)
		if err := json.Unmarshal(e.Value, doc); err != nil {
			return awsproto.Internal(fmt.Errorf("decoding %s: %w", key, err))
		}
		if check != nil {
			if err := check(doc); err != nil {
				return err
			}
		}
		err = s.kv.Delete(ctx, key, e.Revision)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return awsproto.Internal(fmt.Errorf("deleting %s: %w", key, err))
		}
		// The deletion's revision is not known here; the watch brings
		// it. The view drops the key now, at the revision read.
		s.dir.apply(store.Entry{Key: key, Revision: e.Revision + 1, Deleted: true})
		return nil
	}
	return concurrent()
}

// stableID is 17 id characters derived from s, for the AWS managed
// policies' ids (the same on every node).
func stableID(s string) string {
	h := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(h[:])[:17]
}

// compact is a JSON document without insignificant white space.
func compact(doc []byte) (string, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, doc); err != nil {
		return "", err
	}
	return b.String(), nil
}
