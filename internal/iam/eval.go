package iam

import (
	"strconv"
	"strings"
	"time"
)

// PrincipalType is the kind of caller a request comes from.
type PrincipalType uint8

const (
	PrincipalAnonymous     PrincipalType = iota // no credentials
	PrincipalRoot                               // the account's root user
	PrincipalUser                               // an IAM user
	PrincipalAssumedRole                        // a role session from AssumeRole
	PrincipalFederatedUser                      // a session from GetFederationToken
	PrincipalService                            // an AWS service principal (s3.amazonaws.com)
)

// awsType is the value of aws:PrincipalType.
func (t PrincipalType) awsType() string {
	switch t {
	case PrincipalRoot:
		return "Account"
	case PrincipalUser:
		return "User"
	case PrincipalAssumedRole:
		return "AssumedRole"
	case PrincipalFederatedUser:
		return "FederatedUser"
	case PrincipalService:
		return "Service"
	}
	return "Anonymous"
}

// Principal is who makes a request, as the edge authenticated it.
type Principal struct {
	Type PrincipalType
	// ARN is the caller as AWS prints it: arn:aws:iam::123456789012:root,
	// arn:aws:iam::123456789012:user/path/bob,
	// arn:aws:sts::123456789012:assumed-role/name/session. Empty for a
	// service or an anonymous caller.
	ARN     string
	Account string
	// RoleARN is the role of an assumed-role session
	// (arn:aws:iam::123456789012:role/path/name).
	RoleARN string
	// UserName is an IAM user's name (aws:username); UserID the unique id
	// AWS puts in aws:userid (AIDA... for a user, AROA...:session for a
	// role session).
	UserName string
	UserID   string
	// Service is the service principal name of a PrincipalService caller.
	Service string
	// Federated is the identity provider a web identity or SAML session
	// came through, matched against Principal {"Federated": ...}.
	Federated string
}

// Request is what a request asks for, filled by the caller for Evaluate.
// Evaluate does not modify it; one Request may be evaluated concurrently.
type Request struct {
	Principal Principal
	Action    string // "lambda:InvokeFunction"
	// Resource is the ARN acted on; "*" for actions without a resource.
	Resource string
	// ResourceAccount owns Resource; when set and not the caller's account
	// the request is cross-account and needs both an identity and a
	// resource policy to allow it.
	ResourceAccount string
	// Now is aws:CurrentTime and aws:EpochTime unless Keys sets them.
	Now time.Time
	// Keys holds the condition keys of the request (aws:SourceArn,
	// aws:SourceIp, lambda:FunctionUrlAuthType, ...). Names match without
	// case; lower-case names (Set writes them) are found fastest. Keys
	// derived from the fields above (aws:PrincipalArn, aws:username, the tag
	// keys, ...) need not be repeated; a key set here overrides them.
	Keys map[string][]string
	// Tags for aws:PrincipalTag/, aws:ResourceTag/ and aws:RequestTag/ (and
	// aws:TagKeys from RequestTags). Tag keys match without case.
	PrincipalTags map[string]string
	ResourceTags  map[string]string
	RequestTags   map[string]string
}

// Set sets condition key k (any case) to vals.
func (r *Request) Set(k string, vals ...string) {
	if r.Keys == nil {
		r.Keys = make(map[string][]string)
	}
	r.Keys[strings.ToLower(k)] = vals
}

// keyValues is the values of one condition key, held without allocating
// for single derived values.
type keyValues struct {
	one  string
	many []string
	n    int
}

func (kv keyValues) at(i int) string {
	if kv.many != nil {
		return kv.many[i]
	}
	return kv.one
}

func one(s string) keyValues {
	if s == "" {
		return keyValues{}
	}
	return keyValues{one: s, n: 1}
}

// Condition keys Evaluate derives from the Request.
const (
	keyCurrentTime      = "aws:currenttime"
	keyEpochTime        = "aws:epochtime"
	keyPrincipalARN     = "aws:principalarn"
	keyPrincipalAccount = "aws:principalaccount"
	keyPrincipalType    = "aws:principaltype"
	keyUserName         = "aws:username"
	keyUserID           = "aws:userid"
	keyServiceName      = "aws:principalservicename"
	keyTagKeys          = "aws:tagkeys"
	prefixPrincipalTag  = "aws:principaltag/"
	prefixResourceTag   = "aws:resourcetag/"
	prefixRequestTag    = "aws:requesttag/"
)

