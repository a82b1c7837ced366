package esm

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/kumo-run/kumo/internal/store"
)

// A lease makes one node the owner of a mapping: the one that runs its
// poller and settles its transitions. It is the key "lease.<uuid>" of the
// mappings' bucket, {node, until}, written with compare-and-set: created
// when absent, renewed by its node (after a third of the TTL), taken over
// by another node once expired. A node that restarts under the same name
// takes its own leases back at once.

type leaseValue struct {
	Node  string `json:"node"`
	Until int64  `json:"until"` // unix ms
}

type held struct {
	rev   uint64
	until time.Time
}

const leasePrefix = "lease."

func leaseKey(uuid string) string { return leasePrefix + uuid }

// own reports whether this node holds uuid's lease, acquiring or renewing
// it as needed. Only the reconciler calls it.
func (s *Service) own(ctx context.Context, uuid string) bool {
	now := s.cfg.Now()
	h, ok := s.leases[uuid]
	if ok && now.Before(h.until.Add(-2*s.cfg.LeaseTTL/3)) {
		return true
	}
	b, _ := json.Marshal(leaseValue{Node: s.cfg.Node, Until: now.Add(s.cfg.LeaseTTL).UnixMilli()})
	if ok {
		if rev, err := s.cfg.KV.Update(ctx, leaseKey(uuid), b, h.rev); err == nil {
			s.leases[uuid] = held{rev: rev, until: now.Add(s.cfg.LeaseTTL)}
			return true
		}
		delete(s.leases, uuid)
	}
	e, err := s.cfg.KV.Get(ctx, leaseKey(uuid))
	var rev uint64
	switch {
	case errors.Is(err, store.ErrNotFound):
		rev, err = s.cfg.KV.Create(ctx, leaseKey(uuid), b)
	case err == nil:
		var cur leaseValue
		if json.Unmarshal(e.Value, &cur) == nil && cur.Node != s.cfg.Node && now.UnixMilli() < cur.Until {
			return false
		}
		rev, err = s.cfg.KV.Update(ctx, leaseKey(uuid), b, e.Revision)
	}
	if err != nil {
		return false
	}
	s.leases[uuid] = held{rev: rev, until: now.Add(s.cfg.LeaseTTL)}
	return true
}

// release gives up uuid's lease if this node holds it.
func (s *Service) release(ctx context.Context, uuid string) {
	h, ok := s.leases[uuid]
	if !ok {
		return
	}
	delete(s.leases, uuid)
	if err := s.cfg.KV.Delete(ctx, leaseKey(uuid), h.rev); err != nil {
		s.log.Debug("esm: releasing a lease", "uuid", uuid, "error", err)
	}
}
