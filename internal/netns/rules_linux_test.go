package netns

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// packet is what the rules look at.
type packet struct {
	iif, oif     string
	v6           bool
	proto        byte
	saddr, daddr string
	dport        uint16
	ct           uint32 // expr.CtStateBit*
}

// eval runs a chain's rules on p the way the kernel does for the
// expressions the rules use, and returns the first verdict ("accept",
// "drop", "reset", "unreachable", "masquerade") or "policy" when no rule
// decides.
func eval(t *testing.T, rules []rule, chain string, p packet) string {
	t.Helper()
	for _, r := range rules {
		if r.chain != chain {
			continue
		}
		if v, ok := evalRule(t, r, p); ok {
			return v
		}
	}
	return "policy"
}

func evalRule(t *testing.T, r rule, p packet) (string, bool) {
	regs := map[uint32][]byte{}
	nfproto := byte(unix.NFPROTO_IPV4)
	if p.v6 {
		nfproto = unix.NFPROTO_IPV6
	}
	for _, e := range r.exprs {
		switch e := e.(type) {
		case *expr.Meta:
			switch e.Key {
			case expr.MetaKeyIIFNAME:
				regs[e.Register] = ifname(p.iif)
			case expr.MetaKeyOIFNAME:
				regs[e.Register] = ifname(p.oif)
			case expr.MetaKeyNFPROTO:
				regs[e.Register] = []byte{nfproto}
			case expr.MetaKeyL4PROTO:
				regs[e.Register] = []byte{p.proto}
			default:
				t.Fatalf("rule %q: meta key %d not modelled", r.what, e.Key)
			}
		case *expr.Payload:
			if p.v6 {
				t.Fatalf("rule %q reads an IPv4 header of an IPv6 packet", r.what)
			}
			switch {
			case e.Base == expr.PayloadBaseNetworkHeader && e.Offset == 12:
				b := netip.MustParseAddr(p.saddr).As4()
				regs[e.DestRegister] = b[:]
			case e.Base == expr.PayloadBaseNetworkHeader && e.Offset == 16:
				b := netip.MustParseAddr(p.daddr).As4()
				regs[e.DestRegister] = b[:]
			case e.Base == expr.PayloadBaseTransportHeader && e.Offset == 2:
				if p.proto != unix.IPPROTO_TCP && p.proto != unix.IPPROTO_UDP {
					t.Fatalf("rule %q reads a port of protocol %d", r.what, p.proto)
				}
				regs[e.DestRegister] = binary.BigEndian.AppendUint16(nil, p.dport)
			default:
				t.Fatalf("rule %q: payload %+v not modelled", r.what, e)
			}
		case *expr.Ct:
			regs[e.Register] = binary.NativeEndian.AppendUint32(nil, p.ct)
		case *expr.Bitwise:
			src := regs[e.SourceRegister]
			out := make([]byte, e.Len)
			for i := range out {
				out[i] = src[i]&e.Mask[i] ^ e.Xor[i]
			}
			regs[e.DestRegister] = out
		case *expr.Cmp:
			eq := bytes.Equal(regs[e.Register], e.Data)
			if (e.Op == expr.CmpOpEq) != eq {
				return "", false
			}
		case *expr.Verdict:
			switch e.Kind {
			case expr.VerdictAccept:
				return "accept", true
			case expr.VerdictDrop:
				return "drop", true
			}
			t.Fatalf("rule %q: verdict %v not modelled", r.what, e.Kind)
		case *expr.Reject:
			if e.Type == unix.NFT_REJECT_TCP_RST {
				if p.proto != unix.IPPROTO_TCP {
					t.Fatalf("rule %q resets a non-TCP packet", r.what)
				}
				return "reset", true
			}
			return "unreachable", true
		case *expr.Masq:
			return "masquerade", true
		default:
			t.Fatalf("rule %q: %T not modelled", r.what, e)
		}
	}
	t.Fatalf("rule %q has no verdict", r.what)
	return "", false
}

