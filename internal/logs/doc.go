// Package logs stores function logs and serves them through a CloudWatch
// Logs-compatible API (JSON 1.1, X-Amz-Target Logs_20140328.<Op>). The
// handler of HandlerWith checks each operation before it runs, as the IAM
// action and log group or stream authz.go's table names.
//
// Events live in one JetStream stream (natsd.LogsStream), one subject per
// log stream, with the group and stream names encoded as base64url subject
// tokens. A message holds one event (its body the event's message, a
// header its timestamp) or a batch: everything the sink flushes for one
// log stream at once (up to 64 KiB and 2,048 events spanning at most a
// minute) is one message, so a warm invocation's START, output, END and
// REPORT lines cost one stored write per flush, not one per line. The
// message's JetStream time is its events' ingestion time. Events are
// addressed by position (the message's stream sequence shifted left 16
// bits, plus the event's index in it): tokens, event IDs and scans count
// in positions. Retention and the size cap delete whole messages.
// Group metadata (creation time, retention) and stream metadata (creation,
// first and last event, last ingestion, stored bytes) live in a KV bucket
// (natsd.LogsBucket) and, for reads, in memory. Retention is enforced by a
// sweeper that deletes events older than their group's retentionInDays.
//
// Limits that keep a function's logs from filling the disk: the groups the
// sink creates for functions get a retention of Config.RetentionDays (30
// by default; groups created through the API never expire, as in
// CloudWatch Logs), and a group storing more than Config.GroupMaxBytes
// (256 MiB by default) of messages loses its oldest events at once, down
// to 90% of the cap. While Config.Writable reports that the store cannot
// take writes (a nearly full disk), the sink drops lines instead of
// writing, and the usual marker line says how many.
//
// Shutdown is bounded: Close gives the sink Config.CloseTimeout (5 s by
// default) to store what it holds, then cancels its writes, drops the rest
// and logs how many events were lost.
//
// The package uses JetStream directly, not the internal/store interfaces
// (key-value buckets and blobs only): reading logs needs a stream with a
// subject per log stream, consumers starting at a sequence or a time,
// purges by subject and sequence and direct gets, none of which a KV or
// blob interface offers. Its metadata bucket could move onto store.KV; it
// stays beside the stream so one package owns a log group's data.
//
// Log lines are not acknowledged writes. The sink holds a sandbox's lines
// in memory for up to Config.FlushInterval (50 ms by default) or until
// Config.FlushEvents wait, then stores them; the invocation that wrote
// them has answered long before. A crash of the server loses at most the
// lines of the last flush interval (and of a flush under way); a clean
// shutdown stores them (Close). PutLogEvents is different: it answers
// once its events are stored.
//
// Store is also the worker's log sink: Append never waits on storage,
// holds a bounded number of bytes per log stream and overall, and drops
// lines beyond those budgets, leaving a marker line in their place
// (DroppedFormat) once the stream has room again. A group and stream are
// created on their first line, as Lambda does.
//
// Reads go through short-lived JetStream consumers and follow the order in
// which events were stored: GetLogEvents tokens ("f/<seq>", "b/<seq>") and
// FilterLogEvents' nextToken are stream sequence numbers, so paging is
// stable while new events arrive. Within one FilterLogEvents page, events
// of different log streams are sorted by timestamp.
//
// Subscription filters (subs.go) send the events of a group that match a
// filter pattern to a Lambda function, through Functions, as CloudWatch
// Logs does: {"awslogs":{"data": base64(gzip(json))}} holding a
// DATA_MESSAGE of one log stream's events, up to deliveryBytes of
// messages, invoked asynchronously as logs.amazonaws.com with the group's
// ARN as aws:SourceArn (no CONTROL_MESSAGE: CloudWatch Logs sends those to
// Kinesis destinations only). A filter is a KV record ("sf.<group>.<name>")
// and a durable JetStream consumer of the group's subjects, created before
// PutSubscriptionFilter answers, so delivery starts with the next event
// stored and resumes where it left off after a restart; in a cluster the
// consumer hands each event to one node. Each delivery round reads the
// filter's record, so a change or delete made through any node applies to
// every node delivering it (a node picks up filters made elsewhere when it
// starts). An event is acknowledged once the
// invocation holding it is queued (at least once); an invocation that
// cannot be queued is retried after retryDelay, and one the function side
// refuses for good (its permission removed) is dropped and logged. A
// function subscribed to its own log group with a pattern its own lines
// match invokes itself in a loop, as on AWS: each round is one
// asynchronous invocation a delivery wait apart, nothing worse.
//
// Metric filters (metricfilter.go) are KV records ("mf.<group>.<name>")
// applied to events as they are stored; the values they emit are summed
// in memory into kumo_logs_metric{namespace,name,dimensions} (and counted
// in kumo_logs_metric_samples_total) on the node that stored the events,
// and start from zero when the server starts, as Prometheus counters do.
//
// What this package must never do: block a sandbox's output drain, hold an
// unbounded amount of log data in memory, or answer a bad request with a
// 500.
//
// Lock order: Store.mu and sink.mu are never held together.
package logs
