//go:build linux

package linux

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"

	"github.com/vishvananda/netns"
)

// DialContext opens a TCP connection to a port on the sandbox's own
// loopback (addr's host is ignored: only 127.0.0.1 inside is reached),
// for the server's deliveries to a listener in the sandbox (an
// extension's Telemetry API subscriber). The socket is made in the
// sandbox's network namespace by a thread that enters it for the call and
// leaves it after, so no process of the server joins the sandbox and the
// sandbox gains no route out.
func (b *box) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" {
		return nil, fmt.Errorf("sandbox dial: network %q: only tcp", network)
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox dial: %w", err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return nil, fmt.Errorf("sandbox dial: port %q", port)
	}
	if b.cmd == nil || b.cmd.Process == nil {
		return nil, errors.New("sandbox dial: the sandbox has no init")
	}
	target, err := netns.GetFromPid(b.cmd.Process.Pid)
	if err != nil {
		return nil, fmt.Errorf("sandbox dial: the sandbox's network: %w", err)
	}
	defer target.Close()

	type result struct {
		conn net.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		host, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer host.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp4", net.JoinHostPort("127.0.0.1", port))
		if netns.Set(host) == nil {
			// Only a thread back in the server's namespace goes back to
			// the scheduler; one that cannot leave ends with this
			// goroutine.
			runtime.UnlockOSThread()
		}
		ch <- result{conn, err}
	}()
	r := <-ch
	return r.conn, r.err
}
