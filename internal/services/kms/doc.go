// Package kms serves an AWS KMS-compatible key service on the edge, in
// KMS's AWS JSON 1.1 protocol (X-Amz-Target: TrentService.<Op>, SigV4
// service "kms"; errors carry the bare code in __type and status 400, as
// KMS sends them), and is the key engine other services encrypt their data
// at rest with (engine.go: ManagedKey, Encrypt, Decrypt).
//
// It owns KMS keys (symmetric AES-256-GCM; HMAC_224–512; RSA_2048–4096
// for SIGN_VERIFY or ENCRYPT_DECRYPT; ECC_NIST_P256/P384/P521 for
// SIGN_VERIFY), their aliases, key policies, grants, tags, rotation and
// scheduled deletion. Key ids are version 4 UUIDs, ARNs
// arn:aws:kms:REGION:ACCOUNT:key/ID and …:alias/NAME; "alias/aws/" is
// reserved for the AWS managed keys ManagedKey creates.
//
// # Ciphertext
//
// A symmetric key's ciphertext blob is self-describing (key.go): a format
// version, the key id and the material version, then AES-256-GCM with the
// header and the canonical encryption context as additional data. Decrypt
// therefore finds the key without a KeyId, every earlier material version
// still decrypts after a rotation, and a blob decrypts only with the
// encryption context it was made with (else InvalidCiphertextException).
// An RSA key's ciphertext is plain RSAES-OAEP, and Decrypt needs its
// KeyId, as in AWS.
//
// # State
//
// Keys and aliases live in the KV bucket natsd.KMSBucket ("kumo-kms"):
// one JSON record per key under "k.<key id>" (metadata, policy, grants,
// rotations, and every material version wrapped by the node master key)
// and one per alias under "a.<alias name in base64url>". The service
// answers from a view a watch of the bucket keeps (material unwrapped,
// policies parsed), so requests never read the store. Writes are
// serialised by one mutex on this node and go to the bucket with
// compare-and-set before the view; an acknowledged write survives a crash.
// A sweeper (Config.SweepInterval, with the injected clock) deletes keys
// whose waiting period is over, with their aliases, and rotates keys
// whose rotation date has come; every node of a cluster may sweep,
// compare-and-set lets one change win.
//
// # The master key
//
// Key material never reaches the store in the clear: it is wrapped with
// AES-256-GCM under the node master key (master.go), bound to its key id
// and version. The master key comes from the operator's file
// (--kms-master-key-file), else KUMO_KMS_MASTER_KEY, else
// <data-dir>/kms-master.key, generated with mode 0600; the store keeps
// only its id (a hash prefix). Losing the master key is the only way to
// lose the keys, and with them everything they encrypted: back it up
// apart from the data dir. Every node of a cluster uses the same master
// key: one given to each, or, with a cluster secret, the one the first
// node generated or brought, which internal/app keeps in the store sealed
// under the cluster secret (never under a key the store holds); the
// package itself never stores it. To rotate it, start with the new key and the old one as
// --kms-previous-master-key-file: Open wraps every material again with
// the new key, after which the old one is no longer needed. A key whose
// material no master key given unwraps is KeyUnavailableException.
//
// # Authorization
//
// Every operation is in authz.go's table. Operations on a key are
// authorized as KMS does: a grant for the caller (its user or role ARN)
// that lists the operation and whose constraints the encryption context
// meets allows it; otherwise the key policy must allow the caller, by
// naming it or by naming its account (the default key policy, as AWS
// writes it, gives the account's root kms:*, which delegates to the
// account's IAM policies) and an explicit Deny anywhere denies. IAM
// policies alone never open a key. Unlike AWS, the account's root user is
// never locked out of a key by its policy (only by an explicit Deny).
// CreateKey, ListKeys, ListAliases (without KeyId), GenerateRandom and
// ListRetirableGrants take IAM policies alone. Grant tokens are accepted
// and checked for form only: grants take effect at once.
//
// It must never store key material unwrapped, log plaintext or key
// material, or read the store on a request's path.
//
// # Not served
//
// Custom key stores, imported key material (Origin EXTERNAL), multi-Region
// keys, key agreement, data key pairs, DryRun (accepted, not honoured).
package kms
