package awsproto

// S3's error codes beyond the first few in codes_next.go, with the status
// S3 sends each with (the "List of error codes" of the Amazon S3 API
// Reference; botocore's model names only a handful of them). S3's errors
// are REST-XML (RESTXML with Wrapped false).
const (
	S3AccessDenied                 Code = "s3#AccessDenied"
	S3AuthorizationHeaderMalformed Code = "s3#AuthorizationHeaderMalformed"
	S3BadDigest                    Code = "s3#BadDigest"
	S3BucketAlreadyExists          Code = "s3#BucketAlreadyExists"
	S3BucketNotEmpty               Code = "s3#BucketNotEmpty"
	S3EntityTooLarge               Code = "s3#EntityTooLarge"
	S3EntityTooSmall               Code = "s3#EntityTooSmall"
	S3ExpiredToken                 Code = "s3#ExpiredToken"
	S3IncompleteBody               Code = "s3#IncompleteBody"
	S3InternalError                Code = "s3#InternalError"
	S3InvalidAccessKeyID           Code = "s3#InvalidAccessKeyId"
	S3InvalidArgument              Code = "s3#InvalidArgument"
	S3InvalidBucketName            Code = "s3#InvalidBucketName"
	S3InvalidDigest                Code = "s3#InvalidDigest"
	S3InvalidPart                  Code = "s3#InvalidPart"
	S3InvalidPartOrder             Code = "s3#InvalidPartOrder"
	S3InvalidRange                 Code = "s3#InvalidRange"
	S3InvalidRequest               Code = "s3#InvalidRequest"
	S3MalformedXML                 Code = "s3#MalformedXML"
	S3MethodNotAllowed             Code = "s3#MethodNotAllowed"
	S3MissingContentLength         Code = "s3#MissingContentLength"
	S3NoSuchUpload                 Code = "s3#NoSuchUpload"
	S3NotImplemented               Code = "s3#NotImplemented"
	S3PreconditionFailed           Code = "s3#PreconditionFailed"
	S3RequestTimeTooSkewed         Code = "s3#RequestTimeTooSkewed"
	S3RequestTimeout               Code = "s3#RequestTimeout"
	S3SignatureDoesNotMatch        Code = "s3#SignatureDoesNotMatch"
	S3ContentSHA256Mismatch        Code = "s3#XAmzContentSHA256Mismatch"
	S3InvalidLocationConstraint    Code = "s3#InvalidLocationConstraint"
	S3MalformedPolicy              Code = "s3#MalformedPolicy"
	S3NoSuchBucketPolicy           Code = "s3#NoSuchBucketPolicy"
	S3InvalidTag                   Code = "s3#InvalidTag"
	S3NoSuchTagSet                 Code = "s3#NoSuchTagSet"
	S3NoSuchCORSConfiguration      Code = "s3#NoSuchCORSConfiguration"
	S3AccessForbidden              Code = "s3#AccessForbidden"
	S3BadRequest                   Code = "s3#BadRequest"
	S3NoSuchVersion                Code = "s3#NoSuchVersion"
	S3NoSuchLifecycleConfiguration Code = "s3#NoSuchLifecycleConfiguration"
	S3InvalidPolicyDocument        Code = "s3#InvalidPolicyDocument"
	S3MalformedPOSTRequest         Code = "s3#MalformedPOSTRequest"
	S3MaxPostPreDataLengthExceeded Code = "s3#MaxPostPreDataLengthExceededError"
)

var s3MoreCodes = []Spec{
	{Code: S3AccessDenied, Status: 403, Fault: Client},
	{Code: S3AuthorizationHeaderMalformed, Status: 400, Fault: Client},
	{Code: S3BadDigest, Status: 400, Fault: Client},
	{Code: S3BucketAlreadyExists, Status: 409, Fault: Client},
	{Code: S3BucketNotEmpty, Status: 409, Fault: Client},
	{Code: S3EntityTooLarge, Status: 400, Fault: Client},
	{Code: S3EntityTooSmall, Status: 400, Fault: Client},
	{Code: S3ExpiredToken, Status: 400, Fault: Client},
	{Code: S3IncompleteBody, Status: 400, Fault: Client},
	{Code: S3InternalError, Status: 500, Fault: Server, Retryable: true},
	{Code: S3InvalidAccessKeyID, Status: 403, Fault: Client},
	{Code: S3InvalidArgument, Status: 400, Fault: Client},
	{Code: S3InvalidBucketName, Status: 400, Fault: Client},
	{Code: S3InvalidDigest, Status: 400, Fault: Client},
	{Code: S3InvalidPart, Status: 400, Fault: Client},
	{Code: S3InvalidPartOrder, Status: 400, Fault: Client},
	{Code: S3InvalidRange, Status: 416, Fault: Client},
	{Code: S3InvalidRequest, Status: 400, Fault: Client},
	{Code: S3MalformedXML, Status: 400, Fault: Client},
	{Code: S3MethodNotAllowed, Status: 405, Fault: Client},
	{Code: S3MissingContentLength, Status: 411, Fault: Client},
	{Code: S3NoSuchUpload, Status: 404, Fault: Client},
	{Code: S3NotImplemented, Status: 501, Fault: Server},
	{Code: S3PreconditionFailed, Status: 412, Fault: Client},
	{Code: S3RequestTimeTooSkewed, Status: 403, Fault: Client},
	{Code: S3RequestTimeout, Status: 400, Fault: Client},
	{Code: S3SignatureDoesNotMatch, Status: 403, Fault: Client},
	{Code: S3ContentSHA256Mismatch, Status: 400, Fault: Client},
	{Code: S3InvalidLocationConstraint, Status: 400, Fault: Client},
	{Code: S3MalformedPolicy, Status: 400, Fault: Client},
	{Code: S3NoSuchBucketPolicy, Status: 404, Fault: Client},
	{Code: S3InvalidTag, Status: 400, Fault: Client},
	{Code: S3NoSuchTagSet, Status: 404, Fault: Client},
	{Code: S3NoSuchCORSConfiguration, Status: 404, Fault: Client},
	{Code: S3AccessForbidden, Status: 403, Fault: Client},
	{Code: S3BadRequest, Status: 400, Fault: Client},
	{Code: S3NoSuchVersion, Status: 404, Fault: Client},
	{Code: S3NoSuchLifecycleConfiguration, Status: 404, Fault: Client},
	{Code: S3InvalidPolicyDocument, Status: 400, Fault: Client},
	{Code: S3MalformedPOSTRequest, Status: 400, Fault: Client},
	{Code: S3MaxPostPreDataLengthExceeded, Status: 400, Fault: Client},
}

func init() { Register(s3MoreCodes...) }
