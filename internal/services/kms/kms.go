package kms

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/store"
)

// Wire constants of KMS.
const (
	// SigningName is the SigV4 service name.
	SigningName = "kms"
	// TargetPrefix starts the X-Amz-Target of every request.
	TargetPrefix = "TrentService."
)

// Errors renders KMS's errors as its JSON 1.1 front does (the bare code in
// __type).
var Errors = awsproto.JSON{Version: "1.1", Internal: awsproto.InternalSpec{Code: awsproto.KMSInternal}}

// MaxRequestBody bounds a request body: the largest member is a
// ciphertext blob or a message of a few KiB, base64-encoded, or a key
// policy of 32 KiB.
const MaxRequestBody = 1 << 20

// Bucket keys.
const (
	keyPrefix   = "k."
	aliasPrefix = "a."
)

// Config configures the service.
type Config struct {
	// KV is the natsd.KMSBucket bucket.
	KV store.KV
	// Master wraps key material before it is stored.
	Master *MasterKey
	// Previous are master keys used before Master: material they wrapped
	// is unwrapped with them and wrapped again with Master when the
	// service opens (master key rotation).
	Previous []*MasterKey
	// Partition, Region and Account are this server's.
	Partition, Region, Account string
	// Logger receives internal failures; nil discards.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Authorizer checks every operation (authz.go); nil allows everything.
	Authorizer *authz.Authorizer
	// SweepInterval is how often keys due for deletion or rotation are
	// looked for; 1 minute when zero, never when negative (tests call
	// Sweep).
	SweepInterval time.Duration
	// Writable reports whether the store may take more data (an error
	// saying why not); while it does not, the operations that add data
	// (fills) are ServiceUnavailable and the rest go on. Nil: always
	// writable.
	Writable func() error
}

type op = awsproto.JSONOp

// Service is the KMS API handler and the key engine other services use
// (engine.go). It is safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger
	ops map[string]op
	rpc awsproto.JSONRPC

	mu sync.Mutex // serialises writes to the bucket

	vmu     sync.RWMutex // guards keys and aliases
	keys    map[string]*key
	aliases map[string]aliasEntry

	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup
}

type aliasEntry struct {
	rec  aliasRecord
	rev  uint64
	gone bool
}

var _ http.Handler = (*Service)(nil)

