package registry

// Wire shapes, named and tagged as in the Lambda API (botocore
// lambda/2015-03-31). Stored documents embed them so that a read needs no
// translation.

// FunctionConfig is the FunctionConfiguration shape.
type FunctionConfig struct {
	FunctionName               string                `json:"FunctionName"`
	FunctionArn                string                `json:"FunctionArn"`
	Runtime                    string                `json:"Runtime,omitempty"`
	Role                       string                `json:"Role"`
	Handler                    string                `json:"Handler,omitempty"`
	CodeSize                   int64                 `json:"CodeSize"`
	Description                string                `json:"Description"`
	Timeout                    int                   `json:"Timeout"`
	MemorySize                 int                   `json:"MemorySize"`
	LastModified               string                `json:"LastModified"`
	CodeSha256                 string                `json:"CodeSha256"`
	Version                    string                `json:"Version"`
	VpcConfig                  *VpcConfig            `json:"VpcConfig,omitempty"`
	DeadLetterConfig           *DeadLetterConfig     `json:"DeadLetterConfig,omitempty"`
	Environment                *Environment          `json:"Environment,omitempty"`
	KMSKeyArn                  string                `json:"KMSKeyArn,omitempty"`
	TracingConfig              TracingConfig         `json:"TracingConfig"`
	RevisionId                 string                `json:"RevisionId"`
	Layers                     []Layer               `json:"Layers,omitempty"`
	State                      string                `json:"State"`
	StateReason                string                `json:"StateReason,omitempty"`
	StateReasonCode            string                `json:"StateReasonCode,omitempty"`
	LastUpdateStatus           string                `json:"LastUpdateStatus,omitempty"`
	LastUpdateStatusReason     string                `json:"LastUpdateStatusReason,omitempty"`
	LastUpdateStatusReasonCode string                `json:"LastUpdateStatusReasonCode,omitempty"`
	PackageType                string                `json:"PackageType"`
	Architectures              []string              `json:"Architectures"`
	EphemeralStorage           EphemeralStorage      `json:"EphemeralStorage"`
	SnapStart                  SnapStartResponse     `json:"SnapStart"`
	LoggingConfig              LoggingConfig         `json:"LoggingConfig"`
	RuntimeVersionConfig       *RuntimeVersionConfig `json:"RuntimeVersionConfig,omitempty"`
	ImageConfigResponse        *ImageConfigResponse  `json:"ImageConfigResponse,omitempty"`
}

// VpcConfig places a function in a VPC: its subnets and security groups
// (kept by the EC2 service) and the VPC they share.
type VpcConfig struct {
	SubnetIds               []string `json:"SubnetIds"`
	SecurityGroupIds        []string `json:"SecurityGroupIds"`
	VpcId                   string   `json:"VpcId,omitempty"`
	Ipv6AllowedForDualStack *bool    `json:"Ipv6AllowedForDualStack,omitempty"`
}

type DeadLetterConfig struct {
	TargetArn string `json:"TargetArn,omitempty"`
}

// Environment is both the request shape and EnvironmentResponse.
type Environment struct {
	Variables map[string]string `json:"Variables,omitempty"`
	// Error says why the variables could not be decrypted (responses
	// only).
	Error *EnvironmentError `json:"Error,omitempty"`
}

// EnvironmentError is the EnvironmentError shape.
type EnvironmentError struct {
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
}

type TracingConfig struct {
	Mode string `json:"Mode"`
}

type Layer struct {
	Arn      string `json:"Arn"`
	CodeSize int64  `json:"CodeSize"`
	// blob and unzipped come from Code.Layers (see syncLayers).
	blob     string
	unzipped int64
}

type EphemeralStorage struct {
	Size int `json:"Size"`
}

type SnapStartResponse struct {
	ApplyOn            string `json:"ApplyOn"`
	OptimizationStatus string `json:"OptimizationStatus"`
}

type LoggingConfig struct {
	LogFormat           string `json:"LogFormat,omitempty"`
	ApplicationLogLevel string `json:"ApplicationLogLevel,omitempty"`
	SystemLogLevel      string `json:"SystemLogLevel,omitempty"`
	LogGroup            string `json:"LogGroup,omitempty"`
}

