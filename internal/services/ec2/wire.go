package ec2

import (
	"path"
	"strconv"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// EC2's query protocol flattens every list (Name.1, Name.2) and names
// members by their locationName, capitalised (botocore's EC2Serializer).

type filter struct {
	Name   string
	Values []string `query:"Value,flattened"`
}

type tagSpec struct {
	ResourceType string
	Tags         []Tag `query:"Tag,flattened"`
}

// tagsFor returns the tags of the specifications for resource type rt.
func tagsFor(specs []tagSpec, rt string) []Tag {
	var out []Tag
	for _, s := range specs {
		if s.ResourceType == rt || s.ResourceType == "" {
			out = append(out, s.Tags...)
		}
	}
	return out
}

// fields returns a resource's values for a filter name; ok is false for
// a name the resource has no filter of.
type fields func(name string) (values []string, ok bool)

// matches reports whether every filter matches: a filter matches when
// one of its values (with * and ? wildcards) equals one of the
// resource's values for its name.
func matches(fs []filter, f fields) (bool, error) {
	for _, flt := range fs {
		vals, ok := f(flt.Name)
		if !ok {
			return false, awsproto.Errorf(awsproto.EC2InvalidParameterValue, "The filter '%s' is invalid", clip(flt.Name))
		}
		hit := false
		for _, want := range flt.Values {
			for _, v := range vals {
				if ok, _ := path.Match(want, v); ok || want == v {
					hit = true
				}
			}
		}
		if !hit {
			return false, nil
		}
	}
	return true, nil
}

// tagFields answers the tag:K, tag-key and tag-value filters.
func tagFields(tags []Tag, name string) ([]string, bool) {
	var out []string
	switch {
	case strings.HasPrefix(name, "tag:"):
		for _, t := range tags {
			if t.Key == name[4:] {
				out = append(out, t.Value)
			}
		}
	case name == "tag-key":
		for _, t := range tags {
			out = append(out, t.Key)
		}
	case name == "tag-value":
		for _, t := range tags {
			out = append(out, t.Value)
		}
	default:
		return nil, false
	}
	return out, true
}

func b(v bool) string { return strconv.FormatBool(v) }

// xmlTag is a tagSet item.
type xmlTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func xmlTags(ts []Tag) []xmlTag {
	out := make([]xmlTag, len(ts))
	for i, t := range ts {
		out[i] = xmlTag(t)
	}
	return out
}

type xmlVPC struct {
	VpcID           string         `xml:"vpcId"`
	OwnerID         string         `xml:"ownerId"`
	State           string         `xml:"state"`
	CIDR            string         `xml:"cidrBlock"`
	CIDRAssociation []xmlCIDRAssoc `xml:"cidrBlockAssociationSet>item"`
	DhcpOptionsID   string         `xml:"dhcpOptionsId"`
	InstanceTenancy string         `xml:"instanceTenancy"`
	IsDefault       bool           `xml:"isDefault"`
	Tags            []xmlTag       `xml:"tagSet>item,omitempty"`
}

type xmlCIDRAssoc struct {
	AssociationID string `xml:"associationId"`
	CIDR          string `xml:"cidrBlock"`
	State         string `xml:"cidrBlockState>state"`
}

type xmlSubnet struct {
	SubnetID                string   `xml:"subnetId"`
	SubnetArn               string   `xml:"subnetArn"`
	State                   string   `xml:"state"`
	VpcID                   string   `xml:"vpcId"`
	OwnerID                 string   `xml:"ownerId"`
	CIDR                    string   `xml:"cidrBlock"`
	AvailableIPAddressCount int      `xml:"availableIpAddressCount"`
	AvailabilityZone        string   `xml:"availabilityZone"`
	AvailabilityZoneID      string   `xml:"availabilityZoneId"`
	DefaultForAZ            bool     `xml:"defaultForAz"`
	MapPublicIPOnLaunch     bool     `xml:"mapPublicIpOnLaunch"`
	Tags                    []xmlTag `xml:"tagSet>item,omitempty"`
}

type xmlIPRange struct {
	CIDR        string `xml:"cidrIp"`
	Description string `xml:"description,omitempty"`
}

type xmlIPv6Range struct {
	CIDR        string `xml:"cidrIpv6"`
	Description string `xml:"description,omitempty"`
}

type xmlPair struct {
	GroupID     string `xml:"groupId"`
	UserID      string `xml:"userId"`
	Description string `xml:"description,omitempty"`
}

type xmlPermission struct {
	Protocol   string         `xml:"ipProtocol"`
	From       *int32         `xml:"fromPort"`
	To         *int32         `xml:"toPort"`
	Groups     []xmlPair      `xml:"groups>item"`
	IPRanges   []xmlIPRange   `xml:"ipRanges>item"`
	IPv6Ranges []xmlIPv6Range `xml:"ipv6Ranges>item"`
}

type xmlGroup struct {
	OwnerID     string          `xml:"ownerId"`
	GroupID     string          `xml:"groupId"`
	GroupName   string          `xml:"groupName"`
	Description string          `xml:"groupDescription"`
	VpcID       string          `xml:"vpcId"`
	Ingress     []xmlPermission `xml:"ipPermissions>item"`
	Egress      []xmlPermission `xml:"ipPermissionsEgress>item"`
	Tags        []xmlTag        `xml:"tagSet>item,omitempty"`
}

type xmlNATAddress struct {
	AllocationID string `xml:"allocationId,omitempty"`
	PrivateIP    string `xml:"privateIp,omitempty"`
	IsPrimary    bool   `xml:"isPrimary"`
	Status       string `xml:"status"`
}

type xmlNAT struct {
	NatGatewayID     string          `xml:"natGatewayId"`
	SubnetID         string          `xml:"subnetId"`
	VpcID            string          `xml:"vpcId"`
	State            string          `xml:"state"`
	ConnectivityType string          `xml:"connectivityType"`
	CreateTime       string          `xml:"createTime"`
	DeleteTime       string          `xml:"deleteTime,omitempty"`
	Addresses        []xmlNATAddress `xml:"natGatewayAddressSet>item"`
	Tags             []xmlTag        `xml:"tagSet>item,omitempty"`
}

// permissions groups rules the way EC2 answers them: one IpPermission per
// protocol and port range, with its peers.
func permissions(rules []Rule, account string) []xmlPermission {
	var out []xmlPermission
	index := map[[3]string]int{}
	for _, r := range rules {
		k := [3]string{r.Protocol, strconv.Itoa(int(r.From)), strconv.Itoa(int(r.To))}
		i, ok := index[k]
		if !ok {
			p := xmlPermission{Protocol: r.Protocol}
			if r.Protocol != "-1" {
				from, to := r.From, r.To
				p.From, p.To = &from, &to
			}
			out = append(out, p)
			i = len(out) - 1
			index[k] = i
		}
		p := &out[i]
		switch {
		case r.CIDR != "":
			p.IPRanges = append(p.IPRanges, xmlIPRange{r.CIDR, r.Description})
		case r.IPv6 != "":
			p.IPv6Ranges = append(p.IPv6Ranges, xmlIPv6Range{r.IPv6, r.Description})
		case r.Group != "":
			p.Groups = append(p.Groups, xmlPair{r.Group, account, r.Description})
		}
	}
	return out
}
