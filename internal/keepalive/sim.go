package keepalive

import (
	"math"
	"sort"
	"time"
)

// Options tune Simulate.
type Options struct {
	// Epoch is the wall-clock time of minute 0 of the day; the trace's
	// minute m is Epoch + m minutes. Zero: 2019-07-15 00:00 UTC.
	Epoch time.Time
	// DefaultMemoryMB is used for functions without memory data (256).
	DefaultMemoryMB float64
	// DefaultDuration is used for functions without duration data (1 s).
	DefaultDuration time.Duration
}

// FunctionResult is one function's outcome.
type FunctionResult struct {
	ID          string
	Invocations int64
	Cold        int64
	// WastedGBMinutes is memory-time of sandboxes loaded but idle.
	WastedGBMinutes float64
}

// ColdPercent is the share of the function's invocations that were cold.
func (f FunctionResult) ColdPercent() float64 {
	if f.Invocations == 0 {
		return 0
	}
	return 100 * float64(f.Cold) / float64(f.Invocations)
}

// Result is the outcome of replaying a trace under a policy.
type Result struct {
	Policy          string
	Invocations     int64
	Cold            int64
	WastedGBMinutes float64
	// Functions holds every function with at least one invocation, in
	// trace order.
	Functions []FunctionResult
}

// ColdPercent is the share of all invocations that were cold.
func (r Result) ColdPercent() float64 {
	if r.Invocations == 0 {
		return 0
	}
	return 100 * float64(r.Cold) / float64(r.Invocations)
}

