package sts_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	kumosts "github.com/kumo-run/kumo/internal/services/sts"
)

const (
	account    = "000000000000"
	rootKey    = "AKIAKUMOSTSTEST00001"
	rootSecret = "kumo-sts-test-secret-000000000000000000000"
	roleARN    = "arn:aws:iam::000000000000:role/service-role/lambda-role"
)

// harness is an edge with real SigV4 verification in front of the STS
// service. The issuer's clock runs offset behind or ahead of real time, so
// credentials can be minted in the past; the verifier's is real time, as
// the SDK signs with it.
type harness struct {
	srv    *httptest.Server
	offset atomic.Int64
	dir    *authz.Static
	az     *authz.Authorizer
}

func newHarness(t *testing.T) *harness {
	h := &harness{dir: &authz.Static{}}
	h.az = authz.New(authz.Config{Directory: h.dir, Region: "us-east-1"})
	// The role sessions of these tests assume their role again and call
	// Lambda: the role trusts the account, and allows both.
	h.dir.SetRole(authz.Role{ARN: roleARN, MaxSession: 12 * time.Hour, Trust: parse(t,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":"sts:AssumeRole"}]}`, iam.KindTrust)},
		authz.Principal{Policies: []*iam.Policy{parse(t,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","lambda:*"],"Resource":"*"}]}`, iam.KindIdentity)}})
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	is.Now = func() time.Time { return time.Now().Add(time.Duration(h.offset.Load())) }
	store := &token.Store{Issuer: is, RootKeyID: rootKey, RootSecret: rootSecret, Root: token.Root("aws", account), Keys: h.dir}
	svc := kumosts.New(kumosts.Config{Issuer: is, Partition: "aws", Account: account, Authorizer: h.az})
	h.srv = httptest.NewServer(edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: store},
		Routes: []edge.Route{
			{Name: "sts", Match: []edge.Matcher{{Service: "sts"}}, Scope: "sts", Handler: svc, Errors: kumosts.Errors},
			// A rest-json route, to see the edge's refusals in Lambda's
			// protocol and the caller it hands a service.
			{Name: "lambda", Match: []edge.Matcher{{Service: "lambda"}}, Scope: "lambda", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, _ := awsproto.CallerFrom(r.Context())
				w.Header().Set("X-Caller", c.Identity.ARN+" "+c.Identity.RoleARN+" "+c.Identity.SessionName)
				if err := h.az.Authorize(r.Context(), authz.Check{Action: "lambda:ListFunctions", Resource: "*", Denied: awsproto.AccessDeniedException}); err != nil {
					awsproto.WriteError(w, awsproto.AsError(err))
					return
				}
				awsproto.WriteJSON(w, 200, map[string]any{"Functions": []any{}})
			})},
		},
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) client(akid, secret, session string) *sts.Client {
	return sts.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(akid, secret, session),
		HTTPClient:       h.srv.Client(),
		RetryMaxAttempts: 1,
	}, func(o *sts.Options) { o.BaseEndpoint = aws.String(h.srv.URL) })
}

func (h *harness) lambda(c aws.Credentials) *lambda.Client {
	return lambda.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.StaticCredentialsProvider{Value: c},
		HTTPClient:       h.srv.Client(),
		RetryMaxAttempts: 1,
	}, func(o *lambda.Options) { o.BaseEndpoint = aws.String(h.srv.URL) })
}

func (h *harness) root() *sts.Client { return h.client(rootKey, rootSecret, "") }

func sessionClient(h *harness, c *sts.Client, ctx context.Context, t *testing.T, seconds int32) (*sts.Client, *sts.AssumeRoleOutput) {
	t.Helper()
	out, err := c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("my-function"), DurationSeconds: aws.Int32(seconds)})
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	cr := out.Credentials
	return h.client(*cr.AccessKeyId, *cr.SecretAccessKey, *cr.SessionToken), out
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestGetCallerIdentityRoot(t *testing.T) {
	h := newHarness(t)
	out, err := h.root().GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *out.Arn != "arn:aws:iam::000000000000:root" || *out.Account != account || *out.UserId != account {
		t.Errorf("root identity %s %s %s", *out.Arn, *out.Account, *out.UserId)
	}
}

