package sns

import (
	"context"
	"encoding/json"
	"maps"
	"slices"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/lazyregexp"
)

// permissionActions are the actions AddPermission may grant.
var permissionActions = []string{"GetTopicAttributes", "SetTopicAttributes", "AddPermission", "RemovePermission",
	"DeleteTopic", "Subscribe", "ListSubscriptionsByTopic", "Publish", "Receive"}

var (
	labelPattern   = lazyregexp.New(`^[A-Za-z0-9_-]{1,100}$`)
	accountPattern = lazyregexp.New(`^[0-9]{12}$`)
)

// policyDoc is a topic policy as JSON: its statements kept as they are.
type policyDoc struct {
	Version   string           `json:"Version"`
	ID        string           `json:"Id,omitempty"`
	Statement []map[string]any `json:"Statement"`
}

// topicPolicy is the topic's policy document, the default one when it
// has none.
func (s *Service) topicPolicy(t *topic) (policyDoc, error) {
	doc := t.Attributes["Policy"]
	if doc == "" {
		doc = s.defaultPolicy(t)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		return policyDoc{}, err
	}
	var p policyDoc
	_ = json.Unmarshal(raw["Version"], &p.Version)
	_ = json.Unmarshal(raw["Id"], &p.ID)
	var one map[string]any
	if err := json.Unmarshal(raw["Statement"], &p.Statement); err != nil {
		if err := json.Unmarshal(raw["Statement"], &one); err != nil {
			return policyDoc{}, err
		}
		p.Statement = []map[string]any{one}
	}
	return p, nil
}

// setPolicy stores doc as t's Policy attribute.
func (s *Service) setPolicy(ctx context.Context, t *topic, doc policyDoc) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return awsproto.Internal(err)
	}
	nt := *t
	nt.Attributes = maps.Clone(t.Attributes)
	if nt.Attributes == nil {
		nt.Attributes = map[string]string{}
	}
	nt.Attributes["Policy"] = string(b)
	if err := checkTopicAttribute("Policy", nt.Attributes["Policy"]); err != nil {
		return err
	}
	if err := s.putTopic(ctx, &nt); err != nil {
		return awsproto.Internal(err)
	}
	return nil
}

func (s *Service) addPermission(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in struct {
		TopicArn, Label string
		AWSAccountId    []string //nolint:revive // the wire's name
		ActionName      []string
	}
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if !labelPattern.MatchString(in.Label) {
		return nil, invalid("Invalid parameter: Label")
	}
	if len(in.AWSAccountId) == 0 {
		return nil, invalid("Invalid parameter: AWSAccountId")
	}
	if len(in.ActionName) == 0 {
		return nil, invalid("Invalid parameter: ActionName")
	}
	principals := make([]string, 0, len(in.AWSAccountId))
	for _, a := range in.AWSAccountId {
		if !accountPattern.MatchString(a) {
			return nil, invalid("Invalid parameter: AWSAccountId")
		}
		principals = append(principals, "arn:aws:iam::"+a+":root")
	}
	actions := make([]string, 0, len(in.ActionName))
	for _, a := range in.ActionName {
		if !slices.Contains(permissionActions, a) {
			return nil, invalid("Invalid parameter: Policy statement action out of service scope!")
		}
		actions = append(actions, "SNS:"+a)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.lookupTopic(in.TopicArn)
	if err != nil {
		return nil, err
	}
	doc, err := s.topicPolicy(t)
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	for _, st := range doc.Statement {
		if st["Sid"] == in.Label {
			return nil, invalid("Invalid parameter: Statement already exists")
		}
	}
	doc.Statement = append(doc.Statement, map[string]any{"Sid": in.Label, "Effect": "Allow",
		"Principal": map[string]any{"AWS": principals}, "Action": actions, "Resource": t.ARN})
	return nil, s.setPolicy(ctx, t, doc)
}

func (s *Service) removePermission(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	label := q.Params.Get("Label")
	if label == "" {
		return nil, invalid("Invalid parameter: Label")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.lookupTopic(q.Params.Get("TopicArn"))
	if err != nil {
		return nil, err
	}
	doc, err := s.topicPolicy(t)
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	n := len(doc.Statement)
	doc.Statement = slices.DeleteFunc(doc.Statement, func(st map[string]any) bool { return st["Sid"] == label })
	switch {
	case len(doc.Statement) == n:
		return nil, nil // nothing by that label: nothing to remove
	case len(doc.Statement) == 0:
		// A policy needs a statement: the topic goes back to the default.
		nt := *t
		nt.Attributes = maps.Clone(t.Attributes)
		delete(nt.Attributes, "Policy")
		if err := s.putTopic(ctx, &nt); err != nil {
			return nil, awsproto.Internal(err)
		}
		return nil, nil
	}
	return nil, s.setPolicy(ctx, t, doc)
}
