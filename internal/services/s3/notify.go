package s3

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/store"
)

// ServicePrincipal is who S3 invokes functions and sends to queues and
// topics as.
const ServicePrincipal = "s3.amazonaws.com"

// Destinations reaches the functions, queues and topics notifications go
// to. Its methods are safe for concurrent use.
type Destinations interface {
	// CheckFunction reports whether functionARN names a function whose
	// policy allows ServicePrincipal to invoke it for the bucket
	// bucketARN (aws:SourceArn) of this server's account: nil if so, an
	// error wrapping ErrDestination (saying why) if not.
	CheckFunction(ctx context.Context, functionARN, bucketARN string) error
	// Send delivers body to arn: a function is invoked asynchronously
	// (queued: retries, destinations and dead-letter targets apply) as
	// ServicePrincipal with aws:SourceArn bucketARN; a queue is sent a
	// message; a topic is published the message. It returns once the
	// destination has accepted it. An error wrapping ErrDestination says
	// the destination does not exist or refuses the bucket: retrying
	// cannot help.
	Send(ctx context.Context, arn, bucketARN string, body []byte) error
}

// ErrDestination marks a destination that does not exist or does not let
// the bucket notify it.
var ErrDestination = errors.New("s3: destination cannot be validated")

// notification is a bucket's notification configuration, as stored in the
// bucket's record and as S3's XML carries it (NotificationConfiguration).
type notification struct {
	XMLName xml.Name       `xml:"NotificationConfiguration" json:"-"`
	NS      string         `xml:"xmlns,attr,omitempty" json:"-"`
	Topics  []notifyTarget `xml:"TopicConfiguration" json:"topics,omitempty"`
	Queues  []notifyTarget `xml:"QueueConfiguration" json:"queues,omitempty"`
	Lambdas []lambdaTarget `xml:"CloudFunctionConfiguration" json:"lambdas,omitempty"`
	// EventBridge is accepted and kept, not delivered to.
	EventBridge *struct{} `xml:"EventBridgeConfiguration" json:"eventBridge,omitempty"`
}

// notifyTarget is a TopicConfiguration or QueueConfiguration: the ARN is
// in Topic or Queue.
type notifyTarget struct {
	ID     string       `xml:"Id" json:"id"`
	Topic  string       `xml:"Topic,omitempty" json:"topic,omitempty"`
	Queue  string       `xml:"Queue,omitempty" json:"queue,omitempty"`
	Events []string     `xml:"Event" json:"events"`
	Filter *notifFilter `xml:"Filter" json:"filter,omitempty"`
}

// lambdaTarget is a LambdaFunctionConfiguration (CloudFunctionConfiguration
// on the wire).
type lambdaTarget struct {
	ID       string       `xml:"Id" json:"id"`
	Function string       `xml:"CloudFunction" json:"function"`
	Events   []string     `xml:"Event" json:"events"`
	Filter   *notifFilter `xml:"Filter" json:"filter,omitempty"`
}

type notifFilter struct {
	Key struct {
		Rules []filterRule `xml:"FilterRule" json:"rules"`
	} `xml:"S3Key" json:"key"`
}

type filterRule struct {
	Name  string `xml:"Name" json:"name"`
	Value string `xml:"Value" json:"value"`
}

// destination is one configuration, whatever its kind.
type destination struct {
	id, arn string
	kind    string // "lambda", "queue", "topic"
	events  []string
	prefix  string
	suffix  string
}

// destinations flattens the configuration, with each filter's prefix and
// suffix (validated: at most one of each).
func (n *notification) destinations() []destination {
	if n == nil {
		return nil
	}
	var out []destination
	add := func(id, arn, kind string, events []string, f *notifFilter) {
		d := destination{id: id, arn: arn, kind: kind, events: events}
		if f != nil {
			for _, r := range f.Key.Rules {
				switch strings.ToLower(r.Name) {
				case "prefix":
					d.prefix = r.Value
				case "suffix":
					d.suffix = r.Value
				}
			}
		}
		out = append(out, d)
	}
	for _, c := range n.Lambdas {
		add(c.ID, c.Function, "lambda", c.Events, c.Filter)
	}
	for _, c := range n.Queues {
		add(c.ID, c.Queue, "queue", c.Events, c.Filter)
	}
	for _, c := range n.Topics {
		add(c.ID, c.Topic, "topic", c.Events, c.Filter)
	}
	return out
}

