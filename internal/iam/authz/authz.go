// Package authz decides whether an authenticated caller may perform an
// operation: it gathers the policies that apply (the caller's identity
// policies from a Directory, the resource's policy, the session's) and asks
// the pure evaluator in internal/iam.
//
// Every service calls Authorize before an operation runs, with the IAM
// action and resource ARN its operation table names (each service keeps
// its table beside its dispatch, with a test that every operation has an
// entry). A nil *Authorizer allows everything: authentication is off.
//
// Who the caller is comes from the context: the edge's awsproto.Caller
// (the root key, an IAM user's key, a role session's temporary
// credentials), or WithService for a Kumo service invoking on behalf of an
// AWS service principal. A context with no caller is Kumo's own work and
// is not checked.
//
// It owns:
//   - the mapping of identities to the evaluator's principals, and the
//     condition keys every request gets (aws:CurrentTime from the clock,
//     aws:SourceIp, aws:RequestedRegion, a service's aws:SourceArn and
//     aws:SourceAccount);
//   - the caches that keep parsing off the request path: session policies
//     by their text (session.go), function policies by the registry's
//     statement slices (function.go). Identity policies come parsed from
//     the Directory;
//   - the wording of denials per service (EC2's prefix), their count
//     (kumo_authz_denied_total{service,action}) and their log line;
//   - Static, a Directory held in memory and filled by its owner (for
//     tests and embedders; the server's is IAM's, internal/services/iam).
//
// It must never read the store or block on I/O: Authorize runs on every
// request and allocates nothing on the common path (see
// BenchmarkAuthorize). The Authorizer is safe for concurrent use; its
// caches each have one lock, never held while another is taken.
package authz

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/prometheus/client_golang/prometheus"
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
	// Keys are the operation's own condition keys, named in lower case
	// (lambda:functionurlauthtype) so that they are passed on without
	// allocating; Authorize adds the global ones. Keys is only read.
	Keys         map[string][]string
	ResourceTags map[string]string
	RequestTags  map[string]string
	// SourceIP is the client's address (aws:SourceIp), "" if unknown;
	// SourceIP(r) reads it from a request.
	SourceIP string
	// Denied is the error code the service answers a denial with
	// (AccessDeniedException for Lambda, AccessDenied for IAM and STS,
	// UnauthorizedOperation for EC2).
	Denied awsproto.Code
}

// Config configures an Authorizer.
type Config struct {
	// Directory answers whose credentials a caller holds and which
	// policies apply to it.
	Directory Directory
	// Region is aws:RequestedRegion.
	Region string
	// Now is aws:CurrentTime's clock; time.Now when nil.
	Now func() time.Time
	// Logger receives one line per denial; nil discards.
	Logger *slog.Logger
}

// Authorizer answers Checks. A nil *Authorizer allows everything (the
// operator turned authentication off). It is safe for concurrent use.
type Authorizer struct {
	dir      Directory
	now      func() time.Time
	log      *slog.Logger
	region   []string
	sessions sessionCache
	denied   *prometheus.CounterVec
	keys     sync.Pool // *keySet
}

// New returns an Authorizer over cfg.Directory.
func New(cfg Config) *Authorizer {
	a := &Authorizer{dir: cfg.Directory, now: cfg.Now, log: cfg.Logger}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Region != "" {
		a.region = []string{cfg.Region}
	}
	a.denied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kumo_authz_denied_total",
		Help: "Requests refused by authorization, by service and IAM action.",
	}, []string{"service", "action"})
	a.keys.New = func() any { return &keySet{m: make(map[string][]string, 8)} }
	return a
}

// Collector is the denial counter, for the server's /metrics.
func (a *Authorizer) Collector() prometheus.Collector { return a.denied }

// Role returns the role roleARN names, for sts:AssumeRole.
func (a *Authorizer) Role(roleARN string) (Role, bool) {
	if a == nil || a.dir == nil {
		return Role{}, false
	}
	return a.dir.Role(roleARN)
}

// ManagedPolicies is what a Directory may also offer: the documents of
// managed policies by ARN, for the PolicyArns of AssumeRole.
type ManagedPolicies interface {
	ManagedPolicy(policyARN string) (doc string, ok bool)
}

