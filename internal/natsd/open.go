package natsd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Opening streams, buckets and consumers.
//
// A stream that exists is looked up and used as it is when its
// configuration already holds what the caller asks for: creating or
// updating it would go through the cluster's meta-group and be answered
// by the stream's leader once applied, and on a member restarting after
// a crash that answer can be late or never come (a leader elected
// meanwhile, a request dropped by a busy API queue). Every request is
// bounded on its own and retried with backoff, so one lost answer costs
// an attempt, not the whole open.

const (
	// openAttempt bounds a first attempt; each retry doubles it up to
	// openAttemptMax.
	openAttempt    = 5 * time.Second
	openAttemptMax = 20 * time.Second
	// openBound bounds the whole open when the caller's context has no
	// deadline.
	openBound = time.Minute
	// openPause is the first pause between attempts; it doubles up to
	// openPauseMax.
	openPause    = 100 * time.Millisecond
	openPauseMax = 2 * time.Second
)

// Opening tracks what a starting server waits for: /healthz shows it and
// the log says it when a wait lasts. Its methods are safe for concurrent
// use; a nil *Opening tracks nothing.
type Opening struct {
	log *slog.Logger

	mu    sync.Mutex
	what  string
	since time.Time
	last  error
}

// NewOpening returns an Opening that logs to log.
func NewOpening(log *slog.Logger) *Opening {
	if log == nil {
		log = slog.Default()
	}
	return &Opening{log: log}
}

type openingKey struct{}

// Context returns ctx carrying o: the opening functions of this package
// (EnsureStream, EnsureKeyValue, EnsureConsumer, EnsureObjectStore,
// WaitReady, OpenLock) report to it.
func (o *Opening) Context(ctx context.Context) context.Context {
	return context.WithValue(ctx, openingKey{}, o)
}

// OpeningFrom returns the Opening ctx carries, or nil.
func OpeningFrom(ctx context.Context) *Opening {
	o, _ := ctx.Value(openingKey{}).(*Opening)
	return o
}

// Set records that the server now waits for what ("" when it waits for
// nothing).
func (o *Opening) Set(what string) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.what != what {
		o.what, o.since, o.last = what, time.Now(), nil
	}
}

// note records err as the last failure.
func (o *Opening) note(err error) {
	if o == nil {
		return
	}
	o.mu.Lock()
	o.last = err
	o.mu.Unlock()
}

// waitState is what an Opening says.
type waitState struct {
	what  string
	since time.Time
	last  error
}

// enter records that the server now waits for what, within what it waited
// for before; leave(prev) returns to that.
func (o *Opening) enter(what string) (prev waitState) {
	if o == nil {
		return waitState{}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	prev = waitState{o.what, o.since, o.last}
	o.what, o.since, o.last = what, time.Now(), nil
	return prev
}

func (o *Opening) leave(prev waitState) {
	if o == nil {
		return
	}
	o.mu.Lock()
	o.what, o.since, o.last = prev.what, prev.since, prev.last
	o.mu.Unlock()
}

// failed records a failed attempt at what and logs it.
func (o *Opening) failed(what string, attempt int, err error) {
	if o == nil {
		return
	}
	o.mu.Lock()
	o.last = err
	waited := time.Since(o.since)
	o.mu.Unlock()
	o.log.Info("still opening the store", "waiting_for", what, "attempt", attempt, "waited", waited.Round(time.Millisecond), "err", err)
}

// updating logs that what is opened exists with another configuration
// and is updated to the one asked for.
func (o *Opening) updating(what string) {
	if o != nil {
		o.log.Info("updating to the configuration asked for", "what", what)
	}
}

// String says what the server waits for, for how long and the last
// failure: "stream SQS_q (12s; last: context deadline exceeded)", or ""
// when it waits for nothing.
func (o *Opening) String() string {
	if o == nil {
		return ""
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.what == "" {
		return ""
	}
	s := fmt.Sprintf("%s (%s", o.what, time.Since(o.since).Round(time.Second))
	if o.last != nil {
		s += "; last: " + o.last.Error()
	}
	return s + ")"
}

// Retry runs op, each attempt under its own bound, until it succeeds,
// fails for good (JetStream refusing the request) or ctx ends (openBound
// when ctx has no deadline). what names what op opens, for the Opening ctx
// carries and the log.
func Retry[T any](ctx context.Context, what string, op func(ctx context.Context) (T, error)) (T, error) {
	o := OpeningFrom(ctx)
	prev := o.enter(what)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, openBound)
		defer cancel()
	}
	bound, pause := openAttempt, openPause
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, bound)
		v, err := op(actx)
		cancel()
		if err == nil {
			o.leave(prev)
			return v, nil
		}
		if ctx.Err() != nil {
			o.note(err)
			var zero T
			return zero, fmt.Errorf("natsd: open %s: %w (last: %w)", what, ctx.Err(), err)
		}
		if permanent(err) {
			o.note(err)
			var zero T
			return zero, fmt.Errorf("natsd: open %s: %w", what, err)
		}
		o.failed(what, attempt, err)
		select {
		case <-ctx.Done():
			var zero T
			return zero, fmt.Errorf("natsd: open %s: %w (last: %w)", what, ctx.Err(), err)
		case <-time.After(pause):
		}
		bound, pause = min(2*bound, openAttemptMax), min(2*pause, openPauseMax)
	}
}

