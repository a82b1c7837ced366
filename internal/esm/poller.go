package esm

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/eventpattern"
	"github.com/kumo-run/kumo/internal/invoke"
	"github.com/kumo-run/kumo/internal/registry"
	"github.com/kumo-run/kumo/internal/services/sqs"
)

// maxPayload keeps a batch's event under the synchronous invoke's 6 MB.
const maxPayload = invoke.MaxSyncPayload - 64<<10

// poller runs one mapping: up to limit workers, each receiving a batch,
// invoking the function with it and deleting what succeeded. It starts
// with one worker; a worker that fills a whole batch starts another
// (backlog), and a worker that finds the queue empty ends unless it is
// the last.
type poller struct {
	s      *Service
	rec    *record
	ctx    context.Context // cancelled by stop: no new receives
	cancel context.CancelFunc

	filters []*eventpattern.Pattern // the mapping's FilterCriteria, compiled

	mu      sync.Mutex
	workers int
	stopped chan struct{} // closed when stop has been called and the last worker has ended
}

func (s *Service) startPoller(r *record) *poller {
	ctx, cancel := context.WithCancel(s.hard)
	p := &poller{s: s, rec: r.clone(), ctx: ctx, cancel: cancel, stopped: make(chan struct{})}
	// Checked when the mapping was written: an error here means none.
	p.filters, _ = compileFilters(r.M.FilterCriteria)
	if r.isStream() {
		p.startStream()
		return p
	}
	p.spawn()
	return p
}

// same reports whether r has the settings p runs with.
func (p *poller) same(r *record) bool {
	a, b := p.rec, r
	return a.Function == b.Function && a.Qualifier == b.Qualifier && a.M.BatchSize == b.M.BatchSize &&
		a.M.MaximumBatchingWindowInSeconds == b.M.MaximumBatchingWindowInSeconds &&
		a.reportFailures() == b.reportFailures() && a.maxConcurrency() == b.maxConcurrency() &&
		sameFilters(a.M.FilterCriteria, b.M.FilterCriteria) && sameStream(a, b)
}

func sameFilters(a, b *FilterCriteria) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.Filters) != len(b.Filters) {
		return false
	}
	for i := range a.Filters {
		x, y := a.Filters[i].Pattern, b.Filters[i].Pattern
		if (x == nil) != (y == nil) || x != nil && *x != *y {
			return false
		}
	}
	return true
}

func (r *record) reportFailures() bool {
	return len(r.M.FunctionResponseTypes) == 1 && r.M.FunctionResponseTypes[0] == ReportBatchItemFailures
}

func (r *record) maxConcurrency() int {
	if r.M.ScalingConfig != nil && r.M.ScalingConfig.MaximumConcurrency != nil {
		return *r.M.ScalingConfig.MaximumConcurrency
	}
	return 0
}

// stop ends p's receives; batches being processed finish (Close cancels
// them).
func (p *poller) stop() { p.cancel() }

// limit is the most concurrent batches: the mapping's MaximumConcurrency
// (else the default), and no more than the function's reserved
// concurrency. A FIFO queue's workers take different message groups (a
// group is held while a batch of it is in flight), so each group's order
// holds however many there are.
func (p *poller) limit() int {
	n := p.rec.maxConcurrency()
	if n == 0 {
		n = p.s.cfg.DefaultConcurrency
	}
	ctx, cancel := context.WithTimeout(p.ctx, time.Second)
	defer cancel()
	if r, err := p.s.cfg.Functions.GetFunctionConcurrency(ctx, registry.Ref{Name: p.rec.Function}); err == nil && r != nil && *r > 0 {
		n = min(n, *r)
	}
	return max(n, 1)
}

// spawn starts a worker if p is below its limit.
func (p *poller) spawn() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil || p.workers >= p.limit() {
		return false
	}
	p.workers++
	p.s.wg.Add(1)
	go p.work()
	return true
}

// retire ends a worker that found no messages, unless it is the last.
func (p *poller) retire() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.workers <= 1 {
		return false
	}
	p.workers--
	return true
}

