package iam

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	iampolicy "github.com/kumo-run/kumo/internal/iam"
)

// maxAttached is IAM's default quota of managed policies attached to one
// user, group or role.
const maxAttached = 10

// maxVersions is how many versions a managed policy keeps at most.
const maxVersions = 5

func noPolicy(policyARN string) error {
	return awsproto.Errorf(awsproto.IAMNoSuchEntity, "Policy %s was not found.", clip(policyARN))
}

func notAttachable(policyARN string) error {
	return awsproto.Errorf(awsproto.IAMNoSuchEntity, "Policy %s does not exist or is not attachable.", clip(policyARN))
}

// policyExists reports whether policyARN names an AWS managed policy or a
// customer managed policy of the account.
func (s *Service) policyExists(policyARN string) bool {
	return awsManaged(policyARN) != nil || s.dir.view().policyByARN(s.dir, policyARN) != nil
}

// Inline policies.

type inlineInput struct {
	UserName, GroupName, RoleName string
	PolicyName, PolicyDocument    string
}

func (in inlineInput) entity(k kind) string {
	switch k {
	case kindUser:
		return in.UserName
	case kindGroup:
		return in.GroupName
	}
	return in.RoleName
}

func noInline(k kind, name string) error {
	return awsproto.Errorf(awsproto.IAMNoSuchEntity, "The %s policy with name %s cannot be found.", strings.ToLower(k.word()), clip(name))
}

func (s *Service) putInline(k kind) op {
	return func(ctx context.Context, q awsproto.QueryRequest) (any, error) {
		var in inlineInput
		if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
			return nil, err
		}
		name := in.entity(k)
		p := checkName(nil, k.member(), name, k.maxName())
		p = checkName(p, "policyName", in.PolicyName, 128)
		if err := validation(p...); err != nil {
			return nil, err
		}
		quota := k.inlineQuota()
		if err := checkDocument("policyDocument", in.PolicyDocument, iampolicy.KindIdentity, quota, name); err != nil {
			return nil, err
		}
		return nil, modifyEntity(ctx, s, k, name, func(f fields) error {
			size := iampolicy.Size(in.PolicyDocument)
			for n, doc := range *f.inline {
				if n != in.PolicyName {
					size += iampolicy.Size(doc)
				}
			}
			if quota.Exceeds(size) {
				return awsproto.Errorf(awsproto.IAMLimitExceeded, "%s", quota.Message(f.name))
			}
			if *f.inline == nil {
				*f.inline = map[string]string{}
			}
			(*f.inline)[in.PolicyName] = in.PolicyDocument
			return nil
		})
	}
}

func (s *Service) getInline(k kind) op {
	return func(ctx context.Context, q awsproto.QueryRequest) (any, error) {
		var in inlineInput
		if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
			return nil, err
		}
		name := in.entity(k)
		p := checkName(nil, k.member(), name, k.maxName())
		p = checkName(p, "policyName", in.PolicyName, 128)
		if err := validation(p...); err != nil {
			return nil, err
		}
		f, ok := s.viewEntity(k, name)
		if !ok {
			return nil, k.missing(name)
		}
		doc, ok := (*f.inline)[in.PolicyName]
		if !ok {
			return nil, noInline(k, in.PolicyName)
		}
		out := struct {
			UserName       string `xml:"UserName,omitempty"`
			GroupName      string `xml:"GroupName,omitempty"`
			RoleName       string `xml:"RoleName,omitempty"`
			PolicyName     string `xml:"PolicyName"`
			PolicyDocument string `xml:"PolicyDocument"`
		}{PolicyName: in.PolicyName, PolicyDocument: urlEncode(doc)}
		switch k {
		case kindUser:
			out.UserName = f.name
		case kindGroup:
			out.GroupName = f.name
		case kindRole:
			out.RoleName = f.name
		}
		return out, nil
	}
}

func (s *Service) listInline(k kind) op {
	return func(ctx context.Context, q awsproto.QueryRequest) (any, error) {
		var in struct {
			UserName, GroupName, RoleName, Marker string
			MaxItems                              *int32
		}
		if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
			return nil, err
		}
		name := inlineInput{UserName: in.UserName, GroupName: in.GroupName, RoleName: in.RoleName}.entity(k)
		if err := checkEntityName(k, name); err != nil {
			return nil, err
		}
		f, ok := s.viewEntity(k, name)
		if !ok {
			return nil, k.missing(name)
		}
		names := slices.Sorted(maps.Keys(*f.inline))
		names, more, marker, err := page(names, in.Marker, in.MaxItems)
		if err != nil {
			return nil, err
		}
		return struct {
			PolicyNames []string `xml:"PolicyNames>member"`
			IsTruncated bool     `xml:"IsTruncated"`
			Marker      string   `xml:"Marker,omitempty"`
		}{names, more, marker}, nil
	}
}

