// Package worker owns the sandboxes of one node: it starts them (cold
// starts), keeps idle ones warm for reuse by the same function version only,
// runs one invocation at a time in each, enforces the function timeout,
// retires sandboxes that broke or whose function changed, and reaps idle ones
// and pre-warms sandboxes as its keep-alive policy (package keepalive)
// decides per version key. It keeps the provisioned-concurrency pools it is
// given (SetProvisioned) and the node-local cache of unzipped code, one
// directory per CodeSha256, shared read-only by sandboxes. Each sandbox
// gets its function's execution-role credentials and the edge's URL in its
// environment; credentials are renewed by retiring the sandbox before they
// expire (credentials.go). A container-image function (Spec.Image) runs
// in its image's unpacked root from Config.Images, with the image's
// ENTRYPOINT/CMD/WORKDIR or the function's ImageConfig overrides and the
// image's ENV under the function's variables and Lambda's (image.go).
// For a version with SnapStart (Spec.SnapStart) it keeps one initialized
// sandbox ready beyond those in use, started as snap-start through the
// pre-warm path, whose first invocation reports a Restore Duration
// (snapstart.go); it is node-local, never stored, not a memory snapshot.
//
// Extensions (extensions.go): executables in the layers' extensions/
// directories are started inside the sandbox by a shell launcher (the
// host's bash, else sh, bound read-only) ahead of the runtime, which it
// then becomes once they registered (bash only: it asks over /dev/tcp);
// it reports their exits and tags their output for the Telemetry API's
// extension stream. The Extensions and Telemetry APIs (package extensions) are
// served on the Runtime API's listener. Init ends when the runtime and
// every extension are ready, under one Init timeout; the caller gets an
// invocation's response as soon as the runtime answers, and the sandbox
// goes back to the pool only once the extensions asked for their next
// event (retired if they do not by the invocation's deadline); teardown
// sends SHUTDOWN and waits up to ShutdownGrace before the kill.
//
// What to run comes as a Spec built by the invoke frontend; the worker never
// imports the registry. Where an invocation runs (an idle sandbox, a new
// one, a new one after evictions, or nowhere) is decided by package
// placement over a snapshot taken under Worker.mu. In a cluster it tells
// package forward what the node has (IdleVersions, MemoryUsedMB) and runs
// a Request.WarmOnly invocation only in an idle sandbox (ErrNotWarm
// otherwise, nothing started); it never counts concurrency limits itself
// (Spec.ReservedConcurrency is carried for forward's shares).
//
// One owner for each sandbox's life: a sandbox is destroyed only by
// teardown after retireLocked claimed it with the lifecycle's checked move
// to Broken; a second claim is refused, so nothing is destroyed twice, and
// every start and teardown is counted in Worker.done, so Close returns only
// once every sandbox is gone. Teardown kills the sandbox before closing its
// Runtime API, so a runtime never sees the API vanish while it runs.
//
// The warm path keeps work off the caller's wait: unless the caller asked
// for the log tail, an invocation's answer is returned before its END and
// REPORT lines are written and its peak memory is read (one pread of a
// cgroup file the sandbox keeps open); the sandbox is back in its pool
// meanwhile, and its next START, like its teardown, waits for that REPORT
// (instance.reporting), so a stream's lines keep their order.
//
// Lock order: Worker.mu, then an instance's own locks (its Lifecycle).
// instance.reporting comes before Worker.mu (report charges the sandbox
// while holding it); nothing waits for it while holding Worker.mu. The
// keep-alive bookkeeping's lock (keeper.mu) is never held with Worker.mu;
// the policy's and the registry's locks (Config.Live) are leaves taken under
// either. The worker never holds Worker.mu while talking to a sandbox or
// calling Config.Provisioned.
package worker
