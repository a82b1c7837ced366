package ec2

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/store"
)

// defaultVPCKey names the region's default VPC id in the bucket.
func (s *Service) defaultVPCKey() string { return "default." + s.cfg.Region }

// ensureDefaultVPC creates the default VPC, its subnets and its default
// security group unless the bucket names one already.
func (s *Service) ensureDefaultVPC(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.db.kv.Get(ctx, s.defaultVPCKey()); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	v := VPC{ID: newID(kindVPC), CIDR: "172.31.0.0/16", IsDefault: true, Tenancy: "default"}
	if err := s.storeVPC(ctx, v); err != nil {
		return err
	}
	for i, az := range []string{"a", "b", "c"} {
		sn := Subnet{ID: newID(kindSubnet), VpcID: v.ID, CIDR: "172.31." + strconv.Itoa(16*i) + ".0/20", AZ: s.cfg.Region + az, DefaultForAZ: true}
		if err := put(ctx, s.db, kindSubnet, sn.ID, sn); err != nil {
			return err
		}
	}
	_, err := s.db.kv.Put(ctx, s.defaultVPCKey(), []byte(v.ID))
	return err
}

// storeVPC stores v and creates its default security group: no ingress
// but from itself, all egress.
func (s *Service) storeVPC(ctx context.Context, v VPC) error {
	if err := put(ctx, s.db, kindVPC, v.ID, v); err != nil {
		return err
	}
	g := Group{ID: newID(kindGroup), Name: "default", Description: "default VPC security group", VpcID: v.ID,
		Egress: []Rule{{Protocol: "-1", From: -1, To: -1, CIDR: "0.0.0.0/0"}}}
	g.Ingress = []Rule{{Protocol: "-1", From: -1, To: -1, Group: g.ID}}
	return put(ctx, s.db, kindGroup, g.ID, g)
}

func (s *Service) xmlVPC(v VPC) xmlVPC {
	return xmlVPC{VpcID: v.ID, OwnerID: s.cfg.Account, State: "available", CIDR: v.CIDR,
		CIDRAssociation: []xmlCIDRAssoc{{AssociationID: "vpc-cidr-assoc-" + strings.TrimPrefix(v.ID, "vpc-"), CIDR: v.CIDR, State: "associated"}},
		DhcpOptionsID:   "default", InstanceTenancy: v.Tenancy, IsDefault: v.IsDefault, Tags: xmlTags(v.Tags)}
}

// --- VPCs

type createVpcInput struct {
	CidrBlock         string
	InstanceTenancy   string
	TagSpecifications []tagSpec `query:"TagSpecification,flattened"`
}

type createVpcOutput struct {
	meta
	Vpc xmlVPC `xml:"vpc"`
}

func (s *Service) createVpc(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in createVpcInput
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if in.CidrBlock == "" {
		return nil, missing("cidrBlock")
	}
	p, ok := parseCIDR(in.CidrBlock)
	if !ok {
		return nil, invalid("Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", clip(in.CidrBlock))
	}
	if p.Bits() < 16 || p.Bits() > 28 {
		return nil, awsproto.Errorf(awsproto.EC2InvalidVpcRange, "The CIDR '%s' is invalid.", in.CidrBlock)
	}
	switch in.InstanceTenancy {
	case "":
		in.InstanceTenancy = "default"
	case "default", "dedicated":
	default:
		return nil, invalid("Value (%s) for parameter instanceTenancy is invalid.", clip(in.InstanceTenancy))
	}
	v := VPC{ID: newID(kindVPC), CIDR: p.String(), Tenancy: in.InstanceTenancy, Tags: tagsFor(in.TagSpecifications, "vpc")}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.storeVPC(ctx, v); err != nil {
		return nil, err
	}
	return &createVpcOutput{Vpc: s.xmlVPC(v)}, nil
}

type describeVpcsInput struct {
	Filters []filter `query:"Filter,flattened"`
	VpcIDs  []string `query:"VpcId,flattened"`
}

type describeVpcsOutput struct {
	meta
	Vpcs []xmlVPC `xml:"vpcSet>item"`
}

