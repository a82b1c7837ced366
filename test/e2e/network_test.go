package e2e

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	knet "github.com/kumo-run/kumo/internal/netns"
)

// TestNetwork runs functions on the sandbox network (--network bridge,
// the default with the linux driver) against an "internet" of the
// test's own: a network namespace reached from the host through a veth
// with addresses of 198.18.0.0/15 (a benchmarking range on no real
// network). A function fetches from it through NAT; port 25 there, the
// host's listeners (loopback, bridge address, its address towards the
// internet) and other sandboxes are out of its reach, and nothing
// reaches a listening function. Then the server is killed with SIGKILL:
// the next start removes what it left and a clean stop leaves nothing.
func TestNetwork(t *testing.T) {
	requireLinuxDriver(t)
	if err := knet.Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	t.Parallel()
	world := newInternet(t)
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "--sandbox", "linux")
	edgeURL := logValue(t, s, "sandboxes reach the edge", "url")
	gw := strings.Split(strings.TrimPrefix(edgeURL, "http://"), ":")[0]
	lc := newSDK(t, s)
	fnBootstrap(t)
	deployFn(t, lc, "net-a", "a", fnConfig{Memory: 1024})
	deployFn(t, lc, "net-b", "b", fnConfig{Memory: 1024})

	// The host's own listeners; none may see a connection.
	var hostConns atomic.Int64
	hostListen := func(addr string) string {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				hostConns.Add(1)
				c.Close()
			}
		}()
		return ln.Addr().String()
	}
	hostLo := hostListen("127.0.0.1:0")
	hostGw := hostListen(gw + ":0")
	hostWorld := hostListen(world.host.String() + ":0")

	info := call(t, lc, "net-a", "", event("netinfo")).ok(t, "netinfo")
	if rc := jstr(info, "resolvConf"); rc != "nameserver "+gw+"\n" {
		t.Errorf("/etc/resolv.conf in the sandbox: %q, want the bridge address %s", rc, gw)
	}
	var aIP string
	for _, a := range jget(info, "addrs").([]any) {
		if s, _ := a.(string); strings.HasPrefix(s, "eth0 ") && strings.Contains(s, ".") {
			aIP = strings.Split(strings.TrimPrefix(s, "eth0 "), "/")[0]
		}
	}
	if aIP == "" {
		t.Fatalf("the sandbox has no IPv4 address on eth0: %v", jget(info, "addrs"))
	}

	t.Run("internet", func(t *testing.T) {
		r := call(t, lc, "net-a", "", event("fetch", "url", "http://"+world.addr.String()+"/")).ok(t, "fetch")
		if body := jstr(r, "body"); jnum(r, "status") != 200 || !strings.HasPrefix(body, "the internet saw "+world.host.String()+":") {
			t.Errorf("fetch from the internet: %v, want 200 from the host's address (NAT)", r)
		}
		r = call(t, lc, "net-a", "", event("dial", "addr", world.addr.String()+":7")).ok(t, "dial 7")
		if !strings.HasPrefix(jstr(r, "read"), "hello") {
			t.Errorf("tcp to the internet: %v", r)
		}
	})
	t.Run("blocked", func(t *testing.T) {
		for what, addr := range map[string]string{
			"port 25": world.addr.String() + ":25", "host loopback": hostLo,
			"bridge address": hostGw, "host address": hostWorld,
		} {
			r := call(t, lc, "net-a", "", event("dial", "addr", addr)).ok(t, "dial "+what)
			if jstr(r, "error") == "" {
				t.Errorf("%s (%s): the function connected: %v", what, addr, r)
			} else {
				t.Logf("%s: %s", what, jstr(r, "error"))
			}
		}
		if n := hostConns.Load(); n > 0 {
			t.Errorf("the host's listeners accepted %d connections from sandboxes", n)
		}
	})
	t.Run("edge", func(t *testing.T) {
		r := call(t, lc, "net-a", "", event("fetch", "url", edgeURL+"/healthz")).ok(t, "fetch the edge")
		if jnum(r, "status") != 200 {
			t.Errorf("GET %s/healthz from a sandbox: %v", edgeURL, r)
		}
	})
	t.Run("inbound", func(t *testing.T) {
		r := call(t, lc, "net-a", "", event("listen")).ok(t, "listen")
		if jstr(r, "error") != "" || jnum(r, "accepted") != 1 {
			t.Fatalf("listen: %v, want one connection from the function itself", r)
		}
		target := net.JoinHostPort(aIP, strconv.Itoa(int(jnum(r, "port"))))
		if c, err := net.DialTimeout("tcp", target, 5*time.Second); err == nil {
			c.Close()
			t.Errorf("the host connected to the function at %s", target)
		}
		if c, err := dialIn(world.ns, target); err == nil {
			c.Close()
			t.Errorf("the internet connected to the function at %s", target)
		}
		r = call(t, lc, "net-b", "", event("dial", "addr", target)).ok(t, "dial from b")
		if jstr(r, "error") == "" {
			t.Errorf("another function connected to the function at %s: %v", target, r)
		}
		r = call(t, lc, "net-a", "", event("accepted")).ok(t, "accepted")
		if jnum(r, "accepted") != 1 {
			t.Errorf("the function's listener accepted %v connections, want only its own", jnum(r, "accepted"))
		}
	})

	// SIGKILL: the bridge and the table stay behind until the next start.
	id := strings.TrimPrefix(cgroupParent(dataDir), "kumo-")
	s.cmd.Process.Kill()
	<-s.done
	if left := netLeftovers(t, id); !contains(left, "link kumo-"+id) || !contains(left, "table kumo-"+id) {
		t.Fatalf("after SIGKILL: %v, want the bridge and the table left", left)
	}
	s2 := startServer(t, dataDir, "--sandbox", "linux")
	call(t, newSDK(t, s2), "net-a", "", event("fetch", "url", "http://"+world.addr.String()+"/")).ok(t, "fetch after the restart")
	s2.stop()
	if left := netLeftovers(t, id); len(left) > 0 {
		t.Errorf("after a clean stop: %v left", left)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// logValue waits for a log line of the server with msg and returns its
// key's value.
func logValue(t *testing.T, s *server, msg, key string) string {
	t.Helper()
	re := regexp.MustCompile(`msg="` + regexp.QuoteMeta(msg) + `".* ` + key + `=(\S+)`)
	var v string
	eventually(t, 10*time.Second, "log line "+msg, func() error {
		m := re.FindStringSubmatch(s.stderr.String())
		if m == nil {
			return fmt.Errorf("no %q line", msg)
		}
		v = strings.Trim(m[1], `"`)
		return nil
	})
	return v
}

// netLeftovers lists the links and the nftables table of a server's
// sandbox network.
func netLeftovers(t *testing.T, id string) []string {
	t.Helper()
	var out []string
	links, err := netlink.LinkList()
	for i := 0; errors.Is(err, netlink.ErrDumpInterrupted) && i < 100; i++ {
		links, err = netlink.LinkList() // links changed during the dump
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if name := l.Attrs().Name; name == "kumo-"+id || strings.HasPrefix(name, "kv"+id) {
			out = append(out, "link "+name)
		}
	}
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListTableOfFamily("kumo-"+id, nftables.TableFamilyINet); err == nil {
		out = append(out, "table kumo-"+id)
	}
	return out
}

// internet is a network namespace standing for the world, reached from
// the host through a veth: the host's end has 198.18.N.1/24, the
// namespace's 198.18.N.2 with its default route back to the host. It
// serves HTTP on port 80 and a greeting on TCP ports 7 and 25.
type internet struct {
	ns         netns.NsHandle
	host, addr netip.Addr
}

func newInternet(t *testing.T) *internet {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	ns, err := netns.New()
	if err == nil {
		if err := netns.Set(orig); err != nil {
			panic(err) // the thread is in the wrong namespace: it must not be reused
		}
	}
	orig.Close()
	runtime.UnlockOSThread()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	b := make([]byte, 4)
	rand.Read(b)
	w := &internet{ns: ns, host: netip.AddrFrom4([4]byte{198, 18, b[0], 1}), addr: netip.AddrFrom4([4]byte{198, 18, b[0], 2})}
	la := netlink.NewLinkAttrs()
	la.Name = fmt.Sprintf("kw%x", b)
	la.Flags = net.FlagUp
	v := &netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(ns)}
	if err := netlink.LinkAdd(v); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netlink.LinkDel(v) })
	if err := netlink.AddrAdd(v, &netlink.Addr{IPNet: &net.IPNet{IP: w.host.AsSlice(), Mask: net.CIDRMask(24, 32)}}); err != nil {
		t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, name := range []string{"lo", "eth0"} {
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "eth0" {
			if err := h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: w.addr.AsSlice(), Mask: net.CIDRMask(24, 32)}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
		if name == "eth0" {
			if err := h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: w.host.AsSlice()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, port := range []string{"80", "7", "25"} {
		var ln net.Listener
		if err := inNS(ns, func() (err error) { ln, err = net.Listen("tcp", net.JoinHostPort(w.addr.String(), port)); return err }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		if port == "80" {
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "the internet saw %s", r.RemoteAddr)
			})}
			go srv.Serve(ln)
			continue
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				fmt.Fprintln(c, "hello from the internet")
				c.Close()
			}
		}()
	}
	return w
}

// inNS runs fn on a thread in ns; sockets made in fn stay in ns.
func inNS(ns netns.NsHandle, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		return err
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		panic(err)
	}
	return ferr
}

// dialIn connects from ns to addr over TCP and reads a line: only a
// connection the other side answers counts.
func dialIn(ns netns.NsHandle, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNS(ns, func() (err error) { c, err = net.DialTimeout("tcp", addr, 5*time.Second); return err })
	if err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
