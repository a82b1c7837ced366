// Package sts serves the AWS Security Token Service API on the edge port
// (query protocol, SigV4 service name "sts", version 2011-06-15):
//
//   - GetCallerIdentity answers who signed the request: the account root
//     (arn:aws:iam::ACCOUNT:root) for the long-term root key, or the role
//     session (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION, UserId
//     AROA…:SESSION) for temporary credentials — also the credentials every
//     sandbox gets for its function's execution role.
//   - AssumeRole mints temporary credentials for a role ARN of this
//     account and a session name, lasting DurationSeconds (900 s to 12 h,
//     1 h when a role session assumes another role, as AWS limits role
//     chaining).
//   - GetSessionToken mints temporary credentials for the long-term
//     caller itself.
//
// The credentials are package token's: stateless, sealed with the node
// key, verified by the edge on every request.
//
// IAM does not exist in Kumo yet, so nothing is authorized here: any
// caller may assume any role name of the account; trust policies, session
// policies (Policy, PolicyArns), tags, ExternalId and MFA parameters are
// accepted and ignored. Enforcing them is the IAM service's job when it
// arrives; until then a role identity is only a name.
//
// The package keeps no state and must never read the store: every answer
// comes from the request's authenticated identity and the node key.
package sts
