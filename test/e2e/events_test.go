package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// EventBridge end to end: scheduled rules invoking a function (with
// rate() minutes shortened by the test-only KUMO_SCHEDULE_MINUTE), a
// custom bus routing through a nested pattern and an input transformer
// to a queue (AWS CLI), a Lambda target without permission going to its
// dead-letter queue, and Lambda's OnSuccess destination on an event bus.

func newEvents(s *server) *eventbridge.Client {
	return eventbridge.NewFromConfig(aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(rootAccessKeyID, rootSecretAccessKey, ""),
		RetryMaxAttempts: 1}, func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(s.url) })
}

func ruleARN(name string) string {
	return "arn:aws:events:" + region + ":" + accountID + ":rule/" + name
}

// allowEvents lets events.amazonaws.com invoke fn for the rule.
func allowEvents(t *testing.T, lc *lambda.Client, fn, rule string) {
	t.Helper()
	must[*lambda.AddPermissionOutput](t, "AddPermission "+fn)(lc.AddPermission(t.Context(), &lambda.AddPermissionInput{
		FunctionName: aws.String(fn), StatementId: aws.String("events-" + rule), Action: aws.String("lambda:InvokeFunction"),
		Principal: aws.String("events.amazonaws.com"), SourceArn: aws.String(ruleARN(rule))}))
}

type scheduledEvent struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// TestEventsSchedule: a rate(1 minute) rule (a second here) invokes a
// function with the Scheduled Event; across a restart no period fires
// twice, and the server fires again after it.
func TestEventsSchedule(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := asyncServer(t, dir, "KUMO_SCHEDULE_MINUTE=1s")
	lc := newSDK(t, s)
	eb := newEvents(s)
	ctx := t.Context()
	file := deployRecorder(t, lc, "ev-sched", "")
	allowEvents(t, lc, "ev-sched", "tick")
	must[*eventbridge.PutRuleOutput](t, "PutRule")(eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("tick"), ScheduleExpression: aws.String("rate(1 minute)")}))
	must[*eventbridge.PutTargetsOutput](t, "PutTargets")(eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("tick"),
		Targets: []ebtypes.Target{{Id: aws.String("fn"), Arn: aws.String(functionARN("ev-sched"))}}}))
	events := func() []scheduledEvent {
		var out []scheduledEvent
		for _, l := range readRec(t, file) {
			var ev scheduledEvent
			if err := json.Unmarshal(l.Event, &ev); err != nil {
				t.Fatalf("event %s: %v", l.Event, err)
			}
			out = append(out, ev)
		}
		return out
	}
	eventually(t, 60*time.Second, "two scheduled invocations", func() error {
		if n := len(events()); n < 2 {
			return fmt.Errorf("%d invocations", n)
		}
		return nil
	})
	ev := events()[0]
	if ev.Version != "0" || ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" || ev.Account != accountID || ev.Region != region ||
		len(ev.Resources) != 1 || ev.Resources[0] != ruleARN("tick") || string(ev.Detail) != "{}" || ev.ID == "" {
		t.Fatalf("scheduled event %+v", ev)
	}
	if _, err := time.Parse("2006-01-02T15:04:05Z", ev.Time); err != nil {
		t.Fatalf("time %q: %v", ev.Time, err)
	}

	s.stop()
	before := len(events())
	s = asyncServer(t, dir, "KUMO_SCHEDULE_MINUTE=1s")
	eb = newEvents(s)
	eventually(t, 60*time.Second, "invocations after the restart", func() error {
		if n := len(events()); n < before+2 {
			return fmt.Errorf("%d invocations, %d before the restart", n, before)
		}
		return nil
	})
	must[*eventbridge.DisableRuleOutput](t, "DisableRule")(eb.DisableRule(ctx, &eventbridge.DisableRuleInput{Name: aws.String("tick")}))
	// Let what was fired before the rule was disabled arrive.
	eventually(t, 30*time.Second, "the invocations to settle", func() error {
		n := len(events())
		time.Sleep(1500 * time.Millisecond)
		if m := len(events()); m != n {
			return fmt.Errorf("%d → %d", n, m)
		}
		return nil
	})
	// Each period fired once: distinct ids and times, a second apart but
	// for the restart's gap.
	var ids, times []string
	for _, ev := range events() {
		ids = append(ids, ev.ID)
		times = append(times, ev.Time)
	}
	slices.Sort(ids)
	if len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Fatalf("an event fired twice: %v", ids)
	}
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	if len(slices.Compact(slices.Clone(sorted))) != len(sorted) {
		t.Fatalf("a period fired twice: %v", times)
	}
}

