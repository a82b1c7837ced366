package iam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/store"
)

// boundaryXML is an entity's PermissionsBoundary member.
type boundaryXML struct {
	Type string `xml:"PermissionsBoundaryType"`
	ARN  string `xml:"PermissionsBoundaryArn"`
}

func boundaryOf(arn string) *boundaryXML {
	if arn == "" {
		return nil
	}
	return &boundaryXML{Type: "Policy", ARN: arn}
}

type userXML struct {
	Path                string       `xml:"Path"`
	UserName            string       `xml:"UserName"`
	UserID              string       `xml:"UserId"`
	ARN                 string       `xml:"Arn"`
	CreateDate          time.Time    `xml:"CreateDate"`
	PermissionsBoundary *boundaryXML `xml:"PermissionsBoundary,omitempty"`
	Tags                []Tag        `xml:"Tags>member,omitempty"`
}

func (s *Service) userXML(u *user, withTags bool) userXML {
	x := userXML{Path: u.Path, UserName: u.Name, UserID: u.ID, ARN: s.dir.userARN(u), CreateDate: u.Created, PermissionsBoundary: boundaryOf(u.Boundary)}
	if withTags {
		x.Tags = u.Tags
	}
	return x
}

func noUser(name string) error {
	return awsproto.Errorf(awsproto.IAMNoSuchEntity, "The user with name %s cannot be found.", clip(name))
}

