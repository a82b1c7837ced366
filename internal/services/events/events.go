package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kumo-run/kumo/internal/asyncq"
	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/awsproto/arn"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/store"
)

// Wire constants of EventBridge.
const (
	// SigningName is the SigV4 service name.
	SigningName = "events"
	// TargetPrefix starts the X-Amz-Target of every request.
	TargetPrefix = "AWSEvents."
	// ServicePrincipal is who EventBridge invokes functions as.
	ServicePrincipal = "events.amazonaws.com"
	// DefaultBus is the account's bus that always exists.
	DefaultBus = "default"
	// MaxRequestBody bounds a request: PutEvents' 256 KB of entries with
	// room for JSON's escaping.
	MaxRequestBody = 1 << 20
)

// Errors renders EventBridge's errors: JSON 1.1 with the bare code in
// __type, and InternalException for the service's own failures. The edge
// renders its refusals of EventBridge requests with it too.
var Errors = awsproto.JSON{Version: "1.1", Internal: awsproto.InternalSpec{Code: awsproto.EventsInternal}}

// Config configures the service.
type Config struct {
	// KV is the natsd.EventsBucket bucket.
	KV store.KV
	// NATS is the connection to the JetStream holding natsd.EventsStream.
	NATS *nats.Conn
	// Replicas of the stream; 1 when zero.
	Replicas int
	// Region and Account are this server's.
	Region, Account string
	// Invoker receives the asynchronous invocations of Lambda targets,
	// under authz.WithService(events.amazonaws.com, rule ARN); it checks
	// the function's policy (lambda.InvokeGuard). Nil fails them.
	Invoker invoke.Invoker
	// Targets receives SQS and SNS deliveries and dead-letter events;
	// nil fails them.
	Targets asyncq.Targets
	// Authorizer checks every operation before it runs (authz.go); nil
	// allows everything (authentication is off).
	Authorizer *authz.Authorizer
	// Logger receives internal failures and failed deliveries; nil
	// discards.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// RetryDelay is the wait before retry n (1-based) of a failed
	// delivery; DefaultRetryDelay when nil.
	RetryDelay func(n int) time.Duration
	// Tick is how often schedules are checked; a second when zero.
	Tick time.Duration
	// ScheduleMinute is how long a minute of a rate() expression lasts;
	// a minute when zero. Only tests shorten it (config's test-only
	// KUMO_SCHEDULE_MINUTE).
	ScheduleMinute time.Duration
	// Writable reports whether the store may take more data (an error
	// saying why not); while it does not, the operations that add data
	// (fills) are ServiceUnavailable and the rest go on. Nil: always
	// writable.
	Writable func() error
}

// DefaultRetryDelay backs off exponentially from a second to five
// minutes.
func DefaultRetryDelay(n int) time.Duration {
	d := time.Second << min(n-1, 9)
	return min(d, 5*time.Minute)
}

type op func(s *Service, ctx context.Context, body []byte) (any, error)

// Service is the EventBridge API handler, its matching and delivery
// engine and its scheduler. It is safe for concurrent use.
type Service struct {
	cfg  Config
	arns arn.Scope
	kv   store.KV
	view *view
	log  *slog.Logger
	rpc  awsproto.JSONRPC
	bus  *stream
	stop context.CancelFunc
	done sync.WaitGroup // deliveries and the scheduler
	// closeMu guards closed, which Close sets before waiting on done.
	closeMu sync.Mutex
	closed  bool
	// nextFire memoizes each schedule's next period as last read (see
	// fire), by rule ARN, expression and anchor.
	nextFire sync.Map
}

var _ http.Handler = (*Service)(nil)

// Open loads buses and rules, keeps them current by a watch, starts
// matching and delivering what the stream holds and firing schedules.
// Close stops it.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	s := &Service{cfg: cfg, kv: cfg.KV, log: cfg.Logger,
		arns: arn.Scope{Partition: "aws", Region: cfg.Region, Account: cfg.Account}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.rpc = awsproto.JSONRPC{Name: "events", TargetPrefix: TargetPrefix, Errors: Errors, MaxBody: MaxRequestBody,
		UnknownOperation: awsproto.EventsUnknownOperation, Serialization: awsproto.EventsSerialization,
		SerializationMessage: "Could not read the request body.", Check: s.authorize, Log: s.log,
		Writable: cfg.Writable, Fills: fills}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	if s.cfg.RetryDelay == nil {
		s.cfg.RetryDelay = DefaultRetryDelay
	}
	if s.cfg.Tick <= 0 {
		s.cfg.Tick = time.Second
	}
	if s.cfg.ScheduleMinute <= 0 {
		s.cfg.ScheduleMinute = time.Minute
	}
	wctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	v, err := openView(ctx, wctx, cfg.KV, s.log)
	if err != nil {
		cancel()
		return nil, err
	}
	s.view = v
	b, err := openStream(ctx, cfg.NATS, cfg.Replicas)
	if err != nil {
		cancel()
		return nil, err
	}
	s.bus = b
	if err := s.startDelivery(wctx); err != nil {
		cancel()
		b.stopConsumers()
		return nil, err
	}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		s.runSchedules(wctx)
	}()
	return s, nil
}

// Close stops delivery, the scheduler and the watch; accepted events stay
// in the stream for the next Open.
func (s *Service) Close() {
	s.stop()
	s.bus.stopConsumers()
	s.closeMu.Lock()
	s.closed = true
	s.closeMu.Unlock()
	s.done.Wait()
}

// ServeHTTP serves one EventBridge request; the edge has authenticated
// it.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := s.rpc.Operation(r)
	e, found := operations[name]
	var o awsproto.JSONOp
	if ok && found {
		o = func(ctx context.Context, _ *http.Request, body []byte) (any, error) {
			out, err := e.run(s, ctx, body)
			if m, ok := out.(map[string]any); ok {
				for k, v := range m {
					if v == nil {
						delete(m, k) // optional members are left out, not null
					}
				}
			}
			return out, err
		}
	}
	s.rpc.Serve(w, r, name, o)
}

// decode reads a request body into v; a body that is not the shape's
// JSON is SerializationException.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return awsproto.Errorf(awsproto.EventsSerialization, "Unexpected value type in the payload at %s", te.Field)
		}
		return awsproto.Errorf(awsproto.EventsSerialization, "Could not parse the request body as JSON.")
	}
	return nil
}

func validation(format string, args ...any) error {
	return awsproto.Errorf(awsproto.EventsValidation, format, args...)
}

// constraint is the "1 validation error detected" message of a member
// that fails its model constraint.
func constraint(value, member, rule string) error {
	return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", clip(value), member, rule)
}

func notFound(format string, args ...any) error {
	return awsproto.Errorf(awsproto.EventsResourceNotFound, format, args...)
}

// clip shortens a client-supplied value echoed in a message.
func clip(s string) string {
	if len(s) > 256 {
		return s[:256] + "..."
	}
	return s
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// epoch is a JSON 1.1 timestamp: seconds since the epoch.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	return []byte(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)), nil
}

func (e *epoch) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("timestamp %s: %w", b, err)
	}
	*e = epoch(time.UnixMilli(int64(f * 1000)).UTC())
	return nil
}

// fills are the operations that add data to the store.
var fills = map[string]bool{"CreateEventBus": true, "PutEvents": true, "PutRule": true, "PutTargets": true, "TagResource": true}
