package iam

import (
	"context"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// action is how an operation is authorized: the IAM action is
// "iam:<Operation>" (every operation served has an action of its own
// name), the resource the ARN of the entity it acts on, built from the
// request's members with the entity's path as the view has it (the
// request's Path for a create).
type action struct {
	// on is the kind of entity whose ARN is the resource; 0 for "*".
	on kind
	// list is the kind a List operation lists: its resource is the ARN
	// prefix its PathPrefix selects (arn:aws:iam::123456789012:user/), as
	// IAM's denials name it.
	list kind
}

// actions is every operation's authorization; TestActionTable checks it
// against the operation table.
var actions = map[string]action{
	"CreateUser": {on: kindUser}, "GetUser": {on: kindUser}, "ListUsers": {list: kindUser}, "DeleteUser": {on: kindUser}, "UpdateUser": {on: kindUser},
	"CreateAccessKey": {on: kindUser}, "ListAccessKeys": {on: kindUser}, "UpdateAccessKey": {on: kindUser}, "DeleteAccessKey": {on: kindUser},

	"CreateRole": {on: kindRole}, "GetRole": {on: kindRole}, "ListRoles": {list: kindRole}, "DeleteRole": {on: kindRole},
	"UpdateAssumeRolePolicy": {on: kindRole}, "UpdateRole": {on: kindRole}, "UpdateRoleDescription": {on: kindRole},

	"PutUserPolicy": {on: kindUser}, "GetUserPolicy": {on: kindUser}, "ListUserPolicies": {on: kindUser}, "DeleteUserPolicy": {on: kindUser},
	"PutGroupPolicy": {on: kindGroup}, "GetGroupPolicy": {on: kindGroup}, "ListGroupPolicies": {on: kindGroup}, "DeleteGroupPolicy": {on: kindGroup},
	"PutRolePolicy": {on: kindRole}, "GetRolePolicy": {on: kindRole}, "ListRolePolicies": {on: kindRole}, "DeleteRolePolicy": {on: kindRole},

	"CreatePolicy": {on: kindPolicy}, "GetPolicy": {on: kindPolicy}, "ListPolicies": {list: kindPolicy}, "DeletePolicy": {on: kindPolicy},
	"CreatePolicyVersion": {on: kindPolicy}, "GetPolicyVersion": {on: kindPolicy}, "ListPolicyVersions": {on: kindPolicy},
	"DeletePolicyVersion": {on: kindPolicy}, "SetDefaultPolicyVersion": {on: kindPolicy}, "ListEntitiesForPolicy": {on: kindPolicy},
	"AttachUserPolicy": {on: kindUser}, "DetachUserPolicy": {on: kindUser}, "ListAttachedUserPolicies": {on: kindUser},
	"AttachGroupPolicy": {on: kindGroup}, "DetachGroupPolicy": {on: kindGroup}, "ListAttachedGroupPolicies": {on: kindGroup},
	"AttachRolePolicy": {on: kindRole}, "DetachRolePolicy": {on: kindRole}, "ListAttachedRolePolicies": {on: kindRole},

	"CreateGroup": {on: kindGroup}, "GetGroup": {on: kindGroup}, "ListGroups": {list: kindGroup}, "DeleteGroup": {on: kindGroup},
	"AddUserToGroup": {on: kindGroup}, "RemoveUserFromGroup": {on: kindGroup}, "ListGroupsForUser": {on: kindUser},

	"TagUser": {on: kindUser}, "UntagUser": {on: kindUser}, "ListUserTags": {on: kindUser},
	"TagRole": {on: kindRole}, "UntagRole": {on: kindRole}, "ListRoleTags": {on: kindRole},
	"TagPolicy": {on: kindPolicy}, "UntagPolicy": {on: kindPolicy}, "ListPolicyTags": {on: kindPolicy},
	"PutUserPermissionsBoundary": {on: kindUser}, "DeleteUserPermissionsBoundary": {on: kindUser},
	"PutRolePermissionsBoundary": {on: kindRole}, "DeleteRolePermissionsBoundary": {on: kindRole},
}

// resource is the ARN q's operation acts on.
func (a action) resource(s *Service, ctx context.Context, q awsproto.QueryRequest) string {
	if a.list != 0 {
		return s.dir.entityARN(strings.ToLower(a.list.word()), pathOr(q.Params.Get("PathPrefix")), "")
	}
	if a.on == 0 {
		return "*"
	}
	if a.on == kindPolicy {
		if v := q.Params.Get("PolicyArn"); v != "" {
			return v
		}
		// CreatePolicy: the policy it makes.
		return s.dir.entityARN("policy", pathOr(q.Params.Get("Path")), q.Params.Get("PolicyName"))
	}
	name := q.Params.Get(a.on.param())
	if a.on == kindUser && name == "" {
		// Access keys of the caller's own user.
		if n, err := s.userName(ctx, ""); err == nil {
			name = n
		}
	}
	path := pathOr(q.Params.Get("Path"))
	if f, ok := s.viewEntity(a.on, name); ok {
		name, path = f.name, f.path
	}
	return s.dir.entityARN(strings.ToLower(a.on.word()), path, name)
}

// tags are the tags of the user, role or policy q's operation acts on
// (iam:ResourceTag/…), nil for other kinds or an entity that does not
// exist (yet).
func (a action) tags(s *Service, q awsproto.QueryRequest) map[string]string {
	var name string
	switch a.on {
	case kindUser, kindRole:
		name = q.Params.Get(a.on.param())
	case kindPolicy:
		name = q.Params.Get("PolicyArn")
	default:
		return nil
	}
	if f, ok := s.viewEntity(a.on, name); ok && f.tags != nil {
		return tagMap(*f.tags)
	}
	return nil
}
