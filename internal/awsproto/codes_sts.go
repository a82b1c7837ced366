package awsproto

// STS's own codes (the query protocol; the botocore sts model's "error"
// trait gives code and status). Its other errors are the shared ones
// (AccessDenied, ValidationError, ExpiredToken).
const (
	// STSMalformedPolicyDocument: a session policy (AssumeRole's Policy)
	// that IAM's grammar refuses.
	STSMalformedPolicyDocument Code = "sts#MalformedPolicyDocument"
)

var stsCodes = []Spec{
	{Code: STSMalformedPolicyDocument, Status: 400, Fault: Client},
}

func init() { Register(stsCodes...) }
