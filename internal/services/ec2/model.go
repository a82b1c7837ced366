package ec2

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/store"
)

// Tag is a resource tag.
type Tag struct{ Key, Value string }

// VPC is a stored VPC.
type VPC struct {
	ID        string
	CIDR      string
	IsDefault bool   `json:",omitempty"`
	Tenancy   string `json:",omitempty"`
	Tags      []Tag  `json:",omitempty"`
}

// Subnet is a stored subnet.
type Subnet struct {
	ID           string
	VpcID        string
	CIDR         string
	AZ           string
	DefaultForAZ bool  `json:",omitempty"`
	Tags         []Tag `json:",omitempty"`
}

// Rule is one security group rule: traffic of Protocol ("-1" for all,
// "tcp", "udp", "icmp", "icmpv6" or a protocol number) on ports
// From..To (-1 when the protocol has no ports or for all) to or from one
// peer: a CIDR, an IPv6 CIDR or a security group.
type Rule struct {
	Protocol    string
	From, To    int32
	CIDR        string `json:",omitempty"`
	IPv6        string `json:",omitempty"`
	Group       string `json:",omitempty"`
	Description string `json:",omitempty"`
}

// same reports whether r and o are the same rule (descriptions aside).
func (r Rule) same(o Rule) bool {
	return r.Protocol == o.Protocol && r.From == o.From && r.To == o.To && r.CIDR == o.CIDR && r.IPv6 == o.IPv6 && r.Group == o.Group
}

// Group is a stored security group.
type Group struct {
	ID          string
	Name        string
	Description string
	VpcID       string
	Ingress     []Rule `json:",omitempty"`
	Egress      []Rule `json:",omitempty"`
	Tags        []Tag  `json:",omitempty"`
}

// NAT gateway states.
const (
	natAvailable = "available"
	natDeleted   = "deleted"
)

// NAT is a stored NAT gateway. A deleted one stays visible in state
// "deleted", as on AWS.
type NAT struct {
	ID               string
	SubnetID         string
	VpcID            string
	State            string
	ConnectivityType string
	AllocationID     string `json:",omitempty"`
	Created          time.Time
	Deleted          time.Time `json:",omitzero"`
	Tags             []Tag     `json:",omitempty"`
}

// Resource kinds: the first token of their keys and the prefix of their
// ids.
const (
	kindVPC    = "vpc"
	kindSubnet = "subnet"
	kindGroup  = "sg"
	kindNAT    = "nat"
)

// newID returns an id of AWS's form: kind, '-', 17 hex digits.
func newID(kind string) string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return kind + "-" + hex.EncodeToString(b[:])[:17]
}

// validID reports whether id looks like an id of kind.
func validID(kind, id string) bool {
	rest, ok := cutPrefix(id, kind+"-")
	if !ok || len(rest) < 8 || len(rest) > 17 {
		return false
	}
	_, err := hex.DecodeString(rest + rest[:len(rest)%2])
	return err == nil
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) < len(p) || s[:len(p)] != p {
		return s, false
	}
	return s[len(p):], true
}

// db is the bucket, typed.
type db struct {
	kv     store.KV
	region string
}

func (d db) key(kind, id string) string { return kind + "." + d.region + "." + id }

func (d db) prefix(kind string) string { return kind + "." + d.region + "." }

func get[T any](ctx context.Context, d db, kind, id string) (T, bool, error) {
	var v T
	e, err := d.kv.Get(ctx, d.key(kind, id))
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey) {
		return v, false, nil
	}
	if err != nil {
		return v, false, awsproto.Internal(err)
	}
	if err := json.Unmarshal(e.Value, &v); err != nil {
		return v, false, awsproto.Internal(fmt.Errorf("%s %s: %w", kind, id, err))
	}
	return v, true, nil
}

func list[T any](ctx context.Context, d db, kind string) ([]T, error) {
	es, err := d.kv.List(ctx, d.prefix(kind))
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	out := make([]T, 0, len(es))
	for _, e := range es {
		var v T
		if err := json.Unmarshal(e.Value, &v); err != nil {
			return nil, awsproto.Internal(fmt.Errorf("%s: %w", e.Key, err))
		}
		out = append(out, v)
	}
	return out, nil
}

func put(ctx context.Context, d db, kind, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return awsproto.Internal(err)
	}
	if _, err := d.kv.Put(ctx, d.key(kind, id), b); err != nil {
		return awsproto.Internal(err)
	}
	return nil
}

func del(ctx context.Context, d db, kind, id string) error {
	if err := d.kv.Delete(ctx, d.key(kind, id), 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		return awsproto.Internal(err)
	}
	return nil
}

// Network is the read side other packages use: Lambda to check a
// VpcConfig, the network driver to enforce it.
type Network interface {
	Subnet(ctx context.Context, id string) (Subnet, bool, error)
	Group(ctx context.Context, id string) (Group, bool, error)
	// HasNAT reports whether the VPC has an available NAT gateway.
	HasNAT(ctx context.Context, vpcID string) (bool, error)
}

var _ Network = (*Service)(nil)

// Subnet returns the subnet id names.
func (s *Service) Subnet(ctx context.Context, id string) (Subnet, bool, error) {
	return get[Subnet](ctx, s.db, kindSubnet, id)
}

// Group returns the security group id names.
func (s *Service) Group(ctx context.Context, id string) (Group, bool, error) {
	return get[Group](ctx, s.db, kindGroup, id)
}

// HasNAT implements Network.
func (s *Service) HasNAT(ctx context.Context, vpcID string) (bool, error) {
	nats, err := list[NAT](ctx, s.db, kindNAT)
	if err != nil {
		return false, err
	}
	for _, n := range nats {
		if n.VpcID == vpcID && n.State == natAvailable {
			return true, nil
		}
	}
	return false, nil
}

// parseCIDR parses an IPv4 CIDR block in canonical form.
func parseCIDR(s string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		return netip.Prefix{}, false
	}
	return p, true
}

// SubnetVPC returns the VPC of a subnet (registry.Networks).
func (s *Service) SubnetVPC(ctx context.Context, id string) (string, bool, error) {
	sn, ok, err := s.Subnet(ctx, id)
	return sn.VpcID, ok, err
}

// GroupVPC returns the VPC of a security group (registry.Networks).
func (s *Service) GroupVPC(ctx context.Context, id string) (string, bool, error) {
	g, ok, err := s.Group(ctx, id)
	return g.VpcID, ok, err
}
