package netns_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	knet "github.com/kumo-run/kumo/internal/netns"
)

// requireNetwork skips the test unless it can build networks: root and
// nftables.
func requireNetwork(t testing.TB) {
	t.Helper()
	if err := knet.Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
}

// randomID is a network ID for a test: "t" and 7 hex digits, which no
// server's ID (8 hex digits) can be.
func randomID(t testing.TB) string {
	b := make([]byte, 4)
	rand.Read(b)
	return "t" + hex.EncodeToString(b)[:7]
}

// newNS returns a new network namespace with lo up; it is removed when
// the test ends.
func newNS(t testing.TB) netns.NsHandle {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := netns.Set(orig); err != nil {
		panic(err) // the thread is in the wrong namespace: it must not be reused
	}
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	return ns
}

// in runs fn on a thread in ns. Sockets made in fn stay in ns.
func in(ns netns.NsHandle, fn func() error) error {
	if ns == netns.None() { // the host's
		return fn()
	}
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

// dialFrom connects from ns; a connection the network forbids fails
// (refused at once, or unanswered within a few seconds).
func dialFrom(ns netns.NsHandle, network, addr string) (c net.Conn, err error) {
	err = in(ns, func() error {
		c, err = net.DialTimeout(network, addr, 5*time.Second)
		return err
	})
	return c, err
}

func listenIn(t testing.TB, ns netns.NsHandle, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	if err := in(ns, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello from %s\n", ln.Addr())
			c.Close()
		}
	}()
	return ln
}

// internet is a namespace standing for the world: reached from the host
// by a veth with addresses in 198.18.0.0/15 (the benchmarking range, on
// no real network), serving HTTP on port 80 and TCP on 25 and 7.
type internet struct {
	ns   netns.NsHandle
	host netip.Addr // the host's end
	addr netip.Addr // the internet's
}

func newInternet(t testing.TB) *internet {
	t.Helper()
	ns := newNS(t)
	b := make([]byte, 1)
	rand.Read(b)
	host := netip.AddrFrom4([4]byte{198, 18, b[0], 1})
	far := netip.AddrFrom4([4]byte{198, 18, b[0], 2})
	name := "ki" + randomID(t)[1:]
	la := netlink.NewLinkAttrs()
	la.Name = name
	la.Flags = net.FlagUp
	v := &netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(ns)}
	if err := netlink.LinkAdd(v); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netlink.LinkDel(v) })
	if err := netlink.AddrAdd(v, &netlink.Addr{IPNet: &net.IPNet{IP: host.AsSlice(), Mask: net.CIDRMask(24, 32)}}); err != nil {
		t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	peer, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.AddrAdd(peer, &netlink.Addr{IPNet: &net.IPNet{IP: far.AsSlice(), Mask: net.CIDRMask(24, 32)}}); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(peer); err != nil {
		t.Fatal(err)
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: peer.Attrs().Index, Gw: host.AsSlice()}); err != nil {
		t.Fatal(err)
	}
	var web net.Listener
	if err := in(ns, func() (err error) { web, err = net.Listen("tcp", far.String()+":80"); return err }); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "the internet saw %s", r.RemoteAddr)
	})}
	go srv.Serve(web)
	t.Cleanup(func() { srv.Close() })
	listenIn(t, ns, far.String()+":25")
	listenIn(t, ns, far.String()+":7")
	return &internet{ns: ns, host: host, addr: far}
}

func startNetwork(t testing.TB, resolvers ...string) (*knet.Network, string) {
	t.Helper()
	id := randomID(t)
	n, err := knet.Start(context.Background(), knet.Config{ID: id, Resolvers: resolvers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return n, id
}

func attach(t testing.TB, n *knet.Network) (netns.NsHandle, *knet.Attachment) {
	t.Helper()
	ns := newNS(t)
	a, err := n.AttachNS(context.Background(), ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Detach() })
	return ns, a
}

func httpGetFrom(ns netns.NsHandle, url string) (string, error) {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialFrom(ns, network, addr)
		},
	}}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func readLine(c net.Conn) (string, error) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return bufio.NewReader(c).ReadString('\n')
}