func (s *Service) deleteInline(k kind) op {
	return func(ctx context.Context, q awsproto.QueryRequest) (any, error) {
		var in inlineInput
		if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
			return nil, err
		}
		name := in.entity(k)
		p := checkName(nil, k.member(), name, k.maxName())
		p = checkName(p, "policyName", in.PolicyName, 128)
		if err := validation(p...); err != nil {
			return nil, err
		}
		return nil, modifyEntity(ctx, s, k, name, func(f fields) error {
			if _, ok := (*f.inline)[in.PolicyName]; !ok {
				return noInline(k, in.PolicyName)
			}
			delete(*f.inline, in.PolicyName)
			return nil
		})
	}
}

// Managed policies.

type policyXML struct {
	PolicyName                    string    `xml:"PolicyName"`
	PolicyID                      string    `xml:"PolicyId"`
	ARN                           string    `xml:"Arn"`
	Path                          string    `xml:"Path"`
	DefaultVersionID              string    `xml:"DefaultVersionId"`
	AttachmentCount               int       `xml:"AttachmentCount"`
	PermissionsBoundaryUsageCount int       `xml:"PermissionsBoundaryUsageCount"`
	IsAttachable                  bool      `xml:"IsAttachable"`
	Description                   string    `xml:"Description,omitempty"`
	CreateDate                    time.Time `xml:"CreateDate"`
	UpdateDate                    time.Time `xml:"UpdateDate"`
	Tags                          []Tag     `xml:"Tags>member,omitempty"`
}

func (s *Service) policyXML(v *snapshot, p *policy, withTags bool) policyXML {
	a := s.dir.policyARN(p)
	x := policyXML{PolicyName: p.Name, PolicyID: p.ID, ARN: a, Path: p.Path, DefaultVersionID: p.Default,
		AttachmentCount: v.attachments[a], PermissionsBoundaryUsageCount: v.boundaries[a], IsAttachable: true, Description: p.Description, CreateDate: p.Created, UpdateDate: p.Updated}
	if withTags {
		x.Tags = p.Tags
	}
	return x
}

func awsPolicyXML(v *snapshot, p *awsPolicy) policyXML {
	return policyXML{PolicyName: p.name, PolicyID: p.id, ARN: p.arn, Path: p.path, DefaultVersionID: p.version,
		AttachmentCount: v.attachments[p.arn], PermissionsBoundaryUsageCount: v.boundaries[p.arn], IsAttachable: true, CreateDate: p.created, UpdateDate: p.updated}
}

type createPolicyInput struct {
	PolicyName, Path, PolicyDocument, Description string
	Tags                                          []Tag
}

func (s *Service) createPolicy(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in createPolicyInput
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	p := checkName(nil, "policyName", in.PolicyName, 128)
	p = checkPath(p, "path", in.Path)
	if err := validation(p...); err != nil {
		return nil, err
	}
	for _, err := range []error{checkDescription(in.Description), checkTags(in.Tags),
		checkDocument("policyDocument", in.PolicyDocument, iampolicy.KindIdentity, iampolicy.QuotaManaged, in.PolicyName)} {
		if err != nil {
			return nil, err
		}
	}
	now := s.now()
	pol := &policy{Name: in.PolicyName, Path: pathOr(in.Path), ID: newID("ANPA"), Description: in.Description, Created: now, Updated: now,
		Tags: in.Tags, Default: "v1", Versions: []policyVersion{{ID: "v1", Document: in.PolicyDocument, Created: now}}, NextVersion: 2}
	if err := create(ctx, s, policyKey(pol.Name), pol, awsproto.Errorf(awsproto.IAMEntityAlreadyExists,
		"A policy called %s already exists. Duplicate names are not allowed.", pol.Name)); err != nil {
		return nil, err
	}
	x := s.policyXML(s.dir.view(), pol, true)
	x.Description = "" // CreatePolicy does not answer it
	return struct {
		Policy policyXML `xml:"Policy"`
	}{x}, nil
}

type policyARNInput struct {
	PolicyArn string
}

