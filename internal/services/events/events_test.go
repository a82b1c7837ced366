package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/asyncq"
	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/poll"
	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/services/events"
	lambdaapi "github.com/kumo-run/kumo/internal/services/lambda"
	"github.com/kumo-run/kumo/internal/store"
)

const (
	account    = "000000000000"
	rootKey    = "AKIAKUMOEVENTSTEST01"
	rootSecret = "kumo-events-test-secret-00000000000000000"
	fnARN      = "arn:aws:lambda:us-east-1:000000000000:function:fn"
	queueARN   = "arn:aws:sqs:us-east-1:000000000000:q"
	dlqARN     = "arn:aws:sqs:us-east-1:000000000000:dlq"
	failARN    = "arn:aws:sqs:us-east-1:000000000000:failing"
)

// runner records the invocations that pass the invoke guard.
type runner struct {
	mu    sync.Mutex
	calls []*invoke.Input
}

func (f *runner) Invoke(ctx context.Context, in *invoke.Input) (*invoke.Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	return &invoke.Output{Status: http.StatusAccepted}, nil
}

func (f *runner) snapshot() []*invoke.Input {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*invoke.Input(nil), f.calls...)
}

type sent struct {
	arn   string
	body  string
	attrs map[string]asyncq.Attribute
}

// targets records what reaches queues and topics; failARN always fails,
// as a throttled queue would.
type targets struct {
	mu    sync.Mutex
	sent  []sent
	tries atomic.Int32
}

func (q *targets) Send(ctx context.Context, arn string, body []byte, attrs map[string]asyncq.Attribute) error {
	if arn == failARN {
		q.tries.Add(1)
		return awsproto.Errorf(awsproto.EventsThrottling, "Rate exceeded")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sent = append(q.sent, sent{arn, string(body), attrs})
	return nil
}

func (q *targets) to(arn string) []sent {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []sent
	for _, s := range q.sent {
		if s.arn == arn {
			out = append(out, s)
		}
	}
	return out
}

// clock is the services' clock, moved by tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

type harness struct {
	dir      string
	ns       *natsd.Server
	svc      *events.Service
	cl       *eventbridge.Client
	srv      *httptest.Server
	az       *authz.Authorizer
	auth     *authz.Static
	run      *runner
	tg       *targets
	clk      *clock
	policies map[string][]registry.Statement
	pmu      sync.Mutex
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	st := &authz.Static{}
	h := &harness{dir: t.TempDir(), auth: st, run: &runner{}, tg: &targets{}, clk: &clock{t: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)},
		policies: map[string][]registry.Statement{}}
	h.az = authz.New(authz.Config{Directory: st, Region: "us-east-1"})
	h.start(t)
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	creds := &token.Store{Issuer: is, RootKeyID: rootKey, RootSecret: rootSecret, Root: token.Root("aws", account), Keys: st}
	h.srv = httptest.NewServer(edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: creds},
		Routes: []edge.Route{{Name: "events", Match: []edge.Matcher{{Service: events.SigningName}}, Scope: events.SigningName,
			Handler: h, Errors: events.Errors}},
	}))
	t.Cleanup(h.srv.Close)
	h.cl = h.client(rootKey, rootSecret)
	t.Cleanup(h.stop)
	return h
}

func (h *harness) client(key, secret string) *eventbridge.Client {
	return eventbridge.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient: h.srv.Client(), RetryMaxAttempts: 1}, func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(h.srv.URL) })
}

// allow grants events.amazonaws.com lambda:InvokeFunction on fn, as
// AddPermission does.
func (h *harness) allow(sourceARN string) {
	h.pmu.Lock()
	defer h.pmu.Unlock()
	h.policies["fn"] = []registry.Statement{{Sid: "events", Effect: "Allow", Principal: map[string]any{"Service": events.ServicePrincipal},
		Action: "lambda:InvokeFunction", Resource: fnARN, Condition: map[string]map[string]string{"ArnLike": {"AWS:SourceArn": sourceARN}}}}
}

func (h *harness) statements(name, qualifier string) []registry.Statement {
	h.pmu.Lock()
	defer h.pmu.Unlock()
	return h.policies[name]
}