// mustNotConnect fails the test if from can open a TCP connection to
// addr that the other side answers.
func mustNotConnect(t *testing.T, ns netns.NsHandle, addr, what string) {
	t.Helper()
	c, err := dialFrom(ns, "tcp", addr)
	if err != nil {
		t.Logf("%s: %v (as it should)", what, err)
		return
	}
	line, err := readLine(c)
	if err == nil {
		t.Errorf("%s: connected to %s and read %q", what, addr, line)
	}
}

func TestSandboxNetwork(t *testing.T) {
	requireNetwork(t)
	world := newInternet(t)
	// The host's resolver, on its loopback: answers every query with
	// "answer:" and the query.
	dnsUp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dnsUp.Close()
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := dnsUp.ReadFrom(buf)
			if err != nil {
				return
			}
			dnsUp.WriteTo(append([]byte("answer:"), buf[:n]...), from)
		}
	}()
	n, _ := startNetwork(t, dnsUp.LocalAddr().String())
	gw := n.Gateway()

	// The host's own listeners: on loopback, on the bridge address, on
	// its address towards the internet, and its edge.
	hostLo := listenIn(t, netns.None(), "127.0.0.1:0")
	hostGw := listenIn(t, netns.None(), gw.String()+":0")
	hostWorld := listenIn(t, netns.None(), world.host.String()+":0")
	edgeLn, err := n.ListenEdge(0)
	if err != nil {
		t.Fatal(err)
	}
	edge := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "edge")
	})}
	go edge.Serve(edgeLn)
	defer edge.Close()

	a, aAtt := attach(t, n)
	b, _ := attach(t, n)
	if !n.Range().Contains(aAtt.Addr()) {
		t.Fatalf("sandbox address %s outside %s", aAtt.Addr(), n.Range())
	}

	t.Run("fetches from the internet through NAT", func(t *testing.T) {
		body, err := httpGetFrom(a, "http://"+world.addr.String()+"/")
		if err != nil {
			t.Fatal(err)
		}
		if want := "the internet saw " + world.host.String() + ":"; !strings.HasPrefix(body, want) {
			t.Fatalf("got %q, want it from the host's address (%q…)", body, want)
		}
		c, err := dialFrom(a, "tcp", world.addr.String()+":7")
		if err != nil {
			t.Fatal(err)
		}
		if line, err := readLine(c); err != nil || !strings.HasPrefix(line, "hello") {
			t.Fatalf("tcp 7: %q, %v", line, err)
		}
	})
	t.Run("no smtp", func(t *testing.T) {
		mustNotConnect(t, a, world.addr.String()+":25", "port 25")
	})
	t.Run("host unreachable", func(t *testing.T) {
		mustNotConnect(t, a, hostLo.Addr().String(), "host loopback")
		mustNotConnect(t, a, hostGw.Addr().String(), "bridge address")
		mustNotConnect(t, a, world.host.String()+":"+port(hostWorld), "host address")
	})
	t.Run("edge reachable", func(t *testing.T) {
		body, err := httpGetFrom(a, n.EdgeURL()+"/")
		if err != nil || body != "edge" {
			t.Fatalf("edge at %s: %q, %v", n.EdgeURL(), body, err)
		}
	})
	t.Run("dns relayed", func(t *testing.T) {
		for _, proto := range []string{"udp", "tcp"} {
			c, err := dialFrom(a, proto, gw.String()+":53")
			if err != nil {
				t.Fatalf("%s: %v", proto, err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			var got []byte
			if proto == "udp" {
				c.Write([]byte("query"))
				buf := make([]byte, 512)
				k, err := c.Read(buf)
				if err != nil {
					t.Fatalf("udp: %v", err)
				}
				got = buf[:k]
				if string(got) != "answer:query" {
					t.Errorf("udp: got %q", got)
				}
			} else {
				// TCP: the relay needs a resolver speaking TCP; the
				// test's only speaks UDP, so the connection is made
				// (the port is open to sandboxes) and then closed.
				c.Write([]byte{0, 5, 'q', 'u', 'e', 'r', 'y'})
				io.ReadAll(c)
			}
			c.Close()
		}
	})
	t.Run("no connections into sandboxes", func(t *testing.T) {
		ln := listenIn(t, a, "0.0.0.0:0")
		target := aAtt.Addr().String() + ":" + port(ln)
		// The sandbox's listener works inside it.
		if c, err := dialFrom(a, "tcp", target); err != nil {
			t.Fatalf("from inside: %v", err)
		} else if _, err := readLine(c); err != nil {
			t.Fatalf("from inside: %v", err)
		}
		mustNotConnect(t, netns.None(), target, "from the host")
		mustNotConnect(t, b, target, "from another sandbox")
		mustNotConnect(t, world.ns, target, "from the internet")
	})
}

func port(ln net.Listener) string { return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) }

