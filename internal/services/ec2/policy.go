package ec2

import (
	"context"
	"net/netip"

	"github.com/kumo-run/kumo/internal/netns"
)

// Policy is the network policy of a function placed in subnets with
// security groups: the groups' egress rules (IPv4 CIDR peers, TCP, UDP
// or all protocols), the VPC's CIDR as what is reached without a NAT
// gateway, and the internet when the VPC has one. Rules whose peer is a
// security group or an IPv6 range, and ICMP rules, allow nothing here
// (a sandbox sends only TCP and UDP over IPv4, and Kumo places no
// sandbox in a group's member list). A subnet or group that no longer
// exists is left out, as EC2 drops a deleted group's rules.
func (s *Service) Policy(ctx context.Context, subnetIDs, groupIDs []string) (netns.Policy, error) {
	var p netns.Policy
	vpcs := map[string]bool{}
	for _, id := range subnetIDs {
		sn, ok, err := s.Subnet(ctx, id)
		if err != nil {
			return p, err
		}
		if ok {
			vpcs[sn.VpcID] = true
		}
	}
	for vpcID := range vpcs {
		v, ok, err := get[VPC](ctx, s.db, kindVPC, vpcID)
		if err != nil {
			return p, err
		}
		if ok {
			if pfx, err := netip.ParsePrefix(v.CIDR); err == nil {
				p.Local = append(p.Local, pfx)
			}
		}
		nat, err := s.HasNAT(ctx, vpcID)
		if err != nil {
			return p, err
		}
		p.Internet = p.Internet || nat
	}
	for _, id := range groupIDs {
		g, ok, err := s.Group(ctx, id)
		if err != nil {
			return p, err
		}
		if !ok {
			continue
		}
		for _, r := range g.Egress {
			if e, ok := egress(r); ok {
				p.Egress = append(p.Egress, e)
			}
		}
	}
	return p, nil
}

// egress is a rule as the sandbox network enforces it.
func egress(r Rule) (netns.Egress, bool) {
	if r.CIDR == "" {
		return netns.Egress{}, false
	}
	pfx, err := netip.ParsePrefix(r.CIDR)
	if err != nil || !pfx.Addr().Is4() {
		return netns.Egress{}, false
	}
	e := netns.Egress{Prefix: pfx, From: 0, To: 65535}
	switch r.Protocol {
	case "-1":
		e.Proto = netns.ProtoAll
	case "tcp", "6":
		e.Proto = netns.ProtoTCP
	case "udp", "17":
		e.Proto = netns.ProtoUDP
	default:
		return netns.Egress{}, false
	}
	if e.Proto != netns.ProtoAll && r.From >= 0 && r.To >= 0 {
		e.From, e.To = uint16(r.From), uint16(r.To)
	}
	return e, true
}
