package iam_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/poll"
	kumoiam "github.com/kumo-run/kumo/internal/services/iam"
	kumosts "github.com/kumo-run/kumo/internal/services/sts"
	"github.com/kumo-run/kumo/internal/store"
)

const (
	account    = "000000000000"
	rootKey    = "AKIAKUMOIAMTEST00001"
	rootSecret = "kumo-iam-test-secret-000000000000000000000"
	// region is the server's: IAM's clients sign for us-east-1 anyway.
	region = "eu-west-1"
)

const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

const listFunctions = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}]}`

// node is one Kumo server: a directory on the shared bucket, the IAM and
// STS services behind an edge that verifies SigV4 with the root key and
// the directory's user keys.
type node struct {
	dir *kumoiam.Directory
	srv *httptest.Server
}

type harness struct {
	st     store.Store
	kv     store.KV
	issuer *token.Issuer
	*node
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ns, err := natsd.Start(natsd.Config{DataDir: t.TempDir(), Sync: natsd.SyncInterval})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect("iam-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	st, err := store.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := st.KV(context.Background(), natsd.IAMBucket)
	if err != nil {
		t.Fatal(err)
	}
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{st: st, kv: kv, issuer: is}
	h.node = h.start(t)
	return h
}

// start opens another node on the same bucket.
func (h *harness) start(t *testing.T) *node {
	t.Helper()
	dir, err := kumoiam.OpenDirectory(context.Background(), kumoiam.DirectoryConfig{KV: h.kv, Issuer: h.issuer, Account: account})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dir.Close)
	creds := &token.Store{Issuer: h.issuer, RootKeyID: rootKey, RootSecret: rootSecret, Root: token.Root("aws", account), Keys: dir}
	srv := httptest.NewServer(edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: region, GlobalRegions: map[string]string{kumoiam.SigningName: kumoiam.SigningRegion}, Credentials: creds},
		Routes: []edge.Route{
			{Name: "iam", Match: []edge.Matcher{{Service: kumoiam.SigningName}, {Query: map[string]string{"Action": "", "Version": kumoiam.Version}}}, Scope: kumoiam.SigningName,
				Handler: kumoiam.New(kumoiam.Config{Directory: dir}), Errors: kumoiam.Errors},
			{Name: "sts", Match: []edge.Matcher{{Service: kumosts.SigningName}}, Scope: kumosts.SigningName,
				Handler: kumosts.New(kumosts.Config{Issuer: h.issuer, Account: account}), Errors: kumosts.Errors},
		},
	}))
	t.Cleanup(srv.Close)
	return &node{dir: dir, srv: srv}
}

// iam is an IAM client of n signing with the given key, for us-east-1 as
// AWS's clients do.
func (n *node) iam(akid, secret string) *iam.Client {
	return iam.NewFromConfig(aws.Config{
		Region:           kumoiam.SigningRegion,
		Credentials:      credentials.NewStaticCredentialsProvider(akid, secret, ""),
		HTTPClient:       n.srv.Client(),
		RetryMaxAttempts: 1,
	}, func(o *iam.Options) { o.BaseEndpoint = aws.String(n.srv.URL) })
}

func (n *node) root() *iam.Client { return n.iam(rootKey, rootSecret) }

func (n *node) sts(akid, secret, session string) *sts.Client {
	return sts.NewFromConfig(aws.Config{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(akid, secret, session),
		HTTPClient:       n.srv.Client(),
		RetryMaxAttempts: 1,
	}, func(o *sts.Options) { o.BaseEndpoint = aws.String(n.srv.URL) })
}

// wantErr checks err is the API error code with a message containing msg.
func wantErr(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want %s", err, code)
	}
	if ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Fatalf("err = %s %q, want %s containing %q", ae.ErrorCode(), ae.ErrorMessage(), code, msg)
	}
}

func decode(t *testing.T, s *string) string {
	t.Helper()
	d, err := url.QueryUnescape(aws.ToString(s))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// eventually polls cond until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestUsersAndAccessKeys(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	c := h.root()
	out, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("Bob"), Path: aws.String("/dev/"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("core")}}})
	if err != nil {
		t.Fatal(err)
	}
	u := out.User
	if *u.Arn != "arn:aws:iam::000000000000:user/dev/Bob" || !strings.HasPrefix(*u.UserId, "AIDA") || len(*u.UserId) != 21 || *u.Path != "/dev/" || u.CreateDate == nil {
		t.Errorf("user %+v", u)
	}
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")})
	wantErr(t, err, "EntityAlreadyExists", "User with name bob already exists.")
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bad/name")})
	wantErr(t, err, "ValidationError", "Member must satisfy regular expression pattern")

	got, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("bob")})
	if err != nil || *got.User.UserName != "Bob" || *got.User.UserId != *u.UserId || len(got.User.Tags) != 1 {
		t.Fatalf("GetUser = %+v, %v", got, err)
	}
	_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
	wantErr(t, err, "NoSuchEntity", "The user with name nobody cannot be found.")
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil || len(list.Users) != 2 || *list.Users[0].UserName != "alice" || *list.Users[1].UserName != "Bob" {
		t.Fatalf("ListUsers = %+v, %v", list, err)
	}
	page, err := c.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(1)})
	if err != nil || len(page.Users) != 1 || !page.IsTruncated {
		t.Fatalf("ListUsers page 1 = %+v, %v", page, err)
	}
	page, err = c.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(1), Marker: page.Marker})
	if err != nil || len(page.Users) != 1 || page.IsTruncated || *page.Users[0].UserName != "Bob" {
		t.Fatalf("ListUsers page 2 = %+v, %v", page, err)
	}

	// Two keys at most.
	k1, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("Bob")})
	if err != nil {
		t.Fatal(err)
	}
	key := k1.AccessKey
	if !strings.HasPrefix(*key.AccessKeyId, "AKIA") || len(*key.AccessKeyId) != 20 || len(*key.SecretAccessKey) != 40 || key.Status != types.StatusTypeActive {
		t.Errorf("access key %+v", key)
	}
	if _, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("Bob")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("Bob")})
	wantErr(t, err, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
	keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("Bob")})
	if err != nil || len(keys.AccessKeyMetadata) != 2 {
		t.Fatalf("ListAccessKeys = %+v, %v", keys, err)
	}

	// The key authenticates as the user, on every API.
	who, err := h.sts(*key.AccessKeyId, *key.SecretAccessKey, "").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || *who.Arn != "arn:aws:iam::000000000000:user/dev/Bob" || *who.UserId != *u.UserId {
		t.Fatalf("GetCallerIdentity = %+v, %v", who, err)
	}
	// GetUser without a name is the caller's own user.
	me, err := h.iam(*key.AccessKeyId, *key.SecretAccessKey).GetUser(ctx, &iam.GetUserInput{})
	if err != nil || *me.User.UserName != "Bob" {
		t.Fatalf("GetUser() = %+v, %v", me, err)
	}
	// So does a session the user gets with GetSessionToken.
	st, err := h.sts(*key.AccessKeyId, *key.SecretAccessKey, "").GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	sc := st.Credentials
	who, err = h.sts(*sc.AccessKeyId, *sc.SecretAccessKey, *sc.SessionToken).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || *who.Arn != "arn:aws:iam::000000000000:user/dev/Bob" {
		t.Fatalf("GetCallerIdentity with a session = %+v, %v", who, err)
	}

	// An inactive key is refused.
	if _, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("Bob"), AccessKeyId: key.AccessKeyId, Status: types.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	_, err = h.sts(*key.AccessKeyId, *key.SecretAccessKey, "").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantErr(t, err, "InvalidClientTokenId", "security token")

	// The secret is not in the store in clear text.
	e, err := h.kv.List(ctx, "user.")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range e {
		if bytes.Contains(e.Value, []byte(*key.SecretAccessKey)) {
			t.Errorf("%s holds the secret access key in clear text", e.Key)
		}
	}

	// Renamed, the user keeps its id, tags, keys and groups' view.
	if _, err := c.UpdateUser(ctx, &iam.UpdateUserInput{UserName: aws.String("Bob"), NewUserName: aws.String("Robert"), NewPath: aws.String("/ops/")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateUser(ctx, &iam.UpdateUserInput{UserName: aws.String("Robert"), NewUserName: aws.String("alice")})
	wantErr(t, err, "EntityAlreadyExists", "User with name alice already exists.")
	_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("Bob")})
	wantErr(t, err, "NoSuchEntity", "cannot be found")
	got, err = c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("robert")})
	if err != nil || *got.User.Arn != "arn:aws:iam::000000000000:user/ops/Robert" || *got.User.UserId != *u.UserId || len(got.User.Tags) != 1 {
		t.Fatalf("GetUser after a rename = %+v, %v", got, err)
	}
	if _, id, ok := h.dir.AccessKey(*keys.AccessKeyMetadata[1].AccessKeyId); !ok || id.ARN != *got.User.Arn {
		t.Errorf("the renamed user's key: %+v %v", id, ok)
	}
	if _, err := c.UpdateUser(ctx, &iam.UpdateUserInput{UserName: aws.String("Robert"), NewUserName: aws.String("Bob"), NewPath: aws.String("/dev/")}); err != nil {
		t.Fatal(err)
	}

	// A user with keys cannot be deleted.
	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("Bob")})
	wantErr(t, err, "DeleteConflict", "Cannot delete entity, must delete access keys first.")
	for _, k := range keys.AccessKeyMetadata {
		if _, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("Bob"), AccessKeyId: k.AccessKeyId}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("Bob"), AccessKeyId: key.AccessKeyId})
	wantErr(t, err, "NoSuchEntity", "The Access Key with id "+*key.AccessKeyId+" cannot be found.")
	if _, err := c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("Bob")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("Bob")})
	wantErr(t, err, "NoSuchEntity", "cannot be found")
	// The session of a deleted user is allowed nothing.
	if _, ok := h.dir.Principal(awsproto.Identity{ARN: "arn:aws:iam::000000000000:user/dev/Bob", UserID: *u.UserId}); ok {
		t.Error("a deleted user is still a principal")
	}
}

func TestRoles(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	c := h.root()
	out, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("lambda-role"), Path: aws.String("/service-role/"),
		AssumeRolePolicyDocument: aws.String(trust), Description: aws.String("runs functions"), MaxSessionDuration: aws.Int32(7200)})
	if err != nil {
		t.Fatal(err)
	}
	r := out.Role
	const roleARN = "arn:aws:iam::000000000000:role/service-role/lambda-role"
	if *r.Arn != roleARN || *r.RoleId != h.issuer.RoleID(roleARN) || *r.MaxSessionDuration != 7200 || decode(t, r.AssumeRolePolicyDocument) != trust {
		t.Errorf("role %+v", r)
	}
	// The role id is the one its sessions carry.
	sess, err := h.issuer.RoleSession(roleARN, "fn")
	if err != nil || !strings.HasPrefix(sess.UserID, *r.RoleId+":") {
		t.Errorf("session %+v of role id %s", sess, *r.RoleId)
	}
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("LAMBDA-ROLE"), AssumeRolePolicyDocument: aws.String(trust)})
	wantErr(t, err, "EntityAlreadyExists", "Role with name LAMBDA-ROLE already exists.")
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r2"), AssumeRolePolicyDocument: aws.String(listFunctions)})
	wantErr(t, err, "MalformedPolicyDocument", "")
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r2"), AssumeRolePolicyDocument: aws.String("{")})
	wantErr(t, err, "MalformedPolicyDocument", "")
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r2"), AssumeRolePolicyDocument: aws.String(trust), MaxSessionDuration: aws.Int32(60)})
	wantErr(t, err, "ValidationError", "Member must have value greater than or equal to 3600")
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r2"), AssumeRolePolicyDocument: aws.String(trust), MaxSessionDuration: aws.Int32(43201)})
	wantErr(t, err, "ValidationError", "Member must have value less than or equal to 43200")

	d, ok := h.dir.Role(roleARN)
	if !ok || d.ID != *r.RoleId || d.MaxSession != 2*time.Hour || d.Trust == nil || len(d.Trust.Statements) != 1 {
		t.Fatalf("Directory.Role = %+v, %v", d, ok)
	}
	newTrust := strings.Replace(trust, "lambda.amazonaws.com", "states.amazonaws.com", 1)
	if _, err := c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("lambda-role"), PolicyDocument: aws.String(newTrust)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: aws.String("lambda-role"), MaxSessionDuration: aws.Int32(43200)}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("lambda-role")})
	if err != nil || decode(t, got.Role.AssumeRolePolicyDocument) != newTrust || *got.Role.MaxSessionDuration != 43200 || *got.Role.Description != "runs functions" {
		t.Fatalf("GetRole = %+v, %v", got, err)
	}
	if d, _ := h.dir.Role(roleARN); d.MaxSession != 12*time.Hour {
		t.Errorf("Directory.Role after UpdateRole: %s", d.MaxSession)
	}
	list, err := c.ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil || len(list.Roles) != 1 {
		t.Fatalf("ListRoles = %+v, %v", list, err)
	}

	// Inline policies: validated, answered URL-encoded, part of the
	// role's sessions' policies.
	_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("lambda-role"), PolicyName: aws.String("p"), PolicyDocument: aws.String(trust)})
	wantErr(t, err, "MalformedPolicyDocument", "Policy document should not specify a principal.")
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("lambda-role"), PolicyName: aws.String("list"), PolicyDocument: aws.String(listFunctions)}); err != nil {
		t.Fatal(err)
	}
	rp, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("lambda-role"), PolicyName: aws.String("list")})
	if err != nil || decode(t, rp.PolicyDocument) != listFunctions || !strings.Contains(*rp.PolicyDocument, "%22") {
		t.Fatalf("GetRolePolicy = %+v, %v", rp, err)
	}
	_, err = c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("lambda-role"), PolicyName: aws.String("nope")})
	wantErr(t, err, "NoSuchEntity", "The role policy with name nope cannot be found.")
	names, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("lambda-role")})
	if err != nil || len(names.PolicyNames) != 1 || names.PolicyNames[0] != "list" {
		t.Fatalf("ListRolePolicies = %+v, %v", names, err)
	}
	p, ok := h.dir.Principal(sess)
	if !ok || len(p.Policies) != 1 || p.Policies[0].Name != "inline:role/lambda-role/list" {
		t.Fatalf("Principal(role session) = %+v, %v", p, ok)
	}

	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("lambda-role")})
	wantErr(t, err, "DeleteConflict", "Cannot delete entity, must delete policies first.")
	if _, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("lambda-role"), PolicyName: aws.String("list")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("lambda-role")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("lambda-role")})
	wantErr(t, err, "NoSuchEntity", "The role with name lambda-role cannot be found.")
	if _, ok := h.dir.Principal(sess); ok {
		t.Error("the session of a deleted role is still a principal")
	}
}

func TestManagedPolicies(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	c := h.root()
	const basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"

	// The AWS managed policies, with AWS's documents.
	gp, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(basic)})
	if err != nil || *gp.Policy.PolicyName != "AWSLambdaBasicExecutionRole" || *gp.Policy.Path != "/service-role/" || *gp.Policy.DefaultVersionId != "v1" {
		t.Fatalf("GetPolicy = %+v, %v", gp, err)
	}
	gv, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(basic), VersionId: aws.String("v1")})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Statement []struct{ Action []string } }
	if err := json.Unmarshal([]byte(decode(t, gv.PolicyVersion.Document)), &doc); err != nil || len(doc.Statement) != 1 ||
		strings.Join(doc.Statement[0].Action, ",") != "logs:CreateLogGroup,logs:CreateLogStream,logs:PutLogEvents" {
		t.Fatalf("AWSLambdaBasicExecutionRole document %+v, %v", doc, err)
	}
	awsList, err := c.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: types.PolicyScopeTypeAws})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"AdministratorAccess": true, "AWSLambdaBasicExecutionRole": true, "AWSLambdaSQSQueueExecutionRole": true,
		"AWSLambdaVPCAccessExecutionRole": true, "AWSLambdaRole": true, "AWSLambda_FullAccess": true, "AWSLambda_ReadOnlyAccess": true,
		"ReadOnlyAccess": true, "IAMFullAccess": true, "IAMReadOnlyAccess": true}
	for _, p := range awsList.Policies {
		delete(want, *p.PolicyName)
	}
	if len(want) > 0 {
		t.Errorf("ListPolicies(AWS) lacks %v", want)
	}
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(basic)})
	wantErr(t, err, "UnmodifiableEntity", "")

	// A customer managed policy and its versions.
	cp, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("lister"), Path: aws.String("/team/"), PolicyDocument: aws.String(listFunctions)})
	if err != nil {
		t.Fatal(err)
	}
	arn := *cp.Policy.Arn
	if arn != "arn:aws:iam::000000000000:policy/team/lister" || !strings.HasPrefix(*cp.Policy.PolicyId, "ANPA") || *cp.Policy.DefaultVersionId != "v1" {
		t.Errorf("policy %+v", cp.Policy)
	}
	_, err = c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("lister"), PolicyDocument: aws.String(listFunctions)})
	wantErr(t, err, "EntityAlreadyExists", "A policy called lister already exists.")
	_, err = c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("bad"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda","Resource":"*"}]}`)})
	wantErr(t, err, "MalformedPolicyDocument", "")
	for i := 2; i <= 5; i++ {
		v, err := c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(listFunctions), SetAsDefault: i == 3})
		if err != nil || *v.PolicyVersion.VersionId != fmt.Sprintf("v%d", i) {
			t.Fatalf("CreatePolicyVersion %d = %+v, %v", i, v, err)
		}
	}
	_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(listFunctions)})
	wantErr(t, err, "LimitExceeded", "A managed policy can have up to 5 versions.")
	_, err = c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v3")})
	wantErr(t, err, "DeleteConflict", "Cannot delete the default version of a policy.")
	if _, err := c.SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v5")}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v1", "v2", "v3", "v4"} {
		if _, err := c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)})
	if err != nil || len(vs.Versions) != 1 || *vs.Versions[0].VersionId != "v5" || !vs.Versions[0].IsDefaultVersion {
		t.Fatalf("ListPolicyVersions = %+v, %v", vs, err)
	}

	// Attachments: to a role and a user; both appear in the principals.
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("fn"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{basic, arn} {
		if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("fn"), PolicyArn: aws.String(a)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("dev"), PolicyArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("fn"), PolicyArn: aws.String("arn:aws:iam::aws:policy/NoSuchPolicy")})
	wantErr(t, err, "NoSuchEntity", "Policy arn:aws:iam::aws:policy/NoSuchPolicy does not exist or is not attachable.")
	_, err = c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("nobody"), PolicyArn: aws.String(basic)})
	wantErr(t, err, "NoSuchEntity", "The role with name nobody cannot be found.")
	att, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("fn")})
	if err != nil || len(att.AttachedPolicies) != 2 || *att.AttachedPolicies[0].PolicyName != "AWSLambdaBasicExecutionRole" || *att.AttachedPolicies[1].PolicyArn != arn {
		t.Fatalf("ListAttachedRolePolicies = %+v, %v", att, err)
	}
	gp, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil || *gp.Policy.AttachmentCount != 2 || *gp.Policy.DefaultVersionId != "v5" {
		t.Fatalf("GetPolicy = %+v, %v", gp, err)
	}
	attached, err := c.ListPolicies(ctx, &iam.ListPoliciesInput{OnlyAttached: true})
	if err != nil || len(attached.Policies) != 2 {
		t.Fatalf("ListPolicies(OnlyAttached) = %+v, %v", attached, err)
	}
	ents, err := c.ListEntitiesForPolicy(ctx, &iam.ListEntitiesForPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil || len(ents.PolicyRoles) != 1 || len(ents.PolicyUsers) != 1 || *ents.PolicyUsers[0].UserName != "dev" {
		t.Fatalf("ListEntitiesForPolicy = %+v, %v", ents, err)
	}
	sess, _ := h.issuer.RoleSession("arn:aws:iam::000000000000:role/fn", "s")
	p, ok := h.dir.Principal(sess)
	if !ok || len(p.Policies) != 2 || p.Policies[0].Name != basic || p.Policies[1].Name != arn {
		t.Fatalf("Principal(role) = %+v, %v", p, ok)
	}
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)})
	wantErr(t, err, "DeleteConflict", "Cannot delete a policy attached to entities.")
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("fn")})
	wantErr(t, err, "DeleteConflict", "Cannot delete entity, must detach all policies first.")
	for _, a := range []string{basic, arn} {
		if _, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("fn"), PolicyArn: aws.String(a)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("dev"), PolicyArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("dev"), PolicyArn: aws.String(arn)})
	wantErr(t, err, "NoSuchEntity", "")
	if _, err := c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	wantErr(t, err, "NoSuchEntity", "Policy "+arn+" was not found.")
}

