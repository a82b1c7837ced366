package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sync/singleflight"
)

// Cache keeps the unpacked root file systems of images on local disk, one
// per manifest digest, shared by every sandbox of that digest:
//
//	Dir/<hex>/rootfs       the image's layers unpacked in order
//	Dir/<hex>/config.json  its Config
//	Dir/.tmp-*             an unpacking in progress (removed at New)
//
// A digest directory is made complete under a temporary name and renamed
// into place, so one that exists is whole. The cache is only a cache: a
// node that lacks a root pulls it again from the pinned URI the function
// record keeps. Safe for concurrent use; concurrent requests for one
// digest pull it once.
type Cache struct {
	dir    string
	puller *Puller
	max    int64
	group  singleflight.Group
}

// NewCache returns a cache in dir (created if needed) pulling with p;
// max bounds an image's unpacked size (MaxUnpacked when zero). It removes
// what an interrupted unpacking left.
func NewCache(dir string, p *Puller, max int64) (*Cache, error) {
	if max <= 0 {
		max = MaxUnpacked
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	for _, t := range tmps {
		if err := os.RemoveAll(t); err != nil {
			return nil, err
		}
	}
	return &Cache{dir: dir, puller: p, max: max}, nil
}

// Puller is the cache's puller.
func (c *Cache) Puller() *Puller { return c.puller }

// Root is an unpacked image.
type Root struct {
	// Dir is the root file system, read-only by convention: nothing may
	// write to it once it is in place.
	Dir    string
	Config Config
}

// Root returns the root of the image pinned (a Resolved.URI, which names
// its digest), pulling and unpacking it first if this node has not. arch
// picks the platform as Resolve does.
func (c *Cache) Root(ctx context.Context, pinned, arch string) (Root, error) {
	ref, err := Parse(pinned)
	if err != nil {
		return Root{}, err
	}
	if ref.Digest == "" {
		return Root{}, &Error{Kind: Invalid, URI: pinned, Err: errors.New("not pinned to a digest")}
	}
	hex := strings.TrimPrefix(ref.Digest, "sha256:")
	final := filepath.Join(c.dir, hex)
	if r, err := readRoot(final); err == nil {
		return r, nil
	}
	ch := c.group.DoChan(hex, func() (any, error) {
		// The pull is shared: it must not end with the first caller.
		return c.pull(context.WithoutCancel(ctx), ref, arch, final)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return Root{}, res.Err
		}
		return res.Val.(Root), nil
	case <-ctx.Done():
		return Root{}, ctx.Err()
	}
}

func readRoot(dir string) (Root, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return Root{}, err
	}
	var cfg Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return Root{}, err
	}
	return Root{Dir: filepath.Join(dir, "rootfs"), Config: cfg}, nil
}

func (c *Cache) pull(ctx context.Context, ref Ref, arch, final string) (Root, error) {
	if r, err := readRoot(final); err == nil {
		return r, nil
	}
	img, err := c.puller.image(ctx, ref, arch)
	if err != nil {
		return Root{}, err
	}
	res, err := resolved(ref, img)
	if err != nil {
		return Root{}, err
	}
	if res.Digest != ref.Digest {
		return Root{}, &Error{Kind: Invalid, URI: ref.URI, Err: fmt.Errorf("the image has digest %s", res.Digest)}
	}
	tmp, err := os.MkdirTemp(c.dir, ".tmp-")
	if err != nil {
		return Root{}, err
	}
	defer os.RemoveAll(tmp)
	rc := mutate.Extract(img)
	err = Unpack(rc, filepath.Join(tmp, "rootfs"), c.max)
	rc.Close()
	if errors.Is(err, ErrTooLarge) {
		return Root{}, &Error{Kind: TooLarge, URI: ref.URI, Err: err}
	}
	if err != nil {
		return Root{}, classify(ref.URI, err)
	}
	b, _ := json.Marshal(res.Config)
	if err := os.WriteFile(filepath.Join(tmp, "config.json"), b, 0o644); err != nil {
		return Root{}, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return Root{}, err
	}
	if err := os.Rename(tmp, final); err != nil {
		if r, rerr := readRoot(final); rerr == nil {
			return r, nil // another process put it there
		}
		return Root{}, err
	}
	return readRoot(final)
}

// Resolve is the cache's puller's Resolve.
func (c *Cache) Resolve(ctx context.Context, uri, arch string) (Resolved, error) {
	return c.puller.Resolve(ctx, uri, arch)
}
