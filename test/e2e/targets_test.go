package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Queues and topics as targets: an SNS subscription delivers to an SQS
// queue through its filter policy, and an asynchronous invocation that
// fails goes to its SQS dead-letter queue and its SNS OnFailure
// destination, as Lambda sends them.

// queueARN is the ARN of the queue name.
func queueARN(name string) string { return "arn:aws:sqs:" + region + ":" + accountID + ":" + name }

// receiveAll receives from the queue until want messages arrived (or the
// wait ends) and deletes them.
func receiveAll(t *testing.T, cl *sqs.Client, url string, want int) []sqstypes.Message {
	t.Helper()
	var got []sqstypes.Message
	eventually(t, 60*time.Second, fmt.Sprintf("%d messages in %s", want, url), func() error {
		out, err := cl.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			return err
		}
		for _, m := range out.Messages {
			got = append(got, m)
			if _, err := cl.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return stopPolling(err)
			}
		}
		if len(got) < want {
			return fmt.Errorf("%d of %d", len(got), want)
		}
		return nil
	})
	return got
}

// allowTopic sets the queue's policy, as a user must, to let SNS send to
// it for the topic.
func allowTopic(t *testing.T, s *server, queueURL, queue, topicARN string) {
	t.Helper()
	allowService(t, s, queueURL, queue, "sns.amazonaws.com", topicARN)
}

// allowService sets the queue's policy to let the service principal send
// to it for the resource sourceARN (a topic, a rule).
func allowService(t *testing.T, s *server, queueURL, queue, service, sourceARN string) {
	t.Helper()
	policy, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]string{"Service": service}, "Action": "sqs:SendMessage",
		"Resource": queueARN(queue), "Condition": map[string]any{"ArnEquals": map[string]string{"aws:SourceArn": sourceARN}}}}})
	attrs, _ := json.Marshal(map[string]string{"Policy": string(policy)})
	awsOK(t, s.env(), "--endpoint-url", s.url, "sqs", "set-queue-attributes", "--queue-url", queueURL, "--attributes", string(attrs))
}

// TestSNSToSQS: the AWS CLI subscribes a queue to a topic with a filter
// policy; only the matching message arrives, in SNS's envelope. Until the
// queue's policy lets the topic in, SNS's delivery is refused and goes to
// the subscription's dead-letter queue.
func TestSNSToSQS(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	env := s.env()
	var q, dlq struct{ QueueUrl string }
	awsJSON(t, env, &q, "--endpoint-url", s.url, "sqs", "create-queue", "--queue-name", "orders")
	awsJSON(t, env, &dlq, "--endpoint-url", s.url, "sqs", "create-queue", "--queue-name", "orders-dead")
	var topic struct{ TopicArn string }
	awsJSON(t, env, &topic, "--endpoint-url", s.url, "sns", "create-topic", "--name", "events")
	allowTopic(t, s, dlq.QueueUrl, "orders-dead", topic.TopicArn)
	var sub struct{ SubscriptionArn string }
	awsJSON(t, env, &sub, "--endpoint-url", s.url, "sns", "subscribe", "--topic-arn", topic.TopicArn, "--protocol", "sqs",
		"--notification-endpoint", queueARN("orders"), "--attributes", `{"FilterPolicy":"{\"color\":[\"red\"]}","RedrivePolicy":"{\"deadLetterTargetArn\":\"`+queueARN("orders-dead")+`\"}"}`,
		"--return-subscription-arn")
	cl := newSQS(s)
	// No queue policy yet: refused, so dead-lettered.
	awsOK(t, env, "--endpoint-url", s.url, "sns", "publish", "--topic-arn", topic.TopicArn, "--message", "too early",
		"--message-attributes", `{"color":{"DataType":"String","StringValue":"red"}}`)
	if dead := receiveAll(t, cl, dlq.QueueUrl, 1); !strings.Contains(aws.ToString(dead[0].Body), "too early") {
		t.Fatalf("dead-lettered %q", aws.ToString(dead[0].Body))
	}
	allowTopic(t, s, q.QueueUrl, "orders", topic.TopicArn)
	for _, color := range []string{"blue", "red"} {
		awsOK(t, env, "--endpoint-url", s.url, "sns", "publish", "--topic-arn", topic.TopicArn, "--message", "a "+color+" order",
			"--message-attributes", `{"color":{"DataType":"String","StringValue":"`+color+`"}}`)
	}
	got := receiveAll(t, cl, q.QueueUrl, 1)
	var envl struct {
		Type, TopicArn, Message string
		MessageAttributes       map[string]struct{ Type, Value string }
	}
	if err := json.Unmarshal([]byte(aws.ToString(got[0].Body)), &envl); err != nil {
		t.Fatalf("body %q: %v", aws.ToString(got[0].Body), err)
	}
	if envl.Type != "Notification" || envl.TopicArn != topic.TopicArn || envl.Message != "a red order" || envl.MessageAttributes["color"].Value != "red" {
		t.Errorf("envelope %+v", envl)
	}
	// The blue one was filtered out, not delayed: a later message arrives
	// alone.
	awsOK(t, env, "--endpoint-url", s.url, "sns", "publish", "--topic-arn", topic.TopicArn, "--message", "another red order",
		"--message-attributes", `{"color":{"DataType":"String","StringValue":"red"}}`)
	got = receiveAll(t, cl, q.QueueUrl, 1)
	if len(got) != 1 || !json.Valid([]byte(aws.ToString(got[0].Body))) {
		t.Fatalf("after the filter: %d messages", len(got))
	}
	if err := json.Unmarshal([]byte(aws.ToString(got[0].Body)), &envl); err != nil || envl.Message != "another red order" {
		t.Errorf("second message %q (%v)", aws.ToString(got[0].Body), err)
	}
}

