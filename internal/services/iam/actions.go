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
}

// actions is every operation's authorization; TestActionTable checks it
// against the operation table.
var actions = map[string]action{
	"CreateUser": {kindUser}, "GetUser": {kindUser}, "ListUsers": {}, "DeleteUser": {kindUser}, "UpdateUser": {kindUser},
	"CreateAccessKey": {kindUser}, "ListAccessKeys": {kindUser}, "UpdateAccessKey": {kindUser}, "DeleteAccessKey": {kindUser},

	"CreateRole": {kindRole}, "GetRole": {kindRole}, "ListRoles": {}, "DeleteRole": {kindRole},
	"UpdateAssumeRolePolicy": {kindRole}, "UpdateRole": {kindRole}, "UpdateRoleDescription": {kindRole},

	"PutUserPolicy": {kindUser}, "GetUserPolicy": {kindUser}, "ListUserPolicies": {kindUser}, "DeleteUserPolicy": {kindUser},
	"PutGroupPolicy": {kindGroup}, "GetGroupPolicy": {kindGroup}, "ListGroupPolicies": {kindGroup}, "DeleteGroupPolicy": {kindGroup},
	"PutRolePolicy": {kindRole}, "GetRolePolicy": {kindRole}, "ListRolePolicies": {kindRole}, "DeleteRolePolicy": {kindRole},

	"CreatePolicy": {kindPolicy}, "GetPolicy": {kindPolicy}, "ListPolicies": {}, "DeletePolicy": {kindPolicy},
	"CreatePolicyVersion": {kindPolicy}, "GetPolicyVersion": {kindPolicy}, "ListPolicyVersions": {kindPolicy},
	"DeletePolicyVersion": {kindPolicy}, "SetDefaultPolicyVersion": {kindPolicy}, "ListEntitiesForPolicy": {kindPolicy},
	"AttachUserPolicy": {kindUser}, "DetachUserPolicy": {kindUser}, "ListAttachedUserPolicies": {kindUser},
	"AttachGroupPolicy": {kindGroup}, "DetachGroupPolicy": {kindGroup}, "ListAttachedGroupPolicies": {kindGroup},
	"AttachRolePolicy": {kindRole}, "DetachRolePolicy": {kindRole}, "ListAttachedRolePolicies": {kindRole},

	"CreateGroup": {kindGroup}, "GetGroup": {kindGroup}, "ListGroups": {}, "DeleteGroup": {kindGroup},
	"AddUserToGroup": {kindGroup}, "RemoveUserFromGroup": {kindGroup}, "ListGroupsForUser": {kindUser},

	"TagUser": {kindUser}, "UntagUser": {kindUser}, "ListUserTags": {kindUser},
	"TagRole": {kindRole}, "UntagRole": {kindRole}, "ListRoleTags": {kindRole},
	"TagPolicy": {kindPolicy}, "UntagPolicy": {kindPolicy}, "ListPolicyTags": {kindPolicy},
	"PutUserPermissionsBoundary": {kindUser}, "DeleteUserPermissionsBoundary": {kindUser},
	"PutRolePermissionsBoundary": {kindRole}, "DeleteRolePermissionsBoundary": {kindRole},
}

// resource is the ARN q's operation acts on.
func (a action) resource(s *Service, ctx context.Context, q awsproto.QueryRequest) string {
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
