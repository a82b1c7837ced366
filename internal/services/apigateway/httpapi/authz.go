package httpapi

import (
	"net/http"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
)

// API Gateway's management actions are the HTTP methods themselves
// (apigateway:GET, apigateway:POST, apigateway:PATCH, apigateway:DELETE,
// apigateway:PUT) on the resource the path names,
// arn:aws:apigateway:REGION::/apis/ID/routes/ROUTE-ID, as the Service
// Authorization Reference lists them. operations names, for every
// pattern of handlers, the action and how its resource is named.
var operations = map[string]operation{}

// operation is one pattern's IAM action and whether its resource is the
// tagged ARN in the path (the tag operations) rather than the path itself.
type operation struct {
	action string
	tagged bool
}

func init() {
	for pattern := range (&API{}).handlers() {
		method, path, _ := strings.Cut(pattern, " ")
		operations[pattern] = operation{action: "apigateway:" + method, tagged: strings.HasPrefix(path, "/v2/tags/")}
	}
}

// authorize checks the caller of r against the operation of pattern.
func (a *API) authorize(r *http.Request, pattern string) error {
	if a.cfg.Authorizer == nil {
		return nil
	}
	op := operations[pattern]
	res := r.PathValue("arn")
	if !op.tagged {
		res = "arn:aws:apigateway:" + a.cfg.Region + "::" + strings.TrimPrefix(r.URL.Path, "/v2")
	}
	return a.cfg.Authorizer.Authorize(r.Context(), authz.Check{Action: op.action, Resource: res,
		SourceIP: authz.SourceIP(r), Denied: awsproto.APIGatewayAccessDenied})
}
