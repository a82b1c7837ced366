package keepalive

import (
	"testing"
	"time"
)

// TestSampleTrace: the trace sample shipped in testdata, which the README
// points the simulator at, reads completely and replays.
func TestSampleTrace(t *testing.T) {
	tr, err := ReadTrace("testdata/azure2019-sample")
	if err != nil {
		t.Fatal(err)
	}
	var invocations int
	for _, f := range tr.Functions {
		for _, c := range f.Counts {
			invocations += c
		}
		if f.MemoryMB == 0 || f.Duration == 0 {
			t.Errorf("function %s has no memory (%v) or duration (%v)", f.ID, f.MemoryMB, f.Duration)
		}
	}
	if len(tr.Functions) != 10 || tr.Minutes != 480 || tr.Start != 480 || invocations != 8175 {
		t.Fatalf("sample: %d functions, %d minutes from %d, %d invocations; want 10, 480 from 480, 8175",
			len(tr.Functions), tr.Minutes, tr.Start, invocations)
	}
	fixed := Simulate(tr, Fixed{Idle: 10 * time.Minute}, Options{})
	none := Simulate(tr, Fixed{Idle: 0}, Options{})
	if !(fixed.ColdPercent() < none.ColdPercent()) || none.WastedGBMinutes != 0 {
		t.Errorf("keeping sandboxes warm: cold %.3f%% (none: %.3f%%), wasted without keep-alive %.1f GB-min",
			fixed.ColdPercent(), none.ColdPercent(), none.WastedGBMinutes)
	}
}
