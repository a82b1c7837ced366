package netns

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// A sandbox with a Policy has a regular chain of its own in the table,
// "sb-" and its address in hex, and a rule at the head of the forward
// chain that sends its outbound traffic there:
//
//	forward   iif bridge ip saddr S jump sb-S    (inserted first)
//	sb-S      ip daddr P [l4proto X [dport F-T]] return   (per allowed destination)
//	          reject
//
// A packet the policy allows returns to the forward chain and meets the
// rules every sandbox has (no sandbox to sandbox, no SMTP, TCP and UDP
// only); the rest is refused. The jump rule carries the chain's name as
// its user data, which is how Detach finds it again.

func policyChain(a netip.Addr) string {
	b := a.As4()
	return "sb-" + hex.EncodeToString(b[:])
}

// policyRules returns the rules of a sandbox's chain, in order.
func policyRules(p Policy) [][]expr.Any {
	var out [][]expr.Any
	for _, e := range p.allowed() {
		es := append(ipv4(), daddrIn(e.Prefix)...)
		if e.Proto != ProtoAll {
			es = append(es, l4(byte(e.Proto))...)
			if e.From != 0 || e.To != 65535 {
				es = append(es, dportRange(e.From, e.To)...)
			}
		}
		out = append(out, append(es, &expr.Verdict{Kind: expr.VerdictReturn}))
	}
	return append(out, reject())
}

// daddrIn matches an IPv4 destination address in p; ipv4 must come
// first.
func daddrIn(p netip.Prefix) []expr.Any {
	mask := make([]byte, 4)
	binary.BigEndian.PutUint32(mask, ^uint32(0)<<(32-p.Bits()))
	if p.Bits() == 0 {
		mask = make([]byte, 4)
	}
	net := p.Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: net[:]},
	}
}

// saddrIs matches one IPv4 source address; ipv4 must come first.
func saddrIs(a netip.Addr) []expr.Any {
	b := a.As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b[:]},
	}
}

// dportRange matches a TCP or UDP destination port from..to; l4 must
// come first. The port is big-endian, so comparing bytes compares
// numbers.
func dportRange(from, to uint16) []expr.Any {
	f, t := make([]byte, 2), make([]byte, 2)
	binary.BigEndian.PutUint16(f, from)
	binary.BigEndian.PutUint16(t, to)
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpGte, Register: 1, Data: f},
		&expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: t},
	}
}

// SetPolicy restricts the sandbox's outbound traffic to what p allows
// (see Policy), replacing any policy set before; nil lifts it.
func (a *Attachment) SetPolicy(p *Policy) error {
	n := a.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return fmt.Errorf("netns: network closed")
	}
	if err := a.removePolicy(); err != nil {
		return err
	}
	if p == nil {
		return nil
	}
	c := n.nftConn
	t := n.l.nftTable()
	name := policyChain(a.addr)
	ch := c.AddChain(&nftables.Chain{Name: name, Table: t})
	for _, es := range policyRules(*p) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: es})
	}
	jump := append(append(iif(n.l.bridge), ipv4()...), saddrIs(a.addr)...)
	jump = append(jump, &expr.Verdict{Kind: expr.VerdictJump, Chain: name})
	c.InsertRule(&nftables.Rule{Table: t, Chain: &nftables.Chain{Name: chainForward, Table: t}, Exprs: jump, UserData: []byte(name)})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("netns: sandbox policy: %w", err)
	}
	a.policy = true
	return nil
}

// removePolicy removes the sandbox's chain and the rule jumping to it;
// n.mu is held.
func (a *Attachment) removePolicy() error {
	if !a.policy {
		return nil
	}
	n := a.n
	c := n.nftConn
	t := n.l.nftTable()
	name := policyChain(a.addr)
	rules, err := c.GetRules(t, &nftables.Chain{Name: chainForward, Table: t})
	if err != nil {
		return fmt.Errorf("netns: forward rules: %w", err)
	}
	for _, r := range rules {
		if bytes.Equal(r.UserData, []byte(name)) {
			if err := c.DelRule(r); err != nil {
				return fmt.Errorf("netns: removing a sandbox policy: %w", err)
			}
		}
	}
	ch := &nftables.Chain{Name: name, Table: t}
	c.FlushChain(ch)
	c.DelChain(ch)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("netns: removing a sandbox policy: %w", err)
	}
	a.policy = false
	return nil
}