// lookup returns the values of the lower-case key k.
func (r *Request) lookup(k string) keyValues {
	if vs, ok := r.Keys[k]; ok {
		return keyValues{many: vs, n: len(vs)}
	}
	for name, vs := range r.Keys {
		if strings.EqualFold(name, k) {
			return keyValues{many: vs, n: len(vs)}
		}
	}
	p := &r.Principal
	switch k {
	case keyCurrentTime:
		if r.Now.IsZero() {
			return keyValues{}
		}
		return one(r.Now.UTC().Format(time.RFC3339))
	case keyEpochTime:
		if r.Now.IsZero() {
			return keyValues{}
		}
		return one(strconv.FormatInt(r.Now.Unix(), 10))
	case keyPrincipalARN:
		if p.Type == PrincipalAssumedRole && p.RoleARN != "" {
			return one(p.RoleARN)
		}
		return one(p.ARN)
	case keyPrincipalAccount:
		return one(p.Account)
	case keyPrincipalType:
		return one(p.Type.awsType())
	case keyUserName:
		if p.Type == PrincipalUser {
			return one(p.UserName)
		}
		return keyValues{}
	case keyUserID:
		return one(p.UserID)
	case keyServiceName:
		if p.Type == PrincipalService {
			return one(p.Service)
		}
		return keyValues{}
	case keyTagKeys:
		if len(r.RequestTags) == 0 {
			return keyValues{}
		}
		keys := make([]string, 0, len(r.RequestTags))
		for t := range r.RequestTags {
			keys = append(keys, t)
		}
		return keyValues{many: keys, n: len(keys)}
	}
	switch {
	case strings.HasPrefix(k, prefixPrincipalTag):
		return tag(r.PrincipalTags, k[len(prefixPrincipalTag):])
	case strings.HasPrefix(k, prefixResourceTag):
		return tag(r.ResourceTags, k[len(prefixResourceTag):])
	case strings.HasPrefix(k, prefixRequestTag):
		return tag(r.RequestTags, k[len(prefixRequestTag):])
	}
	return keyValues{}
}

func tag(tags map[string]string, k string) keyValues {
	if v, ok := tags[k]; ok {
		return keyValues{one: v, n: 1}
	}
	for t, v := range tags {
		if strings.EqualFold(t, k) {
			return keyValues{one: v, n: 1}
		}
	}
	return keyValues{}
}

// currentTimeDerived reports whether aws:CurrentTime comes from Now, so Date
// operators can compare Now without formatting and parsing it.
func (r *Request) currentTimeDerived() bool {
	if r.Now.IsZero() {
		return false
	}
	for name := range r.Keys {
		if strings.EqualFold(name, keyCurrentTime) {
			return false
		}
	}
	return true
}

// Policies are the policies that apply to one request.
type Policies struct {
	// Identity holds the caller's identity-based policies: for a user its
	// inline and attached policies and those of its groups; for a role
	// session the role's. Empty for the root user, services and anonymous
	// callers.
	Identity []*Policy
	// Resource holds the resource-based policies of the resource acted on
	// (a function policy, a role's trust policy for sts:AssumeRole).
	Resource []*Policy
	// Boundary is the caller's permissions boundary, nil if none.
	Boundary *Policy
	// Session holds the session policies of a role or federated session,
	// empty if none were passed.
	Session []*Policy
}

var noPolicies Policies

// Outcome is the result of an evaluation.
type Outcome uint8

const (
	ImplicitDeny Outcome = iota // nothing allowed the request
	Allowed
	ExplicitDeny // a Deny statement applied
)

func (o Outcome) String() string {
	switch o {
	case Allowed:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	}
	return "ImplicitDeny"
}

// Source is a type of policy, as denial messages name it.
type Source uint8

const (
	SourceNone Source = iota // the root user's own access
	SourceIdentity
	SourceResource
	SourceBoundary
	SourceSession
)

// phrase is how AWS's denial messages name the source, with its article.
func (s Source) phrase() (article, name string) {
	switch s {
	case SourceResource:
		return "a", "resource-based policy"
	case SourceBoundary:
		return "a", "permissions boundary"
	case SourceSession:
		return "a", "session policy"
	}
	return "an", "identity-based policy"
}

func (s Source) String() string {
	if s == SourceNone {
		return "none"
	}
	_, n := s.phrase()
	return n
}

