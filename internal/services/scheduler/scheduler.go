package scheduler

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/awsproto/arn"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/lazyregexp"
	"github.com/kumo-run/kumo/internal/schedule"
	"github.com/kumo-run/kumo/internal/services/events"
	"github.com/kumo-run/kumo/internal/store"
)

// Wire constants of EventBridge Scheduler.
const (
	// SigningName is the SigV4 service name.
	SigningName = "scheduler"
	// DefaultGroup is the schedule group that always exists.
	DefaultGroup = "default"
)

// Errors renders Scheduler's errors: rest-json, the code in
// x-amzn-ErrorType and the message in "Message".
var Errors = awsproto.RESTJSON{Internal: awsproto.InternalSpec{Code: awsproto.SchedulerInternalServer}}

// Deliverer is what Scheduler needs of EventBridge: its durable delivery
// path (events.Service).
type Deliverer interface {
	DeliverDirect(ctx context.Context, msgID string, d events.Direct, body []byte) error
}

// Config configures the service.
type Config struct {
	// KV is the natsd.SchedulerBucket bucket.
	KV store.KV
	// Region and Account are this server's.
	Region, Account string
	// Events delivers what schedules fire.
	Events Deliverer
	// Authorizer checks every operation; nil allows everything.
	Authorizer *authz.Authorizer
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Tick is how often schedules are checked; a second when zero.
	Tick time.Duration
	// ScheduleMinute is how long a minute of a rate() lasts; a minute
	// when zero (config's test-only KUMO_SCHEDULE_MINUTE).
	ScheduleMinute time.Duration
}

// Service is the Scheduler API and the engine firing its schedules. It is
// safe for concurrent use.
type Service struct {
	cfg  Config
	arns arn.Scope
	log  *slog.Logger
	mux  *http.ServeMux
	stop context.CancelFunc
	done sync.WaitGroup
}

// group is a schedule group, stored under "group.<name>".
type group struct {
	Name     string            `json:"name"`
	ARN      string            `json:"arn"`
	Created  time.Time         `json:"created"`
	Modified time.Time         `json:"modified"`
	Tags     map[string]string `json:"tags,omitempty"`
}

// Schedule is a schedule as the API and the bucket ("sched.<group>.<name>")
// spell it.
type Schedule struct {
	Name                       string              `json:"Name"`
	GroupName                  string              `json:"GroupName"`
	Arn                        string              `json:"Arn"`
	Description                string              `json:"Description,omitempty"`
	ScheduleExpression         string              `json:"ScheduleExpression"`
	ScheduleExpressionTimezone string              `json:"ScheduleExpressionTimezone,omitempty"`
	StartDate                  *epoch              `json:"StartDate,omitempty"`
	EndDate                    *epoch              `json:"EndDate,omitempty"`
	FlexibleTimeWindow         *FlexibleTimeWindow `json:"FlexibleTimeWindow"`
	Target                     *Target             `json:"Target"`
	State                      string              `json:"State"`
	ActionAfterCompletion      string              `json:"ActionAfterCompletion"`
	KmsKeyArn                  string              `json:"KmsKeyArn,omitempty"`
	CreationDate               epoch               `json:"CreationDate"`
	LastModificationDate       epoch               `json:"LastModificationDate"`
}

// FlexibleTimeWindow is accepted as Scheduler takes it; Kumo fires at the
// start of a FLEXIBLE window.
type FlexibleTimeWindow struct {
	Mode                   string `json:"Mode"`
	MaximumWindowInMinutes *int   `json:"MaximumWindowInMinutes,omitempty"`
}

// Target is a schedule's target.
type Target struct {
	Arn              string                   `json:"Arn"`
	RoleArn          string                   `json:"RoleArn"`
	Input            *string                  `json:"Input,omitempty"`
	RetryPolicy      *events.RetryPolicy      `json:"RetryPolicy,omitempty"`
	DeadLetterConfig *events.DeadLetterConfig `json:"DeadLetterConfig,omitempty"`
}

// epoch is a rest-json timestamp: seconds since the epoch.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(time.Time(e).UnixMilli())/1000, 'f', -1, 64)), nil
}

