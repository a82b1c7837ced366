package awsproto

// Lambda's exceptions: every exception shape of the botocore
// lambda/2015-03-31 model, with its status, fault and message casing.
const (
	CallbackTimeoutException                                  Code = "CallbackTimeoutException"
	CapacityProviderLimitExceededException                    Code = "CapacityProviderLimitExceededException"
	CodeSigningConfigNotFoundException                        Code = "CodeSigningConfigNotFoundException"
	CodeStorageExceededException                              Code = "CodeStorageExceededException"
	CodeVerificationFailedException                           Code = "CodeVerificationFailedException"
	DurableExecutionAlreadyStartedException                   Code = "DurableExecutionAlreadyStartedException"
	EC2AccessDeniedException                                  Code = "EC2AccessDeniedException"
	EC2ThrottledException                                     Code = "EC2ThrottledException"
	EC2UnexpectedException                                    Code = "EC2UnexpectedException"
	EFSIOException                                            Code = "EFSIOException"
	EFSMountConnectivityException                             Code = "EFSMountConnectivityException"
	EFSMountFailureException                                  Code = "EFSMountFailureException"
	EFSMountTimeoutException                                  Code = "EFSMountTimeoutException"
	ENILimitReachedException                                  Code = "ENILimitReachedException"
	FunctionVersionsPerCapacityProviderLimitExceededException Code = "FunctionVersionsPerCapacityProviderLimitExceededException"
	InvalidCodeSignatureException                             Code = "InvalidCodeSignatureException"
	InvalidParameterValueException                            Code = "InvalidParameterValueException"
	InvalidRequestContentException                            Code = "InvalidRequestContentException"
	InvalidRuntimeException                                   Code = "InvalidRuntimeException"
	InvalidSecurityGroupIDException                           Code = "InvalidSecurityGroupIDException"
	InvalidSubnetIDException                                  Code = "InvalidSubnetIDException"
	InvalidZipFileException                                   Code = "InvalidZipFileException"
	KMSAccessDeniedException                                  Code = "KMSAccessDeniedException"
	KMSDisabledException                                      Code = "KMSDisabledException"
	KMSInvalidStateException                                  Code = "KMSInvalidStateException"
	KMSNotFoundException                                      Code = "KMSNotFoundException"
	NoPublishedVersionException                               Code = "NoPublishedVersionException"
	PolicyLengthExceededException                             Code = "PolicyLengthExceededException"
	PreconditionFailedException                               Code = "PreconditionFailedException"
	ProvisionedConcurrencyConfigNotFound                      Code = "ProvisionedConcurrencyConfigNotFoundException"
	RecursiveInvocationException                              Code = "RecursiveInvocationException"
	RequestTooLargeException                                  Code = "RequestTooLargeException"
	ResourceConflictException                                 Code = "ResourceConflictException"
	ResourceInUseException                                    Code = "ResourceInUseException"
	ResourceNotFoundException                                 Code = "ResourceNotFoundException"
	ResourceNotReadyException                                 Code = "ResourceNotReadyException"
	S3FilesMountConnectivityException                         Code = "S3FilesMountConnectivityException"
	S3FilesMountFailureException                              Code = "S3FilesMountFailureException"
	S3FilesMountTimeoutException                              Code = "S3FilesMountTimeoutException"
	SerializedRequestEntityTooLarge                           Code = "SerializedRequestEntityTooLargeException"
	ServiceException                                          Code = "ServiceException"
	SnapStartException                                        Code = "SnapStartException"
	SnapStartNotReadyException                                Code = "SnapStartNotReadyException"
	SnapStartTimeoutException                                 Code = "SnapStartTimeoutException"
	SubnetIPAddressLimitReachedException                      Code = "SubnetIPAddressLimitReachedException"
	TooManyRequestsException                                  Code = "TooManyRequestsException"
	UnsupportedMediaTypeException                             Code = "UnsupportedMediaTypeException"
)

