package lambda

import (
	"net/http"

	"github.com/kumo-run/kumo/internal/registry"
)

// codeLocation is GetFunction's Code: a signed download link for a zip,
// the image URI as given and as pinned to its digest for an image (the
// repository type Lambda shows for images is ECR's, whatever the
// registry).
func codeLocation(a *API, r *http.Request, c registry.Code) functionCodeLocation {
	if c.Image != nil {
		return functionCodeLocation{RepositoryType: "ECR", ImageUri: c.Image.URI, ResolvedImageUri: c.Image.Resolved}
	}
	return functionCodeLocation{RepositoryType: "S3", Location: a.urls.URL(r, c.Blob)}
}