func TestGroupsTagsBoundaries(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	c := h.root()
	g, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("devs")})
	if err != nil || !strings.HasPrefix(*g.Group.GroupId, "AGPA") || *g.Group.Arn != "arn:aws:iam::000000000000:group/devs" {
		t.Fatalf("CreateGroup = %+v, %v", g, err)
	}
	u, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ann")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("devs"), UserName: aws.String("ann")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("nogroup"), UserName: aws.String("ann")})
	wantErr(t, err, "NoSuchEntity", "The group with name nogroup cannot be found.")
	gg, err := c.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String("devs")})
	if err != nil || len(gg.Users) != 1 || *gg.Users[0].UserName != "ann" {
		t.Fatalf("GetGroup = %+v, %v", gg, err)
	}
	gs, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String("ann")})
	if err != nil || len(gs.Groups) != 1 {
		t.Fatalf("ListGroupsForUser = %+v, %v", gs, err)
	}
	if _, err := c.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String("devs"), PolicyName: aws.String("list"), PolicyDocument: aws.String(listFunctions)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("devs"), PolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("ann"), PolicyName: aws.String("own"), PolicyDocument: aws.String(listFunctions)}); err != nil {
		t.Fatal(err)
	}
	// Tags and a boundary.
	if _, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("ann"), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}, {Key: aws.String("x"), Value: aws.String("1")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("ann"), TagKeys: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("ann")})
	if err != nil || len(tags.Tags) != 1 || *tags.Tags[0].Key != "team" {
		t.Fatalf("ListUserTags = %+v, %v", tags, err)
	}
	const admin = "arn:aws:iam::aws:policy/AdministratorAccess"
	if _, err := c.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: aws.String("ann"), PermissionsBoundary: aws.String(admin)}); err != nil {
		t.Fatal(err)
	}
	if ap, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(admin)}); err != nil || *ap.Policy.PermissionsBoundaryUsageCount != 1 {
		t.Errorf("GetPolicy(boundary) = %+v, %v", ap, err)
	}
	id := awsproto.Identity{Account: account, ARN: *u.User.Arn, UserID: *u.User.UserId}
	p, ok := h.dir.Principal(id)
	if !ok || len(p.Policies) != 3 || p.Boundary == nil || p.Boundary.Name != admin || p.Tags["team"] != "a" {
		t.Fatalf("Principal(user) = %+v, %v", p, ok)
	}
	names := []string{}
	for _, q := range p.Policies {
		names = append(names, q.Name)
	}
	if strings.Join(names, " ") != "inline:user/ann/own inline:group/devs/list arn:aws:iam::aws:policy/ReadOnlyAccess" {
		t.Errorf("user's policies %v", names)
	}
	if _, err := c.DeleteUserPermissionsBoundary(ctx, &iam.DeleteUserPermissionsBoundaryInput{UserName: aws.String("ann")}); err != nil {
		t.Fatal(err)
	}
	if p, _ := h.dir.Principal(id); p.Boundary != nil {
		t.Error("boundary still set")
	}
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String("r"), Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	if r, _ := h.dir.Role("arn:aws:iam::000000000000:role/r"); r.Tags["env"] != "prod" {
		t.Errorf("role tags %v", r.Tags)
	}
	cp, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(listFunctions)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.TagPolicy(ctx, &iam.TagPolicyInput{PolicyArn: cp.Policy.Arn, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}); err != nil {
		t.Fatal(err)
	}
	pt, err := c.ListPolicyTags(ctx, &iam.ListPolicyTagsInput{PolicyArn: cp.Policy.Arn})
	if err != nil || len(pt.Tags) != 1 {
		t.Fatalf("ListPolicyTags = %+v, %v", pt, err)
	}

	_, err = c.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: aws.String("devs")})
	wantErr(t, err, "DeleteConflict", "must remove users from group first")
	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("ann")})
	wantErr(t, err, "DeleteConflict", "must delete policies first")
	if _, err := c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{GroupName: aws.String("devs"), UserName: aws.String("ann")}); err != nil {
		t.Fatal(err)
	}
	if p, _ := h.dir.Principal(id); len(p.Policies) != 1 {
		t.Errorf("after leaving the group: %d policies", len(p.Policies))
	}
	_, err = c.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: aws.String("devs")})
	wantErr(t, err, "DeleteConflict", "must delete policies first")
}