// Policies returns the Directory's managed policies, nil when it has none
// to offer.
func (a *Authorizer) Policies() ManagedPolicies {
	if a == nil {
		return nil
	}
	mp, _ := a.dir.(ManagedPolicies)
	return mp
}

// keySet is the condition keys of one request, pooled so that a request
// adds keys without allocating.
type keySet struct {
	m  map[string][]string
	ip [1]string
	sa [1]string
	sc [1]string
}

// Condition keys Authorize adds to every request.
const (
	keySourceIP        = "aws:sourceip"
	keySourceARN       = "aws:sourcearn"
	keySourceAccount   = "aws:sourceaccount"
	keyRequestedRegion = "aws:requestedregion"
)

// service is a service principal invoking in-process (see WithService).
type service struct {
	name, sourceARN, sourceAccount string
}

type ctxKey struct{}

// WithService returns ctx for a call a Kumo service makes on behalf of an
// AWS service principal ("s3.amazonaws.com"), about the resource
// sourceARN of account sourceAccount (aws:SourceArn, aws:SourceAccount).
// Such a caller has no identity policies: only a resource policy naming
// the service allows it anything.
func WithService(ctx context.Context, name, sourceARN, sourceAccount string) context.Context {
	return context.WithValue(ctx, ctxKey{}, service{name, sourceARN, sourceAccount})
}

// principal maps the caller ctx carries to the evaluator's principal.
// allowed is true for callers that are not checked: no caller at all
// (Kumo's own in-process work) and anonymous callers (authentication is
// off).
func principal(ctx context.Context) (p iam.Principal, svc service, allowed bool) {
	if s, ok := ctx.Value(ctxKey{}).(service); ok {
		return iam.Principal{Type: iam.PrincipalService, Service: s.name}, s, false
	}
	c, ok := awsproto.CallerFrom(ctx)
	if !ok || c.Anonymous {
		return p, svc, true
	}
	id := &c.Identity
	p = iam.Principal{ARN: id.ARN, Account: id.Account, UserID: id.UserID}
	switch {
	case id.ARN == "":
		// A credential store that names no identity knows only the
		// root key.
		p.Type = iam.PrincipalRoot
	case id.RoleARN != "":
		p.Type = iam.PrincipalAssumedRole
		p.RoleARN = id.RoleARN
	case strings.HasSuffix(id.ARN, ":root"):
		p.Type = iam.PrincipalRoot
	default:
		p.Type = iam.PrincipalUser
		p.UserName = id.ARN[strings.LastIndexByte(id.ARN, '/')+1:]
	}
	return p, svc, false
}

// Authorize returns nil when the caller in ctx may perform c, and otherwise
// an *awsproto.Error with c.Denied and the message AWS words the denial
// with. The root user may do everything no resource policy explicitly
// denies it; the caller's identity is otherwise worth what the Directory
// says of it now, so a policy change applies to the next request.
func (a *Authorizer) Authorize(ctx context.Context, c Check) error {
	return a.authorize(ctx, c, false)
}

// AuthorizeAssumeRole checks sts:AssumeRole on a role (c.Resource, with
// c.ResourcePolicy its trust policy): the caller's policies must allow it
// as for any action, and the trust policy must name the caller (or its
// account) itself, even when an identity policy allows the action.
func (a *Authorizer) AuthorizeAssumeRole(ctx context.Context, c Check) error {
	if err := a.authorize(ctx, c, false); err != nil {
		return err
	}
	return a.authorize(ctx, c, true)
}

