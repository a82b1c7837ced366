// Package arn builds and parses Amazon Resource Names for every resource
// Kumo serves: Lambda functions, versions, aliases and layers, CloudWatch
// Logs groups and streams, IAM roles and account roots, and the queues,
// topics, buckets, event buses, keys, secrets and APIs of the services that
// join them.
//
// Every ARN Kumo sends is built here from a Scope (partition, region,
// account), and every ARN a client sends is split here, so the formats live
// in one file each with its literal. Parsing checks structure only: whether
// an ARN names this server's region and account, and which message a
// client gets when it does not, is the caller's decision.
//
// The package is pure: no I/O, no state, safe for concurrent use.
package arn

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("invalid ARN")

// MaxLen is the longest ARN Parse accepts (IAM's limit, which also bounds
// S3 object ARNs with their 1,024-byte keys).
const MaxLen = 2048

// ARN is a parsed ARN:
//
//	arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE
//
// Region and Account are empty for global resources (IAM has no region,
// S3 buckets have neither); Resource keeps its own ':' and '/'.
type ARN struct {
	Partition string
	Service   string
	Region    string
	Account   string
	Resource  string
}

// String is the ARN in its text form; Parse(a.String()) == a for every a
// Parse returned.
func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.Resource
}

// Scope is where this server's resources live. Its builders return ARNs
// in the exact format AWS uses for each resource type.
type Scope struct {
	Partition string // "aws"
	Region    string // "us-east-1"
	Account   string // "123456789012"
}

func (s Scope) arn(service, resource string) string {
	return ARN{s.Partition, service, s.Region, s.Account, resource}.String()
}

// global is an ARN with no region (IAM).
func (s Scope) global(service, resource string) string {
	return ARN{s.Partition, service, "", s.Account, resource}.String()
}

// Function is arn:aws:lambda:us-east-1:123456789012:function:NAME.
func (s Scope) Function(name string) string { return s.arn("lambda", "function:"+name) }

// FunctionVersion is the ARN of a version or alias,
// arn:aws:lambda:us-east-1:123456789012:function:NAME:QUALIFIER, or the
// unqualified ARN when qualifier is "".
func (s Scope) FunctionVersion(name, qualifier string) string {
	if qualifier == "" {
		return s.Function(name)
	}
	return s.Function(name) + ":" + qualifier
}

// Layer is arn:aws:lambda:us-east-1:123456789012:layer:NAME.
func (s Scope) Layer(name string) string { return s.arn("lambda", "layer:"+name) }

// LayerVersion is arn:aws:lambda:us-east-1:123456789012:layer:NAME:VERSION.
func (s Scope) LayerVersion(name string, version int) string {
	return fmt.Sprintf("%s:%d", s.Layer(name), version)
}

// LogGroup is arn:aws:logs:us-east-1:123456789012:log-group:NAME, the
// logGroupArn member; DescribeLogGroups' arn member adds ":*".
func (s Scope) LogGroup(name string) string { return s.arn("logs", "log-group:"+name) }

// LogStream is
// arn:aws:logs:us-east-1:123456789012:log-group:GROUP:log-stream:STREAM.
func (s Scope) LogStream(group, stream string) string {
	return s.LogGroup(group) + ":log-stream:" + stream
}

// Root is the account's root principal, arn:aws:iam::123456789012:root.
func (s Scope) Root() string { return s.global("iam", "root") }

// Role is arn:aws:iam::123456789012:role/NAME; name may carry a path
// ("service-role/NAME").
func (s Scope) Role(name string) string { return s.global("iam", "role/"+name) }

// User is arn:aws:iam::123456789012:user/NAME; name may carry a path.
func (s Scope) User(name string) string { return s.global("iam", "user/"+name) }

// Queue is arn:aws:sqs:us-east-1:123456789012:NAME.
func (s Scope) Queue(name string) string { return s.arn("sqs", name) }

// Topic is arn:aws:sns:us-east-1:123456789012:NAME.
func (s Scope) Topic(name string) string { return s.arn("sns", name) }

// Bucket is arn:aws:s3:::NAME: bucket ARNs have no region or account.
func (s Scope) Bucket(name string) string { return ARN{s.Partition, "s3", "", "", name}.String() }

// Object is arn:aws:s3:::BUCKET/KEY.
func (s Scope) Object(bucket, key string) string { return s.Bucket(bucket + "/" + key) }

