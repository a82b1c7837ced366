package netns

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Config configures a Network.
type Config struct {
	// ID names what the network creates on the host, so that two servers
	// on one machine keep apart: the bridge and the nftables table are
	// kumo-ID, the host ends of the veths kvID…. Exactly 8 lowercase
	// letters and digits (one length, so that no server's names are a
	// prefix of another's).
	ID string
	// Range is the IPv4 prefix the sandboxes' addresses come from, e.g.
	// "10.200.0.0/16"; "" picks a free /16 (see PickRange).
	Range string
	// Resolvers are the DNS servers ("ip" or "ip:port") the sandboxes'
	// queries are relayed to; nil reads the nameservers of
	// /etc/resolv.conf.
	Resolvers []string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Names of what a server with this ID creates on the host.
func bridgeName(id string) string { return "kumo-" + id }
func tableName(id string) string  { return "kumo-" + id }
func vethPrefix(id string) string { return "kv" + id }

// peerName is the sandbox's end of its veth, inside its namespace.
const peerName = "eth0"

// Network is the sandboxes' network on this host: a bridge with its
// address, the nftables table and the DNS forwarder, made by Start and
// removed by Close. Attach and Detach are safe for concurrent use.
type Network struct {
	cfg    Config
	log    *slog.Logger
	l      layout
	alloc  *allocator
	bridge netlink.Link
	mtu    int
	seq    atomic.Uint64
	dns    *forwarder

	detaching sync.WaitGroup // Detach's removals in the background

	mu      sync.Mutex
	edge    *net.TCPAddr // where the edge listens for sandboxes, once ListenEdge did
	closed  bool
	nftConn *nftables.Conn
}

// Available says whether this host can run a Network: root, and an
// nftables the kernel answers to.
func Available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("sandbox networking needs root (running as uid %d)", os.Geteuid())
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("sandbox networking needs nftables: %w", err)
	}
	if _, err := c.ListTablesOfFamily(nftables.TableFamilyINet); err != nil {
		return fmt.Errorf("sandbox networking needs nftables: %w", err)
	}
	return nil
}

func checkID(id string) error {
	if len(id) != 8 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		return fmt.Errorf("netns: bad ID %q: want 8 lowercase letters and digits", id)
	}
	return nil
}

// Start removes what a crashed server with the same ID left (Cleanup),
// picks the range, creates the bridge with its address, enables IPv4
// forwarding, installs the nftables table and starts the DNS forwarder on
// the bridge address. On failure it leaves nothing behind.
func Start(ctx context.Context, cfg Config) (n *Network, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := checkID(cfg.ID); err != nil {
		return nil, err
	}
	if err := Available(); err != nil {
		return nil, err
	}
	if err := Cleanup(cfg.ID, cfg.Logger); err != nil {
		return nil, fmt.Errorf("netns: removing what an earlier run left: %w", err)
	}
	reapOrphans(cfg.ID, cfg.Logger)
	if err := claim(cfg.ID); err != nil {
		return nil, fmt.Errorf("netns: recording this server as the network's owner: %w", err)
	}
	defer func() {
		if err != nil && n == nil {
			release(cfg.ID)
		}
	}()
	resolvers := cfg.Resolvers
	if resolvers == nil {
		resolvers = hostResolvers("/etc/resolv.conf")
	}
	upstream, resolverIPs, err := parseResolvers(resolvers)
	if err != nil {
		return nil, err
	}
	used, mtu, err := hostRoutes()
	if err != nil {
		return nil, fmt.Errorf("netns: reading the host's routes: %w", err)
	}
	h := fnv.New32a()
	h.Write([]byte(cfg.ID))
	prefix, err := PickRange(cfg.Range, used, resolverIPs, h.Sum32())
	if err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	n = &Network{
		cfg: cfg, log: cfg.Logger, mtu: mtu, alloc: newAllocator(prefix),
		l: layout{table: tableName(cfg.ID), bridge: bridgeName(cfg.ID), prefix: prefix, gw: BridgeAddr(prefix)},
	}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	if err := n.makeBridge(); err != nil {
		return nil, fmt.Errorf("netns: bridge %s: %w", n.l.bridge, err)
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return nil, fmt.Errorf("netns: enabling IPv4 forwarding: %w", err)
	}
	if err := n.installRules(); err != nil {
		return nil, fmt.Errorf("netns: nftables table %s: %w", n.l.table, err)
	}
	if n.dns, err = startForwarder(netip.AddrPortFrom(n.l.gw, 53), upstream, n.log); err != nil {
		return nil, fmt.Errorf("netns: dns forwarder: %w", err)
	}
	n.log.Info("sandbox network ready", "bridge", n.l.bridge, "range", prefix.String(), "gateway", n.l.gw.String(),
		"nftables_table", "inet "+n.l.table, "resolvers", strings.Join(upstream, ","), "mtu", mtu)
	return n, nil
}

