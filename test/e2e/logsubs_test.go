package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// The function whose log is watched prints the lines it is given.
const pyPrintLines = `def handler(event, context):
    for line in event["lines"]:
        print(line)
    return {}
`

// The subscribed function decodes CloudWatch Logs' awslogs.data and
// publishes each event to the topic with its role's credentials, through
// the SDK's defaults (the endpoint comes from the sandbox's environment).
const pyNotify = `import base64
import gzip
import json
import os

import boto3


def handler(event, context):
    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    sns = boto3.client("sns")
    for e in data["logEvents"]:
        sns.publish(TopicArn=os.environ["TOPIC_ARN"], Subject="log alert", Message=json.dumps({
            "messageType": data["messageType"], "owner": data["owner"], "logGroup": data["logGroup"],
            "logStream": data["logStream"], "filters": data["subscriptionFilters"],
            "id": e["id"], "timestamp": e["timestamp"], "message": e["message"].strip()}))
    print("NOTIFIED %d" % len(data["logEvents"]))
    return {}
`

// TestLogSubscriptionNotifies is the log line → notification use case: a
// subscription filter (pattern ERROR) on one function's log group invokes
// a second function, which publishes the matching line to an SNS topic; a
// queue subscribed to the topic receives it, and lines that do not match
// never arrive. CloudWatch Logs needs the function's permission first; the
// filter is listed and deleted through the AWS CLI.
func TestLogSubscriptionNotifies(t *testing.T) {
	requireHostBoto3(t)
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	c := newCLI(t, s)
	var blobArgs []string
	if cliV2(t) {
		blobArgs = []string{"--cli-binary-format", "raw-in-base64-out"}
	}
	const group = "/aws/lambda/logsubs-app"

	// The topic, the queue subscribed to it, and a role that may publish.
	topic := jstr(c.ok("sns", "create-topic", "--name", "log-alerts"), "TopicArn")
	probe := jstr(c.ok("sns", "create-topic", "--name", "log-alerts-probe"), "TopicArn")
	qURL := jstr(c.ok("sqs", "create-queue", "--queue-name", "log-alerts"), "QueueUrl")
	allowTopic(t, s, qURL, "log-alerts", topic)
	c.ok("sns", "subscribe", "--topic-arn", topic, "--protocol", "sqs", "--notification-endpoint", queueARN("log-alerts"))
	trust, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow",
		"Action": "sts:AssumeRole", "Principal": map[string]string{"Service": "lambda.amazonaws.com", "AWS": "arn:aws:iam::" + accountID + ":root"}}}})
	role := jstr(c.ok("iam", "create-role", "--role-name", "logsubs-role", "--assume-role-policy-document", string(trust)), "Role", "Arn")
	c.ok("iam", "put-role-policy", "--role-name", "logsubs-role", "--policy-name", "publish",
		"--policy-document", policyDoc("Allow", []string{"sns:Publish"}, topic, probe))
	eventually(t, 30*time.Second, "the role may publish", func() error {
		var a struct{ Credentials stsCreds }
		r := runCmd(t, s.env(), nil, 60*time.Second, "aws", "--endpoint-url", s.url, "--region", region, "--output", "json",
			"sts", "assume-role", "--role-arn", role, "--role-session-name", "probe")
		if r.Code != 0 {
			return errors.New(r.String())
		}
		if err := json.Unmarshal([]byte(r.Stdout), &a); err != nil {
			return err
		}
		if r := runCmd(t, withCreds(s.env(), a.Credentials), nil, 60*time.Second, "aws", "--endpoint-url", s.url, "--region", region,
			"sns", "publish", "--topic-arn", probe, "--message", "probe"); r.Code != 0 {
			return errors.New(r.String())
		}
		return nil
	})

	// The two functions.
	c.ok("lambda", "create-function", "--function-name", "logsubs-app", "--runtime", "python3.12", "--handler", "app.handler",
		"--role", testRole, "--zip-file", "fileb://"+writeTemp(t, "app.zip", makeZip(t, zipEntry{Name: "app.py", Body: pyPrintLines})))
	c.ok("lambda", "create-function", "--function-name", "logsubs-notify", "--runtime", "python3.12", "--handler", "app.handler",
		"--role", role, "--timeout", "30", "--environment", `{"Variables":{"TOPIC_ARN":"`+topic+`"}}`,
		"--zip-file", "fileb://"+writeTemp(t, "notify.zip", makeZip(t, zipEntry{Name: "app.py", Body: pyNotify})))
	c.ok("lambda", "wait", "function-active-v2", "--function-name", "logsubs-app")
	c.ok("lambda", "wait", "function-active-v2", "--function-name", "logsubs-notify")
	c.ok("logs", "create-log-group", "--log-group-name", group)

	put := []string{"logs", "put-subscription-filter", "--log-group-name", group, "--filter-name", "errors",
		"--filter-pattern", "ERROR", "--destination-arn", functionARN("logsubs-notify")}
	// CloudWatch Logs may not invoke the function yet.
	r := c.fail("InvalidParameterException", put...)
	if !strings.Contains(r.Stderr, "Make sure you have given CloudWatch Logs permission to execute your function.") {
		t.Errorf("put-subscription-filter without the permission:\n%s", r)
	}
	// A permission for another log group is not enough.
	c.ok("lambda", "add-permission", "--function-name", "logsubs-notify", "--statement-id", "other-group", "--action", "lambda:InvokeFunction",
		"--principal", "logs.amazonaws.com", "--source-arn", "arn:aws:logs:"+region+":"+accountID+":log-group:/aws/lambda/other:*")
	c.fail("InvalidParameterException", put...)
	c.ok("lambda", "add-permission", "--function-name", "logsubs-notify", "--statement-id", "logs", "--action", "lambda:InvokeFunction",
		"--principal", "logs.amazonaws.com", "--source-arn", "arn:aws:logs:"+region+":"+accountID+":log-group:"+group+":*")
	c.ok(put...)
	filters := c.ok("logs", "describe-subscription-filters", "--log-group-name", group)
	if jstr(filters, "subscriptionFilters", "0", "filterName") != "errors" || jstr(filters, "subscriptionFilters", "0", "filterPattern") != "ERROR" ||
		jstr(filters, "subscriptionFilters", "0", "destinationArn") != functionARN("logsubs-notify") || jget(filters, "subscriptionFilters", "1") != nil {
		t.Errorf("describe-subscription-filters: %v", filters)
	}

	// A metric filter counts the same lines into /metrics.
	c.ok("logs", "put-metric-filter", "--log-group-name", group, "--filter-name", "error-count", "--filter-pattern", "ERROR",
		"--metric-transformations", "metricName=LogErrors,metricNamespace=LogSubs,metricValue=1")
	if f := c.ok("logs", "describe-metric-filters", "--log-group-name", group); jstr(f, "metricFilters", "0", "metricTransformations", "0", "metricName") != "LogErrors" {
		t.Errorf("describe-metric-filters: %v", f)
	}

	invoke := func(lines ...string) {
		t.Helper()
		payload, _ := json.Marshal(map[string]any{"lines": lines})
		out := writeTemp(t, "out.json", nil)
		c.ok(append([]string{"lambda", "invoke", "--function-name", "logsubs-app", "--payload", string(payload), out}, blobArgs...)...)
	}
	cl := newSQS(s)
	var got []string
	// receiveUntil collects the messages the queue receives until one
	// carries want.
	receiveUntil := func(want string) map[string]any {
		t.Helper()
		var found map[string]any
		eventually(t, 180*time.Second, "a notification of "+want, func() error {
			out, err := cl.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(qURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				return err
			}
			for _, m := range out.Messages {
				cl.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(qURL), ReceiptHandle: m.ReceiptHandle})
				var env struct{ Type, Subject, Message string }
				if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil {
					return stopPolling(fmt.Errorf("body %q: %v", aws.ToString(m.Body), err))
				}
				var n map[string]any
				if err := json.Unmarshal([]byte(env.Message), &n); err != nil {
					return stopPolling(fmt.Errorf("message %q: %v", env.Message, err))
				}
				got = append(got, jstr(n, "message"))
				if jstr(n, "message") == want {
					found = n
				}
			}
			if found == nil {
				return fmt.Errorf("received %q", got)
			}
			return nil
		})
		return found
	}

	invoke("INFO all good", "ERROR disk full on /dev/sda1", "DEBUG nothing to see")
	n := receiveUntil("ERROR disk full on /dev/sda1")
	if jstr(n, "messageType") != "DATA_MESSAGE" || jstr(n, "owner") != accountID || jstr(n, "logGroup") != group ||
		jstr(n, "logStream") == "" || jstr(n, "filters", "0") != "errors" || jstr(n, "id") == "" || jnum(n, "timestamp") == 0 {
		t.Errorf("notification %v", n)
	}
	// A second error after more lines that do not match: it arrives, and
	// none of the lines without ERROR ever did.
	invoke("WARN slow disk", "ERROR disk gone")
	receiveUntil("ERROR disk gone")
	for _, m := range got {
		if !strings.Contains(m, "ERROR") {
			t.Errorf("a line without ERROR was delivered: %q (all: %q)", m, got)
		}
	}

	const metric = `kumo_logs_metric{dimensions="",name="LogErrors",namespace="LogSubs"} 2`
	if m := asyncMetrics(t, s); !strings.Contains(m, metric) {
		t.Errorf("/metrics has no %s:\n%s", metric, grepLines(m, "kumo_logs_metric"))
	}

	// Delete through the CLI; a second delete finds nothing.
	c.ok("logs", "delete-subscription-filter", "--log-group-name", group, "--filter-name", "errors")
	if f := c.ok("logs", "describe-subscription-filters", "--log-group-name", group); jget(f, "subscriptionFilters", "0") != nil {
		t.Errorf("after delete: %v", f)
	}
	c.fail("ResourceNotFoundException", "logs", "delete-subscription-filter", "--log-group-name", group, "--filter-name", "errors")
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestLogSubscriptionPermissionNoAuth: with authentication off the
// function's policy still decides whether CloudWatch Logs may invoke it.
func TestLogSubscriptionPermissionNoAuth(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--insecure-no-auth", "--sandbox", "process")
	c := newCLI(t, s)
	const group = "/aws/lambda/noauth-app"
	c.ok("lambda", "create-function", "--function-name", "noauth-notify", "--runtime", "python3.12", "--handler", "app.handler",
		"--role", testRole, "--zip-file", "fileb://"+writeTemp(t, "app.zip", makeZip(t, zipEntry{Name: "app.py", Body: pyPrintLines})))
	c.ok("logs", "create-log-group", "--log-group-name", group)
	put := []string{"logs", "put-subscription-filter", "--log-group-name", group, "--filter-name", "all",
		"--filter-pattern", "", "--destination-arn", functionARN("noauth-notify")}
	c.fail("InvalidParameterException", put...)
	c.fail("InvalidParameterException", "logs", "put-subscription-filter", "--log-group-name", group, "--filter-name", "all",
		"--filter-pattern", "", "--destination-arn", functionARN("no-such-function"))
	c.ok("lambda", "add-permission", "--function-name", "noauth-notify", "--statement-id", "logs", "--action", "lambda:InvokeFunction",
		"--principal", "logs.amazonaws.com", "--source-arn", "arn:aws:logs:"+region+":"+accountID+":log-group:"+group+":*")
	c.ok(put...)
}