// eventTypes are the event types Kumo emits or accepts in a configuration:
// the names S3's Event enumeration lists for objects being created and
// removed. The others in the enumeration (restore, replication,
// lifecycle, tagging, ACL) are accepted and never emitted.
var eventTypes = map[string]bool{
	"s3:ObjectCreated:*": true, "s3:ObjectCreated:Put": true, "s3:ObjectCreated:Post": true, "s3:ObjectCreated:Copy": true,
	"s3:ObjectCreated:CompleteMultipartUpload": true,
	"s3:ObjectRemoved:*":                       true, "s3:ObjectRemoved:Delete": true, "s3:ObjectRemoved:DeleteMarkerCreated": true,
	"s3:ReducedRedundancyLostObject": true, "s3:ObjectRestore:*": true, "s3:ObjectRestore:Post": true,
	"s3:ObjectRestore:Completed": true, "s3:ObjectRestore:Delete": true, "s3:Replication:*": true,
	"s3:Replication:OperationFailedReplication": true, "s3:Replication:OperationNotTracked": true,
	"s3:Replication:OperationMissedThreshold": true, "s3:Replication:OperationReplicatedAfterThreshold": true,
	"s3:LifecycleTransition": true, "s3:IntelligentTiering": true, "s3:ObjectAcl:Put": true,
	"s3:LifecycleExpiration:*": true, "s3:LifecycleExpiration:Delete": true, "s3:LifecycleExpiration:DeleteMarkerCreated": true,
	"s3:ObjectTagging:*": true, "s3:ObjectTagging:Put": true, "s3:ObjectTagging:Delete": true,
}

// covers reports whether the configured event type t covers the event
// name (e.g. "ObjectCreated:Put"): equal, or t is its family's "*".
func covers(t, name string) bool {
	t = strings.TrimPrefix(t, "s3:")
	if fam, ok := strings.CutSuffix(t, ":*"); ok {
		return strings.HasPrefix(name, fam+":")
	}
	return t == name
}

// matches reports whether d wants the event name about key.
func (d destination) matches(name, key string) bool {
	if !strings.HasPrefix(key, d.prefix) || !strings.HasSuffix(key, d.suffix) {
		return false
	}
	for _, t := range d.events {
		if covers(t, name) {
			return true
		}
	}
	return false
}

// maxNotificationID is S3's limit on a configuration's Id.
const maxNotificationID = 255

