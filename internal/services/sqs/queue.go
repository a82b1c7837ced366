package sqs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/lazyregexp"
	"github.com/kumo-run/kumo/internal/store"
)

// queuePrefix starts every queue's key: "q.<name>".
const queuePrefix = "q."

// queue is one queue as stored: its settable attributes (every one with
// its value, defaults included; Policy and the redrive policies only when
// set), tags, and the id naming its stream.
type queue struct {
	Name     string            `json:"name"`
	ID       string            `json:"id"`
	Created  int64             `json:"created"`  // unix seconds
	Modified int64             `json:"modified"` // unix seconds
	Attrs    map[string]string `json:"attributes"`
	Tags     map[string]string `json:"tags,omitempty"`

	rev     uint64
	policy  *iam.Policy // parsed Policy, nil if none
	redrive *redrivePolicy
}

// redrivePolicy is a parsed RedrivePolicy.
type redrivePolicy struct {
	DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	MaxReceiveCount     int    `json:"maxReceiveCount"`
}

func (q *queue) intAttr(name string) int {
	n, _ := strconv.Atoi(q.Attrs[name])
	return n
}

// parsed fills the fields derived from the stored attributes.
func (q *queue) parsed() {
	q.policy, q.redrive = nil, nil
	if doc := q.Attrs[attrPolicy]; doc != "" {
		q.policy, _ = iam.Parse(doc, iam.KindResource) // checked when written
	}
	if rp := q.Attrs[attrRedrivePolicy]; rp != "" {
		q.redrive, _ = parseRedrive(rp)
	}
}

func (q *queue) clone() *queue {
	c := *q
	c.Attrs = make(map[string]string, len(q.Attrs))
	for k, v := range q.Attrs {
		c.Attrs[k] = v
	}
	c.Tags = make(map[string]string, len(q.Tags))
	for k, v := range q.Tags {
		c.Tags[k] = v
	}
	return &c
}

// view is the queues in memory, kept by the service's writes and by the
// bucket's watch; the higher revision of a queue wins.
type view struct {
	mu sync.RWMutex
	m  map[string]*queue // by name; values are never modified
	// gone holds the revision of deletions, so that a watch replaying an
	// older write does not resurrect a deleted queue.
	gone map[string]uint64
}

func (v *view) init() { v.m, v.gone = map[string]*queue{}, map[string]uint64{} }

func (v *view) get(name string) (*queue, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	q, ok := v.m[name]
	return q, ok
}

