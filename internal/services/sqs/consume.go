package sqs

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
)

// The consumer API: what Lambda's event source mappings need of a queue,
// in process and without authorization (the mapping's owner checked the
// function's permission when the mapping was made). Receipt handles are
// those of the public operations: a handle from Receive works with
// DeleteMessage and the reverse.

// Message is one received message with its system attributes
// (ApproximateReceiveCount, SentTimestamp, SenderId,
// ApproximateFirstReceiveTimestamp; for FIFO queues also SequenceNumber,
// MessageGroupId, MessageDeduplicationId) and all its message attributes.
type Message struct {
	MessageID         string
	ReceiptHandle     string
	Body              string
	MD5OfBody         string
	Attributes        map[string]string
	MessageAttributes map[string]MessageAttribute
}

// QueueExists reports whether queueARN names a queue of this server.
func (s *Service) QueueExists(queueARN string) bool {
	_, ok := s.queueByARN(queueARN)
	return ok
}

// QueueFIFO reports whether queueARN names a FIFO queue.
func (s *Service) QueueFIFO(queueARN string) bool {
	q, ok := s.queueByARN(queueARN)
	return ok && q.fifo()
}

// QueueVisibilityTimeout is the queue's VisibilityTimeout; 0 for an
// unknown queue.
func (s *Service) QueueVisibilityTimeout(queueARN string) time.Duration {
	q, ok := s.queueByARN(queueARN)
	if !ok {
		return 0
	}
	return time.Duration(q.intAttr(attrVisibilityTimeout)) * time.Second
}

// Receive takes up to n (1–10) visible messages of the queue queueARN
// names, waiting up to wait for the first (a long poll), and makes them
// invisible for visibility (rounded up to whole seconds; the queue's
// VisibilityTimeout when zero or less). Messages received more than the
// queue's maxReceiveCount are moved to its dead-letter queue as
// ReceiveMessage moves them. An unknown queue is QueueDoesNotExist. Safe
// for concurrent use.
func (s *Service) Receive(ctx context.Context, queueARN string, n int, wait, visibility time.Duration) ([]Message, error) {
	q, ok := s.queueByARN(queueARN)
	if !ok {
		return nil, noQueue()
	}
	n = min(max(n, 1), 10)
	vt := q.intAttr(attrVisibilityTimeout)
	if visibility > 0 {
		vt = int((visibility + time.Second - 1) / time.Second)
	}
	ds, err := s.receive(ctx, q, n, wait, vt)
	if err != nil {
		return nil, err
	}
	out := make([]Message, 0, len(ds))
	for _, d := range ds {
		m := Message{MessageID: d.env.ID, ReceiptHandle: d.handle, Body: d.env.Body, MD5OfBody: md5Hex(d.env.Body),
			MessageAttributes: d.env.Attrs, Attributes: map[string]string{
				"ApproximateReceiveCount":          strconv.FormatUint(d.count, 10),
				"SentTimestamp":                    strconv.FormatInt(d.env.Sent, 10),
				"SenderId":                         d.env.Sender,
				"ApproximateFirstReceiveTimestamp": strconv.FormatInt(d.firstMs, 10),
			}}
		if v := d.env.Sys["AWSTraceHeader"].StringValue; v != "" {
			m.Attributes["AWSTraceHeader"] = v
		}
		if d.env.Source != "" {
			m.Attributes["DeadLetterQueueSourceArn"] = d.env.Source
		}
		if q.fifo() {
			m.Attributes["SequenceNumber"] = sequenceNumber(d.seq)
			m.Attributes["MessageGroupId"] = d.env.Group
			m.Attributes["MessageDeduplicationId"] = d.env.Dedup
		}
		out = append(out, m)
	}
	return out, nil
}

// Delete deletes the received message handle names, as DeleteMessage.
func (s *Service) Delete(ctx context.Context, queueARN, handle string) error {
	q, ok := s.queueByARN(queueARN)
	if !ok {
		return noQueue()
	}
	return s.deleteOne(ctx, q, handle)
}

// ChangeVisibility makes the received message handle names visible again
// after visibility (whole seconds, 0: now), as ChangeMessageVisibility.
func (s *Service) ChangeVisibility(ctx context.Context, queueARN, handle string, visibility time.Duration) error {
	q, ok := s.queueByARN(queueARN)
	if !ok {
		return noQueue()
	}
	vt := int(visibility / time.Second)
	return s.changeOne(ctx, q, handle, &vt)
}

// RoleAllowed reports whether a session of the IAM role roleARN may call
// action (sqs:ReceiveMessage, …) on the queue queueARN names, with the
// role's policies and the queue's Policy, as a function's execution role
// polling the queue would be checked. Without an Authorizer
// (authentication off) everything is allowed; an unknown queue nothing.
func (s *Service) RoleAllowed(ctx context.Context, roleARN, action, queueARN string) bool {
	q, ok := s.queueByARN(queueARN)
	if !ok {
		return false
	}
	if s.cfg.Authorizer == nil {
		return true
	}
	name := roleARN[strings.LastIndexByte(roleARN, '/')+1:]
	account := s.cfg.Account
	if p := strings.Split(roleARN, ":"); len(p) == 6 {
		account = p[4]
	}
	ctx = awsproto.WithCaller(ctx, awsproto.Caller{Identity: awsproto.Identity{Account: account,
		ARN: "arn:aws:sts::" + account + ":assumed-role/" + name + "/awslambda", UserID: name + ":awslambda",
		RoleARN: roleARN, SessionName: "awslambda"}})
	return s.cfg.Authorizer.Authorize(ctx, authz.Check{Action: action, Resource: queueARN, ResourcePolicy: q.policy,
		ResourceTags: q.Tags, Denied: awsproto.SQSAccessDenied}) == nil
}
