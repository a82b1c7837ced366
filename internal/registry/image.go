package registry

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/image"
)

// Container-image functions (PackageType Image). The function record
// keeps the ImageUri as given and the URI pinned to the manifest digest
// it resolved to when the code was set (Code.Image); every node runs
// exactly that digest, pulling it into its local image cache when it
// lacks it. CodeSha256 is the digest's hex, as Lambda shows it.

// Images resolves and pulls container images (an *image.Cache).
type Images interface {
	// Resolve pins uri to its manifest digest for the architecture;
	// errors are *image.Error or the context's.
	Resolve(ctx context.Context, uri, arch string) (image.Resolved, error)
	// Root makes the pinned image's root file system ready on this
	// node.
	Root(ctx context.Context, pinned, arch string) (image.Root, error)
}

// ImageCode is where an Image function's code comes from.
type ImageCode struct {
	// URI is the ImageUri as given; Resolved is it pinned to a digest
	// (ResolvedImageUri).
	URI      string `json:"uri"`
	Resolved string `json:"resolved"`
}

// ImageConfig is the ImageConfig shape: overrides of the image's
// ENTRYPOINT, CMD and WORKDIR.
type ImageConfig struct {
	EntryPoint       []string `json:"EntryPoint,omitempty"`
	Command          []string `json:"Command,omitempty"`
	WorkingDirectory string   `json:"WorkingDirectory,omitempty"`
}

// ImageConfigResponse is the ImageConfigResponse shape.
type ImageConfigResponse struct {
	ImageConfig *ImageConfig      `json:"ImageConfig,omitempty"`
	Error       *ImageConfigError `json:"Error,omitempty"`
}

// ImageConfigError is the ImageConfigError shape.
type ImageConfigError struct {
	ErrorCode string `json:"ErrorCode,omitempty"`
	Message   string `json:"Message,omitempty"`
}

// Lambda's messages for package-type mismatches.
const (
	msgImageNoRuntime = "Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image."
	msgImageNeedsURI  = "Please provide ImageUri when the intended function PackageType is Image."
	msgZipNoImageURI  = "Please don't provide ImageUri when the intended function PackageType is Zip."
	msgZipNoImageCfg  = "Please don't provide ImageConfig when the intended function PackageType is Zip."
)

// set reports whether a raw JSON member was given a value.
func set(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// parseImageConfig validates an ImageConfig member (botocore: StringList
// at most 1,500 items, WorkingDirectory at most 1,000 characters).
func parseImageConfig(raw json.RawMessage) (*ImageConfig, error) {
	var ic ImageConfig
	if err := json.Unmarshal(raw, &ic); err != nil {
		return nil, awsproto.Errorf(awsproto.InvalidRequestContentException, "Could not parse request body into json: ImageConfig: %v", err)
	}
	if len(ic.EntryPoint) > 1500 {
		return nil, constraint(ic.EntryPoint, "imageConfig.entryPoint", "Member must have length less than or equal to 1500")
	}
	if len(ic.Command) > 1500 {
		return nil, constraint(ic.Command, "imageConfig.command", "Member must have length less than or equal to 1500")
	}
	if len(ic.WorkingDirectory) > 1000 {
		return nil, constraint(clip(ic.WorkingDirectory), "imageConfig.workingDirectory", "Member must have length less than or equal to 1000")
	}
	if ic.WorkingDirectory != "" && !strings.HasPrefix(ic.WorkingDirectory, "/") {
		return nil, invalid("The WorkingDirectory of ImageConfig must be an absolute path.")
	}
	if len(ic.EntryPoint) == 0 && len(ic.Command) == 0 && ic.WorkingDirectory == "" {
		return nil, nil
	}
	return &ic, nil
}

// applyImageConfig sets c's ImageConfig from a request member, refusing
// it for a Zip function.
func applyImageConfig(c *FunctionConfig, raw json.RawMessage) error {
	if !set(raw) {
		return nil
	}
	if c.PackageType != "Image" {
		return invalid(msgZipNoImageCfg)
	}
	ic, err := parseImageConfig(raw)
	if err != nil {
		return err
	}
	if ic == nil {
		c.ImageConfigResponse = nil
	} else {
		c.ImageConfigResponse = &ImageConfigResponse{ImageConfig: ic}
	}
	return nil
}

// resolveImage pins uri for the function's architecture, with Lambda's
// errors.
func (r *Registry) resolveImage(ctx context.Context, uri string, archs []string) (ImageCode, string, error) {
	if r.cfg.Images == nil {
		return ImageCode{}, "", notSupported("PackageType Image (this server has no image store)")
	}
	arch := "x86_64"
	if len(archs) > 0 {
		arch = archs[0]
	}
	res, err := r.cfg.Images.Resolve(ctx, uri, arch)
	if err != nil {
		return ImageCode{}, "", imageError(uri, err)
	}
	return ImageCode{URI: uri, Resolved: res.URI}, strings.TrimPrefix(res.Digest, "sha256:"), nil
}

// imageError is the client's error for an image that cannot be used.
func imageError(uri string, err error) error {
	var ae *awsproto.Error
	if errors.As(err, &ae) {
		return ae
	}
	var ie *image.Error
	if !errors.As(err, &ie) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return awsproto.Internal(err)
	}
	switch ie.Kind {
	case image.NotFound:
		return invalid("Source image %s does not exist. Provide a valid source image.", clip(uri))
	case image.Denied:
		return invalid("Lambda does not have permission to access the image %s. Check that the registry allows anonymous pulls.", clip(uri))
	case image.Unsupported:
		return invalid("The image manifest, config or layer media type for the source image %s is not supported.", clip(uri))
	case image.Unavailable:
		return awsproto.Errorf(awsproto.ServiceException, "Lambda could not reach the registry of the image %s: %v", clip(uri), ie.Err)
	default:
		return invalid("Source image %s is not valid. Provide a valid source image. %v", clip(uri), ie.Err)
	}
}

