package iam

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// Kind says what a policy document is attached to, which decides the
// grammar IAM accepts for it.
type Kind uint8

const (
	// KindIdentity is a policy attached to a user, group or role (inline or
	// managed), a permissions boundary, or a session policy: no Principal,
	// Action and Resource required.
	KindIdentity Kind = iota + 1
	// KindResource is a policy attached to a resource (a function, queue,
	// topic, bucket): Principal, Action and Resource required.
	KindResource
	// KindTrust is a role's trust policy (AssumeRolePolicyDocument): a
	// resource policy on the role, Principal required, no Resource.
	KindTrust
)

// Versions of the policy language. A document without Version is read as
// Version2008, in which ${...} is plain text rather than a policy variable.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Effect is a statement's Effect.
type Effect uint8

const (
	Allow Effect = iota + 1
	Deny
)

func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "Effect(" + fmt.Sprint(uint8(e)) + ")"
}

// Policy is a parsed, validated and compiled policy document. It is
// immutable after Parse (apart from Name, which the owner sets once before
// sharing it) and safe for concurrent evaluation.
type Policy struct {
	// Name is how a Decision names this policy: the owner's choice (a
	// policy ARN, "inline:bob/readonly"); Parse leaves it empty.
	Name       string
	Kind       Kind
	Version    string // "" when the document has none
	ID         string
	Statements []Statement
}

// Statement is one compiled statement of a Policy.
type Statement struct {
	Sid    string
	Effect Effect

	actions     []value // Action or NotAction
	notAction   bool
	resources   []value // Resource or NotResource; nil in a trust policy
	notResource bool
	principals  *principals // Principal or NotPrincipal; nil in an identity policy
	notPrinc    bool
	conditions  []condition
}

// MalformedError is a policy document IAM refuses. Message is the sentence
// IAM answers MalformedPolicyDocument with.
type MalformedError struct {
	Message string
}

func (e *MalformedError) Error() string { return "malformed policy document: " + e.Message }

// Messages IAM answers MalformedPolicyDocument with, as AWS words them.
const (
	msgSyntax            = "Syntax errors in policy."
	msgLegacyParsing     = "The policy failed legacy parsing"
	msgNoPrincipal       = "Policy document should not specify a principal."
	msgMissingPrincipal  = "Missing required field Principal"
	msgNoActions         = "Policy statement must contain actions."
	msgNoResources       = "Policy statement must contain resources."
	msgVendor            = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
	msgOneColon          = "Actions/Condition can contain only one colon."
	msgInvalidPrincipal  = "Invalid principal in policy"
	msgSidUnique         = "Statement IDs (SID) in a single policy must be unique."
	msgSidAlnum          = "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"
	msgTrustActions      = "AssumeRole policy may only specify STS AssumeRole actions."
	msgProhibitedField   = "Has prohibited field %s"
	msgResourceARNFormat = "Resource %s must be in ARN format or \"*\"."
	msgConditionType     = "Invalid Condition type : %s"
)

func malformed(msg string) error { return &MalformedError{Message: msg} }

func malformedf(format string, a ...any) error {
	return &MalformedError{Message: fmt.Sprintf(format, a...)}
}

// Quota is one of IAM's limits on the size of policy documents, counted in
// characters other than white space (see Size). Name is the key
// GetAccountSummary reports it under.
type Quota struct {
	Name string
	Max  int
	// message is IAM's LimitExceeded message, formatted with Max and the
	// entity's name ("" where IAM words it otherwise).
	message string
}

// Message is the LimitExceeded message IAM answers when a document for the
// user, group or role named entity is over q.
func (q Quota) Message(entity string) string {
	if q.message == "" {
		return fmt.Sprintf("Cannot exceed quota for %s: %d", q.Name, q.Max)
	}
	return fmt.Sprintf(q.message, q.Max, entity)
}

// IAM's policy size quotas (IAM and AWS STS quotas, "IAM and STS character
// limits"). The inline quotas are for the sum of all inline policies of one
// user, group or role.
var (
	QuotaUserInline  = Quota{Name: "UserPolicySizeQuota", Max: 2048, message: "Maximum policy size of %d bytes exceeded for user %s"}
	QuotaGroupInline = Quota{Name: "GroupPolicySizeQuota", Max: 5120, message: "Maximum policy size of %d bytes exceeded for group %s"}
	QuotaRoleInline  = Quota{Name: "RolePolicySizeQuota", Max: 10240, message: "Maximum policy size of %d bytes exceeded for role %s"}
	QuotaManaged     = Quota{Name: "PolicySizeQuota", Max: 6144, message: "Cannot exceed quota for PolicySize: %d%.0s"}
	QuotaTrust       = Quota{Name: "AssumeRolePolicySizeQuota", Max: 2048, message: "Cannot exceed quota for ACLSizePerRole: %d%.0s"}
	// QuotaSession is the plain-text limit of the session policies passed to
	// AssumeRole (inline and managed together).
	QuotaSession = Quota{Name: "SessionPolicySize", Max: 2048}
)