// TestAsyncFailureTargets: an event that fails goes, with Lambda's
// attributes, to the function's SQS dead-letter queue, and its record to
// the OnFailure topic (read through a queue subscribed to it); a success
// record goes to the OnSuccess queue.
func TestAsyncFailureTargets(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	env := s.env()
	lc := newSDK(t, s)
	cl := newSQS(s)
	urls := map[string]string{}
	for _, name := range []string{"dlq", "failures", "successes"} {
		out, err := cl.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		urls[name] = aws.ToString(out.QueueUrl)
	}
	var topic struct{ TopicArn string }
	awsJSON(t, env, &topic, "--endpoint-url", s.url, "sns", "create-topic", "--name", "failed-events")
	allowTopic(t, s, urls["failures"], "failures", topic.TopicArn)
	awsOK(t, env, "--endpoint-url", s.url, "sns", "subscribe", "--topic-arn", topic.TopicArn, "--protocol", "sqs",
		"--notification-endpoint", queueARN("failures"), "--attributes", `{"RawMessageDelivery":"true"}`)

	const name = "async-targets"
	deployFn(t, lc, name, "targets", fnConfig{})
	if _, err := lc.UpdateFunctionConfiguration(t.Context(), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name),
		DeadLetterConfig: &ltypes.DeadLetterConfig{TargetArn: aws.String(queueARN("dlq"))}}); err != nil {
		t.Fatal(err)
	}
	waitUpdated(t, lc, name)
	putEIC(t, lc, name, aws.Int32(0), nil, queueARN("successes"), topic.TopicArn)

	failed := invokeEvent(t, lc, name, event("error", "message", "it broke"))
	succeeded := invokeEvent(t, lc, name, event("echo"))

	dl := receiveAll(t, cl, urls["dlq"], 1)[0]
	if body := aws.ToString(dl.Body); body != string(event("error", "message", "it broke")) {
		t.Errorf("dead-letter body %s", body)
	}
	attr := func(m sqstypes.Message, k string) string { return aws.ToString(m.MessageAttributes[k].StringValue) }
	if attr(dl, "RequestID") != failed || attr(dl, "ErrorCode") != "200" || attr(dl, "ErrorMessage") != "it broke" ||
		aws.ToString(dl.MessageAttributes["ErrorCode"].DataType) != "Number" {
		t.Errorf("dead-letter attributes %v %v %v (request %s)", attr(dl, "RequestID"), attr(dl, "ErrorCode"), attr(dl, "ErrorMessage"), failed)
	}

	type record struct {
		RequestContext struct{ RequestID, Condition string }
		RequestPayload json.RawMessage
	}
	var r record
	fr := receiveAll(t, cl, urls["failures"], 1)[0]
	if err := json.Unmarshal([]byte(aws.ToString(fr.Body)), &r); err != nil || r.RequestContext.RequestID != failed || r.RequestContext.Condition != "RetriesExhausted" {
		t.Errorf("OnFailure record through SNS %s (%v)", aws.ToString(fr.Body), err)
	}
	sr := receiveAll(t, cl, urls["successes"], 1)[0]
	if err := json.Unmarshal([]byte(aws.ToString(sr.Body)), &r); err != nil || r.RequestContext.RequestID != succeeded || r.RequestContext.Condition != "Success" {
		t.Errorf("OnSuccess record %s (%v)", aws.ToString(sr.Body), err)
	}
	// Nothing else went anywhere.
	for q, url := range urls {
		out, err := cl.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
		if err != nil {
			t.Fatal(err)
		}
		if n := out.Attributes["ApproximateNumberOfMessages"]; n != "0" {
			t.Errorf("%s holds %s more messages", q, n)
		}
	}
}
