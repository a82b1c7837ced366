package apigateway

import (
	"encoding/json"
	"fmt"
	"time"
)

// Protocol types of an API.
const (
	ProtocolHTTP      = "HTTP"
	ProtocolWebSocket = "WEBSOCKET"
	// ProtocolREST marks a REST API (apigateway), which apigatewayv2
	// neither lists nor serves.
	ProtocolREST = "REST"
)

// DefaultStage is the stage that serves requests without a stage segment;
// DefaultRoute the route of requests no other route matches.
const (
	DefaultStage = "$default"
	DefaultRoute = "$default"
)

// Authorization types of a route.
const (
	AuthNone   = "NONE"
	AuthIAM    = "AWS_IAM"
	AuthCustom = "CUSTOM"
	AuthJWT    = "JWT"
)

// Cors is an HTTP API's CORS configuration, as the wire spells it.
type Cors struct {
	AllowCredentials *bool    `json:"allowCredentials,omitempty"`
	AllowHeaders     []string `json:"allowHeaders,omitempty"`
	AllowMethods     []string `json:"allowMethods,omitempty"`
	AllowOrigins     []string `json:"allowOrigins,omitempty"`
	ExposeHeaders    []string `json:"exposeHeaders,omitempty"`
	MaxAge           *int     `json:"maxAge,omitempty"`
}

// API is an API's own settings, as GetApi answers them (less the
// endpoint, which depends on where the server listens).
type API struct {
	APIID                     string            `json:"apiId"`
	Name                      string            `json:"name"`
	ProtocolType              string            `json:"protocolType"`
	Description               string            `json:"description,omitempty"`
	Version                   string            `json:"version,omitempty"`
	RouteSelectionExpression  string            `json:"routeSelectionExpression,omitempty"`
	APIKeySelectionExpression string            `json:"apiKeySelectionExpression,omitempty"`
	DisableExecuteAPIEndpoint bool              `json:"disableExecuteApiEndpoint"`
	DisableSchemaValidation   bool              `json:"disableSchemaValidation,omitempty"`
	IPAddressType             string            `json:"ipAddressType,omitempty"`
	CorsConfiguration         *Cors             `json:"corsConfiguration,omitempty"`
	CreatedDate               time.Time         `json:"createdDate"`
	Tags                      map[string]string `json:"tags"`
}

// Route is one route of an API.
type Route struct {
	RouteID             string   `json:"routeId"`
	RouteKey            string   `json:"routeKey"`
	Target              string   `json:"target,omitempty"`
	AuthorizationType   string   `json:"authorizationType"`
	AuthorizerID        string   `json:"authorizerId,omitempty"`
	AuthorizationScopes []string `json:"authorizationScopes,omitempty"`
	APIKeyRequired      bool     `json:"apiKeyRequired"`
	APIGatewayManaged   bool     `json:"apiGatewayManaged,omitempty"`
	OperationName       string   `json:"operationName,omitempty"`
	// RouteResponseSelectionExpression is a WebSocket route's; "$default"
	// makes the route two-way once it has a route response.
	RouteResponseSelectionExpression string `json:"routeResponseSelectionExpression,omitempty"`
}

// RouteResponse is a WebSocket route's response: a route with one sends
// its integration's answer back to the client (two-way).
type RouteResponse struct {
	RouteResponseID          string `json:"routeResponseId"`
	RouteResponseKey         string `json:"routeResponseKey"`
	ModelSelectionExpression string `json:"modelSelectionExpression,omitempty"`
}

// Integration is one integration of an API.
type Integration struct {
	IntegrationID        string            `json:"integrationId"`
	IntegrationType      string            `json:"integrationType"`
	IntegrationURI       string            `json:"integrationUri,omitempty"`
	IntegrationMethod    string            `json:"integrationMethod,omitempty"`
	PayloadFormatVersion string            `json:"payloadFormatVersion,omitempty"`
	TimeoutInMillis      int               `json:"timeoutInMillis"`
	ConnectionType       string            `json:"connectionType,omitempty"`
	Description          string            `json:"description,omitempty"`
	CredentialsARN       string            `json:"credentialsArn,omitempty"`
	RequestParameters    map[string]string `json:"requestParameters,omitempty"`
	APIGatewayManaged    bool              `json:"apiGatewayManaged,omitempty"`
}

// JWTConfiguration is a JWT authorizer's issuer and audiences.
type JWTConfiguration struct {
	Audience []string `json:"audience,omitempty"`
	Issuer   string   `json:"issuer,omitempty"`
}

// Authorizer is one authorizer of an API.
type Authorizer struct {
	AuthorizerID                   string            `json:"authorizerId"`
	Name                           string            `json:"name"`
	AuthorizerType                 string            `json:"authorizerType"`
	AuthorizerURI                  string            `json:"authorizerUri,omitempty"`
	AuthorizerCredentialsARN       string            `json:"authorizerCredentialsArn,omitempty"`
	AuthorizerPayloadFormatVersion string            `json:"authorizerPayloadFormatVersion,omitempty"`
	AuthorizerResultTTLInSeconds   *int              `json:"authorizerResultTtlInSeconds,omitempty"`
	EnableSimpleResponses          bool              `json:"enableSimpleResponses,omitempty"`
	IdentitySource                 []string          `json:"identitySource,omitempty"`
	IdentityValidationExpression   string            `json:"identityValidationExpression,omitempty"`
	JWTConfiguration               *JWTConfiguration `json:"jwtConfiguration,omitempty"`
}

