package secretsmanager

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
				s.log.Error("secretsmanager: sweep failed", "error", err)
			}
		}
	}
}

// Sweep deletes the secrets whose recovery window has ended, as of the
// service's clock. Every node may sweep; compare-and-set deletes once.
func (s *Service) Sweep(ctx context.Context) error {
	now := epoch(s.cfg.Now())
	var due []string
	s.vmu.RLock()
	for name, e := range s.secrets {
		if !e.gone && e.rec.Deleted != 0 && e.rec.Deleted <= now {
			due = append(due, name)
		}
	}
	s.vmu.RUnlock()
	var errs []error
	for _, name := range due {
		errs = append(errs, s.purge(ctx, name, now))
	}
	return errors.Join(errs...)
}

// purge deletes secret name if its deletion date is not after now.
func (s *Service) purge(ctx context.Context, name string, now float64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := secretKey(name)
	e, err := s.cfg.KV.Get(ctx, k)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var rec secretRecord
	if err := json.Unmarshal(e.Value, &rec); err != nil {
		return err
	}
	if rec.Deleted == 0 || rec.Deleted > now {
		return nil // restored meanwhile
	}
	if err := s.cfg.KV.Delete(ctx, k, e.Revision); err != nil {
		return err
	}
	s.apply(store.Entry{Key: k, Revision: e.Revision + 1, Deleted: true})
	return nil
}
