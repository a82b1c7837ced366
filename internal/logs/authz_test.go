package logs

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
	kumotoken "github.com/kumo-run/kumo/internal/iam/token"
)

// TestOperationTableCoversEveryOperation: every operation the API
// dispatches has an IAM action, and the table names no other.
func TestOperationTableCoversEveryOperation(t *testing.T) {
	for name := range ops {
		if op, ok := operations[name]; !ok || op.action != "logs:"+name {
			t.Errorf("operation %s: entry %+v, want logs:%s", name, op, name)
		}
	}
	for name := range operations {
		if _, ok := ops[name]; !ok {
			t.Errorf("operations has %s, which the API does not dispatch", name)
		}
	}
}

// TestDenials: a user whose policy allows writing one group's streams is
// refused the rest with CloudWatch Logs' AccessDeniedException (400).
func TestDenials(t *testing.T) {
	h := newHarness(t, "", Config{})
	const (
		bobKey, bobSecret = "AKIAKUMOLOGSBOB00001", "kumo-logs-test-bob-secret-000000000000000"
		bobARN            = "arn:aws:iam::000000000000:user/bob"
	)
	dir := &authz.Static{}
	p, err := iam.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],
		"Resource":["arn:aws:logs:us-east-1:000000000000:log-group:mine","arn:aws:logs:us-east-1:000000000000:log-group:mine:*"]}]}`, iam.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	dir.SetUser(awsproto.Identity{Account: "000000000000", ARN: bobARN, UserID: "AIDABOB"}, authz.Principal{Policies: []*iam.Policy{p}})
	dir.SetAccessKey(bobKey, bobSecret, bobARN)
	is, err := kumotoken.New(bytes.Repeat([]byte{7}, kumotoken.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: &kumotoken.Store{Issuer: is, Keys: dir}},
		Routes: []edge.Route{{Name: "logs", Match: []edge.Matcher{{Service: "logs"}}, Scope: "logs",
			Handler: h.st.HandlerWith(authz.New(authz.Config{Directory: dir, Region: "us-east-1"}))}}}))
	t.Cleanup(srv.Close)
	cl := cloudwatchlogs.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(bobKey, bobSecret, ""),
		HTTPClient: srv.Client(), RetryMaxAttempts: 1}, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	ctx := ctxT(t)
	if _, err := cl.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("mine")}); err != nil {
		t.Fatalf("CreateLogGroup mine: %v", err)
	}
	if _, err := cl.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("mine"), LogStreamName: aws.String("s")}); err != nil {
		t.Fatalf("CreateLogStream mine/s: %v", err)
	}
	for _, tc := range []struct {
		call func() error
		msg  string
	}{
		{func() error {
			_, err := cl.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("theirs")})
			return err
		}, "User: " + bobARN + " is not authorized to perform: logs:CreateLogGroup on resource: arn:aws:logs:us-east-1:000000000000:log-group:theirs because no identity-based policy allows the logs:CreateLogGroup action"},
		{func() error {
			_, err := cl.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
			return err
		}, "User: " + bobARN + " is not authorized to perform: logs:DescribeLogGroups on resource: arn:aws:logs:us-east-1:000000000000:log-group:* because no identity-based policy allows the logs:DescribeLogGroups action"},
		{func() error {
			_, err := cl.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("mine"), LogStreamName: aws.String("s")})
			return err
		}, "User: " + bobARN + " is not authorized to perform: logs:GetLogEvents on resource: arn:aws:logs:us-east-1:000000000000:log-group:mine:log-stream:s because no identity-based policy allows the logs:GetLogEvents action"},
	} {
		err := tc.call()
		var ae smithy.APIError
		var re *smithyhttp.ResponseError
		if !errors.As(err, &ae) || !errors.As(err, &re) || ae.ErrorCode() != "AccessDeniedException" || ae.ErrorMessage() != tc.msg || re.HTTPStatusCode() != http.StatusBadRequest {
			t.Errorf("err = %v,\nwant 400 AccessDeniedException %q", err, tc.msg)
		}
	}
}
