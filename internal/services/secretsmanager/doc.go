// Package secretsmanager serves an AWS Secrets Manager-compatible API on
// the edge (AWS JSON 1.1, X-Amz-Target: secretsmanager.<Op>, SigV4
// service "secretsmanager"): CreateSecret, GetSecretValue,
// PutSecretValue, UpdateSecret, DescribeSecret, ListSecrets,
// DeleteSecret (recovery window 7–30 days, or ForceDeleteWithoutRecovery)
// and RestoreSecret, TagResource and UntagResource.
//
// Secrets have ARNs arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX
// (six random characters, as AWS adds) and are found by name, ARN or the
// ARN without its suffix. Every value is a version, named by its
// ClientRequestToken (a retry with the same token and value changes
// nothing; with another value it is ResourceExistsException); the staging
// labels AWSCURRENT and AWSPREVIOUS move as AWS moves them.
//
// # State
//
// One JSON record per secret in the KV bucket natsd.SecretsBucket
// ("kumo-secretsmanager"), under "s.<name in base64url>", answered from a
// view a watch keeps; writes are serialised by one mutex and go to the
// bucket with compare-and-set. A value is never stored in the clear: it
// is encrypted by the KMS engine (Keys, in-process) with the secret's
// KmsKeyId or the account's aws/secretsmanager key, created on first use,
// with the secret's ARN and the version id as encryption context; the
// record keeps the blob, the key's ARN and a keyed hash for idempotency.
// A sweeper (with the injected clock) deletes secrets whose recovery
// window has ended.
//
// # Authorization
//
// Every operation is in the operations table and authorized as its
// secretsmanager: action on the secret's ARN, with its tags as resource
// tags. Resource policies, rotation, replication and the caller's own KMS
// permissions on a customer key are not served: a secret's key is used by
// the service on the caller's behalf.
//
// It must never store or log a secret value in the clear.
package secretsmanager
