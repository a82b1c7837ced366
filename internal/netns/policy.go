package netns

import "net/netip"

// Policy restricts where one sandbox's outbound traffic may go: the
// network side of a function placed in a VPC. Traffic leaves only when
// an Egress rule allows it and its destination is Local (inside the
// VPC) or Internet is true (the VPC has a NAT gateway). What every
// sandbox may never do (reach the host, other sandboxes, TCP port 25)
// stays forbidden whatever the policy says; the edge and the DNS
// resolver stay reachable.
type Policy struct {
	// Egress are the allowed destinations: the union of the security
	// groups' egress rules.
	Egress []Egress
	// Local are the prefixes reached without a NAT gateway: the VPC's
	// CIDR blocks.
	Local []netip.Prefix
	// Internet allows destinations outside Local.
	Internet bool
}

// Egress is one allowed destination: an IPv4 prefix, a protocol
// (ProtoAll, ProtoTCP or ProtoUDP) and, for TCP and UDP, a port range
// (From 0 and To 65535 for all ports).
type Egress struct {
	Prefix   netip.Prefix
	Proto    Proto
	From, To uint16
}

// Proto is a transport protocol of an Egress rule.
type Proto uint8

// Protocols of Egress rules (their IP protocol numbers; ProtoAll is 0).
const (
	ProtoAll Proto = 0
	ProtoTCP Proto = 6
	ProtoUDP Proto = 17
)

// allowed returns the destinations the policy lets through: each Egress
// rule narrowed to each Local prefix it overlaps, or as it is when
// Internet is true. Prefixes either nest or are disjoint, so the
// narrowing of two overlapping ones is the longer.
func (p Policy) allowed() []Egress {
	var out []Egress
	for _, e := range p.Egress {
		if !e.Prefix.IsValid() || !e.Prefix.Addr().Is4() {
			continue
		}
		e.Prefix = e.Prefix.Masked()
		if p.Internet {
			out = append(out, e)
			continue
		}
		for _, l := range p.Local {
			l = l.Masked()
			if !l.Overlaps(e.Prefix) {
				continue
			}
			n := e
			if l.Bits() > e.Prefix.Bits() {
				n.Prefix = l
			}
			out = append(out, n)
		}
	}
	return out
}