func (e *epoch) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("timestamp %s: %w", b, err)
	}
	*e = epoch(time.UnixMilli(int64(f * 1000)).UTC())
	return nil
}

var nameRE = lazyregexp.New(`^[0-9a-zA-Z\-_.]{1,64}$`)

func tok(s string) string            { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
func groupKey(name string) string    { return "group." + tok(name) }
func schedKey(g, name string) string { return "sched." + tok(g) + "." + tok(name) }
func fireKey(schedARN string) string { return "fire." + tok(schedARN) }

// Open starts the service and its scheduler; Close stops them.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	s := &Service{cfg: cfg, log: cfg.Logger, arns: arn.Scope{Partition: "aws", Region: cfg.Region, Account: cfg.Account}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	if s.cfg.Tick <= 0 {
		s.cfg.Tick = time.Second
	}
	if s.cfg.ScheduleMinute <= 0 {
		s.cfg.ScheduleMinute = time.Minute
	}
	s.mux = http.NewServeMux()
	for name, o := range operations {
		s.mux.HandleFunc(o.pattern, func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, name, o) })
	}
	wctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(s.cfg.Tick)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
				s.FireDue(wctx)
			}
		}
	}()
	return s, nil
}

// Close stops the scheduler.
func (s *Service) Close() {
	s.stop()
	s.done.Wait()
}

// ServeHTTP serves one Scheduler request; the edge has authenticated it.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern == "" {
		Errors.WriteError(w, r, awsproto.Errorf(awsproto.SchedulerUnknownOperation, "No operation at %s %s", r.Method, clip(r.URL.Path)))
		return
	}
	s.mux.ServeHTTP(w, r)
}

type request struct {
	r    *http.Request
	body []byte
}

func (q request) name() string          { return q.r.PathValue("Name") }
func (q request) query(k string) string { return q.r.URL.Query().Get(k) }

type operation struct {
	pattern string
	run     func(s *Service, ctx context.Context, q request) (any, error)
	// resource is the ARN the operation's IAM action is checked on.
	resource func(s *Service, q request) string
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request, name string, o operation) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		Errors.WriteError(w, r, awsproto.Errorf(awsproto.SchedulerValidation, "Could not read the request body."))
		return
	}
	q := request{r: r, body: body}
	if s.cfg.Authorizer != nil {
		res := "*"
		if o.resource != nil {
			res = o.resource(s, q)
		}
		if err := s.cfg.Authorizer.Authorize(r.Context(), authz.Check{Action: "scheduler:" + name, Resource: res,
			SourceIP: authz.SourceIP(r), Denied: awsproto.SchedulerAccessDenied}); err != nil {
			Errors.WriteError(w, r, err)
			return
		}
	}
	out, err := o.run(s, r.Context(), q)
	if err != nil {
		if ae := awsproto.AsError(err); ae.Unwrap() != nil {
			s.log.ErrorContext(r.Context(), "scheduler request failed", "requestId", awsproto.RequestID(r.Context()), "operation", name, "error", err)
		}
		Errors.WriteError(w, r, err)
		return
	}
	if out == nil {
		out = struct{}{}
	}
	awsproto.WriteJSON(w, http.StatusOK, out)
}

func validation(format string, args ...any) error {
	return awsproto.Errorf(awsproto.SchedulerValidation, format, args...)
}

