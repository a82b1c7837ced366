package iam

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/store"
)

// Wire constants of IAM.
const (
	// Version is the API version every request names.
	Version = "2010-05-08"
	// Namespace is the xmlns of IAM's responses.
	Namespace = "https://iam.amazonaws.com/doc/2010-05-08/"
	// SigningName is the SigV4 service name.
	SigningName = "iam"
	// SigningRegion is the region AWS's clients sign IAM requests for,
	// whatever region they are configured with: IAM is global.
	SigningRegion = "us-east-1"
)

// Errors renders IAM's errors: the query protocol's ErrorResponse, with
// ServiceFailure for unexpected failures. The edge uses it for the
// route's own refusals too.
var Errors = awsproto.Query{Namespace: Namespace, Internal: awsproto.InternalSpec{Code: awsproto.IAMServiceFailure}}

// Config configures the service.
type Config struct {
	// Directory is the state the service reads and writes.
	Directory *Directory
	// Authorizer decides whether the caller may run an operation; nil
	// allows everything.
	Authorizer *authz.Authorizer
	// Logger receives internal failures; nil discards.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

type op func(ctx context.Context, q awsproto.QueryRequest) (any, error)

// Service is the IAM API handler. It is safe for concurrent use.
type Service struct {
	cfg Config
	dir *Directory
	kv  store.KV
	log *slog.Logger
	ops map[string]op
}

var _ http.Handler = (*Service)(nil)

// New returns the IAM handler over cfg.Directory.
func New(cfg Config) *Service {
	s := &Service{cfg: cfg, dir: cfg.Directory, kv: cfg.Directory.kv, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	s.ops = map[string]op{
		"CreateUser": s.createUser, "GetUser": s.getUser, "ListUsers": s.listUsers, "DeleteUser": s.deleteUser, "UpdateUser": s.updateUser,
		"CreateAccessKey": s.createAccessKey, "ListAccessKeys": s.listAccessKeys, "UpdateAccessKey": s.updateAccessKey, "DeleteAccessKey": s.deleteAccessKey,

		"CreateRole": s.createRole, "GetRole": s.getRole, "ListRoles": s.listRoles, "DeleteRole": s.deleteRole,
		"UpdateAssumeRolePolicy": s.updateAssumeRolePolicy, "UpdateRole": s.updateRole, "UpdateRoleDescription": s.updateRoleDescription,

		"PutUserPolicy": s.putInline(kindUser), "GetUserPolicy": s.getInline(kindUser), "ListUserPolicies": s.listInline(kindUser), "DeleteUserPolicy": s.deleteInline(kindUser),
		"PutGroupPolicy": s.putInline(kindGroup), "GetGroupPolicy": s.getInline(kindGroup), "ListGroupPolicies": s.listInline(kindGroup), "DeleteGroupPolicy": s.deleteInline(kindGroup),
		"PutRolePolicy": s.putInline(kindRole), "GetRolePolicy": s.getInline(kindRole), "ListRolePolicies": s.listInline(kindRole), "DeleteRolePolicy": s.deleteInline(kindRole),

		"CreatePolicy": s.createPolicy, "GetPolicy": s.getPolicy, "ListPolicies": s.listPolicies, "DeletePolicy": s.deletePolicy,
		"CreatePolicyVersion": s.createPolicyVersion, "GetPolicyVersion": s.getPolicyVersion, "ListPolicyVersions": s.listPolicyVersions,
		"DeletePolicyVersion": s.deletePolicyVersion, "SetDefaultPolicyVersion": s.setDefaultPolicyVersion,
		"AttachUserPolicy": s.attach(kindUser, true), "DetachUserPolicy": s.attach(kindUser, false), "ListAttachedUserPolicies": s.listAttached(kindUser),
		"AttachGroupPolicy": s.attach(kindGroup, true), "DetachGroupPolicy": s.attach(kindGroup, false), "ListAttachedGroupPolicies": s.listAttached(kindGroup),
		"AttachRolePolicy": s.attach(kindRole, true), "DetachRolePolicy": s.attach(kindRole, false), "ListAttachedRolePolicies": s.listAttached(kindRole),
		"ListEntitiesForPolicy": s.listEntitiesForPolicy,

		"CreateGroup": s.createGroup, "GetGroup": s.getGroup, "ListGroups": s.listGroups, "DeleteGroup": s.deleteGroup,
		"AddUserToGroup": s.membership(true), "RemoveUserFromGroup": s.membership(false), "ListGroupsForUser": s.listGroupsForUser,

		"TagUser": s.tag(kindUser), "UntagUser": s.untag(kindUser), "ListUserTags": s.listTags(kindUser),
		"TagRole": s.tag(kindRole), "UntagRole": s.untag(kindRole), "ListRoleTags": s.listTags(kindRole),
		"TagPolicy": s.tag(kindPolicy), "UntagPolicy": s.untag(kindPolicy), "ListPolicyTags": s.listTags(kindPolicy),
		"PutUserPermissionsBoundary": s.boundary(kindUser, true), "DeleteUserPermissionsBoundary": s.boundary(kindUser, false),
		"PutRolePermissionsBoundary": s.boundary(kindRole, true), "DeleteRolePermissionsBoundary": s.boundary(kindRole, false),
	}
	return s
}

// ServeHTTP serves one IAM request; the edge has authenticated it.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q, err := awsproto.ReadQuery(r)
	var out any
	if err == nil {
		o, ok := s.ops[q.Action]
		switch {
		case !ok || (q.Version != "" && q.Version != Version):
			err = awsproto.Errorf(awsproto.InvalidAction, "Could not find operation %s for version %s", clip(q.Action), clip(q.Version))
		default:
			if err = s.authorize(r.Context(), q); err == nil {
				out, err = o(r.Context(), q)
			}
		}
	}
	if err != nil {
		if ae := awsproto.AsError(err); ae.Unwrap() != nil {
			s.log.ErrorContext(r.Context(), "iam request failed", "requestId", awsproto.RequestID(r.Context()), "action", q.Action, "error", err)
		}
		Errors.WriteError(w, r, err)
		return
	}
	awsproto.WriteQueryResult(w, r, q.Action, Namespace, out)
}

// authorize asks the Authorizer whether the caller may run q's operation.
func (s *Service) authorize(ctx context.Context, q awsproto.QueryRequest) error {
	if s.cfg.Authorizer == nil {
		return nil
	}
	a, ok := actions[q.Action]
	if !ok {
		return awsproto.Internal(fmt.Errorf("iam: operation %s has no action", q.Action))
	}
	c := authz.Check{Action: "iam:" + q.Action, Resource: a.resource(s, ctx, q), ResourceTags: a.tags(s, q), Denied: awsproto.AccessDenied}
	if q.Params.Has("Tags.member.1.Key") {
		var in struct{ Tags []Tag }
		if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
			return err
		}
		c.RequestTags = tagMap(in.Tags)
	}
	return s.cfg.Authorizer.Authorize(ctx, c)
}

