package schedule

import (
	"errors"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestNext takes its expressions from EventBridge's documentation
// ("Schedule expressions for rules": the cron and rate examples).
func TestNext(t *testing.T) {
	tests := []struct {
		expr, after string
		want        []string
	}{
		// "Run at 10:15 AM (UTC) every day"
		{"cron(15 10 * * ? *)", "2026-03-01T10:15:00Z", []string{"2026-03-02T10:15:00Z", "2026-03-03T10:15:00Z"}},
		// "Run at 6:00 PM (UTC) every Monday through Friday"
		{"cron(0 18 ? * MON-FRI *)", "2026-12-04T18:00:00Z", []string{"2026-12-07T18:00:00Z", "2026-12-08T18:00:00Z"}},
		// "Run at 8:00 AM (UTC) every first day of the month"
		{"cron(0 8 1 * ? *)", "2026-01-15T00:00:00Z", []string{"2026-02-01T08:00:00Z", "2026-03-01T08:00:00Z"}},
		// "Run every 10 min on weekdays"
		{"cron(0/10 * ? * MON-FRI *)", "2026-12-04T23:45:00Z", []string{"2026-12-04T23:50:00Z", "2026-12-07T00:00:00Z"}},
		// "Run every 5 minutes between 8:00 AM and 5:55 PM weekdays"
		{"cron(0/5 8-17 ? * MON-FRI *)", "2026-12-04T17:55:00Z", []string{"2026-12-07T08:00:00Z", "2026-12-07T08:05:00Z"}},
		// "Run at 9:00 AM (UTC) the first Monday of each month"
		{"cron(0 9 ? * 2#1 *)", "2026-01-01T00:00:00Z", []string{"2026-01-05T09:00:00Z", "2026-02-02T09:00:00Z"}},
		// last day of the month, last weekday, nearest weekday
		{"cron(0 0 L * ? *)", "2026-02-01T00:00:00Z", []string{"2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z"}},
		{"cron(0 0 L 2 ? *)", "2027-03-01T00:00:00Z", []string{"2028-02-29T00:00:00Z"}},
		{"cron(0 0 LW * ? *)", "2026-05-01T00:00:00Z", []string{"2026-05-29T00:00:00Z", "2026-06-30T00:00:00Z"}},
		{"cron(0 0 15W * ? *)", "2026-08-01T00:00:00Z", []string{"2026-08-14T00:00:00Z", "2026-09-15T00:00:00Z"}},
		{"cron(0 0 1W * ? *)", "2026-08-01T00:00:00Z", []string{"2026-08-03T00:00:00Z"}}, // Aug 1st is a Saturday
		// last Friday of the month; Saturday as plain L
		{"cron(30 12 ? * 6L *)", "2026-01-01T00:00:00Z", []string{"2026-01-30T12:30:00Z", "2026-02-27T12:30:00Z"}},
		{"cron(0 0 ? * L *)", "2026-12-01T00:00:00Z", []string{"2026-12-05T00:00:00Z"}},
		// names, lists and years
		{"cron(0 12 ? JAN,JUL SUN 2027)", "2026-01-01T00:00:00Z", []string{"2027-01-03T12:00:00Z", "2027-01-10T12:00:00Z"}},
		{"cron(0 0 1 1 ? 2026-2027)", "2027-06-01T00:00:00Z", []string{""}},
		{"cron(5,35 */6 * * ? *)", "2026-01-01T06:05:00Z", []string{"2026-01-01T06:35:00Z", "2026-01-01T12:05:00Z"}},
		// rates fire a period after their anchor
		{"rate(1 minute)", "2026-01-01T00:00:30Z", []string{"2026-01-01T00:01:30Z", "2026-01-01T00:02:30Z"}},
		{"rate(5 minutes)", "2026-01-01T00:00:00Z", []string{"2026-01-01T00:05:00Z"}},
		{"rate(1 hour)", "2026-01-01T00:00:00Z", []string{"2026-01-01T01:00:00Z"}},
		{"rate(12 hours)", "2026-01-01T00:00:00Z", []string{"2026-01-01T12:00:00Z"}},
		{"rate(1 day)", "2026-01-01T00:00:00Z", []string{"2026-01-02T00:00:00Z"}},
		{"rate(7 days)", "2026-01-01T00:00:00Z", []string{"2026-01-08T00:00:00Z"}},
	}
	for _, tt := range tests {
		s, err := Parse(tt.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		cur := at(tt.after)
		for i, w := range tt.want {
			got := s.Next(cur)
			if w == "" {
				if !got.IsZero() {
					t.Errorf("%s: fire %d after %s = %s, want none", tt.expr, i, cur, got)
				}
				break
			}
			if !got.Equal(at(w)) {
				t.Errorf("%s: fire %d after %s = %s, want %s", tt.expr, i, cur.Format(time.RFC3339), got.Format(time.RFC3339), w)
				break
			}
			cur = got
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, expr := range []string{
		"", "rate()", "rate(0 minutes)", "rate(1 minutes)", "rate(5 minute)", "rate(-1 minutes)", "rate(1 second)",
		"rate(5 weeks)", "rate(five minutes)", "cron(0 12 * * * *)", "cron(0 12 ? * ? *)", "cron(0 12 * *)",
		"cron(60 12 * * ? *)", "cron(0 24 * * ? *)", "cron(0 0 32 * ? *)", "cron(0 0 ? * 8 *)",
		"cron(0 0 ? * 2#6 *)", "cron(0 0 1 13 ? *)", "cron(0 0 1 1 ? 1969)", "cron(0 0 1 1 ? 2200)",
		"cron(5-1 0 * * ? *)", "cron(0/0 0 * * ? *)", "cron(0 0 1 FOO ? *)", "at(2026-01-01)", "at(2026-13-01T00:00:00)",
		"cron(0 0 0W * ? *)",
	} {
		if _, err := Parse(expr); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", expr, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"rate(5 minutes)", "cron(0/5 8-17 ? * MON-FRI *)", "cron(0 0 LW * ? *)", "cron(0 9 ? * 2#1 *)", "cron(0 0 ? * 6L 2026)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr)
		if err != nil {
			return
		}
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if n := s.Next(t0); !n.IsZero() && !n.After(t0) {
			t.Fatalf("%q: Next(%s) = %s, not after", expr, t0, n)
		}
	})
}

// TestAtAndTimezones: at() fires once; In reads cron() and at() in a
// time zone (EventBridge Scheduler's ScheduleExpressionTimezone).
func TestAtAndTimezones(t *testing.T) {
	s, err := Parse("at(2026-12-05T10:30:00)")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Next(at("2026-12-05T10:00:00Z")); !got.Equal(at("2026-12-05T10:30:00Z")) {
		t.Errorf("at: Next = %s", got)
	}
	if got := s.Next(at("2026-12-05T10:30:00Z")); !got.IsZero() {
		t.Errorf("at: fires again at %s", got)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	if got := In(s, ny).Next(at("2026-12-05T00:00:00Z")); !got.Equal(at("2026-12-05T15:30:00Z")) {
		t.Errorf("at in New York: Next = %s", got)
	}
	c, _ := Parse("cron(0 9 * * ? *)")
	if got := In(c, ny).Next(at("2026-12-05T00:00:00Z")); !got.Equal(at("2026-12-05T14:00:00Z")) {
		t.Errorf("cron in New York: Next = %s", got)
	}
	r, _ := Parse("rate(5 minutes)")
	if In(r, ny) != r {
		t.Errorf("In changed a rate")
	}
}
