package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/kumo-run/kumo/internal/asyncq"
	"github.com/kumo-run/kumo/internal/awsproto"
	awsarn "github.com/kumo-run/kumo/internal/awsproto/arn"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/services/events"
	kumos3 "github.com/kumo-run/kumo/internal/services/s3"
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

// s3Destinations is where S3's event notifications go: functions are
// invoked asynchronously through invoker (a lambdaapi.InvokeGuard, so the
// function's policy must allow s3.amazonaws.com for the bucket), queues
// and topics are reached through the targets.
type s3Destinations struct {
	t        *targets
	invoker  invoke.Invoker
	reg      *registry.Registry
	az       *authz.Authorizer
	policies *authz.FunctionPolicies
	arns     registry.ARNs
}

var _ kumos3.Destinations = (*s3Destinations)(nil)

// maxFunctionARN bounds a function ARN with its qualifier.
const maxFunctionARN = 256

// CheckFunction implements kumos3.Destinations.
func (d *s3Destinations) CheckFunction(ctx context.Context, functionARN, bucketARN string) error {
	ref, err := d.arns.ParseRef(functionARN, maxFunctionARN)
	if err != nil {
		return fmt.Errorf("%w: %v", kumos3.ErrDestination, err)
	}
	if _, err := d.reg.GetFunctionConfiguration(ctx, ref); err != nil {
		return destinationError(err)
	}
	if d.az == nil {
		return nil
	}
	res := d.arns.Function(ref.Name)
	if ref.Qualifier != "" {
		res = d.arns.Qualified(ref.Name, ref.Qualifier)
	}
	err = d.az.Authorize(authz.WithService(ctx, kumos3.ServicePrincipal, bucketARN, d.arns.Account), authz.Check{Action: "lambda:InvokeFunction",
		Resource: res, ResourcePolicy: d.policies.Get(ref.Name, ref.Qualifier), Denied: awsproto.AccessDeniedException})
	if err != nil {
		return fmt.Errorf("%w: %v", kumos3.ErrDestination, err)
	}
	return nil
}

// Send implements kumos3.Destinations.
func (d *s3Destinations) Send(ctx context.Context, arn, bucketARN string, body []byte) error {
	a, err := awsarn.Parse(arn)
	if err != nil {
		return fmt.Errorf("%w: %s is not an ARN", kumos3.ErrDestination, arn)
	}
	switch a.Service {
	case "lambda":
		ref, perr := d.arns.ParseRef(arn, maxFunctionARN)
		if perr != nil {
			return fmt.Errorf("%w: %v", kumos3.ErrDestination, perr)
		}
		ictx := authz.WithService(ctx, kumos3.ServicePrincipal, bucketARN, d.arns.Account)
		_, err = d.invoker.Invoke(ictx, &invoke.Input{Ref: ref, InvocationType: invoke.TypeEvent, Payload: body, RequestID: uuid4()})
	case "sqs":
		if !d.t.sqs.QueueExists(arn) || d.t.sqs.QueueFIFO(arn) {
			return fmt.Errorf("%w: no standard queue %s", kumos3.ErrDestination, arn)
		}
		sctx, stop := d.asS3(ctx, bucketARN)
		defer stop()
		_, err = d.t.sqs.Deliver(sctx, arn, string(body), nil)
	case "sns":
		sctx, stop := d.asS3(ctx, bucketARN)
		defer stop()
		err = d.publish(sctx, arn, string(body))
	default:
		return fmt.Errorf("%w: S3 does not notify %s", kumos3.ErrDestination, a.Service)
	}
	if err != nil {
		return destinationError(err)
	}
	return nil
}

// asS3 is ctx as S3 delivering for the bucket: the service principal
// s3.amazonaws.com with aws:SourceArn bucketARN, without the caller of the
// request under way (PutBucketNotificationConfiguration's test event), so
// that the queue's or topic's policy is what decides, as in AWS. It keeps
// ctx's cancellation; stop releases it.
func (d *s3Destinations) asS3(ctx context.Context, bucketARN string) (context.Context, func()) {
	sctx, cancel := context.WithCancel(authz.WithService(context.Background(), kumos3.ServicePrincipal, bucketARN, d.arns.Account))
	stopAfter := context.AfterFunc(ctx, cancel)
	return sctx, func() { stopAfter(); cancel() }
}

// s3Subject is the Subject of the SNS messages S3 publishes.
const s3Subject = "Amazon S3 Notification"

// publish publishes an S3 event to a topic through SNS's own Publish
// action, as S3 does: with S3's Subject, authorized against the topic's
// policy for the principal ctx carries.
func (d *s3Destinations) publish(ctx context.Context, topicARN, message string) error {
	form := url.Values{"Action": {"Publish"}, "Version": {kumosns.Version}, "TopicArn": {topicARN},
		"Message": {message}, "Subject": {s3Subject}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := &capture{header: http.Header{}}
	d.t.sns.ServeHTTP(w, req)
	switch {
	case w.status == 0 || w.status == http.StatusOK:
		return nil
	case w.status >= 400 && w.status < 500 && w.status != http.StatusTooManyRequests:
		return fmt.Errorf("%w: SNS Publish to %s: %d %s", kumos3.ErrDestination, topicARN, w.status, clipBody(w.body.String()))
	}
	return fmt.Errorf("app: SNS Publish to %s: %d %s", topicARN, w.status, clipBody(w.body.String()))
}

// capture is the http.ResponseWriter of an in-process call.
type capture struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *capture) Header() http.Header { return c.header }
func (c *capture) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}
func (c *capture) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.body.Len() < 4096 {
		c.body.Write(p[:min(len(p), 4096-c.body.Len())])
	}
	return len(p), nil
}

func clipBody(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// destinationError marks a client error of the destination's service
// (not found, denied, invalid) as one retrying cannot fix; throttling
// and server errors stay retryable.
func destinationError(err error) error {
	if st := awsproto.AsError(err).Status(); st >= 400 && st < 500 && st != 429 {
		return fmt.Errorf("%w: %v", kumos3.ErrDestination, err)
	}
	return err
}

// uuid4 is a random UUID.
func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
