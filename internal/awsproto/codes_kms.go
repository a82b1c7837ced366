package awsproto

// KMS's codes (TrentService, AWS JSON 1.1). The botocore model
// (kms/2014-11-01/service-2.json) gives the exceptions no "error" trait:
// KMS answers every client error with status 400 (AccessDeniedException
// included, which the model does not list) and its own failures with 500
// (KMSInternalException, KeyUnavailableException) or 503
// (DependencyTimeoutException). Every exception has a lower-case
// "message" member.
const (
	KMSAccessDenied            Code = "kms#AccessDeniedException"
	KMSAlreadyExists           Code = "kms#AlreadyExistsException"
	KMSDependencyTimeout       Code = "kms#DependencyTimeoutException"
	KMSDisabled                Code = "kms#DisabledException"
	KMSIncorrectKey            Code = "kms#IncorrectKeyException"
	KMSInvalidAliasName        Code = "kms#InvalidAliasNameException"
	KMSInvalidArn              Code = "kms#InvalidArnException"
	KMSInvalidCiphertext       Code = "kms#InvalidCiphertextException"
	KMSInvalidGrantID          Code = "kms#InvalidGrantIdException"
	KMSInvalidGrantToken       Code = "kms#InvalidGrantTokenException"
	KMSInvalidKeyUsage         Code = "kms#InvalidKeyUsageException"
	KMSInvalidMarker           Code = "kms#InvalidMarkerException"
	KMSInternal                Code = "kms#KMSInternalException"
	KMSInvalidMac              Code = "kms#KMSInvalidMacException"
	KMSInvalidSignature        Code = "kms#KMSInvalidSignatureException"
	KMSInvalidState            Code = "kms#KMSInvalidStateException"
	KMSKeyUnavailable          Code = "kms#KeyUnavailableException"
	KMSLimitExceeded           Code = "kms#LimitExceededException"
	KMSMalformedPolicyDocument Code = "kms#MalformedPolicyDocumentException"
	KMSNotAuthorized           Code = "kms#NotAuthorizedException"
	KMSNotFound                Code = "kms#NotFoundException"
	KMSTag                     Code = "kms#TagException"
	KMSUnsupportedOperation    Code = "kms#UnsupportedOperationException"
	KMSValidation              Code = "kms#ValidationException"
	KMSUnknownOperation        Code = "kms#UnknownOperationException"
	KMSSerialization           Code = "kms#SerializationException"
)

var kmsCodes = []Spec{
	{Code: KMSAccessDenied, Status: 400, Fault: Client},
	{Code: KMSAlreadyExists, Status: 400, Fault: Client},
	{Code: KMSDependencyTimeout, Status: 503, Fault: Server, Retryable: true},
	{Code: KMSDisabled, Status: 400, Fault: Client},
	{Code: KMSIncorrectKey, Status: 400, Fault: Client},
	{Code: KMSInvalidAliasName, Status: 400, Fault: Client},
	{Code: KMSInvalidArn, Status: 400, Fault: Client},
	{Code: KMSInvalidCiphertext, Status: 400, Fault: Client},
	{Code: KMSInvalidGrantID, Status: 400, Fault: Client},
	{Code: KMSInvalidGrantToken, Status: 400, Fault: Client},
	{Code: KMSInvalidKeyUsage, Status: 400, Fault: Client},
	{Code: KMSInvalidMarker, Status: 400, Fault: Client},
	{Code: KMSInternal, Status: 500, Fault: Server, Retryable: true},
	{Code: KMSInvalidMac, Status: 400, Fault: Client},
	{Code: KMSInvalidSignature, Status: 400, Fault: Client},
	{Code: KMSInvalidState, Status: 400, Fault: Client},
	{Code: KMSKeyUnavailable, Status: 500, Fault: Server},
	{Code: KMSLimitExceeded, Status: 400, Fault: Client},
	{Code: KMSMalformedPolicyDocument, Status: 400, Fault: Client},
	{Code: KMSNotAuthorized, Status: 400, Fault: Client},
	{Code: KMSNotFound, Status: 400, Fault: Client},
	{Code: KMSTag, Status: 400, Fault: Client},
	{Code: KMSUnsupportedOperation, Status: 400, Fault: Client},
	{Code: KMSValidation, Status: 400, Fault: Client},
	{Code: KMSUnknownOperation, Status: 400, Fault: Client},
	{Code: KMSSerialization, Status: 400, Fault: Client},
}

func init() { Register(kmsCodes...) }
