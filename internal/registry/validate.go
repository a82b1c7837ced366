package registry

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// Lambda's quotas and limits (Lambda quotas page; botocore shapes).
const (
	MinMemory       = 128
	MaxMemory       = 10240
	DefaultMemory   = 128
	MinTimeout      = 1
	MaxTimeout      = 900
	DefaultTimeout  = 3
	MinEphemeral    = 512
	MaxEphemeral    = 10240
	MaxDescription  = 256
	MaxEnvBytes     = 4096
	MaxLayers       = 5
	MaxTags         = 50
	MaxHandler      = 128
	MaxFunctionName = 64
	MaxAliasName    = 128
	MaxPolicyBytes  = 20480
	// MaxCodeStorage is the account's total code storage (75 GB).
	MaxCodeStorage int64 = 80530636800
	// MaxZipped is the largest zip accepted in the request (50 MB).
	MaxZipped int64 = 52428800
	// MaxUnzipped is the largest code size unzipped, layers included (250 MB).
	MaxUnzipped int64 = 262144000
)

// runtimeState says whether a runtime identifier may be used for new or
// updated functions.
type runtimeState int

const (
	runtimeSupported runtimeState = iota + 1
	runtimeDeprecated
)

// runtimeEnum is the Runtime enum of the Lambda model, in the model's order
// (botocore lambda/2015-03-31/service-2.json, shape Runtime), which is the
// order AWS lists it in when it refuses an unknown runtime.
var runtimeEnum = []string{
	"nodejs", "nodejs4.3", "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x",
	"java8", "java8.al2", "java11", "python2.7", "python3.6", "python3.7", "python3.8", "python3.9",
	"dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "dotnet6", "dotnet8", "nodejs4.3-edge", "go1.x",
	"ruby2.5", "ruby2.7", "provided", "provided.al2", "nodejs18.x", "python3.10", "java17", "ruby3.2",
	"ruby3.3", "ruby3.4", "python3.11", "nodejs20.x", "provided.al2023", "python3.12", "java21", "python3.13",
	"nodejs22.x", "nodejs24.x", "python3.14", "java25", "dotnet10", "ruby4.0",
}

// runtimeEnumList is runtimeEnum as AWS prints it in messages.
var runtimeEnumList = "[" + strings.Join(runtimeEnum, ", ") + "]"

// deprecatedRuntimes are the identifiers of runtimeEnum refused for creates
// and updates, as AWS does once a runtime's block date has passed. go1.x
// stays accepted: Kumo runs it on provided.al2023.
var deprecatedRuntimes = []string{
	"nodejs", "nodejs4.3", "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x",
	"nodejs4.3-edge", "java8", "python2.7", "python3.6", "python3.7", "python3.8", "dotnetcore1.0", "dotnetcore2.0",
	"dotnetcore2.1", "dotnetcore3.1", "dotnet6", "ruby2.5", "ruby2.7", "provided",
}

// runtimes is every identifier of runtimeEnum with its state.
var runtimes = func() map[string]runtimeState {
	m := make(map[string]runtimeState, len(runtimeEnum))
	for _, rt := range runtimeEnum {
		m[rt] = runtimeSupported
	}
	for _, rt := range deprecatedRuntimes {
		m[rt] = runtimeDeprecated
	}
	return m
}()

// successor names the runtime AWS recommends instead of a deprecated one.
func successor(rt string) string {
	switch {
	case strings.HasPrefix(rt, "nodejs"):
		return "nodejs22.x"
	case strings.HasPrefix(rt, "python"):
		return "python3.13"
	case strings.HasPrefix(rt, "java"):
		return "java21"
	case strings.HasPrefix(rt, "dotnet"):
		return "dotnet8"
	case strings.HasPrefix(rt, "ruby"):
		return "ruby3.3"
	}
	return "provided.al2023"
}