func TestAssumeRole(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	before := time.Now()
	role, out := sessionClient(h, h.root(), ctx, t, 3600)
	cr := out.Credentials
	if !strings.HasPrefix(*cr.AccessKeyId, "ASIA") || len(*cr.SecretAccessKey) != 40 || *cr.SessionToken == "" {
		t.Errorf("credentials %+v", cr)
	}
	if exp := cr.Expiration.Sub(before); exp < 59*time.Minute || exp > 61*time.Minute {
		t.Errorf("expires in %s, want an hour", exp)
	}
	wantARN := "arn:aws:sts::000000000000:assumed-role/lambda-role/my-function"
	if *out.AssumedRoleUser.Arn != wantARN || !strings.HasPrefix(*out.AssumedRoleUser.AssumedRoleId, "AROA") ||
		!strings.HasSuffix(*out.AssumedRoleUser.AssumedRoleId, ":my-function") {
		t.Errorf("assumed role user %s %s", *out.AssumedRoleUser.Arn, *out.AssumedRoleUser.AssumedRoleId)
	}

	id, err := role.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *id.Arn != wantARN || *id.UserId != *out.AssumedRoleUser.AssumedRoleId || *id.Account != account {
		t.Errorf("role identity %s %s %s", *id.Arn, *id.UserId, *id.Account)
	}

	// Role chaining is limited to an hour, as on AWS.
	if _, err := role.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("chain"), DurationSeconds: aws.Int32(7200)}); apiCode(err) != "ValidationError" {
		t.Errorf("chained 2 h session: %v", err)
	}
	chained, _ := sessionClient(h, role, ctx, t, 3600)
	if _, err := chained.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("chained session: %v", err)
	}
	// Session credentials cannot get a session token.
	if _, err := role.GetSessionToken(ctx, &sts.GetSessionTokenInput{}); apiCode(err) != "AccessDenied" {
		t.Errorf("GetSessionToken with session credentials: %v", err)
	}
}

func TestGetSessionToken(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	out, err := h.root().GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	cr := out.Credentials
	c := h.client(*cr.AccessKeyId, *cr.SecretAccessKey, *cr.SessionToken)
	id, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *id.Arn != "arn:aws:iam::000000000000:root" {
		t.Errorf("session token identity %s", *id.Arn)
	}
	if _, err := h.root().GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(899)}); apiCode(err) != "ValidationError" {
		t.Errorf("899 s: %v", err)
	}
}

func TestAssumeRoleValidation(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name string
		in   sts.AssumeRoleInput
		code string
	}{
		{"short duration", sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(899)}, "ValidationError"},
		{"long duration", sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(43201)}, "ValidationError"},
		{"bad session name", sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("a b")}, "ValidationError"},
		{"not a role", sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:user/alice"), RoleSessionName: aws.String("s1")}, "ValidationError"},
		{"not an ARN", sts.AssumeRoleInput{RoleArn: aws.String("lambda-role-lambda-role"), RoleSessionName: aws.String("s1")}, "ValidationError"},
		{"another account", sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111111111111:role/r"), RoleSessionName: aws.String("s1")}, "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.root().AssumeRole(t.Context(), &tc.in)
			if apiCode(err) != tc.code {
				t.Errorf("err = %v, want %s", err, tc.code)
			}
		})
	}
}

// TestTokensExpire mints credentials with the issuer's clock two hours
// back: an hour-long session is then an hour past its expiry.
func TestTokensExpire(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.offset.Store(int64(-2 * time.Hour))
	expired, _ := sessionClient(h, h.root(), ctx, t, 3600)
	h.offset.Store(int64(-59 * time.Minute))
	fresh, _ := sessionClient(h, h.root(), ctx, t, 3600)
	h.offset.Store(0)

	_, err := expired.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if apiCode(err) != "ExpiredToken" {
		t.Errorf("expired credentials: %v", err)
	}
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != 400 {
		t.Errorf("expired credentials: status of %v", err)
	}
	if _, err := fresh.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("credentials a minute before expiry: %v", err)
	}
}