func (h *harness) open(t testing.TB, nc *nats.Conn) *events.Service {
	t.Helper()
	st, err := store.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := st.KV(context.Background(), natsd.EventsBucket)
	if err != nil {
		t.Fatal(err)
	}
	guard := &lambdaapi.InvokeGuard{Invoker: h.run, Authorizer: h.az, Policies: &authz.FunctionPolicies{Statements: h.statements},
		ARNs: registry.ARNs{Partition: "aws", Region: "us-east-1", Account: account}}
	svc, err := events.Open(context.Background(), events.Config{KV: kv, NATS: nc, Region: "us-east-1", Account: account,
		Invoker: guard, Targets: h.tg, Authorizer: h.az, Now: h.clk.Now, Tick: time.Hour,
		RetryDelay: func(int) time.Duration { return time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// start starts NATS on the harness's directory and opens the service, as
// a process start does.
func (h *harness) start(t testing.TB) {
	t.Helper()
	ns, err := natsd.Start(natsd.Config{DataDir: h.dir, Sync: natsd.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ns.Connect("events-test")
	if err != nil {
		t.Fatal(err)
	}
	h.ns = ns
	h.svc = h.open(t, nc)
}

func (h *harness) stop() {
	if h.svc != nil {
		h.svc.Close()
		h.ns.Shutdown()
		h.svc = nil
	}
}

func (h *harness) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.svc.ServeHTTP(w, r) }

// drained waits until the events stream holds no event and no delivery.
func (h *harness) drained(t *testing.T) {
	t.Helper()
	nc, err := h.ns.Connect("events-test-drained")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 0, "the events stream to drain", func() error {
		st, err := js.Stream(t.Context(), natsd.EventsStream)
		if err != nil {
			return err
		}
		info, err := st.Info(t.Context())
		if err != nil {
			return err
		}
		if info.State.Msgs != 0 {
			return fmt.Errorf("%d messages", info.State.Msgs)
		}
		return nil
	})
}

func wantCode(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || msg != "" && ae.ErrorMessage() != msg {
		t.Fatalf("error %v, want %s %q", err, code, msg)
	}
}

func TestBusesRulesAndTargets(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	bus, err := h.cl.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("orders"), Description: aws.String("order events")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(bus.EventBusArn); got != "arn:aws:events:us-east-1:000000000000:event-bus/orders" {
		t.Fatalf("EventBusArn = %s", got)
	}
	_, err = h.cl.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("orders")})
	wantCode(t, err, "ResourceAlreadyExistsException", "Event bus orders already exists.")
	_, err = h.cl.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("a/b")})
	wantCode(t, err, "ValidationException", "")
	buses, err := h.cl.ListEventBuses(ctx, &eventbridge.ListEventBusesInput{})
	if err != nil || len(buses.EventBuses) != 2 || aws.ToString(buses.EventBuses[0].Name) != "default" || aws.ToString(buses.EventBuses[1].Name) != "orders" {
		t.Fatalf("ListEventBuses: %+v %v", buses, err)
	}
	desc, err := h.cl.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String("orders")})
	if err != nil || aws.ToString(desc.Description) != "order events" || desc.CreationTime == nil {
		t.Fatalf("DescribeEventBus: %+v %v", desc, err)
	}
	_, err = h.cl.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException", "Event bus nope does not exist.")
	_, err = h.cl.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String("default")})
	wantCode(t, err, "ValidationException", "Cannot delete event bus default.")

	// Rules: ARNs on the default and a custom bus, validation.
	pattern := `{"source":["shop"],"detail":{"order":{"total":[{"numeric":[">",100]}]}}}`
	r1, err := h.cl.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("big"), EventBusName: aws.String("orders"), EventPattern: aws.String(pattern)})
	if err != nil || aws.ToString(r1.RuleArn) != "arn:aws:events:us-east-1:000000000000:rule/orders/big" {
		t.Fatalf("PutRule: %v %v", r1, err)
	}
	r2, err := h.cl.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("tick"), ScheduleExpression: aws.String("rate(5 minutes)"), State: types.RuleStateDisabled})
	if err != nil || aws.ToString(r2.RuleArn) != "arn:aws:events:us-east-1:000000000000:rule/tick" {
		t.Fatalf("PutRule: %v %v", r2, err)
	}
	_, err = h.cl.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad"), EventPattern: aws.String(`{"source":"shop"}`)})
	wantCode(t, err, "InvalidEventPatternException", "")
	_, err = h.cl.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad"), ScheduleExpression: aws.String("rate(1 minutes)")})
	wantCode(t, err, "ValidationException", "Parameter ScheduleExpression is not valid.")
	_, err = h.cl.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad"), EventBusName: aws.String("orders"), ScheduleExpression: aws.String("rate(1 minute)")})
	wantCode(t, err, "ValidationException", "ScheduleExpression is supported only on the default event bus.")
	_, err = h.cl.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad")})
	wantCode(t, err, "ValidationException", "Parameter(s) EventPattern or ScheduleExpression must be specified.")
	_, err = h.cl.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("x"), EventBusName: aws.String("nope"), EventPattern: aws.String(pattern)})
	wantCode(t, err, "ResourceNotFoundException", "Event bus nope does not exist.")

	dr, err := h.cl.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("tick")})
	if err != nil || dr.State != types.RuleStateDisabled || aws.ToString(dr.ScheduleExpression) != "rate(5 minutes)" || aws.ToString(dr.EventBusName) != "default" {
		t.Fatalf("DescribeRule: %+v %v", dr, err)
	}
	if _, err := h.cl.EnableRule(ctx, &eventbridge.EnableRuleInput{Name: aws.String("tick")}); err != nil {
		t.Fatal(err)
	}
	dr, _ = h.cl.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("tick")})
	if dr.State != types.RuleStateEnabled {
		t.Fatalf("after EnableRule: %s", dr.State)
	}
	_, err = h.cl.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("big")})
	wantCode(t, err, "ResourceNotFoundException", "Rule big does not exist on EventBus default.")
	lr, err := h.cl.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String("orders"), NamePrefix: aws.String("b")})
	if err != nil || len(lr.Rules) != 1 || aws.ToString(lr.Rules[0].EventPattern) != pattern {
		t.Fatalf("ListRules: %+v %v", lr, err)
	}

	// Targets: validation, per-target failures, the quota, deletion
	// refused while targets exist.
	pt, err := h.cl.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("big"), EventBusName: aws.String("orders"), Targets: []types.Target{
		{Id: aws.String("q"), Arn: aws.String(queueARN), InputPath: aws.String("$.detail")},
		{Id: aws.String("k"), Arn: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/s")},
	}})
	if err != nil || pt.FailedEntryCount != 1 || aws.ToString(pt.FailedEntries[0].TargetId) != "k" {
		t.Fatalf("PutTargets: %+v %v", pt, err)
	}
	_, err = h.cl.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("big"), EventBusName: aws.String("orders"), Targets: []types.Target{
		{Id: aws.String("two"), Arn: aws.String(queueARN), Input: aws.String("{}"), InputPath: aws.String("$")}}})
	wantCode(t, err, "ValidationException", "Only one of Input, InputPath, or InputTransformer must be provided.")
	_, err = h.cl.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("nope"), Targets: []types.Target{{Id: aws.String("q"), Arn: aws.String(queueARN)}}})
	wantCode(t, err, "ResourceNotFoundException", "Rule nope does not exist on EventBus default.")
	var many []types.Target
	for i := range 6 {
		many = append(many, types.Target{Id: aws.String(fmt.Sprint("t", i)), Arn: aws.String(queueARN)})
	}
	_, err = h.cl.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("tick"), Targets: many})
	wantCode(t, err, "LimitExceededException", "")
	lt, err := h.cl.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("big"), EventBusName: aws.String("orders")})
	if err != nil || len(lt.Targets) != 1 || aws.ToString(lt.Targets[0].InputPath) != "$.detail" {
		t.Fatalf("ListTargetsByRule: %+v %v", lt, err)
	}
	_, err = h.cl.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("big"), EventBusName: aws.String("orders")})
	wantCode(t, err, "ValidationException", "Rule can't be deleted since it has targets.")
	rt, err := h.cl.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String("big"), EventBusName: aws.String("orders"), Ids: []string{"q", "zz"}})
	if err != nil || rt.FailedEntryCount != 1 || aws.ToString(rt.FailedEntries[0].TargetId) != "zz" {
		t.Fatalf("RemoveTargets: %+v %v", rt, err)
	}
	if _, err := h.cl.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("big"), EventBusName: aws.String("orders")}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("big"), EventBusName: aws.String("orders")})
	wantCode(t, err, "ResourceNotFoundException", "")

	// Tags.
	if _, err := h.cl.TagResource(ctx, &eventbridge.TagResourceInput{ResourceARN: r2.RuleArn, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("ops")}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := h.cl.ListTagsForResource(ctx, &eventbridge.ListTagsForResourceInput{ResourceARN: r2.RuleArn})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Value) != "ops" {
		t.Fatalf("ListTagsForResource: %+v %v", tags, err)
	}

	// TestEventPattern.
	ev := `{"id":"1","account":"000000000000","source":"shop","time":"2026-01-01T00:00:00Z","region":"us-east-1","detail-type":"x","detail":{"order":{"total":150}}}`
	tp, err := h.cl.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(pattern), Event: aws.String(ev)})
	if err != nil || !tp.Result {
		t.Fatalf("TestEventPattern: %+v %v", tp, err)
	}
	tp, err = h.cl.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(pattern), Event: aws.String(strings.Replace(ev, "150", "50", 1))})
	if err != nil || tp.Result {
		t.Fatalf("TestEventPattern: %+v %v", tp, err)
	}
	_, err = h.cl.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(pattern), Event: aws.String(`{}`)})
	wantCode(t, err, "ValidationException", "")

	// State survives a restart.
	h.stop()
	h.start(t)
	dr, err = h.cl.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("tick")})
	if err != nil || dr.State != types.RuleStateEnabled {
		t.Fatalf("DescribeRule after restart: %+v %v", dr, err)
	}
}

