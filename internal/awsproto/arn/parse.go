package arn

import (
	"strconv"
	"strings"
)

// Function is a parsed Lambda function ARN.
type Function struct {
	Scope
	Name      string
	Qualifier string // "", "$LATEST", a version number or an alias name
}

// String is the function's ARN.
func (f Function) String() string { return f.Scope.FunctionVersion(f.Name, f.Qualifier) }

// ParseFunction parses
// arn:aws:lambda:us-east-1:123456789012:function:NAME[:QUALIFIER], with a
// NAME of 1–64 of [a-zA-Z0-9-_] and a QUALIFIER of "$LATEST" or 1–128 of
// the same.
func ParseFunction(s string) (Function, error) {
	a, err := parseIn(s, "lambda", true)
	if err != nil {
		return Function{}, err
	}
	rest, ok := strings.CutPrefix(a.Resource, "function:")
	if !ok {
		return Function{}, invalid("not a function")
	}
	name, q, hasQ := strings.Cut(rest, ":")
	if !isName(name, 64) {
		return Function{}, invalid("function name %q", name)
	}
	if hasQ && q != "$LATEST" && !isName(q, 128) {
		return Function{}, invalid("qualifier %q", q)
	}
	return Function{Scope: a.Scope(), Name: name, Qualifier: q}, nil
}

// Layer is a parsed Lambda layer or layer version ARN.
type Layer struct {
	Scope
	Name string
	// Version is 0 when the ARN names the layer rather than a version.
	Version int
}

// ParseLayer parses arn:aws:lambda:us-east-1:123456789012:layer:NAME and
// …:layer:NAME:VERSION, with a NAME of 1–140 of [a-zA-Z0-9-_] and a
// VERSION from 1.
func ParseLayer(s string) (Layer, error) {
	a, err := parseIn(s, "lambda", true)
	if err != nil {
		return Layer{}, err
	}
	rest, ok := strings.CutPrefix(a.Resource, "layer:")
	if !ok {
		return Layer{}, invalid("not a layer")
	}
	name, v, hasV := strings.Cut(rest, ":")
	if !isName(name, 140) {
		return Layer{}, invalid("layer name %q", name)
	}
	l := Layer{Scope: a.Scope(), Name: name}
	if hasV {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || !isDigits(v) {
			return Layer{}, invalid("layer version %q", v)
		}
		l.Version = n
	}
	return l, nil
}

// Log is a parsed CloudWatch Logs ARN.
type Log struct {
	Scope
	Group  string
	Stream string // "" for a log group
}

// ParseLog parses arn:aws:logs:us-east-1:123456789012:log-group:GROUP,
// the same with ":*" (DescribeLogGroups' arn member), and
// …:log-group:GROUP:log-stream:STREAM. Group and stream names are the
// logs API's to check.
func ParseLog(s string) (Log, error) {
	a, err := parseIn(s, "logs", true)
	if err != nil {
		return Log{}, err
	}
	rest, ok := strings.CutPrefix(a.Resource, "log-group:")
	if !ok {
		return Log{}, invalid("not a log group")
	}
	group, tail, _ := strings.Cut(rest, ":")
	l := Log{Scope: a.Scope(), Group: group}
	switch {
	case group == "":
		return Log{}, invalid("empty log group")
	case tail == "" && !strings.HasSuffix(rest, ":"), tail == "*":
	case strings.HasPrefix(tail, "log-stream:") && len(tail) > len("log-stream:"):
		l.Stream = tail[len("log-stream:"):]
	default:
		return Log{}, invalid("log group resource %q", a.Resource)
	}
	return l, nil
}

// IAM is a parsed IAM or STS principal ARN.
type IAM struct {
	Partition string
	Service   string // "iam" or "sts"
	Account   string // 12 digits, or "aws" for AWS-managed policies
	// Type is "root", or the resource type before the first '/': "role",
	// "user", "group", "policy", "assumed-role", …
	Type string
	// Name is everything after the type and its '/': path and name.
	Name string
}

// ParseIAM parses arn:aws:iam::123456789012:root,
// arn:aws:iam::123456789012:role/PATH/NAME (any resource type) and
// arn:aws:sts::123456789012:assumed-role/ROLE/SESSION. IAM ARNs have no
// region.
func ParseIAM(s string) (IAM, error) {
	a, err := Parse(s)
	if err != nil {
		return IAM{}, err
	}
	if a.Service != "iam" && a.Service != "sts" {
		return IAM{}, invalid("service %q, want iam or sts", a.Service)
	}
	if a.Region != "" || a.Account == "" {
		return IAM{}, invalid("IAM ARNs have an account and no region")
	}
	p := IAM{Partition: a.Partition, Service: a.Service, Account: a.Account}
	if a.Resource == "root" {
		p.Type = "root"
		return p, nil
	}
	typ, name, ok := strings.Cut(a.Resource, "/")
	if !ok || !isToken(typ) || name == "" {
		return IAM{}, invalid("IAM resource %q", a.Resource)
	}
	p.Type, p.Name = typ, name
	return p, nil
}

// Named is a parsed ARN whose resource is a bare name: an SQS queue or an
// SNS topic.
type Named struct {
	Scope
	Name string
}

