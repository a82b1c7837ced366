package app

import (
	"context"
	"encoding/json"

	"github.com/kumo-run/kumo/internal/asyncq"
	"github.com/kumo-run/kumo/internal/awsproto"
	awsarn "github.com/kumo-run/kumo/internal/awsproto/arn"
	"github.com/kumo-run/kumo/internal/services/events"
	kumosns "github.com/kumo-run/kumo/internal/services/sns"
	"github.com/kumo-run/kumo/internal/services/sqs"
)

// targets joins the services that send to queues and topics (SNS
// subscriptions; Lambda's destinations and dead-letter targets through
// the async queue) to the SQS and SNS services. Its fields are set once,
// before the edge serves.
type targets struct {
	sqs    *sqs.Service
	sns    *kumosns.Service
	events *events.Service
}

var (
	_ kumosns.Queues     = (*targets)(nil)
	_ kumosns.FIFOQueues = (*targets)(nil)
	_ asyncq.Targets     = (*targets)(nil)
)

func (t *targets) Deliver(ctx context.Context, queueARN, body string, attrs map[string]kumosns.QueueAttribute) (string, error) {
	return t.sqs.Deliver(ctx, queueARN, body, sqsAttributes(attrs))
}

func (t *targets) DeliverFIFO(ctx context.Context, queueARN, body string, attrs map[string]kumosns.QueueAttribute, groupID, dedupID string) (string, error) {
	return t.sqs.DeliverFIFO(ctx, queueARN, body, sqsAttributes(attrs), groupID, dedupID)
}

func sqsAttributes(attrs map[string]kumosns.QueueAttribute) map[string]sqs.MessageAttribute {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string]sqs.MessageAttribute, len(attrs))
	for k, a := range attrs {
		out[k] = sqs.MessageAttribute{DataType: a.DataType, StringValue: a.StringValue, BinaryValue: a.BinaryValue}
	}
	return out
}

// Send implements asyncq.Targets: an SQS queue gets body as a message, an
// SNS topic as a published message, both with attrs.
func (t *targets) Send(ctx context.Context, arn string, body []byte, attrs map[string]asyncq.Attribute) error {
	a, err := awsarn.Parse(arn)
	if err != nil {
		return awsproto.Errorf(awsproto.InvalidParameterValueException, "%s is not an ARN", arn)
	}
	conv := make(map[string]kumosns.QueueAttribute, len(attrs))
	for k, v := range attrs {
		conv[k] = kumosns.QueueAttribute{DataType: v.DataType, StringValue: v.Value}
	}
	switch a.Service {
	case "sqs":
		_, err = t.Deliver(ctx, arn, string(body), conv)
	case "sns":
		_, err = t.sns.Publish(ctx, arn, string(body), conv)
	case "events":
		err = t.invocationResult(ctx, arn, body)
	default:
		err = awsproto.Errorf(awsproto.InvalidParameterValueException, "Kumo does not deliver to %s targets", a.Service)
	}
	return err
}

// invocationResult puts a Lambda destination record (body) on the event
// bus busARN as EventBridge receives it from Lambda: source "lambda",
// detail-type "Lambda Function Invocation Result - Success" or
// "- Failure", resources the bus and the function, the record as detail.
func (t *targets) invocationResult(ctx context.Context, busARN string, body []byte) error {
	if t.events == nil {
		return awsproto.Errorf(awsproto.InvalidParameterValueException, "Kumo does not deliver to events targets")
	}
	var rec struct {
		RequestContext struct {
			FunctionArn string `json:"functionArn"`
			Condition   string `json:"condition"`
		} `json:"requestContext"`
	}
	if err := json.Unmarshal(body, &rec); err != nil {
		return awsproto.Errorf(awsproto.InvalidParameterValueException, "the destination record is not JSON")
	}
	kind := "Failure"
	if rec.RequestContext.Condition == asyncq.CondSuccess {
		kind = "Success"
	}
	_, err := t.events.PutEvent(ctx, busARN, "lambda", "Lambda Function Invocation Result - "+kind,
		[]string{busARN, rec.RequestContext.FunctionArn}, body)
	return err
}
