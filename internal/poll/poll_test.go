package poll

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	n := 0
	if err := Wait(time.Minute, func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	}); err != nil || n != 3 {
		t.Fatalf("Wait = %v after %d calls, want nil after 3", err, n)
	}

	gone := errors.New("gone")
	n = 0
	err := Wait(time.Minute, func() error { n++; return Stop{gone} })
	if !errors.Is(err, gone) || n != 1 {
		t.Fatalf("Wait with Stop = %v after %d calls, want %v after 1", err, n, gone)
	}

	err = Wait(0, func() error { return errors.New("never") })
	if err == nil || !strings.Contains(err.Error(), "never") {
		t.Fatalf("Wait past its deadline = %v, want the last error", err)
	}
}
