package events

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/schedule"
)

// fireState is a scheduled rule's record in the bucket, under
// "fire.<rule ARN>": the period it fires next and the last one it fired.
// Every server's scheduler reads it; the one whose update at the read
// revision succeeds has fired the period (see the package doc).
type fireState struct {
	Next time.Time `json:"next"`
	Last time.Time `json:"last,omitzero"`
	// Expr and Anchor are what Next was computed from; a rule whose
	// schedule changed since starts over.
	Expr   string    `json:"expr"`
	Anchor time.Time `json:"anchor"`
}

// runSchedules checks the scheduled rules every Config.Tick until ctx
// ends.
func (s *Service) runSchedules(ctx context.Context) {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.FireDue(ctx)
		}
	}
}

// FireDue fires every enabled scheduled rule whose period has come, as of
// Config.Now. The scheduler calls it every Config.Tick; tests call it
// after moving their clock.
func (s *Service) FireDue(ctx context.Context) {
	now := s.now()
	for _, r := range s.view.ruleList(DefaultBus) {
		if r.sched == nil || r.State == "DISABLED" {
			continue
		}
		if err := s.fire(ctx, r, now); err != nil && ctx.Err() == nil {
			s.log.Warn("events: firing a schedule failed; trying again", "rule", r.ARN, "error", err)
		}
	}
}

// next is the period after t of r's schedule; a rate's minutes last
// Config.ScheduleMinute.
func (s *Service) next(r *rule, t time.Time) time.Time {
	if rt, ok := r.sched.(schedule.Rate); ok {
		return t.Add(s.ratePeriod(rt))
	}
	return r.sched.Next(t)
}

func (s *Service) ratePeriod(rt schedule.Rate) time.Duration {
	return time.Duration(int64(rt.Period/time.Minute) * int64(s.cfg.ScheduleMinute))
}

// fire fires r's period if it has come. A period that came while no
// server ran fires once, late, when one starts; the periods before it
// that were missed too are skipped, as EventBridge does not backfill.
func (s *Service) fire(ctx context.Context, r *rule, now time.Time) error {
	// A period's time only moves forward, so the one last read is a
	// lower bound: before it there is nothing to read the bucket for.
	memo := r.ARN + "\x00" + r.ScheduleExpression + "\x00" + r.Created.String()
	if v, ok := s.nextFire.Load(memo); ok && now.Before(v.(time.Time)) {
		return nil
	}
	key := fireKey(r.ARN)
	var st fireState
	rev, err := s.load(ctx, key, &st)
	if err != nil {
		return err
	}
	if rev == 0 || st.Expr != r.ScheduleExpression || !st.Anchor.Equal(r.Created) {
		// First sight of this schedule: a rate fires a period after the
		// rule's creation, a cron at its first time after it.
		st = fireState{Next: s.next(r, r.Created), Expr: r.ScheduleExpression, Anchor: r.Created}
		if err := s.save(ctx, key, &st, rev); err != nil {
			if isConcurrent(err) {
				return nil // another server wrote it first
			}
			return err
		}
		rev, err = s.load(ctx, key, &st)
		if err != nil || rev == 0 {
			return err
		}
	}
	if st.Next.IsZero() {
		return nil
	}
	if st.Next.Before(r.Enabled) {
		// Periods that came while the rule was disabled are not owed.
		st.Next = s.after(r, st.Next, r.Enabled)
	}
	if st.Next.IsZero() || now.Before(st.Next) {
		if !st.Next.IsZero() {
			s.nextFire.Store(memo, st.Next)
		}
		return nil
	}
	p := st.Next
	if rt, ok := r.sched.(schedule.Rate); ok {
		period := s.ratePeriod(rt)
		p = p.Add(now.Sub(p) / period * period)
	} else {
		for n := r.sched.Next(p); !n.IsZero() && !n.After(now); n = r.sched.Next(n) {
			p = n
		}
	}
	if !p.Equal(st.Next) {
		s.log.Warn("events: scheduled periods passed while no server ran; firing the latest once", "rule", r.ARN, "from", st.Next, "latest", p)
	}
	id := periodID(r.ARN, p)
	ev := Envelope{Version: "0", ID: id, DetailType: "Scheduled Event", Source: "aws.events", Account: s.cfg.Account,
		Time: p.UTC().Format(timeFormat), Region: s.cfg.Region, Resources: []string{r.ARN}, Detail: []byte("{}")}
	// Stored before it is recorded: a crash in between fires the period
	// again after the restart, with the same event id; never not at all.
	// A server that lost the race below stored the same message id, which
	// the stream's duplicate window drops.
	if err := s.storeEvent(ctx, DefaultBus, r.Name, &ev, "s-"+id); err != nil {
		return err
	}
	st.Last, st.Next = p, s.next(r, p)
	if err := s.save(ctx, key, &st, rev); err != nil && !isConcurrent(err) {
		return err
	}
	return nil
}

// after is the first period of r's schedule at or after t, counting from
// period p.
func (s *Service) after(r *rule, p, t time.Time) time.Time {
	if rt, ok := r.sched.(schedule.Rate); ok {
		period := s.ratePeriod(rt)
		return p.Add((t.Sub(p) + period - 1) / period * period)
	}
	for !p.IsZero() && p.Before(t) {
		p = r.sched.Next(p)
	}
	return p
}

func isConcurrent(err error) bool {
	var ae *awsproto.Error
	return errors.As(err, &ae) && ae.Code == awsproto.EventsConcurrentModification
}

// periodID is the event id of a rule's period: the same on every server
// and after every restart, a UUID in form.
func periodID(ruleARN string, p time.Time) string {
	h := sha256.Sum256([]byte(ruleARN + "\x00" + strconv.FormatInt(p.UnixNano(), 10)))
	return uuidOf(h[:16])
}

func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return uuidOf(b[:])
}

// uuidOf formats 16 bytes as a version 4 UUID.
func uuidOf(b []byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