// hostRoutes returns the destinations of the host's IPv4 routes and its
// IPv4 addresses (what a range must not overlap), and the MTU of the
// default route's interface (1500 if none).
func hostRoutes() ([]netip.Prefix, int, error) {
	routes, err := dump(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, 0, err
	}
	mtu := 1500
	var used []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() {
			if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil && l.Attrs().MTU > 0 && r.Table == unix.RT_TABLE_MAIN {
				mtu = l.Attrs().MTU
			}
			continue
		}
		if p, ok := prefixOf(r.Dst); ok {
			used = append(used, p)
		}
	}
	addrs, err := dump(func() ([]netlink.Addr, error) { return netlink.AddrList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return nil, 0, err
	}
	for _, a := range addrs {
		if p, ok := prefixOf(a.IPNet); ok {
			used = append(used, p)
		}
	}
	return used, mtu, nil
}

// dump runs a netlink dump again while it is interrupted (the kernel's
// tables changed during it, as they do while other sandboxes come and
// go), so that its result is consistent.
func dump[T any](list func() ([]T, error)) ([]T, error) {
	for i := 0; ; i++ {
		out, err := list()
		if !errors.Is(err, netlink.ErrDumpInterrupted) || i == 100 {
			return out, err
		}
	}
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP.To4())
	if !ok {
		return netip.Prefix{}, false
	}
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a, bits).Masked(), true
}

func (n *Network) makeBridge() error {
	la := netlink.NewLinkAttrs()
	la.Name = n.l.bridge
	la.MTU = n.mtu
	br := &netlink.Bridge{LinkAttrs: la}
	if err := netlink.LinkAdd(br); err != nil {
		return err
	}
	link, err := netlink.LinkByName(n.l.bridge)
	if err != nil {
		return err
	}
	n.bridge = link
	gw := n.l.gw.AsSlice()
	mask := net.CIDRMask(n.l.prefix.Bits(), 32)
	if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: gw, Mask: mask}}); err != nil {
		return err
	}
	return netlink.LinkSetUp(link)
}

func (n *Network) installRules() error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	n.nftConn = c
	t := c.AddTable(n.l.nftTable())
	chains := map[string]*nftables.Chain{}
	for _, ch := range n.l.chains(t) {
		chains[ch.Name] = c.AddChain(ch)
	}
	for _, r := range n.l.rules() {
		c.AddRule(&nftables.Rule{Table: t, Chain: chains[r.chain], Exprs: r.exprs})
	}
	return c.Flush()
}

// Gateway is the bridge's address: each sandbox's default gateway, DNS
// resolver and way to the edge.
func (n *Network) Gateway() netip.Addr { return n.l.gw }

// Range is the prefix the sandboxes' addresses come from.
func (n *Network) Range() netip.Prefix { return n.l.prefix }

// ResolvConf is the sandboxes' /etc/resolv.conf.
func (n *Network) ResolvConf() []byte {
	return []byte("nameserver " + n.l.gw.String() + "\n")
}