// permanent reports an error that a retry would meet again: JetStream
// refusing the configuration. A timeout, a lost answer, no leader, no
// peers yet or a name taken meanwhile are worth another attempt.
func permanent(err error) bool {
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) || errors.Is(err, jetstream.ErrBucketExists) ||
		errors.Is(err, jetstream.ErrConsumerExists) {
		return false
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case jsErrClusterNoPeers, jsErrClusterNotAvail, jsErrStreamOffline, jsErrConsumerOffline, jsErrClusterNotLeader,
			jsErrInsufficientResources, jetstream.JSErrCodeConsumerAlreadyExists, jetstream.JSErrCodeConsumerNameExists,
			jetstream.JSErrCodeConsumerExists, jetstream.JSErrCodeStreamNameInUse:
			return false
		}
		return apiErr.Code < 500
	}
	// No answer in time, no responders, a connection reconnecting: worth
	// another attempt.
	return errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, jetstream.ErrInvalidBucketName) ||
		errors.Is(err, jetstream.ErrInvalidStreamName) || errors.Is(err, jetstream.ErrBadBucket)
}

// nats-server's error codes for a cluster that cannot serve a request yet.
const (
	jsErrClusterNoPeers        jetstream.ErrorCode = 10005
	jsErrClusterNotAvail       jetstream.ErrorCode = 10008
	jsErrClusterNotLeader      jetstream.ErrorCode = 10009
	jsErrInsufficientResources jetstream.ErrorCode = 10023
	jsErrStreamOffline         jetstream.ErrorCode = 10118
	jsErrConsumerOffline       jetstream.ErrorCode = 10119
)

// EnsureStream returns the stream cfg names: created when missing, used
// as it is when its configuration holds cfg (see Holds), else updated to
// cfg. Each request is bounded and retried (package comment) until ctx
// ends.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return Retry(ctx, "stream "+cfg.Name, func(ctx context.Context) (jetstream.Stream, error) {
		st, err := js.Stream(ctx, cfg.Name)
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
			return js.CreateStream(ctx, cfg)
		case err != nil:
			return nil, err
		case Holds(st.CachedInfo().Config, cfg):
			return st, nil
		}
		OpeningFrom(ctx).updating("stream " + cfg.Name)
		return js.UpdateStream(ctx, cfg)
	})
}

// EnsureKeyValue is EnsureStream for the KV bucket cfg names.
func EnsureKeyValue(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return Retry(ctx, "bucket "+cfg.Bucket, func(ctx context.Context) (jetstream.KeyValue, error) {
		kv, err := js.KeyValue(ctx, cfg.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return js.CreateKeyValue(ctx, cfg)
		}
		if err != nil {
			return nil, err
		}
		st, err := kv.Status(ctx)
		if err != nil {
			return nil, err
		}
		if Holds(st.Config(), cfg) {
			return kv, nil
		}
		OpeningFrom(ctx).updating("bucket " + cfg.Bucket)
		return js.UpdateKeyValue(ctx, cfg)
	})
}

// EnsureObjectStore returns the object store cfg names, created when
// missing; an existing one is used as it is.
func EnsureObjectStore(ctx context.Context, js jetstream.JetStream, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	return Retry(ctx, "object store "+cfg.Bucket, func(ctx context.Context) (jetstream.ObjectStore, error) {
		obs, err := js.ObjectStore(ctx, cfg.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return js.CreateObjectStore(ctx, cfg)
		}
		return obs, err
	})
}

// EnsureConsumer is EnsureStream for the durable consumer cfg names on st.
func EnsureConsumer(ctx context.Context, st jetstream.Stream, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	name := cfg.Durable
	if name == "" {
		name = cfg.Name
	}
	if name == "" {
		return nil, errors.New("natsd: EnsureConsumer needs a durable consumer's name")
	}
	return Retry(ctx, "consumer "+name+" of "+st.CachedInfo().Config.Name, func(ctx context.Context) (jetstream.Consumer, error) {
		c, err := st.Consumer(ctx, name)
		switch {
		case errors.Is(err, jetstream.ErrConsumerNotFound):
			return st.CreateOrUpdateConsumer(ctx, cfg)
		case err != nil:
			return nil, err
		case Holds(c.CachedInfo().Config, cfg):
			return c, nil
		}
		OpeningFrom(ctx).updating("consumer " + name)
		return st.UpdateConsumer(ctx, cfg)
	})
}

// Holds reports whether have, a configuration JetStream reports, holds
// every setting want gives: each field of want that is not its zero value
// (a default JetStream fills in) equals have's, maps key by key, lists
// whole. Both are compared in their JSON form.
func Holds(have, want any) bool {
	h, err1 := asJSON(have)
	w, err2 := asJSON(want)
	if err1 != nil || err2 != nil {
		return false
	}
	return holds(h, w)
}

func asJSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	err = json.Unmarshal(b, &out)
	return out, err
}

func holds(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			if zero(wv) {
				continue
			}
			if hv, ok := h[k]; !ok || !holds(hv, wv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !holds(h[i], w[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(have, want)
}

func zero(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case float64:
		return v == 0
	case string:
		return v == ""
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}
