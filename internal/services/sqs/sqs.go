package sqs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/store"
)

// Wire constants of SQS.
const (
	// SigningName is the SigV4 service name.
	SigningName = "sqs"
	// TargetPrefix starts the X-Amz-Target of every JSON request.
	TargetPrefix = "AmazonSQS."
	// Version is the API version of the query protocol.
	Version = "2012-11-05"
)

// JSONErrors renders SQS's errors as its JSON 1.0 front does, with the
// x-amzn-query-error header of a query-compatible service.
var JSONErrors = awsproto.JSON{Version: "1.0", TypePrefix: "com.amazonaws.sqs#", QueryCompatible: true,
	Internal: awsproto.InternalSpec{Code: awsproto.SQSInternalError}}

// Errors renders an error in the protocol of the request: the query
// protocol's XML to a form-encoded request, JSON otherwise. The edge uses
// it for the route's own refusals.
var Errors awsproto.Renderer = protocolErrors{}

type protocolErrors struct{}

func (protocolErrors) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	if r != nil && isQuery(r) {
		QueryErrors.WriteError(w, r, err)
		return
	}
	JSONErrors.WriteError(w, r, err)
}

// MaxRequestBody bounds a request body: a batch of messages of 1 MiB in
// all (SQS's quota), with room for JSON's escaping of <, > and &.
const MaxRequestBody = 8 << 20

const maxBody = MaxRequestBody

// Config configures the service.
type Config struct {
	// KV is the natsd.SQSBucket bucket.
	KV store.KV
	// NC is the connection to JetStream, where messages live.
	NC *nats.Conn
	// Replicas is the replica count of each queue's stream (1 on a single
	// node).
	Replicas int
	// Region and Account are this server's.
	Region, Account string
	// Logger receives internal failures; nil discards.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Authorizer checks every operation before it runs (authz.go); nil
	// allows everything (authentication is off).
	Authorizer *authz.Authorizer
	// MaxPollInterval bounds one wait of a long poll between looks at the
	// queue's delayed messages; 1 s when zero.
	MaxPollInterval time.Duration
	// AckTimeout bounds the wait for JetStream to confirm an ack or nak
	// (DeleteMessage, ChangeMessageVisibility); 5 s when zero.
	AckTimeout time.Duration
	// Writable reports whether the store may take more data (an error
	// naming why not: the data disk is nearly full); while it does not,
	// operations that add data (fills) and deliveries are
	// ServiceUnavailable, and those that read or free space go on. Nil:
	// always writable.
	Writable func() error
}

// fills are the operations that add data to the store.
var fills = map[string]bool{"CreateQueue": true, "SetQueueAttributes": true, "TagQueue": true, "SendMessage": true,
	"SendMessageBatch": true, "StartMessageMoveTask": true, "AddPermission": true}

// refuseFull is ServiceUnavailable (503, Retry-After) while the store is
// full and op adds data; nil otherwise.
func (s *Service) refuseFull(op string) error {
	if s.cfg.Writable == nil || !fills[op] {
		return nil
	}
	if err := s.cfg.Writable(); err != nil {
		e := awsproto.Errorf(awsproto.SQSServiceUnavailable, "%s", err.Error())
		e.Header = http.Header{"Retry-After": {"30"}}
		return e
	}
	return nil
}

type op = awsproto.JSONOp

// Service is the SQS API handler. It is safe for concurrent use.
type Service struct {
	cfg Config
	js  jetstream.JetStream
	log *slog.Logger
	ops map[string]op
	rpc awsproto.JSONRPC

	ackTimeout time.Duration

	mu     sync.Mutex // serialises queue writes (create, set, delete, tag)
	view   view
	cancel context.CancelFunc
	done   chan struct{}

	rtMu sync.Mutex
	rts  map[string]*runtime // by queue id

	firstMu sync.Mutex
	first   map[string]msgState // "<id>/<stream seq>" → a standard queue's message as last received here

	groupMu sync.Mutex
	groups  map[string]cachedGroup // FIFO group records as last read or written, by key

	attemptMu sync.Mutex
	attemptKV jetstream.KeyValue // natsd.SQSAttemptBucket, opened on first use

	bg      context.Context // cancelled by Close
	tasksMu sync.Mutex
	tasks   []*moveTask // message move tasks, oldest first
	taskWG  sync.WaitGroup
}

var _ http.Handler = (*Service)(nil)

