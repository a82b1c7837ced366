package keepalive

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// HybridConfig parameterises Hybrid. Zero fields take the defaults of
// DefaultHybridConfig, which follow the paper where it gives a value.
type HybridConfig struct {
	// Bin is the width of one histogram bin (1 minute).
	Bin time.Duration
	// Range is the largest idle time the histogram tracks (4 hours);
	// longer idle times are out of bounds.
	Range time.Duration
	// Head and Tail are the percentiles of idle times that set the
	// pre-warm window and the end of the keep-alive window (5 and 99).
	Head, Tail float64
	// Margin widens the histogram windows: the pre-warm window shrinks
	// and the keep-alive end grows by this fraction (0.10).
	Margin float64
	// MinSamples is how many idle times a function needs before its
	// histogram or forecast is trusted (10).
	MinSamples int
	// CV is the smallest coefficient of variation of the bin counts for
	// which the histogram counts as representative (2): idle times that
	// are spread evenly over the range say nothing useful.
	CV float64
	// Fallback is the keep-alive window, without pre-warming, used while
	// a function's pattern is unknown or not representative. The paper
	// uses the histogram range (4 hours).
	Fallback time.Duration
	// OOBShare is the share of out-of-bounds idle times above which the
	// policy forecasts the next idle time instead of using the histogram
	// (0.5).
	OOBShare float64
	// Alpha is the weight of the newest out-of-bounds idle time in the
	// exponentially weighted mean that forecasts the next one (0.5).
	Alpha float64
	// ForecastMargin sets the windows around a forecast f: pre-warm at
	// f·(1−m), keep alive until f·(1+m) (0.15).
	ForecastMargin float64
}

// DefaultHybridConfig returns the paper's parameters.
func DefaultHybridConfig() HybridConfig {
	return HybridConfig{
		Bin:            time.Minute,
		Range:          4 * time.Hour,
		Head:           5,
		Tail:           99,
		Margin:         0.10,
		MinSamples:     10,
		CV:             2,
		Fallback:       4 * time.Hour,
		OOBShare:       0.5,
		Alpha:          0.5,
		ForecastMargin: 0.15,
	}
}

func (c HybridConfig) withDefaults() HybridConfig {
	d := DefaultHybridConfig()
	if c.Bin <= 0 {
		c.Bin = d.Bin
	}
	if c.Range <= 0 {
		c.Range = d.Range
	}
	if c.Range < c.Bin {
		c.Range = c.Bin
	}
	if c.Head <= 0 || c.Head > 100 {
		c.Head = d.Head
	}
	if c.Tail <= 0 || c.Tail > 100 {
		c.Tail = d.Tail
	}
	if c.Margin <= 0 || c.Margin >= 1 {
		c.Margin = d.Margin
	}
	if c.MinSamples <= 0 {
		c.MinSamples = d.MinSamples
	}
	if c.CV <= 0 {
		c.CV = d.CV
	}
	if c.Fallback <= 0 {
		c.Fallback = c.Range
	}
	if c.OOBShare <= 0 || c.OOBShare > 1 {
		c.OOBShare = d.OOBShare
	}
	if c.Alpha <= 0 || c.Alpha > 1 {
		c.Alpha = d.Alpha
	}
	if c.ForecastMargin <= 0 || c.ForecastMargin >= 1 {
		c.ForecastMargin = d.ForecastMargin
	}
	return c
}

// Hybrid is the hybrid histogram keep-alive policy of "Serverless in the
// Wild" (Shahrad et al., USENIX ATC 2020).
//
// Per function it keeps a histogram of idle times (the gap between
// consecutive arrivals; gaps shorter than one bin continue the same burst
// and are not recorded) in fixed bins up to Range, a count of idle times
// beyond Range, and a forecast of those. The decision, in order:
//
//   - fewer than MinSamples idle times: Fallback keep-alive, no pre-warm;
//   - more than OOBShare of them out of bounds: windows around a forecast
//     of the next idle time. The paper fits an ARIMA model here; Hybrid
//     uses an exponentially weighted mean of the out-of-bounds idle times,
//     which needs constant memory and no model fitting;
//   - bin counts with a coefficient of variation below CV (not
//     representative): Fallback;
//   - otherwise pre-warm at the Head percentile's bin start less Margin
//     (no pre-warm when that is under one bin: unloading for less would
//     only churn sandboxes), keep alive until the Tail percentile's bin
//     end plus Margin.
//
// Memory per function is fixed: Range/Bin counters and a few words
// (about 1 KB with the defaults). The number of functions is the caller's
// to bound: Forget a version once it is deleted.
// Hybrid is safe for concurrent use; one mutex guards all functions and is
// held only for arithmetic over one function's bins.
type Hybrid struct {
	cfg   HybridConfig
	nbins int

	mu  sync.Mutex
	fns map[string]*history
}

