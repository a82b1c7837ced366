package events

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
)

// resource says which ARN an operation's IAM action is checked on.
type resource uint8

const (
	resNone resource = iota // "*": the List operations of the account
	resBus                  // the bus Name or EventBusName names
	resRule                 // the rule Name (or Rule) on EventBusName
	resARN                  // ResourceARN
)

// entry is one operation: its handler and the resource its IAM action
// (events:<operation>, from EventBridge's actions table of the Service
// Authorization Reference) is checked on.
type entry struct {
	run op
	res resource
}

// operations is every operation the service serves, by name.
var operations map[string]entry

func init() {
	operations = map[string]entry{
		"CreateEventBus":        {createEventBus, resBus},
		"DescribeEventBus":      {describeEventBus, resBus},
		"ListEventBuses":        {listEventBuses, resNone},
		"DeleteEventBus":        {deleteEventBus, resBus},
		"PutEvents":             {putEvents, resBus},
		"PutRule":               {putRule, resRule},
		"DescribeRule":          {describeRule, resRule},
		"ListRules":             {listRules, resNone},
		"DeleteRule":            {deleteRule, resRule},
		"EnableRule":            {setState("ENABLED"), resRule},
		"DisableRule":           {setState("DISABLED"), resRule},
		"PutTargets":            {putTargets, resRule},
		"RemoveTargets":         {removeTargets, resRule},
		"ListTargetsByRule":     {listTargetsByRule, resRule},
		"ListRuleNamesByTarget": {listRuleNamesByTarget, resNone},
		"TestEventPattern":      {testEventPattern, resNone},
		"TagResource":           {tagResource, resARN},
		"UntagResource":         {untagResource, resARN},
		"ListTagsForResource":   {listTagsForResource, resARN},
	}
}

// Operations lists the operations the service serves, sorted.
func Operations() []string {
	out := make([]string, 0, len(operations))
	for k := range operations {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// authorize checks the caller of r against the operation name. PutEvents
// is checked on the bus of its first entry and every other bus its
// entries name. A denial is AccessDeniedException.
func (s *Service) authorize(r *http.Request, name string, body []byte) error {
	if s.cfg.Authorizer == nil {
		return nil
	}
	var in struct {
		Name, Rule, EventBusName, ResourceARN string
		Entries                               []struct{ EventBusName string }
	}
	_ = json.Unmarshal(body, &in) // a malformed body fails in the operation
	resources := []string{"*"}
	switch operations[name].res {
	case resBus:
		bus := in.Name
		if name == "PutEvents" {
			resources = resources[:0]
			for _, e := range in.Entries {
				if b := s.busARN(e.EventBusName); !slices.Contains(resources, b) {
					resources = append(resources, b)
				}
			}
			if len(resources) == 0 {
				resources = append(resources, s.busARN(""))
			}
			break
		}
		resources[0] = s.busARN(bus)
	case resRule:
		rule := in.Name
		if rule == "" {
			rule = in.Rule
		}
		bus, _ := s.busName(in.EventBusName)
		resources[0] = s.arns.Rule(bus, rule)
	case resARN:
		if in.ResourceARN != "" {
			resources[0] = in.ResourceARN
		}
	}
	for _, res := range resources {
		c := authz.Check{Action: "events:" + name, Resource: res, SourceIP: authz.SourceIP(r), Denied: awsproto.EventsAccessDenied}
		if err := s.cfg.Authorizer.Authorize(r.Context(), c); err != nil {
			return err
		}
	}
	return nil
}

// busARN is the ARN of the bus a name or ARN names ("" the default bus).
func (s *Service) busARN(nameOrARN string) string {
	if strings.HasPrefix(nameOrARN, "arn:") {
		return nameOrARN
	}
	if nameOrARN == "" {
		nameOrARN = DefaultBus
	}
	return s.arns.EventBus(nameOrARN)
}
