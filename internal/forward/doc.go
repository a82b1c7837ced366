// Package forward places a cluster's invocations across its nodes: the
// invoke frontend's Runner becomes a Runner that runs an invocation on this
// node's worker or sends it to another node's over NATS request/reply
// (natsd.InvokeSubject), and that counts this node's share of the
// concurrency limits.
//
// Where an invocation runs (placement.Choose, from the nodes' reports):
// here when this node has an idle sandbox of the version; else on the node
// reporting the most idle ones (warm affinity) — unless, asked first with
// worker.Request.WarmOnly, this node's worker has one after all; else here
// when this node has room and is within placement.LoadSlack of the least
// loaded node with room (a forward costs about 100 µs, a cold start tens of
// milliseconds), else on that least loaded node. When the chosen node has
// no room (worker.ErrCapacity) or no share left of a limit, the others are
// tried in turn, this one first. A node with an idle sandbox that reported
// it pays nothing on the hot path but one read of an atomic pointer and
// one lock of the limit counter. A streamed response is never placed
// elsewhere (only forwarded, answered whole, when this node is full).
//
// What nodes know of each other (state.go) is soft state: each node sends a
// report of itself (memory budget, what its sandboxes hold, the versions
// it has idle sandboxes of, lingering a second) on natsd.NodeStateSubject
// when it changes, checked every 100 ms, and at least every second; a node
// not heard for 5 s is gone. Reports live in memory only and are rebuilt
// from the peers' next ones after a restart. Decisions taken on them are
// hints: a forwarded invocation that finds the warm sandbox gone starts
// one there. It never forwards a forwarded invocation again (no loops or
// ping-pong), never forwards for an error but capacity and limits, and
// never reads the store. Until it has heard any report, a node full here
// tries the nodes that answer natsd.NodesSubject.
//
// Concurrency limits across the cluster: every live node (its own view:
// itself and the nodes heard within 5 s) gets placement.Share of each
// limit — a function's reserved concurrency, the account's unreserved pool
// — and counts the invocations it runs, forwarded ones included, against
// that share; a node whose share is taken forwards to the nodes with a
// share (their own count decides), and only when none has room does the
// caller get a *worker.LimitError (429 TooManyRequestsException with the
// limit's reason). This is exact while every node sees the same members;
// while membership changes (a node starting, or dying until 5 s have
// passed) views differ and the cluster may admit up to a node's share more
// or fewer for those seconds, and invocations running when shares shrink
// finish. A node that has heard of no other yet (its first moments)
// admits whole limits. No store round trip is on any invocation's path.
//
// Provisioned concurrency (provisioned.go): Runner.Provisioned stands
// between the registry's configurations and the worker, which keeps this
// node's placement.ZoneShare of each count (the extra ones of a count
// smaller than the cluster on nodes of different zones); each node's report
// carries its pools' ready sandboxes, and every node records the status of
// an unsettled configuration with their sum (READY once it reaches the
// count). Shares are pushed again within a second of a membership change.
//
// Durability: it owns nothing durable. A forwarded invocation is a
// synchronous request whose caller waits for it, as a local one is; if the
// node running it dies the caller gets an error (after the function's
// timeout and a margin at most), never a silent loss.
package forward