// Size is the size of a policy document as IAM counts it against its
// quotas: characters, not counting white space.
func Size(doc string) int {
	n := 0
	for _, r := range doc {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

// Exceeds reports whether a document of size n is over q.
func (q Quota) Exceeds(n int) bool { return n > q.Max }

// Parse parses and validates a policy document of the given kind the way
// IAM does on write, and compiles it for Evaluate. A document IAM would
// refuse yields a *MalformedError.
func Parse(doc string, kind Kind) (*Policy, error) {
	if kind != KindResource {
		if err := checkCharset(doc); err != nil {
			return nil, err
		}
	}
	top, err := object([]byte(doc))
	if err != nil {
		return nil, err
	}
	p := &Policy{Kind: kind}
	var stmtRaw json.RawMessage
	for k, raw := range top {
		switch k {
		case "Version":
			if p.Version, err = str(raw); err != nil {
				return nil, err
			}
		case "Id":
			if p.ID, err = str(raw); err != nil {
				return nil, err
			}
		case "Statement":
			stmtRaw = raw
		default:
			return nil, malformed(msgSyntax)
		}
	}
	switch p.Version {
	case "", Version2008, Version2012:
	default:
		return nil, malformed(msgLegacyParsing)
	}
	if stmtRaw == nil {
		return nil, malformed(msgSyntax)
	}
	raws, err := oneOrMany(stmtRaw)
	if err != nil {
		return nil, err
	}
	if len(raws) == 0 {
		return nil, malformed(msgSyntax)
	}
	vars := p.Version == Version2012
	sids := make(map[string]bool, len(raws))
	p.Statements = make([]Statement, 0, len(raws))
	for _, raw := range raws {
		st, err := parseStatement(raw, kind, vars)
		if err != nil {
			return nil, err
		}
		if st.Sid != "" {
			if sids[st.Sid] {
				return nil, malformed(msgSidUnique)
			}
			sids[st.Sid] = true
		}
		p.Statements = append(p.Statements, st)
	}
	return p, nil
}

// checkCharset refuses characters IAM does not allow in policy documents:
// anything but tab, line feed, carriage return and U+0020 to U+00FF.
func checkCharset(doc string) error {
	for _, r := range doc {
		if r != '\t' && r != '\n' && r != '\r' && (r < 0x20 || r > 0xff) {
			return malformed(msgSyntax)
		}
	}
	return nil
}

func parseStatement(raw json.RawMessage, kind Kind, vars bool) (Statement, error) {
	var st Statement
	fields, err := object(raw)
	if err != nil {
		return st, err
	}
	has := func(k string) bool { _, ok := fields[k]; return ok }
	for k := range fields {
		switch k {
		case "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
			"Resource", "NotResource", "Condition":
		default:
			return st, malformed(msgSyntax)
		}
	}
	if raw, ok := fields["Sid"]; ok {
		if st.Sid, err = str(raw); err != nil {
			return st, err
		}
		if kind != KindResource && !isAlnum(st.Sid) {
			return st, malformed(msgSidAlnum)
		}
	}
	effect, ok := fields["Effect"]
	if !ok {
		return st, malformed(msgSyntax)
	}
	e, err := str(effect)
	if err != nil {
		return st, err
	}
	switch e {
	case "Allow":
		st.Effect = Allow
	case "Deny":
		st.Effect = Deny
	default:
		return st, malformed(msgSyntax)
	}

	// Principal.
	switch {
	case has("Principal") && has("NotPrincipal"):
		return st, malformed(msgSyntax)
	case kind == KindIdentity && (has("Principal") || has("NotPrincipal")):
		return st, malformed(msgNoPrincipal)
	case kind != KindIdentity && !has("Principal") && !has("NotPrincipal"):
		return st, malformed(msgMissingPrincipal)
	case kind != KindIdentity:
		raw, not := fields["Principal"], false
		if raw == nil {
			raw, not = fields["NotPrincipal"], true
		}
		if st.principals, err = parsePrincipals(raw); err != nil {
			return st, err
		}
		st.notPrinc = not
	}

	// Action.
	if has("Action") && has("NotAction") {
		return st, malformed(msgSyntax)
	}
	actRaw, notAct := fields["Action"], false
	if actRaw == nil {
		actRaw, notAct = fields["NotAction"], true
	}
	if actRaw == nil {
		return st, malformed(msgNoActions)
	}
	acts, err := strings1(actRaw)
	if err != nil {
		return st, err
	}
	if len(acts) == 0 {
		return st, malformed(msgNoActions)
	}
	for _, a := range acts {
		if err := checkAction(a); err != nil {
			return st, err
		}
		if kind == KindTrust && !trustAction(a) {
			return st, malformed(msgTrustActions)
		}
		st.actions = append(st.actions, compileValue(a, false))
	}
	st.notAction = notAct

	// Resource.
	if has("Resource") && has("NotResource") {
		return st, malformed(msgSyntax)
	}
	switch {
	case kind == KindTrust && has("Resource"):
		return st, malformedf(msgProhibitedField, "Resource")
	case kind == KindTrust && has("NotResource"):
		return st, malformedf(msgProhibitedField, "NotResource")
	case kind != KindTrust:
		resRaw, notRes := fields["Resource"], false
		if resRaw == nil {
			resRaw, notRes = fields["NotResource"], true
		}
		if resRaw == nil {
			return st, malformed(msgNoResources)
		}
		res, err := strings1(resRaw)
		if err != nil {
			return st, err
		}
		if len(res) == 0 {
			return st, malformed(msgNoResources)
		}
		for _, r := range res {
			if r != "*" && !(strings.HasPrefix(r, "arn:") && segments(r) >= 6) {
				return st, malformedf(msgResourceARNFormat, r)
			}
			st.resources = append(st.resources, compileValue(r, vars))
		}
		st.notResource = notRes
	}

	if raw, ok := fields["Condition"]; ok {
		if st.conditions, err = parseConditions(raw, vars); err != nil {
			return st, err
		}
	}
	return st, nil
}

// checkAction accepts "*" and "vendor:action" with one colon.
func checkAction(a string) error {
	if a == "*" {
		return nil
	}
	vendor, _, ok := strings.Cut(a, ":")
	switch {
	case !ok || vendor == "":
		return malformed(msgVendor)
	case strings.Count(a, ":") > 1:
		return malformed(msgOneColon)
	}
	return nil
}

// trustAction reports whether a may appear in a trust policy: the sts
// actions that assume a role or tag or name its session.
func trustAction(a string) bool {
	if a == "*" {
		return true
	}
	vendor, name, _ := strings.Cut(a, ":")
	if !strings.EqualFold(vendor, "sts") {
		return false
	}
	for _, ok := range []string{"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "TagSession", "SetSourceIdentity", "SetContext"} {
		if glob(strings.ToLower(name), strings.ToLower(ok), true, false) {
			return true
		}
	}
	return false
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// object decodes a JSON object keeping its field names exactly as written
// (IAM's element names are case-sensitive).
func object(raw []byte) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, malformed(msgSyntax)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, malformed(msgSyntax)
	}
	return m, nil
}

// oneOrMany splits a value that may be one item or an array of items.
func oneOrMany(raw json.RawMessage) ([]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, malformed(msgSyntax)
		}
		return items, nil
	}
	return []json.RawMessage{raw}, nil
}

func str(raw json.RawMessage) (string, error) {
	var s string
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", malformed(msgSyntax)
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", malformed(msgSyntax)
	}
	return s, nil
}

// strings1 reads a string or an array of strings.
func strings1(raw json.RawMessage) ([]string, error) {
	items, err := oneOrMany(raw)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, err := str(it)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// scalars reads a condition's values: a string, number or boolean, or an
// array of them, each as its text.
func scalars(raw json.RawMessage) ([]string, error) {
	items, err := oneOrMany(raw)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		it = bytes.TrimSpace(it)
		switch {
		case len(it) > 0 && it[0] == '"':
			s, err := str(it)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		case bytes.Equal(it, []byte("true")), bytes.Equal(it, []byte("false")):
			out = append(out, string(it))
		default:
			var n json.Number
			if err := json.Unmarshal(it, &n); err != nil || n == "" {
				return nil, malformed(msgSyntax)
			}
			out = append(out, n.String())
		}
	}
	return out, nil
}
