// Package sqs serves an Amazon SQS-compatible queue service on the edge, in
// SQS's AWS JSON 1.0 protocol (X-Amz-Target: AmazonSQS.<Op>; errors carry
// __type and, as a query-compatible service, the x-amzn-query-error header
// with the code query clients knew: AWS.SimpleQueueService.NonExistentQueue;
// Sender) and in the query protocol of older SDKs (query.go: form
// parameters to the root or a queue's URL, XML answers and errors),
// translated to the same operations. Queue URLs are <edge URL as the caller reached it>/<account>/<name>,
// ARNs arn:aws:sqs:REGION:ACCOUNT:NAME.
//
// # State
//
// Queue metadata (attributes, tags, the queue's id) lives in the KV bucket
// natsd.SQSBucket ("kumo-sqs"), one JSON value under "q.<name>"; the
// service answers from a view a watch of the bucket keeps, so reads never
// touch the store. Writes (create, set attributes, tag, delete) are
// serialised by one mutex and go to the bucket with compare-and-set before
// the view.
//
// Messages live in JetStream, one file-backed work-queue stream per queue
// (natsd.SQSStream(id), with MaxAge the retention period and a 5-minute
// duplicate window) holding two subjects: visible messages (…ready) and
// delayed ones (…delayed). SendMessage answers once JetStream has
// acknowledged the publish, which the store fsyncs first: an acknowledged
// message survives kill -9.
//
//   - Visible messages are read through one durable pull consumer with
//     explicit acks whose AckWait is the queue's VisibilityTimeout. A
//     receipt handle is the queue id and the delivery's JetStream ack
//     subject, base64url-encoded and checked against the queue on use:
//     DeleteMessage is an ack (confirmed by JetStream once the message is
//     gone), ChangeMessageVisibility a nak with that delay (0: visible now),
//     a receive's own VisibilityTimeout the same nak right after delivery.
//     ApproximateReceiveCount is JetStream's delivery count.
//   - Delayed messages (DelaySeconds of the queue or the message) carry
//     their not-before time; a second durable consumer moves those that
//     are due to the visible subject (publish with a message id, then ack:
//     a crash in between cannot move one twice) whenever a receive or
//     GetQueueAttributes looks at the queue, and naks the rest with their
//     remaining delay. A long poll looks again at least every
//     Config.MaxPollInterval.
//   - Long polling is a JetStream fetch with a max wait: what is there now
//     is taken at once, else the receive waits for one message, then takes
//     what else arrived without waiting.
//   - RedrivePolicy: a delivery whose count exceeds maxReceiveCount is
//     published to the dead-letter queue (DeadLetterQueueSourceArn set)
//     and then acked, instead of being returned.
//   - The approximate counts are the consumers' pending and ack-pending
//     numbers; a message whose visibility expired counts as not visible
//     until it is received again.
//
// A standard queue's ApproximateFirstReceiveTimestamp and each delivery's
// invisible-until time are kept in memory: after a restart, a message's
// first receive since the restart stands in for it, and a visibility
// change is not checked against a delivery made before. With them,
// ChangeMessageVisibility on a delivery whose visibility has ended is
// MessageNotInflight, on a deleted message InvalidParameterValue.
//
// # FIFO queues
//
// A queue named *.fifo with FifoQueue=true deduplicates with JetStream's
// duplicate window (5 minutes, SQS's interval): the publish carries the
// MessageDeduplicationId (the body's SHA-256 with
// ContentBasedDeduplication; prefixed by the group with
// DeduplicationScope messageGroup) as its Nats-Msg-Id, and a duplicate is
// answered with the original's MessageId while it is stored.
//
// Order is kept per message group (fifo.go). A FIFO queue's visible
// messages are published to their group's subject
// (natsd.SQSGroupSubject: the group id base64url-encoded) and read
// without a consumer: a receive lists the groups that have messages
// (stream info with a subject filter), skips those that are held, and
// takes from the oldest group's head on (direct gets by subject) as many
// of one group as it may before the next. Which messages of a group have
// been received is a record per group in the queue bucket
// ("f.<queue id>.<group token>": sequence, invisible-until, receive count,
// first receive, the latest receive's nonce), written with compare-and-set
// before the receive answers, so two receives (or two nodes) never hold
// one group at once and in-flight state survives a restart: a group is
// held while any of its messages is invisible; when the visibility ends,
// the same message, being the group's head, is received again before the
// later ones. The receipt handle names queue, group, sequence and nonce;
// DeleteMessage removes the message from the stream, then from the
// record; a handle of an earlier receive deletes nothing, as SQS answers.
// Costs: with up to 32 groups not held, a receive reads each one's head
// (one direct get each); with more it reads the stream in order in
// batched direct gets of 256 (the stream allows direct gets), the first
// message seen of a group being its head, until the receive is full —
// messages of held groups ahead are read and skipped. Then one request
// per message taken and one record write per group. SequenceNumber is the stream
// sequence. FifoThroughputLimit is stored only (every group flows as
// fast as receives come).
//
// The in-memory view of group records (groupMu) is a cache: the bucket
// is the truth and every write is compare-and-set, so a stale view costs
// a retry, never a second holder. groupMu and attemptMu are never held
// while another lock is taken.
//
// ReceiveRequestAttemptId: a FIFO receive that carries one is remembered
// (its receipt handles) in the KV bucket natsd.SQSAttemptBucket
// ("kumo-sqs-attempts", TTL five minutes, SQS's window); a retry with the
// same id answers the messages still received under those handles, with
// the same handles, and restarts their visibility timeout.
//
// # Message move tasks
//
// StartMessageMoveTask, ListMessageMoveTasks and CancelMessageMoveTask
// move a dead-letter queue's messages back to their source queues (or to
// a destination) in a goroutine of this process (movetask.go); tasks are
// kept in memory, so a restart ends them and forgets their history.
//
// # Not served
//
// KMS encryption is not served (KmsMasterKeyId is stored, messages are
// not encrypted by it).
//
// # Permissions and names
//
// AddPermission and RemovePermission edit the queue's Policy
// (permission.go): one statement per label, at most seven actions, only
// actions others may be granted. DeleteQueue records the time under
// "d.<name>" in the queue bucket; CreateQueue of that name within 60
// seconds is QueueDeletedRecently.
//
// # A full store
//
// With Config.Writable reporting the store full (the data disk nearly
// so), the operations that add data (fills: CreateQueue, SendMessage,
// SetQueueAttributes, …) and in-process deliveries are ServiceUnavailable
// (503, Retry-After: 30), in the request's protocol; receiving, deleting,
// purging and reading go on, so that space can be freed.
//
// # Authorization
//
// With an Authorizer every operation is checked before it runs as the IAM
// action authz.go's table names, on the queue's ARN, with the queue's
// Policy (parsed as an IAM resource policy when written; a malformed one
// is InvalidAttributeValue) as the resource policy. A denial is
// AccessDenied (403). Deliver, for SNS and Lambda, is not authorized: its
// callers have done their own checks.
package sqs