// lambdaCodes is Lambda's table. Retryable follows the SDKs' retry
// classifiers (throttling, 5xx) with two differences that matter to a
// caller retrying on its own: the 502s that name a broken function
// (InvalidRuntimeException, InvalidZipFileException, the KMS*, subnet and
// security group ones) fail the same way every time, and the 408/409s that
// wait for a mount or a snapshot (EFSMount*Timeout, SnapStartNotReady, …)
// pass once it is ready.
var lambdaCodes = []Spec{
	{Code: CallbackTimeoutException, Status: 400, MessageKey: "Message", Fault: Client},
	{Code: CapacityProviderLimitExceededException, Status: 400, MessageKey: "message", Fault: Client},
	{Code: CodeSigningConfigNotFoundException, Status: 404, MessageKey: "Message", Fault: Client},
	{Code: CodeStorageExceededException, Status: 400, MessageKey: "message", Fault: Client},
	{Code: CodeVerificationFailedException, Status: 400, MessageKey: "Message", Fault: Client},
	{Code: DurableExecutionAlreadyStartedException, Status: 409, MessageKey: "Message", Fault: Client},
	{Code: EC2AccessDeniedException, Status: 502, MessageKey: "Message", Fault: Server},
	{Code: EC2ThrottledException, Status: 502, MessageKey: "Message", Fault: Server, Retryable: true},
	{Code: EC2UnexpectedException, Status: 502, MessageKey: "Message", Fault: Server, Retryable: true},
	{Code: EFSIOException, Status: 410, MessageKey: "Message", Fault: Client},
	{Code: EFSMountConnectivityException, Status: 408, MessageKey: "Message", Fault: Client, Retryable: true},
	{Code: EFSMountFailureException, Status: 403, MessageKey: "Message", Fault: Client},
	{Code: EFSMountTimeoutException, Status: 408, MessageKey: "Message", Fault: Client, Retryable: true},
	{Code: ENILimitReachedException, Status: 502, MessageKey: "Message", Fault: Server, Retryable: true},
	{Code: FunctionVersionsPerCapacityProviderLimitExceededException, Status: 400, MessageKey: "message", Fault: Client},
	{Code: InvalidCodeSignatureException, Status: 400, MessageKey: "Message", Fault: Client},
	{Code: InvalidParameterValueException, Status: 400, MessageKey: "message", Fault: Client},
	{Code: InvalidRequestContentException, Status: 400, MessageKey: "message", Fault: Client},
	{Code: InvalidRuntimeException, Status: 502, MessageKey: "Message", Fault: Server},
	{Code: InvalidSecurityGroupIDException, Status: 502, MessageKey: "Message", Fault: Server},
	{Code: InvalidSubnetIDException, Status: 502, MessageKey: "Message", Fault: Server},
	{Code: InvalidZipFileException, Status: 502, MessageKey: "Message", Fault: Server},
	{Code: KMSAccessDeniedException, Status: 502, MessageKey: "Message", Fault: Server},
	{Code: KMSDisabledException, Status: 502, MessageKey: "Message", Fault: Server},
	{Code: KMSInvalidStateException, Status: 502, MessageKey: "Message", Fault: Server},
	{Code: KMSNotFoundException, Status: 502, MessageKey: "Message", Fault: Server},
	{Code: NoPublishedVersionException, Status: 400, MessageKey: "Message", Fault: Client},
	{Code: PolicyLengthExceededException, Status: 400, MessageKey: "message", Fault: Client},
	{Code: PreconditionFailedException, Status: 412, MessageKey: "message", Fault: Client},
	{Code: ProvisionedConcurrencyConfigNotFound, Status: 404, MessageKey: "message", Fault: Client},
	{Code: RecursiveInvocationException, Status: 400, MessageKey: "Message", Fault: Client},
	{Code: RequestTooLargeException, Status: 413, MessageKey: "message", Fault: Client},
	{Code: ResourceConflictException, Status: 409, MessageKey: "message", Fault: Client},
	{Code: ResourceInUseException, Status: 400, MessageKey: "Message", Fault: Client},
	{Code: ResourceNotFoundException, Status: 404, MessageKey: "Message", Fault: Client},
	{Code: ResourceNotReadyException, Status: 502, MessageKey: "message", Fault: Server, Retryable: true},
	{Code: S3FilesMountConnectivityException, Status: 408, MessageKey: "Message", Fault: Client, Retryable: true},
	{Code: S3FilesMountFailureException, Status: 403, MessageKey: "Message", Fault: Client},
	{Code: S3FilesMountTimeoutException, Status: 408, MessageKey: "Message", Fault: Client, Retryable: true},
	{Code: SerializedRequestEntityTooLarge, Status: 413, MessageKey: "message", Fault: Client},
	{Code: ServiceException, Status: 500, MessageKey: "Message", Fault: Server, Retryable: true},
	{Code: SnapStartException, Status: 400, MessageKey: "Message", Fault: Client},
	{Code: SnapStartNotReadyException, Status: 409, MessageKey: "Message", Fault: Client, Retryable: true},
	{Code: SnapStartTimeoutException, Status: 408, MessageKey: "Message", Fault: Client, Retryable: true},
	{Code: SubnetIPAddressLimitReachedException, Status: 502, MessageKey: "Message", Fault: Server, Retryable: true},
	{Code: TooManyRequestsException, Status: 429, MessageKey: "message", Fault: Client, Retryable: true},
	{Code: UnsupportedMediaTypeException, Status: 415, MessageKey: "message", Fault: Client},
}

func init() { Register(lambdaCodes...) }
