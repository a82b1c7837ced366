package iam

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAccepts(t *testing.T) {
	cases := []struct {
		name  string
		kind  Kind
		doc   string
		stmts int
	}{
		{"statement object", KindIdentity, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}`, 1},
		{"statement array", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":["arn:aws:s3:::b/*"]},{"Sid":"Two","Effect":"Deny","NotAction":"iam:*","NotResource":"arn:aws:iam::123456789012:user/bob"}]}`, 2},
		{"version 2008", KindIdentity, `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, 1},
		{"no version", KindIdentity, `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, 1},
		{"id and conditions", KindIdentity, `{"Version":"2012-10-17","Id":"x","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":true},"NumericLessThan":{"aws:MultiFactorAuthAge":3600},"ForAnyValue:StringLikeIfExists":{"aws:TagKeys":["a*","b"]}}}]}`, 1},
		{"resource policy principal star", KindResource, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f"}]}`, 1},
		{"lambda service principal", KindResource, `{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"s3-invoke_1","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"},"StringEquals":{"AWS:SourceAccount":"123456789012"}}}]}`, 1},
		{"principal forms", KindResource, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["123456789012","arn:aws:iam::123456789012:root","arn:aws:iam::123456789012:user/path/bob","arn:aws:iam::123456789012:role/r","arn:aws:sts::123456789012:assumed-role/r/s"],"Federated":"cognito-identity.amazonaws.com","CanonicalUser":"79a59df900b949e55d96a1e698fbaced"},"Action":"s3:*","Resource":"*"}]}`, 1},
		{"not principal", KindResource, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:user/bob"},"Action":"s3:*","Resource":"*"}]}`, 1},
		{"trust policy", KindTrust, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`, 1},
		{"trust policy tag session", KindTrust, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`, 1},
		{"whitespace", KindIdentity, "\n{ \"Version\" : \"2012-10-17\",\r\n\t\"Statement\" : [ { \"Effect\":\"Allow\", \"Action\":\"*\", \"Resource\":\"*\" } ] }\n", 1},
		{"variables", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*"}]}`, 1},
		{"latin-1", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/café"}]}`, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse(c.doc, c.kind)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(p.Statements) != c.stmts {
				t.Fatalf("statements = %d, want %d", len(p.Statements), c.stmts)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	const (
		allowAll = `"Effect":"Allow","Action":"*","Resource":"*"`
	)
	cases := []struct {
		name string
		kind Kind
		doc  string
		msg  string
	}{
		{"not json", KindIdentity, `{"Version":`, msgSyntax},
		{"not an object", KindIdentity, `["x"]`, msgSyntax},
		{"no statement", KindIdentity, `{"Version":"2012-10-17"}`, msgSyntax},
		{"empty statement array", KindIdentity, `{"Version":"2012-10-17","Statement":[]}`, msgSyntax},
		{"unknown top field", KindIdentity, `{"Version":"2012-10-17","Statements":[{` + allowAll + `}]}`, msgSyntax},
		{"field names are case-sensitive", KindIdentity, `{"version":"2012-10-17","Statement":[{` + allowAll + `}]}`, msgSyntax},
		{"bad version", KindIdentity, `{"Version":"2012-10-18","Statement":[{` + allowAll + `}]}`, msgLegacyParsing},
		{"unknown statement field", KindIdentity, `{"Version":"2012-10-17","Statement":[{` + allowAll + `,"Foo":1}]}`, msgSyntax},
		{"missing effect", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Action":"*","Resource":"*"}]}`, msgSyntax},
		{"lower-case effect", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"allow","Action":"*","Resource":"*"}]}`, msgSyntax},
		{"identity with principal", KindIdentity, `{"Version":"2012-10-17","Statement":[{` + allowAll + `,"Principal":"*"}]}`, msgNoPrincipal},
		{"identity with not principal", KindIdentity, `{"Version":"2012-10-17","Statement":[{` + allowAll + `,"NotPrincipal":{"AWS":"123456789012"}}]}`, msgNoPrincipal},
		{"resource without principal", KindResource, `{"Version":"2012-10-17","Statement":[{` + allowAll + `}]}`, msgMissingPrincipal},
		{"trust without principal", KindTrust, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`, msgMissingPrincipal},
		{"trust with resource", KindTrust, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}]}`, "Has prohibited field Resource"},
		{"trust with other action", KindTrust, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"s3:GetObject"}]}`, msgTrustActions},
		{"no action", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}`, msgNoActions},
		{"empty action", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}`, msgNoActions},
		{"action and not action", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","NotAction":"iam:*","Resource":"*"}]}`, msgSyntax},
		{"action without vendor", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"GetObject","Resource":"*"}]}`, msgVendor},
		{"action two colons", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get:Object","Resource":"*"}]}`, msgOneColon},
		{"action not a string", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":{"a":"b"},"Resource":"*"}]}`, msgSyntax},
		{"no resource", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}`, msgNoResources},
		{"resource and not resource", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","NotResource":"*"}]}`, msgSyntax},
		{"resource not arn", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"bucket"}]}`, `Resource bucket must be in ARN format or "*".`},
		{"condition key without vendor", KindIdentity, `{"Version":"2012-10-17","Statement":[{` + allowAll + `,"Condition":{"StringEquals":{"SourceIp":"x"}}}]}`, msgVendor},
		{"unknown operator", KindIdentity, `{"Version":"2012-10-17","Statement":[{` + allowAll + `,"Condition":{"StringEqualz":{"aws:username":"x"}}}]}`, "Invalid Condition type : StringEqualz"},
		{"unknown set operator", KindIdentity, `{"Version":"2012-10-17","Statement":[{` + allowAll + `,"Condition":{"ForSomeValues:StringEquals":{"aws:TagKeys":"x"}}}]}`, "Invalid Condition type : ForSomeValues:StringEquals"},
		{"null with if exists", KindIdentity, `{"Version":"2012-10-17","Statement":[{` + allowAll + `,"Condition":{"NullIfExists":{"aws:TokenIssueTime":"true"}}}]}`, "Invalid Condition type : NullIfExists"},
		{"condition value object", KindIdentity, `{"Version":"2012-10-17","Statement":[{` + allowAll + `,"Condition":{"StringEquals":{"aws:username":{"a":1}}}}]}`, msgSyntax},
		{"condition not an object", KindIdentity, `{"Version":"2012-10-17","Statement":[{` + allowAll + `,"Condition":"x"}]}`, msgSyntax},
		{"duplicate sid", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Sid":"A",` + allowAll + `},{"Sid":"A",` + allowAll + `}]}`, msgSidUnique},
		{"sid not alnum", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Sid":"a-b",` + allowAll + `}]}`, msgSidAlnum},
		{"principal string not star", KindResource, `{"Version":"2012-10-17","Statement":[{` + allowAll + `,"Principal":"123456789012"}]}`, msgInvalidPrincipal},
		{"principal bad arn", KindResource, `{"Version":"2012-10-17","Statement":[{` + allowAll + `,"Principal":{"AWS":"arn:aws:iam::123:user/x"}}]}`, `Invalid principal in policy: "AWS":"arn:aws:iam::123:user/x"`},
		{"principal partial wildcard", KindResource, `{"Version":"2012-10-17","Statement":[{` + allowAll + `,"Principal":{"AWS":"arn:aws:iam::123456789012:user/*"}}]}`, `Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:user/*"`},
		{"principal unknown type", KindResource, `{"Version":"2012-10-17","Statement":[{` + allowAll + `,"Principal":{"Users":"bob"}}]}`, msgInvalidPrincipal},
		{"principal empty", KindResource, `{"Version":"2012-10-17","Statement":[{` + allowAll + `,"Principal":{}}]}`, msgInvalidPrincipal},
		{"character outside latin-1", KindIdentity, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/€"}]}`, msgSyntax},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.doc, c.kind)
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("Parse = %v, want a MalformedError", err)
			}
			if me.Message != c.msg {
				t.Fatalf("message = %q, want %q", me.Message, c.msg)
			}
		})
	}
}