// TestPutEventsRoutesThroughTransformer: a nested pattern on a custom bus
// routes one of three entries to a queue, through an input transformer.
func TestPutEventsRoutesThroughTransformer(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	if _, err := h.cl.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("shop")}); err != nil {
		t.Fatal(err)
	}
	pattern := `{"source":["shop.orders"],"detail":{"order":{"status":["PAID"],"total":[{"numeric":[">=",100]}]}}}`
	rule, err := h.cl.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("paid"), EventBusName: aws.String("shop"), EventPattern: aws.String(pattern)})
	if err != nil {
		t.Fatal(err)
	}
	tpl := `{"order": <id>, "text": "order <id> paid \"<total>\"", "total": <total>, "rule": "<aws.events.rule-name>", "missing": <nope>}`
	_, err = h.cl.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("paid"), EventBusName: aws.String("shop"), Targets: []types.Target{{
		Id: aws.String("q"), Arn: aws.String(queueARN),
		InputTransformer: &types.InputTransformer{InputPathsMap: map[string]string{"id": "$.detail.order.id", "total": "$.detail.order.total", "nope": "$.detail.none"},
			InputTemplate: aws.String(tpl)},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.cl.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
		{EventBusName: aws.String("shop"), Source: aws.String("shop.orders"), DetailType: aws.String("Order"), Detail: aws.String(`{"order":{"id":"o-1","status":"PAID","total":120}}`)},
		{EventBusName: aws.String("shop"), Source: aws.String("shop.orders"), DetailType: aws.String("Order"), Detail: aws.String(`{"order":{"id":"o-2","status":"PAID","total":99}}`)},
		{EventBusName: aws.String("shop"), Source: aws.String("shop.orders"), DetailType: aws.String("Order"), Detail: aws.String(`not json`)},
		{EventBusName: aws.String("shop"), DetailType: aws.String("Order"), Detail: aws.String(`{}`)},
		{EventBusName: aws.String("nope"), Source: aws.String("s"), DetailType: aws.String("Order"), Detail: aws.String(`{}`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.FailedEntryCount != 3 || aws.ToString(out.Entries[0].EventId) == "" || aws.ToString(out.Entries[2].ErrorCode) != "MalformedDetail" ||
		aws.ToString(out.Entries[3].ErrorMessage) != "Parameter Source is not valid. Reason: Source is a required argument." ||
		aws.ToString(out.Entries[4].ErrorCode) != "ResourceNotFoundException" {
		t.Fatalf("PutEvents: %d failed, %+v", out.FailedEntryCount, out.Entries)
	}
	poll.True(t, "the matching event in the queue", func() bool { return len(h.tg.to(queueARN)) > 0 })
	got := h.tg.to(queueARN)[0].body
	var doc map[string]any
	if err := json.Unmarshal([]byte(got), &doc); err != nil {
		t.Fatalf("transformed input is not JSON: %s", got)
	}
	want := map[string]any{"order": "o-1", "text": `order o-1 paid "120"`, "total": 120.0, "rule": "paid", "missing": nil}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("%s = %#v, want %#v (input %s)", k, doc[k], v, got)
		}
	}
	_ = rule

	// The second entry's event did not match: once the first is
	// delivered, a later matching event arrives and nothing else.
	if _, err := h.cl.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
		{EventBusName: aws.String("arn:aws:events:us-east-1:000000000000:event-bus/shop"), Source: aws.String("shop.orders"), DetailType: aws.String("Order"), Detail: aws.String(`{"order":{"id":"o-3","status":"PAID","total":100}}`)}}}); err != nil {
		t.Fatal(err)
	}
	poll.True(t, "the second matching event", func() bool { return len(h.tg.to(queueARN)) == 2 })
	if b := h.tg.to(queueARN)[1].body; !strings.Contains(b, `"o-3"`) {
		t.Fatalf("second delivery %s", b)
	}

	// Limits.
	var eleven []types.PutEventsRequestEntry
	for range 11 {
		eleven = append(eleven, types.PutEventsRequestEntry{Source: aws.String("s"), DetailType: aws.String("d"), Detail: aws.String("{}")})
	}
	_, err = h.cl.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: eleven})
	wantCode(t, err, "ValidationException", "")
	big := `{"x":"` + strings.Repeat("a", 256*1024) + `"}`
	_, err = h.cl.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{Source: aws.String("s"), DetailType: aws.String("d"), Detail: aws.String(big)}}})
	wantCode(t, err, "ValidationException", "Total size of the entries in the request is over the limit.")
}