func clip(s string) string {
	if len(s) > 256 {
		return s[:256] + "..."
	}
	return s
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

func (s *Service) scheduleARN(g, name string) string {
	return "arn:" + s.arns.Partition + ":scheduler:" + s.arns.Region + ":" + s.arns.Account + ":schedule/" + g + "/" + name
}

func (s *Service) groupARN(name string) string {
	return "arn:" + s.arns.Partition + ":scheduler:" + s.arns.Region + ":" + s.arns.Account + ":schedule-group/" + name
}

func groupOf(name string) string {
	if name == "" {
		return DefaultGroup
	}
	return name
}

var operations = map[string]operation{
	"CreateSchedule": {"POST /schedules/{Name}", createSchedule, schedRes("")},
	"UpdateSchedule": {"PUT /schedules/{Name}", updateSchedule, schedRes("")},
	"GetSchedule":    {"GET /schedules/{Name}", getSchedule, schedRes("groupName")},
	"DeleteSchedule": {"DELETE /schedules/{Name}", deleteSchedule, schedRes("groupName")},
	"ListSchedules":  {"GET /schedules", listSchedules, nil},
	"CreateScheduleGroup": {"POST /schedule-groups/{Name}", createGroup, func(s *Service, q request) string {
		return s.groupARN(q.name())
	}},
	"GetScheduleGroup": {"GET /schedule-groups/{Name}", getGroup, func(s *Service, q request) string {
		return s.groupARN(q.name())
	}},
	"DeleteScheduleGroup": {"DELETE /schedule-groups/{Name}", deleteGroup, func(s *Service, q request) string {
		return s.groupARN(q.name())
	}},
	"ListScheduleGroups": {"GET /schedule-groups", listGroups, nil},
}

// Operations lists the operations the service serves, sorted.
func Operations() []string {
	out := make([]string, 0, len(operations))
	for k := range operations {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// schedRes is the schedule ARN a request names, its group in the body's
// GroupName or in the query parameter param.
func schedRes(param string) func(s *Service, q request) string {
	return func(s *Service, q request) string {
		g := ""
		if param != "" {
			g = q.query(param)
		} else {
			var in struct{ GroupName string }
			_ = json.Unmarshal(q.body, &in)
			g = in.GroupName
		}
		return s.scheduleARN(groupOf(g), q.name())
	}
}

// --- groups ---

func (s *Service) groupExists(ctx context.Context, name string) (bool, error) {
	if name == DefaultGroup {
		return true, nil
	}
	_, err := s.cfg.KV.Get(ctx, groupKey(name))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func groupOut(g *group) map[string]any {
	return map[string]any{"Name": g.Name, "Arn": g.ARN, "State": "ACTIVE", "CreationDate": epoch(g.Created), "LastModificationDate": epoch(g.Modified)}
}

func createGroup(s *Service, ctx context.Context, q request) (any, error) {
	name := q.name()
	if !nameRE.MatchString(name) {
		return nil, validation("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[0-9a-zA-Z-_.]+$", clip(name))
	}
	if name == DefaultGroup {
		return nil, awsproto.Errorf(awsproto.SchedulerConflict, "Schedule group %s already exists.", name)
	}
	now := s.now()
	g := group{Name: name, ARN: s.groupARN(name), Created: now, Modified: now}
	b, _ := json.Marshal(g)
	if _, err := s.cfg.KV.Create(ctx, groupKey(name), b); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, awsproto.Errorf(awsproto.SchedulerConflict, "Schedule group %s already exists.", name)
		}
		return nil, err
	}
	return map[string]any{"ScheduleGroupArn": g.ARN}, nil
}

func (s *Service) loadGroup(ctx context.Context, name string) (*group, error) {
	if name == DefaultGroup {
		return &group{Name: DefaultGroup, ARN: s.groupARN(DefaultGroup)}, nil
	}
	e, err := s.cfg.KV.Get(ctx, groupKey(name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, awsproto.Errorf(awsproto.SchedulerResourceNotFound, "Schedule group %s does not exist.", name)
	}
	if err != nil {
		return nil, err
	}
	var g group
	return &g, json.Unmarshal(e.Value, &g)
}

func getGroup(s *Service, ctx context.Context, q request) (any, error) {
	g, err := s.loadGroup(ctx, q.name())
	if err != nil {
		return nil, err
	}
	return groupOut(g), nil
}

func deleteGroup(s *Service, ctx context.Context, q request) (any, error) {
	name := q.name()
	if name == DefaultGroup {
		return nil, validation("The default schedule group cannot be deleted.")
	}
	if _, err := s.loadGroup(ctx, name); err != nil {
		return nil, err
	}
	// Its schedules go with it, as Scheduler's do.
	entries, err := s.cfg.KV.List(ctx, "sched."+tok(name)+".")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := s.cfg.KV.Delete(ctx, e.Key, 0); err != nil {
			return nil, err
		}
	}
	return nil, s.cfg.KV.Delete(ctx, groupKey(name), 0)
}

func listGroups(s *Service, ctx context.Context, q request) (any, error) {
	entries, err := s.cfg.KV.List(ctx, "group.")
	if err != nil {
		return nil, err
	}
	out := []map[string]any{groupOut(&group{Name: DefaultGroup, ARN: s.groupARN(DefaultGroup)})}
	for _, e := range entries {
		var g group
		if json.Unmarshal(e.Value, &g) == nil && strings.HasPrefix(g.Name, q.query("NamePrefix")) {
			out = append(out, groupOut(&g))
		}
	}
	if !strings.HasPrefix(DefaultGroup, q.query("NamePrefix")) {
		out = out[1:]
	}
	return map[string]any{"ScheduleGroups": out}, nil
}

// --- schedules ---

// check validates a schedule's settable members.
func (s *Service) check(sc *Schedule) error {
	if !nameRE.MatchString(sc.Name) {
		return validation("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[0-9a-zA-Z-_.]+$", clip(sc.Name))
	}
	if sc.ScheduleExpression == "" || sc.FlexibleTimeWindow == nil || sc.Target == nil {
		return validation("ScheduleExpression, FlexibleTimeWindow and Target are required.")
	}
	if _, err := s.parse(sc); err != nil {
		return err
	}
	switch sc.FlexibleTimeWindow.Mode {
	case "OFF":
	case "FLEXIBLE":
		if m := sc.FlexibleTimeWindow.MaximumWindowInMinutes; m == nil || *m < 1 || *m > 1440 {
			return validation("MaximumWindowInMinutes must be between 1 and 1440 when Mode is FLEXIBLE.")
		}
	default:
		return validation("FlexibleTimeWindow Mode must be OFF or FLEXIBLE.")
	}
	switch sc.State {
	case "":
		sc.State = "ENABLED"
	case "ENABLED", "DISABLED":
	default:
		return validation("State must be ENABLED or DISABLED.")
	}
	switch sc.ActionAfterCompletion {
	case "":
		sc.ActionAfterCompletion = "NONE"
	case "NONE", "DELETE":
	default:
		return validation("ActionAfterCompletion must be NONE or DELETE.")
	}
	t := sc.Target
	if t.Arn == "" || t.RoleArn == "" {
		return validation("Target Arn and RoleArn are required.")
	}
	a, err := arn.Parse(t.Arn)
	if err != nil {
		return validation("Invalid target ARN %s.", clip(t.Arn))
	}
	switch a.Service {
	case "lambda", "sqs", "sns":
	default:
		return validation("Kumo does not deliver to %s targets.", a.Service)
	}
	if _, err := arn.Parse(t.RoleArn); err != nil {
		return validation("Invalid RoleArn %s.", clip(t.RoleArn))
	}
	if rp := t.RetryPolicy; rp != nil {
		if n := rp.MaximumRetryAttempts; n != nil && (*n < 0 || *n > 185) {
			return validation("MaximumRetryAttempts must be between 0 and 185.")
		}
		if n := rp.MaximumEventAgeInSeconds; n != nil && (*n < 60 || *n > 86400) {
			return validation("MaximumEventAgeInSeconds must be between 60 and 86400.")
		}
	}
	if dl := t.DeadLetterConfig; dl != nil && dl.ARN != "" {
		if a, err := arn.Parse(dl.ARN); err != nil || a.Service != "sqs" {
			return validation("The dead-letter queue must be an SQS queue ARN.")
		}
	}
	if sc.StartDate != nil && sc.EndDate != nil && !time.Time(*sc.EndDate).After(time.Time(*sc.StartDate)) {
		return validation("The EndDate must be after the StartDate.")
	}
	return nil
}

// parse is a schedule's expression in its time zone.
func (s *Service) parse(sc *Schedule) (schedule.Schedule, error) {
	p, err := schedule.Parse(sc.ScheduleExpression)
	if err != nil {
		return nil, validation("Invalid Schedule Expression %s.", clip(sc.ScheduleExpression))
	}
	if tz := sc.ScheduleExpressionTimezone; tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			return nil, validation("Invalid ScheduleExpressionTimezone %s.", clip(tz))
		}
		p = schedule.In(p, loc)
	}
	return p, nil
}

