package awsproto

// SNS's codes. SNS is a query service: every error is an ErrorResponse
// with Type, Code and Message; code and status are the "error" trait of
// each exception in the botocore model (sns/2010-03-31/service-2.json).
const (
	SNSNotFound                     Code = "sns#NotFound"
	SNSResourceNotFound             Code = "sns#ResourceNotFound"
	SNSInvalidParameter             Code = "sns#InvalidParameter"
	SNSParameterValueInvalid        Code = "sns#ParameterValueInvalid"
	SNSAuthorizationError           Code = "sns#AuthorizationError"
	SNSInternalError                Code = "sns#InternalError"
	SNSTagLimitExceeded             Code = "sns#TagLimitExceeded"
	SNSTopicLimitExceeded           Code = "sns#TopicLimitExceeded"
	SNSSubscriptionLimitExceeded    Code = "sns#SubscriptionLimitExceeded"
	SNSTooManyEntriesInBatchRequest Code = "sns#TooManyEntriesInBatchRequest"
	SNSBatchEntryIdsNotDistinct     Code = "sns#BatchEntryIdsNotDistinct"
	SNSEmptyBatchRequest            Code = "sns#EmptyBatchRequest"
	SNSInvalidBatchEntryID          Code = "sns#InvalidBatchEntryId"
	SNSBatchRequestTooLong          Code = "sns#BatchRequestTooLong"
	SNSThrottled                    Code = "sns#Throttled"
	// SNSServiceUnavailable is the common error of AWS query services for
	// a temporary failure of the server (503).
	SNSServiceUnavailable Code = "sns#ServiceUnavailable"
)

var snsCodes = []Spec{
	{Code: SNSNotFound, Status: 404, Fault: Client},
	{Code: SNSResourceNotFound, Status: 404, Fault: Client},
	{Code: SNSInvalidParameter, Status: 400, Fault: Client},
	{Code: SNSParameterValueInvalid, Status: 400, Fault: Client},
	{Code: SNSAuthorizationError, Status: 403, Fault: Client},
	{Code: SNSInternalError, Status: 500, Fault: Server, Retryable: true},
	{Code: SNSTagLimitExceeded, Status: 400, Fault: Client},
	{Code: SNSTopicLimitExceeded, Status: 403, Fault: Client},
	{Code: SNSSubscriptionLimitExceeded, Status: 403, Fault: Client},
	{Code: SNSTooManyEntriesInBatchRequest, Status: 400, Fault: Client},
	{Code: SNSBatchEntryIdsNotDistinct, Status: 400, Fault: Client},
	{Code: SNSEmptyBatchRequest, Status: 400, Fault: Client},
	{Code: SNSInvalidBatchEntryID, Status: 400, Fault: Client},
	{Code: SNSBatchRequestTooLong, Status: 400, Fault: Client},
	{Code: SNSThrottled, Status: 429, Fault: Client, Retryable: true},
	{Code: SNSServiceUnavailable, Status: 503, Fault: Server, Retryable: true},
}

func init() { Register(snsCodes...) }
