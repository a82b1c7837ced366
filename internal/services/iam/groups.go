package iam

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
)

type groupXML struct {
	Path       string    `xml:"Path"`
	GroupName  string    `xml:"GroupName"`
	GroupID    string    `xml:"GroupId"`
	ARN        string    `xml:"Arn"`
	CreateDate time.Time `xml:"CreateDate"`
}

func (s *Service) groupXML(g *group) groupXML {
	return groupXML{Path: g.Path, GroupName: g.Name, GroupID: g.ID, ARN: s.dir.groupARN(g), CreateDate: g.Created}
}

func noGroup(name string) error {
	return awsproto.Errorf(awsproto.IAMNoSuchEntity, "The group with name %s cannot be found.", clip(name))
}

func (s *Service) createGroup(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct{ GroupName, Path string }
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	p := checkName(nil, "groupName", in.GroupName, 128)
	p = checkPath(p, "path", in.Path)
	if err := validation(p...); err != nil {
		return nil, err
	}
	g := &group{Name: in.GroupName, Path: pathOr(in.Path), ID: newID("AGPA"), Created: s.now()}
	if err := create(ctx, s, groupKey(g.Name), g, awsproto.Errorf(awsproto.IAMEntityAlreadyExists, "Group with name %s already exists.", g.Name)); err != nil {
		return nil, err
	}
	return struct {
		Group groupXML `xml:"Group"`
	}{s.groupXML(g)}, nil
}

func (s *Service) getGroup(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct {
		GroupName, Marker string
		MaxItems          *int32
	}
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if err := validation(checkName(nil, "groupName", in.GroupName, 128)...); err != nil {
		return nil, err
	}
	v := s.dir.view()
	g := v.groups[strings.ToLower(in.GroupName)]
	if g == nil {
		return nil, noGroup(in.GroupName)
	}
	members := slices.Clone(v.members[strings.ToLower(g.Name)])
	sort.Slice(members, func(i, j int) bool { return strings.ToLower(members[i].Name) < strings.ToLower(members[j].Name) })
	members, more, marker, err := page(members, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	out := struct {
		Group       groupXML  `xml:"Group"`
		Users       []userXML `xml:"Users>member"`
		IsTruncated bool      `xml:"IsTruncated"`
		Marker      string    `xml:"Marker,omitempty"`
	}{Group: s.groupXML(g), Users: []userXML{}, IsTruncated: more, Marker: marker}
	for _, u := range members {
		out.Users = append(out.Users, s.userXML(u, false))
	}
	return out, nil
}

type groupsResult struct {
	Groups      []groupXML `xml:"Groups>member"`
	IsTruncated bool       `xml:"IsTruncated"`
	Marker      string     `xml:"Marker,omitempty"`
}

func (s *Service) groupsResult(gs []*group, marker string, maxItems *int32) (any, error) {
	sort.Slice(gs, func(i, j int) bool { return strings.ToLower(gs[i].Name) < strings.ToLower(gs[j].Name) })
	gs, more, next, err := page(gs, marker, maxItems)
	if err != nil {
		return nil, err
	}
	out := groupsResult{Groups: []groupXML{}, IsTruncated: more, Marker: next}
	for _, g := range gs {
		out.Groups = append(out.Groups, s.groupXML(g))
	}
	return out, nil
}

func (s *Service) listGroups(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct {
		PathPrefix, Marker string
		MaxItems           *int32
	}
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	var gs []*group
	for _, g := range s.dir.view().groups {
		if strings.HasPrefix(g.Path, pathOr(in.PathPrefix)) {
			gs = append(gs, g)
		}
	}
	return s.groupsResult(gs, in.Marker, in.MaxItems)
}

func (s *Service) listGroupsForUser(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct {
		UserName, Marker string
		MaxItems         *int32
	}
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if err := validation(checkName(nil, "userName", in.UserName, 128)...); err != nil {
		return nil, err
	}
	v := s.dir.view()
	u := v.users[strings.ToLower(in.UserName)]
	if u == nil {
		return nil, noUser(in.UserName)
	}
	var gs []*group
	for _, n := range u.Groups {
		if g := v.groups[strings.ToLower(n)]; g != nil {
			gs = append(gs, g)
		}
	}
	return s.groupsResult(gs, in.Marker, in.MaxItems)
}

func (s *Service) deleteGroup(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct{ GroupName string }
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if err := validation(checkName(nil, "groupName", in.GroupName, 128)...); err != nil {
		return nil, err
	}
	return nil, remove(ctx, s, groupKey(in.GroupName), noGroup(in.GroupName), func(g *group) error {
		switch {
		case len(s.dir.view().members[strings.ToLower(g.Name)]) > 0:
			return deleteConflict("must remove users from group first")
		case len(g.Inline) > 0:
			return deleteConflict("must delete policies first")
		case len(g.Attached) > 0:
			return deleteConflict("must detach all policies first")
		}
		return nil
	})
}

// maxGroupsPerUser is IAM's quota of groups one user may be in.
const maxGroupsPerUser = 10

func (s *Service) membership(add bool) op {
	return func(ctx context.Context, q awsproto.QueryRequest) (any, error) {
		var in struct{ GroupName, UserName string }
		if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
			return nil, err
		}
		p := checkName(nil, "groupName", in.GroupName, 128)
		p = checkName(p, "userName", in.UserName, 128)
		if err := validation(p...); err != nil {
			return nil, err
		}
		g := s.dir.view().groups[strings.ToLower(in.GroupName)]
		if g == nil {
			return nil, noGroup(in.GroupName)
		}
		_, err := modify(ctx, s, userKey(in.UserName), noUser(in.UserName), func(u *user) error {
			i := slices.IndexFunc(u.Groups, func(n string) bool { return strings.EqualFold(n, g.Name) })
			switch {
			case add && i >= 0:
				return nil
			case add && len(u.Groups) >= maxGroupsPerUser:
				return awsproto.Errorf(awsproto.IAMLimitExceeded, "Cannot exceed quota for GroupsPerUser: %d", maxGroupsPerUser)
			case add:
				u.Groups = append(u.Groups, g.Name)
			case i < 0:
				return noUser(in.UserName)
			default:
				u.Groups = slices.Delete(u.Groups, i, i+1)
			}
			return nil
		})
		return nil, err
	}
}
