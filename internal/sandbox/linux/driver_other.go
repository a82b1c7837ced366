//go:build !linux

package linux

import (
	"context"
	"errors"

	"github.com/kumo-run/kumo/internal/sandbox"
)

// Driver is the linux driver on a system that is not Linux: it is never
// available.
type Driver struct{}

var errNotLinux = errors.New("the linux sandbox driver needs Linux")

// New returns a driver whose Available reports that it needs Linux.
func New(cfg Config) *Driver { return &Driver{} }

func (d *Driver) Available() error                   { return errNotLinux }
func (d *Driver) Name() string                       { return "linux" }
func (d *Driver) Capabilities() sandbox.Capabilities { return sandbox.Capabilities{} }
func (d *Driver) Cleanup(ctx context.Context) error  { return errNotLinux }
func (d *Driver) Close() error                       { return nil }
func (d *Driver) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Sandbox, error) {
	return nil, errNotLinux
}

var _ sandbox.Driver = (*Driver)(nil)