func (s *Service) describeVpcs(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in describeVpcsInput
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	all, err := list[VPC](ctx, s.db, kindVPC)
	if err != nil {
		return nil, err
	}
	if err := allFound(in.VpcIDs, all, func(v VPC) string { return v.ID }, notFoundVPC); err != nil {
		return nil, err
	}
	out := &describeVpcsOutput{Vpcs: []xmlVPC{}}
	for _, v := range all {
		if len(in.VpcIDs) > 0 && !slices.Contains(in.VpcIDs, v.ID) {
			continue
		}
		ok, err := matches(in.Filters, func(name string) ([]string, bool) {
			switch name {
			case "vpc-id":
				return []string{v.ID}, true
			case "cidr", "cidr-block-association.cidr-block", "cidrBlock":
				return []string{v.CIDR}, true
			case "is-default", "isDefault":
				return []string{b(v.IsDefault)}, true
			case "state":
				return []string{"available"}, true
			case "owner-id":
				return []string{s.cfg.Account}, true
			}
			return tagFields(v.Tags, name)
		})
		if err != nil {
			return nil, err
		}
		if ok {
			out.Vpcs = append(out.Vpcs, s.xmlVPC(v))
		}
	}
	return out, nil
}

func notFoundVPC(id string) error {
	if !validID(kindVPC, id) {
		return awsproto.Errorf(awsproto.EC2InvalidVpcIDMalformed, "Invalid id: \"%s\"", clip(id))
	}
	return awsproto.Errorf(awsproto.EC2InvalidVpcIDNotFound, "The vpc ID '%s' does not exist", clip(id))
}

func notFoundSubnet(id string) error {
	if !validID(kindSubnet, id) {
		return awsproto.Errorf(awsproto.EC2InvalidSubnetIDMalformed, "Invalid id: \"%s\"", clip(id))
	}
	return awsproto.Errorf(awsproto.EC2InvalidSubnetIDNotFound, "The subnet ID '%s' does not exist", clip(id))
}

func notFoundGroup(id string) error {
	if strings.HasPrefix(id, kindGroup+"-") && !validID(kindGroup, id) {
		return awsproto.Errorf(awsproto.EC2InvalidGroupIDMalformed, "Invalid id: \"%s\" (expecting \"sg-...\")", clip(id))
	}
	return awsproto.Errorf(awsproto.EC2InvalidGroupNotFound, "The security group '%s' does not exist", clip(id))
}

func notFoundNAT(id string) error {
	if !validID(kindNAT, id) {
		return awsproto.Errorf(awsproto.EC2InvalidNatGatewayIDMalformed, "The natGatewayId '%s' is malformed", clip(id))
	}
	return awsproto.Errorf(awsproto.EC2NatGatewayNotFound, "The Nat Gateway %s was not found", clip(id))
}

// allFound checks that every id names one of all.
func allFound[T any](ids []string, all []T, id func(T) string, notFound func(string) error) error {
	for _, want := range ids {
		if !slices.ContainsFunc(all, func(v T) bool { return id(v) == want }) {
			return notFound(want)
		}
	}
	return nil
}

type returnOutput struct {
	meta
	Return bool `xml:"return"`
}

type deleteVpcInput struct {
	VpcID string `query:"VpcId"`
}

func (s *Service) deleteVpc(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in deleteVpcInput
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if in.VpcID == "" {
		return nil, missing("vpcId")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok, err := get[VPC](ctx, s.db, kindVPC, in.VpcID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFoundVPC(in.VpcID)
	}
	subnets, err := list[Subnet](ctx, s.db, kindSubnet)
	if err != nil {
		return nil, err
	}
	groups, err := list[Group](ctx, s.db, kindGroup)
	if err != nil {
		return nil, err
	}
	nats, err := list[NAT](ctx, s.db, kindNAT)
	if err != nil {
		return nil, err
	}
	dependent := slices.ContainsFunc(subnets, func(sn Subnet) bool { return sn.VpcID == v.ID }) ||
		slices.ContainsFunc(groups, func(g Group) bool { return g.VpcID == v.ID && g.Name != "default" }) ||
		slices.ContainsFunc(nats, func(n NAT) bool { return n.VpcID == v.ID && n.State != natDeleted })
	if dependent {
		return nil, awsproto.Errorf(awsproto.EC2DependencyViolation, "The vpc '%s' has dependencies and cannot be deleted.", v.ID)
	}
	for _, g := range groups {
		if g.VpcID == v.ID {
			if err := del(ctx, s.db, kindGroup, g.ID); err != nil {
				return nil, err
			}
		}
	}
	if err := del(ctx, s.db, kindVPC, v.ID); err != nil {
		return nil, err
	}
	if v.IsDefault {
		if err := s.db.kv.Delete(ctx, s.defaultVPCKey(), 0); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, awsproto.Internal(err)
		}
	}
	return &returnOutput{Return: true}, nil
}

