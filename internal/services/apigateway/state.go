package apigateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/kumo-run/kumo/internal/store"
)

// Live is one API as the data plane serves it: its document and, per
// stage, the router of the stage's deployment. A Live is immutable; the
// view replaces it whole when the API changes.
type Live struct {
	Doc    *Doc
	Stages map[string]*LiveStage
}

// LiveStage is a stage and the router of its deployment; Router is nil
// while the stage has no deployment.
type LiveStage struct {
	Stage  *Stage
	Router *Router
}

// State is API Gateway's state: the bucket, and a view of it in memory
// kept current by a watch, from which every read is answered. Writes go to
// the bucket first and then into the view, so a writer reads its writes.
// It is safe for concurrent use; writes are serialised by one mutex (one
// server owns the bucket).
type State struct {
	kv  store.KV
	log *slog.Logger

	wmu sync.Mutex // serialises writes; taken before mu, never while mu is held

	mu    sync.RWMutex
	revs  map[string]uint64               // key → revision applied
	docs  map[string]*Doc                 // api-id → document
	snaps map[string]map[string]*Snapshot // api-id → deployment-id → snapshot
	live  map[string]*Live                // api-id → what the data plane serves
}

// Open loads the bucket into memory and keeps the view current until ctx
// is done.
func Open(ctx context.Context, kv store.KV, log *slog.Logger) (*State, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &State{kv: kv, log: log, revs: map[string]uint64{}, docs: map[string]*Doc{},
		snaps: map[string]map[string]*Snapshot{}, live: map[string]*Live{}}
	ch, err := kv.Watch(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("apigateway: watching the bucket: %w", err)
	}
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return nil, errors.New("apigateway: the bucket's watch closed while loading")
			}
			if e.Key == "" {
				go func() {
					for e := range ch {
						s.apply(e)
					}
				}()
				return s, nil
			}
			s.apply(e)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// apply records one change unless the view has a newer one for its key,
// and rebuilds what the data plane serves of the API it touches.
func (s *State) apply(e store.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Revision < s.revs[e.Key] {
		return
	}
	s.revs[e.Key] = e.Revision
	var apiID string
	switch {
	case strings.HasPrefix(e.Key, apiPrefix):
		apiID = e.Key[len(apiPrefix):]
		if e.Deleted {
			delete(s.docs, apiID)
			break
		}
		var d Doc
		if err := json.Unmarshal(e.Value, &d); err != nil {
			s.log.Error("apigateway: unreadable api", "key", e.Key, "err", err)
			return
		}
		d.init()
		s.docs[apiID] = &d
	case strings.HasPrefix(e.Key, depPrefix):
		var depID string
		apiID, depID, _ = strings.Cut(e.Key[len(depPrefix):], ".")
		if e.Deleted {
			delete(s.snaps[apiID], depID)
			if len(s.snaps[apiID]) == 0 {
				delete(s.snaps, apiID)
			}
			break
		}
		var sn Snapshot
		if err := json.Unmarshal(e.Value, &sn); err != nil {
			s.log.Error("apigateway: unreadable deployment", "key", e.Key, "err", err)
			return
		}
		if s.snaps[apiID] == nil {
			s.snaps[apiID] = map[string]*Snapshot{}
		}
		s.snaps[apiID][depID] = &sn
	default:
		return
	}
	s.rebuild(apiID)
}

// rebuild replaces the Live of apiID; s.mu is held.
func (s *State) rebuild(apiID string) {
	d, ok := s.docs[apiID]
	if !ok {
		delete(s.live, apiID)
		return
	}
	l := &Live{Doc: d, Stages: make(map[string]*LiveStage, len(d.Stages))}
	routers := map[string]*Router{}
	for name, st := range d.Stages {
		ls := &LiveStage{Stage: st}
		if st.DeploymentID != "" {
			r, ok := routers[st.DeploymentID]
			if !ok {
				if sn := s.snaps[apiID][st.DeploymentID]; sn != nil {
					r = NewRouter(sn)
				}
				routers[st.DeploymentID] = r
			}
			ls.Router = r
		}
		l.Stages[name] = ls
	}
	s.live[apiID] = l
}

// Live returns what the data plane serves of an API.
func (s *State) Live(apiID string) (*Live, bool) {
	s.mu.RLock()
	l, ok := s.live[apiID]
	s.mu.RUnlock()
	return l, ok
}

// Get returns an API's document; the caller must not modify it.
func (s *State) Get(apiID string) (*Doc, bool) {
	s.mu.RLock()
	d, ok := s.docs[apiID]
	s.mu.RUnlock()
	return d, ok
}

// Snapshot returns a deployment's snapshot; the caller must not modify it.
func (s *State) Snapshot(apiID, deploymentID string) (*Snapshot, bool) {
	s.mu.RLock()
	sn, ok := s.snaps[apiID][deploymentID]
	s.mu.RUnlock()
	return sn, ok
}

