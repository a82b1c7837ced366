package keepalive

import (
	"testing"
	"time"
)

func TestWindows(t *testing.T) {
	w := Windows{PreWarm: 5 * time.Minute, KeepAlive: 2 * time.Minute}
	for _, tc := range []struct {
		idle          time.Duration
		warm, expired bool
	}{
		{0, false, false},
		{4 * time.Minute, false, false},
		{5 * time.Minute, true, false},
		{7 * time.Minute, true, false},
		{7*time.Minute + 1, false, true},
	} {
		if got := w.Warm(tc.idle); got != tc.warm {
			t.Errorf("Warm(%s) = %v, want %v", tc.idle, got, tc.warm)
		}
		if got := w.Unload(tc.idle); got == tc.warm {
			t.Errorf("Unload(%s) = %v, want %v", tc.idle, got, !tc.warm)
		}
		if got := w.Expired(tc.idle); got != tc.expired {
			t.Errorf("Expired(%s) = %v, want %v", tc.idle, got, tc.expired)
		}
	}
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if at, ok := w.PreWarmAt(end); !ok || !at.Equal(end.Add(5*time.Minute)) {
		t.Errorf("PreWarmAt = %v, %v", at, ok)
	}
	if _, ok := (Windows{KeepAlive: time.Minute}).PreWarmAt(end); ok {
		t.Error("PreWarmAt without pre-warm window reported one")
	}
}

func TestFixed(t *testing.T) {
	f := Fixed{Idle: 10 * time.Minute}
	f.Observe("fn", time.Now())
	if got := f.KeepAlive("fn", time.Now()); got != (Windows{KeepAlive: 10 * time.Minute}) {
		t.Errorf("KeepAlive = %v", got)
	}
	if got, want := f.Name(), "fixed 10m"; got != want {
		t.Errorf("Name = %q, want %q", got, want)
	}
	if got, want := (Fixed{}).Name(), "no keep-alive"; got != want {
		t.Errorf("Name = %q, want %q", got, want)
	}
	if (Fixed{}).KeepAlive("fn", time.Now()).Warm(time.Minute) {
		t.Error("Fixed{0} keeps a sandbox warm")
	}
}