func TestRules(t *testing.T) {
	l := layout{table: "kumo-x", bridge: "kumo-x", prefix: netip.MustParsePrefix("10.200.0.0/16"), gw: netip.MustParseAddr("10.200.0.1")}
	rules := append([]rule{l.edgeRule(9070)}, l.rules()...)
	const (
		tcp   = unix.IPPROTO_TCP
		udp   = unix.IPPROTO_UDP
		icmp  = unix.IPPROTO_ICMP
		est   = expr.CtStateBitESTABLISHED
		rel   = expr.CtStateBitRELATED
		newCt = expr.CtStateBitNEW
		sbx   = "10.200.3.4"
		sbx2  = "10.200.3.5"
		world = "203.0.113.9"
		host  = "192.0.2.2"
	)
	for _, tc := range []struct {
		chain, what string
		p           packet
		want        string
	}{
		// What a sandbox reaches on the host.
		{chainInput, "the edge", packet{iif: "kumo-x", proto: tcp, saddr: sbx, daddr: "10.200.0.1", dport: 9070, ct: newCt}, "accept"},
		{chainInput, "dns udp", packet{iif: "kumo-x", proto: udp, saddr: sbx, daddr: "10.200.0.1", dport: 53, ct: newCt}, "accept"},
		{chainInput, "dns tcp", packet{iif: "kumo-x", proto: tcp, saddr: sbx, daddr: "10.200.0.1", dport: 53, ct: newCt}, "accept"},
		{chainInput, "another port of the bridge address", packet{iif: "kumo-x", proto: tcp, saddr: sbx, daddr: "10.200.0.1", dport: 22, ct: newCt}, "reset"},
		{chainInput, "the edge port on another host address", packet{iif: "kumo-x", proto: tcp, saddr: sbx, daddr: host, dport: 9070, ct: newCt}, "reset"},
		{chainInput, "udp to the host", packet{iif: "kumo-x", proto: udp, saddr: sbx, daddr: host, dport: 123, ct: newCt}, "unreachable"},
		{chainInput, "ping to the host", packet{iif: "kumo-x", proto: icmp, saddr: sbx, daddr: "10.200.0.1", ct: newCt}, "unreachable"},
		{chainInput, "ipv6 to the host", packet{iif: "kumo-x", v6: true, proto: tcp, ct: newCt}, "reset"},
		{chainInput, "a reply to the host", packet{iif: "kumo-x", proto: tcp, saddr: sbx, daddr: "10.200.0.1", dport: 40000, ct: est}, "accept"},
		{chainInput, "the host's other traffic", packet{iif: "eth0", proto: tcp, saddr: world, daddr: host, dport: 22, ct: newCt}, "policy"},
		// Through the host.
		{chainForward, "tcp out", packet{iif: "kumo-x", oif: "eth0", proto: tcp, saddr: sbx, daddr: world, dport: 443, ct: newCt}, "accept"},
		{chainForward, "udp out", packet{iif: "kumo-x", oif: "eth0", proto: udp, saddr: sbx, daddr: world, dport: 53, ct: newCt}, "accept"},
		{chainForward, "smtp out", packet{iif: "kumo-x", oif: "eth0", proto: tcp, saddr: sbx, daddr: world, dport: 25, ct: newCt}, "reset"},
		{chainForward, "smtp out, established", packet{iif: "kumo-x", oif: "eth0", proto: tcp, saddr: sbx, daddr: world, dport: 25, ct: est}, "reset"},
		{chainForward, "ping out", packet{iif: "kumo-x", oif: "eth0", proto: icmp, saddr: sbx, daddr: world, ct: newCt}, "unreachable"},
		{chainForward, "spoofed source", packet{iif: "kumo-x", oif: "eth0", proto: tcp, saddr: "10.201.0.9", daddr: world, dport: 443, ct: newCt}, "drop"},
		{chainForward, "ipv6 out", packet{iif: "kumo-x", oif: "eth0", v6: true, proto: tcp, ct: newCt}, "unreachable"},
		{chainForward, "sandbox to sandbox", packet{iif: "kumo-x", oif: "kumo-x", proto: tcp, saddr: sbx, daddr: sbx2, dport: 80, ct: newCt}, "drop"},
		{chainForward, "sandbox to sandbox, claimed established", packet{iif: "kumo-x", oif: "kumo-x", proto: tcp, saddr: sbx, daddr: sbx2, dport: 80, ct: est}, "drop"},
		{chainForward, "a connection from the world", packet{iif: "eth0", oif: "kumo-x", proto: tcp, saddr: world, daddr: sbx, dport: 8080, ct: newCt}, "drop"},
		{chainForward, "a reply from the world", packet{iif: "eth0", oif: "kumo-x", proto: tcp, saddr: world, daddr: sbx, dport: 40000, ct: est}, "accept"},
		{chainForward, "an icmp error from the world", packet{iif: "eth0", oif: "kumo-x", proto: icmp, saddr: world, daddr: sbx, ct: rel}, "accept"},
		{chainForward, "the host's other forwarding", packet{iif: "eth0", oif: "docker0", proto: tcp, saddr: world, daddr: "172.17.0.2", dport: 80, ct: newCt}, "policy"},
		// From the host.
		{chainOutput, "a host connection into a sandbox", packet{oif: "kumo-x", proto: tcp, saddr: "10.200.0.1", daddr: sbx, dport: 8080, ct: newCt}, "reset"},
		{chainOutput, "host udp into a sandbox", packet{oif: "kumo-x", proto: udp, saddr: "10.200.0.1", daddr: sbx, dport: 8080, ct: newCt}, "unreachable"},
		{chainOutput, "the edge's reply", packet{oif: "kumo-x", proto: tcp, saddr: "10.200.0.1", daddr: sbx, dport: 40000, ct: est}, "accept"},
		{chainOutput, "the host's other traffic", packet{oif: "eth0", proto: tcp, saddr: host, daddr: world, dport: 443, ct: newCt}, "policy"},
		// NAT.
		{chainPostrouting, "out of the default route", packet{oif: "eth0", proto: tcp, saddr: sbx, daddr: world}, "masquerade"},
		{chainPostrouting, "out of another interface", packet{oif: "wg0", proto: udp, saddr: sbx, daddr: world}, "masquerade"},
		{chainPostrouting, "onto the bridge", packet{oif: "kumo-x", proto: tcp, saddr: "10.200.0.1", daddr: sbx}, "policy"},
		{chainPostrouting, "the host's own", packet{oif: "eth0", proto: tcp, saddr: host, daddr: world}, "policy"},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.chain, tc.what), func(t *testing.T) {
			if got := eval(t, rules, tc.chain, tc.p); got != tc.want {
				t.Errorf("%s: %s, want %s", tc.what, got, tc.want)
			}
		})
	}
}

// Every rule is in a chain the table has.
func TestRulesChains(t *testing.T) {
	l := layout{table: "kumo-x", bridge: "kumo-x", prefix: netip.MustParsePrefix("10.200.0.0/16"), gw: netip.MustParseAddr("10.200.0.1")}
	chains := map[string]bool{}
	for _, c := range l.chains(l.nftTable()) {
		chains[c.Name] = true
	}
	for _, r := range append(l.rules(), l.edgeRule(1)) {
		if !chains[r.chain] {
			t.Errorf("rule %q is in chain %q, which the table lacks", r.what, r.chain)
		}
	}
}

func TestCheckID(t *testing.T) {
	for id, ok := range map[string]bool{"1a2b3c4d": true, "t1a2b3c4": true, "1a2b3c4": false, "1a2b3c4d5": false, "1A2B3C4D": false, "1a2b-c4d": false, "": false} {
		if err := checkID(id); (err == nil) != ok {
			t.Errorf("checkID(%q) = %v", id, err)
		}
	}
}