// --- subnets

type createSubnetInput struct {
	VpcID             string `query:"VpcId"`
	CidrBlock         string
	AvailabilityZone  string
	TagSpecifications []tagSpec `query:"TagSpecification,flattened"`
}

type createSubnetOutput struct {
	meta
	Subnet xmlSubnet `xml:"subnet"`
}

func (s *Service) xmlSubnet(sn Subnet) xmlSubnet {
	p, _ := netip.ParsePrefix(sn.CIDR)
	return xmlSubnet{SubnetID: sn.ID, SubnetArn: "arn:aws:ec2:" + s.cfg.Region + ":" + s.cfg.Account + ":subnet/" + sn.ID,
		State: "available", VpcID: sn.VpcID, OwnerID: s.cfg.Account, CIDR: sn.CIDR,
		AvailableIPAddressCount: 1<<(32-p.Bits()) - 5, AvailabilityZone: sn.AZ,
		AvailabilityZoneID: s.azID(sn.AZ), DefaultForAZ: sn.DefaultForAZ, MapPublicIPOnLaunch: sn.DefaultForAZ, Tags: xmlTags(sn.Tags)}
}

// azID is a zone's id as AWS spells them: "use1-az1" for us-east-1a.
func (s *Service) azID(az string) string {
	parts := strings.Split(s.cfg.Region, "-")
	if len(parts) < 3 || len(az) != len(s.cfg.Region)+1 {
		return ""
	}
	short := parts[0]
	for _, p := range parts[1 : len(parts)-1] {
		if p != "" {
			short += p[:1]
		}
	}
	return short + parts[len(parts)-1] + "-az" + strconv.Itoa(int(az[len(az)-1]-'a'+1))
}

