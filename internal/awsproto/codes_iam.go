package awsproto

// IAM's codes. IAM is a query service: every error is an ErrorResponse
// with Type, Code and Message; code and status are the "error" trait of
// each exception in the botocore model (iam/2010-05-08/service-2.json).
const (
	IAMNoSuchEntity                  Code = "iam#NoSuchEntity"
	IAMEntityAlreadyExists           Code = "iam#EntityAlreadyExists"
	IAMDeleteConflict                Code = "iam#DeleteConflict"
	IAMLimitExceeded                 Code = "iam#LimitExceeded"
	IAMMalformedPolicyDocument       Code = "iam#MalformedPolicyDocument"
	IAMInvalidInput                  Code = "iam#InvalidInput"
	IAMUnmodifiableEntity            Code = "iam#UnmodifiableEntity"
	IAMPolicyNotAttachable           Code = "iam#PolicyNotAttachable"
	IAMConcurrentModification        Code = "iam#ConcurrentModification"
	IAMEntityTemporarilyUnmodifiable Code = "iam#EntityTemporarilyUnmodifiable"
	IAMServiceFailure                Code = "iam#ServiceFailure"
)

var iamCodes = []Spec{
	{Code: IAMNoSuchEntity, Status: 404, Fault: Client},
	{Code: IAMEntityAlreadyExists, Status: 409, Fault: Client},
	{Code: IAMDeleteConflict, Status: 409, Fault: Client},
	{Code: IAMLimitExceeded, Status: 409, Fault: Client},
	{Code: IAMMalformedPolicyDocument, Status: 400, Fault: Client},
	{Code: IAMInvalidInput, Status: 400, Fault: Client},
	{Code: IAMUnmodifiableEntity, Status: 400, Fault: Client},
	{Code: IAMPolicyNotAttachable, Status: 400, Fault: Client},
	// A write that lost a race with another one and was not retried.
	{Code: IAMConcurrentModification, Status: 409, Fault: Client, Retryable: true},
	{Code: IAMEntityTemporarilyUnmodifiable, Status: 409, Fault: Client, Retryable: true},
	{Code: IAMServiceFailure, Status: 500, Fault: Server, Retryable: true},
}

func init() { Register(iamCodes...) }
