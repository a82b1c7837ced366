package dynamodb

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Group commit of stream-table writes. A write to a table with a stream
// publishes its item and its change record as one atomic JetStream batch;
// an atomic batch costs the server far more than a publish (on a
// one-replica file stream it stages the batch in a store of its own), so
// the batches of concurrent writers are joined into one: all of them are
// stored or none. The first writer to arrive leads: it publishes what is
// queued, group after group, until its own write is done, then hands the
// lead to the oldest writer still waiting. A group refused by a
// precondition (an item changed on another node) is published again
// request by request, so that only the writes that conflict fail.
//
// Lock order: the stripe locks of the writers, then committer.mu.

// Bounds of one group.
const (
	maxGroupWrites = 32
	maxGroupBytes  = 4 << 20
)

type commitRes struct {
	last uint64
	code jetstream.ErrorCode
	err  error
}

type commitReq struct {
	msgs []*nats.Msg
	size int
	done chan commitRes // the result, once
	lead chan struct{}  // told to lead the commits
}

type committer struct {
	mu      sync.Mutex
	queue   []*commitReq
	running bool // a writer leads
}

// take removes the next group from the queue. c.mu is held.
func (c *committer) take() []*commitReq {
	n, size := 0, 0
	for n < len(c.queue) && n < maxGroupWrites && (n == 0 || size+c.queue[n].size <= maxGroupBytes) {
		size += c.queue[n].size
		n++
	}
	group := c.queue[:n:n]
	c.queue = c.queue[n:]
	return group
}

// commit publishes msgs as one atomic batch, possibly joined with the
// batches of concurrent writers; it returns what publishBatch returns for
// them (the last sequence is the group's). It does not return before the
// batch is stored or refused, whatever ctx does: the commit queue must go
// on.
func (s *Service) commit(msgs []*nats.Msg) (uint64, jetstream.ErrorCode, error) {
	req := &commitReq{msgs: msgs, done: make(chan commitRes, 1), lead: make(chan struct{}, 1)}
	for _, m := range msgs {
		req.size += len(m.Data) + len(m.Subject) + 256
	}
	c := &s.commits
	c.mu.Lock()
	c.queue = append(c.queue, req)
	lead := !c.running
	c.running = true
	c.mu.Unlock()
	if !lead {
		select {
		case r := <-req.done:
			return r.last, r.code, r.err
		case <-req.lead:
		}
	}
	for {
		select {
		case r := <-req.done:
			c.mu.Lock()
			if len(c.queue) > 0 {
				c.queue[0].lead <- struct{}{}
			} else {
				c.running = false
			}
			c.mu.Unlock()
			return r.last, r.code, r.err
		default:
		}
		c.mu.Lock()
		group := c.take()
		c.mu.Unlock()
		s.commitGroup(group)
	}
}

// commitGroup publishes a group's batches as one and tells each writer
// how it went.
func (s *Service) commitGroup(group []*commitReq) {
	ctx := context.Background() // publishBatch bounds its wait
	if len(group) == 1 {
		last, code, err := s.publishBatch(ctx, group[0].msgs)
		group[0].done <- commitRes{last, code, err}
		return
	}
	var all []*nats.Msg
	for _, r := range group {
		all = append(all, r.msgs...)
	}
	last, code, err := s.publishBatch(ctx, all)
	if err == nil && code != 0 {
		// some write's precondition failed: find which, alone
		for _, r := range group {
			last, code, err := s.publishBatch(ctx, r.msgs)
			r.done <- commitRes{last, code, err}
		}
		return
	}
	for _, r := range group {
		r.done <- commitRes{last, code, err}
	}
}