// ParseQueue parses arn:aws:sqs:us-east-1:123456789012:NAME (NAME.fifo for
// a FIFO queue).
func ParseQueue(s string) (Named, error) { return parseNamed(s, "sqs") }

// ParseTopic parses arn:aws:sns:us-east-1:123456789012:NAME (NAME.fifo for
// a FIFO topic).
func ParseTopic(s string) (Named, error) { return parseNamed(s, "sns") }

func parseNamed(s, service string) (Named, error) {
	a, err := parseIn(s, service, true)
	if err != nil {
		return Named{}, err
	}
	if !isName(strings.TrimSuffix(a.Resource, ".fifo"), 256) {
		return Named{}, invalid("%s name %q", service, a.Resource)
	}
	return Named{Scope: a.Scope(), Name: a.Resource}, nil
}

// S3 is a parsed S3 bucket or object ARN.
type S3 struct {
	Partition string
	Bucket    string
	Key       string // "" for a bucket
}

// ParseS3 parses arn:aws:s3:::BUCKET and arn:aws:s3:::BUCKET/KEY.
func ParseS3(s string) (S3, error) {
	a, err := parseIn(s, "s3", false)
	if err != nil {
		return S3{}, err
	}
	if a.Region != "" || a.Account != "" {
		return S3{}, invalid("S3 bucket ARNs have no region or account")
	}
	bucket, key, hasKey := strings.Cut(a.Resource, "/")
	if bucket == "" || strings.Contains(bucket, ":") || hasKey && key == "" {
		return S3{}, invalid("S3 resource %q", a.Resource)
	}
	return S3{Partition: a.Partition, Bucket: bucket, Key: key}, nil
}

// Typed is a parsed ARN whose resource is TYPE/ID: EventBridge buses and
// rules, KMS keys and aliases.
type Typed struct {
	Scope
	Type string // "event-bus", "rule", "key", "alias"
	// ID is what follows the type: a name, a key id, BUS/RULE for a rule
	// on a custom bus.
	ID string
}

// ParseEvents parses arn:aws:events:us-east-1:123456789012:event-bus/NAME
// and …:rule/NAME or …:rule/BUS/NAME.
func ParseEvents(s string) (Typed, error) { return parseTyped(s, "events", "event-bus", "rule") }

// ParseKMS parses arn:aws:kms:us-east-1:123456789012:key/KEY-ID and
// …:alias/NAME.
func ParseKMS(s string) (Typed, error) { return parseTyped(s, "kms", "key", "alias") }

func parseTyped(s, service string, types ...string) (Typed, error) {
	a, err := parseIn(s, service, true)
	if err != nil {
		return Typed{}, err
	}
	typ, id, _ := strings.Cut(a.Resource, "/")
	for _, t := range types {
		if typ == t && id != "" {
			return Typed{Scope: a.Scope(), Type: typ, ID: id}, nil
		}
	}
	return Typed{}, invalid("%s resource %q", service, a.Resource)
}

// Secret is a parsed Secrets Manager secret ARN.
type Secret struct {
	Scope
	// Name is the secret's name, without the suffix.
	Name string
	// Suffix is the six characters AWS appends after a '-'; "" when the
	// ARN is partial (a client may name a secret without them).
	Suffix string
}

// ParseSecret parses
// arn:aws:secretsmanager:us-east-1:123456789012:secret:NAME-SUFFIX. An ARN
// whose last '-' is not followed by six letters and digits is a partial
// ARN: all of it is the name.
func ParseSecret(s string) (Secret, error) {
	a, err := parseIn(s, "secretsmanager", true)
	if err != nil {
		return Secret{}, err
	}
	rest, ok := strings.CutPrefix(a.Resource, "secret:")
	if !ok || rest == "" {
		return Secret{}, invalid("not a secret")
	}
	sec := Secret{Scope: a.Scope(), Name: rest}
	if i := strings.LastIndexByte(rest, '-'); i > 0 && len(rest)-i-1 == 6 && isAlnum(rest[i+1:]) {
		sec.Name, sec.Suffix = rest[:i], rest[i+1:]
	}
	return sec, nil
}

// ExecuteAPI is a parsed API Gateway invoke ARN.
type ExecuteAPI struct {
	Scope
	APIID  string
	Stage  string
	Method string
	Path   string // without its leading '/'; may hold wildcards
}

// ParseExecuteAPI parses
// arn:aws:execute-api:us-east-1:123456789012:ID/STAGE/METHOD/PATH (each
// part may be "*").
func ParseExecuteAPI(s string) (ExecuteAPI, error) {
	a, err := parseIn(s, "execute-api", true)
	if err != nil {
		return ExecuteAPI{}, err
	}
	p := strings.SplitN(a.Resource, "/", 4)
	if len(p) < 3 || p[0] == "" || p[1] == "" || p[2] == "" {
		return ExecuteAPI{}, invalid("execute-api resource %q", a.Resource)
	}
	e := ExecuteAPI{Scope: a.Scope(), APIID: p[0], Stage: p[1], Method: p[2]}
	if len(p) == 4 {
		e.Path = p[3]
	}
	return e, nil
}

// isName accepts 1–max of [a-zA-Z0-9-_], the names of functions, layers,
// queues and topics.
func isName(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