func (s *Service) createSubnet(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in createSubnetInput
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if in.VpcID == "" {
		return nil, missing("vpcId")
	}
	if in.CidrBlock == "" {
		return nil, missing("cidrBlock")
	}
	p, ok := parseCIDR(in.CidrBlock)
	if !ok {
		return nil, invalid("Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", clip(in.CidrBlock))
	}
	if in.AvailabilityZone == "" {
		in.AvailabilityZone = s.cfg.Region + "a"
	} else if !strings.HasPrefix(in.AvailabilityZone, s.cfg.Region) || len(in.AvailabilityZone) != len(s.cfg.Region)+1 ||
		in.AvailabilityZone[len(in.AvailabilityZone)-1] < 'a' || in.AvailabilityZone[len(in.AvailabilityZone)-1] > 'f' {
		return nil, invalid("Value (%s) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: %sa, %sb, %sc.", clip(in.AvailabilityZone), s.cfg.Region, s.cfg.Region, s.cfg.Region)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok, err := get[VPC](ctx, s.db, kindVPC, in.VpcID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFoundVPC(in.VpcID)
	}
	vp, _ := netip.ParsePrefix(v.CIDR)
	if p.Bits() < 16 || p.Bits() > 28 || p.Bits() < vp.Bits() || !vp.Contains(p.Addr()) {
		return nil, awsproto.Errorf(awsproto.EC2InvalidSubnetRange, "The CIDR '%s' is invalid.", in.CidrBlock)
	}
	subnets, err := list[Subnet](ctx, s.db, kindSubnet)
	if err != nil {
		return nil, err
	}
	for _, o := range subnets {
		if op, _ := netip.ParsePrefix(o.CIDR); o.VpcID == v.ID && op.Overlaps(p) {
			return nil, awsproto.Errorf(awsproto.EC2InvalidSubnetConflict, "The CIDR '%s' conflicts with another subnet", in.CidrBlock)
		}
	}
	sn := Subnet{ID: newID(kindSubnet), VpcID: v.ID, CIDR: p.String(), AZ: in.AvailabilityZone, Tags: tagsFor(in.TagSpecifications, "subnet")}
	if err := put(ctx, s.db, kindSubnet, sn.ID, sn); err != nil {
		return nil, err
	}
	return &createSubnetOutput{Subnet: s.xmlSubnet(sn)}, nil
}

type describeSubnetsInput struct {
	Filters   []filter `query:"Filter,flattened"`
	SubnetIDs []string `query:"SubnetId,flattened"`
}

type describeSubnetsOutput struct {
	meta
	Subnets []xmlSubnet `xml:"subnetSet>item"`
}

func (s *Service) describeSubnets(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in describeSubnetsInput
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	all, err := list[Subnet](ctx, s.db, kindSubnet)
	if err != nil {
		return nil, err
	}
	if err := allFound(in.SubnetIDs, all, func(v Subnet) string { return v.ID }, notFoundSubnet); err != nil {
		return nil, err
	}
	out := &describeSubnetsOutput{Subnets: []xmlSubnet{}}
	for _, sn := range all {
		if len(in.SubnetIDs) > 0 && !slices.Contains(in.SubnetIDs, sn.ID) {
			continue
		}
		ok, err := matches(in.Filters, func(name string) ([]string, bool) {
			switch name {
			case "subnet-id":
				return []string{sn.ID}, true
			case "vpc-id":
				return []string{sn.VpcID}, true
			case "cidr-block", "cidr", "cidrBlock":
				return []string{sn.CIDR}, true
			case "availability-zone", "availabilityZone":
				return []string{sn.AZ}, true
			case "default-for-az", "defaultForAz":
				return []string{b(sn.DefaultForAZ)}, true
			case "state":
				return []string{"available"}, true
			case "owner-id":
				return []string{s.cfg.Account}, true
			}
			return tagFields(sn.Tags, name)
		})
		if err != nil {
			return nil, err
		}
		if ok {
			out.Subnets = append(out.Subnets, s.xmlSubnet(sn))
		}
	}
	return out, nil
}

type deleteSubnetInput struct {
	SubnetID string `query:"SubnetId"`
}

func (s *Service) deleteSubnet(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in deleteSubnetInput
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if in.SubnetID == "" {
		return nil, missing("subnetId")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok, err := s.Subnet(ctx, in.SubnetID); err != nil {
		return nil, err
	} else if !ok {
		return nil, notFoundSubnet(in.SubnetID)
	}
	nats, err := list[NAT](ctx, s.db, kindNAT)
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(nats, func(n NAT) bool { return n.SubnetID == in.SubnetID && n.State != natDeleted }) {
		return nil, awsproto.Errorf(awsproto.EC2DependencyViolation, "The subnet '%s' has dependencies and cannot be deleted.", in.SubnetID)
	}
	if err := del(ctx, s.db, kindSubnet, in.SubnetID); err != nil {
		return nil, err
	}
	return &returnOutput{Return: true}, nil
}

// --- security groups

type createSecurityGroupInput struct {
	GroupName         string
	Description       string    `query:"GroupDescription"`
	VpcID             string    `query:"VpcId"`
	TagSpecifications []tagSpec `query:"TagSpecification,flattened"`
}

type createSecurityGroupOutput struct {
	meta
	Return  bool     `xml:"return"`
	GroupID string   `xml:"groupId"`
	ARN     string   `xml:"securityGroupArn"`
	Tags    []xmlTag `xml:"tagSet>item,omitempty"`
}

func (s *Service) createSecurityGroup(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in createSecurityGroupInput
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	switch {
	case in.GroupName == "":
		return nil, missing("GroupName")
	case in.Description == "":
		return nil, missing("GroupDescription")
	case len(in.GroupName) > 255 || strings.HasPrefix(in.GroupName, "sg-"):
		return nil, invalid("Value (%s) for parameter GroupName is invalid. Group names may not be longer than 255 characters or start with sg-.", clip(in.GroupName))
	case len(in.Description) > 255:
		return nil, invalid("Value for parameter GroupDescription is invalid. Descriptions may not be longer than 255 characters.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.VpcID == "" {
		id, err := s.db.kv.Get(ctx, s.defaultVPCKey())
		if err != nil {
			return nil, awsproto.Errorf(awsproto.EC2InvalidParameterValue, "No default VPC for this user")
		}
		in.VpcID = string(id.Value)
	}
	if _, ok, err := get[VPC](ctx, s.db, kindVPC, in.VpcID); err != nil {
		return nil, err
	} else if !ok {
		return nil, notFoundVPC(in.VpcID)
	}
	groups, err := list[Group](ctx, s.db, kindGroup)
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(groups, func(g Group) bool { return g.VpcID == in.VpcID && g.Name == in.GroupName }) {
		return nil, awsproto.Errorf(awsproto.EC2InvalidGroupDuplicate, "The security group '%s' already exists for VPC '%s'", clip(in.GroupName), in.VpcID)
	}
	g := Group{ID: newID(kindGroup), Name: in.GroupName, Description: in.Description, VpcID: in.VpcID,
		Egress: []Rule{{Protocol: "-1", From: -1, To: -1, CIDR: "0.0.0.0/0"}}, Tags: tagsFor(in.TagSpecifications, "security-group")}
	if err := put(ctx, s.db, kindGroup, g.ID, g); err != nil {
		return nil, err
	}
	return &createSecurityGroupOutput{Return: true, GroupID: g.ID, ARN: "arn:aws:ec2:" + s.cfg.Region + ":" + s.cfg.Account + ":security-group/" + g.ID, Tags: xmlTags(g.Tags)}, nil
}

func (s *Service) xmlGroup(g Group) xmlGroup {
	return xmlGroup{OwnerID: s.cfg.Account, GroupID: g.ID, GroupName: g.Name, Description: g.Description, VpcID: g.VpcID,
		Ingress: permissions(g.Ingress, s.cfg.Account), Egress: permissions(g.Egress, s.cfg.Account), Tags: xmlTags(g.Tags)}
}

type describeSecurityGroupsInput struct {
	Filters    []filter `query:"Filter,flattened"`
	GroupIDs   []string `query:"GroupId,flattened"`
	GroupNames []string `query:"GroupName,flattened"`
}

type describeSecurityGroupsOutput struct {
	meta
	Groups []xmlGroup `xml:"securityGroupInfo>item"`
}

func (s *Service) describeSecurityGroups(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in describeSecurityGroupsInput
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	all, err := list[Group](ctx, s.db, kindGroup)
	if err != nil {
		return nil, err
	}
	if err := allFound(in.GroupIDs, all, func(g Group) string { return g.ID }, notFoundGroup); err != nil {
		return nil, err
	}
	if err := allFound(in.GroupNames, all, func(g Group) string { return g.Name }, notFoundGroup); err != nil {
		return nil, err
	}
	out := &describeSecurityGroupsOutput{Groups: []xmlGroup{}}
	for _, g := range all {
		if len(in.GroupIDs) > 0 && !slices.Contains(in.GroupIDs, g.ID) || len(in.GroupNames) > 0 && !slices.Contains(in.GroupNames, g.Name) {
			continue
		}
		ok, err := matches(in.Filters, func(name string) ([]string, bool) {
			switch name {
			case "group-id":
				return []string{g.ID}, true
			case "group-name":
				return []string{g.Name}, true
			case "vpc-id":
				return []string{g.VpcID}, true
			case "description":
				return []string{g.Description}, true
			case "owner-id":
				return []string{s.cfg.Account}, true
			}
			return tagFields(g.Tags, name)
		})
		if err != nil {
			return nil, err
		}
		if ok {
			out.Groups = append(out.Groups, s.xmlGroup(g))
		}
	}
	return out, nil
}

type deleteSecurityGroupInput struct {
	GroupID   string `query:"GroupId"`
	GroupName string
}

type deleteSecurityGroupOutput struct {
	meta
	Return  bool   `xml:"return"`
	GroupID string `xml:"groupId"`
}

func (s *Service) deleteSecurityGroup(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in deleteSecurityGroupInput
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.findGroup(ctx, in.GroupID, in.GroupName)
	if err != nil {
		return nil, err
	}
	if g.Name == "default" {
		return nil, awsproto.Errorf(awsproto.EC2CannotDelete, "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", g.ID)
	}
	groups, err := list[Group](ctx, s.db, kindGroup)
	if err != nil {
		return nil, err
	}
	for _, o := range groups {
		if o.ID == g.ID {
			continue
		}
		if slices.ContainsFunc(append(slices.Clone(o.Ingress), o.Egress...), func(r Rule) bool { return r.Group == g.ID }) {
			return nil, awsproto.Errorf(awsproto.EC2DependencyViolation, "resource %s has a dependent object", g.ID)
		}
	}
	if err := del(ctx, s.db, kindGroup, g.ID); err != nil {
		return nil, err
	}
	return &deleteSecurityGroupOutput{Return: true, GroupID: g.ID}, nil
}

// findGroup finds a group by id or, in the default VPC, by name.
func (s *Service) findGroup(ctx context.Context, id, name string) (Group, error) {
	if id != "" {
		g, ok, err := s.Group(ctx, id)
		if err != nil {
			return Group{}, err
		}
		if !ok {
			return Group{}, notFoundGroup(id)
		}
		return g, nil
	}
	if name == "" {
		return Group{}, missing("GroupId")
	}
	def, err := s.db.kv.Get(ctx, s.defaultVPCKey())
	if err != nil {
		return Group{}, notFoundGroup(name)
	}
	groups, err := list[Group](ctx, s.db, kindGroup)
	if err != nil {
		return Group{}, err
	}
	for _, g := range groups {
		if g.VpcID == string(def.Value) && g.Name == name {
			return g, nil
		}
	}
	return Group{}, awsproto.Errorf(awsproto.EC2InvalidGroupNotFound, "The security group '%s' does not exist in default VPC '%s'", clip(name), def.Value)
}

type ipRange struct {
	CidrIP      string `query:"CidrIp"`
	Description string
}

type ipv6Range struct {
	CidrIPv6    string `query:"CidrIpv6"`
	Description string
}

type groupPair struct {
	GroupID     string `query:"GroupId"`
	GroupName   string
	Description string
}

type ipPermission struct {
	IPProtocol string `query:"IpProtocol"`
	FromPort   *int32
	ToPort     *int32
	IPRanges   []ipRange   `query:"IpRanges,flattened"`
	IPv6Ranges []ipv6Range `query:"Ipv6Ranges,flattened"`
	Groups     []groupPair `query:"Groups,flattened"`
}

type permissionsInput struct {
	GroupID       string `query:"GroupId"`
	GroupName     string
	IPPermissions []ipPermission `query:"IpPermissions,flattened"`
	// The older single-rule form.
	CidrIP     string `query:"CidrIp"`
	IPProtocol string `query:"IpProtocol"`
	FromPort   *int32
	ToPort     *int32
	// SourceSecurityGroupName names a group of the default VPC (ingress).
	SourceSecurityGroupName string
}

// rules expands the request's permissions into rules.
func (s *Service) rules(ctx context.Context, in permissionsInput, vpcID string) ([]Rule, error) {
	perms := in.IPPermissions
	if in.CidrIP != "" || in.IPProtocol != "" || in.SourceSecurityGroupName != "" {
		p := ipPermission{IPProtocol: in.IPProtocol, FromPort: in.FromPort, ToPort: in.ToPort}
		if in.CidrIP != "" {
			p.IPRanges = []ipRange{{CidrIP: in.CidrIP}}
		}
		if in.SourceSecurityGroupName != "" {
			p.Groups = []groupPair{{GroupName: in.SourceSecurityGroupName}}
		}
		perms = append(perms, p)
	}
	if len(perms) == 0 {
		return nil, missing("IpPermissions")
	}
	var out []Rule
	for _, p := range perms {
		proto, from, to, err := protocolPorts(p)
		if err != nil {
			return nil, err
		}
		base := Rule{Protocol: proto, From: from, To: to}
		n := 0
		for _, r := range p.IPRanges {
			pr, err := netip.ParsePrefix(r.CidrIP)
			if err != nil || !pr.Addr().Is4() {
				return nil, invalid("CIDR block %s is malformed", clip(r.CidrIP))
			}
			x := base
			x.CIDR, x.Description = pr.Masked().String(), r.Description
			out, n = append(out, x), n+1
		}
		for _, r := range p.IPv6Ranges {
			pr, err := netip.ParsePrefix(r.CidrIPv6)
			if err != nil || !pr.Addr().Is6() {
				return nil, invalid("CIDR block %s is malformed", clip(r.CidrIPv6))
			}
			x := base
			x.IPv6, x.Description = pr.Masked().String(), r.Description
			out, n = append(out, x), n+1
		}
		for _, gp := range p.Groups {
			g, err := s.findGroup(ctx, gp.GroupID, gp.GroupName)
			if err != nil {
				return nil, err
			}
			if g.VpcID != vpcID {
				return nil, invalid("You have specified two resources that belong to different networks.")
			}
			x := base
			x.Group, x.Description = g.ID, gp.Description
			out, n = append(out, x), n+1
		}
		if n == 0 {
			return nil, awsproto.Errorf(awsproto.EC2InvalidPermissionMalformed, "The IP permission must name a CIDR block, an IPv6 CIDR block or a security group.")
		}
	}
	return out, nil
}

// protocolPorts normalises a permission's protocol and port range.
func protocolPorts(p ipPermission) (string, int32, int32, error) {
	proto := strings.ToLower(p.IPProtocol)
	switch proto {
	case "6":
		proto = "tcp"
	case "17":
		proto = "udp"
	case "1":
		proto = "icmp"
	case "58":
		proto = "icmpv6"
	case "all":
		proto = "-1"
	case "":
		return "", 0, 0, missing("IpProtocol")
	}
	switch proto {
	case "-1":
		return proto, -1, -1, nil
	case "tcp", "udp":
		if p.FromPort == nil || p.ToPort == nil {
			return "", 0, 0, awsproto.Errorf(awsproto.EC2InvalidParameterValue, "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange.")
		}
		from, to := *p.FromPort, *p.ToPort
		if from < 0 || to > 65535 || from > to {
			return "", 0, 0, invalid("Invalid port range (%d, %d).", from, to)
		}
		return proto, from, to, nil
	case "icmp", "icmpv6":
		from, to := int32(-1), int32(-1)
		if p.FromPort != nil {
			from = *p.FromPort
		}
		if p.ToPort != nil {
			to = *p.ToPort
		}
		return proto, from, to, nil
	}
	if n, err := strconv.Atoi(proto); err == nil && n >= 0 && n <= 255 {
		return proto, -1, -1, nil
	}
	return "", 0, 0, invalid("Invalid value '%s' for IP protocol. Unknown protocol.", clip(p.IPProtocol))
}

type authorizeOutput struct {
	meta
	Return bool `xml:"return"`
}

func (s *Service) authorize(egress bool) op {
	return func(ctx context.Context, q awsproto.QueryRequest) (any, error) {
		var in permissionsInput
		if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
			return nil, err
		}
		if egress && in.GroupID == "" {
			return nil, missing("groupId")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		g, err := s.findGroup(ctx, in.GroupID, in.GroupName)
		if err != nil {
			return nil, err
		}
		rules, err := s.rules(ctx, in, g.VpcID)
		if err != nil {
			return nil, err
		}
		set := &g.Ingress
		if egress {
			set = &g.Egress
		}
		for _, r := range rules {
			if slices.ContainsFunc(*set, r.same) {
				return nil, awsproto.Errorf(awsproto.EC2InvalidPermissionDuplicate, "the specified rule \"peer: %s, %s, ALLOW\" already exists", peer(r), portText(r))
			}
			*set = append(*set, r)
		}
		if err := put(ctx, s.db, kindGroup, g.ID, g); err != nil {
			return nil, err
		}
		return &authorizeOutput{Return: true}, nil
	}
}

func peer(r Rule) string {
	switch {
	case r.CIDR != "":
		return r.CIDR
	case r.IPv6 != "":
		return r.IPv6
	}
	return r.Group
}

func portText(r Rule) string {
	if r.Protocol == "-1" {
		return "ALL"
	}
	return strings.ToUpper(r.Protocol) + ", from port: " + strconv.Itoa(int(r.From)) + ", to port: " + strconv.Itoa(int(r.To))
}

func (s *Service) revoke(egress bool) op {
	return func(ctx context.Context, q awsproto.QueryRequest) (any, error) {
		var in permissionsInput
		if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
			return nil, err
		}
		if egress && in.GroupID == "" {
			return nil, missing("groupId")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		g, err := s.findGroup(ctx, in.GroupID, in.GroupName)
		if err != nil {
			return nil, err
		}
		rules, err := s.rules(ctx, in, g.VpcID)
		if err != nil {
			return nil, err
		}
		set := &g.Ingress
		if egress {
			set = &g.Egress
		}
		for _, r := range rules {
			i := slices.IndexFunc(*set, r.same)
			if i < 0 {
				return nil, awsproto.Errorf(awsproto.EC2InvalidPermissionNotFound, "The specified rule does not exist in this security group.")
			}
			*set = slices.Delete(*set, i, i+1)
		}
		if err := put(ctx, s.db, kindGroup, g.ID, g); err != nil {
			return nil, err
		}
		return &authorizeOutput{Return: true}, nil
	}
}

// --- NAT gateways

type createNatGatewayInput struct {
	SubnetID          string `query:"SubnetId"`
	AllocationID      string `query:"AllocationId"`
	ConnectivityType  string
	ClientToken       string
	TagSpecifications []tagSpec `query:"TagSpecification,flattened"`
}

type createNatGatewayOutput struct {
	meta
	ClientToken string `xml:"clientToken,omitempty"`
	NatGateway  xmlNAT `xml:"natGateway"`
}

func (s *Service) xmlNAT(n NAT) xmlNAT {
	x := xmlNAT{NatGatewayID: n.ID, SubnetID: n.SubnetID, VpcID: n.VpcID, State: n.State, ConnectivityType: n.ConnectivityType,
		CreateTime: n.Created.UTC().Format(time.RFC3339), Tags: xmlTags(n.Tags),
		Addresses: []xmlNATAddress{{AllocationID: n.AllocationID, IsPrimary: true, Status: "succeeded"}}}
	if !n.Deleted.IsZero() {
		x.DeleteTime = n.Deleted.UTC().Format(time.RFC3339)
	}
	return x
}

func (s *Service) createNatGateway(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in createNatGatewayInput
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if in.SubnetID == "" {
		return nil, missing("SubnetId")
	}
	switch in.ConnectivityType {
	case "":
		in.ConnectivityType = "public"
	case "public", "private":
	default:
		return nil, invalid("Value (%s) for parameter ConnectivityType is invalid.", clip(in.ConnectivityType))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sn, ok, err := s.Subnet(ctx, in.SubnetID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFoundSubnet(in.SubnetID)
	}
	n := NAT{ID: "nat-" + newID("x")[2:], SubnetID: sn.ID, VpcID: sn.VpcID, State: natAvailable, ConnectivityType: in.ConnectivityType,
		AllocationID: in.AllocationID, Created: s.cfg.Now(), Tags: tagsFor(in.TagSpecifications, "natgateway")}
	if err := put(ctx, s.db, kindNAT, n.ID, n); err != nil {
		return nil, err
	}
	return &createNatGatewayOutput{ClientToken: in.ClientToken, NatGateway: s.xmlNAT(n)}, nil
}

type describeNatGatewaysInput struct {
	Filters       []filter `query:"Filter,flattened"`
	NatGatewayIDs []string `query:"NatGatewayId,flattened"`
}

type describeNatGatewaysOutput struct {
	meta
	NatGateways []xmlNAT `xml:"natGatewaySet>item"`
}

func (s *Service) describeNatGateways(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in describeNatGatewaysInput
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	all, err := list[NAT](ctx, s.db, kindNAT)
	if err != nil {
		return nil, err
	}
	if err := allFound(in.NatGatewayIDs, all, func(n NAT) string { return n.ID }, notFoundNAT); err != nil {
		return nil, err
	}
	out := &describeNatGatewaysOutput{NatGateways: []xmlNAT{}}
	for _, n := range all {
		if len(in.NatGatewayIDs) > 0 && !slices.Contains(in.NatGatewayIDs, n.ID) {
			continue
		}
		ok, err := matches(in.Filters, func(name string) ([]string, bool) {
			switch name {
			case "nat-gateway-id":
				return []string{n.ID}, true
			case "subnet-id":
				return []string{n.SubnetID}, true
			case "vpc-id":
				return []string{n.VpcID}, true
			case "state":
				return []string{n.State}, true
			}
			return tagFields(n.Tags, name)
		})
		if err != nil {
			return nil, err
		}
		if ok {
			out.NatGateways = append(out.NatGateways, s.xmlNAT(n))
		}
	}
	return out, nil
}

type deleteNatGatewayInput struct {
	NatGatewayID string `query:"NatGatewayId"`
}

type deleteNatGatewayOutput struct {
	meta
	NatGatewayID string `xml:"natGatewayId"`
}

func (s *Service) deleteNatGateway(ctx context.Context, q awsproto.QueryRequest) (any, error) {
	var in deleteNatGatewayInput
	if err := awsproto.UnmarshalQuery(q.Params, &in); err != nil {
		return nil, err
	}
	if in.NatGatewayID == "" {
		return nil, missing("NatGatewayId")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok, err := get[NAT](ctx, s.db, kindNAT, in.NatGatewayID)
	if err != nil {
		return nil, err
	}
	if !ok || n.State == natDeleted {
		return nil, notFoundNAT(in.NatGatewayID)
	}
	n.State, n.Deleted = natDeleted, s.cfg.Now()
	if err := put(ctx, s.db, kindNAT, n.ID, n); err != nil {
		return nil, err
	}
	return &deleteNatGatewayOutput{NatGatewayID: n.ID}, nil
}
