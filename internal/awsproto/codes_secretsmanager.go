package awsproto

// Secrets Manager's codes (AWS JSON 1.1). The botocore model
// (secretsmanager/2017-10-17/service-2.json) gives the exceptions no
// "error" trait: client errors are status 400, InternalServiceError 500;
// every exception has an upper-case "Message" member.
const (
	SMDecryptionFailure       Code = "secretsmanager#DecryptionFailure"
	SMEncryptionFailure       Code = "secretsmanager#EncryptionFailure"
	SMInternalServiceError    Code = "secretsmanager#InternalServiceError"
	SMInvalidNextToken        Code = "secretsmanager#InvalidNextTokenException"
	SMInvalidParameter        Code = "secretsmanager#InvalidParameterException"
	SMInvalidRequest          Code = "secretsmanager#InvalidRequestException"
	SMLimitExceeded           Code = "secretsmanager#LimitExceededException"
	SMPreconditionNotMet      Code = "secretsmanager#PreconditionNotMetException"
	SMResourceExists          Code = "secretsmanager#ResourceExistsException"
	SMResourceNotFound        Code = "secretsmanager#ResourceNotFoundException"
	SMAccessDenied            Code = "secretsmanager#AccessDeniedException"
	SMValidation              Code = "secretsmanager#ValidationException"
	SMUnknownOperation        Code = "secretsmanager#UnknownOperationException"
	SMSerialization           Code = "secretsmanager#SerializationException"
	SMMalformedPolicyDocument Code = "secretsmanager#MalformedPolicyDocumentException"
)

var secretsManagerCodes = []Spec{
	{Code: SMDecryptionFailure, Status: 400, MessageKey: "Message", Fault: Client},
	{Code: SMEncryptionFailure, Status: 400, MessageKey: "Message", Fault: Client},
	{Code: SMInternalServiceError, Status: 500, MessageKey: "Message", Fault: Server, Retryable: true},
	{Code: SMInvalidNextToken, Status: 400, MessageKey: "Message", Fault: Client},
	{Code: SMInvalidParameter, Status: 400, MessageKey: "Message", Fault: Client},
	{Code: SMInvalidRequest, Status: 400, MessageKey: "Message", Fault: Client},
	{Code: SMLimitExceeded, Status: 400, MessageKey: "Message", Fault: Client},
	{Code: SMPreconditionNotMet, Status: 400, MessageKey: "Message", Fault: Client},
	{Code: SMResourceExists, Status: 400, MessageKey: "Message", Fault: Client},
	{Code: SMResourceNotFound, Status: 400, MessageKey: "Message", Fault: Client},
	{Code: SMAccessDenied, Status: 400, Fault: Client},
	{Code: SMValidation, Status: 400, Fault: Client},
	{Code: SMUnknownOperation, Status: 400, Fault: Client},
	{Code: SMSerialization, Status: 400, Fault: Client},
	{Code: SMMalformedPolicyDocument, Status: 400, MessageKey: "Message", Fault: Client},
}

func init() { Register(secretsManagerCodes...) }
