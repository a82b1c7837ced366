package dynamodb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/services/dynamodb/attr"
	"github.com/kumo-run/kumo/internal/services/dynamodb/expr"
	"github.com/kumo-run/kumo/internal/store"
)

// Wire constants of DynamoDB.
const (
	// SigningName is the SigV4 service name.
	SigningName = "dynamodb"
	// TargetPrefix starts the X-Amz-Target of every request.
	TargetPrefix = "DynamoDB_20120810."
)

// Errors renders DynamoDB's errors as its JSON 1.0 protocol does.
var Errors = awsproto.JSON{Version: "1.0", TypePrefix: "com.amazonaws.dynamodb.v20120810#",
	Internal: awsproto.InternalSpec{Code: awsproto.DynamoDBInternalServerError}}

// MaxRequestBody bounds a request body: a BatchWriteItem of 25 items of
// 400 KB (DynamoDB's 16 MB request limit), with room for JSON's escaping.
const MaxRequestBody = 20 << 20

// Config configures the service.
type Config struct {
	// KV is the natsd.DynamoDBBucket bucket.
	KV store.KV
	// NC is the connection to JetStream, where items live.
	NC *nats.Conn
	// Replicas is the replica count of each table's stream.
	Replicas int
	// Region and Account are this server's.
	Region, Account string
	// Logger receives internal failures; nil discards.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Authorizer checks every operation before it runs (authz.go); nil
	// allows everything.
	Authorizer *authz.Authorizer
	// TTLInterval is how often expired items are looked for; 30 s when
	// zero.
	TTLInterval time.Duration
	// MaxItemBytes bounds the items this node holds in memory, all tables
	// together, in bytes as DynamoDB counts an item's size: a write that
	// would grow them past it is refused (budget.go). 0: no bound.
	MaxItemBytes int64
}

type op = awsproto.JSONOp

// Service is the DynamoDB API handler. It is safe for concurrent use.
//
// Lock order: Service.mu (table writes); the stripe locks of one or more
// items (a transaction takes them in (table id, stripe) order); applyMu;
// an index's mu; fMu. idxMu, viewMu and commits.mu are taken alone.
type Service struct {
	cfg Config
	js  jetstream.JetStream
	log *slog.Logger
	ops map[string]op
	rpc awsproto.JSONRPC
	// streams are the DynamoDB Streams operations (streams.go)
	streams map[string]op

	mu sync.Mutex // serialises table metadata writes

	held atomic.Int64 // bytes of the items the indexes hold (budget.go)

	commits committer // group commit of stream-table writes (commit.go)

	viewMu sync.RWMutex
	tables map[string]*table // by name

	idxMu   sync.Mutex
	indexes map[string]*index // by table id
	dropped map[string]bool   // ids of tables deleted while this node ran

	fMu        sync.Mutex
	applied    uint64        // the last stream sequence this node applied
	changed    chan struct{} // closed and replaced on every apply
	loaded     chan struct{} // closed once the stream is replayed
	followDone chan struct{}

	logs sync.Map // table id → *logSpec: where its writes' change records go (streams.go)

	applyMu sync.RWMutex // held by the follower while it applies
	pending []pendingMsg // the follower's incomplete transaction

	cancel    context.CancelFunc
	done      chan struct{}
	sweepDone chan struct{}
}

var _ http.Handler = (*Service)(nil)

