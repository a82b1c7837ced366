package natsd

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// apiRequests counts the JetStream API requests made on s whose subject
// starts with one of the prefixes, as a subscriber in the same account
// sees them.
type apiRequests struct {
	mu   sync.Mutex
	seen map[string]int
}

func (a *apiRequests) count(prefix string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for subj, c := range a.seen {
		if strings.HasPrefix(subj, prefix) {
			n += c
		}
	}
	return n
}

func watchAPI(t *testing.T, s *Server) *apiRequests {
	t.Helper()
	nc, err := s.Connect("api-watch")
	if err != nil {
		t.Fatal(err)
	}
	a := &apiRequests{seen: map[string]int{}}
	sub, err := nc.Subscribe("$JS.API.>", func(m *nats.Msg) {
		a.mu.Lock()
		a.seen[m.Subject]++
		a.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	return a
}

// TestEnsureUsesExisting: opening a stream, bucket or consumer that
// exists with the configuration asked for makes no create or update
// request (in a cluster each goes through the meta-group); a changed
// configuration is applied with one update.
func TestEnsureUsesExisting(t *testing.T) {
	s := start(t, Config{DataDir: t.TempDir()})
	nc, err := s.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	api := watchAPI(t, s)
	streamCfg := jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage,
		Retention: jetstream.WorkQueuePolicy, Duplicates: 2 * time.Minute}
	consCfg := jetstream.ConsumerConfig{Durable: "C", FilterSubject: "s.a", AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: time.Minute, MaxDeliver: -1, MaxAckPending: 1000}
	kvCfg := jetstream.KeyValueConfig{Bucket: "B", History: 1, TTL: 5 * time.Minute, Storage: jetstream.FileStorage}
	open := func() {
		t.Helper()
		st, err := EnsureStream(ctx, js, streamCfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := EnsureConsumer(ctx, st, consCfg); err != nil {
			t.Fatal(err)
		}
		if _, err := EnsureKeyValue(ctx, js, kvCfg); err != nil {
			t.Fatal(err)
		}
		if _, err := EnsureObjectStore(ctx, js, jetstream.ObjectStoreConfig{Bucket: "O", Storage: jetstream.FileStorage}); err != nil {
			t.Fatal(err)
		}
	}
	open()
	changes := func() int {
		nc.Flush()
		return api.count("$JS.API.STREAM.CREATE.") + api.count("$JS.API.STREAM.UPDATE.") + api.count("$JS.API.CONSUMER.CREATE.") +
			api.count("$JS.API.CONSUMER.DURABLE.CREATE.")
	}
	// Poll until the watcher has seen the first open's requests.
	if err := pollCtx(ctx, func() error {
		if n := changes(); n < 4 {
			return errors.New("requests not seen yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	first := changes()
	open()
	open()
	if n := changes(); n != first {
		t.Errorf("opening what exists made %d create or update requests, want none: %v", n-first, api.seen)
	}

	// A changed setting is applied.
	streamCfg.Duplicates = 3 * time.Minute
	consCfg.AckWait = 2 * time.Minute
	kvCfg.TTL = 10 * time.Minute
	open()
	st, err := js.Stream(ctx, "S")
	if err != nil {
		t.Fatal(err)
	}
	if d := st.CachedInfo().Config.Duplicates; d != 3*time.Minute {
		t.Errorf("stream duplicates %s, want 3m", d)
	}
	c, err := st.Consumer(ctx, "C")
	if err != nil {
		t.Fatal(err)
	}
	if w := c.CachedInfo().Config.AckWait; w != 2*time.Minute {
		t.Errorf("consumer ack wait %s, want 2m", w)
	}
	kv, err := js.KeyValue(ctx, "B")
	if err != nil {
		t.Fatal(err)
	}
	status, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ttl := status.TTL(); ttl != 10*time.Minute {
		t.Errorf("bucket TTL %s, want 10m", ttl)
	}
}

// TestEnsureRefused: a configuration JetStream refuses fails at once,
// not after retries.
func TestEnsureRefused(t *testing.T) {
	s := start(t, Config{DataDir: t.TempDir()})
	nc, err := s.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureStream(t.Context(), js, jetstream.StreamConfig{Name: "A", Subjects: []string{"x.>"}}); err != nil {
		t.Fatal(err)
	}
	op := NewOpening(slog.New(slog.DiscardHandler))
	ctx := op.Context(t.Context())
	// Overlapping subjects: refused with a 400.
	_, err = EnsureStream(ctx, js, jetstream.StreamConfig{Name: "B", Subjects: []string{"x.y"}})
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 400 {
		t.Fatalf("overlapping stream: %v, want JetStream's 400", err)
	}
	if op.String() == "" {
		t.Errorf("Opening says nothing after a failed open")
	}
}

// TestRetry: an attempt that gets no answer in time is retried under a
// new bound; the Opening says what is awaited meanwhile and nothing once
// it is open; a refusal ends the retries.
func TestRetry(t *testing.T) {
	op := NewOpening(slog.New(slog.DiscardHandler))
	ctx := op.Context(t.Context())
	attempts := 0
	var during string
	v, err := Retry(ctx, "stream X", func(actx context.Context) (int, error) {
		attempts++
		if _, ok := actx.Deadline(); !ok {
			t.Errorf("attempt %d has no deadline", attempts)
		}
		during = op.String()
		switch attempts {
		case 1:
			return 0, nats.ErrTimeout
		case 2:
			return 0, &jetstream.APIError{Code: 503, ErrorCode: jsErrClusterNotAvail, Description: "JetStream system temporarily unavailable"}
		}
		return 7, nil
	})
	if err != nil || v != 7 || attempts != 3 {
		t.Fatalf("Retry = %v, %v after %d attempts; want 7 after 3", v, err, attempts)
	}
	if !strings.HasPrefix(during, "stream X (") || !strings.Contains(during, "temporarily unavailable") {
		t.Errorf("Opening during the third attempt: %q", during)
	}
	if s := op.String(); s != "" {
		t.Errorf("Opening once open: %q, want empty", s)
	}

	attempts = 0
	_, err = Retry(ctx, "stream Y", func(context.Context) (int, error) {
		attempts++
		return 0, &jetstream.APIError{Code: 400, ErrorCode: 10052, Description: "stream configuration is invalid"}
	})
	if err == nil || attempts != 1 {
		t.Fatalf("refused: %v after %d attempts, want an error after 1", err, attempts)
	}

	// The caller's deadline ends the retries.
	cctx, cancel := context.WithCancel(ctx)
	attempts = 0
	_, err = Retry(cctx, "stream Z", func(context.Context) (int, error) {
		attempts++
		if attempts == 2 {
			cancel()
		}
		return 0, nats.ErrTimeout
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestHolds(t *testing.T) {
	have := jetstream.StreamConfig{Name: "S", Subjects: []string{"a", "b"}, MaxMsgs: -1, MaxBytes: -1, Replicas: 3,
		Duplicates: time.Minute, Metadata: map[string]string{"_nats.level": "1", "k": "v"}}
	for _, c := range []struct {
		want jetstream.StreamConfig
		ok   bool
	}{
		{jetstream.StreamConfig{Name: "S", Subjects: []string{"a", "b"}, Replicas: 3}, true},
		{jetstream.StreamConfig{Name: "S", Metadata: map[string]string{"k": "v"}}, true},
		{jetstream.StreamConfig{Name: "S", Subjects: []string{"a"}}, false},
		{jetstream.StreamConfig{Name: "S", Replicas: 1}, false},
		{jetstream.StreamConfig{Name: "S", Duplicates: 2 * time.Minute}, false},
		{jetstream.StreamConfig{Name: "S", Metadata: map[string]string{"k": "w"}}, false},
		{jetstream.StreamConfig{Name: "S", Retention: jetstream.WorkQueuePolicy}, false},
	} {
		if got := Holds(have, c.want); got != c.ok {
			t.Errorf("Holds(%+v) = %v, want %v", c.want, got, c.ok)
		}
	}
}
