package sqs

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/lazyregexp"
)

// AddPermission and RemovePermission edit the queue's Policy as SQS does:
// one statement per label (its Sid), allowing the named accounts the
// named actions on the queue, in a policy whose Id is
// "<queue ARN>/SQSDefaultPolicy" when AddPermission makes it.

// maxPermissionActions is SQS's limit of actions per statement.
const maxPermissionActions = 7

// grantable are the actions AddPermission may grant; the others are the
// queue owner's only.
var grantable = []string{"*", "ChangeMessageVisibility", "DeleteMessage", "GetQueueAttributes", "GetQueueUrl",
	"ListDeadLetterSourceQueues", "PurgeQueue", "ReceiveMessage", "SendMessage"}

var (
	labelRE   = lazyregexp.New(`^[A-Za-z0-9_-]{1,80}$`)
	accountRE = lazyregexp.New(`^[0-9]{12}$`)
)

func (s *Service) addPermission(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		QueueUrl, Label string
		AWSAccountIds   []string
		Actions         []string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.resolve(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "AddPermission", q); err != nil {
		return nil, err
	}
	switch {
	case in.Label == "":
		return nil, missing("Label")
	case len(in.AWSAccountIds) == 0:
		return nil, missing("AWSAccountIds")
	case len(in.Actions) == 0:
		return nil, missing("Actions")
	case !labelRE.MatchString(in.Label):
		return nil, invalidParam("Value %s for parameter Label is invalid. Reason: Must be 1 to 80 alphanumeric characters, hyphens or underscores.", clip(in.Label))
	case len(in.Actions) > maxPermissionActions:
		return nil, awsproto.Errorf(awsproto.SQSOverLimit, "%d Actions were found, maximum allowed is %d.", len(in.Actions), maxPermissionActions)
	}
	principals := make([]string, 0, len(in.AWSAccountIds))
	for _, a := range in.AWSAccountIds {
		if !accountRE.MatchString(a) {
			return nil, invalidParam("Value [%s] for parameter PrincipalId is invalid. Reason: Unable to verify.", clip(a))
		}
		principals = append(principals, "arn:aws:iam::"+a+":root")
	}
	actions := make([]string, 0, len(in.Actions))
	for _, a := range in.Actions {
		if !slices.Contains(grantable, a) {
			return nil, invalidParam("Value SQS:%s for parameter ActionName is invalid. Reason: Only the queue owner is allowed to invoke this action.", clip(a))
		}
		actions = append(actions, "SQS:"+a)
	}
	stmt := map[string]any{"Sid": in.Label, "Effect": "Allow", "Principal": map[string]any{"AWS": oneOrMany(principals)},
		"Action": oneOrMany(actions), "Resource": s.arn(q.Name)}
	return nil, s.editPolicy(ctx, q.Name, func(doc map[string]any, stmts []any) ([]any, error) {
		if labelAt(stmts, in.Label) >= 0 {
			return nil, invalidParam("Value %s for parameter Label is invalid. Reason: Already exists.", in.Label)
		}
		return append(stmts, stmt), nil
	})
}

func (s *Service) removePermission(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct{ QueueUrl, Label string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.resolve(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "RemovePermission", q); err != nil {
		return nil, err
	}
	if in.Label == "" {
		return nil, missing("Label")
	}
	return nil, s.editPolicy(ctx, q.Name, func(doc map[string]any, stmts []any) ([]any, error) {
		i := labelAt(stmts, in.Label)
		if i < 0 {
			return nil, invalidParam("Value %s for parameter Label is invalid. Reason: can't find label on existing policy.", clip(in.Label))
		}
		return slices.Delete(stmts, i, i+1), nil
	})
}

// editPolicy rewrites queue name's Policy's statements with f (under
// s.mu); a policy left without statements is removed.
func (s *Service) editPolicy(ctx context.Context, name string, f func(doc map[string]any, stmts []any) ([]any, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.view.get(name)
	if !ok {
		return noQueue()
	}
	doc := map[string]any{}
	if p := q.Attrs[attrPolicy]; p != "" {
		if err := json.Unmarshal([]byte(p), &doc); err != nil {
			return awsproto.Internal(err) // checked when written
		}
	} else {
		doc = map[string]any{"Version": "2008-10-17", "Id": s.arn(q.Name) + "/SQSDefaultPolicy"}
	}
	var stmts []any
	switch st := doc["Statement"].(type) {
	case []any:
		stmts = st
	case map[string]any:
		stmts = []any{st}
	}
	stmts, err := f(doc, stmts)
	if err != nil {
		return err
	}
	n := q.clone()
	if len(stmts) == 0 {
		delete(n.Attrs, attrPolicy)
	} else {
		doc["Statement"] = stmts
		b, err := json.Marshal(doc)
		if err != nil {
			return awsproto.Internal(err)
		}
		if _, err := iam.Parse(string(b), iam.KindResource); err != nil {
			return invalidAttr(attrPolicy)
		}
		n.Attrs[attrPolicy] = string(b)
	}
	n.Modified = s.cfg.Now().Unix()
	return s.store(ctx, n)
}

// labelAt is the index of the statement whose Sid is label, or -1.
func labelAt(stmts []any, label string) int {
	for i, st := range stmts {
		if m, ok := st.(map[string]any); ok && m["Sid"] == label {
			return i
		}
	}
	return -1
}

// oneOrMany is a policy element: a string for one value, a list for more.
func oneOrMany(vs []string) any {
	if len(vs) == 1 {
		return vs[0]
	}
	return vs
}
