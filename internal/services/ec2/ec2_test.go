package ec2_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/natsd"
	knet "github.com/kumo-run/kumo/internal/netns"
	kumoec2 "github.com/kumo-run/kumo/internal/services/ec2"
	"github.com/kumo-run/kumo/internal/store"
)

const (
	account    = "000000000000"
	rootKey    = "AKIAKUMOEC2TEST00001"
	rootSecret = "kumo-ec2-test-secret-000000000000000000000"
)

type harness struct {
	kv  store.KV
	svc *kumoec2.Service
	cl  *ec2.Client
	srv *httptest.Server
	dir *authz.Static
	az  *authz.Authorizer
}

// newHarness starts NATS, opens the service on the kumo-ec2 bucket and
// serves it through an edge that verifies SigV4.
func newHarness(t *testing.T) *harness {
	t.Helper()
	ns, err := natsd.Start(natsd.Config{DataDir: t.TempDir(), Sync: natsd.SyncInterval})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect("ec2-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	st, err := store.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := st.KV(context.Background(), natsd.EC2Bucket)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{kv: kv, dir: &authz.Static{}}
	h.az = authz.New(authz.Config{Directory: h.dir, Region: "us-east-1"})
	h.open(t)
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	creds := &token.Store{Issuer: is, RootKeyID: rootKey, RootSecret: rootSecret, Root: token.Root("aws", account), Keys: h.dir}
	srv := httptest.NewServer(edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: creds},
		Routes: []edge.Route{{Name: "ec2", Match: []edge.Matcher{{Service: kumoec2.SigningName}}, Scope: kumoec2.SigningName,
			Handler: h, Errors: kumoec2.Errors}},
	}))
	t.Cleanup(srv.Close)
	h.srv = srv
	h.cl = ec2.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(rootKey, rootSecret, ""),
		HTTPClient:       srv.Client(),
		RetryMaxAttempts: 1,
	}, func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return h
}

// open (re)opens the service on the bucket, as a restart does.
func (h *harness) open(t *testing.T) {
	t.Helper()
	svc, err := kumoec2.Open(context.Background(), kumoec2.Config{KV: h.kv, Region: "us-east-1", Account: account, Authorizer: h.az})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
}

func (h *harness) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.svc.ServeHTTP(w, r) }

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

func filter(name string, values ...string) types.Filter {
	return types.Filter{Name: aws.String(name), Values: values}
}