type history struct {
	last     time.Time
	seen     bool
	bins     []uint32
	inRange  uint64
	oob      uint64
	forecast float64 // next out-of-bounds idle time, in nanoseconds
}

// NewHybrid returns a Hybrid with cfg; zero fields take defaults.
func NewHybrid(cfg HybridConfig) *Hybrid {
	cfg = cfg.withDefaults()
	n := int((cfg.Range + cfg.Bin - 1) / cfg.Bin)
	return &Hybrid{cfg: cfg, nbins: n, fns: map[string]*history{}}
}

// Config returns the effective configuration.
func (h *Hybrid) Config() HybridConfig { return h.cfg }

// Name implements Policy.
func (h *Hybrid) Name() string {
	return fmt.Sprintf("hybrid (fallback %s)", shortDuration(h.cfg.Fallback))
}

// Observe implements Policy.
func (h *Hybrid) Observe(fn string, t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.fns[fn]
	if s == nil {
		s = &history{bins: make([]uint32, h.nbins)}
		h.fns[fn] = s
	}
	if !s.seen {
		s.last, s.seen = t, true
		return
	}
	idle := t.Sub(s.last)
	if idle < h.cfg.Bin {
		if idle > 0 {
			s.last = t
		}
		return
	}
	s.last = t
	h.record(s, idle)
}

func (h *Hybrid) record(s *history, idle time.Duration) {
	i := int(idle / h.cfg.Bin)
	if i >= h.nbins {
		if s.oob == 0 {
			s.forecast = float64(idle)
		} else {
			s.forecast = h.cfg.Alpha*float64(idle) + (1-h.cfg.Alpha)*s.forecast
		}
		s.oob++
		return
	}
	if s.bins[i] == math.MaxUint32 {
		// Age the histogram rather than overflow: halving keeps the
		// shape and gives recent idle times more weight.
		s.inRange = 0
		for j := range s.bins {
			s.bins[j] /= 2
			s.inRange += uint64(s.bins[j])
		}
	}
	s.bins[i]++
	s.inRange++
}

// KeepAlive implements Policy.
func (h *Hybrid) KeepAlive(fn string, _ time.Time) Windows {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.fns[fn]
	fallback := Windows{KeepAlive: h.cfg.Fallback}
	if s == nil {
		return fallback
	}
	total := s.inRange + s.oob
	if total < uint64(h.cfg.MinSamples) {
		return fallback
	}
	if float64(s.oob) > h.cfg.OOBShare*float64(total) {
		f := s.forecast
		pre := time.Duration(f * (1 - h.cfg.ForecastMargin))
		end := time.Duration(f * (1 + h.cfg.ForecastMargin))
		return Windows{PreWarm: pre, KeepAlive: end - pre}
	}
	if s.inRange == 0 || h.cv(s) < h.cfg.CV {
		return fallback
	}
	head := h.percentileBin(s, h.cfg.Head)
	tail := h.percentileBin(s, h.cfg.Tail)
	pre := time.Duration(float64(time.Duration(head)*h.cfg.Bin) * (1 - h.cfg.Margin))
	end := time.Duration(float64(time.Duration(tail+1)*h.cfg.Bin) * (1 + h.cfg.Margin))
	if pre < h.cfg.Bin {
		// Unloading for less than a bin only churns sandboxes.
		pre = 0
	}
	return Windows{PreWarm: pre, KeepAlive: end - pre}
}

// Forget implements Policy.
func (h *Hybrid) Forget(fn string) {
	h.mu.Lock()
	delete(h.fns, fn)
	h.mu.Unlock()
}

// cv is the coefficient of variation of s's bin counts.
func (h *Hybrid) cv(s *history) float64 {
	n := float64(len(s.bins))
	mean := float64(s.inRange) / n
	var sq float64
	for _, c := range s.bins {
		d := float64(c) - mean
		sq += d * d
	}
	return math.Sqrt(sq/n) / mean
}

// percentileBin is the index of the first bin at which the cumulative count
// reaches p percent of the in-range idle times.
func (h *Hybrid) percentileBin(s *history, p float64) int {
	want := p / 100 * float64(s.inRange)
	var cum float64
	for i, c := range s.bins {
		cum += float64(c)
		if c > 0 && cum >= want {
			return i
		}
	}
	return len(s.bins) - 1
}

var _ Policy = (*Hybrid)(nil)
