package events

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/awsproto/arn"
	"github.com/kumo-run/kumo/internal/eventpattern"
	"github.com/kumo-run/kumo/internal/lazyregexp"
	"github.com/kumo-run/kumo/internal/schedule"
	"github.com/kumo-run/kumo/internal/store"
)

// EventBridge's quotas and model constraints.
const (
	maxTargetsPerRule = 5
	maxBuses          = 100
	maxRulesPerBus    = 300
	maxTags           = 50
	pageSize          = 100
)

var (
	ruleNameRE = lazyregexp.New(`^[\.\-_A-Za-z0-9]{1,64}$`)
	busNameRE  = lazyregexp.New(`^[\.\-_A-Za-z0-9]{1,256}$`) // custom buses: no '/'
	targetIDRE = lazyregexp.New(`^[\.\-_A-Za-z0-9]{1,64}$`)
	pathKeyRE  = lazyregexp.New(`^[A-Za-z0-9\_\-]{1,256}$`)
	busRefRE   = lazyregexp.New(`^[/\.\-_A-Za-z0-9]{1,256}$`) // names in requests: partner buses have '/'
)

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
func isConflict(err error) bool {
	return errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists)
}

func concurrent() error {
	return awsproto.Errorf(awsproto.EventsConcurrentModification, "Another request is modifying the resource; retry the request.")
}

// busName resolves a request's EventBusName (a name or a bus ARN of this
// account and region; "" is the default bus).
func (s *Service) busName(nameOrARN string) (string, error) {
	if nameOrARN == "" {
		return DefaultBus, nil
	}
	if strings.HasPrefix(nameOrARN, "arn:") {
		pre := s.arns.EventBus("")
		if !strings.HasPrefix(nameOrARN, pre) || len(nameOrARN) == len(pre) {
			return "", notFound("Event bus %s does not exist.", clip(nameOrARN))
		}
		nameOrARN = nameOrARN[len(pre):]
	}
	if !busRefRE.MatchString(nameOrARN) {
		return "", constraint(nameOrARN, "eventBusName", `Member must satisfy regular expression pattern: [/\.\-_A-Za-z0-9]+`)
	}
	return nameOrARN, nil
}

// existingBus resolves nameOrARN to a bus that exists.
func (s *Service) existingBus(nameOrARN string) (string, error) {
	name, err := s.busName(nameOrARN)
	if err != nil {
		return "", err
	}
	if name == DefaultBus {
		return name, nil
	}
	if _, ok := s.view.bus(name); !ok {
		return "", notFound("Event bus %s does not exist.", name)
	}
	return name, nil
}

func checkRuleName(name, member string) error {
	if !ruleNameRE.MatchString(name) {
		return constraint(name, member, `Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+`)
	}
	return nil
}

// existingRule is the rule busName/name as the view has it.
func (s *Service) existingRule(busName, name string) (*rule, error) {
	if err := checkRuleName(name, "name"); err != nil {
		return nil, err
	}
	r, ok := s.view.rule(busName, name)
	if !ok {
		return nil, notFound("Rule %s does not exist on EventBus %s.", name, busName)
	}
	return r, nil
}

// storedRule reads the rule from the bucket with its revision, for a
// change.
func (s *Service) storedRule(ctx context.Context, busName, name string) (*rule, uint64, error) {
	if err := checkRuleName(name, "name"); err != nil {
		return nil, 0, err
	}
	var r rule
	rev, err := s.load(ctx, ruleKey(busName, name), &r)
	if err != nil {
		return nil, 0, err
	}
	if rev == 0 {
		return nil, 0, notFound("Rule %s does not exist on EventBus %s.", name, busName)
	}
	return &r, rev, nil
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func tagMap(tags []tag, into map[string]string) (map[string]string, error) {
	if into == nil {
		into = map[string]string{}
	}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 || strings.HasPrefix(t.Key, "aws:") {
			return nil, validation("Invalid tag: %s", clip(t.Key))
		}
		into[t.Key] = t.Value
	}
	if len(into) > maxTags {
		return nil, awsproto.Errorf(awsproto.EventsLimitExceeded, "The requested resource exceeds the maximum number allowed.")
	}
	return into, nil
}