// prepareImage pulls a version's image into this node's cache, which is
// the preparation of an Image function before it becomes Active.
func (r *Registry) prepareImage(ctx context.Context, v *Version) error {
	if r.cfg.Images == nil {
		return errors.New("this server has no image store")
	}
	arch := "x86_64"
	if len(v.Config.Architectures) > 0 {
		arch = v.Config.Architectures[0]
	}
	_, err := r.cfg.Images.Root(ctx, v.Code.Image.Resolved, arch)
	return err
}

// finishImagePreparation marks an Image function whose image could not
// be pulled: Failed (create) or its update Failed, with Lambda's image
// reason codes.
func finishImagePreparation(c *FunctionConfig, err error) {
	code, reason := "InvalidImage", "Lambda was unable to pull the function's image: "+err.Error()
	var ie *image.Error
	if errors.As(err, &ie) {
		switch ie.Kind {
		case image.NotFound:
			code, reason = "ImageDeleted", "Source image "+ie.URI+" does not exist. Provide a valid source image."
		case image.Denied:
			code = "ImageAccessDenied"
		}
	}
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	if c.State == StatePending {
		c.State, c.StateReason, c.StateReasonCode = StateFailed, reason, code
		c.LastUpdateStatus = UpdateFailed
	} else if c.LastUpdateStatus == UpdateInProgress {
		c.LastUpdateStatus, c.LastUpdateStatusReason, c.LastUpdateStatusReasonCode = UpdateFailed, reason, code
	}
	c.RevisionId = newRevisionID()
}

// maxImagePulls bounds the image preparations running at once.
const maxImagePulls = 4

// imagePulls tracks image preparations, which may take minutes and so
// run on their own goroutines, never holding up the preparation of
// other functions: at most one per function, maxImagePulls in all.
type imagePulls struct {
	mu sync.Mutex
	// running holds the functions being prepared; true when asked again
	// meanwhile (the function changed), to run once more after.
	running map[string]bool
	slots   chan struct{}
}

// usesImage reports whether a function's pending preparation pulls an
// image.
func usesImage(st *fnState) bool {
	if st.fn.Latest.Code.Image != nil {
		return true
	}
	for _, v := range st.versions {
		if v.Code.Image != nil {
			return true
		}
	}
	return false
}

// dispatchPrepare prepares a function: inline, or for an Image function
// on a goroutine counted in r.done.
func (r *Registry) dispatchPrepare(ctx context.Context, name string) {
	st := r.view(name)
	if st == nil || !usesImage(st) {
		r.prepareFunction(ctx, name)
		return
	}
	p := &r.pulls
	p.mu.Lock()
	if p.running == nil {
		p.running, p.slots = map[string]bool{}, make(chan struct{}, maxImagePulls)
	}
	if _, busy := p.running[name]; busy {
		p.running[name] = true
		p.mu.Unlock()
		return
	}
	p.running[name] = false
	p.mu.Unlock()
	r.done.Add(1) // from prepareLoop, itself counted: Close waits for it
	go func() {
		defer r.done.Done()
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			p.mu.Lock()
			delete(p.running, name)
			p.mu.Unlock()
			return
		}
		defer func() { <-p.slots }()
		for {
			r.prepareFunction(ctx, name)
			p.mu.Lock()
			again := p.running[name] && ctx.Err() == nil
			if !again {
				delete(p.running, name)
			} else {
				p.running[name] = false
			}
			p.mu.Unlock()
			if !again {
				return
			}
		}
	}()
}
