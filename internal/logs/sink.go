package logs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kumo-run/kumo/internal/worker"
)

// DroppedFormat is the marker line left where the sink dropped lines.
const DroppedFormat = "[kumo] %d log lines dropped: the function wrote faster than logs could be stored"

// flushTimeout bounds storing one log stream's batch.
const flushTimeout = 30 * time.Second

// failedEvents is how many events the sink could not store since it
// started.
func (k *sink) failedEvents() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.failed
}

// maxEpisode bounds how long a drop episode goes without a marker line
// when a function floods its output without pause.
const maxEpisode = 5 * time.Second

type streamID struct{ group, stream string }

// pending is what the sink holds for one log stream.
type pending struct {
	events  []stored
	bytes   int64     // of events waiting and being stored
	dropped int       // lines dropped in the current episode
	since   time.Time // start of the current drop episode
	fresh   bool      // lines were dropped since the last flush
}

// sink batches log lines and stores them in the background.
type sink struct {
	s *Store

	mu      sync.Mutex
	streams map[streamID]*pending
	total   int64 // bytes held, over all streams
	waiting int   // events waiting for the next flush
	failed  int   // events that could not be stored, since the start
	refused bool  // the last flush found the store refusing writes
	kick    chan struct{}
	flushed chan struct{} // closed and replaced after each flush
}

func newSink(s *Store) *sink {
	return &sink{s: s, streams: map[streamID]*pending{}, kick: make(chan struct{}, 1), flushed: make(chan struct{})}
}

var _ worker.LogSink = (*Store)(nil)

// Append queues events of one log stream for storage, creating the group
// and stream when first seen. It never waits for storage: events beyond
// the sink's budgets are dropped and counted, and a marker line saying how
// many takes their place once the stream has room again.
func (s *Store) Append(group, stream string, events []worker.LogEvent) {
	k := s.sink
	k.mu.Lock()
	id := streamID{group, stream}
	p := k.streams[id]
	if p == nil {
		p = &pending{}
		k.streams[id] = p
	}
	for _, e := range events {
		n := int64(len(e.Message)) + eventOverhead
		if p.bytes+n > s.cfg.StreamBudget || k.total+n > s.cfg.GlobalBudget {
			if p.dropped == 0 {
				p.since = time.Now()
			}
			p.dropped++
			p.fresh = true
			continue
		}
		p.events = append(p.events, stored{Time: e.Time.UnixMilli(), Message: e.Message})
		p.bytes += n
		k.total += n
		k.waiting++
	}
	kick := k.waiting >= s.cfg.FlushEvents
	k.mu.Unlock()
	if kick {
		select {
		case k.kick <- struct{}{}:
		default:
		}
	}
}

// Flush returns once the events appended before the call are stored (or
// dropped), or ctx is done.
func (s *Store) Flush(ctx context.Context) error {
	k := s.sink
	// Two flush rounds: the one under way may have taken its events before
	// this call's events arrived.
	for range 2 {
		k.mu.Lock()
		ch := k.flushed
		k.mu.Unlock()
		select {
		case k.kick <- struct{}{}:
		default:
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (k *sink) run(stop <-chan struct{}) {
	t := time.NewTicker(k.s.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			k.flush() // what was appended before Close
			return
		case <-t.C:
		case <-k.kick:
		}
		k.flush()
	}
}

type batch struct {
	id     streamID
	events []stored
	bytes  int64
}

// flush stores everything waiting, one log stream after another, with the
// acks of each stream's events awaited before the bytes count as free.
func (k *sink) flush() {
	now := time.Now()
	k.mu.Lock()
	var work []batch
	for id, p := range k.streams {
		var b int64
		for _, e := range p.events {
			b += int64(len(e.Message)) + eventOverhead
		}
		if p.dropped > 0 && (!p.fresh || now.Sub(p.since) >= maxEpisode) {
			// The episode is over (or has lasted long enough): say so in
			// the log itself. The marker is not held to the budget.
			p.events = append(p.events, stored{Time: now.UnixMilli(), Message: fmt.Sprintf(DroppedFormat, p.dropped)})
			p.dropped = 0
		}
		p.fresh = false
		if len(p.events) == 0 {
			if p.bytes == 0 && p.dropped == 0 {
				delete(k.streams, id)
			}
			continue
		}
		work = append(work, batch{id: id, events: p.events, bytes: b})
		p.events = nil
	}
	k.waiting = 0
	k.mu.Unlock()

	var refusal error
	if w := k.s.cfg.Writable; w != nil && len(work) > 0 {
		refusal = w()
		k.mu.Lock()
		was := k.refused
		k.refused = refusal != nil
		k.mu.Unlock()
		switch {
		case refusal != nil && !was:
			k.s.log.Warn("log events dropped while the store refuses writes", "err", refusal)
		case refusal == nil && was:
			k.s.log.Info("storing log events again")
		}
	}
	for _, b := range work {
		err := refusal
		if err == nil {
			ctx, cancel := context.WithTimeout(k.s.writes, flushTimeout)
			err = k.s.ensure(ctx, b.id.group, b.id.stream)
			if err == nil {
				_, err = k.s.publish(ctx, b.id.group, b.id.stream, b.events)
			}
			cancel()
			if err != nil && k.s.writes.Err() == nil {
				k.s.log.Warn("storing log events", "logGroup", b.id.group, "logStream", b.id.stream, "events", len(b.events), "err", err)
			}
		}
		k.mu.Lock()
		if err != nil {
			k.failed += len(b.events)
		}
		if p := k.streams[b.id]; p != nil {
			p.bytes -= b.bytes
			if err != nil {
				if p.dropped == 0 {
					p.since = now
				}
				p.dropped += len(b.events)
				p.fresh = true
			}
		}
		k.total -= b.bytes
		k.mu.Unlock()
	}
	k.mu.Lock()
	close(k.flushed)
	k.flushed = make(chan struct{})
	k.mu.Unlock()
}
