// Package s3 is Kumo's S3-compatible object store: S3's REST-XML API on the
// edge port, path-style (http://<edge>/<bucket>/<key>) and virtual-hosted
// (<bucket>.s3.<region>.localhost), for requests signed with the SigV4
// service "s3".
//
// # Authentication
//
// The edge routes S3 with edge.AuthHandler: S3 bodies are streamed (up to
// 5 GiB a PUT) and S3 signs in its own ways — the canonical path is not
// encoded twice, and the payload hash may be UNSIGNED-PAYLOAD or an
// aws-chunked STREAMING-* variant whose chunks carry their own signatures
// or a trailing checksum. The service therefore verifies the header
// signature itself with awsproto.Verifier.VerifyS3 before reading the body,
// then checks the body as it streams: its SHA-256 against
// x-amz-content-sha256, each chunk's signature against the chain
// (chunked.go), Content-MD5 and x-amz-checksum-* values. A body that fails
// a check is never committed: its blob is deleted and the client gets the
// error. Presigned URLs are checked by VerifyPresigned (query-string SigV4) and
// VerifyPresignedV2 (S3's HMAC-SHA1 query signature, boto3's default for
// presigned URLs), their expiry included. A browser form upload (POST
// Object, post.go) is unsigned as a request: its policy document carries
// the SigV4 (or version 2) signature, checked with the form together with
// the policy's expiry and conditions; an unsigned form is refused.
//
// # Storage
//
// Object data lives in the JetStream object store natsd.S3Objects (chunked,
// streamed in and out: a PUT or GET holds one chunk in memory, never the
// object); metadata in the KV bucket natsd.S3Bucket, read through (no view
// kept in memory):
//
//	b.<hex(bucket)>                  bucket: name, creation date, location
//	o.<hex(bucket)>.<hex(key)>       object: blob name, size, ETag, headers
//	v.<hex(bucket)>.<hex(key)>.<o>   noncurrent version (versions.go)
//	u.<upload id>                    multipart upload: bucket, key, headers
//	p.<upload id>.<part number>      uploaded part: blob, size, ETag
//
// Keys are hex-encoded, so KV's key order is S3's order (UTF-8 binary) and
// a listing is one KV List of the bucket, paged in memory. Both stores are
// JetStream, so both are durable before the 200 and replicated in a
// cluster. A write stores the data under a fresh blob name first and then
// the metadata; the blob an overwrite or delete replaces is deleted after.
// A crash between the two leaves an unreferenced blob (wasted space, never
// a wrong answer); no sweeper removes them yet.
//
// A multipart upload's parts are blobs of their own; completing the upload
// copies nothing: the object's record lists the chosen parts' blobs, and a
// GET streams them in order (a range skips whole parts).
//
// A blob is written with at most 32 chunks (4 MiB) unacknowledged
// (store.Blobs), so a single PUT of up to 5 GiB streams at the pace the
// stream stores it, with flat memory.
//
// # Event notifications
//
// A bucket's notification configuration (Put/GetBucketNotificationConfiguration,
// notify.go) is kept in its record. Writing one validates it as S3 does
// (event types, at most one prefix and one suffix rule, no two
// configurations sharing an event type with filters that can match one
// key), then asks each destination through Config.Destinations: a function's
// policy must allow s3.amazonaws.com for the bucket; a queue or a topic is
// sent s3:TestEvent, and one that cannot take it (missing) fails the
// configuration. Failures are InvalidArgument "Unable to validate the
// following destination configurations", each destination as an
// ArgumentNameN/ArgumentValueN pair. A queue's or topic's policy must
// allow s3.amazonaws.com sqs:SendMessage or sns:Publish for the bucket.
//
// Delivery is at least once, a crash between a write and its
// notification included, through an outbox: the work-queue stream
// natsd.S3EventsStream (events.go).
//
//  1. A write (PUT, copy, CompleteMultipartUpload, DELETE, each key of
//     DeleteObjects) whose event some configuration wants publishes the
//     pending event (natsd.S3PendingSubject) after its data is stored and
//     before its record is written; if that fails, the write fails. Each
//     write has a unique id, kept in the object's record (WriteID), and
//     a record remembers the ids of the last 16 writes it replaced
//     (Recent), with their revisions.
//  2. Once the record is committed, the write stores the event's
//     deliveries (natsd.S3DeliverySubject, one per destination; the
//     sequencer is the record's KV revision, so one key's events order as
//     its writes) and answers.
//  3. The consumer natsd.S3PendingConsumer confirms each pending event:
//     when the record shows its write (or, for a delete, that the deleted
//     record is gone), it stores the deliveries again — the stream keeps
//     one copy of each within its five-minute duplicate window — and acks.
//     A crash between steps 1 and 2 is covered by this step (unless,
//     before the restarted server confirms the event, the key is deleted
//     or overwritten more than 16 times: the record no longer shows the
//     write, and the event is dropped as below). A pending
//     event whose write is not in the record after CommitGrace (a minute)
//     is the event of a write that never committed (the client got an
//     error) and is dropped.
//  4. The consumer natsd.S3DeliveryConsumer sends each delivery through
//     Destinations.Send (a function's asynchronous invoke is queued, a
//     queue's message stored, a topic's message published) and acks only
//     then; a failure is retried with doubling delays up to five minutes,
//     for a day; a destination that is gone or refuses the bucket
//     (ErrDestination) drops it with a log line, as S3 does.
//
// Events follow the configuration as it was at write time; in a bucket
// whose versioning was ever configured they carry the version id. A
// DELETE that makes a delete marker raises
// s3:ObjectRemoved:DeleteMarkerCreated. Queues and topics are sent to as
// the service principal s3.amazonaws.com for the bucket, so their
// policies decide (checked with the s3:TestEvent when a configuration is
// written, and at each delivery); SNS messages have S3's Subject "Amazon
// S3 Notification". The lifecycle sweeper's removals raise
// s3:LifecycleExpiration:Delete and :DeleteMarkerCreated, as
// s3.amazonaws.com; a form upload raises s3:ObjectCreated:Post. Not
// emitted: restore, replication and tagging events.
//
// # Lifecycle
//
// A bucket's lifecycle configuration (lifecycle.go) lives in its record.
// The sweeper (every Config.LifecycleInterval, on the service's clock;
// SweepLifecycle runs one pass) applies the enabled rules: an expired
// current version is deleted (unversioned) or gets a delete marker,
// compare-and-set against the version judged, so a write landing meanwhile
// is never removed; a delete marker that is a key's only version goes
// with ExpiredObjectDeleteMarker; noncurrent versions go their days after
// their successor was written, keeping NewerNoncurrentVersions; old
// multipart uploads are aborted. Days count to the next midnight UTC, as
// in S3. Transitions are refused (one storage class). A sweep that fails
// part-way leaves the rest to the next one; removals are idempotent, so
// several servers may sweep at once.
//
// # Tagging, versioning, CORS
//
// Object tags (Put/Get/DeleteObjectTagging, x-amz-tagging on PUT and
// copy) live in the object's record, bucket tags, the CORS rules and the
// versioning state in the bucket's record (tagging.go, cors.go).
//
// Versioning (versions.go): a key's latest version, an object or a
// delete marker, is its o. record; with versioning enabled a write keeps
// the version it replaces as a v. record (written before the latest is
// swapped compare-and-set, so no crash loses a version), and a DELETE
// makes a delete marker. Version ids sort by write time (a per-server
// strictly increasing clock); a version written while versioning is off
// or suspended is the null version, which the next null write replaces.
// GET, HEAD, DELETE and copy sources take versionId; ListObjectVersions
// merges the latest and noncurrent records, both in key order; object
// tagging takes versionId too. A CORS preflight (OPTIONS) is answered
// unauthenticated from the bucket's rules, and a signed request carrying
// an Origin that a rule allows gets the CORS headers.
//
// # Authorization
//
// Every operation maps to an IAM action in operations (authz.go) and is
// checked with authz.Check on arn:aws:s3:::bucket or arn:aws:s3:::bucket/key;
// a denial is S3's AccessDenied. A bucket policy
// (Put/Get/DeleteBucketPolicy) is the resource policy of every check on the
// bucket and its objects, read from the bucket's record per request.
//
// # Must never
//
// Hold an object's data in memory, answer 200 before data and metadata are
// stored, answer 200 to a write a configuration wants an event of before
// the event is in the outbox, or write S3's wire strings outside this
// package and awsproto's catalogue.
package s3
