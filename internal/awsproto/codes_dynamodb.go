package awsproto

// DynamoDB's exceptions (botocore's dynamodb/2012-08-10 model: every one
// is a 400 but InternalServerError; the JSON 1.0 body's __type is
// "com.amazonaws.dynamodb.v20120810#<code>" and the message member
// "message", but "Message" for TransactionCanceledException,
// TransactionInProgressException and IdempotentParameterMismatchException). The throttling codes are worth retrying, as the SDKs'
// retryers treat them.
const (
	DynamoDBResourceNotFound            Code = "dynamodb#ResourceNotFoundException"
	DynamoDBResourceInUse               Code = "dynamodb#ResourceInUseException"
	DynamoDBConditionalCheckFailed      Code = "dynamodb#ConditionalCheckFailedException"
	DynamoDBValidation                  Code = "dynamodb#ValidationException"
	DynamoDBTransactionCanceled         Code = "dynamodb#TransactionCanceledException"
	DynamoDBTransactionConflict         Code = "dynamodb#TransactionConflictException"
	DynamoDBTransactionInProgress       Code = "dynamodb#TransactionInProgressException"
	DynamoDBIdempotentParameterMismatch Code = "dynamodb#IdempotentParameterMismatchException"
	DynamoDBItemCollectionSizeLimit     Code = "dynamodb#ItemCollectionSizeLimitExceededException"
	DynamoDBProvisionedThroughput       Code = "dynamodb#ProvisionedThroughputExceededException"
	DynamoDBRequestLimitExceeded        Code = "dynamodb#RequestLimitExceeded"
	DynamoDBThrottling                  Code = "dynamodb#ThrottlingException"
	DynamoDBLimitExceeded               Code = "dynamodb#LimitExceededException"
	DynamoDBAccessDenied                Code = "dynamodb#AccessDeniedException"
	DynamoDBUnknownOperation            Code = "dynamodb#UnknownOperationException"
	DynamoDBSerialization               Code = "dynamodb#SerializationException"
	DynamoDBInternalServerError         Code = "dynamodb#InternalServerError"
)

var dynamodbCodes = []Spec{
	{Code: DynamoDBResourceNotFound, Status: 400, Fault: Client},
	{Code: DynamoDBResourceInUse, Status: 400, Fault: Client},
	{Code: DynamoDBConditionalCheckFailed, Status: 400, Fault: Client},
	{Code: DynamoDBValidation, Status: 400, Fault: Client},
	{Code: DynamoDBTransactionCanceled, Status: 400, Fault: Client, MessageKey: "Message"},
	{Code: DynamoDBTransactionConflict, Status: 400, Fault: Client},
	{Code: DynamoDBTransactionInProgress, Status: 400, Fault: Client, MessageKey: "Message"},
	{Code: DynamoDBIdempotentParameterMismatch, Status: 400, Fault: Client, MessageKey: "Message"},
	{Code: DynamoDBItemCollectionSizeLimit, Status: 400, Fault: Client},
	{Code: DynamoDBProvisionedThroughput, Status: 400, Fault: Client, Retryable: true},
	{Code: DynamoDBRequestLimitExceeded, Status: 400, Fault: Client, Retryable: true},
	{Code: DynamoDBThrottling, Status: 400, Fault: Client, Retryable: true},
	{Code: DynamoDBLimitExceeded, Status: 400, Fault: Client},
	{Code: DynamoDBAccessDenied, Status: 400, Fault: Client},
	{Code: DynamoDBUnknownOperation, Status: 400, Fault: Client},
	{Code: DynamoDBSerialization, Status: 400, Fault: Client},
	{Code: DynamoDBInternalServerError, Status: 500, Fault: Server, Retryable: true},
}

func init() { Register(dynamodbCodes...) }