// TestNodesAndRestart: a change made through one node is seen by another
// node's directory through the watch, and everything (a user key's
// secret included) is there for a directory opened afterwards.
func TestNodesAndRestart(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	other := h.start(t)
	c := h.root()
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("carol")}); err != nil {
		t.Fatal(err)
	}
	k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("carol")})
	if err != nil {
		t.Fatal(err)
	}
	akid := *k.AccessKey.AccessKeyId
	eventually(t, "the other node to see the key", func() bool {
		secret, _, ok := other.dir.AccessKey(akid)
		return ok && secret == *k.AccessKey.SecretAccessKey
	})
	who, err := other.sts(akid, *k.AccessKey.SecretAccessKey, "").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || *who.Arn != "arn:aws:iam::000000000000:user/carol" {
		t.Fatalf("GetCallerIdentity on the other node = %+v, %v", who, err)
	}
	// A write on the other node comes back here.
	if _, err := other.root().PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("carol"), PolicyName: aws.String("p"), PolicyDocument: aws.String(listFunctions)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "this node to see the policy", func() bool {
		p, ok := h.dir.Principal(awsproto.Identity{ARN: "arn:aws:iam::000000000000:user/carol"})
		return ok && len(p.Policies) == 1
	})
	if _, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("carol"), AccessKeyId: aws.String(akid), Status: types.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the other node to drop the inactive key", func() bool {
		_, _, ok := other.dir.AccessKey(akid)
		return !ok
	})

	// A restart: a new directory on the bucket.
	if _, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("carol"), AccessKeyId: aws.String(akid), Status: types.StatusTypeActive}); err != nil {
		t.Fatal(err)
	}
	again := h.start(t)
	if secret, id, ok := again.dir.AccessKey(akid); !ok || secret != *k.AccessKey.SecretAccessKey || id.ARN != "arn:aws:iam::000000000000:user/carol" {
		t.Errorf("after a restart: %q %+v %v", secret, id, ok)
	}
	if p, ok := again.dir.Principal(awsproto.Identity{ARN: "arn:aws:iam::000000000000:user/carol"}); !ok || len(p.Policies) != 1 {
		t.Errorf("after a restart: %+v %v", p, ok)
	}
	// Another node key cannot open the stored secrets.
	is2, _ := token.New(bytes.Repeat([]byte{8}, token.KeySize))
	d2, err := kumoiam.OpenDirectory(ctx, kumoiam.DirectoryConfig{KV: h.kv, Issuer: is2, Account: account})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if _, _, ok := d2.AccessKey(akid); ok {
		t.Error("a directory with another node key resolved the key")
	}
}

