package netns

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// layout is what the rules are made of; see the package doc for what they
// do.
type layout struct {
	table  string // the nftables table (family inet)
	bridge string // the bridge's interface name
	prefix netip.Prefix
	gw     netip.Addr // the bridge's address
}

// The chains of the table. Each is a base chain with policy accept: it
// decides only about traffic that comes from or goes to the bridge and
// leaves the rest of the host's traffic to the host's own rules.
const (
	chainInput       = "input"
	chainForward     = "forward"
	chainOutput      = "output"
	chainPostrouting = "postrouting"
)

// rule is one rule of the table, with a short description for errors and
// tests.
type rule struct {
	chain string
	what  string
	exprs []expr.Any
}

func (l layout) nftTable() *nftables.Table {
	return &nftables.Table{Name: l.table, Family: nftables.TableFamilyINet}
}

// chains returns the table's base chains.
func (l layout) chains(t *nftables.Table) []*nftables.Chain {
	accept := nftables.ChainPolicyAccept
	mk := func(name string, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return &nftables.Chain{Name: name, Table: t, Type: typ, Hooknum: hook, Priority: prio, Policy: &accept}
	}
	return []*nftables.Chain{
		mk(chainInput, nftables.ChainTypeFilter, nftables.ChainHookInput, nftables.ChainPriorityFilter),
		mk(chainForward, nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter),
		mk(chainOutput, nftables.ChainTypeFilter, nftables.ChainHookOutput, nftables.ChainPriorityFilter),
		mk(chainPostrouting, nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource),
	}
}

// rules returns the table's rules in order, without the edge's (edgeRule,
// added once the edge listens).
func (l layout) rules() []rule {
	br := l.bridge
	r := func(chain, what string, es ...[]expr.Any) rule {
		var all []expr.Any
		for _, e := range es {
			all = append(all, e...)
		}
		return rule{chain: chain, what: what, exprs: all}
	}
	return []rule{
		// The host: replies to what it started, DNS on the bridge
		// address (and the edge, edgeRule); nothing else.
		r(chainInput, "replies to the host", iif(br), ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), accept()),
		r(chainInput, "dns over udp", iif(br), ipv4(), daddr(l.gw), l4(unix.IPPROTO_UDP), dport(53), accept()),
		r(chainInput, "dns over tcp", iif(br), ipv4(), daddr(l.gw), l4(unix.IPPROTO_TCP), dport(53), accept()),
		r(chainInput, "no other tcp to the host", iif(br), l4(unix.IPPROTO_TCP), rejectTCP()),
		r(chainInput, "nothing else to the host", iif(br), reject()),

		// Through the host: sandbox to sandbox never; into the bridge
		// only replies; out of it TCP and UDP from the range's own
		// addresses, except SMTP.
		r(chainForward, "no sandbox to sandbox", iif(br), oif(br, true), drop()),
		r(chainForward, "replies to sandboxes", oif(br, true), ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), accept()),
		r(chainForward, "no connections into sandboxes", oif(br, true), drop()),
		r(chainForward, "no other source addresses", iif(br), ipv4(), saddrIn(l.prefix, false), drop()),
		r(chainForward, "no smtp", iif(br), ipv4(), l4(unix.IPPROTO_TCP), dport(25), rejectTCP()),
		r(chainForward, "tcp out", iif(br), ipv4(), l4(unix.IPPROTO_TCP), accept()),
		r(chainForward, "udp out", iif(br), ipv4(), l4(unix.IPPROTO_UDP), accept()),
		r(chainForward, "nothing else out", iif(br), reject()),

		// From the host: replies only, no connections into sandboxes.
		r(chainOutput, "host replies", oif(br, true), ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), accept()),
		r(chainOutput, "no host tcp into sandboxes", oif(br, true), l4(unix.IPPROTO_TCP), rejectTCP()),
		r(chainOutput, "nothing else from the host", oif(br, true), reject()),

		// NAT: the sandboxes' addresses are hidden behind whichever of
		// the host's addresses a packet leaves by.
		r(chainPostrouting, "masquerade", ipv4(), saddrIn(l.prefix, true), oif(br, false), masq()),
	}
}

// edgeRule lets sandboxes reach the edge's port on the bridge address. It
// is inserted at the head of the input chain.
func (l layout) edgeRule(port uint16) rule {
	var es []expr.Any
	for _, e := range [][]expr.Any{iif(l.bridge), ipv4(), daddr(l.gw), l4(unix.IPPROTO_TCP), dport(port), accept()} {
		es = append(es, e...)
	}
	return rule{chain: chainInput, what: "edge", exprs: es}
}

// ifname is an interface name as the kernel compares it: IFNAMSIZ bytes,
// NUL padded.
func ifname(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}

func iif(name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(name)},
	}
}

// oif matches the output interface: equal to name if eq, else different.
func oif(name string, eq bool) []expr.Any {
	op := expr.CmpOpEq
	if !eq {
		op = expr.CmpOpNeq
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: ifname(name)},
	}
}

func ipv4() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
	}
}

func l4(proto byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
	}
}

// daddr matches the IPv4 destination address; ipv4 must come first.
func daddr(a netip.Addr) []expr.Any {
	b := a.As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b[:]},
	}
}

// saddrIn matches an IPv4 source address in p (in) or outside it (!in);
// ipv4 must come first.
func saddrIn(p netip.Prefix, in bool) []expr.Any {
	mask := make([]byte, 4)
	binary.BigEndian.PutUint32(mask, ^uint32(0)<<(32-p.Bits()))
	net := p.Addr().As4()
	op := expr.CmpOpEq
	if !in {
		op = expr.CmpOpNeq
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: net[:]},
	}
}

// dport matches the TCP or UDP destination port; l4 must come first.
func dport(port uint16) []expr.Any {
	b := make([]byte, 2)
	binary.BigEndian.PutUint16(b, port)
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	}
}

// ctState matches a connection in any of the states (CtStateBit*).
func ctState(bits uint32) []expr.Any {
	mask := make([]byte, 4)
	binary.NativeEndian.PutUint32(mask, bits)
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

func accept() []expr.Any { return []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}} }
func drop() []expr.Any   { return []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}} }
func masq() []expr.Any   { return []expr.Any{&expr.Masq{}} }

// rejectTCP answers with a reset (l4 TCP must come first): a refused
// connection fails at once instead of timing out.
func rejectTCP() []expr.Any {
	return []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}}
}

// reject answers with an ICMP (or ICMPv6) port unreachable.
func reject() []expr.Any {
	return []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH}}
}
