package iam

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	iampolicy "github.com/kumo-run/kumo/internal/iam"
)

// Role session limits: MaxSessionDuration is 1 to 12 hours, 1 hour when
// not given.
const (
	minMaxSession     = 3600
	maxMaxSession     = 43200
	defaultMaxSession = 3600
)

type roleXML struct {
	Path                     string       `xml:"Path"`
	RoleName                 string       `xml:"RoleName"`
	RoleID                   string       `xml:"RoleId"`
	ARN                      string       `xml:"Arn"`
	CreateDate               time.Time    `xml:"CreateDate"`
	AssumeRolePolicyDocument string       `xml:"AssumeRolePolicyDocument,omitempty"`
	Description              string       `xml:"Description,omitempty"`
	MaxSessionDuration       int32        `xml:"MaxSessionDuration,omitempty"`
	PermissionsBoundary      *boundaryXML `xml:"PermissionsBoundary,omitempty"`
	Tags                     []Tag        `xml:"Tags>member,omitempty"`
}

func (s *Service) roleXML(r *role, withTags bool) roleXML {
	x := roleXML{Path: r.Path, RoleName: r.Name, RoleID: r.ID, ARN: s.dir.roleARN(r), CreateDate: r.Created,
		AssumeRolePolicyDocument: urlEncode(r.Trust), Description: r.Description, MaxSessionDuration: r.MaxSession,
		PermissionsBoundary: boundaryOf(r.Boundary)}
	if withTags {
		x.Tags = r.Tags
	}
	return x
}

func noRole(name string) error {
	return awsproto.Errorf(awsproto.IAMNoSuchEntity, "The role with name %s cannot be found.", clip(name))
}

