package events

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/eventpattern"
	"github.com/kumo-run/kumo/internal/schedule"
	"github.com/kumo-run/kumo/internal/store"
)

// bus is one custom event bus, stored under "bus.<name>" (names encoded,
// see token). The default bus is not stored: it always exists.
type bus struct {
	Name        string            `json:"name"`
	ARN         string            `json:"arn"`
	Description string            `json:"description,omitempty"`
	Created     time.Time         `json:"created"`
	Modified    time.Time         `json:"modified"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// rule is one rule with its targets, stored under "rule.<bus>.<name>".
type rule struct {
	Name               string            `json:"name"`
	Bus                string            `json:"bus"`
	ARN                string            `json:"arn"`
	EventPattern       string            `json:"eventPattern,omitempty"`
	ScheduleExpression string            `json:"scheduleExpression,omitempty"`
	State              string            `json:"state"`
	Description        string            `json:"description,omitempty"`
	RoleARN            string            `json:"roleArn,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
	Targets            []Target          `json:"targets,omitempty"`
	// Created anchors a rate() schedule: it fires a period after it.
	Created time.Time `json:"created"`
	// Enabled is when the rule last went from DISABLED to ENABLED: a
	// schedule owes no period that came before it.
	Enabled time.Time `json:"enabled,omitzero"`

	pattern *eventpattern.Pattern // compiled EventPattern
	sched   schedule.Schedule     // parsed ScheduleExpression
}

// Target is a rule's target as the API and the bucket spell it.
type Target struct {
	ID               string            `json:"Id"`
	ARN              string            `json:"Arn"`
	RoleARN          string            `json:"RoleArn,omitempty"`
	Input            *string           `json:"Input,omitempty"`
	InputPath        *string           `json:"InputPath,omitempty"`
	InputTransformer *InputTransformer `json:"InputTransformer,omitempty"`
	RetryPolicy      *RetryPolicy      `json:"RetryPolicy,omitempty"`
	DeadLetterConfig *DeadLetterConfig `json:"DeadLetterConfig,omitempty"`
}

// InputTransformer builds a target's input from parts of the event.
type InputTransformer struct {
	InputPathsMap map[string]string `json:"InputPathsMap,omitempty"`
	InputTemplate string            `json:"InputTemplate"`
}

