package dynamodb

import (
	"net/http"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
)

// operations maps every operation of dispatch to its IAM action, from the
// DynamoDB actions table of the Service Authorization Reference.
var operations = map[string]string{
	"CreateTable":        "dynamodb:CreateTable",
	"DescribeTable":      "dynamodb:DescribeTable",
	"ListTables":         "dynamodb:ListTables",
	"DeleteTable":        "dynamodb:DeleteTable",
	"UpdateTable":        "dynamodb:UpdateTable",
	"TagResource":        "dynamodb:TagResource",
	"UntagResource":      "dynamodb:UntagResource",
	"ListTagsOfResource": "dynamodb:ListTagsOfResource",
	"DescribeEndpoints":  "dynamodb:DescribeEndpoints",
	"DescribeLimits":     "dynamodb:DescribeLimits",
	"PutItem":            "dynamodb:PutItem",
	"GetItem":            "dynamodb:GetItem",
	"UpdateItem":         "dynamodb:UpdateItem",
	"DeleteItem":         "dynamodb:DeleteItem",
	"Query":              "dynamodb:Query",
	"Scan":               "dynamodb:Scan",
	"UpdateTimeToLive":   "dynamodb:UpdateTimeToLive",
	"DescribeTimeToLive": "dynamodb:DescribeTimeToLive",
	"BatchGetItem":       "dynamodb:BatchGetItem",
	"BatchWriteItem":     "dynamodb:BatchWriteItem",
	"TransactWriteItems": "dynamodb:PutItem", // each item as its own action (planTx)
	"TransactGetItems":   "dynamodb:GetItem",
	"ConditionCheckItem": "dynamodb:ConditionCheckItem",
	"ListStreams":        "dynamodb:ListStreams",
	"DescribeStream":     "dynamodb:DescribeStream",
	"GetShardIterator":   "dynamodb:GetShardIterator",
	"GetRecords":         "dynamodb:GetRecords",
}

// authorize checks the caller of r against operation op on the table
// named name (which need not exist yet).
func (s *Service) authorize(r *http.Request, op, name string) error {
	var tags map[string]string
	s.viewMu.RLock()
	if t := s.tables[name]; t != nil {
		if ts := t.meta.Load().Tags; len(ts) > 0 {
			tags = make(map[string]string, len(ts))
			for _, x := range ts {
				tags[x.Key] = x.Value
			}
		}
	}
	s.viewMu.RUnlock()
	return s.authorizeARN(r, op, s.arn(name), tags)
}

// authorizeARN checks op on the resource arn with the resource's tags.
func (s *Service) authorizeARN(r *http.Request, op, arn string, tags map[string]string) error {
	if s.cfg.Authorizer == nil {
		return nil
	}
	c := authz.Check{Action: operations[op], Resource: arn, SourceIP: authz.SourceIP(r), Denied: awsproto.DynamoDBAccessDenied, ResourceTags: tags}
	return s.cfg.Authorizer.Authorize(r.Context(), c)
}