func tagList(m map[string]string) []tag {
	out := make([]tag, 0, len(m))
	for k, v := range m {
		out = append(out, tag{k, v})
	}
	slices.SortFunc(out, func(a, b tag) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// --- event buses ---

type busOut struct {
	Name             string `json:"Name"`
	Arn              string `json:"Arn"`
	Description      string `json:"Description,omitempty"`
	CreationTime     *epoch `json:"CreationTime,omitempty"`
	LastModifiedTime *epoch `json:"LastModifiedTime,omitempty"`
}

func (s *Service) busOut(name string) busOut {
	if name == DefaultBus {
		return busOut{Name: DefaultBus, Arn: s.arns.EventBus(DefaultBus)}
	}
	b, _ := s.view.bus(name)
	c, m := epoch(b.Created), epoch(b.Modified)
	return busOut{Name: b.Name, Arn: b.ARN, Description: b.Description, CreationTime: &c, LastModifiedTime: &m}
}

func createEventBus(s *Service, ctx context.Context, body []byte) (any, error) {
	var in struct {
		Name            string `json:"Name"`
		EventSourceName string `json:"EventSourceName"`
		Description     string `json:"Description"`
		Tags            []tag  `json:"Tags"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Name == DefaultBus {
		return nil, awsproto.Errorf(awsproto.EventsResourceAlreadyExists, "Event bus default already exists.")
	}
	if !busNameRE.MatchString(in.Name) {
		return nil, constraint(in.Name, "name", `Member must satisfy regular expression pattern: [/\.\-_A-Za-z0-9]+`)
	}
	if in.EventSourceName != "" {
		return nil, validation("Kumo has no partner event sources.")
	}
	if len(in.Description) > 512 {
		return nil, constraint(in.Description, "description", "Member must have length less than or equal to 512")
	}
	tags, err := tagMap(in.Tags, nil)
	if err != nil {
		return nil, err
	}
	if _, ok := s.view.bus(in.Name); ok {
		return nil, awsproto.Errorf(awsproto.EventsResourceAlreadyExists, "Event bus %s already exists.", in.Name)
	}
	if len(s.view.busList()) >= maxBuses {
		return nil, awsproto.Errorf(awsproto.EventsLimitExceeded, "The requested resource exceeds the maximum number allowed.")
	}
	now := s.now()
	b := &bus{Name: in.Name, ARN: s.arns.EventBus(in.Name), Description: in.Description, Created: now, Modified: now, Tags: tags}
	if err := s.save(ctx, busKey(b.Name), b, 0); err != nil {
		if awsproto.AsError(err).Code == awsproto.EventsConcurrentModification {
			return nil, awsproto.Errorf(awsproto.EventsResourceAlreadyExists, "Event bus %s already exists.", in.Name)
		}
		return nil, err
	}
	return map[string]any{"EventBusArn": b.ARN, "Description": nilIfEmpty(b.Description)}, nil
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func describeEventBus(s *Service, ctx context.Context, body []byte) (any, error) {
	var in struct {
		Name string `json:"Name"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	name, err := s.existingBus(in.Name)
	if err != nil {
		return nil, err
	}
	return s.busOut(name), nil
}

func listEventBuses(s *Service, ctx context.Context, body []byte) (any, error) {
	var in struct {
		NamePrefix string `json:"NamePrefix"`
		NextToken  string `json:"NextToken"`
		Limit      *int   `json:"Limit"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	names := []string{DefaultBus}
	for _, b := range s.view.busList() {
		names = append(names, b.Name)
	}
	var out []busOut
	for _, n := range names {
		if strings.HasPrefix(n, in.NamePrefix) {
			out = append(out, s.busOut(n))
		}
	}
	page, next, err := paginate(len(out), in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	return map[string]any{"EventBuses": nonNil(out[page[0]:page[1]]), "NextToken": nilIfEmpty(next)}, nil
}

// paginate picks the page [from, to) of n items a NextToken and Limit
// ask for, and the token of the next page.
func paginate(n int, token string, limit *int) ([2]int, string, error) {
	size := pageSize
	if limit != nil {
		if *limit < 1 || *limit > 100 {
			return [2]int{}, "", constraint(strconv.Itoa(*limit), "limit", "Member must have value between 1 and 100")
		}
		size = *limit
	}
	from := 0
	if token != "" {
		v, err := strconv.Atoi(token)
		if err != nil || v < 0 || v > n {
			return [2]int{}, "", validation("The NextToken provided is invalid.")
		}
		from = v
	}
	to := min(from+size, n)
	next := ""
	if to < n {
		next = strconv.Itoa(to)
	}
	return [2]int{from, to}, next, nil
}

func deleteEventBus(s *Service, ctx context.Context, body []byte) (any, error) {
	var in struct {
		Name string `json:"Name"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	name, err := s.busName(in.Name)
	if err != nil {
		return nil, err
	}
	if name == DefaultBus {
		return nil, validation("Cannot delete event bus default.")
	}
	var b bus
	rev, err := s.load(ctx, busKey(name), &b)
	if err != nil || rev == 0 {
		return nil, err // deleting a bus that does not exist succeeds
	}
	// Its rules go with it, as EventBridge's do.
	for _, r := range s.view.ruleList(name) {
		if err := s.remove(ctx, ruleKey(name, r.Name), 0); err != nil {
			return nil, err
		}
	}
	return nil, s.remove(ctx, busKey(name), rev)
}

// --- rules ---

func putRule(s *Service, ctx context.Context, body []byte) (any, error) {
	var in struct {
		Name               string  `json:"Name"`
		ScheduleExpression string  `json:"ScheduleExpression"`
		EventPattern       string  `json:"EventPattern"`
		State              string  `json:"State"`
		Description        *string `json:"Description"`
		RoleArn            string  `json:"RoleArn"`
		Tags               []tag   `json:"Tags"`
		EventBusName       string  `json:"EventBusName"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkRuleName(in.Name, "name"); err != nil {
		return nil, err
	}
	busName, err := s.busName(in.EventBusName)
	if err != nil {
		return nil, err
	}
	switch in.State {
	case "", "ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS":
	default:
		return nil, constraint(in.State, "state", "Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]")
	}
	if in.Description != nil && len(*in.Description) > 512 {
		return nil, constraint(*in.Description, "description", "Member must have length less than or equal to 512")
	}
	if in.EventPattern == "" && in.ScheduleExpression == "" {
		return nil, validation("Parameter(s) EventPattern or ScheduleExpression must be specified.")
	}
	if len(in.EventPattern) > 4096 {
		return nil, constraint(in.EventPattern, "eventPattern", "Member must have length less than or equal to 4096")
	}
	if in.EventPattern != "" {
		if _, err := compilePattern(in.EventPattern); err != nil {
			return nil, err
		}
	}
	if in.ScheduleExpression != "" {
		if len(in.ScheduleExpression) > 256 {
			return nil, constraint(in.ScheduleExpression, "scheduleExpression", "Member must have length less than or equal to 256")
		}
		if _, err := schedule.Parse(in.ScheduleExpression); err != nil || strings.HasPrefix(in.ScheduleExpression, "at(") {
			return nil, validation("Parameter ScheduleExpression is not valid.") // at() is the Scheduler's only
		}
		if busName != DefaultBus {
			return nil, validation("ScheduleExpression is supported only on the default event bus.")
		}
	}
	if _, err := s.existingBus(busName); err != nil {
		return nil, err
	}
	var r rule
	rev, err := s.load(ctx, ruleKey(busName, in.Name), &r)
	if err != nil {
		return nil, err
	}
	if rev == 0 {
		if len(s.view.ruleList(busName)) >= maxRulesPerBus {
			return nil, awsproto.Errorf(awsproto.EventsLimitExceeded, "The requested resource exceeds the maximum number allowed.")
		}
		r = rule{Name: in.Name, Bus: busName, ARN: s.arns.Rule(busName, in.Name), Created: s.now(), State: "ENABLED"}
	}
	tags, err := tagMap(in.Tags, r.Tags)
	if err != nil {
		return nil, err
	}
	r.Tags = tags
	if len(r.Tags) == 0 {
		r.Tags = nil
	}
	if in.State != "" {
		r.enable(in.State, s.now())
	}
	if in.ScheduleExpression != r.ScheduleExpression {
		r.Created = s.now() // a new schedule starts counting now
	}
	r.EventPattern, r.ScheduleExpression, r.RoleARN = in.EventPattern, in.ScheduleExpression, in.RoleArn
	if in.Description != nil {
		r.Description = *in.Description
	}
	if err := s.save(ctx, ruleKey(busName, r.Name), &r, rev); err != nil {
		return nil, err
	}
	return map[string]any{"RuleArn": r.ARN}, nil
}

// compilePattern compiles an EventPattern as EventBridge validates it.
func compilePattern(p string) (*eventpattern.Pattern, error) {
	pat, err := eventpattern.Compile([]byte(p), eventpattern.Options{Scope: eventpattern.Body})
	if err != nil {
		var pe *eventpattern.Error
		reason := err.Error()
		if errors.As(err, &pe) {
			reason = pe.Reason
		}
		return nil, awsproto.Errorf(awsproto.EventsInvalidEventPattern, "Event pattern is not valid. Reason: %s", reason)
	}
	return pat, nil
}

type ruleOut struct {
	Name               string `json:"Name"`
	Arn                string `json:"Arn"`
	EventPattern       string `json:"EventPattern,omitempty"`
	ScheduleExpression string `json:"ScheduleExpression,omitempty"`
	State              string `json:"State"`
	Description        string `json:"Description,omitempty"`
	RoleArn            string `json:"RoleArn,omitempty"`
	EventBusName       string `json:"EventBusName"`
	CreatedBy          string `json:"CreatedBy,omitempty"`
}

func (s *Service) ruleOut(r *rule) ruleOut {
	return ruleOut{Name: r.Name, Arn: r.ARN, EventPattern: r.EventPattern, ScheduleExpression: r.ScheduleExpression,
		State: r.State, Description: r.Description, RoleArn: r.RoleARN, EventBusName: r.Bus}
}

type ruleRef struct {
	Name         string `json:"Name"`
	EventBusName string `json:"EventBusName"`
}

func describeRule(s *Service, ctx context.Context, body []byte) (any, error) {
	var in ruleRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	busName, err := s.busName(in.EventBusName)
	if err != nil {
		return nil, err
	}
	r, err := s.existingRule(busName, in.Name)
	if err != nil {
		return nil, err
	}
	out := s.ruleOut(r)
	out.CreatedBy = s.cfg.Account
	return out, nil
}

func listRules(s *Service, ctx context.Context, body []byte) (any, error) {
	var in struct {
		NamePrefix   string `json:"NamePrefix"`
		EventBusName string `json:"EventBusName"`
		NextToken    string `json:"NextToken"`
		Limit        *int   `json:"Limit"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	busName, err := s.existingBus(in.EventBusName)
	if err != nil {
		return nil, err
	}
	var out []ruleOut
	for _, r := range s.view.ruleList(busName) {
		if strings.HasPrefix(r.Name, in.NamePrefix) {
			out = append(out, s.ruleOut(r))
		}
	}
	page, next, err := paginate(len(out), in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Rules": nonNil(out[page[0]:page[1]]), "NextToken": nilIfEmpty(next)}, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func deleteRule(s *Service, ctx context.Context, body []byte) (any, error) {
	var in struct {
		ruleRef
		Force bool `json:"Force"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	busName, err := s.busName(in.EventBusName)
	if err != nil {
		return nil, err
	}
	if err := checkRuleName(in.Name, "name"); err != nil {
		return nil, err
	}
	var r rule
	rev, err := s.load(ctx, ruleKey(busName, in.Name), &r)
	if err != nil || rev == 0 {
		return nil, err // deleting a rule that does not exist succeeds
	}
	if len(r.Targets) > 0 {
		return nil, validation("Rule can't be deleted since it has targets.")
	}
	if err := s.remove(ctx, ruleKey(busName, in.Name), rev); err != nil {
		return nil, err
	}
	if r.ScheduleExpression != "" {
		_ = s.kv.Delete(ctx, fireKey(r.ARN), 0) // a later rule of that name starts afresh
	}
	return nil, nil
}

// enable sets the rule's state, noting when a disabled rule is enabled.
func (r *rule) enable(state string, now time.Time) {
	if r.State == "DISABLED" && state != "DISABLED" {
		r.Enabled = now
	}
	r.State = state
}

func setState(state string) op {
	return func(s *Service, ctx context.Context, body []byte) (any, error) {
		var in ruleRef
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		busName, err := s.busName(in.EventBusName)
		if err != nil {
			return nil, err
		}
		r, rev, err := s.storedRule(ctx, busName, in.Name)
		if err != nil {
			return nil, err
		}
		r.enable(state, s.now())
		return nil, s.save(ctx, ruleKey(busName, r.Name), r, rev)
	}
}

// --- targets ---

type failedEntry struct {
	TargetID     string `json:"TargetId"`
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

func putTargets(s *Service, ctx context.Context, body []byte) (any, error) {
	var in struct {
		Rule         string   `json:"Rule"`
		EventBusName string   `json:"EventBusName"`
		Targets      []Target `json:"Targets"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Targets) == 0 || len(in.Targets) > 100 {
		return nil, constraint("[...]", "targets", "Member must have length between 1 and 100")
	}
	busName, err := s.busName(in.EventBusName)
	if err != nil {
		return nil, err
	}
	for i := range in.Targets {
		if err := s.checkTarget(&in.Targets[i], i+1); err != nil {
			return nil, err
		}
	}
	r, rev, err := s.storedRule(ctx, busName, in.Rule)
	if err != nil {
		return nil, err
	}
	failed := []failedEntry{}
	for _, t := range in.Targets {
		if msg := s.unsupported(t.ARN); msg != "" {
			failed = append(failed, failedEntry{t.ID, "ValidationException", msg})
			continue
		}
		if old, ok := r.target(t.ID); ok {
			*old = t
			continue
		}
		if len(r.Targets) >= maxTargetsPerRule {
			return nil, awsproto.Errorf(awsproto.EventsLimitExceeded, "The requested resource exceeds the maximum number allowed.")
		}
		r.Targets = append(r.Targets, t)
	}
	if err := s.save(ctx, ruleKey(busName, r.Name), r, rev); err != nil {
		return nil, err
	}
	return map[string]any{"FailedEntryCount": len(failed), "FailedEntries": failed}, nil
}

// unsupported says why Kumo cannot deliver to arn, "" when it can.
func (s *Service) unsupported(target string) string {
	a, err := arn.Parse(target)
	if err != nil {
		return "Parameter(s) Arn is not valid."
	}
	switch a.Service {
	case "lambda", "sqs", "sns":
		return ""
	}
	return "Kumo does not deliver to " + a.Service + " targets."
}

// checkTarget validates one target of PutTargets (i is its position, as
// the model's messages count them).
func (s *Service) checkTarget(t *Target, i int) error {
	member := "targets." + strconv.Itoa(i) + ".member."
	if !targetIDRE.MatchString(t.ID) {
		return constraint(t.ID, member+"id", `Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+`)
	}
	if t.ARN == "" || len(t.ARN) > 1600 {
		return constraint(t.ARN, member+"arn", "Member must have length between 1 and 1600")
	}
	set := 0
	if t.Input != nil {
		set++
		if len(*t.Input) > 8192 {
			return constraint(*t.Input, member+"input", "Member must have length less than or equal to 8192")
		}
		if !json.Valid([]byte(*t.Input)) {
			return validation("Target %s has invalid Input: not valid JSON.", t.ID)
		}
	}
	if t.InputPath != nil {
		set++
		if len(*t.InputPath) > 256 {
			return constraint(*t.InputPath, member+"inputPath", "Member must have length less than or equal to 256")
		}
		if _, err := parsePath(*t.InputPath); err != nil {
			return validation("Target %s has an invalid InputPath: %s", t.ID, clip(*t.InputPath))
		}
	}
	if it := t.InputTransformer; it != nil {
		set++
		if it.InputTemplate == "" || len(it.InputTemplate) > 8192 {
			return constraint(it.InputTemplate, member+"inputTransformer.inputTemplate", "Member must have length between 1 and 8192")
		}
		if len(it.InputPathsMap) > 100 {
			return validation("InputPathsMap has more than 100 entries.")
		}
		for k, p := range it.InputPathsMap {
			if !pathKeyRE.MatchString(k) || strings.HasPrefix(k, "aws.") {
				return validation("InputTransformer key %s is not valid.", clip(k))
			}
			if _, err := parsePath(p); err != nil {
				return validation("Target %s has an invalid InputPathsMap value: %s", t.ID, clip(p))
			}
		}
	}
	if set > 1 {
		return validation("Only one of Input, InputPath, or InputTransformer must be provided.")
	}
	if rp := t.RetryPolicy; rp != nil {
		if n := rp.MaximumRetryAttempts; n != nil && (*n < 0 || *n > 185) {
			return constraint(strconv.Itoa(*n), member+"retryPolicy.maximumRetryAttempts", "Member must have value between 0 and 185")
		}
		if n := rp.MaximumEventAgeInSeconds; n != nil && (*n < 60 || *n > 86400) {
			return constraint(strconv.Itoa(*n), member+"retryPolicy.maximumEventAgeInSeconds", "Member must have value between 60 and 86400")
		}
	}
	if dl := t.DeadLetterConfig; dl != nil && dl.ARN != "" {
		if a, err := arn.Parse(dl.ARN); err != nil || a.Service != "sqs" {
			return validation("The dead-letter config ARN %s is not an SQS queue ARN.", clip(dl.ARN))
		}
	}
	return nil
}

func removeTargets(s *Service, ctx context.Context, body []byte) (any, error) {
	var in struct {
		Rule         string   `json:"Rule"`
		EventBusName string   `json:"EventBusName"`
		IDs          []string `json:"Ids"`
		Force        bool     `json:"Force"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.IDs) == 0 || len(in.IDs) > 100 {
		return nil, constraint("[...]", "ids", "Member must have length between 1 and 100")
	}
	busName, err := s.busName(in.EventBusName)
	if err != nil {
		return nil, err
	}
	r, rev, err := s.storedRule(ctx, busName, in.Rule)
	if err != nil {
		return nil, err
	}
	failed := []failedEntry{}
	for _, id := range in.IDs {
		i := -1
		for j := range r.Targets {
			if r.Targets[j].ID == id {
				i = j
			}
		}
		if i < 0 {
			failed = append(failed, failedEntry{id, "ResourceNotFoundException", "Target " + id + " does not exist on rule " + r.Name + "."})
			continue
		}
		r.Targets = append(r.Targets[:i], r.Targets[i+1:]...)
	}
	if err := s.save(ctx, ruleKey(busName, r.Name), r, rev); err != nil {
		return nil, err
	}
	return map[string]any{"FailedEntryCount": len(failed), "FailedEntries": failed}, nil
}

func listTargetsByRule(s *Service, ctx context.Context, body []byte) (any, error) {
	var in struct {
		Rule         string `json:"Rule"`
		EventBusName string `json:"EventBusName"`
		NextToken    string `json:"NextToken"`
		Limit        *int   `json:"Limit"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	busName, err := s.busName(in.EventBusName)
	if err != nil {
		return nil, err
	}
	r, err := s.existingRule(busName, in.Rule)
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(len(r.Targets), in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Targets": nonNil(r.Targets[page[0]:page[1]]), "NextToken": nilIfEmpty(next)}, nil
}

func listRuleNamesByTarget(s *Service, ctx context.Context, body []byte) (any, error) {
	var in struct {
		TargetArn    string `json:"TargetArn"`
		EventBusName string `json:"EventBusName"`
		NextToken    string `json:"NextToken"`
		Limit        *int   `json:"Limit"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	busName, err := s.existingBus(in.EventBusName)
	if err != nil {
		return nil, err
	}
	names := []string{}
	for _, r := range s.view.ruleList(busName) {
		for _, t := range r.Targets {
			if t.ARN == in.TargetArn {
				names = append(names, r.Name)
				break
			}
		}
	}
	page, next, err := paginate(len(names), in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	return map[string]any{"RuleNames": names[page[0]:page[1]], "NextToken": nilIfEmpty(next)}, nil
}

// --- patterns and tags ---

func testEventPattern(s *Service, ctx context.Context, body []byte) (any, error) {
	var in struct {
		EventPattern string `json:"EventPattern"`
		Event        string `json:"Event"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	pat, err := compilePattern(in.EventPattern)
	if err != nil {
		return nil, err
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(in.Event), &ev); err != nil {
		return nil, validation("Parameter Event is not valid.")
	}
	for _, f := range []string{"id", "account", "source", "time", "region", "detail-type"} {
		if _, ok := ev[f].(string); !ok {
			return nil, validation("Parameter Event is not valid. Reason: Provided Event is missing required field %s.", f)
		}
	}
	return map[string]any{"Result": pat.MatchJSON([]byte(in.Event))}, nil
}

// tagged finds the bus or rule an ARN names, with the key it is stored
// under.
func (s *Service) tagged(ctx context.Context, resource string) (key string, v any, tags *map[string]string, rev uint64, err error) {
	pre := s.arns.EventBus("")
	switch {
	case strings.HasPrefix(resource, pre) && resource != s.arns.EventBus(DefaultBus):
		b := &bus{}
		key = busKey(resource[len(pre):])
		rev, err = s.load(ctx, key, b)
		v, tags = b, &b.Tags
	case strings.HasPrefix(resource, s.arns.Rule("", "")):
		rest := strings.TrimPrefix(resource, s.arns.Rule("", ""))
		busName, name := DefaultBus, rest
		if i := strings.LastIndexByte(rest, '/'); i >= 0 {
			busName, name = rest[:i], rest[i+1:]
		}
		r := &rule{}
		key = ruleKey(busName, name)
		rev, err = s.load(ctx, key, r)
		v, tags = r, &r.Tags
	}
	if err == nil && rev == 0 {
		err = notFound("Resource %s does not exist.", clip(resource))
	}
	return
}

func tagResource(s *Service, ctx context.Context, body []byte) (any, error) {
	var in struct {
		ResourceARN string `json:"ResourceARN"`
		Tags        []tag  `json:"Tags"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	key, v, tags, rev, err := s.tagged(ctx, in.ResourceARN)
	if err != nil {
		return nil, err
	}
	if *tags, err = tagMap(in.Tags, *tags); err != nil {
		return nil, err
	}
	return nil, s.save(ctx, key, v, rev)
}

func untagResource(s *Service, ctx context.Context, body []byte) (any, error) {
	var in struct {
		ResourceARN string   `json:"ResourceARN"`
		TagKeys     []string `json:"TagKeys"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	key, v, tags, rev, err := s.tagged(ctx, in.ResourceARN)
	if err != nil {
		return nil, err
	}
	for _, k := range in.TagKeys {
		delete(*tags, k)
	}
	return nil, s.save(ctx, key, v, rev)
}

func listTagsForResource(s *Service, ctx context.Context, body []byte) (any, error) {
	var in struct {
		ResourceARN string `json:"ResourceARN"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.ResourceARN == s.arns.EventBus(DefaultBus) {
		return map[string]any{"Tags": []tag{}}, nil
	}
	_, _, tags, _, err := s.tagged(ctx, in.ResourceARN)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Tags": tagList(*tags)}, nil
}
