package s3

import (
	"net/http"

	"github.com/kumo-run/kumo/internal/edge"
)

// Route is S3's entry in the edge's route table: requests signed for "s3"
// and, by host name, virtual-hosted requests to <bucket>.s3.<region>.localhost
// and <bucket>.s3.localhost, and presigned URLs. The service authenticates them itself
// (edge.AuthHandler): S3 streams bodies of up to 5 GiB and signs them in
// its own ways (see the package doc).
func Route(s http.Handler, region string) edge.Route {
	return edge.Route{
		Name: "s3",
		Match: []edge.Matcher{{Service: SigningName},
			{Host: "*.s3." + region + ".localhost"}, {Host: "*.s3.localhost"},
			// Presigned URLs carry their signature in the query.
			{Query: map[string]string{"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": "", "X-Amz-Signature": ""}},
			{Query: map[string]string{"AWSAccessKeyId": "", "Expires": "", "Signature": ""}},
			// CORS preflights and browser form uploads (POST Object)
			// are unsigned; S3's route is the edge's last, so OPTIONS
			// and POST no other route takes come here.
			{Method: http.MethodOptions}, {Method: http.MethodPost}},
		Auth:    edge.AuthHandler,
		Handler: s,
		Errors:  Errors,
	}
}