// TestLambdaTargetNeedsPermission: without lambda:InvokeFunction for
// events.amazonaws.com the event goes to the target's dead-letter queue
// at once; with it the function gets the event, asynchronously.
func TestLambdaTargetNeedsPermission(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	rule, err := h.cl.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("to-fn"), EventPattern: aws.String(`{"source":["app"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("to-fn"), Targets: []types.Target{{
		Id: aws.String("fn"), Arn: aws.String(fnARN), DeadLetterConfig: &types.DeadLetterConfig{Arn: aws.String(dlqARN)}}}})
	if err != nil {
		t.Fatal(err)
	}
	put := func(n int) {
		t.Helper()
		out, err := h.cl.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
			{Source: aws.String("app"), DetailType: aws.String("Ping"), Detail: aws.String(fmt.Sprintf(`{"n":%d}`, n))}}})
		if err != nil || out.FailedEntryCount != 0 {
			t.Fatalf("PutEvents: %+v %v", out, err)
		}
	}
	put(1)
	poll.True(t, "the refused event in the dead-letter queue", func() bool { return len(h.tg.to(dlqARN)) == 1 })
	dl := h.tg.to(dlqARN)[0]
	if dl.attrs["ERROR_CODE"].Value != "AccessDeniedException" || dl.attrs["RULE_ARN"].Value != aws.ToString(rule.RuleArn) ||
		dl.attrs["TARGET_ARN"].Value != fnARN || !strings.Contains(dl.body, `"n":1`) {
		t.Fatalf("dead-letter event %+v", dl)
	}
	if n := len(h.run.snapshot()); n != 0 {
		t.Fatalf("%d invocations without permission", n)
	}

	h.allow(aws.ToString(rule.RuleArn))
	put(2)
	poll.True(t, "the invocation", func() bool { return len(h.run.snapshot()) == 1 })
	in := h.run.snapshot()[0]
	var ev events.Envelope
	if err := json.Unmarshal(in.Payload, &ev); err != nil {
		t.Fatal(err)
	}
	if in.InvocationType != invoke.TypeEvent || ev.Version != "0" || ev.Source != "app" || ev.DetailType != "Ping" || ev.Account != account ||
		ev.Region != "us-east-1" || string(ev.Detail) != `{"n":2}` || len(ev.Resources) != 0 || !strings.HasSuffix(ev.Time, "Z") {
		t.Fatalf("invocation %+v with event %s", in, in.Payload)
	}
	if _, err := time.Parse(time.RFC3339, ev.Time); err != nil {
		t.Fatalf("time %q: %v", ev.Time, err)
	}
}

// TestRetriesThenDeadLetter: a target that keeps failing is retried as
// its RetryPolicy allows, then the event goes to its dead-letter queue.
func TestRetriesThenDeadLetter(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	if _, err := h.cl.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":["app"]}`)}); err != nil {
		t.Fatal(err)
	}
	_, err := h.cl.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r"), Targets: []types.Target{{
		Id: aws.String("f"), Arn: aws.String(failARN), DeadLetterConfig: &types.DeadLetterConfig{Arn: aws.String(dlqARN)},
		RetryPolicy: &types.RetryPolicy{MaximumRetryAttempts: aws.Int32(2), MaximumEventAgeInSeconds: aws.Int32(3600)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
		{Source: aws.String("app"), DetailType: aws.String("x"), Detail: aws.String(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	poll.True(t, "the dead-letter event", func() bool { return len(h.tg.to(dlqARN)) == 1 })
	dl := h.tg.to(dlqARN)[0]
	if n := h.tg.tries.Load(); n != 3 {
		t.Errorf("%d attempts, want 3 (1 + 2 retries)", n)
	}
	if dl.attrs["RETRY_ATTEMPTS"].Value != "2" || dl.attrs["EXHAUSTED_RETRY_CONDITION"].Value != "MaximumRetryAttempts" || dl.attrs["ERROR_CODE"].Value != "ThrottlingException" {
		t.Fatalf("dead-letter attributes %+v", dl.attrs)
	}
}

// TestScheduleFiresOncePerPeriod: a rate(1 minute) rule fires once per
// period, not before, not twice (across a restart and with two servers
// on one store), and a period missed while the server was down fires
// once, late.
func TestScheduleFiresOncePerPeriod(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	t0 := h.clk.Now()
	rule, err := h.cl.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("every-minute"), ScheduleExpression: aws.String("rate(1 minute)")})
	if err != nil {
		t.Fatal(err)
	}
	h.allow(aws.ToString(rule.RuleArn))
	if _, err := h.cl.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("every-minute"), Targets: []types.Target{{Id: aws.String("fn"), Arn: aws.String(fnARN)}}}); err != nil {
		t.Fatal(err)
	}
	fired := func() []events.Envelope {
		var out []events.Envelope
		for _, in := range h.run.snapshot() {
			var ev events.Envelope
			if err := json.Unmarshal(in.Payload, &ev); err != nil {
				t.Fatal(err)
			}
			out = append(out, ev)
		}
		return out
	}
	h.clk.set(t0.Add(59 * time.Second))
	h.svc.FireDue(ctx)
	h.clk.set(t0.Add(60 * time.Second))
	h.svc.FireDue(ctx)
	h.svc.FireDue(ctx)
	poll.True(t, "the first period's event", func() bool { return len(fired()) >= 1 })
	ev := fired()[0]
	if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" || string(ev.Detail) != "{}" || len(ev.Resources) != 1 ||
		ev.Resources[0] != aws.ToString(rule.RuleArn) || ev.Time != t0.Add(time.Minute).Format("2006-01-02T15:04:05Z") || ev.Version != "0" {
		t.Fatalf("scheduled event %+v", ev)
	}

	// A second server on the same store fires nothing already fired, and
	// of a new period the two fire one event.
	nc2, err := h.ns.Connect("events-test-2")
	if err != nil {
		t.Fatal(err)
	}
	other := h.open(t, nc2)
	defer other.Close()
	other.FireDue(ctx)
	h.clk.set(t0.Add(2 * time.Minute))
	var wg sync.WaitGroup
	for _, s := range []*events.Service{h.svc, other, h.svc, other} {
		wg.Add(1)
		go func() { defer wg.Done(); s.FireDue(ctx) }()
	}
	wg.Wait()
	poll.True(t, "the second period's event", func() bool { return len(fired()) >= 2 })
	other.Close()

	// Down for three and a half periods: the latest missed one fires once
	// after the restart; the restart fires nothing twice.
	h.stop()
	h.clk.set(t0.Add(5*time.Minute + 30*time.Second))
	h.start(t)
	h.svc.FireDue(ctx)
	h.svc.FireDue(ctx)
	poll.True(t, "the missed period's event", func() bool { return len(fired()) >= 3 })
	h.clk.set(t0.Add(6 * time.Minute))
	h.svc.FireDue(ctx)
	poll.True(t, "the next period's event", func() bool { return len(fired()) >= 4 })

	// Nothing else arrives: once the stream holds nothing, every event
	// stored has been delivered.
	h.drained(t)
	var times []string
	for _, ev := range fired() {
		times = append(times, ev.Time)
	}
	want := []string{"10:01:00", "10:02:00", "10:05:00", "10:06:00"}
	if len(times) != len(want) {
		t.Fatalf("fired at %v, want %v", times, want)
	}
	for i, w := range want {
		if !strings.Contains(times[i], w) {
			t.Fatalf("fired at %v, want %v", times, want)
		}
	}
}