func TestDefaultVPC(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	vpcs, err := h.cl.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{filter("is-default", "true")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(vpcs.Vpcs) != 1 || aws.ToString(vpcs.Vpcs[0].CidrBlock) != "172.31.0.0/16" || !aws.ToBool(vpcs.Vpcs[0].IsDefault) {
		t.Fatalf("default VPCs = %+v", vpcs.Vpcs)
	}
	def := aws.ToString(vpcs.Vpcs[0].VpcId)
	subnets, err := h.cl.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{filter("vpc-id", def)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(subnets.Subnets) != 3 {
		t.Fatalf("default subnets = %d, want 3", len(subnets.Subnets))
	}
	for _, sn := range subnets.Subnets {
		if !aws.ToBool(sn.DefaultForAz) || aws.ToInt32(sn.AvailableIpAddressCount) != 4091 {
			t.Errorf("default subnet %+v", sn)
		}
	}
	groups, err := h.cl.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(groups.SecurityGroups) != 1 {
		t.Fatalf("default groups = %+v", groups.SecurityGroups)
	}
	eg := groups.SecurityGroups[0].IpPermissionsEgress
	if len(eg) != 1 || aws.ToString(eg[0].IpProtocol) != "-1" || len(eg[0].IpRanges) != 1 || aws.ToString(eg[0].IpRanges[0].CidrIp) != "0.0.0.0/0" {
		t.Fatalf("default group egress = %+v", eg)
	}

	// A restart keeps the default VPC and makes no second one.
	h.open(t)
	again, err := h.cl.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Vpcs) != 1 || aws.ToString(again.Vpcs[0].VpcId) != def {
		t.Fatalf("after reopening: %+v", again.Vpcs)
	}
}

func TestVPCLifecycle(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	cv, err := h.cl.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.1.0.0/16"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeVpc, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("app")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	vpc := aws.ToString(cv.Vpc.VpcId)
	if len(vpc) != len("vpc-0123456789abcdef0") || aws.ToString(cv.Vpc.CidrBlock) != "10.1.0.0/16" || cv.Vpc.State != types.VpcStateAvailable {
		t.Fatalf("CreateVpc = %+v", cv.Vpc)
	}
	byTag, err := h.cl.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{filter("tag:Name", "app")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(byTag.Vpcs) != 1 || aws.ToString(byTag.Vpcs[0].VpcId) != vpc {
		t.Fatalf("by tag: %+v", byTag.Vpcs)
	}

	_, err = h.cl.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.2.0.0/24")})
	wantCode(t, err, "InvalidSubnet.Range")
	cs, err := h.cl.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.1.1.0/24"), AvailabilityZone: aws.String("us-east-1b")})
	if err != nil {
		t.Fatal(err)
	}
	subnet := aws.ToString(cs.Subnet.SubnetId)
	if aws.ToString(cs.Subnet.VpcId) != vpc || aws.ToString(cs.Subnet.AvailabilityZone) != "us-east-1b" || aws.ToString(cs.Subnet.AvailabilityZoneId) != "use1-az2" {
		t.Fatalf("CreateSubnet = %+v", cs.Subnet)
	}
	_, err = h.cl.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.1.1.128/25")})
	wantCode(t, err, "InvalidSubnet.Conflict")
	_, err = h.cl.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String("vpc-0123456789abcdef0"), CidrBlock: aws.String("10.1.2.0/24")})
	wantCode(t, err, "InvalidVpcID.NotFound")

	// Each VPC has its default group; a new group allows all egress.
	dg, err := h.cl.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{filter("vpc-id", vpc)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(dg.SecurityGroups) != 1 || aws.ToString(dg.SecurityGroups[0].GroupName) != "default" {
		t.Fatalf("groups of a new VPC: %+v", dg.SecurityGroups)
	}
	_, err = h.cl.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: dg.SecurityGroups[0].GroupId})
	wantCode(t, err, "CannotDelete")
	csg, err := h.cl.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("fn"), Description: aws.String("function"), VpcId: aws.String(vpc)})
	if err != nil {
		t.Fatal(err)
	}
	sg := aws.ToString(csg.GroupId)
	_, err = h.cl.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("fn"), Description: aws.String("again"), VpcId: aws.String(vpc)})
	wantCode(t, err, "InvalidGroup.Duplicate")

	// Replace all-egress with one TCP port to one network.
	all := []types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}
	if _, err := h.cl.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(sg), IpPermissions: all}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(sg), IpPermissions: all})
	wantCode(t, err, "InvalidPermission.NotFound")
	https := []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443),
		IpRanges: []types.IpRange{{CidrIp: aws.String("192.0.2.0/24"), Description: aws.String("api")}}}}
	if _, err := h.cl.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(sg), IpPermissions: https}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(sg), IpPermissions: https})
	wantCode(t, err, "InvalidPermission.Duplicate")
	_, err = h.cl.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(sg),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(80), ToPort: aws.Int32(70), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
	wantCode(t, err, "InvalidParameterValue")
	if _, err := h.cl.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(sg),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
			UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: dg.SecurityGroups[0].GroupId}}}}}); err != nil {
		t.Fatal(err)
	}
	got, err := h.cl.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{sg}})
	if err != nil {
		t.Fatal(err)
	}
	g := got.SecurityGroups[0]
	if len(g.IpPermissionsEgress) != 1 || aws.ToInt32(g.IpPermissionsEgress[0].FromPort) != 443 ||
		aws.ToString(g.IpPermissionsEgress[0].IpRanges[0].CidrIp) != "192.0.2.0/24" || aws.ToString(g.IpPermissionsEgress[0].IpRanges[0].Description) != "api" {
		t.Fatalf("egress = %+v", g.IpPermissionsEgress)
	}
	if len(g.IpPermissions) != 1 || aws.ToString(g.IpPermissions[0].UserIdGroupPairs[0].GroupId) != aws.ToString(dg.SecurityGroups[0].GroupId) {
		t.Fatalf("ingress = %+v", g.IpPermissions)
	}
	// The default group is referenced: it cannot go... and neither can
	// the VPC with a subnet, a group and a NAT gateway in it.
	nat, err := h.cl.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{SubnetId: aws.String(subnet), AllocationId: aws.String("eipalloc-0123456789abcdef0")})
	if err != nil {
		t.Fatal(err)
	}
	natID := aws.ToString(nat.NatGateway.NatGatewayId)
	if aws.ToString(nat.NatGateway.VpcId) != vpc || nat.NatGateway.State != types.NatGatewayStateAvailable {
		t.Fatalf("CreateNatGateway = %+v", nat.NatGateway)
	}
	if has, err := h.svc.HasNAT(ctx, vpc); err != nil || !has {
		t.Fatalf("HasNAT = %v, %v", has, err)
	}
	_, err = h.cl.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(subnet)})
	wantCode(t, err, "DependencyViolation")
	_, err = h.cl.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(vpc)})
	wantCode(t, err, "DependencyViolation")

	if _, err := h.cl.DeleteNatGateway(ctx, &ec2.DeleteNatGatewayInput{NatGatewayId: aws.String(natID)}); err != nil {
		t.Fatal(err)
	}
	dn, err := h.cl.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{natID}})
	if err != nil {
		t.Fatal(err)
	}
	if len(dn.NatGateways) != 1 || dn.NatGateways[0].State != types.NatGatewayStateDeleted {
		t.Fatalf("deleted NAT gateway: %+v", dn.NatGateways)
	}
	if has, err := h.svc.HasNAT(ctx, vpc); err != nil || has {
		t.Fatalf("HasNAT after delete = %v, %v", has, err)
	}
	for _, step := range []func() error{
		func() error {
			_, err := h.cl.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(subnet)})
			return err
		},
		func() error {
			_, err := h.cl.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(sg)})
			return err
		},
		func() error { _, err := h.cl.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(vpc)}); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	_, err = h.cl.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{vpc}})
	wantCode(t, err, "InvalidVpcID.NotFound")
	_, err = h.cl.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{subnet}})
	wantCode(t, err, "InvalidSubnetID.NotFound")
	_, err = h.cl.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{sg}})
	wantCode(t, err, "InvalidGroup.NotFound")
	// The VPC's default group went with it.
	_, err = h.cl.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{aws.ToString(dg.SecurityGroups[0].GroupId)}})
	wantCode(t, err, "InvalidGroup.NotFound")
}

