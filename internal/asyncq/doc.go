// Package asyncq is the durable queue of asynchronous (Event) invocations.
//
// Enqueue returns only once JetStream has acknowledged the event (the store
// fsyncs before acknowledging), so an event answered with 202 survives a
// crash. Events live on the work-queue stream KUMO_ASYNC, one subject and one
// durable pull consumer per function. Every function has its own drainer; a
// drainer holds at most PerFunction events in flight and waits in line (FIFO)
// for one of Parallel global slots, so one function's backlog never starves
// another's. A drainer retires after Idle without work, at once when its
// function no longer exists and nothing of it is stored or in flight, and
// deletes its durable consumer as it goes: a deleted function leaves no
// consumer (goroutines, a directory on disk) behind, and consumers an
// earlier process left are swept the same way after Start. A consumer or
// stream that JetStream lost is created again by the next drainer that
// needs it.
//
// Enqueue starts a drainer only in the process that stored the event, so
// every Scan the queue also starts one for each function with stored events
// that has none here: in a cluster, an event whose node died (with the
// event in flight, or before its drainer fetched it) runs on a survivor
// once the ack wait hands it out again, without waiting for that node or
// for the function's next event. A retiring drainer whose consumer reports
// nothing pending while the stream still holds events of its function (a
// consumer whose state lags the stream after a leader change) deletes the
// consumer and creates it again, which hands those events out from the
// stream's first message. A drainer that keeps running (other nodes keep
// the consumer busy, so it never retires) checks every Scan while it has no
// work for events stored below the consumer's ack floor, which the consumer
// would never deliver, and stores them again under a new sequence.
//
// An attempt's context carries no deadline: the invoker bounds it by the
// function's own timeout (package forward waits for a node that took an
// invocation and died no longer than that timeout and a margin, then
// answers a retryable error), so an event whose attempt went to a killed
// node runs again within that bound. A deadline on the context would
// replace that bound, and the event would stay stored, heartbeated, for
// as long. The queue backs the invoker up: an attempt still running after
// its function's timeout and two minutes (init, a cold start's code
// download, forwarding; AttemptTimeout when the function's timeout is not
// known) is cancelled and retried, as an answer that never comes (from a
// step that waits on a stream leader that died, say) would otherwise keep
// the event's heartbeat going forever, so JetStream would never hand it
// out again. An attempt that holds its event longer than AckWait is
// logged.
//
// Processing is at-least-once: a message is acknowledged only after the
// attempt's outcome is decided and whatever follows from it (the retry, the
// destination record, the dead-letter event) is itself durably published.
// A crash in between runs an attempt again with the same request id; those
// duplicates are counted in kumo_async_redeliveries_total.
//
// Function errors are retried MaximumRetryAttempts times after RetryDelays;
// throttling and service errors (awsproto.Error.Retryable) are retried with
// back-off until the event is MaximumEventAge old. Any other error from the
// invoker would recur unchanged, so it fails the event at once: the
// OnFailure destination and dead-letter target get it as RetriesExhausted.
// A function that no longer exists has its events discarded. Destinations
// and dead-letter targets that are Lambda functions receive their records
// as asynchronous invocations through this same queue; SQS queues and SNS
// topics receive them through Config.Targets (a dead-letter event with the
// RequestID, ErrorCode and ErrorMessage attributes Lambda sets), and a
// target that refuses a record for good (it does not exist) drops it. The package never reads the store for function settings: it
// asks the registry's in-memory view.
//
// # Why JetStream directly, not internal/store
//
// The queue talks to JetStream itself rather than through the store
// package's interfaces, which offer key-value buckets and blobs only. A
// queue needs what those cannot express: a work-queue stream that drops a
// message once acknowledged, one durable pull consumer per function,
// redelivery after an ack wait, delayed redelivery (NakWithDelay),
// heartbeats for long attempts and publish de-duplication by message id.
// Growing store.Store to cover them would give it a second, queue-shaped
// interface with one user; until a second implementation (or user) needs
// one, the JetStream calls stay here and every name comes from natsd.
//
// # When the store cannot write
//
// Enqueue asks Config.Writable first and refuses with ErrUnavailable while
// the data disk is nearly full or the store is being reopened after a
// failed write (natsd repairs that by itself once the cause is gone), and
// bounds its wait for the store's acknowledgement, so an Event invoke gets
// a 5xx while the store fails and is accepted again afterwards without a
// restart.
package asyncq