// TestConcurrentWrites: writers on two nodes racing on one user lose
// nothing, and the access key quota holds across them.
func TestConcurrentWrites(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	other := h.start(t)
	if _, err := h.root().CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("dave")}); err != nil {
		t.Fatal(err)
	}
	clients := []*iam.Client{h.root(), other.root()}
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	keys := make(chan string, n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := clients[i%2].PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("dave"), PolicyName: aws.String(fmt.Sprintf("p%d", i)),
				PolicyDocument: aws.String(`{"Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}}`)})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			k, err := clients[i%2].CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("dave")})
			if err == nil {
				keys <- *k.AccessKey.AccessKeyId
				return
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "LimitExceeded" {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(keys)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if len(keys) != 2 {
		t.Errorf("%d access keys created, quota is 2", len(keys))
	}
	// Each node's view catches up with the other's writes: reads are
	// eventually consistent across nodes, as IAM's are.
	for i, c := range clients {
		poll.Until(t, 0, fmt.Sprintf("node %d to list every policy and key", i), func() error {
			names, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("dave")})
			if err != nil {
				return poll.Stop{Err: err}
			}
			if len(names.PolicyNames) != n {
				return fmt.Errorf("ListUserPolicies = %v; want %d policies", names.PolicyNames, n)
			}
			ks, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("dave")})
			if err != nil {
				return poll.Stop{Err: err}
			}
			if len(ks.AccessKeyMetadata) != 2 {
				return fmt.Errorf("ListAccessKeys lists %d keys; want 2", len(ks.AccessKeyMetadata))
			}
			return nil
		})
	}
}