// caller is who signed the request; the root when the edge does not
// authenticate.
func (s *Service) caller(ctx context.Context) awsproto.Identity {
	c, _ := awsproto.CallerFrom(ctx)
	if c.Identity.ARN == "" {
		return token.Root(s.dir.cfg.Partition, s.dir.cfg.Account)
	}
	return c.Identity
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Second) }

// Validation.

// validation is AWS's "N validation errors detected" for problems, nil
// when there are none.
func validation(problems ...string) error {
	switch len(problems) {
	case 0:
		return nil
	case 1:
		return awsproto.Errorf(awsproto.ValidationError, "1 validation error detected: %s", problems[0])
	}
	return awsproto.Errorf(awsproto.ValidationError, "%d validation errors detected: %s", len(problems), strings.Join(problems, "; "))
}

// Names IAM allows: [\w+=,.@-]+ of at most max characters.
func checkName(problems []string, member, v string, max int) []string {
	if v == "" {
		return append(problems, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", member))
	}
	if len(v) > max {
		return append(problems, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", clip(v), member, max))
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_+=,.@-", c) >= 0) {
			return append(problems, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", clip(v), member))
		}
	}
	return problems
}

// checkPath: "/" or "/…/" of printable ASCII, at most 512 characters.
func checkPath(problems []string, member, v string) []string {
	if v == "" || v == "/" {
		return problems
	}
	ok := len(v) <= 512 && len(v) >= 2 && v[0] == '/' && v[len(v)-1] == '/'
	for i := 0; ok && i < len(v); i++ {
		ok = v[i] >= 0x21 && v[i] <= 0x7e
	}
	if !ok {
		return append(problems, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)", clip(v), member))
	}
	return problems
}

func pathOr(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// Paging.

// page cuts sorted items to one page: those after the Marker (the index
// of the first item, as the previous page answered it), at most MaxItems
// (100 by default, 1 to 1000), and whether more follow, with the Marker
// of the next page.
func page[T any](items []T, marker string, maxItems *int32) ([]T, bool, string, error) {
	max := 100
	if maxItems != nil {
		if *maxItems < 1 || *maxItems > 1000 {
			return nil, false, "", validation(fmt.Sprintf("Value '%d' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", *maxItems))
		}
		max = int(*maxItems)
	}
	start := 0
	if marker != "" {
		n, err := strconv.Atoi(marker)
		if err != nil || n < 0 || n > len(items) {
			return nil, false, "", awsproto.Errorf(awsproto.IAMInvalidInput, "Invalid Marker.")
		}
		start = n
	}
	items = items[start:]
	if len(items) > max {
		return items[:max], true, strconv.Itoa(start + max), nil
	}
	return items, false, "", nil
}

// clip shortens a client-supplied value echoed in a message.
func clip(s string) string {
	if len(s) > 256 {
		return s[:256] + "..."
	}
	return s
}

// urlEncode is a policy document as IAM answers it: percent-encoded,
// everything but the unreserved characters of RFC 3986.
func urlEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
