// Package registry owns Lambda's resource model: functions, their published
// versions, aliases, resource policies, tags and concurrency settings. It
// validates every change against Lambda's rules and quotas, writes it to the
// store with compare-and-set on one key per function, and keeps an in-memory
// view fed by a store watch so that readers (the invoke path above all) never
// touch the store.
//
// Storage layout in the registry bucket:
//
//	fn.<name>         the function document: $LATEST, aliases, policies,
//	                  tags, reserved concurrency, version counter
//	ver.<name>.<n>    published version n (immutable once visible)
//
// A version key is written before the function document that counts it, so a
// crash between the two leaves an invisible version (n > LastVersion) that the
// next publish overwrites. Code zips live in the code blob bucket named by
// the hex SHA-256 of the zip; blobs no function or version references are
// collected after a grace period.
//
// Environment variables are stored encrypted when the Registry has EnvKeys
// (env.go): the function and version documents hold Env, the variables'
// JSON encrypted by the KMS engine with the function's KMSKeyArn or the
// account's aws/lambda key, and never Config.Environment. The in-memory
// view holds them decrypted, once per document read, so the invoke path
// makes no KMS call; it asks EnvKeys.Usable (memory only) whether the key
// can still decrypt, and an invocation of a version whose key is disabled,
// pending deletion or gone fails with Lambda's KMS* error (502). Documents
// written with the variables in plain text are encrypted when a registry
// with EnvKeys opens them.
//
// A container-image function (PackageType Image, image.go) has no code
// blob: its Code.Image keeps the ImageUri as given and pinned to the
// manifest digest it resolved to at CreateFunction/UpdateFunctionCode
// (CodeSha256 is that digest's hex); preparation pulls the image into the
// node's image cache before the function is Active, and a failed pull
// marks it Failed with Lambda's image reason codes.
//
// SnapStart: a version published while $LATEST's SnapStart.ApplyOn is
// PublishedVersions is stored with OptimizationStatus "On" (immutable, like
// the rest of the version); $LATEST always says "Off". What that version
// then gets (a sandbox kept ready per node) is the worker's business.
//
// Errors returned to callers are *awsproto.Error values with Lambda's codes
// and messages. The registry never runs code and never blocks on sandboxes.
package registry
