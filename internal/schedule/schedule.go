package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid is wrapped by every Parse error.
var ErrInvalid = errors.New("schedule: invalid expression")

// Schedule is a parsed expression: a Rate or a *Cron.
type Schedule interface {
	// Next is the first firing time strictly after t, or the zero time
	// when there is none (a cron whose years have passed). For a Rate it
	// is t plus the period.
	Next(t time.Time) time.Time
	// String is the expression as parsed.
	String() string
}

// Rate fires every Period.
type Rate struct {
	Period time.Duration
	expr   string
}

// Next implements Schedule.
func (r Rate) Next(t time.Time) time.Time { return t.Add(r.Period) }

// String implements Schedule.
func (r Rate) String() string { return r.expr }

// Parse parses a rate(…) or cron(…) expression.
func Parse(expr string) (Schedule, error) {
	switch {
	case strings.HasPrefix(expr, "rate(") && strings.HasSuffix(expr, ")"):
		return parseRate(expr)
	case strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")"):
		return parseCron(expr)
	case strings.HasPrefix(expr, "at(") && strings.HasSuffix(expr, ")"):
		t, err := time.Parse("2006-01-02T15:04:05", expr[len("at("):len(expr)-1])
		if err != nil {
			return nil, fmt.Errorf("%w: at() takes yyyy-mm-ddThh:mm:ss", ErrInvalid)
		}
		return At{When: t, expr: expr}, nil
	}
	return nil, fmt.Errorf("%w: %q is neither rate(…), cron(…) nor at(…)", ErrInvalid, clip(expr))
}

// At fires once, at When: a wall-clock time, in UTC unless placed
// elsewhere with In.
type At struct {
	When time.Time
	expr string
}

// Next implements Schedule.
func (a At) Next(t time.Time) time.Time {
	if a.When.After(t) {
		return a.When
	}
	return time.Time{}
}

// String implements Schedule.
func (a At) String() string { return a.expr }

// In reads a cron() or at() expression's times in loc (EventBridge
// Scheduler's ScheduleExpressionTimezone); a rate() has no clock time and
// is returned as it is.
func In(s Schedule, loc *time.Location) Schedule {
	switch x := s.(type) {
	case *Cron:
		return located{x, loc}
	case At:
		w := x.When
		x.When = time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc)
		return x
	}
	return s
}

type located struct {
	c   *Cron
	loc *time.Location
}

func (l located) Next(t time.Time) time.Time { return l.c.NextIn(t, l.loc) }
func (l located) String() string             { return l.c.String() }

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func parseRate(expr string) (Schedule, error) {
	f := strings.Fields(expr[len("rate(") : len(expr)-1])
	if len(f) != 2 {
		return nil, fmt.Errorf("%w: rate needs a value and a unit", ErrInvalid)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 1 || n > 1<<20 {
		return nil, fmt.Errorf("%w: rate value %q", ErrInvalid, clip(f[0]))
	}
	units := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}
	unit := f[1]
	if n != 1 {
		if !strings.HasSuffix(unit, "s") {
			return nil, fmt.Errorf("%w: a rate above 1 takes a plural unit", ErrInvalid)
		}
		unit = strings.TrimSuffix(unit, "s")
	}
	d, ok := units[unit]
	if !ok {
		return nil, fmt.Errorf("%w: rate unit %q", ErrInvalid, clip(f[1]))
	}
	return Rate{Period: time.Duration(n) * d, expr: expr}, nil
}

// Cron is a parsed cron(…) expression.
type Cron struct {
	expr                 string
	minutes, hours       uint64 // bit i: value i
	months               uint64 // bits 1-12
	years                map[int]bool
	anyYear              bool
	dom                  uint64 // bits 1-31; zero when dom is "?"
	domLast, domLastWeek bool   // L, LW
	domNearest           []int  // nW
	dow                  uint64 // bits 1-7 (1 Sunday); zero when dow is "?"
	dowLast              []int  // nL: last weekday n of the month
	dowNth               [][2]int
	domUnset, dowUnset   bool // "?"
}

