package sqs

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// A message move task moves the messages of a dead-letter queue to their
// source queues (DeadLetterQueueSourceArn) or to one destination, at most
// MaxNumberOfMessagesPerSecond. Tasks run in this process and are kept in
// memory: a restart ends them (the messages moved so far stay moved, the
// rest stay in the dead-letter queue), and ListMessageMoveTasks forgets
// them.

// Task statuses.
const (
	taskRunning    = "RUNNING"
	taskCompleted  = "COMPLETED"
	taskCancelling = "CANCELLING"
	taskCancelled  = "CANCELLED"
	taskFailed     = "FAILED"
)

type moveTask struct {
	handle, source, dest string
	rate                 int // messages per second, 0 for no limit
	started              int64
	toMove               uint64
	cancel               context.CancelFunc

	mu      sync.Mutex
	status  string
	moved   uint64
	failure string
}

type moveTaskEntry struct {
	TaskHandle                        string `json:",omitempty"`
	Status                            string
	SourceArn                         string
	DestinationArn                    string `json:",omitempty"`
	MaxNumberOfMessagesPerSecond      *int   `json:",omitempty"`
	ApproximateNumberOfMessagesMoved  uint64
	ApproximateNumberOfMessagesToMove uint64
	FailureReason                     string `json:",omitempty"`
	StartedTimestamp                  int64
}

func (t *moveTask) entry() moveTaskEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := moveTaskEntry{Status: t.status, SourceArn: t.source, DestinationArn: t.dest, ApproximateNumberOfMessagesMoved: t.moved,
		ApproximateNumberOfMessagesToMove: t.toMove, FailureReason: t.failure, StartedTimestamp: t.started}
	if t.status == taskRunning {
		e.TaskHandle = t.handle
	}
	if t.rate > 0 {
		r := t.rate
		e.MaxNumberOfMessagesPerSecond = &r
	}
	return e
}

func notFound(format string, args ...any) error {
	return awsproto.Errorf(awsproto.SQSResourceNotFound, format, args...)
}

func (s *Service) startMessageMoveTask(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		SourceArn, DestinationArn    string
		MaxNumberOfMessagesPerSecond *int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.SourceArn == "" {
		return nil, missing("SourceArn")
	}
	src, ok := s.queueByARN(in.SourceArn)
	if err := s.authorizeARN(r, "StartMessageMoveTask", in.SourceArn, src); err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("The resource that you specified for the SourceArn parameter doesn't exist.")
	}
	isDLQ := false
	for _, q := range s.view.all() {
		if q.redrive != nil && q.redrive.DeadLetterTargetArn == in.SourceArn {
			isDLQ = true
		}
	}
	if !isDLQ || src.fifo() {
		return nil, awsproto.Errorf(awsproto.SQSUnsupportedOperation, "Source queue must be configured as a Dead Letter Queue.")
	}
	if in.DestinationArn != "" {
		if _, ok := s.queueByARN(in.DestinationArn); !ok {
			return nil, notFound("The resource that you specified for the DestinationArn parameter doesn't exist.")
		}
	}
	rate := 0
	if in.MaxNumberOfMessagesPerSecond != nil {
		rate = *in.MaxNumberOfMessagesPerSecond
		if rate < 1 || rate > 500 {
			return nil, invalidParam("Value %d for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: Must be between 1 and 500.", rate)
		}
	}
	c, err := s.counts(ctx, src)
	if err != nil {
		return nil, err
	}
	s.tasksMu.Lock()
	defer s.tasksMu.Unlock()
	for _, t := range s.tasks {
		if t.source == in.SourceArn && t.entry().Status == taskRunning {
			return nil, awsproto.Errorf(awsproto.SQSUnsupportedOperation, "There is already a task running. Only one active task is allowed for a source queue arn at a given time.")
		}
	}
	id := newID()
	t := &moveTask{handle: base64.RawURLEncoding.EncodeToString([]byte(id + " " + in.SourceArn)), source: in.SourceArn, dest: in.DestinationArn,
		rate: rate, started: s.cfg.Now().UnixMilli(), toMove: c.visible, status: taskRunning}
	tctx, cancel := context.WithCancel(s.bg)
	t.cancel = cancel
	s.tasks = append(s.tasks, t)
	s.taskWG.Add(1)
	go func() {
		defer s.taskWG.Done()
		defer cancel()
		s.move(tctx, src, t)
	}()
	return struct{ TaskHandle string }{t.handle}, nil
}

