package logs

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
)

// resourceKind says how an operation's resource ARN is built from its
// request body.
type resourceKind uint8

const (
	resGroups     resourceKind = iota // arn:…:log-group:*
	resGroup                          // the body's log group
	resStream                         // the body's log stream
	resGroupOrAll                     // the body's log group if it names one, else every group
)

// operation is the IAM action of one operation and its resource.
type operation struct {
	action string
	res    resourceKind
}

// operations maps every operation of ops to its IAM action, from the
// CloudWatch Logs actions table of the Service Authorization Reference.
var operations = map[string]operation{
	"CreateLogGroup":        {"logs:CreateLogGroup", resGroup},
	"DeleteLogGroup":        {"logs:DeleteLogGroup", resGroup},
	"DescribeLogGroups":     {"logs:DescribeLogGroups", resGroups},
	"CreateLogStream":       {"logs:CreateLogStream", resStream},
	"DescribeLogStreams":    {"logs:DescribeLogStreams", resGroup},
	"PutLogEvents":          {"logs:PutLogEvents", resStream},
	"GetLogEvents":          {"logs:GetLogEvents", resStream},
	"FilterLogEvents":       {"logs:FilterLogEvents", resGroup},
	"PutRetentionPolicy":    {"logs:PutRetentionPolicy", resGroup},
	"DeleteRetentionPolicy": {"logs:DeleteRetentionPolicy", resGroup},

	"PutSubscriptionFilter":       {"logs:PutSubscriptionFilter", resGroup},
	"DescribeSubscriptionFilters": {"logs:DescribeSubscriptionFilters", resGroup},
	"DeleteSubscriptionFilter":    {"logs:DeleteSubscriptionFilter", resGroup},
	"PutMetricFilter":             {"logs:PutMetricFilter", resGroup},
	"DescribeMetricFilters":       {"logs:DescribeMetricFilters", resGroupOrAll},
	"DeleteMetricFilter":          {"logs:DeleteMetricFilter", resGroup},
	"TestMetricFilter":            {"logs:TestMetricFilter", resGroups},
}

// HandlerWith is Handler checking each operation with az before it runs;
// a nil az allows everything.
func (s *Store) HandlerWith(az *authz.Authorizer) http.Handler { return &api{s: s, az: az} }

// authorize checks the caller of r against operation name, whose body is
// body. The names are only named in the check: the operation validates
// them.
func (a *api) authorize(r *http.Request, name string, body []byte) error {
	if a.az == nil {
		return nil
	}
	op := operations[name]
	c := authz.Check{Action: op.action, Resource: a.s.arns().LogGroup("*"), SourceIP: authz.SourceIP(r), Denied: awsproto.LogsAccessDenied}
	if op.res != resGroups {
		var in struct {
			Group      string `json:"logGroupName"`
			Identifier string `json:"logGroupIdentifier"`
			Stream     string `json:"logStreamName"`
		}
		json.Unmarshal(body, &in)
		group := in.Group
		if group == "" {
			group = in.Identifier
		}
		if group == "" && op.res == resGroupOrAll {
			group = "*"
		}
		if strings.HasPrefix(group, "arn:") {
			// logGroupIdentifier may be the group's ARN, with or without ":*".
			c.Resource = strings.TrimSuffix(group, ":*")
		} else {
			c.Resource = a.s.arns().LogGroup(group)
		}
		if op.res == resStream {
			c.Resource += ":log-stream:" + in.Stream
		}
	}
	return a.az.Authorize(r.Context(), c)
}
