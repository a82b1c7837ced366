// Package natsd runs the embedded nats-server that holds all of Kumo's state
// (JetStream KV buckets, object stores, streams) and names every bucket,
// stream and subject Kumo uses (names.go).
//
// It owns the server's lifecycle: Start opens the data directory, takes an
// exclusive lock on DataDir/LOCK, starts nats-server with JetStream stored in
// DataDir/jetstream and returns once the server accepts connections and
// JetStream is enabled. Connect hands out in-process connections; Shutdown
// closes them and stops the server. By default the server opens no port at
// all: nothing outside the process can reach it. It never installs signal
// handlers, never serves HTTP monitoring, and never writes to stderr: its log
// goes to the slog.Logger in Config (warnings and errors at their levels,
// notices at Debug).
//
// It must never interpret what is stored: that is the store package's job.
//
// # Disk space
//
// JetStream's cap on stored bytes (Config.MaxStore, the server's
// --store-max-bytes) defaults to the data dir's file system size less half
// of a reserve (5% of the file system, 8 MiB to 2 GiB) — never to
// nats-server's default of 75% of the space free at start, which left a
// server that stopped on a full disk unable to start normally. Writable
// refuses writes, with a message naming the disk, once the free space
// falls below the reserve or the store comes within half a reserve of its
// cap: requests that would add data are refused while deletes (which
// write small markers) still have room. A watcher logs a warning below
// twice the reserve, and when space returns. A write that fails anyway
// (the disk filled by something else, a descriptor limit) leaves
// nats-server's stream refusing or never answering writes until its store
// is opened again; the watcher sees the "critical write error" in the
// server's log and, once there is room, reopens JetStream in place
// (ResetJetStream), so the server recovers without a restart.
//
// # Durability and fsync
//
// Kumo promises that an acknowledged write survives a crash. What that
// costs depends on which crash:
//
//   - A crash of Kumo alone (kill -9, a panic, the OOM killer) loses only
//     what is still in Kumo's own memory. Surviving it needs the data to
//     reach the operating system (a write(2) into the page cache) before the
//     PubAck is sent. nats-server does this for every single-replica file
//     stream whatever the sync policy: without async flush (which it only
//     turns on for replicated streams) each message record is written to its
//     block file in place before the store call returns and the ack goes out.
//   - A crash of the machine (power loss, kernel panic, a VM host dying)
//     also loses the page cache. Surviving it needs an fsync before the ack.
//
// SyncAlways (the default) sets nats-server's sync_interval "always": every
// message block write, index and metadata file is fsynced before the write
// is acknowledged, so an acknowledged write survives both kinds of crash.
// Kumo is a single node by default, so there is no replica elsewhere to fall
// back on; losing acknowledged registry writes or queued Event invocations
// after a power cut would break the promise the Lambda API makes to clients.
// Control-plane writes are rare and small, so the fsync cost (see the store
// benchmark BenchmarkKVPut) is paid where it matters little.
//
// SyncInterval keeps the ack-after-write(2) behaviour, so it still survives
// kill -9, but fsyncs only in the background every 2 minutes (nats-server's
// default). A machine crash can then lose up to that window of acknowledged
// writes, and recovery truncates block files to their last intact record. It
// suits disposable development machines and benchmarks.
//
// In cluster mode nats-server relaxes SyncAlways to syncing on each Raft
// flush, and durability comes from the quorum that stored the write before
// the ack.
//
// # Cluster mode
//
// With Config.Cluster the server is a member of a NATS cluster
// (cluster.go): it routes to the other members' Listen addresses, runs
// JetStream clustered (a Raft meta-group over all members, a Raft group per
// replicated stream) under its ServerName (the node id), and, with a zone,
// carries the tag "zone:<zone>" with nats-server's unique_tag set to
// "zone:", so that the replicas of a stream go to distinct zones. With a
// Secret its routes present and require it. Routes open only once a
// client port is open, so a member listens on a free
// loopback port that takes only a password generated at start and given
// to in-process connections. Attach instead connects to an external NATS
// cluster (URL, credentials, TLS): it runs no server, Space measures only
// the data dir and Writable leaves refusing writes to the cluster.
//
// Replicas(ClusterSize()) is the replica count every bucket and stream is
// created with: 1 alone, min(3, members) in a cluster. WaitReady holds a
// member back until the meta-group has a leader, every configured member is
// online and this member is current on every stream it holds (a restarted
// member first catches up from its data dir), so that the first creations
// do not stall on a missing peer. A write is acknowledged once a quorum of
// the stream's replicas stored it; a minority partition has no quorum and
// refuses writes rather than diverging.
//
// Opening (open.go): EnsureStream, EnsureKeyValue, EnsureConsumer and
// EnsureObjectStore look a stream, bucket or durable consumer up and use it
// as it is when its configuration already holds the one asked for (Holds);
// only a missing one is created and a differing one updated. In a cluster
// a create or update goes through the meta-group and is answered by the
// stream's or consumer's leader once applied, so a member restarting after
// a crash, whose return makes its groups elect leaders again, could wait
// for an answer that never came. Every request is bounded on its own and
// retried with backoff (Retry) until the caller's context ends; what is
// awaited goes to the Opening the context carries, which a starting
// cluster member shows on /healthz. These functions keep no state: what
// they open lives in JetStream.
//
// Upgrading a single node: nats-server takes streams on disk that the
// cluster's meta-group does not know for strays and deletes them, so Start
// refuses a cluster member on a data dir that holds streams but no
// store-mode file saying "cluster" (written at a member's first start). The data moves through a backup restored into an external NATS
// cluster, as the README's "Cluster mode" section describes.
package natsd
