package awsproto

// SQS's exceptions beyond the first four in codes_next.go: the aws.protocols
// awsQueryError traits of SQS's Smithy model (aws-sdk-go-v2/service/sqs
// schemas) give the query code and status; the botocore model gives the
// names. The service also sends a few of the query protocol's common errors
// (MissingParameter, InvalidParameterValue, AccessDenied, InternalError)
// and Coral's framework errors for requests it cannot dispatch.
const (
	SQSBatchEntryIdsNotDistinct     Code = "sqs#BatchEntryIdsNotDistinct"
	SQSBatchRequestTooLong          Code = "sqs#BatchRequestTooLong"
	SQSEmptyBatchRequest            Code = "sqs#EmptyBatchRequest"
	SQSInvalidAddress               Code = "sqs#InvalidAddress"
	SQSInvalidAttributeName         Code = "sqs#InvalidAttributeName"
	SQSInvalidAttributeValue        Code = "sqs#InvalidAttributeValue"
	SQSInvalidBatchEntryId          Code = "sqs#InvalidBatchEntryId"
	SQSInvalidIdFormat              Code = "sqs#InvalidIdFormat"
	SQSInvalidMessageContents       Code = "sqs#InvalidMessageContents"
	SQSInvalidSecurity              Code = "sqs#InvalidSecurity"
	SQSMessageNotInflight           Code = "sqs#MessageNotInflight"
	SQSOverLimit                    Code = "sqs#OverLimit"
	SQSQueueDeletedRecently         Code = "sqs#QueueDeletedRecently"
	SQSReceiptHandleIsInvalid       Code = "sqs#ReceiptHandleIsInvalid"
	SQSResourceNotFound             Code = "sqs#ResourceNotFoundException"
	SQSTooManyEntriesInBatchRequest Code = "sqs#TooManyEntriesInBatchRequest"
	SQSUnsupportedOperation         Code = "sqs#UnsupportedOperation"
	SQSMissingParameter             Code = "sqs#MissingParameter"
	SQSInvalidParameterValue        Code = "sqs#InvalidParameterValue"
	SQSAccessDenied                 Code = "sqs#AccessDeniedException"
	SQSInternalError                Code = "sqs#InternalError"
	SQSUnknownOperation             Code = "sqs#UnknownOperationException"
	SQSSerialization                Code = "sqs#SerializationException"
	// SQSServiceUnavailable is the common error "The request has failed
	// due to a temporary failure of the server." (503).
	SQSServiceUnavailable Code = "sqs#ServiceUnavailable"
)

var sqsMoreCodes = []Spec{
	{Code: SQSBatchEntryIdsNotDistinct, Status: 400, Fault: Client, QueryCode: "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"},
	{Code: SQSBatchRequestTooLong, Status: 400, Fault: Client, QueryCode: "AWS.SimpleQueueService.BatchRequestTooLong"},
	{Code: SQSEmptyBatchRequest, Status: 400, Fault: Client, QueryCode: "AWS.SimpleQueueService.EmptyBatchRequest"},
	{Code: SQSInvalidAddress, Status: 404, Fault: Client, QueryCode: "InvalidAddress"},
	{Code: SQSInvalidAttributeName, Status: 400, Fault: Client},
	{Code: SQSInvalidAttributeValue, Status: 400, Fault: Client},
	{Code: SQSInvalidBatchEntryId, Status: 400, Fault: Client, QueryCode: "AWS.SimpleQueueService.InvalidBatchEntryId"},
	{Code: SQSInvalidIdFormat, Status: 400, Fault: Client},
	{Code: SQSInvalidMessageContents, Status: 400, Fault: Client},
	{Code: SQSInvalidSecurity, Status: 403, Fault: Client, QueryCode: "InvalidSecurity"},
	{Code: SQSMessageNotInflight, Status: 400, Fault: Client, QueryCode: "AWS.SimpleQueueService.MessageNotInflight"},
	{Code: SQSOverLimit, Status: 403, Fault: Client, QueryCode: "OverLimit"},
	{Code: SQSQueueDeletedRecently, Status: 400, Fault: Client, QueryCode: "AWS.SimpleQueueService.QueueDeletedRecently"},
	{Code: SQSReceiptHandleIsInvalid, Status: 404, Fault: Client, QueryCode: "ReceiptHandleIsInvalid"},
	{Code: SQSResourceNotFound, Status: 404, Fault: Client, QueryCode: "ResourceNotFoundException"},
	{Code: SQSTooManyEntriesInBatchRequest, Status: 400, Fault: Client, QueryCode: "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"},
	{Code: SQSUnsupportedOperation, Status: 403, Fault: Client, QueryCode: "AWS.SimpleQueueService.UnsupportedOperation"},
	{Code: SQSMissingParameter, Status: 400, Fault: Client},
	{Code: SQSInvalidParameterValue, Status: 400, Fault: Client},
	{Code: SQSAccessDenied, Status: 403, Fault: Client, QueryCode: "AccessDenied"},
	{Code: SQSInternalError, Status: 500, Fault: Server, Retryable: true},
	{Code: SQSUnknownOperation, Status: 400, Fault: Client, QueryCode: "InvalidAction"},
	{Code: SQSSerialization, Status: 400, Fault: Client},
	{Code: SQSServiceUnavailable, Status: 503, Fault: Server, Retryable: true},
}

func init() { Register(sqsMoreCodes...) }
