package keepalive

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// feed observes arrivals of fn separated by the given idle times.
func feed(p Policy, fn string, start time.Time, idles ...time.Duration) time.Time {
	t := start
	p.Observe(fn, t)
	for _, d := range idles {
		t = t.Add(d)
		p.Observe(fn, t)
	}
	return t
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestHybridFallbackUntilEnoughSamples(t *testing.T) {
	h := NewHybrid(HybridConfig{Fallback: 10 * time.Minute, MinSamples: 5})
	want := Windows{KeepAlive: 10 * time.Minute}
	if got := h.KeepAlive("unknown", t0); got != want {
		t.Fatalf("unknown function: %v, want %v", got, want)
	}
	last := feed(h, "fn", t0, repeat(30*time.Minute, 4)...)
	if got := h.KeepAlive("fn", last); got != want {
		t.Fatalf("4 samples: %v, want %v", got, want)
	}
	last = feed(h, "fn", last.Add(30*time.Minute))
	if got := h.KeepAlive("fn", last); got == want {
		t.Fatalf("5 samples: still fallback %v", got)
	}
}

func TestHybridPeriodic(t *testing.T) {
	h := NewHybrid(HybridConfig{})
	last := feed(h, "fn", t0, repeat(30*time.Minute, 20)...)
	w := h.KeepAlive("fn", last)
	// Head and tail bins are both [30m, 31m): pre-warm 30m·0.9, keep
	// alive until 31m·1.1.
	if w.PreWarm != 27*time.Minute {
		t.Errorf("PreWarm = %s, want 27m", w.PreWarm)
	}
	if end := w.PreWarm + w.KeepAlive; end != 34*time.Minute+6*time.Second {
		t.Errorf("window end = %s, want 34m6s", end)
	}
	if w.Warm(time.Minute) || !w.Warm(30*time.Minute) || !w.Warm(30*time.Minute+30*time.Second) {
		t.Errorf("windows %v do not cover the period only", w)
	}
}

func TestHybridRandomIdleTimesNotRepresentative(t *testing.T) {
	h := NewHybrid(HybridConfig{Fallback: 10 * time.Minute})
	r := rand.New(rand.NewPCG(1, 2))
	idles := make([]time.Duration, 2000)
	for i := range idles {
		idles[i] = time.Duration(1+r.IntN(239)) * time.Minute
	}
	last := feed(h, "fn", t0, idles...)
	if got := h.KeepAlive("fn", last); got != (Windows{KeepAlive: 10 * time.Minute}) {
		t.Errorf("uniform idle times over the range: %v, want fallback", got)
	}
}

func TestHybridRandomIdleTimesNarrow(t *testing.T) {
	h := NewHybrid(HybridConfig{})
	r := rand.New(rand.NewPCG(3, 4))
	idles := make([]time.Duration, 1000)
	for i := range idles {
		idles[i] = time.Duration(20+r.IntN(11))*time.Minute + time.Duration(r.IntN(60))*time.Second
	}
	last := feed(h, "fn", t0, idles...)
	w := h.KeepAlive("fn", last)
	if w.PreWarm < 15*time.Minute || w.PreWarm > 20*time.Minute {
		t.Errorf("PreWarm = %s, want 18m..20m (5th percentile of 20m..31m, less 10%%)", w.PreWarm)
	}
	covered := 0
	for _, d := range idles {
		if w.Warm(d) {
			covered++
		}
	}
	if covered < len(idles)*95/100 {
		t.Errorf("windows %v cover %d of %d idle times", w, covered, len(idles))
	}
}

func TestHybridBounds(t *testing.T) {
	h := NewHybrid(HybridConfig{Range: time.Hour})
	if h.nbins != 60 {
		t.Fatalf("nbins = %d, want 60", h.nbins)
	}
	s := &history{bins: make([]uint32, h.nbins)}
	h.record(s, time.Hour-time.Nanosecond)
	h.record(s, time.Hour)
	h.record(s, 3*time.Hour)
	if s.bins[59] != 1 || s.inRange != 1 || s.oob != 2 {
		t.Errorf("bins[59]=%d inRange=%d oob=%d, want 1 1 2", s.bins[59], s.inRange, s.oob)
	}
	if want := 0.5*float64(3*time.Hour) + 0.5*float64(time.Hour); s.forecast != want {
		t.Errorf("forecast = %v, want %v", time.Duration(s.forecast), time.Duration(want))
	}

	// Saturated bins halve instead of overflowing.
	s.bins[3] = math.MaxUint32
	s.inRange = math.MaxUint32 + 1
	h.record(s, 3*time.Minute)
	if s.bins[3] != math.MaxUint32/2+1 || s.bins[59] != 0 {
		t.Errorf("after aging bins[3]=%d bins[59]=%d", s.bins[3], s.bins[59])
	}
	if s.inRange != uint64(s.bins[3]) {
		t.Errorf("inRange = %d, want %d", s.inRange, s.bins[3])
	}
}

func TestHybridOutOfBoundsForecast(t *testing.T) {
	h := NewHybrid(HybridConfig{Range: time.Hour})
	last := feed(h, "fn", t0, repeat(5*time.Hour, 12)...)
	w := h.KeepAlive("fn", last)
	f := 5 * time.Hour
	if w.PreWarm != time.Duration(float64(f)*0.85) || w.PreWarm+w.KeepAlive != time.Duration(float64(f)*1.15) {
		t.Errorf("windows %v, want [0.85, 1.15]·5h", w)
	}
	// A few out-of-bounds idle times among many in range keep the
	// histogram in charge.
	last = feed(h, "other", t0, append(repeat(10*time.Minute, 20), 5*time.Hour)...)
	if w := h.KeepAlive("other", last); w.PreWarm != 9*time.Minute {
		t.Errorf("mostly in range: %v, want pre-warm 9m", w)
	}
}

func TestHybridObserveOrdering(t *testing.T) {
	h := NewHybrid(HybridConfig{})
	h.Observe("fn", t0)
	h.Observe("fn", t0.Add(10*time.Second)) // same burst
	h.Observe("fn", t0.Add(-time.Hour))     // late, ignored
	h.Observe("fn", t0.Add(10*time.Minute+10*time.Second))
	s := h.fns["fn"]
	if s.inRange != 1 || s.bins[10] != 1 {
		t.Errorf("inRange=%d bins[10]=%d, want one 10-minute idle time", s.inRange, s.bins[10])
	}
	h.Forget("fn")
	if _, ok := h.fns["fn"]; ok {
		t.Error("Forget kept state")
	}
}

func TestHybridConcurrent(t *testing.T) {
	h := NewHybrid(HybridConfig{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			fn := []string{"a", "b"}[g%2]
			for i := range 500 {
				now := t0.Add(time.Duration(i) * time.Minute)
				h.Observe(fn, now)
				_ = h.KeepAlive(fn, now)
			}
		})
	}
	wg.Wait()
}
