package sns

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/kumo-run/kumo/internal/eventpattern"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/store"
)

// topic is one topic as the bucket stores it under "topic.<name>".
type topic struct {
	Name string `json:"name"`
	ARN  string `json:"arn"`
	// Attributes are the ones set by CreateTopic and SetTopicAttributes.
	Attributes map[string]string `json:"attributes,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`

	policy *iam.Policy // Attributes["Policy"], parsed when set
}

// fifo reports whether t is a FIFO topic.
func (t *topic) fifo() bool { return t.Attributes["FifoTopic"] == "true" }

// subscription is one subscription, stored under
// "sub.<topic name>.<id>".
type subscription struct {
	ARN      string `json:"arn"`
	TopicARN string `json:"topicArn"`
	Protocol string `json:"protocol"`
	Endpoint string `json:"endpoint"`
	Owner    string `json:"owner"`
	// Attributes are the settable ones: FilterPolicy, FilterPolicyScope,
	// RawMessageDelivery, RedrivePolicy, DeliveryPolicy.
	Attributes map[string]string `json:"attributes,omitempty"`
	// Pending is set until an http/https endpoint confirms with Token.
	Pending bool   `json:"pending,omitempty"`
	Token   string `json:"token,omitempty"`

	filter *eventpattern.Pattern // compiled FilterPolicy, nil for none
}

func topicKey(name string) string { return "topic." + name }

// subKey is the key of a subscription ARN (…:<topic>:<id>).
func subKey(subARN string) (string, bool) {
	i := strings.LastIndexByte(subARN, ':')
	if i < 0 {
		return "", false
	}
	j := strings.LastIndexByte(subARN[:i], ':')
	if j < 0 {
		return "", false
	}
	return "sub." + subARN[j+1:i] + "." + subARN[i+1:], true
}

// compileFilter compiles a subscription's filter policy in its scope.
func compileFilter(policy, scope string) (*eventpattern.Pattern, error) {
	if policy == "" {
		return nil, nil
	}
	sc := eventpattern.Attributes
	if scope == "MessageBody" {
		sc = eventpattern.Body
	}
	return eventpattern.Compile([]byte(policy), eventpattern.Options{Scope: sc, SNS: true})
}

// prepare fills the unexported fields a stored value derives.
func (t *topic) prepare() {
	t.policy = nil
	if doc := t.Attributes["Policy"]; doc != "" {
		t.policy, _ = iam.Parse(doc, iam.KindResource) // validated when set
	}
}

func (sub *subscription) prepare() {
	sub.filter, _ = compileFilter(sub.Attributes["FilterPolicy"], sub.Attributes["FilterPolicyScope"]) // validated when set
}

// view is the bucket in memory, kept current by a watch and by the
// service's own writes (so a client reads its writes). Each key keeps the
// revision it was last changed at, deletions included, so that a late
// watch event never undoes a newer write.
type view struct {
	mu     sync.RWMutex
	topics map[string]*topic        // by name
	subs   map[string]*subscription // by ARN
	revs   map[string]uint64        // by key
}

func openView(ctx, watchCtx context.Context, kv store.KV, log *slog.Logger) (*view, error) {
	v := &view{topics: map[string]*topic{}, subs: map[string]*subscription{}, revs: map[string]uint64{}}
	ch, err := kv.Watch(watchCtx, "")
	if err != nil {
		return nil, fmt.Errorf("sns: watching the bucket: %w", err)
	}
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return nil, fmt.Errorf("sns: the bucket's watch closed while loading")
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
	v.mu.Lock()
	defer v.mu.Unlock()
	if e.Revision < v.revs[e.Key] {
		return
	}
	v.revs[e.Key] = e.Revision
	kind, rest, _ := strings.Cut(e.Key, ".")
	switch kind {
	case "topic":
		if e.Deleted {
			delete(v.topics, rest)
			return
		}
		var t topic
		if err := json.Unmarshal(e.Value, &t); err != nil {
			log.Error("sns: unreadable topic", "key", e.Key, "error", err)
			return
		}
		t.prepare()
		v.topics[rest] = &t
	case "sub":
		if e.Deleted {
			for a := range v.subs {
				if k, _ := subKey(a); k == e.Key {
					delete(v.subs, a)
				}
			}
			return
		}
		var sub subscription
		if err := json.Unmarshal(e.Value, &sub); err != nil {
			log.Error("sns: unreadable subscription", "key", e.Key, "error", err)
			return
		}
		sub.prepare()
		v.subs[sub.ARN] = &sub
	}
}

func (v *view) topic(name string) (*topic, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	t, ok := v.topics[name]
	return t, ok
}

func (v *view) sub(subARN string) (*subscription, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	sub, ok := v.subs[subARN]
	return sub, ok
}

// topicList is every topic, sorted by ARN.
func (v *view) topicList() []*topic {
	v.mu.RLock()
	out := make([]*topic, 0, len(v.topics))
	for _, t := range v.topics {
		out = append(out, t)
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b *topic) int { return strings.Compare(a.ARN, b.ARN) })
	return out
}

// subList is the subscriptions of topicARN ("" for all), sorted by ARN.
func (v *view) subList(topicARN string) []*subscription {
	v.mu.RLock()
	var out []*subscription
	for _, sub := range v.subs {
		if topicARN == "" || sub.TopicARN == topicARN {
			out = append(out, sub)
		}
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b *subscription) int { return strings.Compare(a.ARN, b.ARN) })
	return out
}

// Writes: the bucket first, then the view.

func (s *Service) putTopic(ctx context.Context, t *topic) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	rev, err := s.kv.Put(ctx, topicKey(t.Name), b)
	if err != nil {
		return err
	}
	s.view.apply(store.Entry{Key: topicKey(t.Name), Value: b, Revision: rev}, s.log)
	return nil
}

func (s *Service) putSub(ctx context.Context, sub *subscription) error {
	b, err := json.Marshal(sub)
	if err != nil {
		return err
	}
	key, _ := subKey(sub.ARN)
	rev, err := s.kv.Put(ctx, key, b)
	if err != nil {
		return err
	}
	s.view.apply(store.Entry{Key: key, Value: b, Revision: rev}, s.log)
	return nil
}

// deleteKey deletes a key; the view learns it from the watch, and at once
// through forget.
func (s *Service) deleteKey(ctx context.Context, key string) error {
	if err := s.kv.Delete(ctx, key, 0); err != nil {
		return err
	}
	// The deletion's revision is not returned: the watch brings it. Until
	// then the view forgets the key under its current revision.
	s.view.forget(key)
	return nil
}

func (v *view) forget(key string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.revs[key]++ // the echo of the last write must not bring the key back
	kind, rest, _ := strings.Cut(key, ".")
	switch kind {
	case "topic":
		delete(v.topics, rest)
	case "sub":
		for a := range v.subs {
			if k, _ := subKey(a); k == key {
				delete(v.subs, a)
			}
		}
	}
}
