package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/awsproto/arn"
)

// AddPermissionInput is the AddPermission request body. The qualifier comes
// with the function reference.
type AddPermissionInput struct {
	StatementId           string `json:"StatementId"`
	Action                string `json:"Action"`
	Principal             string `json:"Principal"`
	SourceArn             string `json:"SourceArn"`
	SourceAccount         string `json:"SourceAccount"`
	EventSourceToken      string `json:"EventSourceToken"`
	RevisionId            string `json:"RevisionId"`
	PrincipalOrgID        string `json:"PrincipalOrgID"`
	FunctionUrlAuthType   string `json:"FunctionUrlAuthType"`
	InvokedViaFunctionUrl *bool  `json:"InvokedViaFunctionUrl"`
}

// policyDocument is a resource policy as GetPolicy returns it.
type policyDocument struct {
	Version   string      `json:"Version"`
	Id        string      `json:"Id"`
	Statement []Statement `json:"Statement"`
}

// policyJSON renders v the way AWS prints policies: compact, with '<', '>'
// and '&' left as they are.
func policyJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", awsproto.Internal(err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func renderPolicy(p Policy) (string, error) {
	return policyJSON(policyDocument{Version: "2012-10-17", Id: "default", Statement: p.Statements})
}

// policyKey is the key of a qualifier's policy in Function.Policies.
func policyKey(qualifier string) string {
	if qualifier == Latest {
		return ""
	}
	return qualifier
}

// checkQualifier returns Lambda's not-found error unless q ("" for the
// unqualified function) names $LATEST, a published version or an alias of f.
func (r *Registry) checkQualifier(f *Function, name, q string) error {
	switch {
	case q == "" || q == Latest:
		return nil
	case isDigits(q):
		return r.checkVersionExists(f, name, q)
	case f.Aliases != nil:
		if _, ok := f.Aliases[q]; ok {
			return nil
		}
	}
	return r.aliasNotFound(name, q)
}

func isStatementID(s string, dot bool) bool {
	for i := 0; i < len(s); i++ {
		if !isNameChar(s[i]) && !(dot && s[i] == '.') {
			return false
		}
	}
	return s != ""
}

