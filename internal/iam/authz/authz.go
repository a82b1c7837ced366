// Package authz decides whether an authenticated caller may perform an
// operation: it gathers the policies that apply (the caller's identity
// policies from a Directory, the resource's policy, the session's) and asks
// the pure evaluator in internal/iam.
//
// Every service calls Authorize before an operation runs, with the IAM
// action and resource ARN its operation table names.
package authz

import (
	"context"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
)

// Directory is what authorization needs from IAM's state: whose a
// long-term access key is, and which policies apply to an identity. An
// implementation answers from memory (a view its store watches keep up to
// date): every method runs on signed requests and must not block on I/O.
// Returned values must not be modified by the caller.
type Directory interface {
	// AccessKey resolves an IAM user's long-term access key to its secret
	// and the user's identity (ARN arn:aws:iam::ACCOUNT:user/PATH/NAME,
	// UserID AIDA…). ok is false for an unknown or inactive key.
	AccessKey(accessKeyID string) (secret string, id awsproto.Identity, ok bool)
	// Principal returns what applies to an authenticated identity: for an
	// IAM user (or its GetSessionToken session) the user's inline and
	// attached policies and those of its groups, its permissions boundary
	// and tags; for a role session (id.RoleARN set) the role's. ok is false
	// when the user or role does not exist (any more): such credentials
	// are allowed nothing.
	Principal(id awsproto.Identity) (p Principal, ok bool)
	// Role returns a role by its ARN, for sts:AssumeRole.
	Role(roleARN string) (r Role, ok bool)
}

// Principal is the policies and tags of one user or role.
type Principal struct {
	// Policies are the identity-based policies, parsed with iam.KindIdentity.
	Policies []*iam.Policy
	// Boundary is the permissions boundary, nil if none.
	Boundary *iam.Policy
	// Tags are the principal's tags (aws:PrincipalTag/…).
	Tags map[string]string
}

// Role is what sts:AssumeRole needs of a role.
type Role struct {
	ARN string
	// ID is the role's unique id (AROA…).
	ID string
	// Trust is the role's trust policy (iam.KindTrust).
	Trust *iam.Policy
	// MaxSession is the longest session AssumeRole may grant (1 h to 12 h).
	MaxSession time.Duration
	Tags       map[string]string
}

// Check is one authorization question about the caller that ctx carries.
type Check struct {
	// Action is the IAM action: "lambda:InvokeFunction".
	Action string
	// Resource is the ARN acted on, "*" for actions without one.
	Resource string
	// ResourcePolicy is the resource's own policy (a function policy, a
	// role's trust policy), nil if it has none.
	ResourcePolicy *iam.Policy
	// Keys, ResourceTags and RequestTags fill the evaluator's request.
	Keys         map[string][]string
	ResourceTags map[string]string
	RequestTags  map[string]string
	// Denied is the error code the service answers a denial with
	// (AccessDeniedException for Lambda, AccessDenied for IAM and STS,
	// UnauthorizedOperation for EC2).
	Denied awsproto.Code
}

// Authorizer answers Checks. A nil *Authorizer allows everything (the
// operator turned authentication off).
type Authorizer struct {
	dir Directory
}

// Authorize returns nil when the caller in ctx may perform c, and otherwise
// an *awsproto.Error with c.Denied and the message AWS words the denial
// with.
func (a *Authorizer) Authorize(ctx context.Context, c Check) error {
	if a == nil {
		return nil
	}
	panic("authz: not yet implemented")
}
