// Package worker owns the sandboxes of one node: it starts them (cold
// starts), keeps idle ones warm for reuse by the same function version only,
// runs one invocation at a time in each, enforces the function timeout,
// retires sandboxes that broke or whose function changed, and reaps idle ones
// after the keep-alive period. It also keeps the node-local cache of unzipped
// code, one directory per CodeSha256, shared read-only by sandboxes.
//
// Lock order: Worker.mu, then an instance's own locks. The worker never
// holds Worker.mu while talking to a sandbox.
package worker
