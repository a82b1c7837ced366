package invoke

import (
	"net/http"
	"sync"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// Throttling reasons, as TooManyRequestsException's Reason member gives
// them.
const (
	ReasonAccountLimit  = "ConcurrentInvocationLimitExceeded"
	ReasonReservedLimit = "ReservedFunctionConcurrentInvocationLimitExceeded"
)

// limiter counts running invocations against Lambda's concurrency model:
// a function with reserved concurrency runs at most that many at once and
// never uses the unreserved pool; every other function shares the account's
// unreserved concurrency. Counts cover every version and alias of a
// function. Safe for concurrent use.
type limiter struct {
	mu         sync.Mutex
	unreserved int            // running invocations of functions without a reservation
	running    map[string]int // running invocations per function
}

// acquire takes a slot for one invocation of fn, or returns the throttling
// error. release must be called exactly once when the invocation ends,
// however it ends.
func (l *limiter) acquire(fn string, reserved *int, unreservedLimit int) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running == nil {
		l.running = map[string]int{}
	}
	n := l.running[fn]
	if reserved != nil {
		if n >= *reserved {
			return nil, throttled(ReasonReservedLimit)
		}
	} else {
		if l.unreserved >= unreservedLimit {
			return nil, throttled(ReasonAccountLimit)
		}
		l.unreserved++
	}
	l.running[fn] = n + 1
	pooled := reserved == nil
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if pooled {
				l.unreserved--
			}
			if l.running[fn] <= 1 {
				delete(l.running, fn)
			} else {
				l.running[fn]--
			}
		})
	}, nil
}

// Running returns the invocations running now, per function and in all.
func (l *limiter) Running() (map[string]int, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.running))
	total := 0
	for fn, n := range l.running {
		out[fn] = n
		total += n
	}
	return out, total
}

func throttled(reason string) error {
	e := awsproto.Errorf(awsproto.TooManyRequestsException, "Rate Exceeded.").With("Reason", reason)
	e.Header = http.Header{"Retry-After": []string{"1"}}
	return e
}
