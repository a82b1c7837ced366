package awsproto

// Codes every AWS service may send, in the spelling of each protocol
// family: the JSON services' "…Exception" forms (also Lambda's, and what
// the edge answers before a request reaches a service) and the query/XML
// services' short forms (AWS's "Common Errors" list).
const (
	// JSON forms.
	RequestEntityTooLargeException      Code = "RequestEntityTooLargeException"
	InvalidSignatureException           Code = "InvalidSignatureException"
	IncompleteSignatureException        Code = "IncompleteSignatureException"
	MissingAuthenticationTokenException Code = "MissingAuthenticationTokenException"
	UnrecognizedClientException         Code = "UnrecognizedClientException"
	AccessDeniedException               Code = "AccessDeniedException"
	UnknownOperationException           Code = "UnknownOperationException"
	SerializationException              Code = "SerializationException"
	ValidationException                 Code = "ValidationException"
	ThrottlingException                 Code = "ThrottlingException"
	// ExpiredTokenException: temporary credentials past their expiry.
	ExpiredTokenException   Code = "ExpiredTokenException"
	NotImplementedException Code = "NotImplemented"
	// Refusals of the edge itself: too many connections, a body that
	// arrives too slowly. Both are worth retrying; the SDKs do.
	ServiceUnavailableException Code = "ServiceUnavailableException"
	RequestTimeoutException     Code = "RequestTimeoutException"

	// Query and XML forms.
	AccessDenied                Code = "AccessDenied"
	ExpiredToken                Code = "ExpiredToken"
	IncompleteSignature         Code = "IncompleteSignature"
	InternalFailure             Code = "InternalFailure"
	InternalError               Code = "InternalError"
	InvalidAction               Code = "InvalidAction"
	InvalidClientTokenID        Code = "InvalidClientTokenId"
	InvalidParameterCombination Code = "InvalidParameterCombination"
	InvalidParameterValue       Code = "InvalidParameterValue"
	InvalidQueryParameter       Code = "InvalidQueryParameter"
	MalformedQueryString        Code = "MalformedQueryString"
	MissingAction               Code = "MissingAction"
	MissingAuthenticationToken  Code = "MissingAuthenticationToken"
	MissingParameter            Code = "MissingParameter"
	NotAuthorized               Code = "NotAuthorized"
	OptInRequired               Code = "OptInRequired"
	RequestExpired              Code = "RequestExpired"
	ServiceUnavailable          Code = "ServiceUnavailable"
	SignatureDoesNotMatch       Code = "SignatureDoesNotMatch"
	Throttling                  Code = "Throttling"
	ValidationError             Code = "ValidationError"
)

// sharedCodes is the table of the codes above. The statuses of the JSON
// forms are what Kumo's edge has always sent (Lambda's front door answers
// 403 for signature failures, 404 for an unknown operation); the query
// forms' are AWS's Common Errors table. The edge's own refusals carry
// their query form as QueryCode, so a query or XML route's renderer sends
// what those clients expect (InvalidClientTokenId for an unknown key,
// ExpiredToken for an expired session).
var sharedCodes = []Spec{
	{Code: RequestEntityTooLargeException, Status: 413, Fault: Client},
	{Code: InvalidSignatureException, Status: 403, Fault: Client, QueryCode: string(SignatureDoesNotMatch)},
	{Code: IncompleteSignatureException, Status: 403, Fault: Client, QueryCode: string(IncompleteSignature)},
	{Code: MissingAuthenticationTokenException, Status: 403, Fault: Client, QueryCode: string(MissingAuthenticationToken)},
	{Code: UnrecognizedClientException, Status: 403, Fault: Client, QueryCode: string(InvalidClientTokenID)},
	{Code: ExpiredTokenException, Status: 400, Fault: Client, QueryCode: string(ExpiredToken)},
	{Code: AccessDeniedException, Status: 403, MessageKey: "Message", Fault: Client},
	{Code: UnknownOperationException, Status: 404, Fault: Client},
	{Code: SerializationException, Status: 400, Fault: Client},
	{Code: ValidationException, Status: 400, Fault: Client},
	{Code: ThrottlingException, Status: 400, Fault: Client, Retryable: true},
	{Code: NotImplementedException, Status: 501, Fault: Client},
	{Code: ServiceUnavailableException, Status: 503, Fault: Server, Retryable: true},
	{Code: RequestTimeoutException, Status: 408, Fault: Client, Retryable: true},

	{Code: AccessDenied, Status: 403, Fault: Client},
	{Code: ExpiredToken, Status: 400, Fault: Client},
	{Code: IncompleteSignature, Status: 400, Fault: Client},
	{Code: InternalFailure, Status: 500, Fault: Server, Retryable: true},
	{Code: InternalError, Status: 500, Fault: Server, Retryable: true},
	{Code: InvalidAction, Status: 400, Fault: Client},
	{Code: InvalidClientTokenID, Status: 403, Fault: Client},
	{Code: InvalidParameterCombination, Status: 400, Fault: Client},
	{Code: InvalidParameterValue, Status: 400, Fault: Client},
	{Code: InvalidQueryParameter, Status: 400, Fault: Client},
	{Code: MalformedQueryString, Status: 404, Fault: Client},
	{Code: MissingAction, Status: 400, Fault: Client},
	{Code: MissingAuthenticationToken, Status: 403, Fault: Client},
	{Code: MissingParameter, Status: 400, Fault: Client},
	{Code: NotAuthorized, Status: 400, Fault: Client},
	{Code: OptInRequired, Status: 403, Fault: Client},
	{Code: RequestExpired, Status: 400, Fault: Client},
	{Code: ServiceUnavailable, Status: 503, Fault: Server, Retryable: true},
	{Code: SignatureDoesNotMatch, Status: 403, Fault: Client},
	{Code: Throttling, Status: 400, Fault: Client, Retryable: true},
	{Code: ValidationError, Status: 400, Fault: Client},
}

func init() { Register(sharedCodes...) }
