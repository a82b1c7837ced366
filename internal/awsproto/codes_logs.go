package awsproto

// CloudWatch Logs' exceptions: the botocore logs/2014-03-28 model, plus
// the two protocol errors its JSON 1.1 front sends. The model gives no
// statuses; JSON 1.1 services answer 400 for the caller's faults and 500
// for their own. Messages go in "message", as the model's few message
// members spell it.
const (
	LogsAccessDenied          Code = "logs#AccessDeniedException"
	LogsConflict              Code = "logs#ConflictException"
	LogsDataAlreadyAccepted   Code = "logs#DataAlreadyAcceptedException"
	LogsInternalServer        Code = "logs#InternalServerException"
	LogsInternalStreaming     Code = "logs#InternalStreamingException"
	LogsInvalidOperation      Code = "logs#InvalidOperationException"
	LogsInvalidParameter      Code = "logs#InvalidParameterException"
	LogsInvalidSequenceToken  Code = "logs#InvalidSequenceTokenException"
	LogsLimitExceeded         Code = "logs#LimitExceededException"
	LogsMalformedQuery        Code = "logs#MalformedQueryException"
	LogsOperationAborted      Code = "logs#OperationAbortedException"
	LogsResourceAlreadyExists Code = "logs#ResourceAlreadyExistsException"
	LogsResourceNotFound      Code = "logs#ResourceNotFoundException"
	LogsServiceQuotaExceeded  Code = "logs#ServiceQuotaExceededException"
	LogsServiceUnavailable    Code = "logs#ServiceUnavailableException"
	LogsSessionStreaming      Code = "logs#SessionStreamingException"
	LogsSessionTimeout        Code = "logs#SessionTimeoutException"
	LogsThrottling            Code = "logs#ThrottlingException"
	LogsTooManyTags           Code = "logs#TooManyTagsException"
	LogsUnrecognizedClient    Code = "logs#UnrecognizedClientException"
	LogsValidation            Code = "logs#ValidationException"
	LogsUnknownOperation      Code = "logs#UnknownOperationException"
	LogsSerialization         Code = "logs#SerializationException"
)

var logsCodes = []Spec{
	{Code: LogsAccessDenied, Status: 400, Fault: Client},
	{Code: LogsConflict, Status: 400, Fault: Client},
	{Code: LogsDataAlreadyAccepted, Status: 400, Fault: Client},
	{Code: LogsInternalServer, Status: 500, Fault: Server, Retryable: true},
	{Code: LogsInternalStreaming, Status: 400, Fault: Client},
	{Code: LogsInvalidOperation, Status: 400, Fault: Client},
	{Code: LogsInvalidParameter, Status: 400, Fault: Client},
	{Code: LogsInvalidSequenceToken, Status: 400, Fault: Client},
	{Code: LogsLimitExceeded, Status: 400, Fault: Client},
	{Code: LogsMalformedQuery, Status: 400, Fault: Client},
	// Concurrent updates of one resource conflicted; sent again, it passes.
	{Code: LogsOperationAborted, Status: 400, Fault: Client, Retryable: true},
	{Code: LogsResourceAlreadyExists, Status: 400, Fault: Client},
	{Code: LogsResourceNotFound, Status: 400, Fault: Client},
	{Code: LogsServiceQuotaExceeded, Status: 400, Fault: Client},
	{Code: LogsServiceUnavailable, Status: 500, Fault: Server, Retryable: true},
	{Code: LogsSessionStreaming, Status: 400, Fault: Client},
	{Code: LogsSessionTimeout, Status: 400, Fault: Client},
	{Code: LogsThrottling, Status: 400, Fault: Client, Retryable: true},
	{Code: LogsTooManyTags, Status: 400, Fault: Client},
	{Code: LogsUnrecognizedClient, Status: 400, Fault: Client},
	{Code: LogsValidation, Status: 400, Fault: Client},
	{Code: LogsUnknownOperation, Status: 400, Fault: Client},
	{Code: LogsSerialization, Status: 400, Fault: Client},
}

func init() { Register(logsCodes...) }
