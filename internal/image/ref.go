package image

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// LayoutScheme prefixes an ImageUri that names an OCI image layout
// directory on the server: oci:/abs/dir, oci:/abs/dir:tag (the tag is the
// org.opencontainers.image.ref.name annotation in the layout's index.json)
// or oci:/abs/dir@sha256:<hex>. Without a tag or digest the index must
// hold exactly one image.
const LayoutScheme = "oci:"

// Ref is a parsed ImageUri: an image in a registry or in an OCI layout.
type Ref struct {
	// URI is the ImageUri as given.
	URI string
	// Layout is the layout directory (clean, absolute) of an oci: URI;
	// Tag and Digest select the image in it.
	Layout, Tag string
	// Digest is the manifest digest the URI names ("sha256:<hex>"), if
	// it names one.
	Digest string
	// ref is the registry reference of a registry URI.
	ref name.Reference
}

// maxURI is the longest ImageUri accepted (a registry name, repository
// and digest fit well inside it).
const maxURI = 1024

// Parse parses an ImageUri: "host[:port]/repository[:tag|@sha256:<hex>]"
// (the registry host is required: Kumo has no default registry) or the
// oci: form of LayoutScheme.
func Parse(uri string) (Ref, error) {
	if uri == "" || len(uri) > maxURI || strings.ContainsAny(uri, " \t\r\n") {
		return Ref{}, &Error{Kind: Invalid, URI: uri, Err: fmt.Errorf("malformed image URI")}
	}
	if rest, ok := strings.CutPrefix(uri, LayoutScheme); ok {
		return parseLayout(uri, rest)
	}
	host, _, ok := strings.Cut(uri, "/")
	if !ok || !strings.ContainsAny(host, ".:") && host != "localhost" {
		return Ref{}, &Error{Kind: Invalid, URI: uri, Err: fmt.Errorf("the image URI must name its registry host")}
	}
	r, err := name.ParseReference(uri, name.StrictValidation)
	if err != nil {
		// StrictValidation wants a tag or digest; an untagged name means
		// :latest, as for docker pull.
		r, err = name.ParseReference(uri+":latest", name.StrictValidation)
		if err != nil {
			return Ref{}, &Error{Kind: Invalid, URI: uri, Err: err}
		}
	}
	out := Ref{URI: uri, ref: r}
	if d, ok := r.(name.Digest); ok {
		out.Digest = d.DigestStr()
	}
	return out, nil
}

func parseLayout(uri, rest string) (Ref, error) {
	bad := func(why string) (Ref, error) {
		return Ref{}, &Error{Kind: Invalid, URI: uri, Err: fmt.Errorf("%s", why)}
	}
	out := Ref{URI: uri}
	if dir, d, ok := strings.Cut(rest, "@"); ok {
		if !validDigest(d) {
			return bad("the digest must be sha256:<64 hex digits>")
		}
		rest, out.Digest = dir, d
	} else if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		rest, out.Tag = rest[:i], rest[i+1:]
		if out.Tag == "" {
			return bad("empty tag")
		}
	}
	if !filepath.IsAbs(rest) || filepath.Clean(rest) != rest {
		return bad("an oci: layout must be a clean absolute directory path")
	}
	out.Layout = rest
	return out, nil
}

func validDigest(d string) bool {
	hex, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for _, c := range hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Pinned is the URI of the image with digest d: the repository (or
// layout) @d. It is what ResolvedImageUri shows, and what a node pulls.
func (r Ref) Pinned(d string) string {
	if r.Layout != "" {
		return LayoutScheme + r.Layout + "@" + d
	}
	return r.ref.Context().Name() + "@" + d
}
