package sns

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/awsproto/arn"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/store"
)

// Wire constants of SNS.
const (
	// Version is the API version every request names.
	Version = "2010-03-31"
	// Namespace is the xmlns of SNS's responses.
	Namespace = "http://sns.amazonaws.com/doc/2010-03-31/"
	// SigningName is the SigV4 service name.
	SigningName = "sns"
	// ServicePrincipal is who SNS invokes functions as.
	ServicePrincipal = "sns.amazonaws.com"
)

// Errors renders SNS's errors: the query protocol's ErrorResponse, with
// InternalError for unexpected failures. The edge uses it for the route's
// own refusals too.
var Errors = awsproto.Query{Namespace: Namespace, Internal: awsproto.InternalSpec{Code: awsproto.SNSInternalError}}

// QueueAttribute is one message attribute of a delivery to a queue, as
// SQS's SendMessage takes it.
type QueueAttribute struct {
	DataType, StringValue string
	BinaryValue           []byte
}

// Queues delivers to SQS queues: what SNS needs of the SQS service.
// Deliver stores body durably in the queue queueARN names and returns
// the SQS message id.
type Queues interface {
	Deliver(ctx context.Context, queueARN, body string, attrs map[string]QueueAttribute) (string, error)
}

// FIFOQueues is what FIFO topics need of SQS besides Queues: a delivery
// with the message group and deduplication id. Config.Queues may
// implement it; without it FIFO topics deliver nothing (logged).
type FIFOQueues interface {
	DeliverFIFO(ctx context.Context, queueARN, body string, attrs map[string]QueueAttribute, groupID, dedupID string) (string, error)
}

// Config configures the service.
type Config struct {
	// KV is the natsd.SNSBucket bucket.
	KV store.KV
	// NATS is the connection to the JetStream holding natsd.SNSStream.
	NATS *nats.Conn
	// Replicas of the stream; 1 when zero.
	Replicas int
	// Region and Account are this server's.
	Region, Account string
	// Invoker receives the asynchronous invocations of lambda
	// subscriptions, under authz.WithService(sns.amazonaws.com, topic);
	// it checks the function's policy (lambda.InvokeGuard). Nil fails
	// lambda deliveries.
	Invoker invoke.Invoker
	// Queues receives sqs deliveries; nil fails them (logged).
	Queues Queues
	// HTTPClient posts http/https deliveries; a client with a 15-second
	// timeout when nil.
	HTTPClient *http.Client
	// EdgeURL is the edge's base URL for SigningCertURL, UnsubscribeURL
	// and SubscribeURL; "http://localhost" when nil.
	EdgeURL func() string
	// SigningKey signs notifications; a fresh 2048-bit key when nil.
	SigningKey *rsa.PrivateKey
	// RetryDelays are the waits before each redelivery of a failed
	// delivery; its length is the number of retries. DefaultRetryDelays
	// when nil.
	RetryDelays []time.Duration
	// Authorizer checks every operation before it runs (authz.go); nil
	// allows everything (authentication is off).
	Authorizer *authz.Authorizer
	// Writable reports whether the store may take more data (an error
	// naming why not: the data disk is nearly full); while it does not,
	// operations that add data (fills) are ServiceUnavailable, and those
	// that read or free space go on. Nil: always writable.
	Writable func() error
	// Logger receives internal failures and failed deliveries; nil
	// discards.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// DefaultRetryDelays is SNS's delivery policy for http/https endpoints,
// shortened: three immediate-ish retries, then backoff.
var DefaultRetryDelays = []time.Duration{time.Second, 5 * time.Second, 20 * time.Second, time.Minute, 5 * time.Minute}

type op func(ctx context.Context, q awsproto.QueryRequest) (any, error)

// Service is the SNS API handler and its delivery engine. It is safe for
// concurrent use.
type Service struct {
	cfg  Config
	arns arn.Scope
	kv   store.KV
	view *view
	log  *slog.Logger
	mu   sync.Mutex // serialises writes to the bucket (see the package doc)
	ops  map[string]op
	bus  *bus
	stop context.CancelFunc
	done sync.WaitGroup // deliveries in flight
	// closeMu guards closed, which Close sets before waiting on done, so
	// that no delivery starts once it waits.
	closeMu sync.Mutex
	closed  bool
	httpc   *http.Client
	cert    []byte // PEM of the signing key's certificate
}

var _ http.Handler = (*Service)(nil)

// Open loads the topics and subscriptions, keeps them current by a watch,
// and starts delivering what the stream holds. Close stops it.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	s := &Service{cfg: cfg, kv: cfg.KV, log: cfg.Logger,
		arns: arn.Scope{Partition: "aws", Region: cfg.Region, Account: cfg.Account}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	if s.cfg.RetryDelays == nil {
		s.cfg.RetryDelays = DefaultRetryDelays
	}
	if s.cfg.EdgeURL == nil {
		s.cfg.EdgeURL = func() string { return "http://localhost" }
	}
	s.httpc = cfg.HTTPClient
	if s.httpc == nil {
		s.httpc = &http.Client{Timeout: 15 * time.Second}
	}
	if s.cfg.SigningKey == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("sns: signing key: %w", err)
		}
		s.cfg.SigningKey = k
	}
	cert, err := certificate(s.cfg.SigningKey)
	if err != nil {
		return nil, fmt.Errorf("sns: signing certificate: %w", err)
	}
	s.cert = cert
	s.ops = s.dispatch()
	wctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	v, err := openView(ctx, wctx, cfg.KV, s.log)
	if err != nil {
		cancel()
		return nil, err
	}
	s.view = v
	b, err := openBus(ctx, cfg.NATS, cfg.Replicas)
	if err != nil {
		cancel()
		return nil, err
	}
	s.bus = b
	if err := s.startDelivery(wctx); err != nil {
		cancel()
		return nil, err
	}
	return s, nil
}