// TestEventsCustomBusToSQS: the AWS CLI builds a custom bus whose rule's
// nested pattern routes one of two events to a queue through an input
// transformer.
func TestEventsCustomBusToSQS(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	c := newCLI(t, s)
	q := c.ok("sqs", "create-queue", "--queue-name", "paid-orders")
	url := jstr(q, "QueueUrl")
	bus := c.ok("events", "create-event-bus", "--name", "shop")
	expectEq(t, "EventBusArn", jstr(bus, "EventBusArn"), "arn:aws:events:"+region+":"+accountID+":event-bus/shop")
	rule := c.ok("events", "put-rule", "--name", "paid", "--event-bus-name", "shop",
		"--event-pattern", `{"source":["shop.orders"],"detail":{"order":{"status":["PAID"],"total":[{"numeric":[">=",100]}]}}}`)
	expectEq(t, "RuleArn", jstr(rule, "RuleArn"), "arn:aws:events:"+region+":"+accountID+":rule/shop/paid")
	// EventBridge sends as events.amazonaws.com for the rule: the queue's
	// policy must let it in. A queue whose policy does not is refused, and
	// the event goes to the target's dead-letter queue.
	allowService(t, s, url, "paid-orders", "events.amazonaws.com", jstr(rule, "RuleArn"))
	closedDLQ := jstr(c.ok("sqs", "create-queue", "--queue-name", "closed-dlq"), "QueueUrl")
	allowService(t, s, closedDLQ, "closed-dlq", "events.amazonaws.com", jstr(rule, "RuleArn"))
	c.ok("sqs", "create-queue", "--queue-name", "closed")
	targets := `[{"Id":"q","Arn":"` + queueARN("paid-orders") + `","InputTransformer":{"InputPathsMap":{"id":"$.detail.order.id","total":"$.detail.order.total"},` +
		`"InputTemplate":"{\"order\": <id>, \"summary\": \"order <id> paid <total>\", \"total\": <total>}"}},` +
		`{"Id":"closed","Arn":"` + queueARN("closed") + `","DeadLetterConfig":{"Arn":"` + queueARN("closed-dlq") + `"}}]`
	out := c.ok("events", "put-targets", "--rule", "paid", "--event-bus-name", "shop", "--targets", targets)
	if jnum(out, "FailedEntryCount") != 0 {
		t.Fatalf("put-targets: %v", out)
	}
	entries := `[{"EventBusName":"shop","Source":"shop.orders","DetailType":"Order","Detail":"{\"order\":{\"id\":\"o-1\",\"status\":\"PAID\",\"total\":99}}"},` +
		`{"EventBusName":"shop","Source":"shop.orders","DetailType":"Order","Detail":"{\"order\":{\"id\":\"o-2\",\"status\":\"PAID\",\"total\":250}}"}]`
	pe := c.ok("events", "put-events", "--entries", entries)
	if jnum(pe, "FailedEntryCount") != 0 || jstr(pe, "Entries", "0", "EventId") == "" {
		t.Fatalf("put-events: %v", pe)
	}
	got := receiveAll(t, newSQS(s), url, 1)
	var body map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(got[0].Body)), &body); err != nil {
		t.Fatalf("body %q: %v", aws.ToString(got[0].Body), err)
	}
	if body["order"] != "o-2" || body["summary"] != "order o-2 paid 250" || body["total"] != 250.0 {
		t.Fatalf("transformed input %v", body)
	}
	dead := receiveAll(t, newSQS(s), closedDLQ, 1)[0]
	if code := aws.ToString(dead.MessageAttributes["ERROR_CODE"].StringValue); code != "AccessDeniedException" {
		t.Fatalf("the closed queue's refusal: ERROR_CODE %q, attributes %v", code, dead.MessageAttributes)
	}
	c.fail("ValidationException", "events", "delete-rule", "--name", "paid", "--event-bus-name", "shop")
	c.fail("ResourceNotFoundException", "events", "describe-rule", "--name", "paid")
}

