package secretsmanager

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
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/store"
)

// Wire constants of Secrets Manager.
const (
	// SigningName is the SigV4 service name.
	SigningName = "secretsmanager"
	// TargetPrefix starts the X-Amz-Target of every request.
	TargetPrefix = "secretsmanager."
)

// Errors renders Secrets Manager's errors as its JSON 1.1 front does.
var Errors = awsproto.JSON{Version: "1.1", Internal: awsproto.InternalSpec{Code: awsproto.SMInternalServiceError}}

// MaxRequestBody bounds a request body: a secret value is at most 64 KiB,
// base64 for a binary one.
const MaxRequestBody = 1 << 20

const secretPrefix = "s."

// Keys encrypts secret values at rest: the KMS engine (kms.ServiceKeys
// for "secretsmanager"), in-process.
type Keys interface {
	// Seal encrypts plaintext with the key keyID names (an id, ARN, alias
	// or alias ARN), or the account's aws/secretsmanager key when "".
	Seal(ctx context.Context, keyID string, plaintext []byte, ec map[string]string) (blob []byte, key string, err error)
	Open(ctx context.Context, blob []byte, ec map[string]string) ([]byte, error)
}

// Config configures the service.
type Config struct {
	// KV is the natsd.SecretsBucket bucket.
	KV store.KV
	// Keys encrypts every secret value before it is stored.
	Keys Keys
	// Partition, Region and Account are this server's.
	Partition, Region, Account string
	Logger                     *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Authorizer checks every operation (authz.go); nil allows everything.
	Authorizer *authz.Authorizer
	// SweepInterval is how often secrets whose recovery window ended are
	// deleted; 1 minute when zero, never when negative (tests call
	// Sweep).
	SweepInterval time.Duration
	// Writable reports whether the store may take more data (an error
	// saying why not); while it does not, the operations that add data
	// (fills) are ServiceUnavailable and the rest go on. Nil: always
	// writable.
	Writable func() error
}

type op = awsproto.JSONOp

// Service is the Secrets Manager API handler. It is safe for concurrent
// use.
type Service struct {
	cfg Config
	log *slog.Logger
	ops map[string]op
	rpc awsproto.JSONRPC

	mu sync.Mutex // serialises writes to the bucket

	vmu     sync.RWMutex
	secrets map[string]*secretEntry // by name

	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup
}

type secretEntry struct {
	rec  secretRecord
	rev  uint64
	gone bool
}

// secretRecord is a secret as stored under "s.<name in base64url>".
type secretRecord struct {
	Name        string              `json:"Name"`
	ARN         string              `json:"ARN"`
	Description string              `json:"Description,omitempty"`
	KmsKeyID    string              `json:"KmsKeyId,omitempty"`
	Created     float64             `json:"Created"`
	Changed     float64             `json:"Changed"`
	Accessed    float64             `json:"Accessed,omitempty"`
	Deleted     float64             `json:"Deleted,omitempty"`
	Tags        []tag               `json:"Tags,omitempty"`
	Versions    map[string]*version `json:"Versions"`
}

// version is one version of a secret's value: the value's JSON
// ({"s": string} or {"b": bytes}) encrypted with Key.
type version struct {
	Created float64  `json:"Created"`
	Stages  []string `json:"Stages,omitempty"`
	Key     string   `json:"Key"`
	Blob    []byte   `json:"Blob"`
	// Hash is a SHA-256 of the value, keyed by the secret's ARN, so that
	// a retried request with the same token is recognised without
	// decrypting.
	Hash string `json:"Hash"`
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

var _ http.Handler = (*Service)(nil)

// Open returns the service with its view of the secrets loaded from the
// bucket and kept up to date by a watch until Close.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Keys == nil {
		return nil, errors.New("secretsmanager: no keys")
	}
	s := &Service{cfg: cfg, log: cfg.Logger, secrets: map[string]*secretEntry{}}
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
	s.rpc = awsproto.JSONRPC{Name: "secretsmanager", TargetPrefix: TargetPrefix, Errors: Errors, MaxBody: MaxRequestBody,
		UnknownOperation: awsproto.SMUnknownOperation, Serialization: awsproto.SMSerialization, Log: s.log,
		Writable: cfg.Writable, Fills: fills}
	wctx, cancel := context.WithCancel(context.Background())
	ch, err := cfg.KV.Watch(wctx, secretPrefix)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("secretsmanager: watching secrets: %w", err)
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

func secretKey(name string) string {
	return secretPrefix + base64.RawURLEncoding.EncodeToString([]byte(name))
}

// apply puts an entry into the view unless the view holds a newer
// revision; a deletion leaves a tombstone.
func (s *Service) apply(e store.Entry) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(e.Key, secretPrefix))
	if err != nil {
		return
	}
	name := string(raw)
	s.vmu.Lock()
	defer s.vmu.Unlock()
	if cur := s.secrets[name]; cur != nil && cur.rev >= e.Revision {
		return
	}
	if e.Deleted {
		s.secrets[name] = &secretEntry{rev: e.Revision, gone: true}
		return
	}
	var rec secretRecord
	if err := json.Unmarshal(e.Value, &rec); err != nil {
		s.log.Error("secretsmanager: unreadable secret record", "key", e.Key, "error", err)
		return
	}
	s.secrets[name] = &secretEntry{rec: rec, rev: e.Revision}
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

func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		msg := err.Error()
		if len(msg) > 256 {
			msg = msg[:256] + "..."
		}
		return awsproto.Errorf(awsproto.SMSerialization, "The request body is not valid JSON for this operation: %s", msg)
	}
	return nil
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// fills are the operations that add data to the store.
var fills = map[string]bool{"CreateSecret": true, "PutSecretValue": true, "UpdateSecret": true, "TagResource": true}
