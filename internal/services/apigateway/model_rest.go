package apigateway

// REST APIs (apigateway) keep, beside the shared API document, their
// resource tree and its methods. A deployment compiles every method to a
// Route (key "METHOD /resource/path", id RestRouteID) with an
// Integration of the same id, so the one Router serves both kinds of API;
// what REST methods have beyond that is frozen in RestSnapshot.

// CanarySettings is a REST stage's canary, as the wire spells it.
type CanarySettings struct {
	PercentTraffic         float64           `json:"percentTraffic"`
	DeploymentID           string            `json:"deploymentId,omitempty"`
	StageVariableOverrides map[string]string `json:"stageVariableOverrides,omitempty"`
	UseStageCache          bool              `json:"useStageCache"`
}

// EndpointConfiguration is a REST API's endpoint types.
type EndpointConfiguration struct {
	Types          []string `json:"types,omitempty"`
	VpcEndpointIDs []string `json:"vpcEndpointIds,omitempty"`
	IPAddressType  string   `json:"ipAddressType,omitempty"`
}

// RestDoc is a REST API's part of its document.
type RestDoc struct {
	RootResourceID         string                     `json:"rootResourceId"`
	BinaryMediaTypes       []string                   `json:"binaryMediaTypes,omitempty"`
	APIKeySource           string                     `json:"apiKeySource,omitempty"`
	MinimumCompressionSize *int                       `json:"minimumCompressionSize,omitempty"`
	EndpointConfiguration  *EndpointConfiguration     `json:"endpointConfiguration,omitempty"`
	Policy                 string                     `json:"policy,omitempty"`
	Resources              map[string]*RestResource   `json:"resources"`
	Authorizers            map[string]*RestAuthorizer `json:"authorizers,omitempty"`
}

// RestResource is one resource of a REST API, as the wire spells it.
type RestResource struct {
	ID              string                 `json:"id"`
	ParentID        string                 `json:"parentId,omitempty"`
	PathPart        string                 `json:"pathPart,omitempty"`
	Path            string                 `json:"path"`
	ResourceMethods map[string]*RestMethod `json:"resourceMethods,omitempty"`
}

// RestMethod is one method of a resource, as the wire spells it.
type RestMethod struct {
	HTTPMethod          string                         `json:"httpMethod"`
	AuthorizationType   string                         `json:"authorizationType"`
	AuthorizerID        string                         `json:"authorizerId,omitempty"`
	APIKeyRequired      bool                           `json:"apiKeyRequired"`
	OperationName       string                         `json:"operationName,omitempty"`
	RequestValidatorID  string                         `json:"requestValidatorId,omitempty"`
	RequestParameters   map[string]bool                `json:"requestParameters,omitempty"`
	RequestModels       map[string]string              `json:"requestModels,omitempty"`
	AuthorizationScopes []string                       `json:"authorizationScopes,omitempty"`
	MethodResponses     map[string]*RestMethodResponse `json:"methodResponses,omitempty"`
	MethodIntegration   *RestIntegration               `json:"methodIntegration,omitempty"`
}

// RestMethodResponse is a method's declared response.
type RestMethodResponse struct {
	StatusCode         string            `json:"statusCode"`
	ResponseParameters map[string]bool   `json:"responseParameters,omitempty"`
	ResponseModels     map[string]string `json:"responseModels,omitempty"`
}

// RestIntegration is a method's integration, as the wire spells it.
type RestIntegration struct {
	Type                 string                              `json:"type"`
	HTTPMethod           string                              `json:"httpMethod,omitempty"`
	URI                  string                              `json:"uri,omitempty"`
	ConnectionType       string                              `json:"connectionType,omitempty"`
	Credentials          string                              `json:"credentials,omitempty"`
	RequestParameters    map[string]string                   `json:"requestParameters,omitempty"`
	RequestTemplates     map[string]string                   `json:"requestTemplates,omitempty"`
	PassthroughBehavior  string                              `json:"passthroughBehavior,omitempty"`
	ContentHandling      string                              `json:"contentHandling,omitempty"`
	TimeoutInMillis      int                                 `json:"timeoutInMillis"`
	CacheNamespace       string                              `json:"cacheNamespace,omitempty"`
	CacheKeyParameters   []string                            `json:"cacheKeyParameters"`
	IntegrationResponses map[string]*RestIntegrationResponse `json:"integrationResponses,omitempty"`
}

// RestIntegrationResponse maps an integration's answer to the method's.
type RestIntegrationResponse struct {
	StatusCode         string            `json:"statusCode"`
	SelectionPattern   string            `json:"selectionPattern,omitempty"`
	ResponseParameters map[string]string `json:"responseParameters,omitempty"`
	ResponseTemplates  map[string]string `json:"responseTemplates,omitempty"`
	ContentHandling    string            `json:"contentHandling,omitempty"`
}

// RestAuthorizer is a REST API's Lambda authorizer, as the wire spells it.
type RestAuthorizer struct {
	ID                           string `json:"id"`
	Name                         string `json:"name"`
	Type                         string `json:"type"`
	AuthorizerURI                string `json:"authorizerUri,omitempty"`
	AuthorizerCredentials        string `json:"authorizerCredentials,omitempty"`
	IdentitySource               string `json:"identitySource,omitempty"`
	IdentityValidationExpression string `json:"identityValidationExpression,omitempty"`
	AuthorizerResultTTLInSeconds *int   `json:"authorizerResultTtlInSeconds,omitempty"`
}

// RestSnapshot is what a REST deployment froze beyond routes: each
// route's method (by route id) and the API's binary media types.
type RestSnapshot struct {
	Methods          map[string]*RestMethod     `json:"methods"`
	Authorizers      map[string]*RestAuthorizer `json:"authorizers,omitempty"`
	BinaryMediaTypes []string                   `json:"binaryMediaTypes,omitempty"`
}

// RestRouteID is the id of the route a deployment compiles a resource's
// method to.
func RestRouteID(resourceID, method string) string { return resourceID + "-" + method }