func TestSizeAndQuotas(t *testing.T) {
	doc := "{ \"Version\": \"2012-10-17\",\n\t\"Statement\": [] }"
	if got, want := Size(doc), len(strings.Join(strings.Fields(doc), "")); got != want {
		t.Fatalf("Size = %d, want %d", got, want)
	}
	for _, c := range []struct {
		q    Quota
		want int
	}{{QuotaUserInline, 2048}, {QuotaGroupInline, 5120}, {QuotaRoleInline, 10240}, {QuotaManaged, 6144}, {QuotaTrust, 2048}, {QuotaSession, 2048}} {
		if c.q.Max != c.want || c.q.Exceeds(c.want) || !c.q.Exceeds(c.want+1) {
			t.Errorf("%s: Max %d, want %d with Exceeds past it", c.q.Name, c.q.Max, c.want)
		}
	}
	for _, c := range []struct {
		q      Quota
		entity string
		want   string
	}{
		{QuotaUserInline, "bob", "Maximum policy size of 2048 bytes exceeded for user bob"},
		{QuotaRoleInline, "app", "Maximum policy size of 10240 bytes exceeded for role app"},
		{QuotaGroupInline, "devs", "Maximum policy size of 5120 bytes exceeded for group devs"},
		{QuotaManaged, "", "Cannot exceed quota for PolicySize: 6144"},
		{QuotaTrust, "app", "Cannot exceed quota for ACLSizePerRole: 2048"},
	} {
		if got := c.q.Message(c.entity); got != c.want {
			t.Errorf("%s message = %q, want %q", c.q.Name, got, c.want)
		}
	}
}
