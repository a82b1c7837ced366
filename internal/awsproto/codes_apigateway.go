package awsproto

// API Gateway's codes (apigatewayv2, and apigateway's REST API management
// when it comes: both models define the same four exceptions). Both are
// rest-json services whose exceptions carry a lower-case "message"
// member; status codes are each exception's "error" trait in the botocore
// model (apigatewayv2/2018-11-29/service-2.json).
const (
	APIGatewayNotFound        Code = "apigateway#NotFoundException"
	APIGatewayBadRequest      Code = "apigateway#BadRequestException"
	APIGatewayConflict        Code = "apigateway#ConflictException"
	APIGatewayTooManyRequests Code = "apigateway#TooManyRequestsException"
	APIGatewayAccessDenied    Code = "apigateway#AccessDeniedException"
)

var apigatewayCodes = []Spec{
	{Code: APIGatewayNotFound, Status: 404, Fault: Client},
	{Code: APIGatewayBadRequest, Status: 400, Fault: Client},
	{Code: APIGatewayConflict, Status: 409, Fault: Client},
	{Code: APIGatewayTooManyRequests, Status: 429, Fault: Client, Retryable: true},
	{Code: APIGatewayAccessDenied, Status: 403, Fault: Client},
}

func init() { Register(apigatewayCodes...) }

// apigateway's (REST API management) codes beyond the shared ones, with
// the status codes of botocore's apigateway/2015-07-09 model.
const (
	APIGatewayUnauthorized  Code = "apigateway#UnauthorizedException"
	APIGatewayLimitExceeded Code = "apigateway#LimitExceededException"
)

func init() {
	Register(Spec{Code: APIGatewayUnauthorized, Status: 401, Fault: Client},
		Spec{Code: APIGatewayLimitExceeded, Status: 429, Fault: Client, Retryable: true})
}
