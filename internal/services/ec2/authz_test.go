package ec2_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
)

// TestDenials: a user who may only describe is refused the rest with
// EC2's UnauthorizedOperation, status 403, in EC2's XML.
func TestDenials(t *testing.T) {
	h := newHarness(t)
	const (
		bobKey, bobSecret = "AKIAKUMOEC2BOB000001", "kumo-ec2-test-bob-secret-0000000000000000"
		bobARN            = "arn:aws:iam::000000000000:user/bob"
	)
	p, err := iam.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}`, iam.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	h.dir.SetUser(awsproto.Identity{Account: account, ARN: bobARN, UserID: "AIDABOB"}, authz.Principal{Policies: []*iam.Policy{p}})
	h.dir.SetAccessKey(bobKey, bobSecret, bobARN)
	bob := ec2.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(bobKey, bobSecret, ""),
		HTTPClient: h.srv.Client(), RetryMaxAttempts: 1}, func(o *ec2.Options) { o.BaseEndpoint = aws.String(h.srv.URL) })
	ctx := t.Context()
	if _, err := bob.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); err != nil {
		t.Fatalf("DescribeVpcs: %v", err)
	}
	_, err = bob.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.1.0.0/16")})
	wantCode(t, err, "UnauthorizedOperation")

	body := "Action=DeleteVpc&Version=2016-11-15&VpcId=vpc-0123456789abcdef0"
	req, _ := http.NewRequest("POST", h.srv.URL+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: bobKey, SecretAccessKey: bobSecret}, req, hex.EncodeToString(sum[:]), "ec2", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	want := `<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation. User: ` + bobARN +
		` is not authorized to perform: ec2:DeleteVpc on resource: arn:aws:ec2:us-east-1:000000000000:vpc/vpc-0123456789abcdef0 because no identity-based policy allows the ec2:DeleteVpc action</Message></Error></Errors>`
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(buf.String(), want) {
		t.Errorf("denial: %d %s\nwant 403 %s", resp.StatusCode, buf.String(), want)
	}
}