// EventBus is arn:aws:events:us-east-1:123456789012:event-bus/NAME.
func (s Scope) EventBus(name string) string { return s.arn("events", "event-bus/"+name) }

// Rule is arn:aws:events:us-east-1:123456789012:rule/NAME on the default
// bus and rule/BUS/NAME on any other.
func (s Scope) Rule(bus, name string) string {
	if bus == "" || bus == "default" {
		return s.arn("events", "rule/"+name)
	}
	return s.arn("events", "rule/"+bus+"/"+name)
}

// Key is arn:aws:kms:us-east-1:123456789012:key/KEY-ID.
func (s Scope) Key(id string) string { return s.arn("kms", "key/"+id) }

// KeyAlias is arn:aws:kms:us-east-1:123456789012:alias/NAME (name without
// its "alias/" prefix).
func (s Scope) KeyAlias(name string) string { return s.arn("kms", "alias/"+name) }

// Secret is arn:aws:secretsmanager:us-east-1:123456789012:secret:NAME-SUFFIX,
// suffix being the six random characters AWS appends.
func (s Scope) Secret(name, suffix string) string {
	return s.arn("secretsmanager", "secret:"+name+"-"+suffix)
}

// RestAPI is the API Gateway management ARN of a REST API,
// arn:aws:apigateway:us-east-1::/restapis/ID (no account).
func (s Scope) RestAPI(id string) string {
	return ARN{s.Partition, "apigateway", s.Region, "", "/restapis/" + id}.String()
}

// ExecuteAPI is the invoke ARN of an API method,
// arn:aws:execute-api:us-east-1:123456789012:ID/STAGE/METHOD/PATH, the
// SourceArn API Gateway calls Lambda with; path has no leading '/'.
func (s Scope) ExecuteAPI(id, stage, method, path string) string {
	return s.arn("execute-api", id+"/"+stage+"/"+method+"/"+strings.TrimPrefix(path, "/"))
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Parse splits an ARN into its parts. It accepts a partition starting
// with "aws", a service of letters, digits and '-', a region of the same
// (or none), an account of 12 digits, "aws" (managed policies) or none,
// and a non-empty resource without control characters. Letters of either
// case pass, as Lambda's model patterns let them ("arn:[a-zA-Z0-9-]+:
// lambda:[a-zA-Z0-9-]+:…"): a mixed-case ARN names no resource of this
// server, which the caller reports as not found.
func Parse(s string) (ARN, error) {
	if len(s) > MaxLen {
		return ARN{}, invalid("longer than %d bytes", MaxLen)
	}
	rest, ok := strings.CutPrefix(s, "arn:")
	if !ok {
		return ARN{}, invalid("does not start with arn:")
	}
	p := strings.SplitN(rest, ":", 5)
	if len(p) != 5 {
		return ARN{}, invalid("fewer than six parts")
	}
	a := ARN{p[0], p[1], p[2], p[3], p[4]}
	switch {
	case !strings.HasPrefix(a.Partition, "aws") || !isToken(a.Partition):
		return ARN{}, invalid("partition %q", a.Partition)
	case !isToken(a.Service):
		return ARN{}, invalid("service %q", a.Service)
	case a.Region != "" && !isToken(a.Region):
		return ARN{}, invalid("region %q", a.Region)
	case a.Account != "" && a.Account != "aws" && !IsAccount(a.Account):
		return ARN{}, invalid("account %q", a.Account)
	case a.Resource == "":
		return ARN{}, invalid("no resource")
	}
	for i := 0; i < len(a.Resource); i++ {
		if c := a.Resource[i]; c < 0x20 || c == 0x7f {
			return ARN{}, invalid("control character in resource")
		}
	}
	return a, nil
}

// Scope is the partition, region and account of a.
func (a ARN) Scope() Scope { return Scope{a.Partition, a.Region, a.Account} }

// IsAccount reports whether s is an account id: 12 digits.
func IsAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isToken accepts 1 or more of [a-zA-Z0-9-].
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// parseIn parses s and checks its service and, when regional, that it has
// a region and an account.
func parseIn(s, service string, regional bool) (ARN, error) {
	a, err := Parse(s)
	if err != nil {
		return ARN{}, err
	}
	if a.Service != service {
		return ARN{}, invalid("service %q, want %s", a.Service, service)
	}
	if regional && (a.Region == "" || !IsAccount(a.Account)) {
		return ARN{}, invalid("%s ARN without region or account", service)
	}
	return a, nil
}
