package invoke

import (
	"errors"
	"sync"
	"testing"

	"github.com/kumo-run/kumo/internal/awsproto"
)

func reason(t *testing.T, err error) string {
	t.Helper()
	var e *awsproto.Error
	if !errors.As(err, &e) || e.Code != awsproto.TooManyRequestsException {
		t.Fatalf("error %v, want TooManyRequestsException", err)
	}
	r, _ := e.Fields["Reason"].(string)
	return r
}

func TestLimiterReserved(t *testing.T) {
	var l limiter
	two, zero := 2, 0
	r1, err := l.acquire("a", &two, 100)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := l.acquire("a", &two, 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.acquire("a", &two, 100); reason(t, err) != ReasonReservedLimit {
		t.Fatalf("third invocation of a function reserving 2: reason %q", reason(t, err))
	}
	// Reserved functions do not use the unreserved pool.
	if _, err := l.acquire("b", nil, 1); err != nil {
		t.Fatalf("unreserved function with a free pool: %v", err)
	}
	if _, err := l.acquire("c", nil, 1); reason(t, err) != ReasonAccountLimit {
		t.Fatal("a full unreserved pool must throttle with ConcurrentInvocationLimitExceeded")
	}
	if _, err := l.acquire("z", &zero, 100); reason(t, err) != ReasonReservedLimit {
		t.Fatal("reserved concurrency 0 must throttle every invocation")
	}
	r1()
	r1() // a second release is a no-op
	if _, err := l.acquire("a", &two, 100); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	r2()
}

// TestLimiterExact: under heavy parallel load the counts never exceed the
// limit and return to zero.
func TestLimiterExact(t *testing.T) {
	var l limiter
	const limit = 7
	var mu sync.Mutex
	running, peak, throttles := 0, 0, 0
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				release, err := l.acquire("f", nil, limit)
				if err != nil {
					mu.Lock()
					throttles++
					mu.Unlock()
					continue
				}
				mu.Lock()
				running++
				peak = max(peak, running)
				mu.Unlock()
				mu.Lock()
				running--
				mu.Unlock()
				release()
			}
		}()
	}
	wg.Wait()
	if peak > limit {
		t.Fatalf("peak %d running, limit %d", peak, limit)
	}
	per, total := l.Running()
	if total != 0 || len(per) != 0 || l.unreserved != 0 {
		t.Fatalf("counts leaked: %v total %d unreserved %d", per, total, l.unreserved)
	}
	t.Logf("peak %d, throttled %d of %d", peak, throttles, 32*2000)
}
