package image

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Config is what Kumo runs from an image's configuration.
type Config struct {
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	Env        []string `json:"env,omitempty"`
}

// Resolved is an image pinned to its manifest digest.
type Resolved struct {
	// URI is the pinned URI (Ref.Pinned), Lambda's ResolvedImageUri.
	URI string
	// Digest is the manifest digest, "sha256:<hex>".
	Digest string
	Config Config
}

// Puller finds images in registries (the registry HTTP API v2) and in
// OCI layouts. Registries on localhost, loopback, RFC 1918 addresses and
// .local names are spoken to over plain HTTP, every other over HTTPS.
// Pulls are anonymous: a registry that answers with a bearer-token
// challenge is asked for an anonymous token, as docker pull does without
// a login. Safe for concurrent use.
type Puller struct {
	// LayoutDirs are the directories under which oci: layouts may be
	// read; a layout elsewhere is refused (an ImageUri must not make the
	// server read arbitrary host files). Empty: oci: URIs are refused.
	LayoutDirs []string
	// Registries are the registry hosts (host or host:port, as the
	// ImageUri spells them) images may be pulled from; empty allows any.
	// A caller of CreateFunction names the host the server fetches from,
	// so a server reachable by tenants it does not trust lists its own.
	Registries []string
	// Transport carries registry requests; remote.DefaultTransport when
	// nil.
	Transport http.RoundTripper
}

// platform is the image platform for a Lambda architecture.
func platform(arch string) v1.Platform {
	if arch == "arm64" {
		return v1.Platform{OS: "linux", Architecture: "arm64"}
	}
	return v1.Platform{OS: "linux", Architecture: "amd64"}
}

// Resolve finds the image uri names for the architecture (x86_64 or
// arm64; an index is resolved to that platform's image) and returns it
// pinned, with its configuration. It reads manifests and the config
// blob, no layers. Errors are *Error.
func (p *Puller) Resolve(ctx context.Context, uri, arch string) (Resolved, error) {
	ref, err := Parse(uri)
	if err != nil {
		return Resolved{}, err
	}
	img, err := p.image(ctx, ref, arch)
	if err != nil {
		return Resolved{}, err
	}
	return resolved(ref, img)
}

func resolved(ref Ref, img v1.Image) (Resolved, error) {
	d, err := img.Digest()
	if err != nil {
		return Resolved{}, classify(ref.URI, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return Resolved{}, classify(ref.URI, err)
	}
	if cf.OS != "" && cf.OS != "linux" {
		return Resolved{}, &Error{Kind: Unsupported, URI: ref.URI, Err: fmt.Errorf("image OS %q: Lambda runs linux images", cf.OS)}
	}
	c := cf.Config
	return Resolved{
		URI: ref.Pinned(d.String()), Digest: d.String(),
		Config: Config{Entrypoint: c.Entrypoint, Cmd: c.Cmd, WorkingDir: c.WorkingDir, Env: c.Env},
	}, nil
}

// image finds ref's image for arch.
func (p *Puller) image(ctx context.Context, ref Ref, arch string) (v1.Image, error) {
	if ref.Layout != "" {
		return p.layoutImage(ref, arch)
	}
	if host := ref.ref.Context().RegistryStr(); len(p.Registries) > 0 && !slices.Contains(p.Registries, host) {
		return nil, &Error{Kind: Invalid, URI: ref.URI, Err: fmt.Errorf("registry %s is not one this server pulls from", host)}
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(authn.Anonymous), remote.WithPlatform(platform(arch))}
	if p.Transport != nil {
		opts = append(opts, remote.WithTransport(p.Transport))
	}
	desc, err := remote.Get(ref.ref, opts...)
	if err != nil {
		return nil, classify(ref.URI, err)
	}
	if err := checkMediaType(ref.URI, desc.MediaType); err != nil {
		return nil, err
	}
	img, err := desc.Image() // an index: the platform's image
	if err != nil {
		return nil, classify(ref.URI, err)
	}
	return img, nil
}

func checkMediaType(uri string, mt types.MediaType) error {
	switch mt {
	case types.OCIManifestSchema1, types.DockerManifestSchema2, types.OCIImageIndex, types.DockerManifestList:
		return nil
	}
	return &Error{Kind: Unsupported, URI: uri, Err: fmt.Errorf("manifest media type %q", mt)}
}

// layoutImage finds ref's image in its OCI layout.
func (p *Puller) layoutImage(ref Ref, arch string) (v1.Image, error) {
	if !p.layoutAllowed(ref.Layout) {
		return nil, &Error{Kind: Invalid, URI: ref.URI, Err: errors.New("OCI layouts are read only under the server's image layout directories")}
	}
	idx, err := layout.ImageIndexFromPath(ref.Layout)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{Kind: NotFound, URI: ref.URI, Err: err}
		}
		return nil, &Error{Kind: Invalid, URI: ref.URI, Err: err}
	}
	for depth := 0; depth < 4; depth++ {
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, &Error{Kind: Invalid, URI: ref.URI, Err: err}
		}
		var pick *v1.Descriptor
		var n int
		for i := range im.Manifests {
			d := &im.Manifests[i]
			match := false
			switch {
			case ref.Digest != "":
				match = d.Digest.String() == ref.Digest
			case ref.Tag != "" && depth == 0:
				match = d.Annotations["org.opencontainers.image.ref.name"] == ref.Tag
			default:
				match = d.Platform == nil || d.Platform.Satisfies(platform(arch))
			}
			if match {
				pick = d
				n++
			}
		}
		if pick == nil && ref.Digest != "" {
			// A pinned image picked from a nested index (a
			// multi-platform layout) is not in the top index.
			if img := findDigest(idx, ref.Digest, 0); img != nil {
				return img, nil
			}
		}
		if pick == nil || n > 1 && ref.Digest == "" && ref.Tag == "" {
			if n > 1 {
				return nil, &Error{Kind: Invalid, URI: ref.URI, Err: errors.New("the layout holds several images: name one with :tag or @digest")}
			}
			return nil, &Error{Kind: NotFound, URI: ref.URI, Err: errors.New("no such image in the layout")}
		}
		switch pick.MediaType {
		case types.OCIManifestSchema1, types.DockerManifestSchema2:
			img, err := idx.Image(pick.Digest)
			if err != nil {
				return nil, &Error{Kind: Invalid, URI: ref.URI, Err: err}
			}
			return img, nil
		case types.OCIImageIndex, types.DockerManifestList:
			if idx, err = idx.ImageIndex(pick.Digest); err != nil {
				return nil, &Error{Kind: Invalid, URI: ref.URI, Err: err}
			}
			// Inside a nested index the platform decides.
			ref.Digest, ref.Tag = "", ""
		default:
			return nil, checkMediaType(ref.URI, pick.MediaType)
		}
	}
	return nil, &Error{Kind: Unsupported, URI: ref.URI, Err: errors.New("indexes nested too deeply")}
}