// validate checks a configuration as S3 does before any destination is
// asked, filling in missing ids.
func (n *notification) validate() error {
	invalid := func(format string, args ...any) *awsproto.Error {
		return awsproto.Errorf(awsproto.S3InvalidArgument, format, args...)
	}
	ids := map[string]bool{}
	check := func(id *string, arn, name string, events []string, f *notifFilter) error {
		if arn == "" || len(events) == 0 {
			return awsproto.Errorf(awsproto.S3MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema.")
		}
		if *id == "" {
			*id = newNotificationID()
		}
		if len(*id) > maxNotificationID {
			return invalid("The ID is too long. It must be at most %d characters.", maxNotificationID).
				With("ArgumentName", "Id").With("ArgumentValue", *id)
		}
		if ids[*id] {
			return invalid("Same ID used for multiple configurations. IDs must be unique").
				With("ArgumentName", "Id").With("ArgumentValue", *id)
		}
		ids[*id] = true
		if !strings.HasPrefix(arn, "arn:") {
			return invalid("The ARN is not well formed").With("ArgumentName", name).With("ArgumentValue", arn)
		}
		for _, e := range events {
			if !eventTypes[e] {
				return invalid("The event is not supported for notifications").With("ArgumentName", "Event").With("ArgumentValue", e)
			}
		}
		if f == nil {
			return nil
		}
		var prefixes, suffixes int
		for _, r := range f.Key.Rules {
			switch strings.ToLower(r.Name) {
			case "prefix":
				prefixes++
			case "suffix":
				suffixes++
			default:
				return invalid("filter rule name must be either prefix or suffix").
					With("ArgumentName", "FilterRule").With("ArgumentValue", r.Name)
			}
			if len(r.Value) > 1024 {
				return invalid("The filter rule value is too long. It must be at most 1024 characters.").
					With("ArgumentName", "FilterRule").With("ArgumentValue", r.Name)
			}
		}
		if prefixes > 1 {
			return invalid("Cannot specify more than one prefix rule in a filter.").With("ArgumentName", "FilterRule").With("ArgumentValue", "prefix")
		}
		if suffixes > 1 {
			return invalid("Cannot specify more than one suffix rule in a filter.").With("ArgumentName", "FilterRule").With("ArgumentValue", "suffix")
		}
		return nil
	}
	for i := range n.Lambdas {
		c := &n.Lambdas[i]
		if err := check(&c.ID, c.Function, "CloudFunction", c.Events, c.Filter); err != nil {
			return err
		}
	}
	for i := range n.Queues {
		c := &n.Queues[i]
		if err := check(&c.ID, c.Queue, "Queue", c.Events, c.Filter); err != nil {
			return err
		}
	}
	for i := range n.Topics {
		c := &n.Topics[i]
		if err := check(&c.ID, c.Topic, "Topic", c.Events, c.Filter); err != nil {
			return err
		}
	}
	return overlapping(n.destinations())
}

// overlapping refuses two configurations that share an event type and
// whose filters can both match one key: S3 sends each event to one
// destination only. Two filters can both match a key unless their prefixes
// diverge (neither is a prefix of the other) or their suffixes do
// (neither is a suffix of the other).
func overlapping(ds []destination) error {
	for i := range ds {
		for j := i + 1; j < len(ds); j++ {
			a, b := ds[i], ds[j]
			if !sharesEvent(a.events, b.events) {
				continue
			}
			prefixesMeet := strings.HasPrefix(a.prefix, b.prefix) || strings.HasPrefix(b.prefix, a.prefix)
			suffixesMeet := strings.HasSuffix(a.suffix, b.suffix) || strings.HasSuffix(b.suffix, a.suffix)
			if prefixesMeet && suffixesMeet {
				return awsproto.Errorf(awsproto.S3InvalidArgument, "Configurations overlap. Configurations on the same bucket cannot share a common event type.").
					With("ArgumentName", "Event").With("ArgumentValue", firstShared(a.events, b.events))
			}
		}
	}
	return nil
}

func sharesEvent(a, b []string) bool { return firstShared(a, b) != "" }

// firstShared is an event type both lists cover, "" if none.
func firstShared(a, b []string) string {
	for _, x := range a {
		for _, y := range b {
			xs, ys := strings.TrimPrefix(x, "s3:"), strings.TrimPrefix(y, "s3:")
			xf, xw := strings.CutSuffix(xs, ":*")
			yf, yw := strings.CutSuffix(ys, ":*")
			switch {
			case xs == ys:
				return x
			case xw && strings.HasPrefix(ys, xf+":"):
				return y
			case yw && strings.HasPrefix(xs, yf+":"):
				return x
			}
		}
	}
	return ""
}

func newNotificationID() string {
	id := newID()
	return id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]
}

// testEvent is the message S3 sends a queue or topic when a configuration
// naming it is written.
type testEvent struct {
	Service   string `json:"Service"`
	Event     string `json:"Event"`
	Time      string `json:"Time"`
	Bucket    string `json:"Bucket"`
	RequestID string `json:"RequestId"`
	HostID    string `json:"HostId"`
}

