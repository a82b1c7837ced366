package sns

import (
	"net/http"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/eventpattern"
	"github.com/kumo-run/kumo/internal/iam/authz"
)

// resource says which ARN an operation is authorized on.
type resource uint8

const (
	resNone     resource = iota // "*": the List operations of the account
	resTopic                    // TopicArn (or TargetArn)
	resNewTopic                 // the topic Name would create
	resSub                      // the topic of SubscriptionArn
	resTagged                   // ResourceArn
)

// operations maps every operation of dispatch to the resource its IAM
// action (sns:<operation>, from SNS's actions table of the Service
// Authorization Reference) is checked on.
var operations = map[string]resource{
	"CreateTopic":               resNewTopic,
	"ListTopics":                resNone,
	"GetTopicAttributes":        resTopic,
	"SetTopicAttributes":        resTopic,
	"DeleteTopic":               resTopic,
	"AddPermission":             resTopic,
	"RemovePermission":          resTopic,
	"Subscribe":                 resTopic,
	"ConfirmSubscription":       resTopic,
	"Unsubscribe":               resSub,
	"ListSubscriptions":         resNone,
	"ListSubscriptionsByTopic":  resTopic,
	"GetSubscriptionAttributes": resSub,
	"SetSubscriptionAttributes": resSub,
	"Publish":                   resTopic,
	"PublishBatch":              resTopic,
	"TagResource":               resTagged,
	"UntagResource":             resTagged,
	"ListTagsForResource":       resTagged,
}

// authorize checks the caller of r against q's operation, with the
// topic's Policy attribute as the resource policy. A denial is
// AuthorizationError (403).
func (s *Service) authorize(r *http.Request, q awsproto.QueryRequest) error {
	if s.cfg.Authorizer == nil {
		return nil
	}
	c := authz.Check{Action: "sns:" + q.Action, Resource: "*", SourceIP: authz.SourceIP(r), Denied: awsproto.SNSAuthorizationError}
	switch operations[q.Action] {
	case resTopic:
		c.Resource = q.Params.Get("TopicArn")
		if c.Resource == "" {
			c.Resource = q.Params.Get("TargetArn")
		}
	case resNewTopic:
		c.Resource = s.arns.Topic(q.Params.Get("Name"))
	case resSub:
		c.Resource = q.Params.Get("SubscriptionArn")
		if i := strings.LastIndexByte(c.Resource, ':'); i > 0 {
			c.Resource = c.Resource[:i]
		}
	case resTagged:
		c.Resource = q.Params.Get("ResourceArn")
	}
	if c.Resource == "" {
		c.Resource = "*"
	}
	if name, ok := s.topicName(c.Resource); ok {
		if t, ok := s.view.topic(name); ok {
			c.ResourcePolicy = t.policy
			c.ResourceTags = t.Tags
		}
	}
	return s.cfg.Authorizer.Authorize(r.Context(), c)
}

// filterAttributes is a message's attributes as filter policies see them.
func filterAttributes(attrs map[string]attribute) map[string]eventpattern.Attribute {
	out := make(map[string]eventpattern.Attribute, len(attrs))
	for k, a := range attrs {
		out[k] = eventpattern.Attribute{Type: a.DataType, Value: a.StringValue}
	}
	return out
}
