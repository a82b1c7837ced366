package kms

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/kumo-run/kumo/internal/store"
)

func (s *Service) sweeper(ctx context.Context, every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("kms: sweep failed", "error", err)
			}
		}
	}
}

// Sweep deletes the keys whose deletion date has passed (and their
// aliases) and rotates the keys whose next rotation date has passed, as
// of the service's clock. Every node sweeps; compare-and-set lets one
// change win, so a key is rotated or deleted once. Safe to call
// concurrently with requests.
func (s *Service) Sweep(ctx context.Context) error {
	now := epoch(s.cfg.Now())
	type due struct {
		id             string
		delete, rotate bool
	}
	var todo []due
	s.vmu.RLock()
	for id, k := range s.keys {
		if k.gone {
			continue
		}
		switch {
		case k.rec.State == statePendingDeletion && k.rec.DeletionDate <= now:
			todo = append(todo, due{id: id, delete: true})
		case k.rec.RotationPeriod > 0 && k.rec.NextRotation > 0 && k.rec.NextRotation <= now && k.rec.State == stateEnabled && k.unavailable == nil:
			todo = append(todo, due{id: id, rotate: true})
		}
	}
	s.vmu.RUnlock()
	var errs []error
	for _, d := range todo {
		if d.delete {
			errs = append(errs, s.deleteKey(ctx, d.id, now))
			continue
		}
		err := s.update(ctx, d.id, func(rec *keyRecord) error {
			if rec.RotationPeriod == 0 || rec.NextRotation > now || rec.State != stateEnabled {
				return nil
			}
			return s.rotate(rec, "AUTOMATIC")
		})
		if !errors.Is(err, errGone) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// deleteKey deletes key id if it is still due, then its aliases.
func (s *Service) deleteKey(ctx context.Context, id string, now float64) error {
	if err := s.deleteRecord(ctx, id, now); err != nil {
		return err
	}
	s.vmu.RLock()
	var names []string
	for n, a := range s.aliases {
		if !a.gone && a.rec.KeyID == id {
			names = append(names, n)
		}
	}
	s.vmu.RUnlock()
	for _, n := range names {
		_ = s.removeAlias(ctx, n) // an error: another node's sweep removed it
	}
	return nil
}

func (s *Service) deleteRecord(ctx context.Context, id string, now float64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.cfg.KV.Get(ctx, keyPrefix+id)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted already
	}
	if err != nil {
		return err
	}
	var rec keyRecord
	if err := json.Unmarshal(e.Value, &rec); err != nil {
		return err
	}
	if rec.State != statePendingDeletion || rec.DeletionDate > now {
		return nil // cancelled meanwhile
	}
	if err := s.cfg.KV.Delete(ctx, keyPrefix+id, e.Revision); err != nil {
		return err
	}
	s.apply(deletedEntry(keyPrefix+id, e.Revision+1))
	s.log.Info("kms: key deleted at the end of its waiting period", "keyId", id)
	return nil
}
