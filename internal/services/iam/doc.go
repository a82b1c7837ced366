// Package iam serves AWS Identity and Access Management's API on the edge
// (query protocol, SigV4 service name "iam", version 2010-05-08, XML
// answers and IAM's error codes) and keeps IAM's state: users and their
// long-term access keys, groups, roles, inline and managed policies,
// attachments, permissions boundaries and tags. Besides the customer
// managed policies it serves a few AWS managed ones read-only
// (arn:aws:iam::aws:policy/…, embedded from managed/*.json with AWS's own
// documents).
//
// State lives in the JetStream KV bucket natsd.IAMBucket ("kumo-iam"), one
// JSON document per entity under "user.<n>", "group.<n>", "role.<n>" and
// "policy.<n>", where <n> is the entity's name in lower case (IAM names
// are unique regardless of case) encoded as unpadded base64url so that any
// name IAM allows is one key token. A user's access keys, inline policies,
// attachments and group memberships are members of the user's document (a
// role's and a group's likewise), so a check such as "this user has no
// access keys left" and the delete that follows it are one
// compare-and-set write: every write reads the document from the store
// and updates it at the revision it read, retrying when another writer
// came first. Checks that span documents (a managed policy still
// attached, a group that still has members) read the view and may miss a
// write racing on another node; what such a race leaves behind (an
// attachment to a policy that is gone) is ignored by the Directory.
// Renaming a user moves its document: a create under the new key, then a
// delete of the old one at the revision read (the copy is taken back when
// that delete loses a race).
// Secret access keys are stored sealed with token.Issuer.StoredSecrets
// (AES-256-GCM with a subkey of the node key, the access key id as
// additional data), never in clear text.
//
// Directory is the view: a KV watch keeps it current on every node, and
// every change rebuilds an immutable snapshot (policies parsed once,
// secrets opened once) that authz.Directory's methods read with one atomic
// load and a map lookup. Writes apply their own result to the view before
// they return, so a client reads its own writes.
//
// Every operation is authorized before it runs with the IAM action and
// resource ARN of the table in actions.go. The package never evaluates
// policies itself: that is internal/iam's, through authz.
package iam
