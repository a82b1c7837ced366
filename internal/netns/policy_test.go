package netns

import (
	"net/netip"
	"slices"
	"testing"
)

// TestPolicyAllowed: egress rules are narrowed to the VPC without a NAT
// gateway and kept as they are with one.
func TestPolicyAllowed(t *testing.T) {
	pfx := netip.MustParsePrefix
	vpc := []netip.Prefix{pfx("10.1.0.0/16")}
	tests := []struct {
		name string
		p    Policy
		want []netip.Prefix
	}{
		{"all egress, no NAT: the VPC", Policy{Egress: []Egress{{Prefix: pfx("0.0.0.0/0")}}, Local: vpc}, []netip.Prefix{pfx("10.1.0.0/16")}},
		{"all egress, NAT: everything", Policy{Egress: []Egress{{Prefix: pfx("0.0.0.0/0")}}, Local: vpc, Internet: true}, []netip.Prefix{pfx("0.0.0.0/0")}},
		{"a host in the VPC", Policy{Egress: []Egress{{Prefix: pfx("10.1.2.3/32")}}, Local: vpc}, []netip.Prefix{pfx("10.1.2.3/32")}},
		{"outside the VPC, no NAT: nothing", Policy{Egress: []Egress{{Prefix: pfx("192.0.2.0/24")}}, Local: vpc}, nil},
		{"IPv6 is not carried", Policy{Egress: []Egress{{Prefix: pfx("::/0")}}, Local: vpc, Internet: true}, nil},
	}
	for _, tc := range tests {
		var got []netip.Prefix
		for _, e := range tc.p.allowed() {
			got = append(got, e.Prefix)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
