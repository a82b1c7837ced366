package netns

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in, err string
	}{
		{"10.200.0.0/16", ""},
		{"192.168.77.0/24", ""},
		{"10.0.0.0/8", ""},
		{"172.16.0.16/28", ""},
		{"10.200.0.1/16", "host bits set"},
		{"10.0.0.0/7", "want a prefix of /8 to /28"},
		{"10.0.0.0/29", "want a prefix of /8 to /28"},
		{"fd00::/64", "only IPv4"},
		{"127.0.0.0/8", "not a unicast range"},
		{"169.254.0.0/16", "not a unicast range"},
		{"10.200.0.0", "want an IPv4 prefix"},
		{"", "want an IPv4 prefix"},
	} {
		_, err := ParseRange(tc.in)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ParseRange(%q) = %v, want error containing %q", tc.in, err, tc.err)
		}
	}
}

func TestPickRange(t *testing.T) {
	pfx := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	hostLike := pfx("0.0.0.0/0", "192.0.2.0/24", "127.0.0.0/8")
	// The default route overlaps everything and is ignored.
	if p, err := PickRange("", hostLike, nil, 0); err != nil || p.String() != "10.200.0.0/16" {
		t.Errorf("free host: %v, %v", p, err)
	}
	// The seed spreads servers out; taken ranges are skipped.
	if p, _ := PickRange("", hostLike, nil, 5); p.String() != "10.205.0.0/16" {
		t.Errorf("seed 5: %v", p)
	}
	if p, _ := PickRange("", pfx("10.205.0.0/16", "10.206.7.0/24"), nil, 5); p.String() != "10.207.0.0/16" {
		t.Errorf("seed 5 with 10.205/16 and 10.206.7/24 taken: %v", p)
	}
	// A resolver inside a candidate rules it out.
	if p, _ := PickRange("", nil, []netip.Addr{netip.MustParseAddr("10.200.0.53")}, 0); p.String() != "10.201.0.0/16" {
		t.Errorf("resolver in 10.200/16: %v", p)
	}
	// A wider route covers every candidate.
	if _, err := PickRange("", pfx("10.0.0.0/8"), nil, 0); err == nil || !strings.Contains(err.Error(), "--network-range") {
		t.Errorf("10.0.0.0/8 routed: %v, want a refusal naming --network-range", err)
	}
	// A configured range is refused, not moved, when it collides.
	if _, err := PickRange("192.0.2.0/25", hostLike, nil, 0); err == nil || !strings.Contains(err.Error(), "192.0.2.0/24") {
		t.Errorf("configured range on the host's network: %v", err)
	}
	if p, err := PickRange("198.51.100.0/24", hostLike, nil, 0); err != nil || p.String() != "198.51.100.0/24" {
		t.Errorf("free configured range: %v, %v", p, err)
	}
	if BridgeAddr(netip.MustParsePrefix("10.200.0.0/16")).String() != "10.200.0.1" {
		t.Error("the bridge address is not the first host address")
	}
}

func TestAllocator(t *testing.T) {
	a := newAllocator(netip.MustParsePrefix("10.9.0.0/29")) // .2 to .6
	var got []string
	for range 5 {
		ip, err := a.get()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ip.String())
	}
	if strings.Join(got, " ") != "10.9.0.2 10.9.0.3 10.9.0.4 10.9.0.5 10.9.0.6" {
		t.Fatalf("addresses %v: want .2 to .6 (not the network, the bridge or the broadcast)", got)
	}
	if _, err := a.get(); !errors.Is(err, ErrExhausted) {
		t.Fatalf("sixth address: %v, want ErrExhausted", err)
	}
	// Next fit: freed addresses come back in turn, the oldest first.
	a.put(netip.MustParseAddr("10.9.0.4"))
	a.put(netip.MustParseAddr("10.9.0.3"))
	if ip, _ := a.get(); ip.String() != "10.9.0.3" {
		t.Errorf("after freeing .4 and .3: got %s, want .3 (next after the last handed out, wrapping)", ip)
	}
	if ip, _ := a.get(); ip.String() != "10.9.0.4" {
		t.Errorf("then %s, want .4", ip)
	}
	if a.inUse() != 5 {
		t.Errorf("in use: %d, want 5", a.inUse())
	}
	// A /16 has 65,533 sandbox addresses.
	if n := newAllocator(netip.MustParsePrefix("10.200.0.0/16")).size; n != 65533 {
		t.Errorf("a /16 holds %d sandboxes", n)
	}
}

func TestParseResolvers(t *testing.T) {
	addrs, ips, err := parseResolvers([]string{"10.0.0.2", "127.0.0.53:5353", "fe80::1%eth0"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(addrs, " ") != "10.0.0.2:53 127.0.0.53:5353 [fe80::1%eth0]:53" || len(ips) != 3 {
		t.Errorf("got %v %v", addrs, ips)
	}
	if addrs, _, _ := parseResolvers(nil); len(addrs) != 1 || addrs[0] != "127.0.0.1:53" {
		t.Errorf("no resolver: %v, want the host's own", addrs)
	}
	if _, _, err := parseResolvers([]string{"dns.example"}); err == nil {
		t.Error("a host name accepted as a resolver")
	}
}