func (v *view) all() []*queue {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make([]*queue, 0, len(v.m))
	for _, q := range v.m {
		out = append(out, q)
	}
	slices.SortFunc(out, func(a, b *queue) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (v *view) put(q *queue) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if old, ok := v.m[q.Name]; ok && old.rev >= q.rev || v.gone[q.Name] >= q.rev {
		return
	}
	v.m[q.Name] = q
}

func (v *view) remove(name string, rev uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if old, ok := v.m[name]; ok && old.rev > rev {
		return
	}
	delete(v.m, name)
	if v.gone[name] < rev {
		v.gone[name] = rev
	}
}

// apply takes one change seen by the watch.
func (v *view) apply(e store.Entry) {
	name := strings.TrimPrefix(e.Key, queuePrefix)
	if e.Deleted {
		v.remove(name, e.Revision)
		return
	}
	var q queue
	if err := json.Unmarshal(e.Value, &q); err != nil || q.Name != name {
		return
	}
	q.rev = e.Revision
	q.parsed()
	v.put(&q)
}

// Attribute names.
const (
	attrDelaySeconds          = "DelaySeconds"
	attrMaximumMessageSize    = "MaximumMessageSize"
	attrRetention             = "MessageRetentionPeriod"
	attrPolicy                = "Policy"
	attrWaitTime              = "ReceiveMessageWaitTimeSeconds"
	attrRedrivePolicy         = "RedrivePolicy"
	attrRedriveAllowPolicy    = "RedriveAllowPolicy"
	attrVisibilityTimeout     = "VisibilityTimeout"
	attrKmsMasterKeyID        = "KmsMasterKeyId"
	attrKmsReuse              = "KmsDataKeyReusePeriodSeconds"
	attrSqsManagedSse         = "SqsManagedSseEnabled"
	attrFifoQueue             = "FifoQueue"
	attrContentBasedDedup     = "ContentBasedDeduplication"
	attrDeduplicationScope    = "DeduplicationScope"
	attrFifoThroughputLimit   = "FifoThroughputLimit"
	attrQueueArn              = "QueueArn"
	attrApproxMessages        = "ApproximateNumberOfMessages"
	attrApproxNotVisible      = "ApproximateNumberOfMessagesNotVisible"
	attrApproxDelayed         = "ApproximateNumberOfMessagesDelayed"
	attrCreatedTimestamp      = "CreatedTimestamp"
	attrLastModifiedTimestamp = "LastModifiedTimestamp"
)

// intRange is a numeric attribute's valid values, SQS's quotas.
type intRange struct{ min, max int }

var numeric = map[string]intRange{
	attrDelaySeconds:       {0, 900},
	attrMaximumMessageSize: {1024, 1048576},
	attrRetention:          {60, 1209600},
	attrWaitTime:           {0, 20},
	attrVisibilityTimeout:  {0, 43200},
	attrKmsReuse:           {60, 86400},
}

// defaults are the values of a new queue's attributes.
var defaults = map[string]string{
	attrDelaySeconds:       "0",
	attrMaximumMessageSize: "1048576",
	attrRetention:          "345600",
	attrWaitTime:           "0",
	attrVisibilityTimeout:  "30",
	attrSqsManagedSse:      "true",
}

// readOnly are the attributes GetQueueAttributes computes.
var readOnly = []string{attrApproxMessages, attrApproxNotVisible, attrApproxDelayed,
	attrCreatedTimestamp, attrLastModifiedTimestamp, attrQueueArn}

func settable(name string) bool {
	switch name {
	case attrDelaySeconds, attrMaximumMessageSize, attrRetention, attrPolicy, attrWaitTime,
		attrRedrivePolicy, attrRedriveAllowPolicy, attrVisibilityTimeout, attrKmsMasterKeyID,
		attrKmsReuse, attrSqsManagedSse, attrFifoQueue, attrContentBasedDedup,
		attrDeduplicationScope, attrFifoThroughputLimit:
		return true
	}
	return false
}

func invalidAttr(name string) error {
	return awsproto.Errorf(awsproto.SQSInvalidAttributeValue, "Invalid value for the parameter %s.", name)
}

// fifoDefaults are the attributes a new FIFO queue has beyond defaults.
var fifoDefaults = map[string]string{
	attrFifoQueue:           "true",
	attrContentBasedDedup:   "false",
	attrDeduplicationScope:  "queue",
	attrFifoThroughputLimit: "perQueue",
}

func (q *queue) fifo() bool { return q.Attrs[attrFifoQueue] == "true" }

// checkAttrs validates attributes to be written to a queue (FIFO or not)
// and returns them normalised. Unknown names are InvalidAttributeName.
// FifoQueue is only taken when creating.
func (s *Service) checkAttrs(in map[string]string, fifo, creating bool) (map[string]string, error) {
	out := make(map[string]string, len(in))
	for _, name := range slices.Sorted(mapsKeys(in)) {
		v := in[name]
		if !settable(name) {
			return nil, awsproto.Errorf(awsproto.SQSInvalidAttributeName, "Unknown Attribute %s.", clip(name))
		}
		if r, ok := numeric[name]; ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < r.min || n > r.max {
				return nil, invalidAttr(name)
			}
			out[name] = strconv.Itoa(n)
			continue
		}
		switch name {
		case attrSqsManagedSse:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, invalidAttr(name)
			}
			out[name] = strconv.FormatBool(b)
		case attrFifoQueue:
			b, err := strconv.ParseBool(v)
			switch {
			case !creating:
				return nil, awsproto.Errorf(awsproto.SQSInvalidAttributeName, "Unknown Attribute %s.", name)
			case err != nil || b != fifo:
				return nil, invalidAttr(name)
			}
			if b {
				out[name] = "true"
			}
		case attrContentBasedDedup, attrDeduplicationScope, attrFifoThroughputLimit:
			if !fifo {
				return nil, awsproto.Errorf(awsproto.SQSInvalidAttributeName, "Unknown Attribute %s.", name)
			}
			ok := false
			switch name {
			case attrContentBasedDedup:
				if b, err := strconv.ParseBool(v); err == nil {
					v, ok = strconv.FormatBool(b), true
				}
			case attrDeduplicationScope:
				ok = v == "queue" || v == "messageGroup"
			case attrFifoThroughputLimit:
				ok = v == "perQueue" || v == "perMessageGroupId"
			}
			if !ok {
				return nil, invalidAttr(name)
			}
			out[name] = v
		case attrPolicy:
			if v == "" {
				out[name] = ""
				continue
			}
			if _, err := iam.Parse(v, iam.KindResource); err != nil {
				var me *iam.MalformedError
				msg := err.Error()
				if errors.As(err, &me) {
					msg = me.Message
				}
				return nil, awsproto.Errorf(awsproto.SQSInvalidAttributeValue, "Invalid value for the parameter Policy. Reason: %s", clip(msg))
			}
			out[name] = v
		case attrRedrivePolicy:
			if v == "" {
				out[name] = ""
				continue
			}
			rp, why := parseRedrive(v)
			if rp == nil {
				return nil, awsproto.Errorf(awsproto.SQSInvalidAttributeValue, "Value %s for parameter RedrivePolicy is invalid. Reason: %s", clip(v), why)
			}
			dlq, ok := s.queueByARN(rp.DeadLetterTargetArn)
			if !ok {
				return nil, awsproto.Errorf(awsproto.SQSInvalidParameterValue,
					"Value %s for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.", clip(v))
			}
			if dlq.fifo() != fifo {
				return nil, awsproto.Errorf(awsproto.SQSInvalidParameterValue,
					"Value %s for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must be same type of queue as the source.", clip(v))
			}
			b, _ := json.Marshal(rp)
			out[name] = string(b)
		case attrRedriveAllowPolicy:
			if v == "" {
				out[name] = ""
				continue
			}
			if why := checkRedriveAllow(v); why != "" {
				return nil, awsproto.Errorf(awsproto.SQSInvalidAttributeValue, "Value %s for parameter RedriveAllowPolicy is invalid. Reason: %s", clip(v), why)
			}
			out[name] = v
		case attrKmsMasterKeyID:
			out[name] = v
		}
	}
	return out, nil
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// parseRedrive reads a RedrivePolicy, or says why it cannot: deadLetterTargetArn and
// maxReceiveCount (1 to 1,000; a string or a number, as SQS accepts).
func parseRedrive(v string) (*redrivePolicy, string) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, "Invalid JSON."
	}
	var rp redrivePolicy
	for k, val := range raw {
		switch k {
		case "deadLetterTargetArn":
			if err := json.Unmarshal(val, &rp.DeadLetterTargetArn); err != nil {
				return nil, "deadLetterTargetArn must be a string."
			}
		case "maxReceiveCount":
			var n json.Number
			var str string
			if err := json.Unmarshal(val, &n); err != nil {
				if err := json.Unmarshal(val, &str); err != nil {
					return nil, "Invalid value for maxReceiveCount."
				}
				n = json.Number(str)
			}
			i, err := strconv.Atoi(string(n))
			if err != nil || i < 1 || i > 1000 {
				return nil, "Invalid value for maxReceiveCount: must be an integer from 1 to 1000."
			}
			rp.MaxReceiveCount = i
		default:
			return nil, "Unknown field " + clip(k) + "."
		}
	}
	if rp.DeadLetterTargetArn == "" {
		return nil, "Redrive policy must contain deadLetterTargetArn."
	}
	if rp.MaxReceiveCount == 0 {
		return nil, "Redrive policy must contain maxReceiveCount."
	}
	return &rp, ""
}