// Decision is the result of Evaluate and what decided it.
type Decision struct {
	Outcome Outcome
	// Source is the type of policy that decided: the one holding the
	// deciding statement, or for an ImplicitDeny the one that lacked an
	// Allow.
	Source Source
	// Policy and Statement locate the deciding statement (Policy.Name and
	// the statement's index); Statement is -1 and Policy nil when no
	// statement decided.
	Policy    *Policy
	Statement int
}

// Allowed reports whether the request may proceed.
func (d Decision) Allowed() bool { return d.Outcome == Allowed }

// Sid is the deciding statement's Sid, "" if none.
func (d Decision) Sid() string {
	if d.Policy == nil || d.Statement < 0 {
		return ""
	}
	return d.Policy.Statements[d.Statement].Sid
}

// Reason is the end of AWS's AccessDenied message for a denial of action:
// "because no identity-based policy allows the lambda:InvokeFunction
// action" or "with an explicit deny in a resource-based policy". It is ""
// for an Allow.
func (d Decision) Reason(action string) string {
	a, n := d.Source.phrase()
	switch d.Outcome {
	case ExplicitDeny:
		return "with an explicit deny in " + a + " " + n
	case ImplicitDeny:
		return "because no " + n + " allows the " + action + " action"
	}
	return ""
}

// Message is AWS's AccessDenied message for a denial:
// "User: arn:aws:iam::123456789012:user/bob is not authorized to perform:
// lambda:InvokeFunction on resource: arn:aws:lambda:...:function:f because
// no identity-based policy allows the lambda:InvokeFunction action".
// An empty principal is "anonymous"; an empty or "*" resource is left out.
func (d Decision) Message(principal, action, resource string) string {
	if principal == "" {
		principal = "anonymous"
	}
	var b strings.Builder
	b.WriteString("User: ")
	b.WriteString(principal)
	b.WriteString(" is not authorized to perform: ")
	b.WriteString(action)
	if resource != "" {
		b.WriteString(" on resource: ")
		b.WriteString(resource)
	}
	if reason := d.Reason(action); reason != "" {
		b.WriteByte(' ')
		b.WriteString(reason)
	}
	return b.String()
}

// hit is the first statement of a kind found while scanning.
type hit struct {
	p     *Policy
	i     int
	grant grant
}

func (h hit) found() bool { return h.p != nil }

// scan evaluates every statement of ps against r and returns the first
// applicable Deny and the first (for resource policies: the widest)
// applicable Allow.
func scan(ps []*Policy, r *Request, scratch []byte) (deny, allow hit) {
	for _, p := range ps {
		if p == nil {
			continue
		}
		for i := range p.Statements {
			st := &p.Statements[i]
			if st.Effect == Allow && allow.grant == grantDirect {
				continue
			}
			if deny.found() && st.Effect == Deny {
				continue
			}
			g, ok := st.applies(r, scratch)
			if !ok {
				continue
			}
			if st.Effect == Deny {
				deny = hit{p: p, i: i, grant: g}
			} else if !allow.found() || g > allow.grant {
				allow = hit{p: p, i: i, grant: g}
			}
		}
	}
	return deny, allow
}

// applies reports whether the statement applies to r, and for a statement
// with a Principal how it names the caller.
func (st *Statement) applies(r *Request, scratch []byte) (grant, bool) {
	if !st.matchAction(r.Action) {
		return grantNone, false
	}
	if st.resources != nil && !st.matchResource(r, scratch) {
		return grantNone, false
	}
	g := grantDirect
	if st.principals != nil {
		if st.notPrinc {
			if st.principals.excludes(&r.Principal) {
				return grantNone, false
			}
		} else if g = st.principals.match(&r.Principal); g == grantNone {
			return grantNone, false
		}
	}
	for i := range st.conditions {
		if !st.conditions[i].eval(r, scratch) {
			return grantNone, false
		}
	}
	return g, true
}

func (st *Statement) matchAction(action string) bool {
	m := false
	for i := range st.actions {
		a := &st.actions[i]
		if (a.plain && strings.EqualFold(a.glob, action)) || (!a.plain && glob(a.glob, action, true, true)) {
			m = true
			break
		}
	}
	return m != st.notAction
}

func (st *Statement) matchResource(r *Request, scratch []byte) bool {
	m := false
	for i := range st.resources {
		if st.resources[i].matchARN(r, scratch, r.Resource) {
			m = true
			break
		}
	}
	return m != st.notResource
}