// Open returns the service, its view of the queues loaded from the bucket
// and kept up to date by a watch until Close.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	s := &Service{cfg: cfg, log: cfg.Logger, rts: map[string]*runtime{}, first: map[string]msgState{}, groups: map[string]cachedGroup{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	if s.cfg.Replicas < 1 {
		s.cfg.Replicas = 1
	}
	if s.cfg.MaxPollInterval <= 0 {
		s.cfg.MaxPollInterval = time.Second
	}
	s.ackTimeout = s.cfg.AckTimeout
	if s.ackTimeout <= 0 {
		s.ackTimeout = 5 * time.Second
	}
	js, err := jetstream.New(cfg.NC)
	if err != nil {
		return nil, fmt.Errorf("sqs: jetstream: %w", err)
	}
	s.js = js
	s.ops = s.dispatch()
	s.rpc = awsproto.JSONRPC{Name: "sqs", TargetPrefix: TargetPrefix, Errors: JSONErrors, MaxBody: maxBody,
		UnknownOperation: awsproto.SQSUnknownOperation, Serialization: awsproto.SQSSerialization, Log: s.log,
		Check: func(_ *http.Request, op string, _ []byte) error { return s.refuseFull(op) }}
	s.view.init()
	wctx, cancel := context.WithCancel(context.Background())
	ch, err := cfg.KV.Watch(wctx, queuePrefix)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("sqs: watching queues: %w", err)
	}
	s.cancel, s.done, s.bg = cancel, make(chan struct{}), wctx
	loaded := make(chan struct{})
	go s.watch(ch, loaded)
	select {
	case <-loaded:
	case <-ctx.Done():
		cancel()
		return nil, ctx.Err()
	}
	return s, nil
}

// Close stops the watch and the message move tasks.
func (s *Service) Close() {
	s.cancel()
	<-s.done
	s.taskWG.Wait()
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
		s.view.apply(e)
	}
	if first {
		close(loaded)
	}
}

// ServeHTTP serves one SQS request; the edge has authenticated it.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isQuery(r) {
		s.serveQuery(w, r)
		return
	}
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
		return awsproto.Errorf(awsproto.SQSSerialization, "The request body is not valid JSON for this operation: %s", clip(err.Error()))
	}
	return nil
}

// clip shortens a client-supplied value echoed in a message.
func clip(s string) string {
	if len(s) > 256 {
		return s[:256] + "..."
	}
	return s
}

func missing(param string) error {
	return awsproto.Errorf(awsproto.SQSMissingParameter, "The request must contain the parameter %s.", param)
}

func invalidParam(format string, args ...any) error {
	return awsproto.Errorf(awsproto.SQSInvalidParameterValue, format, args...)
}

func noQueue() error {
	return awsproto.Errorf(awsproto.SQSQueueDoesNotExist, "The specified queue does not exist.")
}

// dispatch is the operations the service serves, by name.
func (s *Service) dispatch() map[string]op {
	return map[string]op{
		"CreateQueue":                  s.createQueue,
		"GetQueueUrl":                  s.getQueueURL,
		"ListQueues":                   s.listQueues,
		"DeleteQueue":                  s.deleteQueue,
		"GetQueueAttributes":           s.getQueueAttributes,
		"SetQueueAttributes":           s.setQueueAttributes,
		"PurgeQueue":                   s.purgeQueue,
		"TagQueue":                     s.tagQueue,
		"UntagQueue":                   s.untagQueue,
		"ListQueueTags":                s.listQueueTags,
		"ListDeadLetterSourceQueues":   s.listDeadLetterSourceQueues,
		"SendMessage":                  s.sendMessage,
		"SendMessageBatch":             s.sendMessageBatch,
		"ReceiveMessage":               s.receiveMessage,
		"DeleteMessage":                s.deleteMessage,
		"DeleteMessageBatch":           s.deleteMessageBatch,
		"ChangeMessageVisibility":      s.changeMessageVisibility,
		"ChangeMessageVisibilityBatch": s.changeMessageVisibilityBatch,
		"StartMessageMoveTask":         s.startMessageMoveTask,
		"ListMessageMoveTasks":         s.listMessageMoveTasks,
		"CancelMessageMoveTask":        s.cancelMessageMoveTask,
		"AddPermission":                s.addPermission,
		"RemovePermission":             s.removePermission,
	}
}
