// Package iam is Kumo's policy language: it parses IAM policy documents the
// way IAM validates them on write, and evaluates a request against the
// policies that apply to it with AWS's documented evaluation logic. Every
// service authorizes through Evaluate, so a policy means the same thing on
// every API.
//
// It owns:
//   - the policy grammar (policy.go, policy_principal.go): Version
//     2012-10-17 and 2008-10-17, Statement as an object or an array,
//     string-or-array elements, Principal forms, the checks and the
//     MalformedPolicyDocument sentences IAM answers with, and IAM's size
//     quotas as data;
//   - matching (policy_match.go): actions without case with `*` and `?`,
//     resource ARNs segment by segment, policy variables (${aws:username},
//     ${aws:PrincipalTag/team}, defaults, ${*} ${?} ${$});
//   - conditions (condition.go): every operator of the IAM reference, the
//     IfExists suffix, the ForAnyValue/ForAllValues set operators;
//   - evaluation (eval.go): explicit deny, resource-based grants,
//     identity-based policies, permissions boundaries, session policies,
//     implicit deny, and a Decision that words denials as AWS does.
//
// Choices where AWS's documents leave room, so every service agrees:
//   - A resource policy naming only the caller's account (123456789012,
//     arn:aws:iam::123456789012:root) delegates to that account's identity
//     policies: in the same account it allows nothing by itself.
//   - A NotPrincipal element spares a caller only if its own ARN, its role
//     (for a session) and its account are all listed, as AWS documents.
//   - Unparseable condition values (a Numeric value that is not a number)
//     are accepted on write and match nothing.
//   - Messages IAM's documentation does not quote are worded like the ones
//     it does ("Invalid Condition type : X").
//
// It must stay pure: no store, no network, no clock (aws:CurrentTime comes
// in the Request), no logging. Identities, credentials, the IAM and STS
// APIs and the operation-to-action tables are not this evaluator's
// business: they fill a Request and Policies and call Evaluate.
//
// A parsed *Policy is immutable and safe for concurrent Evaluate calls;
// callers cache them (parse once on write or on a registry watch, evaluate
// on every request). Evaluate allocates nothing on the common path.
package iam