// TestEventsLambdaTargetDLQ: a function without a permission for
// events.amazonaws.com is not invoked; the event goes to the target's
// dead-letter queue with EventBridge's attributes.
func TestEventsLambdaTargetDLQ(t *testing.T) {
	t.Parallel()
	s := asyncServer(t, t.TempDir())
	lc := newSDK(t, s)
	eb := newEvents(s)
	cl := newSQS(s)
	ctx := t.Context()
	q := must[*sqs.CreateQueueOutput](t, "CreateQueue")(cl.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("ev-dlq")}))
	allowService(t, s, aws.ToString(q.QueueUrl), "ev-dlq", "events.amazonaws.com", ruleARN("fail"))
	file := deployRecorder(t, lc, "ev-noperm", "")
	must[*eventbridge.PutRuleOutput](t, "PutRule")(eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("fail"), EventPattern: aws.String(`{"source":["e2e.fail"]}`)}))
	must[*eventbridge.PutTargetsOutput](t, "PutTargets")(eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("fail"),
		Targets: []ebtypes.Target{{Id: aws.String("fn"), Arn: aws.String(functionARN("ev-noperm")),
			DeadLetterConfig: &ebtypes.DeadLetterConfig{Arn: aws.String(queueARN("ev-dlq"))}}}}))
	must[*eventbridge.PutEventsOutput](t, "PutEvents")(eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("e2e.fail"), DetailType: aws.String("x"), Detail: aws.String(`{"n":1}`)}}}))
	m := receiveAll(t, cl, aws.ToString(q.QueueUrl), 1)[0]
	attr := func(k string) string { return aws.ToString(m.MessageAttributes[k].StringValue) }
	if attr("ERROR_CODE") != "AccessDeniedException" || attr("RULE_ARN") != ruleARN("fail") || attr("TARGET_ARN") != functionARN("ev-noperm") {
		t.Fatalf("dead-letter attributes %v", m.MessageAttributes)
	}
	var ev scheduledEvent
	if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil || ev.Source != "e2e.fail" || string(ev.Detail) != `{"n":1}` {
		t.Fatalf("dead-letter body %s (%v)", aws.ToString(m.Body), err)
	}
	if n := len(readRec(t, file)); n != 0 {
		t.Fatalf("the function ran %d times without permission", n)
	}
}

