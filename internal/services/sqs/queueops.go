package sqs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/store"
)

func (s *Service) createQueue(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		QueueName  string
		Attributes map[string]string
		Tags       map[string]string `json:"tags"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkName(in.QueueName); err != nil {
		return nil, err
	}
	if err := s.authorizeARN(r, "CreateQueue", s.arn(in.QueueName), nil); err != nil {
		return nil, err
	}
	fifo := strings.HasSuffix(in.QueueName, ".fifo")
	if v, ok := in.Attributes[attrFifoQueue]; ok && v != "" {
		if b, err := strconv.ParseBool(v); err == nil && b && !fifo {
			return nil, invalidParam("The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.")
		}
	} else if fifo {
		return nil, invalidParam("The FifoQueue attribute must be true for a queue whose name ends with .fifo.")
	}
	attrs, err := s.checkAttrs(in.Attributes, fifo, true)
	if err != nil {
		return nil, err
	}
	if attrs[attrFifoThroughputLimit] == "perMessageGroupId" && attrs[attrDeduplicationScope] != "messageGroup" {
		return nil, invalidAttr(attrFifoThroughputLimit)
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.deletedRecently(ctx, in.QueueName); err != nil {
		return nil, err
	}
	if q, ok := s.view.get(in.QueueName); ok {
		for _, k := range slices.Sorted(maps.Keys(attrs)) {
			cur := q.Attrs[k]
			if cur != attrs[k] {
				return nil, awsproto.Errorf(awsproto.SQSQueueNameExists, "A queue already exists with the same name and a different value for attribute %s", k)
			}
		}
		return struct{ QueueUrl string }{s.queueURL(r, q.Name)}, nil
	}
	now := s.cfg.Now().Unix()
	q := &queue{Name: in.QueueName, ID: newID(), Created: now, Modified: now, Attrs: map[string]string{}, Tags: in.Tags}
	maps.Copy(q.Attrs, defaults)
	if fifo {
		maps.Copy(q.Attrs, fifoDefaults)
	}
	for k, v := range attrs {
		if v == "" {
			delete(q.Attrs, k)
			continue
		}
		q.Attrs[k] = v
	}
	// The stream first: a queue the view shows can always take messages.
	if _, err := s.configure(ctx, q); err != nil {
		return nil, err
	}
	if err := s.store(ctx, q); err != nil {
		return nil, err
	}
	return struct{ QueueUrl string }{s.queueURL(r, q.Name)}, nil
}

func checkTags(tags map[string]string) error {
	if len(tags) > 50 {
		return invalidParam("Too many tags added for queue. A queue can have at most 50 tags.")
	}
	for k, v := range tags {
		if k == "" || len(k) > 128 || len(v) > 256 || strings.HasPrefix(strings.ToLower(k), "aws:") {
			return invalidParam("Tag key %q or value is invalid: keys are 1 to 128 characters, not starting with aws:; values at most 256.", clip(k))
		}
	}
	return nil
}

func (s *Service) getQueueURL(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct{ QueueName, QueueOwnerAWSAccountId string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.QueueName == "" {
		return nil, missing("QueueName")
	}
	if in.QueueOwnerAWSAccountId != "" && in.QueueOwnerAWSAccountId != s.cfg.Account {
		return nil, noQueue()
	}
	q, ok := s.view.get(in.QueueName)
	if err := s.authorizeARN(r, "GetQueueUrl", s.arn(in.QueueName), q); err != nil {
		return nil, err
	}
	if !ok {
		return nil, noQueue()
	}
	return struct{ QueueUrl string }{s.queueURL(r, q.Name)}, nil
}

func (s *Service) listQueues(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		QueueNamePrefix string
		NextToken       string
		MaxResults      *int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := s.authorizeARN(r, "ListQueues", "arn:aws:sqs:"+s.cfg.Region+":"+s.cfg.Account+":*", nil); err != nil {
		return nil, err
	}
	max := 1000
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 1000 {
			return nil, invalidParam("Value %d for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000.", *in.MaxResults)
		}
		max = *in.MaxResults
	}
	out := struct {
		QueueUrls []string `json:",omitempty"`
		NextToken string   `json:",omitempty"`
	}{}
	last := ""
	for _, q := range s.view.all() {
		if !strings.HasPrefix(q.Name, in.QueueNamePrefix) || in.NextToken != "" && q.Name <= in.NextToken {
			continue
		}
		if len(out.QueueUrls) == max {
			// Paging only when MaxResults was asked for, as SQS does; the
			// token is the last name returned.
			if in.MaxResults != nil {
				out.NextToken = last
			}
			break
		}
		out.QueueUrls = append(out.QueueUrls, s.queueURL(r, q.Name))
		last = q.Name
	}
	return out, nil
}

func (s *Service) deleteQueue(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct{ QueueUrl string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.resolve(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "DeleteQueue", q); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.cfg.KV.Delete(ctx, queuePrefix+q.Name, q.rev); err != nil && !errors.Is(err, store.ErrNotFound) {
		if errors.Is(err, store.ErrConflict) {
			return nil, noQueue()
		}
		return nil, awsproto.Internal(err)
	}
	s.view.remove(q.Name, q.rev+1)
	s.forget(q.ID)
	// The name may not be used again for a minute, as SQS answers.
	if _, err := s.cfg.KV.Put(ctx, deletedPrefix+q.Name, strconv.AppendInt(nil, s.cfg.Now().UnixMilli(), 10)); err != nil {
		s.log.Warn("sqs: recording a queue's deletion", "queue", q.Name, "error", err)
	}
	if err := s.js.DeleteStream(ctx, natsd.SQSStream(q.ID)); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		s.log.Warn("sqs: deleting a queue's stream", "queue", q.Name, "error", err)
	}
	if err := s.dropGroups(ctx, q.ID); err != nil {
		s.log.Warn("sqs: deleting a queue's message groups", "queue", q.Name, "error", err)
	}
	return nil, nil
}

func (s *Service) getQueueAttributes(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		QueueUrl       string
		AttributeNames []string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.resolve(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "GetQueueAttributes", q); err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, n := range in.AttributeNames {
		switch {
		case n == "All":
			for k := range q.Attrs {
				want[k] = true
			}
			for _, k := range readOnly {
				want[k] = true
			}
		case settable(n) || slices.Contains(readOnly, n):
			want[n] = true
		default:
			return nil, awsproto.Errorf(awsproto.SQSInvalidAttributeName, "Unknown Attribute %s.", clip(n))
		}
	}
	out := map[string]string{}
	for k := range want {
		if v, ok := q.Attrs[k]; ok && v != "" {
			out[k] = v
		}
	}
	if want[attrQueueArn] {
		out[attrQueueArn] = s.arn(q.Name)
	}
	if want[attrCreatedTimestamp] {
		out[attrCreatedTimestamp] = strconv.FormatInt(q.Created, 10)
	}
	if want[attrLastModifiedTimestamp] {
		out[attrLastModifiedTimestamp] = strconv.FormatInt(q.Modified, 10)
	}
	if want[attrApproxMessages] || want[attrApproxNotVisible] || want[attrApproxDelayed] {
		c, err := s.counts(ctx, q)
		if err != nil {
			return nil, err
		}
		if want[attrApproxMessages] {
			out[attrApproxMessages] = strconv.FormatUint(c.visible, 10)
		}
		if want[attrApproxNotVisible] {
			out[attrApproxNotVisible] = strconv.FormatUint(c.inflight, 10)
		}
		if want[attrApproxDelayed] {
			out[attrApproxDelayed] = strconv.FormatUint(c.delayed, 10)
		}
	}
	if len(out) == 0 {
		return struct{}{}, nil
	}
	return struct{ Attributes map[string]string }{out}, nil
}

func (s *Service) setQueueAttributes(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		QueueUrl   string
		Attributes map[string]string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.resolve(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "SetQueueAttributes", q); err != nil {
		return nil, err
	}
	attrs, err := s.checkAttrs(in.Attributes, q.fifo(), false)
	if err != nil {
		return nil, err
	}
	if rp := attrs[attrRedrivePolicy]; rp != "" {
		if p, _ := parseRedrive(rp); p != nil && p.DeadLetterTargetArn == s.arn(q.Name) {
			return nil, invalidParam("Value %s for parameter RedrivePolicy is invalid. Reason: Dead-letter target cannot be the source queue.", clip(rp))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.view.get(q.Name)
	if !ok {
		return nil, noQueue()
	}
	n := q.clone()
	for k, v := range attrs {
		if v == "" {
			delete(n.Attrs, k)
			continue
		}
		n.Attrs[k] = v
	}
	n.Modified = s.cfg.Now().Unix()
	if n.Attrs[attrVisibilityTimeout] != q.Attrs[attrVisibilityTimeout] || n.Attrs[attrRetention] != q.Attrs[attrRetention] {
		if _, err := s.configure(ctx, n); err != nil {
			return nil, err
		}
	}
	return nil, s.store(ctx, n)
}

func (s *Service) purgeQueue(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct{ QueueUrl string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.resolve(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "PurgeQueue", q); err != nil {
		return nil, err
	}
	rt, err := s.runtime(ctx, q)
	if err != nil {
		return nil, err
	}
	if err := rt.stream.Purge(ctx); err != nil {
		return nil, awsproto.Internal(fmt.Errorf("sqs: purging %s: %w", q.Name, err))
	}
	if err := s.dropGroups(ctx, q.ID); err != nil {
		return nil, awsproto.Internal(fmt.Errorf("sqs: purging %s: %w", q.Name, err))
	}
	return nil, nil
}

func (s *Service) tagQueue(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		QueueUrl string
		Tags     map[string]string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.resolve(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "TagQueue", q); err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, missing("Tags")
	}
	return nil, s.retag(ctx, q.Name, func(t map[string]string) error {
		maps.Copy(t, in.Tags)
		return checkTags(t)
	})
}

func (s *Service) untagQueue(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		QueueUrl string
		TagKeys  []string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.resolve(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "UntagQueue", q); err != nil {
		return nil, err
	}
	if len(in.TagKeys) == 0 {
		return nil, missing("TagKeys")
	}
	return nil, s.retag(ctx, q.Name, func(t map[string]string) error {
		for _, k := range in.TagKeys {
			delete(t, k)
		}
		return nil
	})
}

func (s *Service) retag(ctx context.Context, name string, change func(map[string]string) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.view.get(name)
	if !ok {
		return noQueue()
	}
	n := q.clone()
	if err := change(n.Tags); err != nil {
		return err
	}
	return s.store(ctx, n)
}

func (s *Service) listQueueTags(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct{ QueueUrl string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.resolve(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "ListQueueTags", q); err != nil {
		return nil, err
	}
	if len(q.Tags) == 0 {
		return struct{}{}, nil
	}
	return struct{ Tags map[string]string }{q.Tags}, nil
}

func (s *Service) listDeadLetterSourceQueues(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct{ QueueUrl string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	q, err := s.resolve(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "ListDeadLetterSourceQueues", q); err != nil {
		return nil, err
	}
	urls := []string{}
	target := s.arn(q.Name)
	for _, src := range s.view.all() {
		if src.redrive != nil && src.redrive.DeadLetterTargetArn == target {
			urls = append(urls, s.queueURL(r, src.Name))
		}
	}
	return struct {
		QueueUrls []string `json:"queueUrls"`
	}{urls}, nil
}

// deletedPrefix keys the time a queue was deleted ("d.<name>": unix ms),
// which holds its name back for queueNameHold.
const deletedPrefix = "d."

// queueNameHold is how long a deleted queue's name cannot be used.
const queueNameHold = 60 * time.Second

// deletedRecently is QueueDeletedRecently when a queue of that name was
// deleted less than a minute ago. Called with s.mu held.
func (s *Service) deletedRecently(ctx context.Context, name string) error {
	e, err := s.cfg.KV.Get(ctx, deletedPrefix+name)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return awsproto.Internal(err)
	}
	at, err := strconv.ParseInt(string(e.Value), 10, 64)
	if err == nil && s.cfg.Now().Sub(time.UnixMilli(at)) < queueNameHold {
		return awsproto.Errorf(awsproto.SQSQueueDeletedRecently, "You must wait 60 seconds after deleting a queue before you can create another with the same name.")
	}
	if err := s.cfg.KV.Delete(ctx, deletedPrefix+name, e.Revision); err != nil && !errors.Is(err, store.ErrConflict) {
		return awsproto.Internal(err)
	}
	return nil
}