func (p *Puller) layoutAllowed(dir string) bool {
	for _, root := range p.LayoutDirs {
		root = filepath.Clean(root)
		if dir == root || strings.HasPrefix(dir, root+string(filepath.Separator)) {
			// No symlink may lead out of the allowed directory.
			real, err := filepath.EvalSymlinks(dir)
			if err != nil {
				return true // not there: NotFound follows
			}
			rr, err := filepath.EvalSymlinks(root)
			return err == nil && (real == rr || strings.HasPrefix(real, rr+string(filepath.Separator)))
		}
	}
	return false
}

// classify turns a go-containerregistry error into an *Error.
func classify(uri string, err error) error {
	var ie *Error
	if errors.As(err, &ie) {
		return err
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusNotFound:
			return &Error{Kind: NotFound, URI: uri, Err: err}
		case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden:
			// Registries answer 401 for a repository that does not
			// exist as well as for one that is private.
			return &Error{Kind: Denied, URI: uri, Err: err}
		case te.StatusCode >= 500 || te.StatusCode == http.StatusTooManyRequests:
			return &Error{Kind: Unavailable, URI: uri, Err: err}
		}
		for _, d := range te.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
				return &Error{Kind: NotFound, URI: uri, Err: err}
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return &Error{Kind: Denied, URI: uri, Err: err}
			}
		}
		return &Error{Kind: Invalid, URI: uri, Err: err}
	}
	if strings.Contains(err.Error(), "no child with platform") {
		return &Error{Kind: Unsupported, URI: uri, Err: err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var de *net.DNSError
	if errors.As(err, &de) && de.IsNotFound {
		// No such registry host: the image does not exist.
		return &Error{Kind: NotFound, URI: uri, Err: err}
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) || strings.Contains(err.Error(), "connection refused") {
		return &Error{Kind: Unavailable, URI: uri, Err: err}
	}
	return &Error{Kind: Invalid, URI: uri, Err: err}
}

// findDigest looks for the image with digest h in idx and the indexes
// it nests.
func findDigest(idx v1.ImageIndex, h string, depth int) v1.Image {
	im, err := idx.IndexManifest()
	if err != nil || depth > 4 {
		return nil
	}
	for _, d := range im.Manifests {
		if d.Digest.String() == h && (d.MediaType == types.OCIManifestSchema1 || d.MediaType == types.DockerManifestSchema2) {
			if img, err := idx.Image(d.Digest); err == nil {
				return img
			}
		}
	}
	for _, d := range im.Manifests {
		if d.MediaType == types.OCIImageIndex || d.MediaType == types.DockerManifestList {
			if child, err := idx.ImageIndex(d.Digest); err == nil {
				if img := findDigest(child, h, depth+1); img != nil {
					return img
				}
			}
		}
	}
	return nil
}
