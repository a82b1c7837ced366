package awsproto

// EC2's codes (the VPC subset Kumo serves). EC2 sends client errors with
// status 400 (UnauthorizedOperation with 403) and the code in
// Errors>Error>Code; the codes and messages are those of the EC2 API
// reference's "Error codes" page.
const (
	EC2InvalidVpcIDNotFound         Code = "ec2#InvalidVpcID.NotFound"
	EC2InvalidVpcIDMalformed        Code = "ec2#InvalidVpcID.Malformed"
	EC2InvalidVpcRange              Code = "ec2#InvalidVpc.Range"
	EC2InvalidSubnetIDNotFound      Code = "ec2#InvalidSubnetID.NotFound"
	EC2InvalidSubnetIDMalformed     Code = "ec2#InvalidSubnetID.Malformed"
	EC2InvalidSubnetRange           Code = "ec2#InvalidSubnet.Range"
	EC2InvalidSubnetConflict        Code = "ec2#InvalidSubnet.Conflict"
	EC2InvalidGroupNotFound         Code = "ec2#InvalidGroup.NotFound"
	EC2InvalidGroupIDMalformed      Code = "ec2#InvalidGroupId.Malformed"
	EC2InvalidGroupDuplicate        Code = "ec2#InvalidGroup.Duplicate"
	EC2InvalidPermissionDuplicate   Code = "ec2#InvalidPermission.Duplicate"
	EC2InvalidPermissionNotFound    Code = "ec2#InvalidPermission.NotFound"
	EC2InvalidPermissionMalformed   Code = "ec2#InvalidPermission.Malformed"
	EC2NatGatewayNotFound           Code = "ec2#NatGatewayNotFound"
	EC2InvalidNatGatewayIDMalformed Code = "ec2#InvalidNatGatewayID.Malformed"
	EC2DependencyViolation          Code = "ec2#DependencyViolation"
	EC2CannotDelete                 Code = "ec2#CannotDelete"
	EC2InvalidFilter                Code = "ec2#InvalidFilter"
	EC2InvalidParameterValue        Code = "ec2#InvalidParameterValue"
	EC2MissingParameter             Code = "ec2#MissingParameter"
	EC2InvalidAction                Code = "ec2#InvalidAction"
	EC2InternalError                Code = "ec2#InternalError"
	// EC2UnauthorizedOperation is EC2's authorization failure; unlike its
	// other client errors it is sent with status 403.
	EC2UnauthorizedOperation Code = "ec2#UnauthorizedOperation"
)

var ec2Codes = []Spec{
	{Code: EC2InvalidVpcIDNotFound, Status: 400, Fault: Client},
	{Code: EC2InvalidVpcIDMalformed, Status: 400, Fault: Client},
	{Code: EC2InvalidVpcRange, Status: 400, Fault: Client},
	{Code: EC2InvalidSubnetIDNotFound, Status: 400, Fault: Client},
	{Code: EC2InvalidSubnetIDMalformed, Status: 400, Fault: Client},
	{Code: EC2InvalidSubnetRange, Status: 400, Fault: Client},
	{Code: EC2InvalidSubnetConflict, Status: 400, Fault: Client},
	{Code: EC2InvalidGroupNotFound, Status: 400, Fault: Client},
	{Code: EC2InvalidGroupIDMalformed, Status: 400, Fault: Client},
	{Code: EC2InvalidGroupDuplicate, Status: 400, Fault: Client},
	{Code: EC2InvalidPermissionDuplicate, Status: 400, Fault: Client},
	{Code: EC2InvalidPermissionNotFound, Status: 400, Fault: Client},
	{Code: EC2InvalidPermissionMalformed, Status: 400, Fault: Client},
	{Code: EC2NatGatewayNotFound, Status: 400, Fault: Client},
	{Code: EC2InvalidNatGatewayIDMalformed, Status: 400, Fault: Client},
	{Code: EC2DependencyViolation, Status: 400, Fault: Client},
	{Code: EC2CannotDelete, Status: 400, Fault: Client},
	{Code: EC2InvalidFilter, Status: 400, Fault: Client},
	{Code: EC2InvalidParameterValue, Status: 400, Fault: Client},
	{Code: EC2MissingParameter, Status: 400, Fault: Client},
	{Code: EC2InvalidAction, Status: 400, Fault: Client},
	{Code: EC2InternalError, Status: 500, Fault: Server, Retryable: true},
	{Code: EC2UnauthorizedOperation, Status: 403, Fault: Client},
}

func init() { Register(ec2Codes...) }