// checkDocument parses a policy document of kind as IAM validates it on
// write: MalformedPolicyDocument when IAM would refuse it, LimitExceeded
// over quota (entity names the owner in the message).
func checkDocument(member, doc string, kind iampolicy.Kind, quota iampolicy.Quota, entity string) error {
	if doc == "" {
		return validation(fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", member))
	}
	if quota.Exceeds(iampolicy.Size(doc)) {
		return awsproto.Errorf(awsproto.IAMLimitExceeded, "%s", quota.Message(entity))
	}
	if _, err := iampolicy.Parse(doc, kind); err != nil {
		var me *iampolicy.MalformedError
		if errors.As(err, &me) {
			return awsproto.Errorf(awsproto.IAMMalformedPolicyDocument, "%s", me.Message)
		}
		return awsproto.Errorf(awsproto.IAMMalformedPolicyDocument, "Syntax errors in policy.")
	}
	return nil
}

func checkMaxSession(v *int32) error {
	if v == nil {
		return nil
	}
	if *v < minMaxSession {
		return validation(fmt.Sprintf("Value '%d' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to %d", *v, minMaxSession))
	}
	if *v > maxMaxSession {
		return validation(fmt.Sprintf("Value '%d' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to %d", *v, maxMaxSession))
	}
	return nil
}

func checkDescription(d string) error {
	if len(d) > 1000 {
		return validation(fmt.Sprintf("Value '%s' at 'description' failed to satisfy constraint: Member must have length less than or equal to 1000", clip(d)))
	}
	return nil
}

type createRoleInput struct {
	RoleName, Path, AssumeRolePolicyDocument, Description string
	MaxSessionDuration                                    *int32
	PermissionsBoundary                                   string
	Tags                                                  []Tag
}

func (s *Service) createRole(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in createRoleInput
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	p := checkName(nil, "roleName", in.RoleName, 64)
	p = checkPath(p, "path", in.Path)
	if err := validation(p...); err != nil {
		return nil, err
	}
	for _, err := range []error{checkMaxSession(in.MaxSessionDuration), checkDescription(in.Description), checkTags(in.Tags),
		checkDocument("assumeRolePolicyDocument", in.AssumeRolePolicyDocument, iampolicy.KindTrust, iampolicy.QuotaTrust, in.RoleName)} {
		if err != nil {
			return nil, err
		}
	}
	if in.PermissionsBoundary != "" && !s.policyExists(in.PermissionsBoundary) {
		return nil, notAttachable(in.PermissionsBoundary)
	}
	r := &role{Name: in.RoleName, Path: pathOr(in.Path), Description: in.Description, Created: s.now(),
		Trust: in.AssumeRolePolicyDocument, MaxSession: defaultMaxSession, Tags: in.Tags, Boundary: in.PermissionsBoundary}
	if in.MaxSessionDuration != nil {
		r.MaxSession = *in.MaxSessionDuration
	}
	r.ID = s.roleID(r)
	if err := create(ctx, s, roleKey(r.Name), r, awsproto.Errorf(awsproto.IAMEntityAlreadyExists, "Role with name %s already exists.", r.Name)); err != nil {
		return nil, err
	}
	return struct {
		Role roleXML `xml:"Role"`
	}{s.roleXML(r, true)}, nil
}

// roleID is the role's unique id: the one the issuer derives from the
// role's ARN, which its sessions carry.
func (s *Service) roleID(r *role) string {
	return s.dir.cfg.Issuer.RoleID(s.dir.roleARN(r))
}

func (s *Service) getRole(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct{ RoleName string }
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if err := validation(checkName(nil, "roleName", in.RoleName, 64)...); err != nil {
		return nil, err
	}
	r := s.dir.view().roles[strings.ToLower(in.RoleName)]
	if r == nil {
		return nil, noRole(in.RoleName)
	}
	return struct {
		Role roleXML `xml:"Role"`
	}{s.roleXML(r, true)}, nil
}

func (s *Service) listRoles(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct {
		PathPrefix, Marker string
		MaxItems           *int32
	}
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	var rs []*role
	for _, r := range s.dir.view().roles {
		if strings.HasPrefix(r.Path, pathOr(in.PathPrefix)) {
			rs = append(rs, r)
		}
	}
	sort.Slice(rs, func(i, j int) bool { return strings.ToLower(rs[i].Name) < strings.ToLower(rs[j].Name) })
	rs, more, marker, err := page(rs, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	out := struct {
		Roles       []roleXML `xml:"Roles>member"`
		IsTruncated bool      `xml:"IsTruncated"`
		Marker      string    `xml:"Marker,omitempty"`
	}{Roles: []roleXML{}, IsTruncated: more, Marker: marker}
	for _, r := range rs {
		out.Roles = append(out.Roles, s.roleXML(r, false))
	}
	return out, nil
}

func (s *Service) deleteRole(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct{ RoleName string }
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if err := validation(checkName(nil, "roleName", in.RoleName, 64)...); err != nil {
		return nil, err
	}
	return nil, remove(ctx, s, roleKey(in.RoleName), noRole(in.RoleName), func(r *role) error {
		switch {
		case len(r.Inline) > 0:
			return deleteConflict("must delete policies first")
		case len(r.Attached) > 0:
			return deleteConflict("must detach all policies first")
		}
		return nil
	})
}

func (s *Service) updateAssumeRolePolicy(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct{ RoleName, PolicyDocument string }
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if err := validation(checkName(nil, "roleName", in.RoleName, 64)...); err != nil {
		return nil, err
	}
	if err := checkDocument("policyDocument", in.PolicyDocument, iampolicy.KindTrust, iampolicy.QuotaTrust, in.RoleName); err != nil {
		return nil, err
	}
	_, err := modify(ctx, s, roleKey(in.RoleName), noRole(in.RoleName), func(r *role) error {
		r.Trust = in.PolicyDocument
		return nil
	})
	return nil, err
}

func (s *Service) updateRole(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct {
		RoleName           string
		Description        *string
		MaxSessionDuration *int32
	}
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if err := validation(checkName(nil, "roleName", in.RoleName, 64)...); err != nil {
		return nil, err
	}
	if err := checkMaxSession(in.MaxSessionDuration); err != nil {
		return nil, err
	}
	if in.Description != nil {
		if err := checkDescription(*in.Description); err != nil {
			return nil, err
		}
	}
	_, err := modify(ctx, s, roleKey(in.RoleName), noRole(in.RoleName), func(r *role) error {
		if in.Description != nil {
			r.Description = *in.Description
		}
		if in.MaxSessionDuration != nil {
			r.MaxSession = *in.MaxSessionDuration
		}
		return nil
	})
	return struct{}{}, err
}

func (s *Service) updateRoleDescription(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct{ RoleName, Description string }
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if err := validation(checkName(nil, "roleName", in.RoleName, 64)...); err != nil {
		return nil, err
	}
	if err := checkDescription(in.Description); err != nil {
		return nil, err
	}
	r, err := modify(ctx, s, roleKey(in.RoleName), noRole(in.RoleName), func(r *role) error {
		r.Description = in.Description
		return nil
	})
	if err != nil {
		return nil, err
	}
	return struct {
		Role roleXML `xml:"Role"`
	}{s.roleXML(r, true)}, nil
}