type RuntimeVersionConfig struct {
	RuntimeVersionArn string `json:"RuntimeVersionArn,omitempty"`
}

// AliasConfig is the AliasConfiguration shape.
type AliasConfig struct {
	AliasArn        string         `json:"AliasArn"`
	Name            string         `json:"Name"`
	FunctionVersion string         `json:"FunctionVersion"`
	Description     string         `json:"Description"`
	RoutingConfig   *RoutingConfig `json:"RoutingConfig,omitempty"`
	RevisionId      string         `json:"RevisionId"`
}

// RoutingConfig is AliasRoutingConfiguration: at most one additional version
// and the fraction (0–1) of invocations it receives.
type RoutingConfig struct {
	AdditionalVersionWeights map[string]float64 `json:"AdditionalVersionWeights,omitempty"`
}

// Code is where a version's zip lives and what it holds.
type Code struct {
	Blob         string `json:"blob"` // hex SHA-256, the name in the code bucket
	UnzippedSize int64  `json:"unzipped"`
	// Layers are the code of the version's layers, in order.
	Layers []LayerCode `json:"layers,omitempty"`
	// Image is the container image of an Image function (no Blob).
	Image *ImageCode `json:"image,omitempty"`
}

// Version is one stored version: $LATEST inside the function document, a
// published one under its own key. Published versions never change.
type Version struct {
	Config FunctionConfig `json:"config"`
	Code   Code           `json:"code"`
	// Env is the environment variables as stored, encrypted (env.go);
	// in memory Config.Environment holds them decrypted.
	Env *SealedEnv `json:"env,omitempty"`
	// envErr is why Env could not be decrypted when the version was
	// read; plain marks a document that held its variables unencrypted
	// (written before they were encrypted), to be migrated.
	envErr error
	plain  bool
}

// Statement is one resource-policy statement as stored.
type Statement struct {
	Sid       string                       `json:"Sid"`
	Effect    string                       `json:"Effect"`
	Principal any                          `json:"Principal"`
	Action    string                       `json:"Action"`
	Resource  string                       `json:"Resource"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

// Policy is the resource policy of one qualifier of a function.
type Policy struct {
	Statements []Statement `json:"statements"`
	RevisionId string      `json:"revision"`
}

// Function is the stored function document.
type Function struct {
	Latest Version `json:"latest"`
	// LastVersion is the highest version number ever published; numbers
	// are never reused.
	LastVersion int `json:"lastVersion"`
	// Versions are the published versions that exist, ascending. A
	// version key whose number is not here is not visible.
	Versions []int `json:"versions,omitempty"`
	// Published is the fingerprint of $LATEST when LastVersion was
	// published, so PublishVersion of an unchanged function returns it.
	Published string                 `json:"published,omitempty"`
	Aliases   map[string]AliasConfig `json:"aliases,omitempty"`
	// Policies by qualifier; "" is the unqualified function.
	Policies            map[string]Policy `json:"policies,omitempty"`
	Tags                map[string]string `json:"tags,omitempty"`
	ReservedConcurrency *int              `json:"reserved,omitempty"`
	// EventInvokeConfigs by qualifier; the unqualified function is "$LATEST".
	EventInvokeConfigs map[string]EventInvokeConfig `json:"eventInvoke,omitempty"`
	// URLConfigs are the function URLs by qualifier: "" for the
	// unqualified function, else an alias name.
	URLConfigs map[string]URLConfig `json:"urls,omitempty"`
	// Provisioned are the provisioned concurrency configurations by
	// qualifier: a version number or an alias name.
	Provisioned map[string]ProvisionedConfig `json:"provisioned,omitempty"`
	// Created is when the function was created (RFC 3339).
	Created string `json:"created"`
}

// Lambda's enumerations used in configurations.
const (
	StatePending  = "Pending"
	StateActive   = "Active"
	StateInactive = "Inactive"
	StateFailed   = "Failed"

	UpdateInProgress = "InProgress"
	UpdateSuccessful = "Successful"
	UpdateFailed     = "Failed"

	Latest = "$LATEST"
)
