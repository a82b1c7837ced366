package registry

import (
	"context"
	"fmt"
	"slices"
)

// Limits of VpcConfig (the Lambda model's list lengths).
const (
	MaxSubnets        = 16
	MaxSecurityGroups = 5
)

// resolveVpc checks a VpcConfig against the VPC networks and returns it
// with the VpcId its subnets and security groups share; nil when both
// lists are empty (the function leaves its VPC). The messages are
// Lambda's, which reports EC2's lookups in its own words.
func (r *Registry) resolveVpc(ctx context.Context, in VpcConfig) (*VpcConfig, error) {
	if len(in.SubnetIds) == 0 && len(in.SecurityGroupIds) == 0 {
		return nil, nil
	}
	if len(in.SubnetIds) > MaxSubnets {
		return nil, constraint(listText(in.SubnetIds), "vpcConfig.subnetIds", fmt.Sprintf("Member must have length less than or equal to %d", MaxSubnets))
	}
	if len(in.SecurityGroupIds) > MaxSecurityGroups {
		return nil, constraint(listText(in.SecurityGroupIds), "vpcConfig.securityGroupIds", fmt.Sprintf("Member must have length less than or equal to %d", MaxSecurityGroups))
	}
	if len(in.SubnetIds) == 0 || len(in.SecurityGroupIds) == 0 {
		return nil, invalid("SubnetIds and SecurityIds must coexist or be both empty list.")
	}
	out := VpcConfig{SubnetIds: slices.Clone(in.SubnetIds), SecurityGroupIds: slices.Clone(in.SecurityGroupIds), Ipv6AllowedForDualStack: in.Ipv6AllowedForDualStack}
	if r.cfg.Networks == nil {
		return &out, nil
	}
	vpcs := map[string]bool{}
	for _, id := range in.SubnetIds {
		vpc, ok, err := r.cfg.Networks.SubnetVPC(ctx, id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, invalid("Error occurred while DescribeSubnets. EC2 Error Code: InvalidSubnetID.NotFound. EC2 Error Message: The subnet ID '%s' does not exist", clipID(id))
		}
		vpcs[vpc] = true
		out.VpcId = vpc
	}
	for _, id := range in.SecurityGroupIds {
		vpc, ok, err := r.cfg.Networks.GroupVPC(ctx, id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, invalid("Error occurred while DescribeSecurityGroups. EC2 Error Code: InvalidGroup.NotFound. EC2 Error Message: The security group '%s' does not exist", clipID(id))
		}
		vpcs[vpc] = true
	}
	if len(vpcs) > 1 {
		return nil, invalid("Security groups and subnets must all belong to the same VPC.")
	}
	return &out, nil
}

func listText(ids []string) string {
	s := "["
	for i, id := range ids {
		if i > 0 {
			s += ", "
		}
		s += clipID(id)
	}
	return s + "]"
}

func clipID(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