// ListenEdge listens on the bridge address, at port if it is free (the
// edge's own port, so sandboxes see the same number) or else at any, and
// lets sandboxes reach that port. The caller serves the edge on it.
func (n *Network) ListenEdge(port int) (net.Listener, error) {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(n.l.gw, uint16(port)).String())
	if err != nil && port != 0 {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(n.l.gw, 0).String())
	}
	if err != nil {
		return nil, fmt.Errorf("netns: edge listener: %w", err)
	}
	a := ln.Addr().(*net.TCPAddr)
	r := n.l.edgeRule(uint16(a.Port))
	n.mu.Lock()
	defer n.mu.Unlock()
	t := n.l.nftTable()
	n.nftConn.InsertRule(&nftables.Rule{Table: t, Chain: &nftables.Chain{Name: r.chain, Table: t}, Exprs: r.exprs})
	if err := n.nftConn.Flush(); err != nil {
		ln.Close()
		return nil, fmt.Errorf("netns: edge rule: %w", err)
	}
	n.edge = a
	return ln, nil
}

// EdgeURL is the edge as sandboxes reach it (http://gateway:port), for
// AWS_ENDPOINT_URL; "" until ListenEdge.
func (n *Network) EdgeURL() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.edge == nil {
		return ""
	}
	return "http://" + n.edge.String()
}

// Attachment is one sandbox's place on the network.
type Attachment struct {
	n    *Network
	addr netip.Addr
	host string // the host end of the veth
	once sync.Once
	// policy is whether the sandbox has a policy chain (policy_linux.go);
	// guarded by n.mu.
	policy bool
}

// Addr is the sandbox's address.
func (a *Attachment) Addr() netip.Addr { return a.addr }

// Attach connects the network namespace of process pid: see AttachNS.
// It returns the detach function, for the sandbox driver.
func (n *Network) Attach(ctx context.Context, pid int) (detach func() error, err error) {
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return nil, fmt.Errorf("netns: namespace of %d: %w", pid, err)
	}
	defer ns.Close()
	a, err := n.AttachNS(ctx, ns)
	if err != nil {
		return nil, err
	}
	return a.Detach, nil
}

// AttachPolicy is Attach that also returns the attachment's SetPolicy,
// for the sandbox driver (linux.PolicyNetwork).
func (n *Network) AttachPolicy(ctx context.Context, pid int) (detach func() error, setPolicy func(*Policy) error, err error) {
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return nil, nil, fmt.Errorf("netns: namespace of %d: %w", pid, err)
	}
	defer ns.Close()
	a, err := n.AttachNS(ctx, ns)
	if err != nil {
		return nil, nil, err
	}
	return a.Detach, a.SetPolicy, nil
}

// AttachNS connects a network namespace: a veth pair with its host end
// on the bridge (isolated from the other ports) and its other end, eth0,
// in ns with an address of the range and a default route via the
// bridge.
func (n *Network) AttachNS(ctx context.Context, ns netns.NsHandle) (_ *Attachment, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ip, err := n.alloc.get()
	if err != nil {
		return nil, err
	}
	a := &Attachment{n: n, addr: ip}
	t0 := time.Now()
	defer func() {
		n.log.Debug("sandbox network: attached", "addr", ip.String(), "took", time.Since(t0), "err", err)
	}()
	defer func() {
		if err != nil {
			a.Detach()
		}
	}()
	la := netlink.NewLinkAttrs()
	la.MTU = n.mtu
	la.Flags = net.FlagUp
	la.MasterIndex = n.bridge.Attrs().Index
	veth := &netlink.Veth{LinkAttrs: la, PeerName: peerName, PeerNamespace: netlink.NsFd(ns)}
	for {
		la.Name = vethPrefix(n.cfg.ID) + strconv.FormatUint(n.seq.Add(1)%(36*36*36*36*36), 36)
		veth.LinkAttrs = la
		err = netlink.LinkAdd(veth)
		if !errors.Is(err, unix.EEXIST) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("netns: veth: %w", err)
	}
	a.host = la.Name
	if err := netlink.LinkSetIsolated(veth, true); err != nil {
		return nil, fmt.Errorf("netns: isolating %s: %w", a.host, err)
	}
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netns: sandbox namespace: %w", err)
	}
	defer nh.Close()
	peer, err := nh.LinkByName(peerName)
	if err != nil {
		return nil, fmt.Errorf("netns: sandbox %s: %w", peerName, err)
	}
	mask := net.CIDRMask(n.l.prefix.Bits(), 32)
	if err := nh.AddrAdd(peer, &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: mask}}); err != nil {
		return nil, fmt.Errorf("netns: sandbox address: %w", err)
	}
	if err := nh.LinkSetUp(peer); err != nil {
		return nil, fmt.Errorf("netns: sandbox %s up: %w", peerName, err)
	}
	if err := nh.RouteAdd(&netlink.Route{LinkIndex: peer.Attrs().Index, Gw: n.l.gw.AsSlice()}); err != nil {
		return nil, fmt.Errorf("netns: sandbox default route: %w", err)
	}
	return a, nil
}

