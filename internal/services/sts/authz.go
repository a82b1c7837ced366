package sts

import (
	"errors"
	"net/http"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
)

// Session policy limits of AssumeRole (its Policy and PolicyArns members).
const (
	maxSessionPolicy = 2048
	maxPolicyArns    = 10
)

// operation is how an STS action is authorized.
type operation struct {
	// action is the IAM action; "" for operations AWS allows every
	// authenticated caller (GetCallerIdentity, GetSessionToken).
	action string
	// own is set when the operation checks its caller itself, against
	// a resource it must first look up (AssumeRole's role).
	own bool
}

// operations maps every operation the service dispatches to how it is
// authorized.
var operations = map[string]operation{
	"GetCallerIdentity": {},
	"GetSessionToken":   {},
	"AssumeRole":        {action: "sts:AssumeRole", own: true},
}

// authorize checks the operations that are not their own check.
func (s *Service) authorize(r *http.Request, action string) error {
	op, ok := operations[action]
	if s.cfg.Authorizer == nil || op.action == "" && ok || op.own {
		return nil
	}
	if !ok {
		op.action = "sts:" + action
	}
	return s.cfg.Authorizer.Authorize(r.Context(), authz.Check{Action: op.action, Resource: "*",
		SourceIP: authz.SourceIP(r), Denied: awsproto.AccessDenied})
}

// authorizeAssumeRole checks that the caller may assume roleARN: its own
// policies allow sts:AssumeRole on the role and the role's trust policy
// names it. A role that does not exist is refused the way AWS refuses
// it, without telling it from one the caller may not assume. checked is
// false when nothing was checked (authentication is off). The account
// root may assume any role of the account that exists, whatever its
// trust policy says (AWS refuses root AssumeRole altogether; Kumo's root
// key is where every installation starts, so it keeps this one power).
func (s *Service) authorizeAssumeRole(r *http.Request, roleARN string) (role authz.Role, checked bool, err error) {
	az := s.cfg.Authorizer
	if az == nil {
		return role, false, nil
	}
	c, ok := awsproto.CallerFrom(r.Context())
	if !ok || c.Anonymous || c.Identity.ARN == "" {
		return role, false, nil
	}
	role, ok = az.Role(roleARN)
	if !ok {
		return role, true, awsproto.Errorf(awsproto.AccessDenied, "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", c.Identity.ARN, clipName(roleARN))
	}
	if c.Identity.ARN == s.root().ARN {
		return role, true, nil
	}
	return role, true, az.AuthorizeAssumeRole(r.Context(), authz.Check{Action: "sts:AssumeRole", Resource: role.ARN,
		ResourcePolicy: role.Trust, SourceIP: authz.SourceIP(r), Denied: awsproto.AccessDenied})
}

// root is the account root's identity.
func (s *Service) root() awsproto.Identity { return token.Root(s.cfg.Partition, s.cfg.Account) }

// sessionPolicy validates AssumeRole's session policies and returns them
// as the minted session carries them (authz.JoinSession): the inline
// Policy, then the documents of PolicyArns, which the Directory must
// know (authz.Policies).
func (s *Service) sessionPolicy(in assumeRoleInput) (string, error) {
	var docs []string
	if in.Policy != "" {
		if _, err := iam.Parse(in.Policy, iam.KindIdentity); err != nil {
			return "", malformed(err)
		}
		docs = append(docs, in.Policy)
	}
	if len(in.PolicyArns) > 0 {
		src := s.cfg.Authorizer.Policies()
		for _, p := range in.PolicyArns {
			if src == nil {
				if s.cfg.Authorizer == nil {
					continue // nothing is enforced: accepted and ignored
				}
				return "", awsproto.Errorf(awsproto.STSMalformedPolicyDocument, "Policy %s does not exist or is not attachable.", clipName(p.ARN))
			}
			doc, ok := src.ManagedPolicy(p.ARN)
			if ok {
				if _, err := iam.Parse(doc, iam.KindIdentity); err != nil {
					return "", malformed(err)
				}
			}
			if !ok {
				return "", awsproto.Errorf(awsproto.STSMalformedPolicyDocument, "Policy %s does not exist or is not attachable.", clipName(p.ARN))
			}
			docs = append(docs, doc)
		}
	}
	return authz.JoinSession(docs), nil
}

func malformed(err error) error {
	var me *iam.MalformedError
	if errors.As(err, &me) {
		return awsproto.Errorf(awsproto.STSMalformedPolicyDocument, "%s", me.Message)
	}
	return awsproto.Internal(err)
}
