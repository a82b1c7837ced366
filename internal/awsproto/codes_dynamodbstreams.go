package awsproto

// DynamoDB Streams' own exceptions (botocore's dynamodbstreams/2012-08-10
// model); the rest are DynamoDB's codes. Both are 400s in the same JSON
// 1.0 shape as DynamoDB's.
const (
	DynamoDBExpiredIterator   Code = "dynamodb#ExpiredIteratorException"
	DynamoDBTrimmedDataAccess Code = "dynamodb#TrimmedDataAccessException"
)

func init() {
	Register(Spec{Code: DynamoDBExpiredIterator, Status: 400, Fault: Client},
		Spec{Code: DynamoDBTrimmedDataAccess, Status: 400, Fault: Client})
}