// RouteSettings are a stage's settings for its routes.
type RouteSettings struct {
	DataTraceEnabled       *bool    `json:"dataTraceEnabled,omitempty"`
	DetailedMetricsEnabled *bool    `json:"detailedMetricsEnabled,omitempty"`
	LoggingLevel           string   `json:"loggingLevel,omitempty"`
	ThrottlingBurstLimit   *int     `json:"throttlingBurstLimit,omitempty"`
	ThrottlingRateLimit    *float64 `json:"throttlingRateLimit,omitempty"`
}

// AccessLogSettings is where a stage's access log goes.
type AccessLogSettings struct {
	DestinationARN string `json:"destinationArn,omitempty"`
	Format         string `json:"format,omitempty"`
}

// Stage is one stage of an API.
type Stage struct {
	StageName                   string                    `json:"stageName"`
	Description                 string                    `json:"description,omitempty"`
	DeploymentID                string                    `json:"deploymentId,omitempty"`
	AutoDeploy                  bool                      `json:"autoDeploy"`
	APIGatewayManaged           bool                      `json:"apiGatewayManaged,omitempty"`
	ClientCertificateID         string                    `json:"clientCertificateId,omitempty"`
	AccessLogSettings           *AccessLogSettings        `json:"accessLogSettings,omitempty"`
	DefaultRouteSettings        *RouteSettings            `json:"defaultRouteSettings,omitempty"`
	RouteSettings               map[string]*RouteSettings `json:"routeSettings"`
	StageVariables              map[string]string         `json:"stageVariables"`
	Tags                        map[string]string         `json:"tags"`
	LastDeploymentStatusMessage string                    `json:"lastDeploymentStatusMessage,omitempty"`
	CreatedDate                 time.Time                 `json:"createdDate"`
	LastUpdatedDate             time.Time                 `json:"lastUpdatedDate"`
	// CanarySettings is a REST stage's canary: a share of its requests
	// served by another deployment.
	CanarySettings *CanarySettings `json:"canarySettings,omitempty"`
	// TracingEnabled is a REST stage's X-Ray switch (recorded only).
	TracingEnabled bool `json:"tracingEnabled,omitempty"`
}

// Deployment is one deployment of an API: its metadata. What it froze is
// its Snapshot, kept under a key of its own.
type Deployment struct {
	DeploymentID            string    `json:"deploymentId"`
	DeploymentStatus        string    `json:"deploymentStatus"`
	DeploymentStatusMessage string    `json:"deploymentStatusMessage,omitempty"`
	Description             string    `json:"description,omitempty"`
	AutoDeployed            bool      `json:"autoDeployed"`
	CreatedDate             time.Time `json:"createdDate"`
}

// Snapshot is what a deployment froze: the routes, integrations and
// authorizers its stages serve.
type Snapshot struct {
	Routes       map[string]*Route       `json:"routes"`
	Integrations map[string]*Integration `json:"integrations"`
	Authorizers  map[string]*Authorizer  `json:"authorizers"`
	// RouteResponses are WebSocket routes' responses: route-id →
	// route-response-id → response.
	RouteResponses map[string]map[string]*RouteResponse `json:"routeResponses,omitempty"`
	// Rest is what a REST API's deployment froze beyond its routes.
	Rest *RestSnapshot `json:"rest,omitempty"`
}

// Doc is one API as stored under "api.<api-id>": its settings and every
// child resource. A Doc held by the view is never modified; writers
// change a Clone.
type Doc struct {
	API          API                     `json:"api"`
	Routes       map[string]*Route       `json:"routes"`
	Integrations map[string]*Integration `json:"integrations"`
	Authorizers  map[string]*Authorizer  `json:"authorizers"`
	Stages       map[string]*Stage       `json:"stages"`
	Deployments  map[string]*Deployment  `json:"deployments"`
	// RouteResponses are WebSocket routes' responses: route-id →
	// route-response-id → response.
	RouteResponses map[string]map[string]*RouteResponse `json:"routeResponses,omitempty"`
	// Rest is a REST API's own settings and resources; nil for HTTP and
	// WebSocket APIs.
	Rest *RestDoc `json:"rest,omitempty"`
}

// NewDoc returns an empty Doc for api.
func NewDoc(api API) *Doc {
	d := &Doc{API: api}
	d.init()
	return d
}

func (d *Doc) init() {
	if d.Routes == nil {
		d.Routes = map[string]*Route{}
	}
	if d.Integrations == nil {
		d.Integrations = map[string]*Integration{}
	}
	if d.Authorizers == nil {
		d.Authorizers = map[string]*Authorizer{}
	}
	if d.Stages == nil {
		d.Stages = map[string]*Stage{}
	}
	if d.Deployments == nil {
		d.Deployments = map[string]*Deployment{}
	}
	if d.API.Tags == nil {
		d.API.Tags = map[string]string{}
	}
}

// Clone returns a deep copy of d.
func (d *Doc) Clone() *Doc {
	b, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("apigateway: encoding a document: %v", err))
	}
	var c Doc
	if err := json.Unmarshal(b, &c); err != nil {
		panic(fmt.Sprintf("apigateway: decoding a document: %v", err))
	}
	c.init()
	return &c
}

// Snapshot freezes d's routes, integrations and authorizers.
func (d *Doc) Snapshot() *Snapshot {
	c := d.Clone()
	return &Snapshot{Routes: c.Routes, Integrations: c.Integrations, Authorizers: c.Authorizers, RouteResponses: c.RouteResponses}
}

// Keys of the bucket.
const (
	apiPrefix = "api."
	depPrefix = "dep."
)

// APIKey is the key of an API's document: "api.<api-id>".
func APIKey(apiID string) string { return apiPrefix + apiID }

// SnapshotKey is the key of a deployment's snapshot:
// "dep.<api-id>.<deployment-id>".
func SnapshotKey(apiID, deploymentID string) string {
	return depPrefix + apiID + "." + deploymentID
}
