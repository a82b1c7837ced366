package scheduler

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kumo-run/kumo/internal/schedule"
	"github.com/kumo-run/kumo/internal/services/events"
	"github.com/kumo-run/kumo/internal/store"
)

// fireState is a schedule's record under "fire.<schedule ARN>": the
// period it fires next, and what that was computed from.
type fireState struct {
	Next   time.Time `json:"next"`
	Expr   string    `json:"expr"`
	Anchor time.Time `json:"anchor"`
}

// FireDue fires every enabled schedule whose period has come, as of
// Config.Now. The scheduler calls it every Config.Tick; tests call it
// after moving their clock.
func (s *Service) FireDue(ctx context.Context) {
	entries, err := s.cfg.KV.List(ctx, "sched.")
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("scheduler: listing schedules failed", "error", err)
		}
		return
	}
	now := s.now()
	for _, e := range entries {
		var sc Schedule
		if err := json.Unmarshal(e.Value, &sc); err != nil || sc.State != "ENABLED" {
			continue
		}
		if err := s.fire(ctx, &sc, e.Revision, now); err != nil && ctx.Err() == nil {
			s.log.Warn("scheduler: firing a schedule failed; trying again", "schedule", sc.Arn, "error", err)
		}
	}
}

// next is the period after t; a rate's minutes last Config.ScheduleMinute.
func (s *Service) next(p schedule.Schedule, t time.Time) time.Time {
	if rt, ok := p.(schedule.Rate); ok {
		return t.Add(time.Duration(int64(rt.Period/time.Minute) * int64(s.cfg.ScheduleMinute)))
	}
	return p.Next(t)
}

// fire fires sc's period if it has come, as events' rules do (see the
// package doc): stored through EventBridge's delivery path with an id
// derived from the schedule and the period, then recorded by an update at
// the revision read, so that it fires once, on one server. A period that
// came while no server ran fires once, late; earlier ones are skipped.
func (s *Service) fire(ctx context.Context, sc *Schedule, schedRev uint64, now time.Time) error {
	p, err := s.parse(sc)
	if err != nil {
		return nil // validated when stored
	}
	anchor := time.Time(sc.LastModificationDate)
	key := fireKey(sc.Arn)
	var st fireState
	rev := uint64(0)
	if e, err := s.cfg.KV.Get(ctx, key); err == nil {
		rev = e.Revision
		if err := json.Unmarshal(e.Value, &st); err != nil {
			return err
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if rev == 0 || st.Expr != sc.ScheduleExpression+"|"+sc.ScheduleExpressionTimezone || !st.Anchor.Equal(anchor) {
		st = fireState{Next: s.next(p, anchor), Expr: sc.ScheduleExpression + "|" + sc.ScheduleExpressionTimezone, Anchor: anchor}
		if sc.StartDate != nil {
			for start := time.Time(*sc.StartDate); !st.Next.IsZero() && st.Next.Before(start); {
				st.Next = s.next(p, st.Next)
			}
		}
		b, _ := json.Marshal(st)
		if rev == 0 {
			rev, err = s.cfg.KV.Create(ctx, key, b)
		} else {
			rev, err = s.cfg.KV.Update(ctx, key, b, rev)
		}
		if err != nil {
			if errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrConflict) {
				return nil // another server wrote it first
			}
			return err
		}
	}
	if st.Next.IsZero() || now.Before(st.Next) {
		return nil
	}
	period := st.Next
	for n := s.next(p, period); !n.IsZero() && !n.After(now); n = s.next(p, n) {
		period = n
	}
	if sc.EndDate != nil && period.After(time.Time(*sc.EndDate)) {
		return s.finish(ctx, sc, schedRev)
	}
	body := "{}"
	if sc.Target.Input != nil {
		body = *sc.Target.Input
	}
	h := sha256.Sum256([]byte(sc.Arn + "\x00" + strconv.FormatInt(period.UnixNano(), 10)))
	d := events.Direct{Source: sc.Arn, Role: sc.Target.RoleArn,
		Target: events.Target{ID: "scheduler", ARN: sc.Target.Arn, RetryPolicy: sc.Target.RetryPolicy, DeadLetterConfig: sc.Target.DeadLetterConfig}}
	if err := s.cfg.Events.DeliverDirect(ctx, fmt.Sprintf("sch-%x", h[:16]), d, []byte(body)); err != nil {
		return err
	}
	st.Next = s.next(p, period)
	b, _ := json.Marshal(st)
	if _, err := s.cfg.KV.Update(ctx, key, b, rev); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil // another server fired this period (the same message id)
		}
		return err
	}
	if st.Next.IsZero() || (sc.EndDate != nil && st.Next.After(time.Time(*sc.EndDate))) {
		return s.finish(ctx, sc, schedRev)
	}
	return nil
}

// finish ends a schedule that will not fire again: deleted when its
// ActionAfterCompletion says so.
func (s *Service) finish(ctx context.Context, sc *Schedule, rev uint64) error {
	if sc.ActionAfterCompletion != "DELETE" {
		return nil
	}
	err := s.cfg.KV.Delete(ctx, schedKey(sc.GroupName, sc.Name), rev)
	if errors.Is(err, store.ErrConflict) {
		return nil // changed since: kept
	}
	return err
}