// Close stops delivery and the watch; accepted messages stay in the
// stream for the next Open.
func (s *Service) Close() {
	s.stop()
	s.bus.stopConsumers()
	s.closeMu.Lock()
	s.closed = true
	s.closeMu.Unlock()
	s.done.Wait()
}

// ServeHTTP serves one SNS request; the edge has authenticated it.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q, err := awsproto.ReadQuery(r)
	var out any
	if err == nil {
		o, ok := s.ops[q.Action]
		switch {
		case !ok || (q.Version != "" && q.Version != Version):
			err = awsproto.Errorf(awsproto.InvalidAction, "Could not find operation %s for version %s", clip(q.Action), clip(q.Version))
		default:
			if err = s.refuseFull(q.Action); err != nil {
				break
			}
			if err = s.authorize(r, q); err == nil {
				out, err = o(r.Context(), q)
			}
		}
	}
	if err != nil {
		if ae := awsproto.AsError(err); ae.Unwrap() != nil {
			s.log.ErrorContext(r.Context(), "sns request failed", "requestId", awsproto.RequestID(r.Context()), "action", q.Action, "error", err)
		}
		Errors.WriteError(w, r, err)
		return
	}
	awsproto.WriteQueryResult(w, r, q.Action, Namespace, out)
}

// fills are the operations that add data to the store.
var fills = map[string]bool{"CreateTopic": true, "SetTopicAttributes": true, "AddPermission": true, "Subscribe": true,
	"ConfirmSubscription": true, "SetSubscriptionAttributes": true, "Publish": true, "PublishBatch": true, "TagResource": true}

// refuseFull is ServiceUnavailable (503, Retry-After) while the store is
// full and action adds data; nil otherwise.
func (s *Service) refuseFull(action string) error {
	if s.cfg.Writable == nil || !fills[action] {
		return nil
	}
	if err := s.cfg.Writable(); err != nil {
		e := awsproto.Errorf(awsproto.SNSServiceUnavailable, "%s", err.Error())
		e.Header = http.Header{"Retry-After": {"30"}}
		return e
	}
	return nil
}

// dispatch is the operations the service serves, by action.
func (s *Service) dispatch() map[string]op {
	return map[string]op{
		"CreateTopic":               s.createTopic,
		"ListTopics":                s.listTopics,
		"GetTopicAttributes":        s.getTopicAttributes,
		"SetTopicAttributes":        s.setTopicAttributes,
		"DeleteTopic":               s.deleteTopic,
		"AddPermission":             s.addPermission,
		"RemovePermission":          s.removePermission,
		"Subscribe":                 s.subscribe,
		"ConfirmSubscription":       s.confirmSubscription,
		"Unsubscribe":               s.unsubscribe,
		"ListSubscriptions":         s.listSubscriptions,
		"ListSubscriptionsByTopic":  s.listSubscriptionsByTopic,
		"GetSubscriptionAttributes": s.getSubscriptionAttributes,
		"SetSubscriptionAttributes": s.setSubscriptionAttributes,
		"Publish":                   s.publish,
		"PublishBatch":              s.publishBatch,
		"TagResource":               s.tagResource,
		"UntagResource":             s.untagResource,
		"ListTagsForResource":       s.listTagsForResource,
	}
}

// clip shortens a client-supplied value echoed in a message.
func clip(s string) string {
	if len(s) > 256 {
		return s[:256] + "..."
	}
	return s
}

func invalid(format string, args ...any) error {
	return awsproto.Errorf(awsproto.SNSInvalidParameter, format, args...)
}

func notFound(what string) error {
	return awsproto.Errorf(awsproto.SNSNotFound, "%s does not exist", what)
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// topicName returns the name a topic ARN of this region and account
// names, or false.
func (s *Service) topicName(topicARN string) (string, bool) {
	pre := s.arns.Topic("")
	if !strings.HasPrefix(topicARN, pre) {
		return "", false
	}
	name := topicARN[len(pre):]
	return name, validTopicName(name)
}

// validTopicName: 1 to 256 of [A-Za-z0-9_-], a FIFO topic's ending in
// ".fifo".
func validTopicName(name string) bool {
	base := strings.TrimSuffix(name, ".fifo")
	if base == "" || len(name) > 256 {
		return false
	}
	for i := 0; i < len(base); i++ {
		c := base[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
