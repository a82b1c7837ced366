package ec2

import (
	"net/http"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
)

// operation is the IAM action of one operation and its resource: type/ID
// of the resource its ID parameter names (type/* when it has none, as for
// the resources a Create makes), or "*" for the Describe operations,
// which act on no resource.
type operation struct {
	action string
	typ    string // "vpc", "subnet", "security-group", "natgateway"; "" for "*"
	param  string // the parameter naming the resource
}

// operations maps every operation of ops to its IAM action, from the EC2
// actions table of the Service Authorization Reference.
var operations = map[string]operation{
	"CreateVpc":                     {"ec2:CreateVpc", "vpc", ""},
	"DescribeVpcs":                  {"ec2:DescribeVpcs", "", ""},
	"DeleteVpc":                     {"ec2:DeleteVpc", "vpc", "VpcId"},
	"CreateSubnet":                  {"ec2:CreateSubnet", "subnet", ""},
	"DescribeSubnets":               {"ec2:DescribeSubnets", "", ""},
	"DeleteSubnet":                  {"ec2:DeleteSubnet", "subnet", "SubnetId"},
	"CreateSecurityGroup":           {"ec2:CreateSecurityGroup", "security-group", ""},
	"DescribeSecurityGroups":        {"ec2:DescribeSecurityGroups", "", ""},
	"DeleteSecurityGroup":           {"ec2:DeleteSecurityGroup", "security-group", "GroupId"},
	"AuthorizeSecurityGroupEgress":  {"ec2:AuthorizeSecurityGroupEgress", "security-group", "GroupId"},
	"AuthorizeSecurityGroupIngress": {"ec2:AuthorizeSecurityGroupIngress", "security-group", "GroupId"},
	"RevokeSecurityGroupEgress":     {"ec2:RevokeSecurityGroupEgress", "security-group", "GroupId"},
	"RevokeSecurityGroupIngress":    {"ec2:RevokeSecurityGroupIngress", "security-group", "GroupId"},
	"CreateNatGateway":              {"ec2:CreateNatGateway", "natgateway", ""},
	"DescribeNatGateways":           {"ec2:DescribeNatGateways", "", ""},
	"DeleteNatGateway":              {"ec2:DeleteNatGateway", "natgateway", "NatGatewayId"},
}

// authorizeOp checks the caller of r against q's operation.
func (s *Service) authorizeOp(r *http.Request, q awsproto.QueryRequest) error {
	if s.cfg.Authorizer == nil {
		return nil
	}
	op := operations[q.Action]
	c := authz.Check{Action: op.action, Resource: "*", SourceIP: authz.SourceIP(r), Denied: awsproto.EC2UnauthorizedOperation}
	if op.typ != "" {
		id := "*"
		if op.param != "" {
			if v := q.Params.Get(op.param); v != "" {
				id = v
			}
		}
		c.Resource = "arn:aws:ec2:" + s.cfg.Region + ":" + s.cfg.Account + ":" + op.typ + "/" + id
	}
	return s.cfg.Authorizer.Authorize(r.Context(), c)
}