// Open returns the service with its view of the keys loaded from the
// bucket and kept up to date by a watch until Close. Material wrapped by a
// Previous master key is wrapped again with Master before Open returns.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Master == nil {
		return nil, errors.New("kms: no master key")
	}
	s := &Service{cfg: cfg, log: cfg.Logger, keys: map[string]*key{}, aliases: map[string]aliasEntry{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	if s.cfg.Partition == "" {
		s.cfg.Partition = "aws"
	}
	s.ops = s.dispatch()
	s.rpc = awsproto.JSONRPC{Name: "kms", TargetPrefix: TargetPrefix, Errors: Errors, MaxBody: MaxRequestBody,
		UnknownOperation: awsproto.KMSUnknownOperation, Serialization: awsproto.KMSSerialization, Log: s.log,
		Writable: cfg.Writable, Fills: fills}
	wctx, cancel := context.WithCancel(context.Background())
	ch, err := cfg.KV.Watch(wctx, "")
	if err != nil {
		cancel()
		return nil, fmt.Errorf("kms: watching keys: %w", err)
	}
	s.cancel, s.done = cancel, make(chan struct{})
	loaded := make(chan struct{})
	go s.watch(ch, loaded)
	select {
	case <-loaded:
	case <-ctx.Done():
		cancel()
		return nil, ctx.Err()
	}
	if err := s.rewrap(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if cfg.SweepInterval >= 0 {
		iv := cfg.SweepInterval
		if iv == 0 {
			iv = time.Minute
		}
		s.wg.Add(1)
		go s.sweeper(wctx, iv)
	}
	return s, nil
}

// Close stops the watch and the sweeper.
func (s *Service) Close() {
	s.cancel()
	<-s.done
	s.wg.Wait()
}

func (s *Service) watch(ch <-chan store.Entry, loaded chan struct{}) {
	defer close(s.done)
	first := true
	for e := range ch {
		if e.Key == "" {
			if first {
				close(loaded)
				first = false
			}
			continue
		}
		s.apply(e)
	}
	if first {
		close(loaded)
	}
}

// apply puts a bucket entry into the view unless the view already holds
// a newer revision of it. A deletion leaves a tombstone with its revision
// (gone), so that an older event seen later cannot bring the entry back.
func (s *Service) apply(e store.Entry) {
	switch {
	case strings.HasPrefix(e.Key, keyPrefix):
		id := e.Key[len(keyPrefix):]
		s.vmu.RLock()
		old := s.keys[id]
		s.vmu.RUnlock()
		if old != nil && old.rev >= e.Revision {
			return
		}
		k := &key{rev: e.Revision, gone: true}
		if !e.Deleted {
			var rec keyRecord
			if err := json.Unmarshal(e.Value, &rec); err != nil {
				s.log.Error("kms: unreadable key record", "key", e.Key, "error", err)
				return
			}
			k = s.load(rec, e.Revision)
		}
		s.vmu.Lock()
		if cur := s.keys[id]; cur == nil || cur.rev < e.Revision {
			s.keys[id] = k
		}
		s.vmu.Unlock()
	case strings.HasPrefix(e.Key, aliasPrefix):
		name, err := base64.RawURLEncoding.DecodeString(e.Key[len(aliasPrefix):])
		if err != nil {
			return
		}
		s.vmu.Lock()
		defer s.vmu.Unlock()
		if cur, ok := s.aliases[string(name)]; ok && cur.rev >= e.Revision {
			return
		}
		if e.Deleted {
			s.aliases[string(name)] = aliasEntry{rev: e.Revision, gone: true}
			return
		}
		var rec aliasRecord
		if err := json.Unmarshal(e.Value, &rec); err != nil {
			s.log.Error("kms: unreadable alias record", "key", e.Key, "error", err)
			return
		}
		s.aliases[string(name)] = aliasEntry{rec: rec, rev: e.Revision}
	}
}

// aliasKey is the bucket key of an alias: its name in unpadded base64url,
// since bucket keys cannot hold '/'.
func aliasKey(name string) string {
	return aliasPrefix + base64.RawURLEncoding.EncodeToString([]byte(name))
}

// masterKey returns the master key with id.
func (s *Service) masterKey(id string) *MasterKey {
	if s.cfg.Master.ID() == id {
		return s.cfg.Master
	}
	for _, m := range s.cfg.Previous {
		if m.ID() == id {
			return m
		}
	}
	return nil
}

// load unwraps a record's material and parses its policy.
func (s *Service) load(rec keyRecord, rev uint64) *key {
	k := &key{rec: rec, rev: rev, mats: make(map[uint32][]byte, len(rec.Materials))}
	for _, m := range rec.Materials {
		mk := s.masterKey(m.MasterKey)
		if mk == nil {
			k.unavailable = fmt.Errorf("material version %d is wrapped by master key %s, which this node does not have", m.Version, m.MasterKey)
			break
		}
		raw, err := mk.unwrap(m.Wrapped, materialAAD(rec.KeyID, m.Version))
		if err != nil {
			k.unavailable = fmt.Errorf("material version %d does not unwrap with master key %s: %w", m.Version, m.MasterKey, err)
			break
		}
		k.mats[m.Version] = raw
	}
	if k.unavailable != nil {
		s.log.Error("kms: key material unavailable", "keyId", rec.KeyID, "error", k.unavailable)
		k.mats = nil
	} else if len(rec.Materials) > 0 && rec.KeySpec != specSymmetric && !strings.HasPrefix(rec.KeySpec, "HMAC_") {
		sg, err := privateKey(k.mats[k.current()])
		if err != nil {
			k.unavailable = err
			k.mats = nil
		} else {
			k.signer = sg
		}
	}
	if p, err := iam.Parse(rec.Policy, iam.KindResource); err == nil {
		k.policy = p
	} else {
		s.log.Error("kms: stored key policy does not parse", "keyId", rec.KeyID, "error", err)
	}
	return k
}

// rewrap wraps again with the current master key every material that a
// previous master key wrapped.
func (s *Service) rewrap(ctx context.Context) error {
	s.vmu.RLock()
	var todo []string
	for id, k := range s.keys {
		if k.gone {
			continue
		}
		for _, m := range k.rec.Materials {
			if m.MasterKey != s.cfg.Master.ID() && k.unavailable == nil {
				todo = append(todo, id)
				break
			}
		}
	}
	s.vmu.RUnlock()
	for _, id := range todo {
		err := s.update(ctx, id, func(rec *keyRecord) error {
			for i, m := range rec.Materials {
				if m.MasterKey == s.cfg.Master.ID() {
					continue
				}
				old := s.masterKey(m.MasterKey)
				if old == nil {
					return fmt.Errorf("key %s: no master key %s", id, m.MasterKey)
				}
				aad := materialAAD(rec.KeyID, m.Version)
				raw, err := old.unwrap(m.Wrapped, aad)
				if err != nil {
					return fmt.Errorf("key %s: %w", id, err)
				}
				rec.Materials[i] = material{Version: m.Version, MasterKey: s.cfg.Master.ID(), Wrapped: s.cfg.Master.wrap(raw, aad)}
			}
			return nil
		})
		if err != nil && !errors.Is(err, errGone) {
			return fmt.Errorf("kms: rewrapping with the new master key: %w", err)
		}
	}
	if len(todo) > 0 {
		s.log.Info("kms: key material wrapped again with the current master key", "keys", len(todo))
	}
	return nil
}

var errGone = errors.New("key deleted")

// update changes the stored record of key id with fn under the write
// lock, with compare-and-set, and puts the result in the view.
func (s *Service) update(ctx context.Context, id string, fn func(*keyRecord) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range 5 {
		e, err := s.cfg.KV.Get(ctx, keyPrefix+id)
		if errors.Is(err, store.ErrNotFound) {
			return errGone
		}
		if err != nil {
			return err
		}
		var rec keyRecord
		if err := json.Unmarshal(e.Value, &rec); err != nil {
			return err
		}
		if err := fn(&rec); err != nil {
			return err
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		rev, err := s.cfg.KV.Update(ctx, keyPrefix+id, b, e.Revision)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		s.apply(store.Entry{Key: keyPrefix + id, Value: b, Revision: rev})
		return nil
	}
	return fmt.Errorf("kms: key %s: too many concurrent updates", id)
}

// ServeHTTP serves one request; the edge has authenticated it.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := s.rpc.Operation(r)
	var o op
	if ok {
		o = s.ops[name]
	}
	s.rpc.Serve(w, r, name, o)
}

// decode reads a request body into v.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		msg := err.Error()
		if len(msg) > 256 {
			msg = msg[:256] + "..."
		}
		return awsproto.Errorf(awsproto.KMSSerialization, "The request body is not valid JSON for this operation: %s", msg)
	}
	return nil
}

// validation is KMS's ValidationException in the wording of the AWS
// request validator.
func validation(value any, member, constraint string) error {
	return awsproto.Errorf(awsproto.KMSValidation, "1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: %s", value, member, constraint)
}

// epoch is t as JSON 1.1's timestamp: seconds since the epoch.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// fills are the operations that add data to the store.
var fills = map[string]bool{"CreateKey": true, "CreateAlias": true, "UpdateAlias": true, "PutKeyPolicy": true, "CreateGrant": true, "TagResource": true, "UpdateKeyDescription": true, "RotateKeyOnDemand": true}