// leftovers lists what a network with id has on the host.
func leftovers(t *testing.T, id string) []string {
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

// A server killed with SIGKILL leaves its bridge, table and the veths of
// sandboxes whose namespaces outlive it; the next Start (or Cleanup)
// removes them.
func TestCleanupAfterCrash(t *testing.T) {
	requireNetwork(t)
	if os.Getenv("KUMO_NETNS_CRASH_CHILD") != "" {
		t.Skip("the crashing child")
	}
	id := randomID(t)
	sbx := newNS(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), "KUMO_NETNS_CRASH_CHILD="+id)
	f := os.NewFile(uintptr(sbx), "sandbox-ns")
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	ready := false
	for sc.Scan() {
		if sc.Text() == "attached" {
			ready = true
			break
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if !ready {
		t.Fatal("the child never attached")
	}
	left := leftovers(t, id)
	if len(left) < 3 { // bridge, veth, table
		t.Fatalf("after the crash: %v, want the bridge, a veth and the table", left)
	}
	// A server of another ID that starts now removes the network of the
	// one that is gone: its owner record names a dead process.
	other, err := knet.Start(context.Background(), knet.Config{ID: randomID(t), Resolvers: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, id); len(left) > 0 {
		t.Errorf("a server of another ID left the dead server's %v", left)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	n, err := knet.Start(context.Background(), knet.Config{ID: id, Resolvers: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leftovers(t, id) {
		if strings.HasPrefix(l, "link kv") {
			t.Errorf("Start kept the crashed run's %s", l)
		}
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, id); len(left) > 0 {
		t.Fatalf("after Close: %v", left)
	}
	// Cleanup alone does it too.
	if err := knet.Cleanup(id, nil); err != nil {
		t.Fatal(err)
	}
}

// TestCrashChild is the server that crashes in TestCleanupAfterCrash.
func TestCrashChild(t *testing.T) {
	id := os.Getenv("KUMO_NETNS_CRASH_CHILD")
	if id == "" {
		t.Skip("only run by TestCleanupAfterCrash")
	}
	n, err := knet.Start(context.Background(), knet.Config{ID: id, Resolvers: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.AttachNS(context.Background(), netns.NsHandle(3)); err != nil {
		t.Fatal(err)
	}
	fmt.Println("attached")
	select {}
}

// BenchmarkAttach measures what attaching adds to a sandbox's start (the
// namespace exists already, as in the sandbox driver), and Detach apart.
func BenchmarkAttach(b *testing.B) {
	requireNetwork(b)
	n, _ := startNetwork(b, "127.0.0.1")
	var detach time.Duration
	for b.Loop() {
		b.StopTimer()
		ns := newNS(b)
		b.StartTimer()
		a, err := n.AttachNS(context.Background(), ns)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		t0 := time.Now()
		a.Detach()
		detach += time.Since(t0)
		ns.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(detach.Microseconds())/float64(b.N), "detach-µs/op")
}
