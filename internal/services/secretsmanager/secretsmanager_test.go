package secretsmanager_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/services/kms"
	kumosm "github.com/kumo-run/kumo/internal/services/secretsmanager"
	"github.com/kumo-run/kumo/internal/store"
)

const (
	account    = "000000000000"
	rootKey    = "AKIAKUMOSMTEST000001"
	rootSecret = "kumo-sm-test-secret-0000000000000000000000"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type harness struct {
	kms  *kms.Service
	svc  *kumosm.Service
	kv   store.KV
	cl   *secretsmanager.Client
	srv  *httptest.Server
	auth *authz.Static
	clk  *clock
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{auth: &authz.Static{}, clk: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	az := authz.New(authz.Config{Directory: h.auth, Region: "us-east-1"})
	ns, err := natsd.Start(natsd.Config{DataDir: t.TempDir(), Sync: natsd.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect("sm-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	st, err := store.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	kkv, err := st.KV(ctx, natsd.KMSBucket)
	if err != nil {
		t.Fatal(err)
	}
	mk, err := kms.NewMasterKey(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	h.kms, err = kms.Open(ctx, kms.Config{KV: kkv, Master: mk, Region: "us-east-1", Account: account, Authorizer: az, Now: h.clk.now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.kms.Close)
	if h.kv, err = st.KV(ctx, natsd.SecretsBucket); err != nil {
		t.Fatal(err)
	}
	h.svc, err = kumosm.Open(ctx, kumosm.Config{KV: h.kv, Keys: kms.ServiceKeys{KMS: h.kms, Service: "secretsmanager"},
		Region: "us-east-1", Account: account, Authorizer: az, Now: h.clk.now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.svc.Close)
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	creds := &token.Store{Issuer: is, RootKeyID: rootKey, RootSecret: rootSecret, Root: token.Root("aws", account), Keys: h.auth}
	h.srv = httptest.NewServer(edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: creds},
		Routes: []edge.Route{
			{Name: "secretsmanager", Match: []edge.Matcher{{Service: kumosm.SigningName}}, Scope: kumosm.SigningName, Handler: h.svc, Errors: kumosm.Errors},
			{Name: "kms", Match: []edge.Matcher{{Service: kms.SigningName}}, Scope: kms.SigningName, Handler: h.kms, Errors: kms.Errors},
		},
	}))
	t.Cleanup(h.srv.Close)
	h.cl = h.client(rootKey, rootSecret)
	return h
}

func (h *harness) client(key, secret string) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient: h.srv.Client(), RetryMaxAttempts: 1}, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(h.srv.URL) })
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

func (h *harness) get(t *testing.T, in *secretsmanager.GetSecretValueInput) *secretsmanager.GetSecretValueOutput {
	t.Helper()
	out, err := h.cl.GetSecretValue(t.Context(), in)
	if err != nil {
		t.Fatalf("GetSecretValue: %v", err)
	}
	return out
}

// TestVersionsAndStages: versions by ClientRequestToken, AWSCURRENT and
// AWSPREVIOUS moving as values are put, idempotent retries.
func TestVersionsAndStages(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	c, err := h.cl.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/db"), SecretString: aws.String("v1"),
		ClientRequestToken: aws.String("00000000-0000-4000-8000-000000000001"), Description: aws.String("database")})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db-[A-Za-z0-9]{6}$`).MatchString(aws.ToString(c.ARN)) ||
		aws.ToString(c.VersionId) != "00000000-0000-4000-8000-000000000001" {
		t.Fatalf("CreateSecret: %+v", c)
	}
	_, err = h.cl.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/db"), SecretString: aws.String("other")})
	wantCode(t, err, "ResourceExistsException")
	_, err = h.cl.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("both"), SecretString: aws.String("a"), SecretBinary: []byte("b")})
	wantCode(t, err, "InvalidParameterException")

	g := h.get(t, &secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/db")})
	if aws.ToString(g.SecretString) != "v1" || len(g.VersionStages) != 1 || g.VersionStages[0] != "AWSCURRENT" || aws.ToString(g.ARN) != aws.ToString(c.ARN) {
		t.Fatalf("GetSecretValue: %+v", g)
	}
	for _, id := range []string{aws.ToString(c.ARN), strings.TrimSuffix(aws.ToString(c.ARN), aws.ToString(c.ARN)[len(aws.ToString(c.ARN))-7:])} {
		if g := h.get(t, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)}); aws.ToString(g.SecretString) != "v1" {
			t.Fatalf("by %s: %+v", id, g)
		}
	}
	p2, err := h.cl.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("prod/db"), SecretString: aws.String("v2"),
		ClientRequestToken: aws.String("00000000-0000-4000-8000-000000000002")})
	if err != nil || len(p2.VersionStages) != 1 || p2.VersionStages[0] != "AWSCURRENT" {
		t.Fatalf("PutSecretValue: %+v %v", p2, err)
	}
	again, err := h.cl.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("prod/db"), SecretString: aws.String("v2"),
		ClientRequestToken: aws.String("00000000-0000-4000-8000-000000000002")})
	if err != nil || aws.ToString(again.VersionId) != aws.ToString(p2.VersionId) {
		t.Fatalf("PutSecretValue retried: %v", err)
	}
	_, err = h.cl.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("prod/db"), SecretString: aws.String("changed"),
		ClientRequestToken: aws.String("00000000-0000-4000-8000-000000000002")})
	wantCode(t, err, "ResourceExistsException")
	if _, err := h.cl.UpdateSecret(ctx, &secretsmanager.UpdateSecretInput{SecretId: aws.String("prod/db"), SecretString: aws.String("v3"),
		ClientRequestToken: aws.String("00000000-0000-4000-8000-000000000003"), Description: aws.String("primary database")}); err != nil {
		t.Fatal(err)
	}
	if g := h.get(t, &secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/db")}); aws.ToString(g.SecretString) != "v3" {
		t.Fatalf("AWSCURRENT: %+v", g)
	}
	if g := h.get(t, &secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/db"), VersionStage: aws.String("AWSPREVIOUS")}); aws.ToString(g.SecretString) != "v2" {
		t.Fatalf("AWSPREVIOUS: %+v", g)
	}
	if g := h.get(t, &secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/db"), VersionId: aws.String("00000000-0000-4000-8000-000000000001")}); aws.ToString(g.SecretString) != "v1" || len(g.VersionStages) != 0 {
		t.Fatalf("the first version: %+v", g)
	}
	d, err := h.cl.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("prod/db")})
	if err != nil || aws.ToString(d.Description) != "primary database" || len(d.VersionIdsToStages) != 3 ||
		d.VersionIdsToStages["00000000-0000-4000-8000-000000000003"][0] != "AWSCURRENT" || d.VersionIdsToStages["00000000-0000-4000-8000-000000000002"][0] != "AWSPREVIOUS" {
		t.Fatalf("DescribeSecret: %+v %v", d, err)
	}
	_, err = h.cl.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
	wantCode(t, err, "ResourceNotFoundException")

	// Binary values.
	if _, err := h.cl.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bin"), SecretBinary: []byte{0, 1, 2, 255}}); err != nil {
		t.Fatal(err)
	}
	if g := h.get(t, &secretsmanager.GetSecretValueInput{SecretId: aws.String("bin")}); !bytes.Equal(g.SecretBinary, []byte{0, 1, 2, 255}) || g.SecretString != nil {
		t.Fatalf("binary: %+v", g)
	}
	ls, err := h.cl.ListSecrets(ctx, &secretsmanager.ListSecretsInput{Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"prod/"}}}})
	if err != nil || len(ls.SecretList) != 1 || aws.ToString(ls.SecretList[0].Name) != "prod/db" {
		t.Fatalf("ListSecrets by name: %+v %v", ls, err)
	}
	page, err := h.cl.ListSecrets(ctx, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(1)})
	if err != nil || len(page.SecretList) != 1 || page.NextToken == nil {
		t.Fatalf("ListSecrets page: %+v %v", page, err)
	}
	page2, err := h.cl.ListSecrets(ctx, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(1), NextToken: page.NextToken})
	if err != nil || len(page2.SecretList) != 1 || aws.ToString(page2.SecretList[0].Name) == aws.ToString(page.SecretList[0].Name) {
		t.Fatalf("ListSecrets page 2: %+v %v", page2, err)
	}
}

// TestDeletion: the recovery window, RestoreSecret, the sweeper, and
// ForceDeleteWithoutRecovery.
func TestDeletion(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	c, err := h.cl.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("tmp"), SecretString: aws.String("x")})
	if err != nil {
		t.Fatal(err)
	}
	for _, days := range []int64{6, 31} {
		_, err = h.cl.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("tmp"), RecoveryWindowInDays: aws.Int64(days)})
		wantCode(t, err, "InvalidParameterException")
	}
	_, err = h.cl.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("tmp"), RecoveryWindowInDays: aws.Int64(7), ForceDeleteWithoutRecovery: aws.Bool(true)})
	wantCode(t, err, "InvalidParameterException")
	del, err := h.cl.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("tmp"), RecoveryWindowInDays: aws.Int64(7)})
	if err != nil || !del.DeletionDate.Equal(h.clk.now().Add(7*24*time.Hour)) {
		t.Fatalf("DeleteSecret: %+v %v", del, err)
	}
	_, err = h.cl.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("tmp")})
	wantCode(t, err, "InvalidRequestException")
	_, err = h.cl.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("tmp"), SecretString: aws.String("y")})
	wantCode(t, err, "InvalidRequestException")
	ls, _ := h.cl.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	if len(ls.SecretList) != 0 {
		t.Fatalf("ListSecrets shows a deleted secret: %+v", ls.SecretList)
	}
	ls, _ = h.cl.ListSecrets(ctx, &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)})
	if len(ls.SecretList) != 1 || ls.SecretList[0].DeletedDate == nil {
		t.Fatalf("ListSecrets IncludePlannedDeletion: %+v", ls.SecretList)
	}
	if _, err := h.cl.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("tmp")}); err != nil {
		t.Fatal(err)
	}
	if g := h.get(t, &secretsmanager.GetSecretValueInput{SecretId: aws.String("tmp")}); aws.ToString(g.SecretString) != "x" {
		t.Fatalf("after RestoreSecret: %+v", g)
	}
	if _, err := h.cl.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("tmp"), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
		t.Fatal(err)
	}
	h.clk.add(6 * 24 * time.Hour)
	if err := h.svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("tmp")}); err != nil {
		t.Fatalf("deleted before the window ended: %v", err)
	}
	h.clk.add(24*time.Hour + time.Second)
	if err := h.svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("tmp")})
	wantCode(t, err, "ResourceNotFoundException")
	c2, err := h.cl.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("tmp"), SecretString: aws.String("z")})
	if err != nil || aws.ToString(c2.ARN) == aws.ToString(c.ARN) {
		t.Fatalf("CreateSecret of a deleted name: %+v %v", c2, err)
	}
	if _, err := h.cl.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("tmp"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("tmp")})
	wantCode(t, err, "ResourceNotFoundException")
}

// TestEncryptedAtRest: the bucket never holds a value in the clear; the
// default key is aws/secretsmanager; a secret on a disabled key cannot be
// read (DecryptionFailure).
func TestEncryptedAtRest(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	const marker = "very-secret-marker-4b1d"
	if _, err := h.cl.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("default-key"), SecretString: aws.String(marker)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.kms.KeyARN("alias/aws/secretsmanager"); err != nil {
		t.Fatalf("alias/aws/secretsmanager: %v", err)
	}
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
	req.Header.Set("X-Amz-Target", "TrentService.CreateKey")
	rec := httptest.NewRecorder()
	h.kms.ServeHTTP(rec, req)
	body := rec.Body.String()
	keyID := body[strings.Index(body, `"KeyId":"`)+9:]
	keyID = keyID[:strings.IndexByte(keyID, '"')]
	if _, err := h.cl.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("own-key"), SecretString: aws.String(marker), KmsKeyId: aws.String(keyID)}); err != nil {
		t.Fatal(err)
	}
	_, err := h.cl.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bad-key"), SecretString: aws.String(marker), KmsKeyId: aws.String("alias/none")})
	wantCode(t, err, "ResourceNotFoundException")
	es, err := h.kv.List(ctx, "")
	if err != nil || len(es) != 2 {
		t.Fatalf("bucket: %d entries, %v", len(es), err)
	}
	for _, e := range es {
		if bytes.Contains(e.Value, []byte(marker)) {
			t.Fatalf("%s holds the value in the clear", e.Key)
		}
	}
	d, _ := h.cl.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("own-key")})
	if aws.ToString(d.KmsKeyId) != keyID {
		t.Fatalf("KmsKeyId %q", aws.ToString(d.KmsKeyId))
	}
	req = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"KeyId":"`+keyID+`"}`))
	req.Header.Set("X-Amz-Target", "TrentService.DisableKey")
	h.kms.ServeHTTP(httptest.NewRecorder(), req)
	_, err = h.cl.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("own-key")})
	wantCode(t, err, "DecryptionFailure")
	if g := h.get(t, &secretsmanager.GetSecretValueInput{SecretId: aws.String("default-key")}); aws.ToString(g.SecretString) != marker {
		t.Fatalf("the default key's secret: %+v", g)
	}
}

// TestAuthorization: a user without a policy is refused; with
// secretsmanager:GetSecretValue on the secret it reads it.
func TestAuthorization(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	c, err := h.cl.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("guarded"), SecretString: aws.String("x")})
	if err != nil {
		t.Fatal(err)
	}
	const dan = "arn:aws:iam::000000000000:user/dan"
	h.auth.SetUser(awsproto.Identity{Account: account, ARN: dan, UserID: "AIDADAN"}, authz.Principal{})
	h.auth.SetAccessKey("AKIAKUMOSMDAN0000001", "kumo-sm-test-dan-secret-0000000000000000", dan)
	cl := h.client("AKIAKUMOSMDAN0000001", "kumo-sm-test-dan-secret-0000000000000000")
	_, err = cl.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("guarded")})
	wantCode(t, err, "AccessDeniedException")
	p, err := iam.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"`+aws.ToString(c.ARN)+`"}]}`, iam.KindIdentity)
	if err != nil {
		t.Fatal(err)
	}
	h.auth.SetUser(awsproto.Identity{Account: account, ARN: dan, UserID: "AIDADAN"}, authz.Principal{Policies: []*iam.Policy{p}})
	if _, err := cl.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("guarded")}); err != nil {
		t.Fatalf("with the policy: %v", err)
	}
	_, err = cl.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("guarded")})
	wantCode(t, err, "AccessDeniedException")
}