// RetryPolicy bounds the retries of a failed delivery.
type RetryPolicy struct {
	MaximumRetryAttempts     *int `json:"MaximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int `json:"MaximumEventAgeInSeconds,omitempty"`
}

// DeadLetterConfig names the SQS queue of events a target could not get.
type DeadLetterConfig struct {
	ARN string `json:"Arn,omitempty"`
}

// EventBridge's defaults: 185 retries within 24 hours.
const (
	defaultRetries = 185
	defaultMaxAge  = 24 * time.Hour
)

func (t *Target) retries() int {
	if t.RetryPolicy != nil && t.RetryPolicy.MaximumRetryAttempts != nil {
		return *t.RetryPolicy.MaximumRetryAttempts
	}
	return defaultRetries
}

func (t *Target) maxAge() time.Duration {
	if t.RetryPolicy != nil && t.RetryPolicy.MaximumEventAgeInSeconds != nil {
		return time.Duration(*t.RetryPolicy.MaximumEventAgeInSeconds) * time.Second
	}
	return defaultMaxAge
}

func (r *rule) target(id string) (*Target, bool) {
	for i := range r.Targets {
		if r.Targets[i].ID == id {
			return &r.Targets[i], true
		}
	}
	return nil, false
}

// prepare fills the fields a stored rule derives; both were validated
// when the rule was put.
func (r *rule) prepare() {
	r.pattern, r.sched = nil, nil
	if r.EventPattern != "" {
		r.pattern, _ = eventpattern.Compile([]byte(r.EventPattern), eventpattern.Options{Scope: eventpattern.Body})
	}
	if r.ScheduleExpression != "" {
		r.sched, _ = schedule.Parse(r.ScheduleExpression)
	}
}

// token encodes a bus or rule name as one key token: names hold '.' and
// '/', which keys cannot.
func token(name string) string { return base64.RawURLEncoding.EncodeToString([]byte(name)) }

func untoken(tok string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	return string(b), err == nil
}

func busKey(name string) string         { return "bus." + token(name) }
func ruleKey(bus, name string) string   { return "rule." + token(bus) + "." + token(name) }
func fireKey(ruleARN string) string     { return "fire." + token(ruleARN) }
func ruleID(bus, name string) [2]string { return [2]string{bus, name} }

// view is the bucket's buses and rules in memory, kept current by a watch
// and by the service's own writes (so a client reads its writes). Each
// key keeps the revision it was last changed at, deletions included, so
// that a late watch event never undoes a newer write.
type view struct {
	mu    sync.RWMutex
	buses map[string]*bus
	rules map[[2]string]*rule // by bus and name
	revs  map[string]uint64
}

func openView(ctx, watchCtx context.Context, kv store.KV, log *slog.Logger) (*view, error) {
	v := &view{buses: map[string]*bus{}, rules: map[[2]string]*rule{}, revs: map[string]uint64{}}
	ch, err := kv.Watch(watchCtx, "")
	if err != nil {
		return nil, fmt.Errorf("events: watching the bucket: %w", err)
	}
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return nil, fmt.Errorf("events: the bucket's watch closed while loading")
			}
			if e.Key == "" {
				go func() {
					for e := range ch {
						v.apply(e, log)
					}
				}()
				return v, nil
			}
			v.apply(e, log)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// apply records one change unless the view has a newer one for its key.
func (v *view) apply(e store.Entry, log *slog.Logger) {
	kind, rest, _ := strings.Cut(e.Key, ".")
	if kind != "bus" && kind != "rule" {
		return // schedule state is read from the bucket
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if e.Revision < v.revs[e.Key] {
		return
	}
	v.revs[e.Key] = e.Revision
	switch kind {
	case "bus":
		name, _ := untoken(rest)
		if e.Deleted {
			delete(v.buses, name)
			return
		}
		var b bus
		if err := json.Unmarshal(e.Value, &b); err != nil {
			log.Error("events: unreadable bus", "key", e.Key, "error", err)
			return
		}
		v.buses[b.Name] = &b
	case "rule":
		bt, nt, _ := strings.Cut(rest, ".")
		bn, _ := untoken(bt)
		rn, _ := untoken(nt)
		if e.Deleted {
			delete(v.rules, ruleID(bn, rn))
			return
		}
		var r rule
		if err := json.Unmarshal(e.Value, &r); err != nil {
			log.Error("events: unreadable rule", "key", e.Key, "error", err)
			return
		}
		r.prepare()
		v.rules[ruleID(r.Bus, r.Name)] = &r
	}
}

// forget drops key at once after a deletion whose revision the watch
// brings later.
func (v *view) forget(key string) {
	v.mu.Lock()
	v.revs[key]++
	v.mu.Unlock()
	v.apply(store.Entry{Key: key, Deleted: true, Revision: v.rev(key)}, nil)
}

func (v *view) rev(key string) uint64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.revs[key]
}

func (v *view) bus(name string) (*bus, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	b, ok := v.buses[name]
	return b, ok
}

func (v *view) rule(busName, name string) (*rule, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	r, ok := v.rules[ruleID(busName, name)]
	return r, ok
}

// busList is every custom bus, sorted by name.
func (v *view) busList() []*bus {
	v.mu.RLock()
	out := make([]*bus, 0, len(v.buses))
	for _, b := range v.buses {
		out = append(out, b)
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b *bus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// ruleList is the rules of busName ("" for every bus), sorted by name.
func (v *view) ruleList(busName string) []*rule {
	v.mu.RLock()
	var out []*rule
	for id, r := range v.rules {
		if busName == "" || id[0] == busName {
			out = append(out, r)
		}
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b *rule) int {
		if c := strings.Compare(a.Bus, b.Bus); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// Writes go to the bucket first, then into the view. A write reads the
// stored value with its revision and replaces it only at that revision,
// so that two servers writing one rule at once cannot lose a change: the
// later write fails with ConcurrentModificationException.

// load reads key's stored value into v and returns its revision, 0 when
// the key does not exist.
func (s *Service) load(ctx context.Context, key string, v any) (uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if err == store.ErrNotFound || (err != nil && isNotFound(err)) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(e.Value, v); err != nil {
		return 0, fmt.Errorf("events: unreadable %s: %w", key, err)
	}
	return e.Revision, nil
}

// save writes v under key at revision rev (0: the key must not exist).
func (s *Service) save(ctx context.Context, key string, v any, rev uint64) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var nrev uint64
	if rev == 0 {
		nrev, err = s.kv.Create(ctx, key, b)
	} else {
		nrev, err = s.kv.Update(ctx, key, b, rev)
	}
	if err != nil {
		if isConflict(err) {
			return concurrent()
		}
		return err
	}
	s.view.apply(store.Entry{Key: key, Value: b, Revision: nrev}, s.log)
	return nil
}

// remove deletes key at revision rev.
func (s *Service) remove(ctx context.Context, key string, rev uint64) error {
	if err := s.kv.Delete(ctx, key, rev); err != nil {
		if isConflict(err) {
			return concurrent()
		}
		return err
	}
	s.view.forget(key)
	return nil
}