// Detach frees the sandbox's place: it removes the veth pair in the
// background (deleting a network device waits for the kernel's RCU grace
// periods, tens of milliseconds under load, which a sandbox's destruction
// need not wait for; the pair goes with the namespace anyway) and frees
// the address once the pair is gone, so no two sandboxes ever share one.
// Idempotent; Close waits for what is left in the background.
func (a *Attachment) Detach() error {
	a.once.Do(func() {
		a.n.mu.Lock()
		kept := false // a policy left behind keeps its address from reuse
		if !a.n.closed {
			if err := a.removePolicy(); err != nil {
				a.n.log.Warn("sandbox network: removing a policy", "addr", a.addr.String(), "err", err)
				kept = true
			}
		}
		a.n.mu.Unlock()
		a.n.detaching.Add(1)
		go func() {
			defer a.n.detaching.Done()
			if a.host != "" {
				if l, err := netlink.LinkByName(a.host); err == nil {
					if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
						a.n.log.Warn("sandbox network: removing a veth", "veth", a.host, "err", err)
						return // keep the address: the veth may still hold it
					}
				}
			}
			if !kept {
				a.n.alloc.put(a.addr)
			}
		}()
	})
	return nil
}

// Close stops the DNS forwarder and removes the veths, the table and the
// bridge (with its address). Sandboxes still attached lose their network.
// IPv4 forwarding stays on: other software on the host may rely on it.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	if n.dns != nil {
		n.dns.close()
	}
	n.detaching.Wait()
	err := Cleanup(n.cfg.ID, n.log)
	if err == nil {
		release(n.cfg.ID)
	}
	return err
}

// Cleanup removes everything a server with this ID creates on the host:
// the veths, the bridge (and so its address and routes) and the nftables
// table. Start calls it for what a crash left; it is idempotent.
func Cleanup(id string, log *slog.Logger) error {
	if err := checkID(id); err != nil {
		return err
	}
	if log == nil {
		log = slog.Default()
	}
	var errs []error
	links, err := dump(netlink.LinkList)
	if err != nil {
		return fmt.Errorf("netns: listing links: %w", err)
	}
	var removed []string
	for _, l := range links {
		name := l.Attrs().Name
		if name != bridgeName(id) && !strings.HasPrefix(name, vethPrefix(id)) {
			continue
		}
		if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
			errs = append(errs, fmt.Errorf("removing %s: %w", name, err))
			continue
		}
		removed = append(removed, name)
	}
	c, err := nftables.New()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if _, err := c.ListTableOfFamily(tableName(id), nftables.TableFamilyINet); err == nil {
		c.DelTable(&nftables.Table{Name: tableName(id), Family: nftables.TableFamilyINet})
		if err := c.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("removing table %s: %w", tableName(id), err))
		} else {
			removed = append(removed, "nftables table inet "+tableName(id))
		}
	}
	if len(removed) > 0 {
		log.Debug("removed sandbox network parts", "removed", strings.Join(removed, ", "))
	}
	return errors.Join(errs...)
}