// TestEventsLambdaDestination: an asynchronous invocation whose OnSuccess
// destination is the default bus puts a "Lambda Function Invocation
// Result - Success" event there; a rule routes it to a queue.
func TestEventsLambdaDestination(t *testing.T) {
	t.Parallel()
	s := asyncServer(t, t.TempDir())
	lc := newSDK(t, s)
	eb := newEvents(s)
	cl := newSQS(s)
	ctx := t.Context()
	q := must[*sqs.CreateQueueOutput](t, "CreateQueue")(cl.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("results")}))
	allowService(t, s, aws.ToString(q.QueueUrl), "results", "events.amazonaws.com", ruleARN("results"))
	deployRecorder(t, lc, "ev-dest", "")
	busARN := "arn:aws:events:" + region + ":" + accountID + ":event-bus/default"
	putEIC(t, lc, "ev-dest", aws.Int32(0), nil, busARN, "")
	must[*eventbridge.PutRuleOutput](t, "PutRule")(eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("results"),
		EventPattern: aws.String(`{"source":["lambda"],"detail-type":["Lambda Function Invocation Result - Success"],"detail":{"requestContext":{"condition":["Success"]}}}`)}))
	must[*eventbridge.PutTargetsOutput](t, "PutTargets")(eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("results"),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(queueARN("results"))}}}))
	id := invokeEvent(t, lc, "ev-dest", []byte(`{"hello":"bus"}`))
	m := receiveAll(t, cl, aws.ToString(q.QueueUrl), 1)[0]
	var ev struct {
		scheduledEvent
		Detail invocationRecord `json:"detail"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
		t.Fatalf("body %s: %v", aws.ToString(m.Body), err)
	}
	if ev.Source != "lambda" || ev.DetailType != "Lambda Function Invocation Result - Success" || len(ev.Resources) != 2 ||
		ev.Resources[0] != busARN || ev.Resources[1] != functionARN("ev-dest")+":$LATEST" {
		t.Fatalf("event %s", aws.ToString(m.Body))
	}
	r := ev.Detail
	if r.Version != "1.0" || r.RequestContext.RequestID != id || r.RequestContext.Condition != "Success" || string(r.RequestPayload) != `{"hello":"bus"}` ||
		r.ResponseContext == nil || r.ResponseContext.StatusCode != 200 || len(r.ResponsePayload) == 0 {
		t.Fatalf("invocation record %s", aws.ToString(m.Body))
	}
}

// TestSchedulerAt: the AWS CLI creates a one-time at() schedule (in a
// time zone) whose Lambda target is invoked, as the schedule's IAM role,
// with the schedule's Input; the schedule then deletes itself.
func TestSchedulerAt(t *testing.T) {
	t.Parallel()
	s := asyncServer(t, t.TempDir())
	lc := newSDK(t, s)
	c := newCLI(t, s)
	file := deployRecorder(t, lc, "sched-at", "")
	c.ok("iam", "create-role", "--role-name", "scheduler-invoke", "--assume-role-policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"scheduler.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)
	c.ok("iam", "put-role-policy", "--role-name", "scheduler-invoke", "--policy-name", "invoke", "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"`+functionARN("sched-at")+`"}]}`)
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	// Far enough ahead that the CLI has created the schedule by then on a
	// loaded machine: an at() already past when created never fires.
	when := time.Now().Add(20 * time.Second).In(tokyo).Format("2006-01-02T15:04:05")
	out := c.ok("scheduler", "create-schedule", "--name", "once", "--schedule-expression", "at("+when+")",
		"--schedule-expression-timezone", "Asia/Tokyo", "--flexible-time-window", "Mode=OFF", "--action-after-completion", "DELETE",
		"--target", `{"Arn":"`+functionARN("sched-at")+`","RoleArn":"arn:aws:iam::`+accountID+`:role/scheduler-invoke","Input":"{\"job\":\"nightly\"}"}`)
	expectEq(t, "ScheduleArn", jstr(out, "ScheduleArn"), "arn:aws:scheduler:"+region+":"+accountID+":schedule/default/once")
	eventually(t, 90*time.Second, "the invocation", func() error {
		if n := len(readRec(t, file)); n == 0 {
			return fmt.Errorf("no invocation yet")
		}
		return nil
	})
	got := waitRec(t, file, 1, nil)
	if string(got[0].Event) != `{"job":"nightly"}` {
		t.Fatalf("event %s", got[0].Event)
	}
	eventually(t, 30*time.Second, "the schedule to delete itself", func() error {
		if r := c.run("scheduler", "get-schedule", "--name", "once"); r.Code == 0 {
			return fmt.Errorf("still there")
		}
		return nil
	})
	c.fail("ResourceNotFoundException", "scheduler", "get-schedule", "--name", "once")
}