func TestCreateVpcRefusals(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for cidr, code := range map[string]string{
		"10.0.0.0/8":    "InvalidVpc.Range",
		"10.0.0.0/29":   "InvalidVpc.Range",
		"10.0.0.1/16":   "InvalidParameterValue",
		"not-a-cidr":    "InvalidParameterValue",
		"2001:db8::/56": "InvalidParameterValue",
	} {
		_, err := h.cl.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(cidr)})
		wantCode(t, err, code)
	}
	_, err := h.cl.CreateVpc(ctx, &ec2.CreateVpcInput{})
	wantCode(t, err, "MissingParameter")
	_, err = h.cl.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{filter("no-such-filter", "x")}})
	wantCode(t, err, "InvalidParameterValue")
	_, err = h.cl.DeleteNatGateway(ctx, &ec2.DeleteNatGatewayInput{NatGatewayId: aws.String("nat-0123456789abcdef0")})
	wantCode(t, err, "NatGatewayNotFound")
	_, err = h.cl.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String("vpc-nothex")})
	wantCode(t, err, "InvalidVpcID.Malformed")
	// Nothing was made by the refused calls.
	all, err := h.cl.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Vpcs) != 1 {
		t.Fatalf("VPCs after refusals: %d, want only the default", len(all.Vpcs))
	}
}

// TestPolicy: the network policy of a VpcConfig follows the security
// groups' egress rules and the VPC's NAT gateways.
func TestPolicy(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	vpc := aws.ToString(must[*ec2.CreateVpcOutput](t)(h.cl.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.3.0.0/16")})).Vpc.VpcId)
	subnet := aws.ToString(must[*ec2.CreateSubnetOutput](t)(h.cl.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.3.1.0/24")})).Subnet.SubnetId)
	sg := aws.ToString(must[*ec2.CreateSecurityGroupOutput](t)(h.cl.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("db"), Description: aws.String("db"), VpcId: aws.String(vpc)})).GroupId)
	must[*ec2.RevokeSecurityGroupEgressOutput](t)(h.cl.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(sg),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}))
	must[*ec2.AuthorizeSecurityGroupEgressOutput](t)(h.cl.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(sg),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(5432), ToPort: aws.Int32(5433),
			IpRanges: []types.IpRange{{CidrIp: aws.String("10.3.2.0/24")}}}}}))

	p, err := h.svc.Policy(ctx, []string{subnet}, []string{sg})
	if err != nil {
		t.Fatal(err)
	}
	if p.Internet || len(p.Local) != 1 || p.Local[0].String() != "10.3.0.0/16" || len(p.Egress) != 1 ||
		p.Egress[0].Prefix.String() != "10.3.2.0/24" || p.Egress[0].Proto != knet.ProtoTCP || p.Egress[0].From != 5432 || p.Egress[0].To != 5433 {
		t.Fatalf("policy without a NAT gateway: %+v", p)
	}
	must[*ec2.CreateNatGatewayOutput](t)(h.cl.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{SubnetId: aws.String(subnet)}))
	if p, err = h.svc.Policy(ctx, []string{subnet}, []string{sg}); err != nil || !p.Internet {
		t.Fatalf("policy with a NAT gateway: %+v, %v", p, err)
	}
}

// must returns v, failing the test on err.
func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
