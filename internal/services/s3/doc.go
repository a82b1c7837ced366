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
// presigned URLs), their expiry included.
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
// Limit: nats.go's ObjectStore.Put publishes chunks asynchronously with up
// to 4,000 in flight, on a JetStream context of its own; a single PUT of
// hundreds of MiB can outrun the stream's ingest queue and fail with a 500
// (JetStream's 429). Multipart uploads (what the CLI, boto3 and the SDKs'
// upload managers use above 8 MiB) keep each blob a part's size.
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
// stored, or write S3's wire strings outside this package and awsproto's
// catalogue.
package s3
