package sqs

import (
	"net/http"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
)

// operations maps every operation of dispatch to its IAM action, from the
// SQS actions table of the Service Authorization Reference. A batch is
// authorized as its single-message action, as SQS does: IAM has no
// sqs:SendMessageBatch (or DeleteMessageBatch, ChangeMessageVisibilityBatch).
var operations = map[string]string{
	"CreateQueue":                  "sqs:CreateQueue",
	"GetQueueUrl":                  "sqs:GetQueueUrl",
	"ListQueues":                   "sqs:ListQueues",
	"DeleteQueue":                  "sqs:DeleteQueue",
	"GetQueueAttributes":           "sqs:GetQueueAttributes",
	"SetQueueAttributes":           "sqs:SetQueueAttributes",
	"PurgeQueue":                   "sqs:PurgeQueue",
	"TagQueue":                     "sqs:TagQueue",
	"UntagQueue":                   "sqs:UntagQueue",
	"ListQueueTags":                "sqs:ListQueueTags",
	"ListDeadLetterSourceQueues":   "sqs:ListDeadLetterSourceQueues",
	"SendMessage":                  "sqs:SendMessage",
	"SendMessageBatch":             "sqs:SendMessage",
	"ReceiveMessage":               "sqs:ReceiveMessage",
	"DeleteMessage":                "sqs:DeleteMessage",
	"DeleteMessageBatch":           "sqs:DeleteMessage",
	"ChangeMessageVisibility":      "sqs:ChangeMessageVisibility",
	"ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
	"StartMessageMoveTask":         "sqs:StartMessageMoveTask",
	"ListMessageMoveTasks":         "sqs:ListMessageMoveTasks",
	"CancelMessageMoveTask":        "sqs:CancelMessageMoveTask",
	"AddPermission":                "sqs:AddPermission",
	"RemovePermission":             "sqs:RemovePermission",
}

// authorize checks the caller of r against operation op on q, with q's
// Policy as the resource policy.
func (s *Service) authorize(r *http.Request, op string, q *queue) error {
	return s.authorizeARN(r, op, s.arn(q.Name), q)
}

// authorizeARN checks op on the resource arn; q, if not nil, is the queue
// whose policy and tags apply.
func (s *Service) authorizeARN(r *http.Request, op, arn string, q *queue) error {
	if s.cfg.Authorizer == nil {
		return nil
	}
	c := authz.Check{Action: operations[op], Resource: arn, SourceIP: authz.SourceIP(r), Denied: awsproto.SQSAccessDenied}
	if q != nil {
		c.ResourcePolicy = q.policy
		c.ResourceTags = q.Tags
	}
	return s.cfg.Authorizer.Authorize(r.Context(), c)
}
