// Package dynamodb serves an Amazon DynamoDB-compatible table service on
// the edge, in DynamoDB's AWS JSON 1.0 protocol (X-Amz-Target:
// DynamoDB_20120810.<Op>, SigV4 service "dynamodb"; errors carry __type
// "com.amazonaws.dynamodb.v20120810#<code>" and "message"). It owns table
// metadata, items and the per-node indexes over them; attribute values
// are in package attr, expressions in package expr. It never keeps an
// acknowledged write only in memory, and never answers a write before
// JetStream has stored it.
//
// # Served
//
// Create/Describe/List/Update/DeleteTable (HASH and RANGE keys of type S,
// N or B; PAY_PER_REQUEST and PROVISIONED accepted, capacity not
// enforced; tables are ACTIVE at once), Tag/UntagResource,
// ListTagsOfResource, DescribeEndpoints, DescribeLimits;
// Put/Get/Update/DeleteItem with ConditionExpression, UpdateExpression,
// ProjectionExpression, ReturnValues and
// ReturnValuesOnConditionCheckFailure; Query and Scan (segments, filters,
// Select, Limit, ExclusiveStartKey, the 1 MB page); BatchGetItem and
// BatchWriteItem (100 and 25 requests, nothing left unprocessed but what
// exceeds BatchGetItem's 16 MB answer); TransactWriteItems and
// TransactGetItems (100 items); global and local secondary indexes
// (secondary.go: ALL, KEYS_ONLY and INCLUDE projections, sparse, created
// with the table or added and removed by UpdateTable and ACTIVE at once,
// built from the node's items when the definition arrives; Query and Scan
// by IndexName; no consistent reads on a GSI, as on AWS); Update/
// DescribeTimeToLive (ttl.go: every Config.TTLInterval a sweeper deletes
// the items whose TTL attribute, epoch seconds, is past by Config.Now and
// less than five years old; until then they are read as any other, as on
// AWS). Numbers keep 38 digits exactly; items are limited to 400 KB as
// DynamoDB counts them. ConsumedCapacity is reported when asked, computed
// from item sizes. Answers carry X-Amz-Crc32.
//
// DynamoDB Streams (streams.go; X-Amz-Target DynamoDBStreams_20120810.<Op>
// on the same route, signed as "dynamodb"): StreamSpecification on Create/
// UpdateTable, LatestStreamArn and LatestStreamLabel, ListStreams,
// DescribeStream, GetShardIterator (all four types; iterators expire after
// 15 minutes), GetRecords (Limit up to 1000, 1 MB). Each stream has one
// shard, so its records are in the table's write order, which keeps every
// item's records in order as DynamoDB does per partition key.
//
// Not served: PartiQL, backups, global tables, the legacy parameters
// (Expected, AttributeUpdates, KeyConditions, QueryFilter, ScanFilter,
// AttributesToGet, ConditionalOperator: refused).
//
// An expression that names an attribute with one of DynamoDB's 573
// reserved words (expr/reserved.txt) is refused, as DynamoDB refuses it:
// ValidationException "Invalid <expression>: Attribute name is a reserved
// keyword; reserved keyword: <word>".
//
// # State
//
// Table metadata lives in the KV bucket natsd.DynamoDBBucket
// ("kumo-dynamodb"), one JSON value under "t.<name>", written with
// compare-and-set and watched into a view, as SQS does.
//
// Items live in one file-backed JetStream stream, natsd.DynamoDBStream
// ("KUMO_DDB"), one subject per item: kumo.ddb.<table id>.i.<hash>, the
// hash being 128 bits of the SHA-256 of the item's key. Each write
// publishes the item's whole new image (or a deletion record with its
// key) with Nats-Rollup: sub, so the stream keeps each item's latest
// message only, and with Nats-Expected-Last-Subject-Sequence set to the
// sequence of the image the write was computed from: a write whose item
// changed in between (on another node, say) is refused by JetStream, and
// the node catches up and evaluates the condition and update again. That
// precondition makes conditional writes and read-modify-write updates
// atomic per item across a cluster. The table's id is new for every
// CreateTable; DeleteTable removes the metadata and then purges the
// table's subjects.
//
// A transaction is one atomic JetStream batch (Nats-Batch-Id, all stored
// or none): every write with its item's expected sequence, and a
// ConditionCheck as a message on kumo.ddb.<id>.c.<hash> whose expected
// sequence is the checked item's (Nats-Expected-Last-Subject-Sequence-
// Subject). A ClientRequestToken adds a record on
// kumo.ddb._tx.t.<hash of token> with a 10-minute Nats-TTL (and the
// token as Nats-Msg-Id in the stream's 10-minute duplicate window): a
// retry within 10 minutes, on any node and across restarts, is answered
// without running again; the same token with another request is
// IdempotentParameterMismatchException. Conflicts retry as single writes
// do; after 20 attempts the transaction is cancelled with
// TransactionConflict for the items that kept changing.
//
// # Reads and consistency
//
// Every node follows the stream with one ordered consumer and applies
// each message to an in-memory index per table: a B-tree of items ordered
// by (hash of the partition key, partition key, sort key as DynamoDB
// orders it: numbers by value, strings and binaries bytewise) — Query
// walks one partition in either direction, Scan walks the tree, and scan
// segments are ranges of the partition hash. A transaction's messages are
// applied together when its last one arrives, under a lock
// TransactGetItems reads under, so no read sees half of one.
//
// A write answers once JetStream has stored it and this node's index has
// applied it, so a client reading from the node it wrote to sees its
// write. An eventually consistent read reads the node's index as it is.
// A strongly consistent read (ConsistentRead, TransactGetItems) first
// asks JetStream for the stream's last sequence and waits until the index
// has applied every message up to it that still exists (purged and
// expired messages are skipped by asking for the next one), so it sees
// every write acknowledged before it began, on any node. On start a node
// replays the stream (each item's last message) before it answers.
//
// Secondary indexes are B-trees of the same entries ordered by the
// index's key (then the item's hash), kept by the follower as it applies
// items: an index read on a node is as fresh as that node's table.
//
// What survives kill -9: every acknowledged write (JetStream stores, and
// with natsd.SyncAlways fsyncs, before it acknowledges), every table, and
// transaction tokens for their 10 minutes. The indexes are rebuilt from
// the stream. Memory: every item of every table is held in memory on
// every node. Config.MaxItemBytes (--dynamodb-max-item-bytes) bounds
// them (budget.go): the node counts the items it holds as DynamoDB counts
// item sizes, and a write or transaction that would grow the count past
// the bound is refused with ItemCollectionSizeLimitExceededException
// (not retryable) and stores nothing; writes that shrink or delete items
// are always allowed. The count is checked before the write is published,
// so concurrent writes may together pass the bound by what they add; Go's
// heap holds several times the counted size.
//
// # Change log for streams
//
// A stream's records live in the items stream too, one subject per
// stream: kumo.ddb.<table id>.log.<the stream's creation in ms>, with a
// 24-hour Nats-TTL (DynamoDB's retention). A write to a table whose stream
// is enabled publishes the item and its change record (event, keys, the
// images the view type keeps) as one atomic batch, so a change and its
// record are stored together or not at all (commit.go: the batches of
// concurrent writers on a node are joined into one atomic batch, because
// an atomic batch costs JetStream far more than a publish; a joined batch
// refused by a precondition is published again writer by writer); a write that changes nothing
// (a failed condition, deleting a missing item, a put of the same item)
// publishes no record, as DynamoDB writes none. A transaction's records
// are in its batch. The TTL sweeper's deletions are marked and carry the
// service's userIdentity. A record's SequenceNumber is its stream sequence
// ("1" and 20 digits, so numeric and lexical order agree). A shard
// iterator is the stream, the next sequence to read and when it was made,
// base64-encoded. A disabled stream stays readable (its shard closed)
// until the table is deleted or a new stream replaces it; DeleteTable
// purges the records with the items (DynamoDB keeps them 24 hours).
//
// # Authorization
//
// With an Authorizer every operation is checked before it runs as the IAM
// action authz.go's table names, on the table's ARN with the table's tags;
// batches as BatchGetItem/BatchWriteItem on each table, transactions item
// by item as PutItem, UpdateItem, DeleteItem, ConditionCheckItem and
// GetItem. A denial is AccessDeniedException.
package dynamodb