// isAction matches (lambda:[*]|lambda:[a-zA-Z]+|[*]).
func isAction(s string) bool {
	if s == "*" || s == "lambda:*" {
		return true
	}
	rest, ok := strings.CutPrefix(s, "lambda:")
	if !ok || rest == "" {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// isSourceARN matches
// arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*).
func isSourceARN(s string) bool {
	p := strings.SplitN(s, ":", 6)
	if len(p) != 6 || p[0] != "arn" || !strings.HasPrefix(p[1], "aws") || p[2] == "" {
		return false
	}
	for _, tok := range p[1:3] {
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; !(isNameChar(c) && c != '_') {
				return false
			}
		}
	}
	return (p[3] == "" || isRegion(p[3])) && (p[4] == "" || len(p[4]) == 12 && isDigits(p[4]))
}

func isOrgID(s string) bool {
	rest, ok := strings.CutPrefix(s, "o-")
	if !ok || len(rest) < 10 || len(rest) > 32 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func notNull(member string) *awsproto.Error {
	return validation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
}

func validatePermission(in *AddPermissionInput) error {
	switch sid := in.StatementId; {
	case sid == "":
		return notNull("statementId")
	case len(sid) > 100:
		return constraint(clip(sid), "statementId", "Member must have length less than or equal to 100")
	case !isStatementID(sid, false):
		return constraint(clip(sid), "statementId", "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)")
	}
	switch {
	case in.Action == "":
		return notNull("action")
	case !isAction(in.Action):
		return constraint(clip(in.Action), "action", "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])")
	}
	switch {
	case in.Principal == "":
		return notNull("principal")
	case strings.ContainsAny(in.Principal, " \t\r\n\v\f"):
		return constraint(clip(in.Principal), "principal", `Member must satisfy regular expression pattern: [^\s]+`)
	}
	if in.SourceArn != "" && !isSourceARN(in.SourceArn) {
		return constraint(clip(in.SourceArn), "sourceArn", `Member must satisfy regular expression pattern: arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)`)
	}
	if a := in.SourceAccount; a != "" {
		if len(a) > 12 {
			return constraint(clip(a), "sourceAccount", "Member must have length less than or equal to 12")
		}
		if len(a) != 12 || !isDigits(a) {
			return constraint(a, "sourceAccount", `Member must satisfy regular expression pattern: \d{12}`)
		}
	}
	if t := in.EventSourceToken; t != "" {
		if len(t) > 256 {
			return constraint(clip(t), "eventSourceToken", "Member must have length less than or equal to 256")
		}
		for i := 0; i < len(t); i++ {
			if !(isNameChar(t[i]) || t[i] == '.') {
				return constraint(clip(t), "eventSourceToken", `Member must satisfy regular expression pattern: [a-zA-Z0-9._\-]+`)
			}
		}
	}
	if o := in.PrincipalOrgID; o != "" {
		switch {
		case len(o) < 12:
			return constraint(clip(o), "principalOrgID", "Member must have length greater than or equal to 12")
		case len(o) > 34:
			return constraint(clip(o), "principalOrgID", "Member must have length less than or equal to 34")
		case !isOrgID(o):
			return constraint(clip(o), "principalOrgID", "Member must satisfy regular expression pattern: o-[a-z0-9]{10,32}")
		}
	}
	switch in.FunctionUrlAuthType {
	case "", "NONE", "AWS_IAM":
	default:
		return constraint(clip(in.FunctionUrlAuthType), "functionUrlAuthType", "Member must satisfy enum value set: [NONE, AWS_IAM]")
	}
	return nil
}

// principal is the Principal element of a statement for the Principal
// member of AddPermission: "*", an account, an IAM ARN or a service.
func (r *Registry) principal(p string) (any, error) {
	switch {
	case p == "*":
		return "*", nil
	case arn.IsAccount(p):
		return map[string]string{"AWS": arn.Scope{Partition: r.arns.Partition, Account: p}.Root()}, nil
	case strings.HasPrefix(p, "arn:"):
		// arn:PARTITION:(iam|sts)::ACCOUNT:RESOURCE
		if a, err := arn.Parse(p); err == nil && (a.Service == "iam" || a.Service == "sts") && a.Region == "" && arn.IsAccount(a.Account) {
			return map[string]string{"AWS": p}, nil
		}
	case isServicePrincipal(p):
		return map[string]string{"Service": p}, nil
	}
	return nil, invalid("The provided principal was invalid. Please check the principal and try again.")
}

// isServicePrincipal accepts DNS names such as s3.amazonaws.com,
// alexa-appkit.amazon.com or lambda.amazonaws.com.cn.
func isServicePrincipal(p string) bool {
	labels := strings.Split(p, ".")
	if len(labels) < 2 || len(p) > 253 {
		return false
	}
	for _, l := range labels {
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return isLower(labels[len(labels)-1])
}

// statement builds the statement AddPermission stores, conditions keyed as
// IAM spells them.
func (r *Registry) statement(in *AddPermissionInput, resource string) (Statement, error) {
	pr, err := r.principal(in.Principal)
	if err != nil {
		return Statement{}, err
	}
	s := Statement{Sid: in.StatementId, Effect: "Allow", Principal: pr, Action: in.Action, Resource: resource}
	cond := func(op, key, value string) {
		if s.Condition == nil {
			s.Condition = map[string]map[string]string{}
		}
		if s.Condition[op] == nil {
			s.Condition[op] = map[string]string{}
		}
		s.Condition[op][key] = value
	}
	if in.FunctionUrlAuthType != "" {
		cond("StringEquals", "lambda:FunctionUrlAuthType", in.FunctionUrlAuthType)
	}
	if in.PrincipalOrgID != "" {
		cond("StringEquals", "aws:PrincipalOrgID", in.PrincipalOrgID)
	}
	if in.SourceAccount != "" {
		cond("StringEquals", "AWS:SourceAccount", in.SourceAccount)
	}
	if in.EventSourceToken != "" {
		cond("StringEquals", "lambda:EventSourceToken", in.EventSourceToken)
	}
	if in.SourceArn != "" {
		cond("ArnLike", "AWS:SourceArn", in.SourceArn)
	}
	if in.InvokedViaFunctionUrl != nil && *in.InvokedViaFunctionUrl {
		cond("Bool", "lambda:InvokedViaFunctionUrl", "true")
	}
	return s, nil
}

// AddPermission adds a statement to the resource policy of the function or
// of the version or alias ref names, and returns the statement as JSON.
// $LATEST is refused, as Lambda does: the function's own policy covers it.
func (r *Registry) AddPermission(ctx context.Context, ref Ref, in AddPermissionInput) (string, error) {
	if ref.Qualifier == Latest {
		return "", invalid("We currently do not support adding policies for $LATEST.")
	}
	if err := validatePermission(&in); err != nil {
		return "", err
	}
	key := policyKey(ref.Qualifier)
	s, err := r.statement(&in, r.arns.Qualified(ref.Name, key))
	if err != nil {
		return "", err
	}
	out, err := policyJSON(s)
	if err != nil {
		return "", err
	}
	_, err = r.update(ctx, ref.Name, func(f *Function) error {
		if err := r.checkQualifier(f, ref.Name, key); err != nil {
			return err
		}
		p := f.Policies[key]
		if in.RevisionId != "" && in.RevisionId != p.RevisionId {
			return awsproto.Errorf(awsproto.PreconditionFailedException,
				"The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id")
		}
		for _, old := range p.Statements {
			if old.Sid == in.StatementId {
				return awsproto.Errorf(awsproto.ResourceConflictException,
					"The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", in.StatementId)
			}
		}
		np := Policy{Statements: append(slices.Clip(p.Statements), s), RevisionId: newRevisionID()}
		doc, err := renderPolicy(np)
		if err != nil {
			return err
		}
		if len(doc) > MaxPolicyBytes {
			return awsproto.Errorf(awsproto.PolicyLengthExceededException,
				"The final policy size (%d) is bigger than the limit (%d).", len(doc), MaxPolicyBytes)
		}
		if f.Policies == nil {
			f.Policies = map[string]Policy{}
		}
		f.Policies[key] = np
		return nil
	})
	if err != nil {
		return "", err
	}
	return out, nil
}

// RemovePermission removes a statement from a resource policy; removing the
// last statement removes the policy.
func (r *Registry) RemovePermission(ctx context.Context, ref Ref, sid, revisionID string) error {
	switch {
	case sid == "":
		return notNull("statementId")
	case len(sid) > 100:
		return constraint(clip(sid), "statementId", "Member must have length less than or equal to 100")
	case !isStatementID(sid, true):
		return constraint(clip(sid), "statementId", "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)")
	}
	if r.view(ref.Name) == nil {
		return awsproto.Errorf(awsproto.ResourceNotFoundException, "No policy found for: %s", r.arns.Function(ref.Name))
	}
	key := policyKey(ref.Qualifier)
	_, err := r.update(ctx, ref.Name, func(f *Function) error {
		if err := r.checkQualifier(f, ref.Name, key); err != nil {
			return err
		}
		p, ok := f.Policies[key]
		if !ok {
			return awsproto.Errorf(awsproto.ResourceNotFoundException, "No policy is associated with the given resource.")
		}
		i := slices.IndexFunc(p.Statements, func(s Statement) bool { return s.Sid == sid })
		if i < 0 {
			return awsproto.Errorf(awsproto.ResourceNotFoundException, "Statement %s is not found in resource policy.", sid)
		}
		if err := checkRevision(revisionID, p.RevisionId); err != nil {
			return err
		}
		if len(p.Statements) == 1 {
			delete(f.Policies, key)
			return nil
		}
		f.Policies[key] = Policy{Statements: slices.Delete(slices.Clone(p.Statements), i, i+1), RevisionId: newRevisionID()}
		return nil
	})
	return err
}

// GetPolicy returns the resource policy of the function or of the version
// or alias ref names, as a JSON document, and its RevisionId.
func (r *Registry) GetPolicy(ctx context.Context, ref Ref) (string, string, error) {
	st := r.view(ref.Name)
	if st == nil {
		return "", "", notFound(r.arns.Function(ref.Name))
	}
	key := policyKey(ref.Qualifier)
	if err := r.checkQualifier(&st.fn, ref.Name, key); err != nil {
		return "", "", err
	}
	p, ok := st.fn.Policies[key]
	if !ok || len(p.Statements) == 0 {
		return "", "", awsproto.Errorf(awsproto.ResourceNotFoundException, "The resource you requested does not exist.")
	}
	doc, err := renderPolicy(p)
	if err != nil {
		return "", "", err
	}
	return doc, p.RevisionId, nil
}

// Policy returns the statements of the resource policy of a function
// (qualifier "" or $LATEST), a version or an alias, from the view; nil if it
// has none. The statements are shared and must not be modified.
func (r *Registry) Policy(name, qualifier string) []Statement {
	r.mu.RLock()
	defer r.mu.RUnlock()
	st := r.fns[name]
	if st == nil || st.rev == 0 {
		return nil
	}
	return slices.Clip(st.fn.Policies[policyKey(qualifier)].Statements)
}