// reservedEnv are the variables Lambda sets itself and refuses to let users
// set (Lambda developer guide, "Defined runtime environment variables").
var reservedEnv = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_DEFAULT_REGION": true, "AWS_REGION": true,
	"AWS_EXECUTION_ENV": true, "AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true,
	"AWS_LAMBDA_FUNCTION_VERSION": true, "AWS_LAMBDA_INITIALIZATION_TYPE": true, "AWS_LAMBDA_LOG_GROUP_NAME": true,
	"AWS_LAMBDA_LOG_STREAM_NAME": true, "AWS_ACCESS_KEY": true, "AWS_ACCESS_KEY_ID": true,
	"AWS_SECRET_ACCESS_KEY": true, "AWS_SECRET_KEY": true, "AWS_SESSION_TOKEN": true,
	"AWS_LAMBDA_RUNTIME_API": true, "LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true,
}

func invalid(format string, args ...any) *awsproto.Error {
	return awsproto.Errorf(awsproto.InvalidParameterValueException, format, args...)
}

// validation is a request that breaks a constraint of the API model:
// Lambda answers those with ValidationException, and with
// InvalidParameterValueException for its own semantic checks.
func validation(format string, args ...any) *awsproto.Error {
	return awsproto.Errorf(awsproto.ValidationException, format, args...)
}

// constraint is the message for one failed member constraint, in the
// wording AWS uses for request validation.
func constraint(value any, member, rule string) *awsproto.Error {
	return validation("1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: %s", value, member, rule)
}

// ValidateFunctionName checks a name for a new function.
func ValidateFunctionName(name string) error {
	if name == "" {
		return constraint(name, "functionName", "Member must have length greater than or equal to 1")
	}
	if len(name) > MaxFunctionName {
		return constraint(clip(name), "functionName", fmt.Sprintf("Member must have length less than or equal to %d", MaxFunctionName))
	}
	if !isNameToken(name) {
		return constraint(clip(name), "functionName", "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+")
	}
	return nil
}

func validateRuntime(rt string) error {
	switch runtimes[rt] {
	case runtimeSupported:
		return nil
	case runtimeDeprecated:
		return invalid("The runtime parameter of %s is no longer supported for creating or updating AWS Lambda functions. We recommend you use the new runtime (%s) while creating or updating functions.", rt, successor(rt))
	}
	// Unlike the model's other constraints, AWS answers this one with
	// InvalidParameterValueException and without quoting the value.
	return invalid("Value %s at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: %s or be a valid ARN", clip(rt), runtimeEnumList)
}

func validateHandler(h string) error {
	if len(h) > MaxHandler {
		return constraint(clip(h), "handler", fmt.Sprintf("Member must have length less than or equal to %d", MaxHandler))
	}
	if h == "" || strings.ContainsAny(h, " \t\r\n\v\f") {
		return constraint(clip(h), "handler", `Member must satisfy regular expression pattern: [^\s]+`)
	}
	return nil
}

