package invoke

import (
	"errors"
	"sync"

	"github.com/kumo-run/kumo/internal/runtimeapi"
)

// Stream receives a response as the function streams it: what
// InvokeWithResponseStream and RESPONSE_STREAM function URLs give an
// Input. Its calls come from the goroutine reading the runtime, one at a
// time, and never after the Frontend's Invoke returned.
type Stream interface {
	// Begin is called once, before the first Write, when the function
	// starts streaming: with the version that runs and the Content-Type
	// the runtime set.
	Begin(version, contentType string)
	// Write forwards a piece of the response. An error means nobody
	// listens any more; the function runs on and the rest is dropped.
	Write(p []byte) (int, error)
}

// errDetached: the invocation's Invoke returned; its Stream gets nothing
// more.
var errDetached = errors.New("invoke: the invocation has ended")

// streamGuard is the runtimeapi.ResponseStream of one invocation: it
// passes the runtime's response to the Input's Stream until the
// Frontend's Invoke returns, and refuses everything after, so that a
// runtime still streaming past its timeout cannot write to a caller that
// has moved on.
type streamGuard struct {
	version string

	mu       sync.Mutex
	s        Stream
	began    bool
	detached bool
}

var _ runtimeapi.ResponseStream = (*streamGuard)(nil)

func newStreamGuard(s Stream, version string) *streamGuard {
	return &streamGuard{s: s, version: version}
}

func (g *streamGuard) Start(contentType string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.detached || g.began {
		return
	}
	g.began = true
	g.s.Begin(g.version, contentType)
}

func (g *streamGuard) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.detached || !g.began {
		return 0, errDetached
	}
	return g.s.Write(p)
}

// detach stops all later calls and reports whether the stream began.
// Idempotent.
func (g *streamGuard) detach() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.detached = true
	return g.began
}