// Evaluate decides r against ps with AWS's policy evaluation logic for
// requests within an account ("Policy evaluation logic", "How AWS
// enforcement code logic evaluates requests"):
//
//  1. An applicable Deny in any policy — identity-based, resource-based,
//     permissions boundary, session — is an ExplicitDeny.
//  2. The root user of the account is allowed.
//  3. Cross-account (ResourceAccount set and not the caller's): an Allow
//     is needed from a resource-based policy (naming the caller, its role,
//     its account or everyone) and from the identity side (step 5 on).
//  4. A resource-based policy that allows the caller itself — its user ARN,
//     its session ARN, its service principal, or everyone — allows the
//     request; an implicit deny in identity-based policies, a boundary or
//     session policies does not limit it. A resource-based policy that
//     allows the role of a role session counts as an identity Allow that
//     the boundary and session policies still limit; one that allows only
//     the caller's account delegates to the account's identity policies and
//     allows nothing by itself.
//  5. Without an Allow from an identity-based policy (or step 4's role
//     grant): ImplicitDeny. A service or anonymous caller has no identity
//     policies and is denied "because no resource-based policy allows".
//  6. With a permissions boundary that does not allow: ImplicitDeny.
//  7. With session policies none of which allows: ImplicitDeny.
//  8. Allowed.
//
// Evaluate is pure: it reads r and ps only, and is safe for concurrent use.
func Evaluate(ps *Policies, r *Request) Decision {
	if ps == nil {
		ps = &noPolicies
	}
	var buf [256]byte
	scratch := buf[:0]
	root := r.Principal.Type == PrincipalRoot
	hasIdentity := !root && r.Principal.Type != PrincipalService && r.Principal.Type != PrincipalAnonymous

	var idDeny, idAllow, bDeny, bAllow, sDeny, sAllow hit
	if hasIdentity {
		idDeny, idAllow = scan(ps.Identity, r, scratch)
		if ps.Boundary != nil {
			bDeny, bAllow = scan([]*Policy{ps.Boundary}, r, scratch)
		}
		if len(ps.Session) > 0 {
			sDeny, sAllow = scan(ps.Session, r, scratch)
		}
	}
	rDeny, rAllow := scan(ps.Resource, r, scratch)

	for _, d := range []struct {
		h   hit
		src Source
	}{{idDeny, SourceIdentity}, {bDeny, SourceBoundary}, {sDeny, SourceSession}, {rDeny, SourceResource}} {
		if d.h.found() {
			return Decision{Outcome: ExplicitDeny, Source: d.src, Policy: d.h.p, Statement: d.h.i}
		}
	}
	if root {
		return Decision{Outcome: Allowed, Source: SourceNone, Statement: -1}
	}
	if !hasIdentity {
		if rAllow.found() {
			return Decision{Outcome: Allowed, Source: SourceResource, Policy: rAllow.p, Statement: rAllow.i}
		}
		return Decision{Outcome: ImplicitDeny, Source: SourceResource, Statement: -1}
	}

	cross := r.ResourceAccount != "" && r.Principal.Account != "" && r.ResourceAccount != r.Principal.Account
	idOK := idAllow
	if cross {
		if !rAllow.found() {
			return Decision{Outcome: ImplicitDeny, Source: SourceResource, Statement: -1}
		}
	} else {
		switch rAllow.grant {
		case grantDirect:
			return Decision{Outcome: Allowed, Source: SourceResource, Policy: rAllow.p, Statement: rAllow.i}
		case grantRole:
			if !idOK.found() {
				idOK = rAllow
			}
		}
	}
	if !idOK.found() {
		return Decision{Outcome: ImplicitDeny, Source: SourceIdentity, Statement: -1}
	}
	if ps.Boundary != nil && !bAllow.found() {
		return Decision{Outcome: ImplicitDeny, Source: SourceBoundary, Statement: -1}
	}
	if len(ps.Session) > 0 && !sAllow.found() {
		return Decision{Outcome: ImplicitDeny, Source: SourceSession, Statement: -1}
	}
	src := SourceIdentity
	if idOK.p != idAllow.p || idOK.i != idAllow.i {
		src = SourceResource
	}
	return Decision{Outcome: Allowed, Source: src, Policy: idOK.p, Statement: idOK.i}
}
