// Package esm owns Lambda's event source mappings for SQS queues and
// DynamoDB streams (streamsrc.go): the
// Create/Get/Update/Delete/ListEventSourceMappings engine the Lambda API
// front (services/lambda) calls, and the pollers that feed the mapped
// functions.
//
// # State
//
// Every mapping is one JSON value in the KV bucket natsd.ESMBucket
// ("kumo-esm") under "m.<uuid>": the EventSourceMappingConfiguration
// shape, the function and qualifier it invokes and whether the user wants
// it enabled. The service answers from a view a watch of the bucket keeps;
// writes go to the bucket with compare-and-set, then to the view. API
// writes are serialised by one mutex (the duplicate check of a queue and
// function and its write); in a cluster two nodes could each create one
// mapping of the same pair at the same moment.
//
// # States
//
// The API moves a settled mapping (Enabled, Disabled) into a transition
// (Creating, Enabling, Disabling, Updating, Deleting: state.go's table,
// which refuses every move it does not list); Update and Delete of a
// mapping in a transition are ResourceInUseException. The reconciler
// settles transitions once the poller follows: it starts or stops the
// mapping's poller, then writes Enabled or Disabled, or removes a Deleting
// mapping.
//
// Ownership: one node polls a mapping and settles its transitions — the
// holder of its lease, the key "lease.<uuid>" of the same bucket
// (lease.go: created when absent, renewed every third of
// Config.LeaseTTL, taken over by another node once expired, released on
// Close so another node takes over at once). A node restarting under the
// same Config.Node takes its leases back at once; on one node it always
// owns every mapping.
//
// Lock order: Service.mu, then poller.mu. The view has its own lock,
// never held while taking another. The leases map belongs to the
// reconciler goroutine (and to Close after the reconciler has ended).
//
// Create, and an Update that names another function, check the
// function's execution role: when Queues also implements RoleChecker
// (the SQS service does), a role that may not sqs:ReceiveMessage,
// sqs:DeleteMessage and sqs:GetQueueAttributes on the queue (its
// policies, or the queue's policy) is InvalidParameterValueException, as
// Lambda answers.
//
// LastProcessingResult ("No records processed", "OK", "PROBLEM: Function
// call failed") is kept by the poller's node and written under
// "r.<uuid>" only when it changes (result.go); a watch gives every node
// its copy.
//
// # Pollers
//
// A poller receives through the SQS service's in-process consumer API
// (sqs.Service.Receive/Delete/ChangeVisibility, the receipt-handle
// semantics of the public operations) with the queue's visibility
// timeout, gathers up to BatchSize messages within
// MaximumBatchingWindowInSeconds (a long poll of Config.PollWait for the
// first), and invokes the function synchronously with the SQS event
// (event.go) through the invoke.Invoker, as the function's own poller: no
// caller identity is checked. On success the batch is deleted; on a
// function error it is left to become visible again and to follow the
// queue's redrive policy; with ReportBatchItemFailures everything but the
// reported items is deleted, and an invalid response fails the batch. A
// throttled invoke is retried with backoff while the batch is invisible
// (the queue's visibility timeout less a second), then the batch is made
// visible again: nothing is lost, at-least-once (a receive counts toward
// maxReceiveCount, as in Lambda). After an invoke that did not run (the
// function is gone, throttled too long) the worker pauses with backoff.
//
// Scaling is simple: a poller starts one worker; a worker whose receive
// fills a whole batch starts another, up to ScalingConfig
// .MaximumConcurrency (else Config.DefaultConcurrency, 10: Lambda would
// go on to the account's concurrency), bounded by the function's reserved
// concurrency. On a FIFO queue each receive takes message groups no other
// batch holds, so workers process different groups at once and every
// group's order holds; a worker that finds the queue empty ends unless it is the
// last. The account limit and the node's capacity bound it through
// throttled invokes, which back off.
//
// FilterCriteria are compiled with eventpattern (EventBridge's grammar)
// and matched against each message's record of the SQS event, its body
// decoded when it is a JSON object; a message no filter matches is
// deleted without an invoke, as Lambda does for SQS.
//
// The package never reads the store on the poll and invoke path (the view
// and the SQS service's own view serve it) and never invokes a function
// of another account than the server's.
//
// # DynamoDB streams
//
// A stream mapping (StartingPosition TRIM_HORIZON or LATEST; BatchSize
// up to 10000, default 100; MaximumBatchingWindowInSeconds;
// MaximumRetryAttempts, -1 for ever; MaximumRecordAgeInSeconds;
// FilterCriteria matched against each record of the event;
// ReportBatchItemFailures with itemIdentifier a SequenceNumber;
// BisectBatchOnFunctionError; ParallelizationFactor 1–10;
// DestinationConfig.OnFailure; TumblingWindowInSeconds up to 900) has one
// worker reading the stream's one shard through the DynamoDB service's
// in-process reader (Config.Streams), in chunks of up to BatchSize
// records per lane. A chunk's records are split into
// ParallelizationFactor lanes by the hash of their partition key; the
// lanes run at once, each invoking the function with {"Records": [...]}
// in stream order, so every partition key's records stay in order. The
// position is a checkpoint, "cp.<uuid>" in the mapping bucket, created at
// the starting position when the mapping first runs and moved past a
// chunk once every lane is done with it: a restart or another node
// resumes there, at least once. Until then nothing after the chunk is
// read, so a failing batch blocks the shard (all its lanes; Lambda blocks
// only the failing lane's keys).
//
// A failing batch is retried with backoff (from its first reported
// failure, with ReportBatchItemFailures). With BisectBatchOnFunctionError
// a function error splits it in halves, each processed in turn with
// retries of their own (a split spends no retry). Records older than
// MaximumRecordAgeInSeconds, and a batch whose MaximumRetryAttempts are
// spent, are discarded: with an OnFailure destination (a standard SQS
// queue the role may sqs:SendMessage to, or an SNS topic; Config.Targets
// sends) Lambda's record of them — requestContext (condition
// RetryAttemptsExhausted or RecordAgeExceeded, approximateInvokeCount),
// responseContext, DDBStreamBatchInfo (shardId, start and end sequence
// numbers, approximate arrivals, batchSize, streamArn) — is sent first,
// retried until delivered, so the checkpoint never passes records that
// were neither processed nor recorded. An invoke that did not run
// (throttled, the function gone) is retried with backoff and spends no
// retry.
//
// Tumbling windows are TumblingWindowInSeconds long, aligned to the epoch
// by each record's ApproximateCreationDateTime; a batch holds records of
// one window. Each lane carries the state the function returned
// ({"state": {...}}) into its next invoke of the window (with window
// start and end, shardId, eventSourceARN, isFinalInvokeForWindow false);
// once a later record arrives, or the stream is idle and the clock is
// past the window's end, a final invoke with no records carries the state
// with isFinalInvokeForWindow true, and the state is dropped. The open
// windows' state is saved with the checkpoint (JSON instead of the bare
// sequence), so a restart resumes a window with the state it had when
// the chunk before was acknowledged. isWindowTerminatedEarly is always
// false (no state limit is enforced).
//
// A removed mapping's checkpoint stays in the bucket. Create, and an
// Update that names another function, check that the function's role may
// dynamodb:GetRecords, GetShardIterator, DescribeStream and ListStreams
// on the stream (StreamRoleChecker), with Lambda's message.
//
// Lifecycle: Open after the SQS service and the invoker exist; Close
// before them. Close stops every poller and cancels in-flight invokes
// (their batches return to the queue after the visibility timeout).
package esm