func (s *Service) readPolicyARN(q awsproto.QueryRequest) (string, error) {
	var in policyARNInput
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return "", err
	}
	if in.PolicyArn == "" {
		return "", validation("Value null at 'policyArn' failed to satisfy constraint: Member must not be null")
	}
	return in.PolicyArn, checkEntityName(kindPolicy, in.PolicyArn)
}

func (s *Service) getPolicy(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	a, err := s.readPolicyARN(q)
	if err != nil {
		return nil, err
	}
	v := s.dir.view()
	var x policyXML
	if m := awsManaged(a); m != nil {
		x = awsPolicyXML(v, m)
	} else if p := v.policyByARN(s.dir, a); p != nil {
		x = s.policyXML(v, p, true)
	} else {
		return nil, noPolicy(a)
	}
	return struct {
		Policy policyXML `xml:"Policy"`
	}{x}, nil
}

func (s *Service) listPolicies(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct {
		Scope, PathPrefix, Marker string
		OnlyAttached              bool
		MaxItems                  *int32
	}
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	switch in.Scope {
	case "", "All", "AWS", "Local":
	default:
		return nil, validation(fmt.Sprintf("Value '%s' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]", clip(in.Scope)))
	}
	v := s.dir.view()
	var out []policyXML
	if in.Scope != "Local" {
		for _, m := range awsManagedSet().list {
			out = append(out, awsPolicyXML(v, m))
		}
	}
	if in.Scope != "AWS" {
		for _, p := range v.policies {
			out = append(out, s.policyXML(v, p, false))
		}
	}
	out = slices.DeleteFunc(out, func(x policyXML) bool {
		return (in.OnlyAttached && x.AttachmentCount == 0) || !strings.HasPrefix(x.Path, pathOr(in.PathPrefix))
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].PolicyName < out[j].PolicyName })
	out, more, marker, err := page(out, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []policyXML{}
	}
	return struct {
		Policies    []policyXML `xml:"Policies>member"`
		IsTruncated bool        `xml:"IsTruncated"`
		Marker      string      `xml:"Marker,omitempty"`
	}{out, more, marker}, nil
}

// modifyPolicy changes the customer managed policy policyARN through fn.
func (s *Service) modifyPolicy(ctx context.Context, policyARN string, fn func(*policy) error) (*policy, error) {
	if awsManaged(policyARN) != nil {
		return nil, unmodifiable(policyARN)
	}
	name, ok := s.customerPolicyName(policyARN)
	if !ok {
		return nil, noPolicy(policyARN)
	}
	return modify(ctx, s, policyKey(name), noPolicy(policyARN), func(p *policy) error {
		if s.dir.policyARN(p) != policyARN {
			return noPolicy(policyARN)
		}
		return fn(p)
	})
}

func (s *Service) deletePolicy(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	a, err := s.readPolicyARN(q)
	if err != nil {
		return nil, err
	}
	if awsManaged(a) != nil {
		return nil, unmodifiable(a)
	}
	name, ok := s.customerPolicyName(a)
	if !ok {
		return nil, noPolicy(a)
	}
	return nil, remove(ctx, s, policyKey(name), noPolicy(a), func(p *policy) error {
		switch {
		case s.dir.policyARN(p) != a:
			return noPolicy(a)
		case s.dir.view().attachments[a] > 0:
			return awsproto.Errorf(awsproto.IAMDeleteConflict, "Cannot delete a policy attached to entities.")
		case len(p.Versions) > 1:
			return awsproto.Errorf(awsproto.IAMDeleteConflict, "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.")
		}
		return nil
	})
}

type policyVersionXML struct {
	Document         string    `xml:"Document,omitempty"`
	VersionID        string    `xml:"VersionId"`
	IsDefaultVersion bool      `xml:"IsDefaultVersion"`
	CreateDate       time.Time `xml:"CreateDate"`
}

