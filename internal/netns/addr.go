package netns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// candidates are the ranges a server picks from when none is configured:
// private /16s that home and office networks rarely use. The first that
// overlaps no route, no host address and no resolver is taken, starting
// at one derived from the server's ID, so that two servers on a machine
// tend to pick different ones even when they start together.
var candidates = func() []netip.Prefix {
	var ps []netip.Prefix
	for b := 200; b <= 254; b++ {
		ps = append(ps, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(b), 0, 0}), 16))
	}
	return ps
}()

// MinBits and MaxBits bound a configured range: from a /8 down to a /28
// (a bridge address and 13 sandboxes).
const (
	MinBits = 8
	MaxBits = 28
)

// PickRange returns the range the sandboxes' addresses come from: want
// if it is set (an error if it overlaps one of the host's routes, one of
// its addresses or a resolver), else the first free candidate from seed
// on. in is what the host uses: route destinations (the default route
// excluded) and addresses.
func PickRange(want string, in []netip.Prefix, resolvers []netip.Addr, seed uint32) (netip.Prefix, error) {
	if want != "" {
		p, err := ParseRange(want)
		if err != nil {
			return netip.Prefix{}, err
		}
		if c, ok := collides(p, in, resolvers); ok {
			return netip.Prefix{}, fmt.Errorf("network range %s overlaps the host's %s", p, c)
		}
		return p, nil
	}
	for i := range candidates {
		p := candidates[(int(seed%uint32(len(candidates)))+i)%len(candidates)]
		if _, ok := collides(p, in, resolvers); !ok {
			return p, nil
		}
	}
	return netip.Prefix{}, errors.New("every candidate network range (10.200.0.0/16 to 10.254.0.0/16) overlaps the host's routes; choose one with --network-range")
}

// ParseRange parses a configured range: an IPv4 prefix of MinBits to
// MaxBits bits, given by its network address.
func ParseRange(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("network range %q: want an IPv4 prefix such as 10.200.0.0/16", s)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("network range %q: only IPv4 is supported", s)
	}
	if p.Bits() < MinBits || p.Bits() > MaxBits {
		return netip.Prefix{}, fmt.Errorf("network range %q: want a prefix of /%d to /%d", s, MinBits, MaxBits)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("network range %q: host bits set (did you mean %s?)", s, p.Masked())
	}
	if p.Addr().IsLoopback() || p.Addr().IsMulticast() || p.Addr().IsUnspecified() || p.Addr().IsLinkLocalUnicast() {
		return netip.Prefix{}, fmt.Errorf("network range %q: not a unicast range", s)
	}
	return p, nil
}

func collides(p netip.Prefix, in []netip.Prefix, resolvers []netip.Addr) (string, bool) {
	for _, q := range in {
		if q.Bits() == 0 {
			continue // a default route overlaps everything
		}
		if q.Overlaps(p) {
			return "route or address " + q.String(), true
		}
	}
	for _, a := range resolvers {
		if p.Contains(a) {
			return "resolver " + a.String(), true
		}
	}
	return "", false
}

// BridgeAddr is the bridge's address in p: the first host address. It is
// every sandbox's gateway, DNS resolver and way to the edge.
func BridgeAddr(p netip.Prefix) netip.Addr { return p.Addr().Next() }

// allocator hands out the sandbox addresses of a range: every address but
// the network's, the bridge's and the broadcast. It goes round the range
// (next fit), so a released address is reused as late as possible and a
// connection tracked for an old sandbox is long gone when a new one gets
// its address. Safe for concurrent use.
type allocator struct {
	mu    sync.Mutex
	first uint32 // first sandbox address
	size  uint32 // how many
	next  uint32 // offset to try first
	used  map[uint32]bool
}

func newAllocator(p netip.Prefix) *allocator {
	base := u32(p.Addr())
	n := uint32(1) << (32 - p.Bits())
	// network, bridge, broadcast
	return &allocator{first: base + 2, size: n - 3, used: map[uint32]bool{}}
}

// ErrExhausted is returned when every address of the range is in use.
var ErrExhausted = errors.New("netns: every address of the sandbox network range is in use")

func (a *allocator) get() (netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := uint32(0); i < a.size; i++ {
		off := (a.next + i) % a.size
		if !a.used[off] {
			a.used[off] = true
			a.next = (off + 1) % a.size
			return addr(a.first + off), nil
		}
	}
	return netip.Addr{}, ErrExhausted
}

// put releases an address got from get; others are ignored.
func (a *allocator) put(ip netip.Addr) {
	off := u32(ip) - a.first
	a.mu.Lock()
	delete(a.used, off)
	a.mu.Unlock()
}

func (a *allocator) inUse() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.used)
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func addr(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}