func (s *Service) decode(q request) (*Schedule, error) {
	var sc Schedule
	if err := json.Unmarshal(q.body, &sc); err != nil {
		return nil, validation("Could not parse the request body.")
	}
	sc.Name = q.name()
	sc.GroupName = groupOf(sc.GroupName)
	return &sc, nil
}

func createSchedule(s *Service, ctx context.Context, q request) (any, error) {
	sc, err := s.decode(q)
	if err != nil {
		return nil, err
	}
	if err := s.check(sc); err != nil {
		return nil, err
	}
	if ok, err := s.groupExists(ctx, sc.GroupName); err != nil || !ok {
		if err != nil {
			return nil, err
		}
		return nil, awsproto.Errorf(awsproto.SchedulerResourceNotFound, "Schedule group %s does not exist.", sc.GroupName)
	}
	now := s.now()
	sc.Arn, sc.CreationDate, sc.LastModificationDate = s.scheduleARN(sc.GroupName, sc.Name), epoch(now), epoch(now)
	b, _ := json.Marshal(sc)
	if _, err := s.cfg.KV.Create(ctx, schedKey(sc.GroupName, sc.Name), b); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, awsproto.Errorf(awsproto.SchedulerConflict, "Schedule %s already exists.", sc.Name)
		}
		return nil, err
	}
	return map[string]any{"ScheduleArn": sc.Arn}, nil
}

