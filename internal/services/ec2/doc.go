// Package ec2 serves the subset of Amazon EC2's API that describes VPC
// networks — VPCs, subnets, security groups and NAT gateways — on the
// edge, in EC2's query protocol (form parameters in, XML with item lists
// out, errors as Response>Errors>Error). It is what tools call to make the
// networks a function's VpcConfig names.
//
// State lives in the JetStream KV bucket natsd.EC2Bucket ("kumo-ec2"),
// one JSON value per resource under "<kind>.<region>.<id>" (kind is vpc,
// subnet, sg or nat); nothing is kept only in memory. Open creates the
// region's default VPC (172.31.0.0/16, a default /20 subnet in each of
// three availability zones and a default security group allowing all
// egress) when the bucket has none, as every AWS region has one.
//
// Describe calls answer every match in one page (MaxResults and NextToken
// are ignored); filters take EC2's names for the members served (vpc-id,
// subnet-id, group-name, cidr-block, state, is-default, tag:K, …) with *
// and ? wildcards, and an unknown filter name is InvalidParameterValue.
//
// Writes are serialised by the service's one mutex (a check such as
// "this VPC has no subnets" and the delete that follows it must not
// interleave with a CreateSubnet); reads take no lock. One Kumo process
// owns the bucket.
//
// With an Authorizer every operation is checked before it runs, as the
// IAM action and resource (type/ID) authz.go's table names; a denial is
// UnauthorizedOperation (403).
//
// The package only stores and describes. Lambda checks a VpcConfig
// through SubnetVPC and GroupVPC (registry.Networks); Policy turns a
// VpcConfig into the netns.Policy that the sandbox network enforces
// (egress rules of the groups, the VPC's CIDR, the internet only with a
// NAT gateway).
package ec2
