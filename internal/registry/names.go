package registry

import (
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/awsproto/arn"
)

// Ref names a function and, optionally, one of its qualifiers, as a caller
// gave it: a name, a full ARN or a partial ARN, with or without a qualifier.
type Ref struct {
	Name      string
	Qualifier string // "", "$LATEST", a version number or an alias name
}

// ARNs is how the registry spells ARNs for its region and account: the
// arn package's Scope, with Lambda's own parsing of FunctionName members.
type ARNs struct {
	Partition string
	Region    string
	Account   string
}

// Scope is a as the arn package's Scope.
func (a ARNs) Scope() arn.Scope { return arn.Scope(a) }

// Function is the unqualified function ARN.
func (a ARNs) Function(name string) string { return a.Scope().Function(name) }

// Qualified is the ARN of a version or alias of a function.
func (a ARNs) Qualified(name, qualifier string) string {
	return a.Scope().FunctionVersion(name, qualifier)
}

func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

func isNameToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isRegion matches [a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d.
func isRegion(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || len(parts[0]) != 2 || !isLower(parts[0]) {
		return false
	}
	last := parts[len(parts)-1]
	if len(last) != 1 || last[0] < '0' || last[0] > '9' {
		return false
	}
	for _, p := range parts[1 : len(parts)-1] {
		if !isLower(p) {
			return false
		}
	}
	return true
}

func isLower(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// ParseRef parses the FunctionName member of a request: "my-function",
// "my-function:v1", "123456789012:function:my-function[:q]" or
// "arn:aws:lambda:us-west-2:123456789012:function:my-function[:q]". maxLen
// is the limit of the member's shape (140 for FunctionName, 256 for
// NamespacedFunctionName). A full ARN must name this region and account.
func (a ARNs) ParseRef(s string, maxLen int) (Ref, error) {
	if s == "" {
		return Ref{}, awsproto.Errorf(awsproto.ValidationException,
			"1 validation error detected: Value '' at 'functionName' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if len(s) > maxLen {
		return Ref{}, awsproto.Errorf(awsproto.ValidationException,
			"1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to %d", clip(s), maxLen)
	}
	invalid := func() error {
		return awsproto.Errorf(awsproto.ValidationException,
			"1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?", clip(s))
	}
	parts := strings.Split(s, ":")
	var region, account string
	if parts[0] == "arn" {
		f, err := arn.ParseFunction(s)
		if err != nil || !isRegion(f.Region) {
			return Ref{}, invalid()
		}
		region, account = f.Region, f.Account
		parts = append(parts[:0], f.Name)
		if f.Qualifier != "" {
			parts = append(parts, f.Qualifier)
		}
	} else if len(parts) >= 3 && parts[1] == "function" {
		// ACCOUNT:function:NAME[:Q]
		account = parts[0]
		if len(account) != 12 || !isDigits(account) || len(parts) > 4 {
			return Ref{}, invalid()
		}
		parts = parts[2:]
	}
	if len(parts) > 2 {
		return Ref{}, invalid()
	}
	ref := Ref{Name: parts[0]}
	if !isNameToken(ref.Name) {
		return Ref{}, invalid()
	}
	if len(parts) == 2 {
		q := parts[1]
		if q != Latest && !isNameToken(q) {
			return Ref{}, invalid()
		}
		ref.Qualifier = q
	}
	if len(ref.Name) > 64 {
		return Ref{}, invalid()
	}
	if region != "" && region != a.Region || account != "" && account != a.Account {
		return Ref{}, awsproto.Errorf(awsproto.ResourceNotFoundException, "Function not found: %s", a.Qualified(ref.Name, ref.Qualifier))
	}
	return ref, nil
}

// WithQualifier merges a Qualifier query parameter into ref. A qualifier in
// both places must agree.
func (r Ref) WithQualifier(q string) (Ref, error) {
	if q == "" {
		return r, nil
	}
	if q != Latest && !isNameToken(q) || len(q) > 128 {
		return r, awsproto.Errorf(awsproto.ValidationException,
			"1 validation error detected: Value '%s' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)", clip(q))
	}
	if r.Qualifier != "" && r.Qualifier != q {
		return r, awsproto.Errorf(awsproto.InvalidParameterValueException,
			"The derived qualifier from the function name does not match the specified qualifier.")
	}
	r.Qualifier = q
	return r, nil
}

// clip keeps echoed user input short in messages.
func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
