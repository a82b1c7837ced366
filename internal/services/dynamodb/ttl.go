package dynamodb

import (
	"context"
	"net/http"
	"time"

	"github.com/kumo-run/kumo/internal/services/dynamodb/attr"
)

// ttlSpec is a table's TimeToLiveSpecification.
type ttlSpec struct {
	Enabled       bool   `json:"Enabled"`
	AttributeName string `json:"AttributeName"`
}

// maxTTLAge is how far in the past an expiry may be and still count:
// DynamoDB ignores TTL values more than five years old.
const maxTTLAge = 5 * 365 * 24 * time.Hour

func (s *Service) updateTimeToLive(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		TableName               string   `json:"TableName"`
		TimeToLiveSpecification *ttlSpec `json:"TimeToLiveSpecification"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	t, err := s.tableFor(r, "UpdateTimeToLive", in.TableName)
	if err != nil {
		return nil, err
	}
	spec := in.TimeToLiveSpecification
	if spec == nil {
		return nil, validation("1 validation error detected: Value null at 'timeToLiveSpecification' failed to satisfy constraint: Member must not be null")
	}
	if spec.AttributeName == "" || len(spec.AttributeName) > 255 {
		return nil, validation("1 validation error detected: Value '%s' at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must have length greater than or equal to 1", spec.AttributeName)
	}
	_, err = s.mutate(ctx, t, func(m *tableMeta) error {
		cur := m.TTL
		switch {
		case spec.Enabled && cur != nil:
			return validation("TimeToLive is already enabled")
		case !spec.Enabled && cur == nil:
			return validation("TimeToLive is already disabled")
		case !spec.Enabled && cur.AttributeName != spec.AttributeName:
			return validation("TimeToLive is active on a different AttributeName: current AttributeName is %s", cur.AttributeName)
		}
		if spec.Enabled {
			m.TTL = &ttlSpec{Enabled: true, AttributeName: spec.AttributeName}
		} else {
			m.TTL = nil
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"TimeToLiveSpecification": spec}, nil
}

func (s *Service) describeTimeToLive(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in tableInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	t, err := s.tableFor(r, "DescribeTimeToLive", in.TableName)
	if err != nil {
		return nil, err
	}
	d := map[string]any{"TimeToLiveStatus": "DISABLED"}
	if ttl := t.meta.Load().TTL; ttl != nil {
		d = map[string]any{"TimeToLiveStatus": "ENABLED", "AttributeName": ttl.AttributeName}
	}
	return map[string]any{"TimeToLiveDescription": d}, nil
}

// expired reports whether it's TTL attribute (a number of epoch seconds)
// is before now and less than five years old.
func expired(it attr.Item, name string, now time.Time) bool {
	v, ok := it[name]
	if !ok || v.Kind != attr.N {
		return false
	}
	at := attr.Decimal(v.N)
	sec, err := at.Int64()
	if err != nil {
		f, ferr := at.Float64()
		if ferr != nil {
			return false
		}
		sec = int64(f)
	}
	exp := time.Unix(sec, 0)
	return exp.Before(now) && now.Sub(exp) < maxTTLAge
}

// sweep deletes the expired items of every table with TTL enabled, as
// DynamoDB's background process does: eventually, not at the expiry.
// Until deleted an expired item is read, queried and scanned as any other
// (AWS does not hide them either). A deletion is conditional on the item
// being still expired, so an item written again in between is kept, and
// sweeps on several nodes delete it once.
func (s *Service) sweep(ctx context.Context) {
	if s.ready(ctx) != nil {
		return
	}
	s.viewMu.RLock()
	var tables []*table
	for _, t := range s.tables {
		if t.meta.Load().TTL != nil {
			tables = append(tables, t)
		}
	}
	s.viewMu.RUnlock()
	now := s.cfg.Now()
	for _, t := range tables {
		m := t.meta.Load()
		if m.TTL == nil {
			continue
		}
		var keys []attr.Item
		t.idx.mu.RLock()
		t.idx.tree.Ascend(func(e *entry) bool {
			if expired(e.item, m.TTL.AttributeName, now) {
				keys = append(keys, keyOf(m, e.item))
			}
			return len(keys) < 1000 && ctx.Err() == nil
		})
		t.idx.mu.RUnlock()
		for _, k := range keys {
			_, _, err := t.idx.writeRecord(ctx, k, true, func(old attr.Item) (attr.Item, error) {
				if old == nil || !expired(old, m.TTL.AttributeName, now) {
					return nil, errNoWrite
				}
				return nil, nil
			})
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("dynamodb: deleting an expired item", "table", m.Name, "error", err)
				}
				return
			}
		}
	}
}

// sweeper sweeps every interval until ctx ends.
func (s *Service) sweeper(ctx context.Context, every time.Duration) {
	defer close(s.sweepDone)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.sweep(ctx)
		}
	}
}