// FunctionColdPercentile is the p-th percentile (0–100, nearest rank) of
// the per-function cold-start percentages; 75 gives the paper's
// third-quartile metric.
func (r Result) FunctionColdPercentile(p float64) float64 {
	if len(r.Functions) == 0 {
		return 0
	}
	v := make([]float64, len(r.Functions))
	for i, f := range r.Functions {
		v[i] = f.ColdPercent()
	}
	sort.Float64s(v)
	rank := int(math.Ceil(p / 100 * float64(len(v))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(v) {
		rank = len(v)
	}
	return v[rank-1]
}

// sandbox is one simulated sandbox of a function: the minute it was last
// busy and the windows the policy chose then.
type sandbox struct {
	last int
	w    Windows
}

// Simulate replays tr under p at one-minute granularity and returns cold
// starts and idle memory-time. p should be fresh: it learns as the replay
// runs.
//
// The model:
//
//   - The invocations of a minute are spread evenly over it, each running
//     for the function's average duration, so the minute needs
//     k = ceil(count·duration/1 min) sandboxes at once (at least 1, at most
//     count). Sandboxes are reused within the minute; durations beyond a
//     minute are not carried into the next one.
//   - Sandboxes are per function (the trace gives memory per application;
//     each function's sandbox is charged its application's memory).
//   - A sandbox last busy in minute l, with windows w chosen then, is warm
//     in minute m when w.Warm(m−l minutes); the minute's first k
//     invocations find the warm sandboxes (most recently used first) and
//     each one beyond that is a cold start that creates a sandbox. All
//     other invocations of the minute are warm.
//   - The policy observes one arrival per busy minute, at the minute's
//     start, then chooses the windows for every sandbox used in it.
//   - Wasted memory-time counts, for every idle minute m−l (1 ≤ m−l) in
//     which a sandbox is loaded (w.Warm true), the sandbox's memory for one
//     minute; the remainder of busy minutes is not counted.
//   - A sandbox whose windows have passed is dropped; one waiting for its
//     pre-warm is reused by the next cold start of the function instead of
//     adding a sandbox.
func Simulate(tr *Trace, p Policy, opts Options) Result {
	if opts.Epoch.IsZero() {
		opts.Epoch = time.Date(2019, 7, 15, 0, 0, 0, 0, time.UTC)
	}
	if opts.DefaultMemoryMB <= 0 {
		opts.DefaultMemoryMB = 256
	}
	if opts.DefaultDuration <= 0 {
		opts.DefaultDuration = time.Second
	}
	res := Result{Policy: p.Name()}
	for _, f := range tr.Functions {
		fr := simulateFunction(tr, &f, p, opts)
		if fr.Invocations == 0 {
			continue
		}
		res.Invocations += fr.Invocations
		res.Cold += fr.Cold
		res.WastedGBMinutes += fr.WastedGBMinutes
		res.Functions = append(res.Functions, fr)
	}
	return res
}

func simulateFunction(tr *Trace, f *Function, p Policy, opts Options) FunctionResult {
	fr := FunctionResult{ID: f.ID}
	memGB := f.MemoryMB
	if memGB <= 0 {
		memGB = opts.DefaultMemoryMB
	}
	memGB /= 1024
	dur := f.Duration
	if dur <= 0 {
		dur = opts.DefaultDuration
	}
	var pool []*sandbox // most recently used last
	end := len(f.Counts)
	for m, c := range f.Counts {
		if c <= 0 {
			continue
		}
		fr.Invocations += int64(c)
		k := Concurrency(c, dur)

		// Sort the pool into warm, pending (before pre-warm) and expired.
		var warm, pending []*sandbox
		for _, s := range pool {
			idle := time.Duration(m-s.last) * time.Minute
			switch {
			case s.w.Warm(idle):
				warm = append(warm, s)
			case s.w.Expired(idle):
				fr.WastedGBMinutes += memGB * float64(loadedMinutes(s.w, m-s.last-1))
			default:
				pending = append(pending, s)
			}
		}

		t := opts.Epoch.Add(time.Duration(tr.Start+m) * time.Minute)
		p.Observe(f.ID, t)
		w := p.KeepAlive(f.ID, t)

		// Busy sandboxes go last, keeping the pool ordered by last use.
		idleNext := make([]*sandbox, 0, len(pool))
		var busy []*sandbox
		used := 0
		for i := len(warm) - 1; i >= 0 && used < k; i-- {
			s := warm[i]
			fr.WastedGBMinutes += memGB * float64(loadedMinutes(s.w, m-s.last-1))
			s.last, s.w = m, w
			busy = append(busy, s)
			used++
		}
		cold := k - used
		fr.Cold += int64(cold)
		// Unused warm sandboxes keep their windows.
		idleNext = append(idleNext, warm[:len(warm)-used]...)
		for _, s := range pending {
			if cold > 0 {
				// Replaced by this cold start: it was never loaded.
				cold--
				s.last, s.w = m, w
				busy = append(busy, s)
				continue
			}
			idleNext = append(idleNext, s)
		}
		for ; cold > 0; cold-- {
			busy = append(busy, &sandbox{last: m, w: w})
		}
		pool = append(idleNext, busy...)
	}
	for _, s := range pool {
		fr.WastedGBMinutes += memGB * float64(loadedMinutes(s.w, end-1-s.last))
	}
	return fr
}

// Concurrency is how many sandboxes n invocations spread evenly over one
// minute need when each runs for d: ceil(n·d / 1 min), between 1 and n.
func Concurrency(n int, d time.Duration) int {
	if n <= 0 {
		return 0
	}
	k := int(math.Ceil(float64(n) * float64(d) / float64(time.Minute)))
	return max(1, min(k, n))
}

// loadedMinutes counts the idle minutes j in [1, upto] in which w keeps a
// sandbox loaded.
func loadedMinutes(w Windows, upto int) int {
	if upto < 1 {
		return 0
	}
	lo := int(math.Ceil(w.PreWarm.Minutes()))
	hi := int(math.Floor((w.PreWarm + w.KeepAlive).Minutes()))
	lo = max(lo, 1)
	hi = min(hi, upto)
	if hi < lo {
		return 0
	}
	return hi - lo + 1
}