func (s *Service) load(ctx context.Context, g, name string) (*Schedule, uint64, error) {
	e, err := s.cfg.KV.Get(ctx, schedKey(g, name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, awsproto.Errorf(awsproto.SchedulerResourceNotFound, "Schedule %s does not exist.", name)
	}
	if err != nil {
		return nil, 0, err
	}
	var sc Schedule
	if err := json.Unmarshal(e.Value, &sc); err != nil {
		return nil, 0, err
	}
	return &sc, e.Revision, nil
}

func updateSchedule(s *Service, ctx context.Context, q request) (any, error) {
	sc, err := s.decode(q)
	if err != nil {
		return nil, err
	}
	if err := s.check(sc); err != nil {
		return nil, err
	}
	old, rev, err := s.load(ctx, sc.GroupName, sc.Name)
	if err != nil {
		return nil, err
	}
	sc.Arn, sc.CreationDate, sc.LastModificationDate = old.Arn, old.CreationDate, epoch(s.now())
	b, _ := json.Marshal(sc)
	if _, err := s.cfg.KV.Update(ctx, schedKey(sc.GroupName, sc.Name), b, rev); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, awsproto.Errorf(awsproto.SchedulerConflict, "Schedule %s was changed by another request; retry.", sc.Name)
		}
		return nil, err
	}
	return map[string]any{"ScheduleArn": sc.Arn}, nil
}

func getSchedule(s *Service, ctx context.Context, q request) (any, error) {
	sc, _, err := s.load(ctx, groupOf(q.query("groupName")), q.name())
	return sc, err
}

func deleteSchedule(s *Service, ctx context.Context, q request) (any, error) {
	g := groupOf(q.query("groupName"))
	sc, _, err := s.load(ctx, g, q.name())
	if err != nil {
		return nil, err
	}
	if err := s.cfg.KV.Delete(ctx, schedKey(g, q.name()), 0); err != nil {
		return nil, err
	}
	_ = s.cfg.KV.Delete(ctx, fireKey(sc.Arn), 0) // a later schedule of that name starts afresh
	return nil, nil
}

func listSchedules(s *Service, ctx context.Context, q request) (any, error) {
	prefix := "sched."
	if g := q.query("ScheduleGroup"); g != "" {
		prefix += tok(g) + "."
	}
	entries, err := s.cfg.KV.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, e := range entries {
		var sc Schedule
		if json.Unmarshal(e.Value, &sc) != nil || !strings.HasPrefix(sc.Name, q.query("NamePrefix")) ||
			(q.query("State") != "" && q.query("State") != sc.State) {
			continue
		}
		out = append(out, map[string]any{"Name": sc.Name, "GroupName": sc.GroupName, "Arn": sc.Arn, "State": sc.State,
			"CreationDate": sc.CreationDate, "LastModificationDate": sc.LastModificationDate, "Target": map[string]string{"Arn": sc.Target.Arn}})
	}
	return map[string]any{"Schedules": out}, nil
}