func (p *poller) work() {
	defer p.s.wg.Done()
	backoff := p.s.cfg.Backoff
	for p.ctx.Err() == nil {
		batch, full, err := p.collect()
		if err != nil {
			if p.ctx.Err() != nil {
				break
			}
			p.s.log.Warn("esm: receiving", "uuid", p.rec.M.UUID, "queue", p.rec.M.EventSourceArn, "error", err)
			if !p.sleep(p.ctx, backoff) {
				break
			}
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = p.s.cfg.Backoff
		if len(batch) == 0 {
			if p.retire() {
				return
			}
			continue
		}
		if full {
			p.spawn()
		}
		if p.process(batch) {
			backoff = p.s.cfg.Backoff
			continue
		}
		// The invoke itself failed (the function is gone, or throttled
		// past the batch's visibility): pause before the next batch.
		if !p.sleep(p.ctx, backoff) {
			break
		}
		backoff = min(backoff*2, 30*time.Second)
	}
	p.mu.Lock()
	p.workers--
	if p.workers == 0 {
		close(p.stopped)
	}
	p.mu.Unlock()
}

// collect receives up to BatchSize messages: it waits for the first, then
// gathers more for up to MaximumBatchingWindowInSeconds (none with a zero
// window but what one receive returns, as Lambda does). full says the
// batch reached BatchSize.
func (p *poller) collect() ([]sqs.Message, bool, error) {
	size, window := p.rec.M.BatchSize, time.Duration(p.rec.M.MaximumBatchingWindowInSeconds)*time.Second
	q := p.rec.M.EventSourceArn
	first, err := p.s.cfg.Queues.Receive(p.ctx, q, min(size, 10), p.s.cfg.PollWait, 0)
	if err != nil || len(first) == 0 {
		return nil, false, err
	}
	batch, bytes := first, 0
	for _, m := range first {
		bytes += len(m.Body) + len(m.ReceiptHandle) + 512
	}
	deadline := p.s.cfg.Now().Add(window)
	for len(batch) < size && bytes < maxPayload && p.ctx.Err() == nil {
		left := deadline.Sub(p.s.cfg.Now())
		if left <= 0 {
			break
		}
		more, err := p.s.cfg.Queues.Receive(p.ctx, q, min(size-len(batch), 10), left, 0)
		if err != nil {
			break // what was received is processed; the error shows again on the next receive
		}
		for _, m := range more {
			bytes += len(m.Body) + len(m.ReceiptHandle) + 512
		}
		batch = append(batch, more...)
	}
	return batch, len(batch) >= size, nil
}

// process invokes the function with batch and deletes what succeeded. A
// throttled invoke is retried with backoff while the batch is still
// invisible (its queue's visibility timeout, less a second), then the
// batch is made visible again; a function error leaves the batch to
// return to the queue after its visibility timeout (and to the queue's
// redrive policy). It reports false when no invoke ran the batch.
func (p *poller) process(batch []sqs.Message) bool {
	ctx := p.s.hard
	if batch = p.filter(ctx, batch); len(batch) == 0 {
		return true
	}
	payload, err := event(p.rec.M.EventSourceArn, p.s.cfg.ARNs.Region, batch)
	if err != nil {
		p.s.log.Error("esm: encoding an event", "uuid", p.rec.M.UUID, "error", err)
		return false
	}
	received := p.s.cfg.Now()
	visible := received.Add(p.s.cfg.Queues.QueueVisibilityTimeout(p.rec.M.EventSourceArn) - time.Second)
	backoff := p.s.cfg.Backoff
	var out *invoke.Output
	for {
		out, err = p.s.cfg.Invoker.Invoke(ctx, &invoke.Input{Ref: p.rec.ref(), InvocationType: invoke.TypeRequestReponse,
			Payload: payload, RequestID: newUUID()})
		if err == nil || !retryable(err) || ctx.Err() != nil {
			break
		}
		// Throttled: the messages stay in flight; try again while they
		// are (with a margin), else let them return to the queue.
		if p.s.cfg.Now().Add(backoff).After(visible) || !p.sleep(ctx, backoff) {
			p.release(batch)
			if ctx.Err() == nil {
				p.s.setResult(p.rec.M.UUID, resultProblem)
			}
			return false
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	if err != nil {
		p.s.log.Warn("esm: invoking", "uuid", p.rec.M.UUID, "function", p.rec.M.FunctionArn, "error", err)
		p.s.setResult(p.rec.M.UUID, resultProblem)
		return false
	}
	if out.FunctionError != "" {
		p.s.setResult(p.rec.M.UUID, resultProblem)
		return true
	}
	p.s.setResult(p.rec.M.UUID, resultOK)
	failed := map[string]bool{}
	if p.rec.reportFailures() {
		var ok bool
		if failed, ok = failures(out.Payload, batch); !ok {
			p.s.log.Info("esm: invalid batchItemFailures response; the batch failed", "uuid", p.rec.M.UUID)
			return true
		}
	}
	var wg sync.WaitGroup
	for _, m := range batch {
		if failed[m.MessageID] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.s.cfg.Queues.Delete(ctx, p.rec.M.EventSourceArn, m.ReceiptHandle); err != nil {
				p.s.log.Warn("esm: deleting a processed message", "uuid", p.rec.M.UUID, "message", m.MessageID, "error", err)
			}
		}()
	}
	wg.Wait()
	return true
}

// filter deletes the messages no filter of the mapping matches, as Lambda
// does for SQS, and returns the others.
func (p *poller) filter(ctx context.Context, batch []sqs.Message) []sqs.Message {
	if len(p.filters) == 0 {
		return batch
	}
	keep := batch[:0:0]
	for _, m := range batch {
		if matches(p.filters, p.rec.M.EventSourceArn, p.s.cfg.ARNs.Region, m) {
			keep = append(keep, m)
			continue
		}
		if err := p.s.cfg.Queues.Delete(ctx, p.rec.M.EventSourceArn, m.ReceiptHandle); err != nil {
			p.s.log.Warn("esm: deleting a filtered-out message", "uuid", p.rec.M.UUID, "message", m.MessageID, "error", err)
		}
	}
	return keep
}

// release makes a batch that could not be invoked visible again now,
// without counting against the queue's maxReceiveCount any more than the
// receive did.
func (p *poller) release(batch []sqs.Message) {
	for _, m := range batch {
		_ = p.s.cfg.Queues.ChangeVisibility(p.s.hard, p.rec.M.EventSourceArn, m.ReceiptHandle, 0)
	}
}

// retryable reports whether an invoke error is a throttle worth retrying.
func retryable(err error) bool {
	var e *awsproto.Error
	if errors.As(err, &e) {
		return e.Code == awsproto.TooManyRequestsException || e.Retryable()
	}
	return false
}

func (p *poller) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
