package keepalive_test

import (
	"fmt"
	"time"

	"github.com/kumo-run/kumo/internal/keepalive"
)

// A worker records every arrival of a function version and asks for the
// windows when a sandbox of that version goes idle.
func Example() {
	p := keepalive.NewHybrid(keepalive.HybridConfig{})
	const version = "arn:aws:lambda:us-east-1:000000000000:function:report:3"
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var last time.Time
	for i := range 20 { // a timer every 30 minutes
		last = start.Add(time.Duration(i) * 30 * time.Minute)
		p.Observe(version, last)
	}

	w := p.KeepAlive(version, last)
	fmt.Println(w)
	// The reaper: release the idle sandbox now, load one again later.
	fmt.Println("keep after 1m:", !w.Unload(time.Minute))
	at, ok := w.PreWarmAt(last)
	fmt.Println("pre-warm at:", at.Sub(last), ok)
	fmt.Println("warm at 30m:", w.Warm(30*time.Minute))
	// Output:
	// prewarm=27m0s keepalive=7m6s
	// keep after 1m: false
	// pre-warm at: 27m0s true
	// warm at 30m: true
}
