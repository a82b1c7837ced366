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
// With an Authorizer (authentication on), AssumeRole is authorized as on
// AWS: the caller's policies must allow sts:AssumeRole on the role and the
// role's trust policy must name the caller (the account root may assume
// any role); an unknown role is refused like one the caller may not
// assume; DurationSeconds may not exceed the role's maximum session. The
// session policies (Policy, and PolicyArns when the Directory has their
// documents) are validated with IAM's MalformedPolicyDocument sentences
// and sealed into the credentials, which then allow only what both the
// role and the session policies allow. Tags, ExternalId and the MFA
// parameters are accepted and not enforced. GetCallerIdentity and
// GetSessionToken need no permission, as on AWS; session credentials
// cannot call GetSessionToken. Every operation's authorization is in
// authz.go's table. Without an Authorizer any caller may assume any role
// name of the account.
//
// The package keeps no state and must never read the store: every answer
// comes from the request's authenticated identity and the node key.
package sts
