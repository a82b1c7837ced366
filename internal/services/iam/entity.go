package iam

import (
	"context"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	iampolicy "github.com/kumo-run/kumo/internal/iam"
)

// kind is the kind of entity an operation names.
type kind uint8

const (
	kindUser kind = iota + 1
	kindGroup
	kindRole
	kindPolicy
)

// param is the request member naming the entity.
func (k kind) param() string {
	switch k {
	case kindUser:
		return "UserName"
	case kindGroup:
		return "GroupName"
	case kindRole:
		return "RoleName"
	}
	return "PolicyArn"
}

// member is param as validation messages spell it.
func (k kind) member() string {
	p := k.param()
	return strings.ToLower(p[:1]) + p[1:]
}

func (k kind) maxName() int {
	if k == kindGroup {
		return 128
	}
	return 64
}

func (k kind) missing(name string) error {
	switch k {
	case kindUser:
		return noUser(name)
	case kindGroup:
		return noGroup(name)
	case kindRole:
		return noRole(name)
	}
	return noPolicy(name)
}

// word is the kind in IAM's messages and quota names.
func (k kind) word() string {
	switch k {
	case kindUser:
		return "User"
	case kindGroup:
		return "Group"
	case kindRole:
		return "Role"
	}
	return "Policy"
}

func (k kind) inlineQuota() iampolicy.Quota {
	switch k {
	case kindUser:
		return iampolicy.QuotaUserInline
	case kindGroup:
		return iampolicy.QuotaGroupInline
	}
	return iampolicy.QuotaRoleInline
}

// fields are the parts of a user, group, role or policy document that
// operations common to several kinds change; nil where the kind has none.
type fields struct {
	name     string
	path     string
	inline   *map[string]string
	attached *[]string
	boundary *string
	tags     *[]Tag
}

func userFields(u *user) fields {
	return fields{u.Name, u.Path, &u.Inline, &u.Attached, &u.Boundary, &u.Tags}
}
func groupFields(g *group) fields { return fields{g.Name, g.Path, &g.Inline, &g.Attached, nil, nil} }
func roleFields(r *role) fields {
	return fields{r.Name, r.Path, &r.Inline, &r.Attached, &r.Boundary, &r.Tags}
}
func policyFields(p *policy) fields { return fields{p.Name, p.Path, nil, nil, nil, &p.Tags} }

// checkEntityName validates the name (or, for a policy, the ARN) q names.
func checkEntityName(k kind, name string) error {
	if k == kindPolicy {
		if len(name) < 20 || len(name) > 2048 {
			return validation("Value at 'policyArn' failed to satisfy constraint: Member must have length between 20 and 2048")
		}
		return nil
	}
	return validation(checkName(nil, k.member(), name, k.maxName())...)
}

// modifyEntity changes the entity of kind k named name (for a policy: its
// ARN) through fn, as modify does.
func modifyEntity(ctx context.Context, s *Service, k kind, name string, fn func(fields) error) error {
	var err error
	switch k {
	case kindUser:
		_, err = modify(ctx, s, userKey(name), noUser(name), func(u *user) error { return fn(userFields(u)) })
	case kindGroup:
		_, err = modify(ctx, s, groupKey(name), noGroup(name), func(g *group) error { return fn(groupFields(g)) })
	case kindRole:
		_, err = modify(ctx, s, roleKey(name), noRole(name), func(r *role) error { return fn(roleFields(r)) })
	case kindPolicy:
		if awsManaged(name) != nil {
			return unmodifiable(name)
		}
		pname, ok := s.customerPolicyName(name)
		if !ok {
			return noPolicy(name)
		}
		_, err = modify(ctx, s, policyKey(pname), noPolicy(name), func(p *policy) error {
			if s.dir.policyARN(p) != name {
				return noPolicy(name)
			}
			return fn(policyFields(p))
		})
	}
	return err
}

// viewEntity is the entity of kind k named name in the view.
func (s *Service) viewEntity(k kind, name string) (fields, bool) {
	v := s.dir.view()
	switch k {
	case kindUser:
		if u := v.users[strings.ToLower(name)]; u != nil {
			return userFields(u), true
		}
	case kindGroup:
		if g := v.groups[strings.ToLower(name)]; g != nil {
			return groupFields(g), true
		}
	case kindRole:
		if r := v.roles[strings.ToLower(name)]; r != nil {
			return roleFields(r), true
		}
	case kindPolicy:
		if p := v.policyByARN(s.dir, name); p != nil {
			return policyFields(p), true
		}
	}
	return fields{}, false
}

// customerPolicyName is the name in a customer managed policy's ARN of
// this account.
func (s *Service) customerPolicyName(policyARN string) (string, bool) {
	prefix := s.dir.entityARN("policy", "", "")
	if !strings.HasPrefix(policyARN, prefix) {
		return "", false
	}
	rest := policyARN[len(prefix):]
	if !strings.HasPrefix(rest, "/") {
		return "", false
	}
	name := rest[strings.LastIndexByte(rest, '/')+1:]
	return name, name != ""
}

func unmodifiable(policyARN string) error {
	return awsproto.Errorf(awsproto.IAMUnmodifiableEntity, "Cannot perform the operation on the AWS managed policy %s.", clip(policyARN))
}