// move runs one task until it has moved what was there when it started,
// the queue is empty, or it is cancelled.
func (s *Service) move(ctx context.Context, src *queue, t *moveTask) {
	finish := func(status, why string) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.status == taskCancelling {
			status = taskCancelled
		}
		t.status, t.failure = status, why
	}
	rt, err := s.runtime(ctx, src)
	if err != nil {
		finish(taskFailed, "The source queue could not be read.")
		return
	}
	var tick <-chan time.Time
	if t.rate > 0 {
		tk := time.NewTicker(time.Second / time.Duration(t.rate))
		defer tk.Stop()
		tick = tk.C
	}
	for {
		t.mu.Lock()
		done := t.moved >= t.toMove || t.status != taskRunning
		t.mu.Unlock()
		if done || ctx.Err() != nil {
			finish(taskCompleted, "")
			return
		}
		if tick != nil {
			select {
			case <-tick:
			case <-ctx.Done():
				finish(taskCancelled, "")
				return
			}
		}
		batch, err := rt.ready.FetchNoWait(1)
		if err != nil {
			finish(taskFailed, "The source queue could not be read.")
			return
		}
		n := 0
		for m := range batch.Messages() {
			n++
			if !s.moveOne(ctx, t, m) {
				finish(taskFailed, "A message could not be moved to its destination.")
				return
			}
		}
		if n == 0 {
			finish(taskCompleted, "")
			return
		}
	}
}

// moveOne publishes one message to the task's destination, or the queue
// it was dead-lettered from, then deletes it from the source.
func (s *Service) moveOne(ctx context.Context, t *moveTask, m jetstream.Msg) bool {
	env, ok := decodeEnvelope(m)
	if !ok {
		_ = m.Term()
		return true
	}
	dest := t.dest
	if dest == "" {
		dest = env.Source
	}
	q, ok := s.queueByARN(dest)
	if !ok {
		_ = m.Nak()
		return false
	}
	env.Source = ""
	if _, err := s.publish(ctx, q, env, 0); err != nil {
		_ = m.Nak()
		return false
	}
	_ = m.DoubleAck(ctx)
	t.mu.Lock()
	t.moved++
	t.mu.Unlock()
	return true
}

func (s *Service) listMessageMoveTasks(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		SourceArn  string
		MaxResults *int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.SourceArn == "" {
		return nil, missing("SourceArn")
	}
	src, ok := s.queueByARN(in.SourceArn)
	if err := s.authorizeARN(r, "ListMessageMoveTasks", in.SourceArn, src); err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("The resource that you specified for the SourceArn parameter doesn't exist.")
	}
	max := 1
	if in.MaxResults != nil {
		max = *in.MaxResults
		if max < 1 || max > 10 {
			return nil, invalidParam("Value %d for parameter MaxResults is invalid. Reason: Must be between 1 and 10.", max)
		}
	}
	out := []moveTaskEntry{}
	s.tasksMu.Lock()
	for i := len(s.tasks) - 1; i >= 0 && len(out) < max; i-- {
		if s.tasks[i].source == in.SourceArn {
			out = append(out, s.tasks[i].entry())
		}
	}
	s.tasksMu.Unlock()
	return struct{ Results []moveTaskEntry }{out}, nil
}

func (s *Service) cancelMessageMoveTask(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct{ TaskHandle string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TaskHandle == "" {
		return nil, missing("TaskHandle")
	}
	raw, _ := base64.RawURLEncoding.DecodeString(in.TaskHandle)
	_, source, _ := strings.Cut(string(raw), " ")
	src, _ := s.queueByARN(source)
	if err := s.authorizeARN(r, "CancelMessageMoveTask", source, src); err != nil {
		return nil, err
	}
	s.tasksMu.Lock()
	var t *moveTask
	for _, x := range s.tasks {
		if x.handle == in.TaskHandle {
			t = x
		}
	}
	s.tasksMu.Unlock()
	if t == nil {
		return nil, notFound("Task does not exist.")
	}
	t.mu.Lock()
	if t.status != taskRunning {
		t.mu.Unlock()
		return nil, awsproto.Errorf(awsproto.SQSUnsupportedOperation, "Only active tasks can be cancelled.")
	}
	t.status = taskCancelling
	moved := t.moved
	t.mu.Unlock()
	t.cancel()
	return struct{ ApproximateNumberOfMessagesMoved uint64 }{moved}, nil
}