// TestAuthorization: every operation is checked as events:<Operation> on
// the bus or rule it names.
func TestAuthorization(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	const bobARN = "arn:aws:iam::000000000000:user/bob"
	p, err := iam.Parse(`{"Version":"2012-10-17","Statement":[`+
		`{"Effect":"Allow","Action":"events:PutEvents","Resource":"arn:aws:events:us-east-1:000000000000:event-bus/default"},`+
		`{"Effect":"Allow","Action":["events:PutRule","events:DescribeRule"],"Resource":"arn:aws:events:us-east-1:000000000000:rule/bob-*"}]}`, iam.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	h.auth.SetUser(awsproto.Identity{Account: account, ARN: bobARN, UserID: "AIDABOB"}, authz.Principal{Policies: []*iam.Policy{p}})
	h.auth.SetAccessKey("AKIABOBEVENTS0000001", "bob-secret", bobARN)
	bob := h.client("AKIABOBEVENTS0000001", "bob-secret")
	entry := types.PutEventsRequestEntry{Source: aws.String("s"), DetailType: aws.String("d"), Detail: aws.String("{}")}
	if _, err := bob.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{entry}}); err != nil {
		t.Fatalf("PutEvents on the default bus: %v", err)
	}
	if _, err := h.cl.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("other")}); err != nil {
		t.Fatal(err)
	}
	entry.EventBusName = aws.String("other")
	_, err = bob.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{entry}})
	wantCode(t, err, "AccessDeniedException", "")
	if _, err := bob.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bob-1"), EventPattern: aws.String(`{"source":["s"]}`)}); err != nil {
		t.Fatalf("PutRule bob-1: %v", err)
	}
	_, err = bob.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("alice-1"), EventPattern: aws.String(`{"source":["s"]}`)})
	wantCode(t, err, "AccessDeniedException", "")
	_, err = bob.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("bob-1")})
	wantCode(t, err, "AccessDeniedException", "")
	_, err = bob.ListRules(ctx, &eventbridge.ListRulesInput{})
	wantCode(t, err, "AccessDeniedException", "")
	if _, err := h.cl.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("bob-1")}); err != nil {
		t.Fatalf("the denied DeleteRule deleted: %v", err)
	}
}

