// Package app wires Kumo's subsystems together and runs them: it starts them
// in dependency order (store, registry, API, edge) and stops them in reverse.
// It holds no logic of its own beyond that and the data dir's small files
// (root credentials, URL signing key).
//
// Secrets (keys.go): a single node keeps its root credentials, session
// token, URL and SNS signing keys and KMS master key in its data dir. A
// cluster keeps them once in the store's keys bucket, sealed with a key
// derived from the cluster secret: the first node stores its own or new
// ones with create-only writes, every node uses the stored ones and keeps
// a copy in its data dir, never two keys at once; keys the operator gives
// (environment, flags) are never stored. It must never store the KMS
// master key unsealed.
package app
