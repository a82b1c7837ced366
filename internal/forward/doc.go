// Package forward runs an invocation on another node of a cluster when this
// node has no memory left for it: the invoke frontend's Runner becomes a
// Runner that tries the local worker first and, on worker.ErrCapacity,
// sends the invocation to the other nodes in turn over NATS request/reply
// (natsd.InvokeSubject), each of which runs it on its own worker.
//
// It owns nothing durable: a forwarded invocation is a synchronous request
// whose caller waits for it, as a local one is; if the node running it dies
// the caller gets an error, never a silent loss. It never forwards a
// forwarded invocation again (no loops), never forwards for any error but
// capacity, and never reads the store. Nodes find each other by asking
// natsd.NodesSubject: the first forward waits for the answers, later ones
// use the last list while a fresh one is asked for in the background.
//
// Not yet: warm affinity (forwarding to the node holding a warm sandbox of
// the version before starting a cold one here) and choosing the least
// loaded node; nodes are tried in the order they answered.
package forward
