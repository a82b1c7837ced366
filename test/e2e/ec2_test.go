package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
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

// newEC2 returns an aws-sdk-go-v2 EC2 client for s, configured as newSDK.
func newEC2(t testing.TB, s *server) *ec2.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(rootAccessKeyID, rootSecretAccessKey, "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithRetryMaxAttempts(1),
	)
	if err != nil {
		t.Fatal(err)
	}
	return ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(s.url) })
}

// TestVpcConfigSDK: CreateFunction and UpdateFunctionConfiguration check
// a VpcConfig against the EC2 networks, in Lambda's words, and
// GetFunctionConfiguration shows the VPC the function is in.
func TestVpcConfigSDK(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	ctx := t.Context()
	lc, ec := newSDK(t, s), newEC2(t, s)

	vpc := aws.ToString(must[*ec2.CreateVpcOutput](t, "CreateVpc")(ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.7.0.0/16")})).Vpc.VpcId)
	subnet := aws.ToString(must[*ec2.CreateSubnetOutput](t, "CreateSubnet")(ec.CreateSubnet(ctx,
		&ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.7.1.0/24")})).Subnet.SubnetId)
	sg := aws.ToString(must[*ec2.CreateSecurityGroupOutput](t, "CreateSecurityGroup")(ec.CreateSecurityGroup(ctx,
		&ec2.CreateSecurityGroupInput{GroupName: aws.String("fn"), Description: aws.String("fn"), VpcId: aws.String(vpc)})).GroupId)
	defGroups := must[*ec2.DescribeSecurityGroupsOutput](t, "DescribeSecurityGroups")(ec.DescribeSecurityGroups(ctx,
		&ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{"default"}},
			{Name: aws.String("vpc-id"), Values: []string{vpc}}}}))
	if len(defGroups.SecurityGroups) != 1 {
		t.Fatalf("default group of %s: %+v", vpc, defGroups.SecurityGroups)
	}
	otherSG := ""
	all := must[*ec2.DescribeSecurityGroupsOutput](t, "DescribeSecurityGroups")(ec.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{}))
	for _, g := range all.SecurityGroups {
		if aws.ToString(g.VpcId) != vpc {
			otherSG = aws.ToString(g.GroupId) // the default VPC's
		}
	}

	zip := handlerZip(t, "vpc")
	refused := func(what string, vc *types.VpcConfig, wantMsg string) {
		t.Helper()
		in := createInput("vpc-fn-refused", zip)
		in.VpcConfig = vc
		_, err := lc.CreateFunction(ctx, in)
		expectAPIError(t, what, err, "InvalidParameterValueException", 400)
		if err != nil && !strings.Contains(err.Error(), wantMsg) {
			t.Errorf("%s: %v, want a message with %q", what, err, wantMsg)
		}
	}
	refused("unknown subnet", &types.VpcConfig{SubnetIds: []string{"subnet-0123456789abcdef0"}, SecurityGroupIds: []string{sg}},
		"Error occurred while DescribeSubnets. EC2 Error Code: InvalidSubnetID.NotFound. EC2 Error Message: The subnet ID 'subnet-0123456789abcdef0' does not exist")
	refused("unknown group", &types.VpcConfig{SubnetIds: []string{subnet}, SecurityGroupIds: []string{"sg-0123456789abcdef0"}},
		"EC2 Error Code: InvalidGroup.NotFound")
	refused("subnets without groups", &types.VpcConfig{SubnetIds: []string{subnet}, SecurityGroupIds: []string{}},
		"SubnetIds and SecurityIds must coexist or be both empty list.")
	refused("two VPCs", &types.VpcConfig{SubnetIds: []string{subnet}, SecurityGroupIds: []string{otherSG}},
		"Security groups and subnets must all belong to the same VPC.")

	in := createInput("vpc-fn", zip)
	in.VpcConfig = &types.VpcConfig{SubnetIds: []string{subnet}, SecurityGroupIds: []string{sg}, Ipv6AllowedForDualStack: aws.Bool(false)}
	created := must[*lambda.CreateFunctionOutput](t, "CreateFunction")(lc.CreateFunction(ctx, in))
	expectEq(t, "CreateFunction VpcId", aws.ToString(created.VpcConfig.VpcId), vpc)
	got := must[*lambda.GetFunctionConfigurationOutput](t, "GetFunctionConfiguration")(lc.GetFunctionConfiguration(ctx,
		&lambda.GetFunctionConfigurationInput{FunctionName: aws.String("vpc-fn")}))
	if got.VpcConfig == nil || aws.ToString(got.VpcConfig.VpcId) != vpc || len(got.VpcConfig.SubnetIds) != 1 || got.VpcConfig.SubnetIds[0] != subnet ||
		len(got.VpcConfig.SecurityGroupIds) != 1 || got.VpcConfig.SecurityGroupIds[0] != sg {
		t.Fatalf("GetFunctionConfiguration VpcConfig = %+v", got.VpcConfig)
	}
	if err := lambda.NewFunctionActiveV2Waiter(lc).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("vpc-fn")}, 30*time.Second); err != nil {
		t.Fatal(err)
	}

	_, err := lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("vpc-fn"),
		VpcConfig: &types.VpcConfig{SubnetIds: []string{subnet}, SecurityGroupIds: []string{"sg-0123456789abcdef0"}}})
	expectAPIError(t, "UpdateFunctionConfiguration with an unknown group", err, "InvalidParameterValueException", 400)
	got = must[*lambda.GetFunctionConfigurationOutput](t, "GetFunctionConfiguration")(lc.GetFunctionConfiguration(ctx,
		&lambda.GetFunctionConfigurationInput{FunctionName: aws.String("vpc-fn")}))
	expectEq(t, "VpcId after a refused update", aws.ToString(got.VpcConfig.VpcId), vpc)

	// Moving to the default group of the same VPC, then out of the VPC.
	defSG := aws.ToString(defGroups.SecurityGroups[0].GroupId)
	upd := must[*lambda.UpdateFunctionConfigurationOutput](t, "UpdateFunctionConfiguration")(lc.UpdateFunctionConfiguration(ctx,
		&lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("vpc-fn"),
			VpcConfig: &types.VpcConfig{SubnetIds: []string{subnet}, SecurityGroupIds: []string{defSG}}}))
	if upd.VpcConfig == nil || upd.VpcConfig.SecurityGroupIds[0] != defSG || aws.ToString(upd.VpcConfig.VpcId) != vpc {
		t.Fatalf("UpdateFunctionConfiguration VpcConfig = %+v", upd.VpcConfig)
	}
	if err := lambda.NewFunctionUpdatedV2Waiter(lc).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("vpc-fn")}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	must[*lambda.UpdateFunctionConfigurationOutput](t, "UpdateFunctionConfiguration")(lc.UpdateFunctionConfiguration(ctx,
		&lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("vpc-fn"),
			VpcConfig: &types.VpcConfig{SubnetIds: []string{}, SecurityGroupIds: []string{}}}))
	got = must[*lambda.GetFunctionConfigurationOutput](t, "GetFunctionConfiguration")(lc.GetFunctionConfiguration(ctx,
		&lambda.GetFunctionConfigurationInput{FunctionName: aws.String("vpc-fn")}))
	if got.VpcConfig != nil && aws.ToString(got.VpcConfig.VpcId) != "" {
		t.Fatalf("VpcConfig after leaving the VPC = %+v", got.VpcConfig)
	}
}