// List returns every API's document, sorted by id.
func (s *State) List() []*Doc {
	s.mu.RLock()
	out := make([]*Doc, 0, len(s.docs))
	for _, d := range s.docs {
		out = append(out, d)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].API.APIID < out[j].API.APIID })
	return out
}

// ErrNotFound is Update's answer for an API that does not exist.
var ErrNotFound = errors.New("apigateway: api not found")

// Write is one change to an API: the document after it, snapshots to
// store before it (new deployments) and snapshot keys to delete after it
// (deployments it removed).
type Write struct {
	Doc       *Doc
	Snapshots map[string]*Snapshot
	Drop      []string
}

// Create stores a new API. Its snapshots are stored first, so that the
// view never sees a stage whose deployment it lacks.
func (s *State) Create(ctx context.Context, w Write) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.putSnapshots(ctx, w.Doc.API.APIID, w.Snapshots); err != nil {
		return err
	}
	b, err := json.Marshal(w.Doc)
	if err != nil {
		return err
	}
	key := APIKey(w.Doc.API.APIID)
	rev, err := s.kv.Create(ctx, key, b)
	if err != nil {
		return err
	}
	s.apply(store.Entry{Key: key, Value: b, Revision: rev})
	return nil
}

// Update changes an API: fn gets a copy of its document to change, and
// returns the write to make (fn's Write.Doc nil means the copy) or an
// error, which Update returns without writing. ErrNotFound when the API
// does not exist.
func (s *State) Update(ctx context.Context, apiID string, fn func(d *Doc) (*Write, error)) (*Doc, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	key := APIKey(apiID)
	s.mu.RLock()
	cur, ok := s.docs[apiID]
	rev := s.revs[key]
	s.mu.RUnlock()
	if !ok {
		return nil, ErrNotFound
	}
	d := cur.Clone()
	w, err := fn(d)
	if err != nil {
		return nil, err
	}
	if w == nil {
		w = &Write{}
	}
	if w.Doc == nil {
		w.Doc = d
	}
	if err := s.putSnapshots(ctx, apiID, w.Snapshots); err != nil {
		return nil, err
	}
	b, err := json.Marshal(w.Doc)
	if err != nil {
		return nil, err
	}
	nrev, err := s.kv.Update(ctx, key, b, rev)
	if err != nil {
		return nil, fmt.Errorf("apigateway: writing api %s: %w", apiID, err)
	}
	s.apply(store.Entry{Key: key, Value: b, Revision: nrev})
	s.dropSnapshots(ctx, apiID, w.Drop)
	return w.Doc, nil
}

// Delete removes an API and its deployments' snapshots.
func (s *State) Delete(ctx context.Context, apiID string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	key := APIKey(apiID)
	s.mu.RLock()
	d, ok := s.docs[apiID]
	rev := s.revs[key]
	s.mu.RUnlock()
	if !ok {
		return ErrNotFound
	}
	if err := s.kv.Delete(ctx, key, rev); err != nil {
		return fmt.Errorf("apigateway: deleting api %s: %w", apiID, err)
	}
	s.forget(key)
	ids := make([]string, 0, len(d.Deployments))
	for id := range d.Deployments {
		ids = append(ids, id)
	}
	s.dropSnapshots(ctx, apiID, ids)
	return nil
}

func (s *State) putSnapshots(ctx context.Context, apiID string, snaps map[string]*Snapshot) error {
	for id, sn := range snaps {
		b, err := json.Marshal(sn)
		if err != nil {
			return err
		}
		key := SnapshotKey(apiID, id)
		rev, err := s.kv.Put(ctx, key, b)
		if err != nil {
			return fmt.Errorf("apigateway: writing deployment %s: %w", id, err)
		}
		s.apply(store.Entry{Key: key, Value: b, Revision: rev})
	}
	return nil
}

// dropSnapshots deletes snapshots no stage can reach any more; a failure
// leaves an orphan, logged, not a wrong answer.
func (s *State) dropSnapshots(ctx context.Context, apiID string, ids []string) {
	for _, id := range ids {
		key := SnapshotKey(apiID, id)
		if err := s.kv.Delete(ctx, key, 0); err != nil {
			s.log.Warn("apigateway: deleting a deployment's snapshot", "key", key, "err", err)
			continue
		}
		s.forget(key)
	}
}

// forget applies a deletion the store made before the watch brings it,
// one revision past the view's last write of the key, so that the echo of
// that write cannot bring the key back (the deletion's own revision is at
// least as high).
func (s *State) forget(key string) {
	s.mu.RLock()
	rev := s.revs[key]
	s.mu.RUnlock()
	s.apply(store.Entry{Key: key, Revision: rev + 1, Deleted: true})
}
