package iam

import (
	"encoding/json"
	"testing"
	"time"
)

// holds parses a Condition block and reports whether it holds for r.
func holds(t *testing.T, block string, r *Request) bool {
	t.Helper()
	conds, err := parseConditions(json.RawMessage(block), true)
	if err != nil {
		t.Fatalf("parseConditions(%s): %v", block, err)
	}
	for i := range conds {
		if !conds[i].eval(r, make([]byte, 0, 64)) {
			return false
		}
	}
	return true
}

func withKeys(m map[string][]string) *Request {
	r := &Request{}
	for k, v := range m {
		r.Set(k, v...)
	}
	return r
}

// TestConditionOperators follows "IAM JSON policy elements: Condition
// operators", one group of rows per operator family.
func TestConditionOperators(t *testing.T) {
	now := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		block string
		r     *Request
		want  bool
	}{
		// String.
		{"StringEquals", `{"StringEquals":{"aws:PrincipalTag/job-category":"iamuser-admin"}}`, &Request{PrincipalTags: map[string]string{"job-category": "iamuser-admin"}}, true},
		{"StringEquals is case-sensitive", `{"StringEquals":{"aws:PrincipalTag/job-category":"iamuser-admin"}}`, &Request{PrincipalTags: map[string]string{"job-category": "IAMUser-Admin"}}, false},
		{"StringEquals key name without case", `{"StringEquals":{"AWS:PRINCIPALTAG/JOB-CATEGORY":"iamuser-admin"}}`, &Request{PrincipalTags: map[string]string{"Job-Category": "iamuser-admin"}}, true},
		{"request key names match without case", `{"StringEquals":{"aws:SourceAccount":"123456789012"}}`, &Request{Keys: map[string][]string{"AWS:SourceAccount": {"123456789012"}}}, true},
		{"CurrentTime set in keys wins", `{"DateLessThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}`, &Request{Now: now, Keys: map[string][]string{"aws:CurrentTime": {"2019-01-01T00:00:00Z"}}}, true},
		{"StringEquals missing key", `{"StringEquals":{"aws:PrincipalTag/job-category":"iamuser-admin"}}`, &Request{}, false},
		{"StringEquals star is literal", `{"StringEquals":{"s3:prefix":"home/*"}}`, withKeys(map[string][]string{"s3:prefix": {"home/bob"}}), false},
		{"StringNotEquals", `{"StringNotEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}`, withKeys(map[string][]string{"aws:RequestedRegion": {"ap-south-1"}}), true},
		{"StringNotEquals listed", `{"StringNotEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}`, withKeys(map[string][]string{"aws:RequestedRegion": {"eu-west-1"}}), false},
		{"StringNotEquals missing key is true", `{"StringNotEquals":{"aws:RequestedRegion":"us-east-1"}}`, &Request{}, true},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"Blue"}}`, &Request{PrincipalTags: map[string]string{"team": "BLUE"}}, true},
		{"StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/team":"Blue"}}`, &Request{PrincipalTags: map[string]string{"team": "bLuE"}}, false},
		{"StringLike", `{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/*"]}}`, withKeys(map[string][]string{"s3:prefix": {"home/bob/docs"}, "aws:username": {"bob"}}), true},
		{"StringLike other user", `{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/*"]}}`, withKeys(map[string][]string{"s3:prefix": {"home/alice/docs"}, "aws:username": {"bob"}}), false},
		{"StringLike empty value", `{"StringLike":{"s3:prefix":["","home/"]}}`, withKeys(map[string][]string{"s3:prefix": {""}}), true},
		{"StringLike question", `{"StringLike":{"aws:userid":"AIDA?XAMPLE"}}`, withKeys(map[string][]string{"aws:userid": {"AIDAEXAMPLE"}}), true},
		{"StringNotLike", `{"StringNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin-*"}}`, &Request{Principal: Principal{Type: PrincipalAssumedRole, RoleARN: "arn:aws:iam::123456789012:role/admin-ops"}}, false},
		{"StringNotLike other", `{"StringNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin-*"}}`, &Request{Principal: Principal{Type: PrincipalAssumedRole, RoleARN: "arn:aws:iam::123456789012:role/dev"}}, true},

		// Numeric.
		{"NumericLessThan", `{"NumericLessThan":{"s3:max-keys":"10"}}`, withKeys(map[string][]string{"s3:max-keys": {"9"}}), true},
		{"NumericLessThan equal", `{"NumericLessThan":{"s3:max-keys":"10"}}`, withKeys(map[string][]string{"s3:max-keys": {"10"}}), false},
		{"NumericLessThanEquals", `{"NumericLessThanEquals":{"s3:max-keys":10}}`, withKeys(map[string][]string{"s3:max-keys": {"10"}}), true},
		{"NumericGreaterThan", `{"NumericGreaterThan":{"aws:MultiFactorAuthAge":"3600"}}`, withKeys(map[string][]string{"aws:MultiFactorAuthAge": {"3601"}}), true},
		{"NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"aws:MultiFactorAuthAge":"3600"}}`, withKeys(map[string][]string{"aws:MultiFactorAuthAge": {"3599.5"}}), false},
		{"NumericEquals decimal", `{"NumericEquals":{"x:n":"1.50"}}`, withKeys(map[string][]string{"x:n": {"1.5"}}), true},
		{"NumericNotEquals", `{"NumericNotEquals":{"x:n":["1","2"]}}`, withKeys(map[string][]string{"x:n": {"3"}}), true},
		{"Numeric not a number", `{"NumericEquals":{"x:n":"1"}}`, withKeys(map[string][]string{"x:n": {"one"}}), false},

		// Date.
		{"DateGreaterThan", `{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, &Request{Now: now}, true},
		{"DateLessThan", `{"DateLessThan":{"aws:CurrentTime":"2026-06-30T00:00:00Z"}}`, &Request{Now: now}, false},
		{"DateLessThanEquals date only", `{"DateLessThanEquals":{"aws:CurrentTime":"2026-07-01"}}`, &Request{Now: now}, true},
		{"DateEquals epoch", `{"DateEquals":{"aws:CurrentTime":"1782820800"}}`, &Request{Now: now}, true},
		{"DateGreaterThanEquals offset", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-06-30T14:00:00+02:00"}}`, &Request{Now: now}, true},
		{"DateNotEquals", `{"DateNotEquals":{"aws:CurrentTime":"2026-06-30T12:00:00Z"}}`, &Request{Now: now}, false},
		{"Date from keys", `{"DateLessThan":{"aws:TokenIssueTime":"2026-01-01T00:00:00Z"}}`, withKeys(map[string][]string{"aws:TokenIssueTime": {"2025-12-31T23:59:59Z"}}), true},
		{"Date window", `{"DateGreaterThan":{"aws:CurrentTime":"2026-06-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2026-06-30T00:00:00Z"}}`, &Request{Now: now}, false},
		{"EpochTime numeric", `{"NumericGreaterThan":{"aws:EpochTime":"1782820799"}}`, &Request{Now: now}, true},

		// Bool.
		{"Bool", `{"Bool":{"aws:SecureTransport":"true"}}`, withKeys(map[string][]string{"aws:SecureTransport": {"true"}}), true},
		{"Bool json literal", `{"Bool":{"aws:SecureTransport":false}}`, withKeys(map[string][]string{"aws:SecureTransport": {"true"}}), false},
		{"Bool missing", `{"Bool":{"aws:MultiFactorAuthPresent":"false"}}`, &Request{}, false},
		{"BoolIfExists missing", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}`, &Request{}, true},
		{"BoolIfExists present", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}`, withKeys(map[string][]string{"aws:MultiFactorAuthPresent": {"true"}}), false},

		// Binary.
		{"BinaryEquals", `{"BinaryEquals":{"x:b":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}`, withKeys(map[string][]string{"x:b": {"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}), true},
		{"BinaryEquals other", `{"BinaryEquals":{"x:b":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}`, withKeys(map[string][]string{"x:b": {"AAAA"}}), false},

		// IP address.
		{"IpAddress", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, withKeys(map[string][]string{"aws:SourceIp": {"203.0.113.7"}}), true},
		{"IpAddress outside", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, withKeys(map[string][]string{"aws:SourceIp": {"203.0.114.7"}}), false},
		{"IpAddress plain address", `{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}`, withKeys(map[string][]string{"aws:SourceIp": {"203.0.113.7"}}), true},
		{"IpAddress v6", `{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}}`, withKeys(map[string][]string{"aws:SourceIp": {"2001:db8:1234:5678::1"}}), true},
		{"IpAddress v4-mapped", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, withKeys(map[string][]string{"aws:SourceIp": {"::ffff:203.0.113.9"}}), true},
		{"NotIpAddress", `{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]}}`, withKeys(map[string][]string{"aws:SourceIp": {"198.51.100.1"}}), true},
		{"NotIpAddress inside", `{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]}}`, withKeys(map[string][]string{"aws:SourceIp": {"192.0.2.9"}}), false},
		{"IpAddress garbage", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, withKeys(map[string][]string{"aws:SourceIp": {"localhost"}}), false},

		// ARN.
		{"ArnLike", `{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::my-bucket*"}}`, withKeys(map[string][]string{"aws:SourceArn": {"arn:aws:s3:::my-bucket-logs"}}), true},
		{"ArnEquals takes wildcards", `{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:*:123456789012:topic"}}`, withKeys(map[string][]string{"aws:SourceArn": {"arn:aws:sns:us-east-1:123456789012:topic"}}), true},
		{"ArnLike segment", `{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:topic"}}`, withKeys(map[string][]string{"aws:SourceArn": {"arn:aws:sns:us-east-1:210987654321:topic"}}), false},
		{"ArnNotLike", `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/admin"}}`, &Request{Principal: Principal{Type: PrincipalUser, ARN: "arn:aws:iam::123456789012:user/bob"}}, true},
		{"ArnNotEquals missing", `{"ArnNotEquals":{"aws:SourceArn":"arn:aws:s3:::b"}}`, &Request{}, true},

		// Null.
		{"Null true missing", `{"Null":{"aws:TokenIssueTime":"true"}}`, &Request{}, true},
		{"Null true present", `{"Null":{"aws:TokenIssueTime":"true"}}`, withKeys(map[string][]string{"aws:TokenIssueTime": {"2026-01-01T00:00:00Z"}}), false},
		{"Null false present", `{"Null":{"aws:TokenIssueTime":"false"}}`, withKeys(map[string][]string{"aws:TokenIssueTime": {"2026-01-01T00:00:00Z"}}), true},
		{"Null false missing", `{"Null":{"aws:TokenIssueTime":"false"}}`, &Request{}, false},

		// IfExists.
		{"StringLikeIfExists missing", `{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*"]}}`, &Request{}, true},
		{"StringLikeIfExists match", `{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*"]}}`, withKeys(map[string][]string{"ec2:InstanceType": {"t2.micro"}}), true},
		{"StringLikeIfExists no match", `{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*"]}}`, withKeys(map[string][]string{"ec2:InstanceType": {"m5.large"}}), false},

		// Several keys are ANDed, several values ORed.
		{"keys AND", `{"StringEquals":{"aws:SourceAccount":"123456789012","aws:RequestedRegion":"us-east-1"}}`, withKeys(map[string][]string{"aws:SourceAccount": {"123456789012"}, "aws:RequestedRegion": {"eu-west-1"}}), false},
		{"operators AND", `{"StringEquals":{"aws:SourceAccount":"123456789012"},"ArnLike":{"aws:SourceArn":"arn:aws:s3:::b"}}`, withKeys(map[string][]string{"aws:SourceAccount": {"123456789012"}, "aws:SourceArn": {"arn:aws:s3:::b"}}), true},
		{"values OR", `{"StringEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}`, withKeys(map[string][]string{"aws:RequestedRegion": {"eu-west-1"}}), true},

		// Set operators ("Multivalued context keys").
		{"ForAllValues subset", `{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}`, withKeys(map[string][]string{"aws:TagKeys": {"environment"}}), true},
		{"ForAllValues extra", `{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}`, withKeys(map[string][]string{"aws:TagKeys": {"environment", "owner"}}), false},
		{"ForAllValues missing key is true", `{"ForAllValues:StringEquals":{"aws:TagKeys":["environment"]}}`, &Request{}, true},
		{"ForAllValues empty set is true", `{"ForAllValues:StringEquals":{"aws:TagKeys":["environment"]}}`, withKeys(map[string][]string{"aws:TagKeys": {}}), true},
		{"ForAnyValue one", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}`, withKeys(map[string][]string{"aws:TagKeys": {"owner", "cost-center"}}), true},
		{"ForAnyValue none", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}`, withKeys(map[string][]string{"aws:TagKeys": {"owner"}}), false},
		{"ForAnyValue missing key is false", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment"]}}`, &Request{}, false},
		{"ForAnyValue StringNotEquals", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["environment"]}}`, withKeys(map[string][]string{"aws:TagKeys": {"environment", "owner"}}), true},
		{"ForAllValues StringNotEquals", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["environment"]}}`, withKeys(map[string][]string{"aws:TagKeys": {"environment", "owner"}}), false},
		{"ForAllValues StringLike", `{"ForAllValues:StringLike":{"aws:TagKeys":["key*"]}}`, withKeys(map[string][]string{"aws:TagKeys": {"key1", "key2"}}), true},
		{"ForAnyValue IfExists missing", `{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":"x"}}`, &Request{}, true},
		{"TagKeys from request tags", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}`, &Request{RequestTags: map[string]string{"env": "dev", "owner": "me"}}, false},
		{"RequestTag", `{"StringEquals":{"aws:RequestTag/env":"dev"}}`, &Request{RequestTags: map[string]string{"Env": "dev"}}, true},
		{"ResourceTag", `{"StringEquals":{"aws:ResourceTag/env":"${aws:PrincipalTag/env}"}}`, &Request{ResourceTags: map[string]string{"env": "prod"}, PrincipalTags: map[string]string{"env": "prod"}}, true},
		{"ResourceTag differs", `{"StringEquals":{"aws:ResourceTag/env":"${aws:PrincipalTag/env}"}}`, &Request{ResourceTags: map[string]string{"env": "prod"}, PrincipalTags: map[string]string{"env": "dev"}}, false},
		{"single-valued operator on several values", `{"StringEquals":{"x:k":"b"}}`, withKeys(map[string][]string{"x:k": {"a", "b"}}), true},
		{"negated operator on several values", `{"StringNotEquals":{"x:k":"b"}}`, withKeys(map[string][]string{"x:k": {"a", "b"}}), false},

		// Derived keys.
		{"PrincipalType", `{"StringEquals":{"aws:PrincipalType":"AssumedRole"}}`, &Request{Principal: Principal{Type: PrincipalAssumedRole}}, true},
		{"PrincipalAccount", `{"StringEquals":{"aws:PrincipalAccount":"123456789012"}}`, &Request{Principal: Principal{Type: PrincipalUser, Account: "123456789012"}}, true},
		{"PrincipalServiceName", `{"StringEquals":{"aws:PrincipalServiceName":"s3.amazonaws.com"}}`, &Request{Principal: Principal{Type: PrincipalService, Service: "s3.amazonaws.com"}}, true},
		{"username of a role session is absent", `{"Null":{"aws:username":"true"}}`, &Request{Principal: Principal{Type: PrincipalAssumedRole, UserName: "x"}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := holds(t, c.block, c.r); got != c.want {
				t.Fatalf("%s = %v, want %v", c.block, got, c.want)
			}
		})
	}
}
