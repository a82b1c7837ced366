package esm

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/services/sqs"
	"github.com/kumo-run/kumo/internal/store"
)

// TestTransitions: the state table refuses what it does not list.
func TestTransitions(t *testing.T) {
	for _, c := range []struct {
		from, to State
		ok       bool
	}{
		{Creating, Enabled, true}, {Creating, Disabled, true}, {Creating, Deleting, false},
		{Enabled, Disabling, true}, {Enabled, Deleting, true}, {Enabled, Creating, false},
		{Disabled, Enabling, true}, {Disabling, Disabled, true}, {Deleting, Enabled, false},
		{Updating, Enabled, true}, {Updating, Deleting, false},
	} {
		if err := c.from.to(c.to); (err == nil) != c.ok {
			t.Errorf("%s -> %s: %v, want allowed %v", c.from, c.to, err, c.ok)
		}
	}
}

type noQueues struct{}

func (noQueues) QueueExists(string) bool                     { return true }
func (noQueues) QueueFIFO(string) bool                       { return false }
func (noQueues) QueueVisibilityTimeout(string) time.Duration { return 30 * time.Second }
func (noQueues) Receive(ctx context.Context, _ string, _ int, wait, _ time.Duration) ([]sqs.Message, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (noQueues) Delete(context.Context, string, string) error                          { return nil }
func (noQueues) ChangeVisibility(context.Context, string, string, time.Duration) error { return nil }

// TestInUse: Update and Delete of a mapping in a transition are
// ResourceInUseException. The mapping's lease is held by another node,
// which never settles it here.
func TestInUse(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	defer st.Close()
	kv, err := st.KV(ctx, "esm")
	if err != nil {
		t.Fatal(err)
	}
	const uuid = "11111111-2222-4333-8444-555555555555"
	lease, _ := json.Marshal(leaseValue{Node: "elsewhere", Until: time.Now().Add(time.Hour).UnixMilli()})
	if _, err := kv.Create(ctx, leaseKey(uuid), lease); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, Config{KV: kv, Queues: noQueues{}, ARNs: registry.ARNs{Partition: "aws", Region: "us-east-1", Account: "123456789012"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := &record{Function: "f", Enabled: true, M: Mapping{UUID: uuid, BatchSize: 10, EventSourceArn: "arn:aws:sqs:us-east-1:123456789012:q",
		State: Creating, FunctionResponseTypes: []string{}}}
	if err := s.write(ctx, rec, 0); err != nil {
		t.Fatal(err)
	}
	one := 1
	_, err = s.Update(ctx, uuid, UpdateInput{BatchSize: &one})
	wantCode(t, err, awsproto.ResourceInUseException)
	_, err = s.Delete(ctx, uuid)
	wantCode(t, err, awsproto.ResourceInUseException)
	if m, err := s.Get(ctx, uuid); err != nil || m.State != Creating {
		t.Fatalf("a mapping owned elsewhere was settled here: %+v %v", m, err)
	}
	_, err = s.Get(ctx, "00000000-0000-4000-8000-000000000000")
	wantCode(t, err, awsproto.ResourceNotFoundException)
}

func wantCode(t *testing.T, err error, code awsproto.Code) {
	t.Helper()
	var e *awsproto.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %v, want %s", err, code)
	}
}
