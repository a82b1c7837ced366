package e2e

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	knet "github.com/kumo-run/kumo/internal/netns"
)

// TestNetworkVPC: a function in a VPC subnet without a NAT gateway
// reaches an address in its VPC that its security group allows, and
// nothing else; with a NAT gateway in the VPC a function reaches the
// "internet".
func TestNetworkVPC(t *testing.T) {
	requireLinuxDriver(t)
	if err := knet.Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	t.Parallel()
	world := newInternet(t)
	s := startServer(t, t.TempDir(), "--sandbox", "linux")
	lc, ec := newSDK(t, s), newEC2(t, s)
	ctx := t.Context()
	fnBootstrap(t)

	// A VPC holding the "internet"'s address, as a database in the VPC
	// would be; its group allows TCP port 7 to that one address.
	near := netip.PrefixFrom(world.addr, 24).Masked().String()
	vpc := aws.ToString(must[*ec2.CreateVpcOutput](t, "CreateVpc")(ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(near)})).Vpc.VpcId)
	subnet := aws.ToString(must[*ec2.CreateSubnetOutput](t, "CreateSubnet")(ec.CreateSubnet(ctx,
		&ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String(near)})).Subnet.SubnetId)
	sg := aws.ToString(must[*ec2.CreateSecurityGroupOutput](t, "CreateSecurityGroup")(ec.CreateSecurityGroup(ctx,
		&ec2.CreateSecurityGroupInput{GroupName: aws.String("fn"), Description: aws.String("fn"), VpcId: aws.String(vpc)})).GroupId)
	must[*ec2.RevokeSecurityGroupEgressOutput](t, "RevokeSecurityGroupEgress")(ec.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(sg),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}))
	must[*ec2.AuthorizeSecurityGroupEgressOutput](t, "AuthorizeSecurityGroupEgress")(ec.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(sg),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(7), ToPort: aws.Int32(7),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String(world.addr.String() + "/32")}}}}}))

	// A VPC elsewhere whose default group allows all egress.
	far := aws.ToString(must[*ec2.CreateVpcOutput](t, "CreateVpc")(ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.77.0.0/16")})).Vpc.VpcId)
	farSubnet := aws.ToString(must[*ec2.CreateSubnetOutput](t, "CreateSubnet")(ec.CreateSubnet(ctx,
		&ec2.CreateSubnetInput{VpcId: aws.String(far), CidrBlock: aws.String("10.77.1.0/24")})).Subnet.SubnetId)
	farGroups := must[*ec2.DescribeSecurityGroupsOutput](t, "DescribeSecurityGroups")(ec.DescribeSecurityGroups(ctx,
		&ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{far}}}}))
	farSG := aws.ToString(farGroups.SecurityGroups[0].GroupId)

	inVPC := func(name, subnet, sg string) {
		t.Helper()
		deployFn(t, lc, name, name, fnConfig{Memory: 1024})
		must[*lambda.UpdateFunctionConfigurationOutput](t, "UpdateFunctionConfiguration")(lc.UpdateFunctionConfiguration(ctx,
			&lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name),
				VpcConfig: &types.VpcConfig{SubnetIds: []string{subnet}, SecurityGroupIds: []string{sg}}}))
		if err := lambda.NewFunctionUpdatedV2Waiter(lc).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)}, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	dial := func(fn, addr string) (read, errText string) {
		t.Helper()
		r := call(t, lc, fn, "", event("dial", "addr", addr)).ok(t, fn+" dial "+addr)
		return jstr(r, "read"), jstr(r, "error")
	}

	inVPC("vpc-near", subnet, sg)
	if read, e := dial("vpc-near", world.addr.String()+":7"); !strings.HasPrefix(read, "hello") {
		t.Errorf("the allowed address in the VPC: read %q, error %q", read, e)
	}
	if _, e := dial("vpc-near", world.addr.String()+":80"); e == "" {
		t.Errorf("a port the security group does not allow: connected")
	}

	inVPC("vpc-far", farSubnet, farSG)
	if _, e := dial("vpc-far", world.addr.String()+":7"); e == "" {
		t.Errorf("the internet from a VPC without a NAT gateway: connected")
	}

	must[*ec2.CreateNatGatewayOutput](t, "CreateNatGateway")(ec.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{SubnetId: aws.String(farSubnet)}))
	inVPC("vpc-far-nat", farSubnet, farSG)
	if read, e := dial("vpc-far-nat", world.addr.String()+":7"); !strings.HasPrefix(read, "hello") {
		t.Errorf("the internet through a NAT gateway: read %q, error %q", read, e)
	}
	if _, e := dial("vpc-far-nat", world.addr.String()+":25"); e == "" {
		t.Errorf("smtp through a NAT gateway: connected")
	}
}