// Open returns the service with its tables loaded from the bucket and
// kept up to date by a watch until Close.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	s := &Service{cfg: cfg, log: cfg.Logger, tables: map[string]*table{}, indexes: map[string]*index{}, dropped: map[string]bool{},
		changed: make(chan struct{}), loaded: make(chan struct{}), followDone: make(chan struct{}), sweepDone: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	if s.cfg.Replicas < 1 {
		s.cfg.Replicas = 1
	}
	if s.cfg.TTLInterval <= 0 {
		s.cfg.TTLInterval = 30 * time.Second
	}
	js, err := jetstream.New(cfg.NC)
	if err != nil {
		return nil, fmt.Errorf("dynamodb: jetstream: %w", err)
	}
	s.js = js
	s.ops = s.dispatch()
	s.streams = s.streamOps()
	s.rpc = awsproto.JSONRPC{Name: "dynamodb", TargetPrefix: TargetPrefix, Errors: Errors, MaxBody: MaxRequestBody,
		UnknownOperation: awsproto.DynamoDBUnknownOperation, Serialization: awsproto.DynamoDBSerialization,
		ClientError: clientError, CRC32: true, Log: s.log}
	if _, err := natsd.EnsureStream(ctx, js, s.streamConfig()); err != nil {
		return nil, fmt.Errorf("dynamodb: the items stream: %w", err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	ch, err := cfg.KV.Watch(wctx, tablePrefix)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("dynamodb: watching tables: %w", err)
	}
	s.cancel, s.done = cancel, make(chan struct{})
	loaded := make(chan struct{})
	go s.watch(ch, loaded)
	go s.follow(wctx)
	go s.sweeper(wctx, s.cfg.TTLInterval)
	select {
	case <-loaded:
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	}
	return s, nil
}

// Close stops the watch and the stream's follower.
func (s *Service) Close() {
	s.cancel()
	<-s.done
	<-s.followDone
	<-s.sweepDone
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

// ServeHTTP serves one DynamoDB or DynamoDB Streams request; the edge has
// authenticated it.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := s.rpc.Operation(r)
	var o op
	if ok {
		o = s.ops[name]
	} else if sname, isStreams := strings.CutPrefix(r.Header.Get("X-Amz-Target"), StreamsTargetPrefix); isStreams && r.Method == http.MethodPost {
		name, o = sname, s.streams[sname]
	}
	s.rpc.Serve(w, r, name, o)
}

// clientError turns the validation errors of attr and expr into
// ValidationException.
func clientError(err error) error {
	var ae *attr.Error
	if errors.As(err, &ae) {
		return validation("%s", ae.Msg)
	}
	var ee *expr.Error
	if errors.As(err, &ee) {
		return validation("%s", ee.Msg)
	}
	return err
}

// decode reads a request body into v.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		if ce := clientError(err); ce != err {
			return ce
		}
		return awsproto.Errorf(awsproto.DynamoDBSerialization, "%s", clip(err.Error()))
	}
	return nil
}

func clip(s string) string {
	if len(s) > 256 {
		return s[:256] + "..."
	}
	return s
}

func validation(format string, args ...any) *awsproto.Error {
	return awsproto.Errorf(awsproto.DynamoDBValidation, format, args...)
}

func invalidParams(format string, args ...any) *awsproto.Error {
	return validation("One or more parameter values were invalid: "+format, args...)
}

func notFound() error {
	return awsproto.Errorf(awsproto.DynamoDBResourceNotFound, "Requested resource not found")
}

// dispatch is the operations the service serves, by name.
func (s *Service) dispatch() map[string]op {
	return map[string]op{
		"CreateTable":        s.createTable,
		"DescribeTable":      s.describeTable,
		"ListTables":         s.listTables,
		"DeleteTable":        s.deleteTable,
		"UpdateTable":        s.updateTable,
		"TagResource":        s.tagResource,
		"UntagResource":      s.untagResource,
		"ListTagsOfResource": s.listTagsOfResource,
		"DescribeEndpoints":  s.describeEndpoints,
		"DescribeLimits":     s.describeLimits,
		"PutItem":            s.putItem,
		"GetItem":            s.getItem,
		"UpdateItem":         s.updateItem,
		"DeleteItem":         s.deleteItem,
		"Query":              s.query,
		"BatchGetItem":       s.batchGetItem,
		"BatchWriteItem":     s.batchWriteItem,
		"TransactWriteItems": s.transactWriteItems,
		"TransactGetItems":   s.transactGetItems,
		"Scan":               s.scan,
		"UpdateTimeToLive":   s.updateTimeToLive,
		"DescribeTimeToLive": s.describeTimeToLive,
	}
}
