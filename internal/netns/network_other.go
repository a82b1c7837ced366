//go:build !linux

package netns

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
)

var errNotLinux = errors.New("sandbox networking needs Linux")

// Config configures a Network; see the Linux build.
type Config struct {
	ID        string
	Range     string
	Resolvers []string
	Logger    *slog.Logger
}

// Network is unavailable outside Linux.
type Network struct{}

// Available reports that sandbox networking needs Linux.
func Available() error { return errNotLinux }

// Start fails outside Linux.
func Start(context.Context, Config) (*Network, error) { return nil, errNotLinux }

// Cleanup has nothing to do outside Linux.
func Cleanup(string, *slog.Logger) error { return nil }

func (n *Network) Gateway() netip.Addr                               { return netip.Addr{} }
func (n *Network) Range() netip.Prefix                               { return netip.Prefix{} }
func (n *Network) ResolvConf() []byte                                { return nil }
func (n *Network) EdgeURL() string                                   { return "" }
func (n *Network) ListenEdge(int) (net.Listener, error)              { return nil, errNotLinux }
func (n *Network) Close() error                                      { return nil }
func (n *Network) Attach(context.Context, int) (func() error, error) { return nil, errNotLinux }
func (n *Network) AttachPolicy(context.Context, int) (func() error, func(*Policy) error, error) {
	return nil, nil, errNotLinux
}
