package esm

import (
	"context"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/store"
)

// LastProcessingResult: what the mapping's last batch came to, as Lambda
// reports it. The poller's node keeps it in memory and writes it under
// "r.<uuid>" of the mapping bucket when it changes (not on every batch);
// every node's watch of that prefix keeps its own copy, so any node
// answers it. It is status, not state: losing the latest change to a
// crash only shows the one before.
const (
	resultNone    = "No records processed"
	resultOK      = "OK"
	resultProblem = "PROBLEM: Function call failed"
)

const resultPrefix = "r."

// answer is a mapping as the API answers it: the stored shape with its
// LastProcessingResult.
func (s *Service) answer(r *record) Mapping {
	m := r.M
	m.LastProcessingResult = s.result(m.UUID)
	return m
}

func (s *Service) result(uuid string) string {
	s.resultMu.Lock()
	defer s.resultMu.Unlock()
	if v, ok := s.results[uuid]; ok {
		return v
	}
	return resultNone
}

// setResult records a batch's result, writing it to the bucket when it
// differs from the last one.
func (s *Service) setResult(uuid, v string) {
	s.resultMu.Lock()
	same := s.results[uuid] == v
	s.results[uuid] = v
	s.resultMu.Unlock()
	if same {
		return
	}
	ctx, cancel := context.WithTimeout(s.hard, 5*time.Second)
	defer cancel()
	if _, err := s.cfg.KV.Put(ctx, resultPrefix+uuid, []byte(v)); err != nil {
		s.log.Debug("esm: recording a processing result", "uuid", uuid, "error", err)
	}
}

// watchResults keeps results up to date with the bucket until the
// service closes.
func (s *Service) watchResults(ch <-chan store.Entry) {
	for e := range ch {
		if e.Key == "" {
			continue
		}
		uuid := strings.TrimPrefix(e.Key, resultPrefix)
		s.resultMu.Lock()
		if e.Deleted {
			delete(s.results, uuid)
		} else {
			s.results[uuid] = string(e.Value)
		}
		s.resultMu.Unlock()
	}
}

// dropResult removes a deleted mapping's result.
func (s *Service) dropResult(ctx context.Context, uuid string) {
	if err := s.cfg.KV.Delete(ctx, resultPrefix+uuid, 0); err != nil {
		s.log.Debug("esm: removing a processing result", "uuid", uuid, "error", err)
	}
	s.resultMu.Lock()
	delete(s.results, uuid)
	s.resultMu.Unlock()
}