func TestTamperedTokenRefused(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	_, out := sessionClient(h, h.root(), ctx, t, 900)
	cr := out.Credentials
	tok := []byte(*cr.SessionToken)
	i := len(tok) / 2
	if tok[i] == 'A' {
		tok[i] = 'B'
	} else {
		tok[i] = 'A'
	}
	for name, c := range map[string]*sts.Client{
		"tampered token":          h.client(*cr.AccessKeyId, *cr.SecretAccessKey, string(tok)),
		"no token":                h.client(*cr.AccessKeyId, *cr.SecretAccessKey, ""),
		"another key id":          h.client("ASIAAAAAAAAAAAAAAAAA", *cr.SecretAccessKey, *cr.SessionToken),
		"root key with the token": h.client(rootKey, rootSecret, *cr.SessionToken),
		"wrong secret":            h.client(*cr.AccessKeyId, rootSecret, *cr.SessionToken),
	} {
		_, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		want := "InvalidClientTokenId"
		if name == "wrong secret" {
			want = "SignatureDoesNotMatch"
		}
		if apiCode(err) != want {
			t.Errorf("%s: %v, want %s", name, err, want)
		}
	}
}

// TestRawRequests covers what the SDK would not send.
func TestRawRequests(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"unknown action", "Action=DecodeAuthorizationMessage&Version=2011-06-15", 400, "InvalidAction"},
		{"wrong version", "Action=GetCallerIdentity&Version=2010-01-01", 400, "InvalidAction"},
		{"no action", "Version=2011-06-15", 400, "MissingAction"},
		{"no role", "Action=AssumeRole&Version=2011-06-15&RoleSessionName=s1", 400, "ValidationError"},
		{"bad duration", "Action=AssumeRole&Version=2011-06-15&RoleArn=" + roleARN + "&RoleSessionName=s1&DurationSeconds=x", 400, "ValidationError"},
		{"GetCallerIdentity", "Action=GetCallerIdentity&Version=2011-06-15", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", h.srv.URL+"/", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			sum := sha256Hex(tc.body)
			if err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: rootKey, SecretAccessKey: rootSecret}, req, sum, "sts", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			resp, err := h.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			buf.ReadFrom(resp.Body)
			if resp.StatusCode != tc.status || (tc.code != "" && !strings.Contains(buf.String(), "<Code>"+tc.code+"</Code>")) {
				t.Errorf("%d %s", resp.StatusCode, buf.String())
			}
			if tc.code == "" && !strings.Contains(buf.String(), `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">`) {
				t.Errorf("body %s", buf.String())
			}
		})
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestOtherProtocols: the edge takes temporary credentials for a JSON
// service too, hands the service the role session as the caller, and
// refuses expired and changed tokens with the JSON services' codes.
func TestOtherProtocols(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	_, out := sessionClient(h, h.root(), ctx, t, 900)
	cr := out.Credentials
	good := aws.Credentials{AccessKeyID: *cr.AccessKeyId, SecretAccessKey: *cr.SecretAccessKey, SessionToken: *cr.SessionToken}
	var caller string
	_, err := h.lambda(good).ListFunctions(ctx, &lambda.ListFunctionsInput{}, func(o *lambda.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("caller", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				o, md, err := next.HandleDeserialize(ctx, in)
				if r, ok := o.RawResponse.(*smithyhttp.Response); ok {
					caller = r.Header.Get("X-Caller")
				}
				return o, md, err
			}), middleware.After)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws:sts::000000000000:assumed-role/lambda-role/my-function " + roleARN + " my-function"; caller != want {
		t.Errorf("caller %q, want %q", caller, want)
	}

	bad := good
	tok := []byte(bad.SessionToken)
	tok[10] ^= 1
	bad.SessionToken = string(tok)
	_, err = h.lambda(bad).ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if apiCode(err) != "UnrecognizedClientException" {
		t.Errorf("changed token: %v", err)
	}

	h.offset.Store(int64(-2 * time.Hour))
	_, old := sessionClient(h, h.root(), ctx, t, 3600)
	h.offset.Store(0)
	oc := old.Credentials
	_, err = h.lambda(aws.Credentials{AccessKeyID: *oc.AccessKeyId, SecretAccessKey: *oc.SecretAccessKey, SessionToken: *oc.SessionToken}).
		ListFunctions(ctx, &lambda.ListFunctionsInput{})
	var re interface{ HTTPStatusCode() int }
	if apiCode(err) != "ExpiredTokenException" || !errors.As(err, &re) || re.HTTPStatusCode() != 400 {
		t.Errorf("expired token: %v", err)
	}
}
