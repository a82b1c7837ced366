// Package poll waits for a condition in tests: it calls a check until it
// holds, backing off between calls, and fails the test with the last reason
// when the time runs out. Tests wait with it instead of sleeping, so that
// they hold on a loaded machine: the timeout is a ceiling, never a pace.
package poll

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// Default is the ceiling Until and True use: generous, since it only
// matters when the condition never holds.
const Default = 30 * time.Second

// Stop wraps an error that makes Wait give up at once: the condition can
// no longer hold, so waiting longer would only hide the reason.
type Stop struct{ Err error }

func (s Stop) Error() string { return s.Err.Error() }
func (s Stop) Unwrap() error { return s.Err }

// Wait calls check until it returns nil, returns a Stop, or timeout passes;
// the pause between calls grows from 5 ms to 250 ms. It returns nil, the
// error inside a Stop, or the last error with the time waited.
func Wait(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	pause := 5 * time.Millisecond
	for {
		err := check()
		if err == nil {
			return nil
		}
		var s Stop
		if errors.As(err, &s) {
			return s.Err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still failing after %v: %w", timeout, err)
		}
		time.Sleep(pause)
		pause = min(pause*2, 250*time.Millisecond)
	}
}

// Until fails t unless check returns nil within timeout (Default when 0).
func Until(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	if timeout == 0 {
		timeout = Default
	}
	if err := Wait(timeout, check); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// True fails t unless cond holds within Default.
func True(t testing.TB, what string, cond func() bool) {
	t.Helper()
	Until(t, Default, what, func() error {
		if cond() {
			return nil
		}
		return errors.New("condition false")
	})
}