func (s *Service) createPolicyVersion(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct {
		PolicyArn, PolicyDocument string
		SetAsDefault              bool
	}
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if err := checkEntityName(kindPolicy, in.PolicyArn); err != nil {
		return nil, err
	}
	if err := checkDocument("policyDocument", in.PolicyDocument, iampolicy.KindIdentity, iampolicy.QuotaManaged, in.PolicyArn); err != nil {
		return nil, err
	}
	now := s.now()
	var v policyVersion
	_, err := s.modifyPolicy(ctx, in.PolicyArn, func(p *policy) error {
		if len(p.Versions) >= maxVersions {
			return awsproto.Errorf(awsproto.IAMLimitExceeded, "A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", maxVersions)
		}
		v = policyVersion{ID: "v" + strconv.Itoa(p.NextVersion), Document: in.PolicyDocument, Created: now}
		p.NextVersion++
		p.Versions = append(p.Versions, v)
		if in.SetAsDefault {
			p.Default = v.ID
			p.Updated = now
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return struct {
		PolicyVersion policyVersionXML `xml:"PolicyVersion"`
	}{policyVersionXML{VersionID: v.ID, IsDefaultVersion: in.SetAsDefault, CreateDate: v.Created}}, nil
}

func noVersion(policyARN, id string) error {
	return awsproto.Errorf(awsproto.IAMNoSuchEntity, "Policy %s version %s does not exist or is not attachable.", clip(policyARN), clip(id))
}

func (s *Service) getPolicyVersion(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct{ PolicyArn, VersionId string }
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if err := checkEntityName(kindPolicy, in.PolicyArn); err != nil {
		return nil, err
	}
	var x policyVersionXML
	if m := awsManaged(in.PolicyArn); m != nil {
		if in.VersionId != m.version {
			return nil, noVersion(in.PolicyArn, in.VersionId)
		}
		x = policyVersionXML{Document: urlEncode(m.document), VersionID: m.version, IsDefaultVersion: true, CreateDate: m.updated}
	} else {
		p := s.dir.view().policyByARN(s.dir, in.PolicyArn)
		if p == nil {
			return nil, noPolicy(in.PolicyArn)
		}
		v := p.version(in.VersionId)
		if v == nil {
			return nil, noVersion(in.PolicyArn, in.VersionId)
		}
		x = policyVersionXML{Document: urlEncode(v.Document), VersionID: v.ID, IsDefaultVersion: v.ID == p.Default, CreateDate: v.Created}
	}
	return struct {
		PolicyVersion policyVersionXML `xml:"PolicyVersion"`
	}{x}, nil
}

func (s *Service) listPolicyVersions(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct {
		PolicyArn, Marker string
		MaxItems          *int32
	}
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if err := checkEntityName(kindPolicy, in.PolicyArn); err != nil {
		return nil, err
	}
	var vs []policyVersionXML
	if m := awsManaged(in.PolicyArn); m != nil {
		vs = []policyVersionXML{{VersionID: m.version, IsDefaultVersion: true, CreateDate: m.updated}}
	} else {
		p := s.dir.view().policyByARN(s.dir, in.PolicyArn)
		if p == nil {
			return nil, noPolicy(in.PolicyArn)
		}
		for i := len(p.Versions) - 1; i >= 0; i-- { // newest first, as IAM lists them
			v := p.Versions[i]
			vs = append(vs, policyVersionXML{VersionID: v.ID, IsDefaultVersion: v.ID == p.Default, CreateDate: v.Created})
		}
	}
	vs, more, marker, err := page(vs, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	return struct {
		Versions    []policyVersionXML `xml:"Versions>member"`
		IsTruncated bool               `xml:"IsTruncated"`
		Marker      string             `xml:"Marker,omitempty"`
	}{vs, more, marker}, nil
}

func (s *Service) deletePolicyVersion(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct{ PolicyArn, VersionId string }
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if err := checkEntityName(kindPolicy, in.PolicyArn); err != nil {
		return nil, err
	}
	_, err := s.modifyPolicy(ctx, in.PolicyArn, func(p *policy) error {
		i := slices.IndexFunc(p.Versions, func(v policyVersion) bool { return v.ID == in.VersionId })
		switch {
		case i < 0:
			return noVersion(in.PolicyArn, in.VersionId)
		case p.Default == in.VersionId:
			return awsproto.Errorf(awsproto.IAMDeleteConflict, "Cannot delete the default version of a policy.")
		}
		p.Versions = slices.Delete(p.Versions, i, i+1)
		return nil
	})
	return nil, err
}

func (s *Service) setDefaultPolicyVersion(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct{ PolicyArn, VersionId string }
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if err := checkEntityName(kindPolicy, in.PolicyArn); err != nil {
		return nil, err
	}
	now := s.now()
	_, err := s.modifyPolicy(ctx, in.PolicyArn, func(p *policy) error {
		if p.version(in.VersionId) == nil {
			return noVersion(in.PolicyArn, in.VersionId)
		}
		p.Default, p.Updated = in.VersionId, now
		return nil
	})
	return nil, err
}

// Attachments.

type attachInput struct {
	UserName, GroupName, RoleName, PolicyArn string
}

func (s *Service) attach(k kind, on bool) op {
	return func(ctx context.Context, q awsproto.QueryRequest) (any, error) {
		var in attachInput
		if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
			return nil, err
		}
		name := inlineInput{UserName: in.UserName, GroupName: in.GroupName, RoleName: in.RoleName}.entity(k)
		if err := checkEntityName(k, name); err != nil {
			return nil, err
		}
		if err := checkEntityName(kindPolicy, in.PolicyArn); err != nil {
			return nil, err
		}
		if on && !s.policyExists(in.PolicyArn) {
			return nil, notAttachable(in.PolicyArn)
		}
		return nil, modifyEntity(ctx, s, k, name, func(f fields) error {
			i := slices.Index(*f.attached, in.PolicyArn)
			switch {
			case on && i >= 0:
				return nil // attaching twice changes nothing
			case on && len(*f.attached) >= maxAttached:
				return awsproto.Errorf(awsproto.IAMLimitExceeded, "Cannot exceed quota for PoliciesPer%s: %d", k.word(), maxAttached)
			case on:
				*f.attached = append(*f.attached, in.PolicyArn)
			case i < 0:
				return noPolicy(in.PolicyArn)
			default:
				*f.attached = slices.Delete(*f.attached, i, i+1)
			}
			return nil
		})
	}
}

type attachedXML struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

func (s *Service) listAttached(k kind) op {
	return func(ctx context.Context, q awsproto.QueryRequest) (any, error) {
		var in struct {
			UserName, GroupName, RoleName, PathPrefix, Marker string
			MaxItems                                          *int32
		}
		if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
			return nil, err
		}
		name := inlineInput{UserName: in.UserName, GroupName: in.GroupName, RoleName: in.RoleName}.entity(k)
		if err := checkEntityName(k, name); err != nil {
			return nil, err
		}
		f, ok := s.viewEntity(k, name)
		if !ok {
			return nil, k.missing(name)
		}
		out := []attachedXML{}
		for _, a := range *f.attached {
			rest := a[strings.Index(a, ":policy/")+len(":policy"):]
			if !strings.HasPrefix(rest, pathOr(in.PathPrefix)) {
				continue
			}
			out = append(out, attachedXML{PolicyName: rest[strings.LastIndexByte(rest, '/')+1:], PolicyArn: a})
		}
		out, more, marker, err := page(out, in.Marker, in.MaxItems)
		if err != nil {
			return nil, err
		}
		return struct {
			AttachedPolicies []attachedXML `xml:"AttachedPolicies>member"`
			IsTruncated      bool          `xml:"IsTruncated"`
			Marker           string        `xml:"Marker,omitempty"`
		}{out, more, marker}, nil
	}
}

func (s *Service) listEntitiesForPolicy(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct {
		PolicyArn, EntityFilter string
	}
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if err := checkEntityName(kindPolicy, in.PolicyArn); err != nil {
		return nil, err
	}
	if !s.policyExists(in.PolicyArn) {
		return nil, noPolicy(in.PolicyArn)
	}
	type groupRef struct {
		GroupName string `xml:"GroupName"`
		GroupID   string `xml:"GroupId"`
	}
	type userRef struct {
		UserName string `xml:"UserName"`
		UserID   string `xml:"UserId"`
	}
	type roleRef struct {
		RoleName string `xml:"RoleName"`
		RoleID   string `xml:"RoleId"`
	}
	out := struct {
		PolicyGroups []groupRef `xml:"PolicyGroups>member"`
		PolicyUsers  []userRef  `xml:"PolicyUsers>member"`
		PolicyRoles  []roleRef  `xml:"PolicyRoles>member"`
		IsTruncated  bool       `xml:"IsTruncated"`
	}{PolicyGroups: []groupRef{}, PolicyUsers: []userRef{}, PolicyRoles: []roleRef{}}
	want := func(f string) bool { return in.EntityFilter == "" || in.EntityFilter == f }
	v := s.dir.view()
	for _, u := range v.users {
		if want("User") && slices.Contains(u.Attached, in.PolicyArn) {
			out.PolicyUsers = append(out.PolicyUsers, userRef{u.Name, u.ID})
		}
	}
	for _, g := range v.groups {
		if want("Group") && slices.Contains(g.Attached, in.PolicyArn) {
			out.PolicyGroups = append(out.PolicyGroups, groupRef{g.Name, g.ID})
		}
	}
	for _, r := range v.roles {
		if want("Role") && slices.Contains(r.Attached, in.PolicyArn) {
			out.PolicyRoles = append(out.PolicyRoles, roleRef{r.Name, r.ID})
		}
	}
	sort.Slice(out.PolicyUsers, func(i, j int) bool { return out.PolicyUsers[i].UserName < out.PolicyUsers[j].UserName })
	sort.Slice(out.PolicyGroups, func(i, j int) bool { return out.PolicyGroups[i].GroupName < out.PolicyGroups[j].GroupName })
	sort.Slice(out.PolicyRoles, func(i, j int) bool { return out.PolicyRoles[i].RoleName < out.PolicyRoles[j].RoleName })
	return out, nil
}

// Tags and permissions boundaries.

type tagInput struct {
	UserName, RoleName, PolicyArn string
	Tags                          []Tag
	TagKeys                       []string
	Marker                        string
	MaxItems                      *int32
	PermissionsBoundary           string
}

func (in tagInput) entity(k kind) string {
	switch k {
	case kindUser:
		return in.UserName
	case kindRole:
		return in.RoleName
	}
	return in.PolicyArn
}

func (s *Service) tag(k kind) op {
	return func(ctx context.Context, q awsproto.QueryRequest) (any, error) {
		var in tagInput
		if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
			return nil, err
		}
		name := in.entity(k)
		if err := checkEntityName(k, name); err != nil {
			return nil, err
		}
		if err := checkTags(in.Tags); err != nil {
			return nil, err
		}
		return nil, modifyEntity(ctx, s, k, name, func(f fields) error {
			tags := slices.Clone(*f.tags)
			for _, t := range in.Tags {
				i := slices.IndexFunc(tags, func(o Tag) bool { return strings.EqualFold(o.Key, t.Key) })
				if i >= 0 {
					tags[i] = t
				} else {
					tags = append(tags, t)
				}
			}
			if len(tags) > 50 {
				return awsproto.Errorf(awsproto.IAMLimitExceeded, "Cannot exceed quota for TagsPer%s: 50", k.word())
			}
			*f.tags = tags
			return nil
		})
	}
}

func (s *Service) untag(k kind) op {
	return func(ctx context.Context, q awsproto.QueryRequest) (any, error) {
		var in tagInput
		if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
			return nil, err
		}
		name := in.entity(k)
		if err := checkEntityName(k, name); err != nil {
			return nil, err
		}
		return nil, modifyEntity(ctx, s, k, name, func(f fields) error {
			*f.tags = slices.DeleteFunc(slices.Clone(*f.tags), func(t Tag) bool {
				return slices.ContainsFunc(in.TagKeys, func(k string) bool { return strings.EqualFold(k, t.Key) })
			})
			return nil
		})
	}
}

