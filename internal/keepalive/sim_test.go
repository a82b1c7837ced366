package keepalive

import (
	"math"
	"testing"
	"time"
)

// constant is a Policy that always answers w.
type constant struct{ w Windows }

func (constant) Name() string                          { return "constant" }
func (constant) Observe(string, time.Time)             {}
func (c constant) KeepAlive(string, time.Time) Windows { return c.w }
func (constant) Forget(string)                         {}

func oneFunction(minutes int, dur time.Duration, at map[int]int) *Trace {
	counts := make([]int, minutes)
	for m, c := range at {
		counts[m] = c
	}
	return &Trace{Minutes: minutes, Functions: []Function{{ID: "fn", App: "app", Counts: counts, MemoryMB: 1024, Duration: dur}}}
}

func periodic(minutes, period int) *Trace {
	at := map[int]int{}
	for m := 0; m < minutes; m += period {
		at[m] = 1
	}
	return oneFunction(minutes, time.Second, at)
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestSimulatePeriodic(t *testing.T) {
	tr := periodic(2*24*60, 30) // 96 invocations over two days
	fixed := Simulate(tr, Fixed{Idle: 10 * time.Minute}, Options{})
	if fixed.Invocations != 96 || fixed.Cold != 96 {
		t.Errorf("fixed 10m: %d of %d cold, want all", fixed.Cold, fixed.Invocations)
	}
	// Every gap keeps the sandbox for 10 idle minutes, the last one too.
	if !near(fixed.WastedGBMinutes, 96*10) {
		t.Errorf("fixed 10m wasted %v GB-min, want 960", fixed.WastedGBMinutes)
	}

	cfg := HybridConfig{Fallback: 10 * time.Minute}
	hybrid := Simulate(tr, NewHybrid(cfg), Options{})
	warmUp := int64(DefaultHybridConfig().MinSamples + 1)
	if hybrid.Cold > warmUp {
		t.Errorf("hybrid: %d of %d cold, want at most %d (warm-up)", hybrid.Cold, hybrid.Invocations, warmUp)
	}
	// After warm-up the sandbox is loaded at idle minutes 27..29 of each
	// gap: far less than 10.
	if hybrid.WastedGBMinutes >= fixed.WastedGBMinutes/2 {
		t.Errorf("hybrid wasted %v GB-min, fixed %v", hybrid.WastedGBMinutes, fixed.WastedGBMinutes)
	}

	// With the paper's fallback (the 4-hour range) only the first
	// invocation is cold.
	paper := Simulate(tr, NewHybrid(HybridConfig{}), Options{})
	if paper.Cold != 1 {
		t.Errorf("hybrid (fallback 4h): %d cold, want 1", paper.Cold)
	}
}

func TestSimulateAccounting(t *testing.T) {
	// Arrivals at minutes 0, 5 and 20 of 30; 1 GB; fixed 10 minutes.
	tr := oneFunction(30, time.Second, map[int]int{0: 1, 5: 3, 20: 1})
	r := Simulate(tr, Fixed{Idle: 10 * time.Minute}, Options{})
	if r.Invocations != 5 || r.Cold != 2 {
		t.Errorf("cold %d of %d, want 2 of 5", r.Cold, r.Invocations)
	}
	// Idle minutes 1..4, then 1..10 of the 15-minute gap, then 21..29.
	if !near(r.WastedGBMinutes, 4+10+9) {
		t.Errorf("wasted %v GB-min, want 23", r.WastedGBMinutes)
	}
	if len(r.Functions) != 1 || r.Functions[0].Cold != 2 || !near(r.Functions[0].ColdPercent(), 40) {
		t.Errorf("per function: %+v", r.Functions)
	}

	none := Simulate(tr, Fixed{}, Options{})
	if none.Cold != 3 || none.WastedGBMinutes != 0 {
		t.Errorf("no keep-alive: cold %d wasted %v, want 3 and 0", none.Cold, none.WastedGBMinutes)
	}
}

func TestSimulateConcurrency(t *testing.T) {
	// 10 invocations of 30 s in minute 0 need 5 sandboxes; 2 in minute 1
	// need one of them. 3 minutes, 1 GB, fixed 10 minutes.
	tr := oneFunction(3, 30*time.Second, map[int]int{0: 10, 1: 2})
	r := Simulate(tr, Fixed{Idle: 10 * time.Minute}, Options{})
	if r.Invocations != 12 || r.Cold != 5 {
		t.Errorf("cold %d of %d, want 5 of 12", r.Cold, r.Invocations)
	}
	// The reused sandbox idles in minute 2; the four others in 1 and 2.
	if !near(r.WastedGBMinutes, 1+4*2) {
		t.Errorf("wasted %v GB-min, want 9", r.WastedGBMinutes)
	}
}

func TestSimulatePreWarm(t *testing.T) {
	// Unload at once, load at idle minute 5, keep until 7.
	p := constant{Windows{PreWarm: 5 * time.Minute, KeepAlive: 2 * time.Minute}}
	tr := oneFunction(25, time.Second, map[int]int{0: 1, 2: 1, 9: 1, 20: 1})
	r := Simulate(tr, p, Options{})
	// Minute 2 comes before the pre-warm: cold, and it replaces the
	// pending sandbox. Minute 9 is in its window; minute 20 is past it.
	if r.Cold != 3 {
		t.Errorf("cold %d, want 3", r.Cold)
	}
	// Loaded at idle minutes 5, 6 (gap 2→9) and 5..7 (gap 9→20). A
	// second, unreplaced sandbox would add three more.
	if !near(r.WastedGBMinutes, 5) {
		t.Errorf("wasted %v GB-min, want 5", r.WastedGBMinutes)
	}
}

func TestSimulateDefaults(t *testing.T) {
	tr := oneFunction(12, 0, map[int]int{0: 1})
	tr.Functions[0].MemoryMB = 0
	r := Simulate(tr, Fixed{Idle: 10 * time.Minute}, Options{DefaultMemoryMB: 512})
	if !near(r.WastedGBMinutes, 10*0.5) {
		t.Errorf("wasted %v GB-min, want 5", r.WastedGBMinutes)
	}
	empty := &Trace{Minutes: 3, Functions: []Function{{ID: "idle", Counts: make([]int, 3)}}}
	if r := Simulate(empty, Fixed{Idle: time.Minute}, Options{}); len(r.Functions) != 0 || r.ColdPercent() != 0 || r.FunctionColdPercentile(75) != 0 {
		t.Errorf("functions without invocations are reported: %+v", r)
	}
}

func TestConcurrency(t *testing.T) {
	for _, tc := range []struct {
		n    int
		d    time.Duration
		want int
	}{
		{0, time.Second, 0},
		{1, time.Hour, 1},
		{60, time.Second, 1},
		{61, time.Second, 2},
		{10, 30 * time.Second, 5},
		{1000, 0, 1},
		{3, 5 * time.Minute, 3},
	} {
		if got := Concurrency(tc.n, tc.d); got != tc.want {
			t.Errorf("Concurrency(%d, %s) = %d, want %d", tc.n, tc.d, got, tc.want)
		}
	}
}

func TestFunctionColdPercentile(t *testing.T) {
	r := Result{}
	for _, c := range []int64{0, 1, 2, 3} { // 0, 25, 50, 75 %
		r.Functions = append(r.Functions, FunctionResult{Invocations: 4, Cold: c})
	}
	for p, want := range map[float64]float64{0: 0, 25: 0, 50: 25, 75: 50, 100: 75} {
		if got := r.FunctionColdPercentile(p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
}