// String implements Schedule.
func (c *Cron) String() string { return c.expr }

var (
	monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
	dayNames   = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
)

const (
	firstYear = 1970
	lastYear  = 2199
)

func parseCron(expr string) (Schedule, error) {
	f := strings.Fields(expr[len("cron(") : len(expr)-1])
	if len(f) != 6 {
		return nil, fmt.Errorf("%w: cron takes six fields, got %d", ErrInvalid, len(f))
	}
	c := &Cron{expr: expr}
	var err error
	if c.minutes, err = bits(f[0], 0, 59, nil); err != nil {
		return nil, fmt.Errorf("%w: minutes: %v", ErrInvalid, err)
	}
	if c.hours, err = bits(f[1], 0, 23, nil); err != nil {
		return nil, fmt.Errorf("%w: hours: %v", ErrInvalid, err)
	}
	if c.months, err = bits(f[3], 1, 12, monthNames); err != nil {
		return nil, fmt.Errorf("%w: month: %v", ErrInvalid, err)
	}
	c.domUnset, c.dowUnset = f[2] == "?", f[4] == "?"
	if c.domUnset == c.dowUnset {
		return nil, fmt.Errorf("%w: exactly one of day-of-month and day-of-week must be ?", ErrInvalid)
	}
	if !c.domUnset {
		if err := c.parseDOM(f[2]); err != nil {
			return nil, fmt.Errorf("%w: day-of-month: %v", ErrInvalid, err)
		}
	}
	if !c.dowUnset {
		if err := c.parseDOW(f[4]); err != nil {
			return nil, fmt.Errorf("%w: day-of-week: %v", ErrInvalid, err)
		}
	}
	if err := c.parseYear(f[5]); err != nil {
		return nil, fmt.Errorf("%w: year: %v", ErrInvalid, err)
	}
	return c, nil
}

func (c *Cron) parseDOM(s string) error {
	for _, part := range strings.Split(s, ",") {
		switch {
		case part == "L":
			c.domLast = true
		case part == "LW":
			c.domLastWeek = true
		case strings.HasSuffix(part, "W"):
			n, err := strconv.Atoi(strings.TrimSuffix(part, "W"))
			if err != nil || n < 1 || n > 31 {
				return fmt.Errorf("%q", part)
			}
			c.domNearest = append(c.domNearest, n)
		default:
			b, err := bits(part, 1, 31, nil)
			if err != nil {
				return err
			}
			c.dom |= b
		}
	}
	return nil
}

func (c *Cron) parseDOW(s string) error {
	for _, part := range strings.Split(s, ",") {
		switch {
		case part == "L":
			c.dow |= 1 << 7
		case strings.HasSuffix(part, "L"):
			n, err := value(strings.TrimSuffix(part, "L"), 1, 7, dayNames)
			if err != nil {
				return err
			}
			c.dowLast = append(c.dowLast, n)
		case strings.Contains(part, "#"):
			d, k, _ := strings.Cut(part, "#")
			n, err := value(d, 1, 7, dayNames)
			if err != nil {
				return err
			}
			w, err := strconv.Atoi(k)
			if err != nil || w < 1 || w > 5 {
				return fmt.Errorf("%q: the week after # is 1-5", part)
			}
			c.dowNth = append(c.dowNth, [2]int{n, w})
		default:
			b, err := bits(part, 1, 7, dayNames)
			if err != nil {
				return err
			}
			c.dow |= b
		}
	}
	return nil
}

func (c *Cron) parseYear(s string) error {
	if s == "*" {
		c.anyYear = true
		return nil
	}
	c.years = map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, step, err := rangeOf(part, firstYear, lastYear, nil)
		if err != nil {
			return err
		}
		for y := lo; y <= hi; y += step {
			c.years[y] = true
		}
	}
	return nil
}

// bits parses a field of values, lists, ranges and increments into a bit
// set.
func bits(s string, lo, hi int, names map[string]int) (uint64, error) {
	var out uint64
	for _, part := range strings.Split(s, ",") {
		a, b, step, err := rangeOf(part, lo, hi, names)
		if err != nil {
			return 0, err
		}
		for v := a; v <= b; v += step {
			out |= 1 << v
		}
	}
	return out, nil
}

