package authz

import (
	"sync"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// Static is a Directory kept in memory and filled by its owner: the users,
// access keys and roles a server starts with, and what tests need. It is
// safe for concurrent use; a change applies to the next request.
type Static struct {
	mu    sync.RWMutex
	keys  map[string]staticKey
	users map[string]staticUser // by user ARN
	roles map[string]staticRole // by role ARN
	docs  map[string]string     // managed policy documents by ARN
}

type staticKey struct {
	secret, user string
}

type staticUser struct {
	id awsproto.Identity
	p  Principal
}

type staticRole struct {
	r Role
	p Principal
}

var (
	_ Directory       = (*Static)(nil)
	_ ManagedPolicies = (*Static)(nil)
)

// SetUser adds or replaces the IAM user id (ARN, Account and UserID set)
// with the policies p.
func (s *Static) SetUser(id awsproto.Identity, p Principal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users == nil {
		s.users = make(map[string]staticUser)
	}
	s.users[id.ARN] = staticUser{id, p}
}

// DeleteUser removes a user; its keys stop working.
func (s *Static) DeleteUser(userARN string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, userARN)
}

// SetAccessKey gives the user userARN the long-term key accessKeyID.
func (s *Static) SetAccessKey(accessKeyID, secret, userARN string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = make(map[string]staticKey)
	}
	s.keys[accessKeyID] = staticKey{secret, userARN}
}

// SetRole adds or replaces a role and the policies its sessions have.
func (s *Static) SetRole(r Role, p Principal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.roles == nil {
		s.roles = make(map[string]staticRole)
	}
	s.roles[r.ARN] = staticRole{r, p}
}

// AccessKey implements Directory.
func (s *Static) AccessKey(accessKeyID string) (string, awsproto.Identity, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[accessKeyID]
	if !ok {
		return "", awsproto.Identity{}, false
	}
	u, ok := s.users[k.user]
	if !ok {
		return "", awsproto.Identity{}, false
	}
	return k.secret, u.id, true
}

// Principal implements Directory.
func (s *Static) Principal(id awsproto.Identity) (Principal, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if id.RoleARN != "" {
		r, ok := s.roles[id.RoleARN]
		return r.p, ok
	}
	u, ok := s.users[id.ARN]
	return u.p, ok
}

// Role implements Directory.
func (s *Static) Role(roleARN string) (Role, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.roles[roleARN]
	return r.r, ok
}

// SetManagedPolicy adds or replaces the document of a managed policy.
func (s *Static) SetManagedPolicy(policyARN, doc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.docs == nil {
		s.docs = make(map[string]string)
	}
	s.docs[policyARN] = doc
}

// ManagedPolicy implements ManagedPolicies.
func (s *Static) ManagedPolicy(policyARN string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, ok := s.docs[policyARN]
	return d, ok
}