// TestProtocolErrors: requests the service cannot dispatch or read.
func TestProtocolErrors(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct{ target, body, code string }{
		{"AWSEvents.CreateArchive", "{}", "UnknownOperationException"},
		{"Logs_20140328.PutRule", "{}", "UnknownOperationException"},
		{"AWSEvents.PutRule", "{not json", "SerializationException"},
		{"AWSEvents.PutRule", `{"Name":5}`, "SerializationException"},
		{"AWSEvents.PutEvents", `{"Entries":[]}`, "ValidationException"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
		r.Header.Set("X-Amz-Target", tt.target)
		w := httptest.NewRecorder()
		h.svc.ServeHTTP(w, r)
		var body struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 400 || body.Type != tt.code ||
			w.Header().Get("Content-Type") != "application/x-amz-json-1.1" {
			t.Errorf("%s %s: %d %s", tt.target, tt.body, w.Code, w.Body)
		}
	}
}

// TestCronRule: a cron() rule fires at its times, in UTC.
func TestCronRule(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	rule, err := h.cl.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("fives"), ScheduleExpression: aws.String("cron(0/5 * ? * SAT *)")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("fives"), Targets: []types.Target{{Id: aws.String("q"), Arn: aws.String(queueARN)}}}); err != nil {
		t.Fatal(err)
	}
	t0 := h.clk.Now() // Saturday 10:00
	h.clk.set(t0.Add(4*time.Minute + 59*time.Second))
	h.svc.FireDue(ctx)
	h.clk.set(t0.Add(5 * time.Minute))
	h.svc.FireDue(ctx)
	h.svc.FireDue(ctx)
	h.drained(t)
	got := h.tg.to(queueARN)
	if len(got) != 1 || !strings.Contains(got[0].body, `"time":"2026-12-05T10:05:00Z"`) || !strings.Contains(got[0].body, aws.ToString(rule.RuleArn)) {
		t.Fatalf("deliveries %+v", got)
	}
}

