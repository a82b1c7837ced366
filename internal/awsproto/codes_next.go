package awsproto

// A first few codes of the services that come next, each table in the
// shape its service package will register on its own: SQS (a JSON 1.0
// service that kept its query codes: the awsQueryError trait of its
// Smithy model) and S3 (REST-XML). IAM's are in codes_iam.go.
const (
	SQSQueueDoesNotExist      Code = "sqs#QueueDoesNotExist"
	SQSQueueNameExists        Code = "sqs#QueueNameExists"
	SQSPurgeQueueInProgress   Code = "sqs#PurgeQueueInProgress"
	SQSRequestThrottled       Code = "sqs#RequestThrottled"
	S3NoSuchBucket            Code = "s3#NoSuchBucket"
	S3NoSuchKey               Code = "s3#NoSuchKey"
	S3BucketAlreadyOwnedByYou Code = "s3#BucketAlreadyOwnedByYou"
	S3SlowDown                Code = "s3#SlowDown"
)

var sqsCodes = []Spec{
	{Code: SQSQueueDoesNotExist, Status: 400, Fault: Client, QueryCode: "AWS.SimpleQueueService.NonExistentQueue"},
	{Code: SQSQueueNameExists, Status: 400, Fault: Client, QueryCode: "QueueAlreadyExists"},
	{Code: SQSPurgeQueueInProgress, Status: 403, Fault: Client, QueryCode: "AWS.SimpleQueueService.PurgeQueueInProgress"},
	{Code: SQSRequestThrottled, Status: 403, Fault: Client, Retryable: true, QueryCode: "RequestThrottled"},
}

var s3Codes = []Spec{
	{Code: S3NoSuchBucket, Status: 404, Fault: Client},
	{Code: S3NoSuchKey, Status: 404, Fault: Client},
	{Code: S3BucketAlreadyOwnedByYou, Status: 409, Fault: Client},
	{Code: S3SlowDown, Status: 503, Fault: Server, Retryable: true},
}

func init() {
	Register(sqsCodes...)
	Register(s3Codes...)
}