func (s *Service) listTags(k kind) op {
	return func(ctx context.Context, q awsproto.QueryRequest) (any, error) {
		var in tagInput
		if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
			return nil, err
		}
		name := in.entity(k)
		if err := checkEntityName(k, name); err != nil {
			return nil, err
		}
		var tags []Tag
		if k == kindPolicy && awsManaged(name) != nil {
			tags = nil
		} else {
			f, ok := s.viewEntity(k, name)
			if !ok {
				return nil, k.missing(name)
			}
			tags = *f.tags
		}
		tags, more, marker, err := page(tags, in.Marker, in.MaxItems)
		if err != nil {
			return nil, err
		}
		if tags == nil {
			tags = []Tag{}
		}
		return struct {
			Tags        []Tag  `xml:"Tags>member"`
			IsTruncated bool   `xml:"IsTruncated"`
			Marker      string `xml:"Marker,omitempty"`
		}{tags, more, marker}, nil
	}
}

func (s *Service) boundary(k kind, put bool) op {
	return func(ctx context.Context, q awsproto.QueryRequest) (any, error) {
		var in tagInput
		if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
			return nil, err
		}
		name := in.entity(k)
		if err := checkEntityName(k, name); err != nil {
			return nil, err
		}
		if put {
			if err := checkEntityName(kindPolicy, in.PermissionsBoundary); err != nil {
				return nil, err
			}
			if !s.policyExists(in.PermissionsBoundary) {
				return nil, notAttachable(in.PermissionsBoundary)
			}
		}
		return nil, modifyEntity(ctx, s, k, name, func(f fields) error {
			if put {
				*f.boundary = in.PermissionsBoundary
			} else {
				*f.boundary = ""
			}
			return nil
		})
	}
}