// validateRole checks arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+.
func validateRole(role string) error {
	bad := constraint(clip(role), "role", `Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`)
	parts := strings.SplitN(role, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !strings.HasPrefix(parts[1], "aws") || parts[2] != "iam" || parts[3] != "" ||
		len(parts[4]) != 12 || !isDigits(parts[4]) || !strings.HasPrefix(parts[5], "role") {
		return bad
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(parts[5], "role"), "/")
	if rest == "" {
		return bad
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(isNameChar(c) || strings.IndexByte("+=,.@/", c) >= 0) {
			return bad
		}
	}
	return nil
}

func validateRange(v int, member string, lo, hi int) error {
	if member == "memorySize" && v > hi {
		// Past the model's own maximum, Lambda's quota check answers.
		return invalid("'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to %d", hi)
	}
	if v < lo {
		return constraint(v, member, fmt.Sprintf("Member must have value greater than or equal to %d", lo))
	}
	if v > hi {
		return constraint(v, member, fmt.Sprintf("Member must have value less than or equal to %d", hi))
	}
	return nil
}

func validateDescription(d string) error {
	if len(d) > MaxDescription {
		return constraint(clip(d), "description", fmt.Sprintf("Member must have length less than or equal to %d", MaxDescription))
	}
	return nil
}

func isEnvName(k string) bool {
	if len(k) < 2 || !(k[0] >= 'a' && k[0] <= 'z' || k[0] >= 'A' && k[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func validateEnvironment(vars map[string]string) error {
	var reserved []string
	for k := range vars {
		if !isEnvName(k) {
			return validation("1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]")
		}
		if reservedEnv[k] {
			reserved = append(reserved, k)
		}
	}
	if len(reserved) > 0 {
		sort.Strings(reserved)
		return invalid("Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: %s", strings.Join(reserved, ", "))
	}
	b, _ := json.Marshal(vars)
	if len(b) > MaxEnvBytes {
		return invalid("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: %s", clip(string(b)))
	}
	return nil
}

func validateArchitectures(a []string) error {
	if len(a) != 1 {
		return constraint("["+strings.Join(a, ", ")+"]", "architectures", "Member must have length less than or equal to 1")
	}
	if a[0] != "x86_64" && a[0] != "arm64" {
		return constraint("["+a[0]+"]", "architectures", "Member must satisfy enum value set: [x86_64, arm64]")
	}
	return nil
}

// ValidateTags checks tags being set on a resource that already has
// existing ones (nil for a new resource).
func ValidateTags(tags, existing map[string]string) error {
	n := len(existing)
	for k, v := range tags {
		if _, ok := existing[k]; !ok {
			n++
		}
		if k == "" || len(k) > 128 {
			return invalid("Tag keys must be between 1 and 128 characters in length.")
		}
		if len(v) > 256 {
			return invalid("Tag values must be between 0 and 256 characters in length.")
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return invalid("Tag keys cannot start with the reserved prefix 'aws:'.")
		}
	}
	if n > MaxTags {
		return invalid("Number of tags exceeds resource tag limit of %d.", MaxTags)
	}
	return nil
}

// ValidateAliasName checks (?!^[0-9]+$)([a-zA-Z0-9-_]+), 1–128.
func ValidateAliasName(name string) error {
	if name == "" || len(name) > MaxAliasName {
		return constraint(clip(name), "name", fmt.Sprintf("Member must have length less than or equal to %d", MaxAliasName))
	}
	if !isNameToken(name) || isDigits(name) {
		return constraint(clip(name), "name", "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")
	}
	return nil
}

func validateLayerARN(arn string) error {
	// arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+
	p := strings.Split(arn, ":")
	if len(arn) > 140 || len(p) != 8 || p[0] != "arn" || p[2] != "lambda" || len(p[4]) != 12 || !isDigits(p[4]) ||
		p[5] != "layer" || !isNameToken(p[6]) || !isDigits(p[7]) || p[1] == "" || p[3] == "" {
		return constraint(clip(arn), "layers", `Member must satisfy constraint: [Member must have length less than or equal to 140, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+]`)
	}
	return nil
}

func validateLogging(lc *LoggingConfig) error {
	switch lc.LogFormat {
	case "", "Text", "JSON":
	default:
		return constraint(lc.LogFormat, "loggingConfig.logFormat", "Member must satisfy enum value set: [JSON, Text]")
	}
	switch lc.ApplicationLogLevel {
	case "", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL":
	default:
		return constraint(lc.ApplicationLogLevel, "loggingConfig.applicationLogLevel", "Member must satisfy enum value set: [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]")
	}
	switch lc.SystemLogLevel {
	case "", "DEBUG", "INFO", "WARN":
	default:
		return constraint(lc.SystemLogLevel, "loggingConfig.systemLogLevel", "Member must satisfy enum value set: [DEBUG, INFO, WARN]")
	}
	if lc.LogFormat != "JSON" && (lc.ApplicationLogLevel != "" || lc.SystemLogLevel != "") {
		return invalid("To set ApplicationLogLevel or SystemLogLevel, LogFormat must be JSON.")
	}
	if len(lc.LogGroup) > 512 {
		return constraint(clip(lc.LogGroup), "loggingConfig.logGroup", "Member must have length less than or equal to 512")
	}
	for i := 0; i < len(lc.LogGroup); i++ {
		c := lc.LogGroup[i]
		if !(isNameChar(c) || strings.IndexByte("./#", c) >= 0) {
			return constraint(clip(lc.LogGroup), "loggingConfig.logGroup", `Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+`)
		}
	}
	return nil
}