// checkRedriveAllow says what is wrong with a RedriveAllowPolicy, "" if
// nothing is (stored, not enforced
// beyond its shape).
func checkRedriveAllow(v string) string {
	var p struct {
		RedrivePermission string   `json:"redrivePermission"`
		SourceQueueArns   []string `json:"sourceQueueArns"`
	}
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		return "Invalid JSON."
	}
	switch p.RedrivePermission {
	case "allowAll", "denyAll":
		if len(p.SourceQueueArns) > 0 {
			return "sourceQueueArns is only allowed with redrivePermission byQueue."
		}
	case "byQueue":
		if len(p.SourceQueueArns) < 1 || len(p.SourceQueueArns) > 10 {
			return "byQueue requires from 1 to 10 sourceQueueArns."
		}
	default:
		return "redrivePermission must be allowAll, denyAll or byQueue."
	}
	return ""
}

var queueNameRE = lazyregexp.New(`^[A-Za-z0-9_-]{1,80}$`)

// checkName validates a queue name; a FIFO queue's ends with .fifo,
// which counts in its 80 characters.
func checkName(name string) error {
	if name == "" {
		return missing("QueueName")
	}
	if base, ok := strings.CutSuffix(name, ".fifo"); ok {
		if !queueNameRE.MatchString(base) || len(name) > 80 {
			return invalidParam("The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.")
		}
		return nil
	}
	if !queueNameRE.MatchString(name) {
		return invalidParam("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	return nil
}

// arn is the queue's ARN.
func (s *Service) arn(name string) string {
	return "arn:aws:sqs:" + s.cfg.Region + ":" + s.cfg.Account + ":" + name
}

// queueByARN finds a queue of this account and region by its ARN.
func (s *Service) queueByARN(a string) (*queue, bool) {
	p := "arn:aws:sqs:" + s.cfg.Region + ":" + s.cfg.Account + ":"
	if !strings.HasPrefix(a, p) {
		return nil, false
	}
	return s.view.get(a[len(p):])
}

// baseURL is the edge's URL as the caller reached it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Service) queueURL(r *http.Request, name string) string {
	return baseURL(r) + "/" + s.cfg.Account + "/" + name
}

// resolve finds the queue a QueueUrl names: any host, the path
// /<account>/<name>.
func (s *Service) resolve(queueURL string) (*queue, error) {
	if queueURL == "" {
		return nil, missing("QueueUrl")
	}
	u, err := url.Parse(queueURL)
	if err != nil {
		return nil, awsproto.Errorf(awsproto.SQSInvalidAddress, "The address %s is not valid for this endpoint.", clip(queueURL))
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 {
		return nil, awsproto.Errorf(awsproto.SQSInvalidAddress, "The address %s is not valid for this endpoint.", clip(queueURL))
	}
	if parts[0] != s.cfg.Account {
		return nil, noQueue()
	}
	q, ok := s.view.get(parts[1])
	if !ok {
		return nil, noQueue()
	}
	return q, nil
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// store writes q (create when rev is 0) and puts it in the view.
func (s *Service) store(ctx context.Context, q *queue) error {
	b, err := json.Marshal(q)
	if err != nil {
		return awsproto.Internal(err)
	}
	var rev uint64
	if q.rev == 0 {
		rev, err = s.cfg.KV.Create(ctx, queuePrefix+q.Name, b)
	} else {
		rev, err = s.cfg.KV.Update(ctx, queuePrefix+q.Name, b, q.rev)
	}
	if err != nil {
		return awsproto.Internal(fmt.Errorf("storing queue %s: %w", q.Name, err))
	}
	q.rev = rev
	q.parsed()
	s.view.put(q)
	return nil
}
