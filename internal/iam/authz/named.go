package authz

import (
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
)

// NamedRoles is a Directory for a server whose roles are names only, as
// they were before IAM kept roles: a role of the account that the
// wrapped Directory does not know may be assumed by any principal of the
// account its policies allow to, and its sessions (the execution-role
// credentials of sandboxes among them) may do whatever the account may,
// within their session policies. Roles the wrapped Directory knows, and
// every user, are its own.
type NamedRoles struct {
	Directory
	account string
	all     Principal
	trust   *iam.Policy
}

var (
	_ Directory       = (*NamedRoles)(nil)
	_ ManagedPolicies = (*NamedRoles)(nil)
)

// NewNamedRoles wraps d for the account.
func NewNamedRoles(d Directory, account string) *NamedRoles {
	all, err := iam.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, iam.KindIdentity)
	if err != nil {
		panic(err)
	}
	trust, err := iam.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+account+`"},"Action":"sts:AssumeRole"}]}`, iam.KindTrust)
	if err != nil {
		panic(err)
	}
	return &NamedRoles{Directory: d, account: account, all: Principal{Policies: []*iam.Policy{all}}, trust: trust}
}

// Principal implements Directory.
func (n *NamedRoles) Principal(id awsproto.Identity) (Principal, bool) {
	if p, ok := n.Directory.Principal(id); ok {
		return p, true
	}
	if id.RoleARN != "" && n.ours(id.RoleARN) {
		return n.all, true
	}
	return Principal{}, false
}

// Role implements Directory.
func (n *NamedRoles) Role(roleARN string) (Role, bool) {
	if r, ok := n.Directory.Role(roleARN); ok {
		return r, true
	}
	if !n.ours(roleARN) {
		return Role{}, false
	}
	return Role{ARN: roleARN, Trust: n.trust, MaxSession: 12 * time.Hour}, true
}

// ManagedPolicy implements ManagedPolicies with the wrapped Directory's.
func (n *NamedRoles) ManagedPolicy(policyARN string) (string, bool) {
	if mp, ok := n.Directory.(ManagedPolicies); ok {
		return mp.ManagedPolicy(policyARN)
	}
	return "", false
}

// ours reports whether roleARN is a role of the account.
func (n *NamedRoles) ours(roleARN string) bool {
	return strings.HasPrefix(roleARN, "arn:") && strings.Contains(roleARN, ":iam::"+n.account+":role/")
}