// authorize evaluates c; trustOnly leaves out the caller's own policies,
// so only the resource policy can allow.
func (a *Authorizer) authorize(ctx context.Context, c Check, trustOnly bool) error {
	if a == nil {
		return nil
	}
	p, svc, ok := principal(ctx)
	if ok {
		return nil
	}
	var ps iam.Policies
	var rp [1]*iam.Policy
	if c.ResourcePolicy != nil {
		rp[0] = c.ResourcePolicy
		ps.Resource = rp[:]
	}
	req := iam.Request{Principal: p, Action: c.Action, Resource: c.Resource, ResourceAccount: account(c.Resource),
		Now: a.now(), ResourceTags: c.ResourceTags, RequestTags: c.RequestTags}
	switch p.Type {
	case iam.PrincipalUser, iam.PrincipalAssumedRole:
		if trustOnly {
			break
		}
		caller, _ := awsproto.CallerFrom(ctx)
		var who Principal
		if a.dir != nil {
			who, ok = a.dir.Principal(caller.Identity)
		}
		if !ok {
			return a.deny(ctx, &p, c, iam.Decision{Outcome: iam.ImplicitDeny, Source: iam.SourceIdentity, Statement: -1})
		}
		ps.Identity, ps.Boundary, req.PrincipalTags = who.Policies, who.Boundary, who.Tags
		if caller.Identity.SessionPolicy != "" {
			sp, err := a.sessions.get(caller.Identity.SessionPolicy)
			if err != nil {
				return a.deny(ctx, &p, c, iam.Decision{Outcome: iam.ImplicitDeny, Source: iam.SourceSession, Statement: -1})
			}
			ps.Session = sp
		}
	}
	ks := a.keys.Get().(*keySet)
	defer func() { clear(ks.m); a.keys.Put(ks) }()
	for k, v := range c.Keys {
		ks.m[strings.ToLower(k)] = v
	}
	if a.region != nil {
		ks.m[keyRequestedRegion] = a.region
	}
	if c.SourceIP != "" {
		ks.ip[0] = c.SourceIP
		ks.m[keySourceIP] = ks.ip[:]
	}
	if svc.sourceARN != "" {
		ks.sa[0] = svc.sourceARN
		ks.m[keySourceARN] = ks.sa[:]
	}
	if svc.sourceAccount != "" {
		ks.sc[0] = svc.sourceAccount
		ks.m[keySourceAccount] = ks.sc[:]
	}
	req.Keys = ks.m
	if trustOnly {
		// Evaluated as if cross-account, a request needs the resource
		// policy to name the caller, its role or its account: the
		// evaluator then denies for want of a resource grant
		// (SourceResource) before it looks for an identity grant.
		req.ResourceAccount = crossAccount
	}
	d := iam.Evaluate(&ps, &req)
	if trustOnly && d.Outcome == iam.ImplicitDeny && d.Source != iam.SourceResource {
		return nil
	}
	if d.Allowed() {
		return nil
	}
	return a.deny(ctx, &p, c, d)
}

// crossAccount is a ResourceAccount no caller has.
const crossAccount = "-"

// deny counts and logs a denial and returns the error the service answers.
func (a *Authorizer) deny(ctx context.Context, p *iam.Principal, c Check, d iam.Decision) error {
	who := p.ARN
	if p.Type == iam.PrincipalService {
		who = p.Service
	}
	a.denied.WithLabelValues(serviceOf(c.Action), c.Action).Inc()
	a.log.InfoContext(ctx, "access denied", "requestId", awsproto.RequestID(ctx), "principal", who,
		"action", c.Action, "resource", c.Resource, "decision", d.Outcome.String(), "policy", d.Source.String(), "sid", d.Sid())
	msg := d.Message(who, c.Action, c.Resource)
	if prefix, ok := messagePrefix[c.Denied]; ok {
		msg = prefix + msg
	}
	return awsproto.Errorf(c.Denied, "%s", msg)
}

// messagePrefix is what a service puts before IAM's sentence.
var messagePrefix = map[awsproto.Code]string{
	awsproto.EC2UnauthorizedOperation: "You are not authorized to perform this operation. ",
}

// serviceOf is the service prefix of an IAM action: "lambda" for
// "lambda:InvokeFunction".
func serviceOf(action string) string {
	if i := strings.IndexByte(action, ':'); i >= 0 {
		return action[:i]
	}
	return action
}

// account is the account field of an ARN, "" for "*" or a global
// resource without one.
func account(resource string) string {
	s := resource
	for range 4 {
		i := strings.IndexByte(s, ':')
		if i < 0 {
			return ""
		}
		s = s[i+1:]
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return s[:i]
	}
	return ""
}