// TestDisabledScheduleOwesNothing: the periods of a disabled rule are not
// fired when it is enabled again; the next one after is.
func TestDisabledScheduleOwesNothing(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	t0 := h.clk.Now()
	if _, err := h.cl.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), ScheduleExpression: aws.String("rate(1 minute)")}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r"), Targets: []types.Target{{Id: aws.String("q"), Arn: aws.String(queueARN)}}}); err != nil {
		t.Fatal(err)
	}
	h.clk.set(t0.Add(time.Minute))
	h.svc.FireDue(ctx)
	if _, err := h.cl.DisableRule(ctx, &eventbridge.DisableRuleInput{Name: aws.String("r")}); err != nil {
		t.Fatal(err)
	}
	h.clk.set(t0.Add(5*time.Minute + 30*time.Second))
	h.svc.FireDue(ctx)
	if _, err := h.cl.EnableRule(ctx, &eventbridge.EnableRuleInput{Name: aws.String("r")}); err != nil {
		t.Fatal(err)
	}
	h.svc.FireDue(ctx)
	h.clk.set(t0.Add(6 * time.Minute))
	h.svc.FireDue(ctx)
	h.drained(t)
	got := h.tg.to(queueARN)
	if len(got) != 2 || !strings.Contains(got[0].body+got[1].body, "10:01:00Z") || !strings.Contains(got[0].body+got[1].body, "10:06:00Z") {
		t.Fatalf("deliveries %+v", got)
	}
}

// TestOptionalMembersOmitted: an absent optional member is left out of
// the answer, not sent as null.
func TestOptionalMembersOmitted(t *testing.T) {
	h := newHarness(t)
	for _, target := range []string{"AWSEvents.ListRules", "AWSEvents.ListEventBuses", "AWSEvents.ListEventBuses"} {
		body := "{}"
		if strings.HasSuffix(target, "ListEventBuses") {
			body = `{"NamePrefix":"zzz"}`
		}
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("X-Amz-Target", target)
		w := httptest.NewRecorder()
		h.svc.ServeHTTP(w, r)
		if w.Code != 200 || strings.Contains(w.Body.String(), "null") {
			t.Errorf("%s: %d %s", target, w.Code, w.Body)
		}
	}
}