// rangeOf parses "*", "v", "a-b", "a/n", "*/n" or "a-b/n".
func rangeOf(part string, lo, hi int, names map[string]int) (a, b, step int, err error) {
	step = 1
	base, inc, hasInc := strings.Cut(part, "/")
	if hasInc {
		step, err = strconv.Atoi(inc)
		if err != nil || step < 1 || step > hi {
			return 0, 0, 0, fmt.Errorf("increment %q", clip(inc))
		}
	}
	switch {
	case base == "*":
		return lo, hi, step, nil
	case strings.Contains(base, "-"):
		x, y, _ := strings.Cut(base, "-")
		if a, err = value(x, lo, hi, names); err != nil {
			return
		}
		if b, err = value(y, lo, hi, names); err != nil {
			return
		}
		if b < a {
			return 0, 0, 0, fmt.Errorf("range %q runs backwards", clip(base))
		}
		return a, b, step, nil
	}
	if a, err = value(base, lo, hi, names); err != nil {
		return
	}
	if hasInc {
		return a, hi, step, nil
	}
	return a, a, 1, nil
}

func value(s string, lo, hi int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("value %q is not within %d-%d", clip(s), lo, hi)
	}
	return v, nil
}

// Next implements Schedule, in UTC.
func (c *Cron) Next(t time.Time) time.Time { return c.NextIn(t, time.UTC) }

// NextIn is Next with the fields read in loc.
func (c *Cron) NextIn(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc).Truncate(time.Minute).Add(time.Minute)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	first := true
	for day.Year() <= lastYear {
		if c.dayMatches(day) {
			h0, m0 := 0, 0
			if first {
				h0, m0 = t.Hour(), t.Minute()
			}
			for h := h0; h < 24; h++ {
				if c.hours&(1<<h) == 0 {
					continue
				}
				start := 0
				if h == h0 {
					start = m0
				}
				for m := start; m < 60; m++ {
					if c.minutes&(1<<m) != 0 {
						return time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, loc)
					}
				}
			}
		}
		first = false
		day = day.AddDate(0, 0, 1)
	}
	return time.Time{}
}

func (c *Cron) dayMatches(d time.Time) bool {
	if !c.anyYear && !c.years[d.Year()] {
		return false
	}
	if c.months&(1<<int(d.Month())) == 0 {
		return false
	}
	dom := d.Day()
	last := time.Date(d.Year(), d.Month()+1, 0, 0, 0, 0, 0, d.Location()).Day()
	if !c.domUnset {
		switch {
		case c.dom&(1<<dom) != 0:
			return true
		case c.domLast && dom == last:
			return true
		case c.domLastWeek && dom == nearestWeekday(d, last, last):
			return true
		}
		for _, n := range c.domNearest {
			if n <= last && dom == nearestWeekday(d, n, last) {
				return true
			}
		}
		return false
	}
	wd := int(d.Weekday()) + 1 // 1 is Sunday
	if c.dow&(1<<wd) != 0 || (c.dow&(1<<7) != 0 && wd == 7) {
		return true
	}
	for _, n := range c.dowLast {
		if wd == n && dom+7 > last {
			return true
		}
	}
	for _, nk := range c.dowNth {
		if wd == nk[0] && (dom-1)/7+1 == nk[1] {
			return true
		}
	}
	return false
}

// nearestWeekday is the day of d's month that is the weekday nearest to
// day n, never crossing into another month.
func nearestWeekday(d time.Time, n, last int) int {
	wd := time.Date(d.Year(), d.Month(), n, 0, 0, 0, 0, d.Location()).Weekday()
	switch wd {
	case time.Saturday:
		if n == 1 {
			return 3 // Monday the 3rd
		}
		return n - 1
	case time.Sunday:
		if n == last {
			return n - 2
		}
		return n + 1
	}
	return n
}
