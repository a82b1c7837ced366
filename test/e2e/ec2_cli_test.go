package e2e

import (
	"testing"
)

// TestEC2CLI: the AWS CLI makes a VPC network on the edge port — VPC,
// subnet, security group with an egress rule, NAT gateway — sees the
// default VPC, is refused in EC2's own error codes, and takes it all
// down again; the network survives a restart of the server.
func TestEC2CLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir, "--sandbox", "process")
	c := newCLI(t, s)

	def := c.ok("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")
	expectEq(t, "default VPC CIDR", jstr(def, "Vpcs", "0", "CidrBlock"), "172.31.0.0/16")

	vpc := jstr(c.ok("ec2", "create-vpc", "--cidr-block", "10.1.0.0/16"), "Vpc", "VpcId")
	if len(vpc) != len("vpc-0123456789abcdef0") {
		t.Fatalf("VPC id %q", vpc)
	}
	c.fail("InvalidVpc.Range", "ec2", "create-vpc", "--cidr-block", "10.0.0.0/8")
	subnet := jstr(c.ok("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.1.1.0/24"), "Subnet", "SubnetId")
	c.fail("InvalidSubnet.Range", "ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.9.1.0/24")
	sg := jstr(c.ok("ec2", "create-security-group", "--group-name", "fn", "--description", "function", "--vpc-id", vpc), "GroupId")
	c.ok("ec2", "authorize-security-group-egress", "--group-id", sg,
		"--ip-permissions", "IpProtocol=tcp,FromPort=5432,ToPort=5432,IpRanges=[{CidrIp=10.1.2.0/24}]")
	groups := c.ok("ec2", "describe-security-groups", "--group-ids", sg)
	expectEq(t, "egress rules", len(jget(groups, "SecurityGroups", "0", "IpPermissionsEgress").([]any)), 2)
	nat := jstr(c.ok("ec2", "create-nat-gateway", "--subnet-id", subnet), "NatGateway", "NatGatewayId")
	c.fail("DependencyViolation", "ec2", "delete-vpc", "--vpc-id", vpc)

	s.stop()
	s = startServer(t, dir, "--sandbox", "process")
	c = newCLI(t, s)
	expectEq(t, "subnet after restart", jstr(c.ok("ec2", "describe-subnets", "--subnet-ids", subnet), "Subnets", "0", "VpcId"), vpc)
	expectEq(t, "VPCs after restart", len(jget(c.ok("ec2", "describe-vpcs"), "Vpcs").([]any)), 2)

	c.ok("ec2", "delete-nat-gateway", "--nat-gateway-id", nat)
	c.ok("ec2", "delete-security-group", "--group-id", sg)
	c.ok("ec2", "delete-subnet", "--subnet-id", subnet)
	c.ok("ec2", "delete-vpc", "--vpc-id", vpc)
	c.fail("InvalidVpcID.NotFound", "ec2", "describe-vpcs", "--vpc-ids", vpc)
}