// checkTags validates Tags members: at most 50, keys 1 to 128 and values
// up to 256 characters, no key twice.
func checkTags(tags []Tag) error {
	if len(tags) > 50 {
		return validation("Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50")
	}
	seen := map[string]bool{}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 {
			return validation(fmt.Sprintf("Value '%s' at 'tags.member.key' failed to satisfy constraint: Member must have length between 1 and 128", clip(t.Key)))
		}
		if len(t.Value) > 256 {
			return validation(fmt.Sprintf("Value '%s' at 'tags.member.value' failed to satisfy constraint: Member must have length less than or equal to 256", clip(t.Value)))
		}
		if seen[strings.ToLower(t.Key)] {
			return awsproto.Errorf(awsproto.IAMInvalidInput, "Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[strings.ToLower(t.Key)] = true
	}
	return nil
}

type createUserInput struct {
	UserName, Path      string
	PermissionsBoundary string
	Tags                []Tag
}

func (s *Service) createUser(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in createUserInput
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	p := checkName(nil, "userName", in.UserName, 64)
	p = checkPath(p, "path", in.Path)
	if err := validation(p...); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	if in.PermissionsBoundary != "" && !s.policyExists(in.PermissionsBoundary) {
		return nil, notAttachable(in.PermissionsBoundary)
	}
	u := &user{Name: in.UserName, Path: pathOr(in.Path), ID: newID("AIDA"), Created: s.now(), Tags: in.Tags, Boundary: in.PermissionsBoundary}
	if err := create(ctx, s, userKey(u.Name), u, awsproto.Errorf(awsproto.IAMEntityAlreadyExists, "User with name %s already exists.", u.Name)); err != nil {
		return nil, err
	}
	return struct {
		User userXML `xml:"User"`
	}{s.userXML(u, true)}, nil
}

// userName is the UserName of operations where it is optional: the
// caller's own user when absent.
func (s *Service) userName(ctx context.Context, name string) (string, error) {
	if name != "" {
		return name, nil
	}
	id := s.caller(ctx)
	if i := strings.Index(id.ARN, ":user/"); i >= 0 && id.RoleARN == "" {
		n := id.ARN[i+len(":user/"):]
		return n[strings.LastIndexByte(n, '/')+1:], nil
	}
	return "", awsproto.Errorf(awsproto.ValidationError, "Must specify userName when calling with non-User credentials")
}

func (s *Service) getUser(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct{ UserName string }
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if in.UserName == "" {
		if id := s.caller(ctx); strings.HasSuffix(id.ARN, ":root") {
			// The root answers as itself, as IAM does.
			return struct {
				User userXML `xml:"User"`
			}{userXML{UserID: id.Account, ARN: id.ARN}}, nil
		}
	}
	name, err := s.userName(ctx, in.UserName)
	if err != nil {
		return nil, err
	}
	u := s.dir.view().users[strings.ToLower(name)]
	if u == nil {
		return nil, noUser(name)
	}
	return struct {
		User userXML `xml:"User"`
	}{s.userXML(u, true)}, nil
}

type listUsersResult struct {
	Users       []userXML `xml:"Users>member"`
	IsTruncated bool      `xml:"IsTruncated"`
	Marker      string    `xml:"Marker,omitempty"`
}

func (s *Service) listUsers(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct {
		PathPrefix, Marker string
		MaxItems           *int32
	}
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	var us []*user
	for _, u := range s.dir.view().users {
		if strings.HasPrefix(u.Path, pathOr(in.PathPrefix)) {
			us = append(us, u)
		}
	}
	sort.Slice(us, func(i, j int) bool { return strings.ToLower(us[i].Name) < strings.ToLower(us[j].Name) })
	us, more, marker, err := page(us, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	out := listUsersResult{IsTruncated: more, Marker: marker, Users: []userXML{}}
	for _, u := range us {
		out.Users = append(out.Users, s.userXML(u, false))
	}
	return out, nil
}

func (s *Service) updateUser(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct{ UserName, NewPath, NewUserName string }
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	p := checkName(nil, "userName", in.UserName, 64)
	p = checkPath(p, "newPath", in.NewPath)
	if err := validation(p...); err != nil {
		return nil, err
	}
	if in.NewUserName != "" {
		if err := validation(checkName(nil, "newUserName", in.NewUserName, 64)...); err != nil {
			return nil, err
		}
		if !strings.EqualFold(in.NewUserName, in.UserName) {
			return nil, s.renameUser(ctx, in.UserName, in.NewUserName, in.NewPath)
		}
	}
	_, err := modify(ctx, s, userKey(in.UserName), noUser(in.UserName), func(u *user) error {
		if in.NewPath != "" {
			u.Path = in.NewPath
		}
		if in.NewUserName != "" {
			u.Name = in.NewUserName
		}
		return nil
	})
	return nil, err
}

func (s *Service) deleteUser(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct{ UserName string }
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if err := validation(checkName(nil, "userName", in.UserName, 128)...); err != nil {
		return nil, err
	}
	return nil, remove(ctx, s, userKey(in.UserName), noUser(in.UserName), func(u *user) error {
		switch {
		case len(u.Keys) > 0:
			return deleteConflict("must delete access keys first")
		case len(u.Inline) > 0:
			return deleteConflict("must delete policies first")
		case len(u.Attached) > 0:
			return deleteConflict("must detach all policies first")
		case len(u.Groups) > 0:
			return deleteConflict("must remove users from group first")
		}
		return nil
	})
}

func deleteConflict(what string) error {
	return awsproto.Errorf(awsproto.IAMDeleteConflict, "Cannot delete entity, %s.", what)
}

// Access keys.

// maxAccessKeys is IAM's quota of access keys per user.
const maxAccessKeys = 2

type accessKeyXML struct {
	UserName        string    `xml:"UserName"`
	AccessKeyID     string    `xml:"AccessKeyId"`
	Status          string    `xml:"Status"`
	SecretAccessKey string    `xml:"SecretAccessKey,omitempty"`
	CreateDate      time.Time `xml:"CreateDate"`
}

func (s *Service) createAccessKey(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct{ UserName string }
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	name, err := s.userName(ctx, in.UserName)
	if err != nil {
		return nil, err
	}
	id, secret := newAccessKeyID(), newSecret()
	k := accessKey{ID: id, Sealed: s.dir.seal(id, secret), Status: statusActive, Created: s.now()}
	u, err := modify(ctx, s, userKey(name), noUser(name), func(u *user) error {
		if len(u.Keys) >= maxAccessKeys {
			return awsproto.Errorf(awsproto.IAMLimitExceeded, "Cannot exceed quota for AccessKeysPerUser: %d", maxAccessKeys)
		}
		u.Keys = append(u.Keys, k)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return struct {
		AccessKey accessKeyXML `xml:"AccessKey"`
	}{accessKeyXML{UserName: u.Name, AccessKeyID: id, Status: k.Status, SecretAccessKey: secret, CreateDate: k.Created}}, nil
}

func (s *Service) listAccessKeys(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct {
		UserName, Marker string
		MaxItems         *int32
	}
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	name, err := s.userName(ctx, in.UserName)
	if err != nil {
		return nil, err
	}
	u := s.dir.view().users[strings.ToLower(name)]
	if u == nil {
		return nil, noUser(name)
	}
	keys, more, marker, err := page(u.Keys, in.Marker, in.MaxItems)
	if err != nil {
		return nil, err
	}
	out := struct {
		AccessKeyMetadata []accessKeyXML `xml:"AccessKeyMetadata>member"`
		IsTruncated       bool           `xml:"IsTruncated"`
		Marker            string         `xml:"Marker,omitempty"`
	}{AccessKeyMetadata: []accessKeyXML{}, IsTruncated: more, Marker: marker}
	for _, k := range keys {
		out.AccessKeyMetadata = append(out.AccessKeyMetadata, accessKeyXML{UserName: u.Name, AccessKeyID: k.ID, Status: k.Status, CreateDate: k.Created})
	}
	return out, nil
}

func noAccessKey(id string) error {
	return awsproto.Errorf(awsproto.IAMNoSuchEntity, "The Access Key with id %s cannot be found.", clip(id))
}

// keyUser is the user owning access key id: the one named, else the
// caller, else the key's owner in the view.
func (s *Service) keyUser(ctx context.Context, name, id string) (string, error) {
	if name != "" {
		return name, nil
	}
	if owner, ok := s.dir.view().keyOwner[id]; ok {
		return owner, nil
	}
	if n, err := s.userName(ctx, ""); err == nil {
		return n, nil
	}
	return "", noAccessKey(id)
}

func (s *Service) updateAccessKey(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct{ UserName, AccessKeyId, Status string }
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if in.Status != statusActive && in.Status != statusInactive {
		return nil, validation(fmt.Sprintf("Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", clip(in.Status)))
	}
	name, err := s.keyUser(ctx, in.UserName, in.AccessKeyId)
	if err != nil {
		return nil, err
	}
	_, err = modify(ctx, s, userKey(name), noUser(name), func(u *user) error {
		for i := range u.Keys {
			if u.Keys[i].ID == in.AccessKeyId {
				u.Keys[i].Status = in.Status
				return nil
			}
		}
		return noAccessKey(in.AccessKeyId)
	})
	return nil, err
}

func (s *Service) deleteAccessKey(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct{ UserName, AccessKeyId string }
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	name, err := s.keyUser(ctx, in.UserName, in.AccessKeyId)
	if err != nil {
		return nil, err
	}
	_, err = modify(ctx, s, userKey(name), noUser(name), func(u *user) error {
		i := slices.IndexFunc(u.Keys, func(k accessKey) bool { return k.ID == in.AccessKeyId })
		if i < 0 {
			return noAccessKey(in.AccessKeyId)
		}
		u.Keys = slices.Delete(u.Keys, i, i+1)
		return nil
	})
	return nil, err
}

// renameUser moves a user's document to its new name's key: created
// there, then deleted at the revision read, or the copy is taken back and
// the move tried again. Groups name their members in the users'
// documents and attachments are the user's own, so nothing else changes.
func (s *Service) renameUser(ctx context.Context, name, newName, newPath string) error {
	from, to := userKey(name), userKey(newName)
	for range maxAttempts {
		e, err := s.kv.Get(ctx, from)
		if errors.Is(err, store.ErrNotFound) {
			return noUser(name)
		}
		if err != nil {
			return awsproto.Internal(fmt.Errorf("reading %s: %w", from, err))
		}
		var u user
		if err := json.Unmarshal(e.Value, &u); err != nil {
			return awsproto.Internal(fmt.Errorf("decoding %s: %w", from, err))
		}
		u.Name = newName
		if newPath != "" {
			u.Path = newPath
		}
		b, err := json.Marshal(&u)
		if err != nil {
			return awsproto.Internal(err)
		}
		rev, err := s.kv.Create(ctx, to, b)
		if errors.Is(err, store.ErrExists) {
			return awsproto.Errorf(awsproto.IAMEntityAlreadyExists, "User with name %s already exists.", newName)
		}
		if err != nil {
			return awsproto.Internal(fmt.Errorf("creating %s: %w", to, err))
		}
		if err := s.kv.Delete(ctx, from, e.Revision); err != nil {
			if derr := s.kv.Delete(ctx, to, rev); derr != nil {
				return awsproto.Internal(fmt.Errorf("taking back %s: %w", to, derr))
			}
			if errors.Is(err, store.ErrConflict) {
				continue
			}
			return awsproto.Internal(fmt.Errorf("deleting %s: %w", from, err))
		}
		s.dir.apply(store.Entry{Key: to, Value: b, Revision: rev})
		s.dir.apply(store.Entry{Key: from, Revision: e.Revision + 1, Deleted: true})
		return nil
	}
	return concurrent()
}
