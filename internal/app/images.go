package app

import (
	"context"
	"sync/atomic"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/image"
)

// imageGate is the registry's image store: the node's image cache,
// refusing new container-image code once the sandbox driver turns out
// unable to give a sandbox an image's root (the process driver), so a
// user learns it at CreateFunction rather than at every Invoke.
type imageGate struct {
	*image.Cache
	refusal atomic.Pointer[string]
}

// refuse makes Resolve answer InvalidParameterValueException with why.
func (g *imageGate) refuse(why string) { g.refusal.Store(&why) }

func (g *imageGate) Resolve(ctx context.Context, uri, arch string) (image.Resolved, error) {
	if why := g.refusal.Load(); why != nil {
		return image.Resolved{}, awsproto.Errorf(awsproto.InvalidParameterValueException, "%s", *why)
	}
	return g.Cache.Resolve(ctx, uri, arch)
}