// TestWire: an unknown action or version is InvalidAction in IAM's
// ErrorResponse; an unsigned request is refused in IAM's protocol.
func TestWire(t *testing.T) {
	h := newHarness(t)
	post := func(body string, sign bool) (int, string) {
		target := h.srv.URL
		if !sign {
			// The edge tells an unsigned request's service by its URL.
			target += "/?" + body
		}
		req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sign {
			sum := sha256.Sum256([]byte(body))
			err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: rootKey, SecretAccessKey: rootSecret},
				req, hex.EncodeToString(sum[:]), "iam", "us-east-1", time.Now())
			if err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		body   string
		sign   bool
		status int
		want   string
	}{
		{"Action=ListUsers&Version=2010-05-08", false, 403, "<Code>MissingAuthenticationToken</Code>"},
		{"Action=Frobnicate&Version=2010-05-08", true, 400, "<Code>InvalidAction</Code>"},
		{"Action=ListUsers&Version=2011-06-15", true, 400, "<Code>InvalidAction</Code>"},
		{"Action=CreateUser&Version=2010-05-08&UserName=x&Tags.member.1.Key=", true, 400, "<Code>ValidationError</Code>"},
		{"Action=ListUsers&Version=2010-05-08", true, 200, `<ListUsersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListUsersResult><Users></Users><IsTruncated>false</IsTruncated></ListUsersResult>`},
	} {
		status, body := post(tc.body, tc.sign)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s; want %d with %s", tc.body, status, body, tc.status, tc.want)
		}
		if status >= 400 && !strings.Contains(body, `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">`) {
			t.Errorf("%s: not IAM's ErrorResponse: %s", tc.body, body)
		}
	}
}
