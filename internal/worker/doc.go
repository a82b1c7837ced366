// Package worker owns the sandboxes of one node: it starts them (cold
// starts), keeps idle ones warm for reuse by the same function version only,
// runs one invocation at a time in each, enforces the function timeout,
// retires sandboxes that broke or whose function changed, and reaps idle ones
// and pre-warms sandboxes as its keep-alive policy (package keepalive)
// decides per version key. It also keeps the node-local cache of unzipped
// code, one directory per CodeSha256, shared read-only by sandboxes.
//
// Lock order: Worker.mu, then an instance's own locks. The keep-alive
// bookkeeping's lock (keeper.mu) is never held with Worker.mu; the policy's
// and the registry's locks are leaves taken under either. The worker never
// holds Worker.mu while talking to a sandbox.
package worker
