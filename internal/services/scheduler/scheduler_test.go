package scheduler_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

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
	"github.com/kumo-run/kumo/internal/services/scheduler"
	"github.com/kumo-run/kumo/internal/store"
)

const (
	account    = "000000000000"
	rootKey    = "AKIAKUMOSCHEDTEST001"
	rootSecret = "kumo-scheduler-test-secret-0000000000000"
	queueARN   = "arn:aws:sqs:us-east-1:000000000000:q"
	fnARN      = "arn:aws:lambda:us-east-1:000000000000:function:fn"
	roleARN    = "arn:aws:iam::000000000000:role/scheduler-role"
)

type sent struct{ arn, body string }

type targets struct {
	mu   sync.Mutex
	sent []sent
}

func (q *targets) Send(ctx context.Context, arn string, body []byte, attrs map[string]asyncq.Attribute) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sent = append(q.sent, sent{arn, string(body)})
	return nil
}

func (q *targets) all() []sent {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]sent(nil), q.sent...)
}

type runner struct {
	mu    sync.Mutex
	calls []*invoke.Input
}

func (f *runner) Invoke(ctx context.Context, in *invoke.Input) (*invoke.Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	return &invoke.Output{Status: 202}, nil
}

func (f *runner) n() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

type harness struct {
	svc *scheduler.Service
	srv *httptest.Server
	tg  *targets
	run *runner
	clk *clock
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{tg: &targets{}, run: &runner{}, clk: &clock{t: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)}}
	ns, err := natsd.Start(natsd.Config{DataDir: t.TempDir(), Sync: natsd.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect("scheduler-test")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	ekv, err := st.KV(t.Context(), natsd.EventsBucket)
	if err != nil {
		t.Fatal(err)
	}
	skv, err := st.KV(t.Context(), natsd.SchedulerBucket)
	if err != nil {
		t.Fatal(err)
	}
	dir := &authz.Static{}
	p, err := iam.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"`+fnARN+`"}]}`, iam.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	dir.SetRole(authz.Role{ARN: roleARN, ID: "AROASCHEDULER"}, authz.Principal{Policies: []*iam.Policy{p}})
	az := authz.New(authz.Config{Directory: dir, Region: "us-east-1"})
	guard := &lambdaapi.InvokeGuard{Invoker: h.run, Authorizer: az, Policies: &authz.FunctionPolicies{Statements: func(string, string) []registry.Statement { return nil }},
		ARNs: registry.ARNs{Partition: "aws", Region: "us-east-1", Account: account}}
	ev, err := events.Open(t.Context(), events.Config{KV: ekv, NATS: nc, Region: "us-east-1", Account: account, Invoker: guard, Targets: h.tg,
		Now: h.clk.Now, Tick: time.Hour, RetryDelay: func(int) time.Duration { return time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ev.Close)
	h.svc, err = scheduler.Open(t.Context(), scheduler.Config{KV: skv, Region: "us-east-1", Account: account, Events: ev, Authorizer: az, Now: h.clk.Now, Tick: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.svc.Close)
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	creds := &token.Store{Issuer: is, RootKeyID: rootKey, RootSecret: rootSecret, Root: token.Root("aws", account), Keys: dir}
	h.srv = httptest.NewServer(edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: creds},
		Routes: []edge.Route{{Name: "scheduler", Match: []edge.Matcher{{Service: scheduler.SigningName}}, Scope: scheduler.SigningName,
			Handler: h.svc, Errors: scheduler.Errors}},
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// call makes one signed request and returns its status, error type and
// decoded body.
func (h *harness) call(t *testing.T, method, path, body string) (int, string, map[string]any) {
	t.Helper()
	r, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: rootKey, SecretAccessKey: rootSecret}, r,
		hex.EncodeToString(sum[:]), scheduler.SigningName, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), out
}

func (h *harness) want(t *testing.T, status int, errType, method, path, body string) map[string]any {
	t.Helper()
	st, et, out := h.call(t, method, path, body)
	if st != status || et != errType {
		t.Fatalf("%s %s: %d %s %v, want %d %s", method, path, st, et, out, status, errType)
	}
	return out
}

func TestGroupsAndSchedules(t *testing.T) {
	h := newHarness(t)
	g := h.want(t, 200, "", "POST", "/schedule-groups/team", `{}`)
	if g["ScheduleGroupArn"] != "arn:aws:scheduler:us-east-1:000000000000:schedule-group/team" {
		t.Fatalf("CreateScheduleGroup: %v", g)
	}
	h.want(t, 409, "ConflictException", "POST", "/schedule-groups/team", `{}`)
	h.want(t, 400, "ValidationException", "DELETE", "/schedule-groups/default", ``)
	h.want(t, 404, "ResourceNotFoundException", "GET", "/schedule-groups/nope", ``)
	gl := h.want(t, 200, "", "GET", "/schedule-groups", ``)
	if n := len(gl["ScheduleGroups"].([]any)); n != 2 {
		t.Fatalf("ListScheduleGroups: %v", gl)
	}

	body := `{"ScheduleExpression":"rate(5 minutes)","FlexibleTimeWindow":{"Mode":"OFF"},"GroupName":"team",` +
		`"Target":{"Arn":"` + queueARN + `","RoleArn":"` + roleARN + `","Input":"{\"hello\":1}"}}`
	c := h.want(t, 200, "", "POST", "/schedules/five", body)
	if c["ScheduleArn"] != "arn:aws:scheduler:us-east-1:000000000000:schedule/team/five" {
		t.Fatalf("CreateSchedule: %v", c)
	}
	h.want(t, 409, "ConflictException", "POST", "/schedules/five", body)
	h.want(t, 404, "ResourceNotFoundException", "POST", "/schedules/x", strings.Replace(body, `"team"`, `"nope"`, 1))
	h.want(t, 400, "ValidationException", "POST", "/schedules/x", strings.Replace(body, "rate(5 minutes)", "rate(5 minute)", 1))
	h.want(t, 400, "ValidationException", "POST", "/schedules/x", strings.Replace(body, `"OFF"`, `"FLEXIBLE"`, 1))
	h.want(t, 400, "ValidationException", "POST", "/schedules/x", strings.Replace(body, `"FlexibleTimeWindow":{"Mode":"OFF"},`, ``, 1))
	h.want(t, 400, "ValidationException", "POST", "/schedules/x", strings.Replace(body, `"GroupName"`, `"ScheduleExpressionTimezone":"Mars/Base","GroupName"`, 1))
	got := h.want(t, 200, "", "GET", "/schedules/five?groupName=team", ``)
	if got["State"] != "ENABLED" || got["ActionAfterCompletion"] != "NONE" || got["ScheduleExpression"] != "rate(5 minutes)" {
		t.Fatalf("GetSchedule: %v", got)
	}
	h.want(t, 404, "ResourceNotFoundException", "GET", "/schedules/five", ``) // the default group has none
	list := h.want(t, 200, "", "GET", "/schedules?ScheduleGroup=team", ``)
	if n := len(list["Schedules"].([]any)); n != 1 {
		t.Fatalf("ListSchedules: %v", list)
	}
	h.want(t, 200, "", "PUT", "/schedules/five", strings.Replace(body, `"Target"`, `"State":"DISABLED","Target"`, 1))
	if got := h.want(t, 200, "", "GET", "/schedules/five?groupName=team", ``); got["State"] != "DISABLED" {
		t.Fatalf("after UpdateSchedule: %v", got)
	}
	// A disabled schedule does not fire.
	h.clk.set(h.clk.Now().Add(time.Hour))
	h.svc.FireDue(t.Context())
	h.want(t, 200, "", "DELETE", "/schedules/five?groupName=team", ``)
	h.want(t, 404, "ResourceNotFoundException", "DELETE", "/schedules/five?groupName=team", ``)
	h.want(t, 200, "", "DELETE", "/schedule-groups/team", ``)
	if n := len(h.tg.all()); n != 0 {
		t.Fatalf("%d deliveries of a disabled schedule", n)
	}
}

// TestAtScheduleFiresOnceInItsTimeZone: a one-time at() schedule read in
// New York time fires once, with its Input, and deletes itself.
func TestAtScheduleFiresOnceInItsTimeZone(t *testing.T) {
	h := newHarness(t)
	if _, err := time.LoadLocation("America/New_York"); err != nil {
		t.Skip("no time zone database:", err)
	}
	body := `{"ScheduleExpression":"at(2026-12-05T05:30:00)","ScheduleExpressionTimezone":"America/New_York","FlexibleTimeWindow":{"Mode":"OFF"},` +
		`"ActionAfterCompletion":"DELETE","Target":{"Arn":"` + queueARN + `","RoleArn":"` + roleARN + `","Input":"{\"once\":true}"}}`
	h.want(t, 200, "", "POST", "/schedules/once", body)
	t0 := h.clk.Now() // 10:00 UTC is 05:00 in New York
	h.clk.set(t0.Add(29 * time.Minute))
	h.svc.FireDue(t.Context())
	h.svc.FireDue(t.Context())
	h.clk.set(t0.Add(30 * time.Minute))
	h.svc.FireDue(t.Context())
	h.svc.FireDue(t.Context())
	poll.True(t, "the one delivery", func() bool { return len(h.tg.all()) >= 1 })
	poll.True(t, "the schedule deleted after it fired", func() bool {
		st, _, _ := h.call(t, "GET", "/schedules/once", ``)
		return st == 404
	})
	h.clk.set(t0.Add(2 * time.Hour))
	h.svc.FireDue(t.Context())
	if got := h.tg.all(); len(got) != 1 || got[0].arn != queueARN || got[0].body != `{"once":true}` {
		t.Fatalf("deliveries %+v", got)
	}
}

// TestLambdaTargetAsRole: a Lambda target is invoked as the schedule's
// role, whose policy allows it.
func TestLambdaTargetAsRole(t *testing.T) {
	h := newHarness(t)
	body := `{"ScheduleExpression":"cron(0/10 * * * ? *)","FlexibleTimeWindow":{"Mode":"OFF"},` +
		`"Target":{"Arn":"` + fnARN + `","RoleArn":"` + roleARN + `"}}`
	h.want(t, 200, "", "POST", "/schedules/tens", body)
	h.clk.set(h.clk.Now().Add(10 * time.Minute))
	h.svc.FireDue(t.Context())
	poll.True(t, "the invocation", func() bool { return h.run.n() == 1 })
	if p := string(h.run.calls[0].Payload); p != "{}" {
		t.Fatalf("payload %s", p)
	}
	// A role whose policies do not allow it: the event goes to the
	// dead-letter queue, the function is not invoked.
	other := strings.Replace(body, roleARN, "arn:aws:iam::000000000000:role/other", 1)
	other = strings.Replace(other, `"}}`, `","DeadLetterConfig":{"Arn":"arn:aws:sqs:us-east-1:000000000000:dlq"}}}`, 1)
	h.want(t, 200, "", "POST", "/schedules/denied", other)
	h.clk.set(h.clk.Now().Add(10 * time.Minute))
	h.svc.FireDue(t.Context())
	poll.True(t, "the dead-letter event and the allowed schedule's second invocation", func() bool { return len(h.tg.all()) == 1 && h.run.n() == 2 })
	if got := h.tg.all()[0]; got.arn != "arn:aws:sqs:us-east-1:000000000000:dlq" || h.run.n() != 2 {
		t.Fatalf("dead-letter %+v, %d invocations (want the allowed schedule's second)", got, h.run.n())
	}
}
