package apigateway

import (
	"crypto/rand"
	"errors"
	"net"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto/arn"
	"github.com/kumo-run/kumo/internal/registry"
)

// HostInfix is what an API's host name has after its id:
// <api-id>.execute-api.<region>.localhost.
const HostInfix = ".execute-api."

// PathPrefix begins the path form of an API's address, for clients that
// cannot choose a host name: /execute-api/<api-id>/<stage>/<path…>.
const PathPrefix = "/execute-api/"

// ServicePrincipal is who API Gateway invokes functions as.
const ServicePrincipal = "apigateway.amazonaws.com"

// Host is the host name of an API: <api-id>.execute-api.<region>.localhost
// (which resolves to loopback without any DNS setup).
func Host(apiID, region string) string { return apiID + HostInfix + region + ".localhost" }

// Endpoint is an API's ApiEndpoint for a server reached at hostport
// ("host:port" or "host"): http://<api-id>.execute-api.<region>.localhost:<port>,
// where AWS has https://<api-id>.execute-api.<region>.amazonaws.com.
func Endpoint(apiID, region, hostport string) string {
	u := "http://" + Host(apiID, region)
	if _, port, err := net.SplitHostPort(hostport); err == nil && port != "" {
		u += ":" + port
	}
	return u
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewID returns n random lowercase alphanumerics: an API id has 10, its
// routes, integrations, authorizers and deployments 7.
func NewID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

// IsAPIID reports whether s has the shape of an API id.
func IsAPIID(s string) bool {
	if len(s) != 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(idAlphabet, rune(s[i])) {
			return false
		}
	}
	return true
}

// ErrBadFunctionURI: an integration URI that names no Lambda function.
var ErrBadFunctionURI = errors.New("integration uri must be a Lambda function ARN or arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations")

// FunctionRef returns the function an AWS_PROXY integration's URI names:
// a function ARN (with or without a qualifier), or API Gateway's invoke
// URI around one.
func FunctionRef(uri string) (registry.Ref, error) {
	s := uri
	if rest, ok := strings.CutPrefix(s, "arn:"); ok {
		// arn:PARTITION:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/invocations
		if p := strings.SplitN(rest, ":", 5); len(p) == 5 && p[1] == "apigateway" {
			inner, ok := strings.CutPrefix(p[4], "path/2015-03-31/functions/")
			if !ok || p[3] != "lambda" {
				return registry.Ref{}, ErrBadFunctionURI
			}
			if inner, ok = strings.CutSuffix(inner, "/invocations"); !ok {
				return registry.Ref{}, ErrBadFunctionURI
			}
			s = inner
		}
	}
	a, err := arn.Parse(s)
	if err != nil || a.Service != "lambda" {
		return registry.Ref{}, ErrBadFunctionURI
	}
	rest, ok := strings.CutPrefix(a.Resource, "function:")
	if !ok || rest == "" {
		return registry.Ref{}, ErrBadFunctionURI
	}
	name, qual, _ := strings.Cut(rest, ":")
	if name == "" || strings.Contains(qual, ":") {
		return registry.Ref{}, ErrBadFunctionURI
	}
	return registry.Ref{Name: name, Qualifier: qual}, nil
}
