// Package keepalive decides how long an idle sandbox of a function version
// stays loaded and when one should be loaded ahead of an expected
// invocation, and replays invocation traces to compare such policies.
//
// A Policy learns from invocation arrivals (Observe) and answers, per
// function key, with Windows: a pre-warm window (how long after the last
// invocation to wait before a sandbox should be loaded) and a keep-alive
// window (how long it then stays loaded). Fixed is the classic idle timeout;
// Hybrid is the hybrid histogram policy of "Serverless in the Wild"
// (Shahrad et al., USENIX ATC 2020).
//
// Policies are pure bookkeeping: they start no goroutines, do no I/O and
// never touch sandboxes. The caller (the worker) owns timers and the
// sandboxes themselves. Every Policy in this package is safe for concurrent
// use.
//
// Simulate replays a trace in the Azure Functions 2019 format (per-minute
// invocation counts, average durations, per-application memory; see
// ReadTrace) and reports cold-start percentages and idle memory-time. It is
// an offline tool for choosing a policy and must never sit on an invoke
// path.
package keepalive