// checkDestinations asks every destination whether the bucket may notify
// it: a function's policy must allow ServicePrincipal for the bucket; a
// queue or a topic is sent s3:TestEvent, as S3 does. The destinations that
// fail are S3's InvalidArgument, each as an ArgumentNameN/ArgumentValueN
// pair.
func (s *Service) checkDestinations(q *request, n *notification) error {
	if s.cfg.Destinations == nil {
		if len(n.destinations()) > 0 {
			return awsproto.Errorf(awsproto.S3NotImplemented, "This server delivers no event notifications.")
		}
		return nil
	}
	bucketARN := arn(q.bucket, "")
	reqID := awsproto.RequestID(q.ctx())
	body, err := jsonBytes(testEvent{Service: "Amazon S3", Event: "s3:TestEvent", Time: s.now().Format(timeFormat),
		Bucket: q.bucket, RequestID: reqID, HostID: hostID(reqID)})
	if err != nil {
		return err
	}
	e := awsproto.Errorf(awsproto.S3InvalidArgument, "Unable to validate the following destination configurations")
	failed := 0
	for _, d := range n.destinations() {
		var err error
		if d.kind == "lambda" {
			err = s.cfg.Destinations.CheckFunction(q.ctx(), d.arn, bucketARN)
		} else {
			err = s.cfg.Destinations.Send(q.ctx(), d.arn, bucketARN, body)
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrDestination) {
			return awsproto.Internal(fmt.Errorf("s3: checking destination %s: %w", d.arn, err))
		}
		failed++
		why := "Not authorized to invoke function [" + d.arn + "]"
		switch d.kind {
		case "queue":
			why = "Permissions on the destination queue do not allow S3 to publish notifications from this bucket"
		case "topic":
			why = "Permissions on the destination topic do not allow S3 to publish notifications from this bucket"
		}
		e = e.With(fmt.Sprintf("ArgumentName%d", failed), d.arn).With(fmt.Sprintf("ArgumentValue%d", failed), why)
	}
	if failed > 0 {
		return e
	}
	return nil
}

func (s *Service) putBucketNotification(q *request) error {
	if _, err := s.bucket(q.ctx(), q.bucket); err != nil {
		return err
	}
	var n notification
	if err := readXML(q.r, &n); err != nil {
		return err
	}
	if err := n.validate(); err != nil {
		return err
	}
	if !strings.EqualFold(q.r.Header.Get("X-Amz-Skip-Destination-Validation"), "true") {
		if err := s.checkDestinations(q, &n); err != nil {
			return err
		}
	}
	n.XMLName, n.NS = xml.Name{}, ""
	stored := &n
	if len(n.destinations()) == 0 && n.EventBridge == nil {
		stored = nil
	}
	if err := s.updateBucket(q.ctx(), q.bucket, func(b *bucketMeta) { b.Notification = stored }); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) getBucketNotification(q *request) error {
	b, err := s.bucket(q.ctx(), q.bucket)
	if err != nil {
		return err
	}
	n := notification{}
	if b.Notification != nil {
		n = *b.Notification
	}
	n.NS = namespace
	return writeXML(q.w, n)
}

// updateBucket changes a bucket's record with change, compare-and-set.
func (s *Service) updateBucket(ctx context.Context, bucket string, change func(*bucketMeta)) error {
	for {
		var b bucketMeta
		rev, err := s.getJSON(ctx, bucketKey(bucket), &b)
		if errors.Is(err, store.ErrNotFound) {
			return awsproto.Errorf(awsproto.S3NoSuchBucket, "The specified bucket does not exist")
		}
		if err != nil {
			return awsproto.Internal(err)
		}
		change(&b)
		v, err := jsonBytes(b)
		if err != nil {
			return err
		}
		if _, err := s.cfg.KV.Update(ctx, bucketKey(bucket), v, rev); errors.Is(err, store.ErrConflict) {
			continue
		} else if err != nil {
			return awsproto.Internal(err)
		}
		return nil
	}
}
