package netns_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"

	knet "github.com/kumo-run/kumo/internal/netns"
)

// TestPolicy: a sandbox with a policy reaches only what its egress rules
// allow, outside its VPC only with Internet set, never SMTP; a sandbox
// beside it without a policy is not affected; lifting the policy and
// detaching leave no chain behind.
func TestPolicy(t *testing.T) {
	requireNetwork(t)
	world := newInternet(t)
	n, id := startNetwork(t)
	ns, a := attach(t, n)
	other, _ := attach(t, n)
	w := world.addr.String()
	worldNet := netip.PrefixFrom(world.addr, 24).Masked()

	reaches := func(ns netns.NsHandle, addr, what string) {
		t.Helper()
		c, err := dialFrom(ns, "tcp", addr)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if line, err := readLine(c); err != nil || !strings.HasPrefix(line, "hello from") {
			t.Fatalf("%s: read %q, %v", what, line, err)
		}
	}
	set := func(p *knet.Policy) {
		t.Helper()
		if err := a.SetPolicy(p); err != nil {
			t.Fatal(err)
		}
	}

	// A VPC containing the "internet" and no NAT gateway: TCP port 7
	// there is allowed, nothing else.
	set(&knet.Policy{Egress: []knet.Egress{{Prefix: netip.PrefixFrom(world.addr, 32), Proto: knet.ProtoTCP, From: 7, To: 7}}, Local: []netip.Prefix{worldNet}})
	reaches(ns, w+":7", "the allowed port in the VPC")
	mustNotConnect(t, ns, w+":80", "a port the security group does not allow")
	reaches(other, w+":7", "a sandbox without a policy")
	if body, err := httpGetFrom(other, "http://"+w+"/"); err != nil || !strings.HasPrefix(body, "the internet saw") {
		t.Fatalf("a sandbox without a policy: %q, %v", body, err)
	}

	// All egress allowed, but the destination is outside the VPC and
	// there is no NAT gateway.
	all := []knet.Egress{{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Proto: knet.ProtoAll}}
	set(&knet.Policy{Egress: all, Local: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/16")}})
	mustNotConnect(t, ns, w+":7", "the internet without a NAT gateway")

	// With a NAT gateway the internet is reached, SMTP still not.
	set(&knet.Policy{Egress: all, Local: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/16")}, Internet: true})
	if body, err := httpGetFrom(ns, "http://"+w+"/"); err != nil || !strings.HasPrefix(body, "the internet saw") {
		t.Fatalf("the internet through a NAT gateway: %q, %v", body, err)
	}
	mustNotConnect(t, ns, w+":25", "smtp through a NAT gateway")

	// A port range of UDP only does not open TCP.
	set(&knet.Policy{Egress: []knet.Egress{{Prefix: worldNet, Proto: knet.ProtoUDP, From: 1, To: 1000}}, Local: []netip.Prefix{worldNet}})
	mustNotConnect(t, ns, w+":7", "tcp where only udp is allowed")

	if len(policyChains(t, id)) != 1 {
		t.Fatalf("policy chains: %v, want one", policyChains(t, id))
	}
	set(nil)
	reaches(ns, w+":7", "after the policy is lifted")
	if c := policyChains(t, id); len(c) != 0 {
		t.Fatalf("policy chains after lifting: %v", c)
	}
	set(&knet.Policy{})
	mustNotConnect(t, ns, w+":7", "an empty policy")
	a.Detach()
	if c := policyChains(t, id); len(c) != 0 {
		t.Fatalf("policy chains after Detach: %v", c)
	}
}

// policyChains lists the sandbox policy chains of the table of server id.
func policyChains(t *testing.T, id string) []string {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ch := range chains {
		if ch.Table.Name == "kumo-"+id && strings.HasPrefix(ch.Name, "sb-") {
			out = append(out, ch.Name)
		}
	}
	return out
}

// BenchmarkSetPolicy is what a VPC policy adds to a sandbox's start: one
// SetPolicy of a few rules, replacing the one before (which is what
// Detach's removal costs too).
func BenchmarkSetPolicy(b *testing.B) {
	requireNetwork(b)
	n, _ := startNetwork(b)
	_, a := attach(b, n)
	p := &knet.Policy{Egress: []knet.Egress{
		{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Proto: knet.ProtoAll},
		{Prefix: netip.MustParsePrefix("10.1.2.0/24"), Proto: knet.ProtoTCP, From: 5432, To: 5432},
	}, Local: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
	for b.Loop() {
		if err := a.SetPolicy(p); err != nil {
			b.Fatal(err)
		}
	}
}
