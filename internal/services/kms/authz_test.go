package kms_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/iam/authz"
)

// user adds an IAM user with the identity policies docs and returns its
// client.
func (h *harness) user(t *testing.T, name, key string, docs ...string) *kms.Client {
	t.Helper()
	arn := "arn:aws:iam::000000000000:user/" + name
	var ps []*iam.Policy
	for _, d := range docs {
		p, err := iam.Parse(d, iam.KindIdentity)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	h.auth.SetUser(awsproto.Identity{Account: account, ARN: arn, UserID: "AIDA" + name}, authz.Principal{Policies: ps})
	secret := "kumo-kms-test-secret-of-" + name + "-0000000000000000"
	h.auth.SetAccessKey(key, secret, arn)
	return h.client(key, secret)
}

const allowKMS = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`

// TestKeyPolicy follows "Key policies in AWS KMS": the default key
// policy gives the account's root kms:*, so IAM policies decide for the
// account's users; a key policy that does not name the account makes IAM
// policies alone worth nothing, and a principal it names needs no IAM
// policy; an explicit Deny wins.
func TestKeyPolicy(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	bob := h.user(t, "bob", "AKIAKUMOKMSBOB000001")
	alice := h.user(t, "alice", "AKIAKUMOKMSALICE0001", allowKMS)

	md := h.createKey(t, nil)
	gp, err := h.cl.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: md.KeyId, PolicyName: aws.String("default")})
	if err != nil || aws.ToString(gp.PolicyName) != "default" {
		t.Fatal(err)
	}
	if p, err := iam.Parse(aws.ToString(gp.Policy), iam.KindResource); err != nil || p == nil {
		t.Fatalf("default key policy: %v\n%s", err, aws.ToString(gp.Policy))
	}
	// Default policy: bob has no IAM policy, alice has kms:*.
	_, err = bob.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x")})
	wantCode(t, err, "AccessDeniedException")
	if _, err := alice.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x")}); err != nil {
		t.Fatalf("alice with kms:* under the default key policy: %v", err)
	}

	// A key policy naming bob only: bob may use it without an IAM
	// policy, alice may not despite hers (the policy does not delegate to
	// the account). The account's root user may still manage the key.
	policy := `{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"Bob","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/bob"},"Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}]}`
	guarded := h.createKey(t, &kms.CreateKeyInput{Policy: aws.String(policy)})
	enc, err := bob.Encrypt(ctx, &kms.EncryptInput{KeyId: guarded.KeyId, Plaintext: []byte("x")})
	if err != nil {
		t.Fatalf("bob named by the key policy: %v", err)
	}
	_, err = alice.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantCode(t, err, "AccessDeniedException")
	var ae smithy.APIError
	if errors.As(err, &ae); !strings.Contains(ae.ErrorMessage(), "User: arn:aws:iam::000000000000:user/alice is not authorized to perform: kms:Decrypt on resource: "+aws.ToString(guarded.Arn)+" because no resource-based policy allows the kms:Decrypt action") {
		t.Fatalf("denial message %q", ae.ErrorMessage())
	}
	_, err = bob.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: guarded.KeyId})
	wantCode(t, err, "AccessDeniedException")
	if _, err := h.cl.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: guarded.KeyId}); err != nil {
		t.Fatalf("root on a key whose policy does not name it: %v", err)
	}

	// An explicit Deny in the key policy beats alice's Allow.
	deny := `{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Sid":"NoDecrypt","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"kms:Decrypt","Resource":"*"}]}`
	if _, err := h.cl.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: md.KeyId, PolicyName: aws.String("default"), Policy: aws.String(deny)}); err != nil {
		t.Fatal(err)
	}
	enc, err = alice.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = alice.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantCode(t, err, "AccessDeniedException")
	_, err = h.cl.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: md.KeyId, PolicyName: aws.String("default"), Policy: aws.String(`{"Version":"2012-10-17","Statement":[`)})
	wantCode(t, err, "MalformedPolicyDocumentException")
	lp, err := h.cl.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: md.KeyId})
	if err != nil || len(lp.PolicyNames) != 1 || lp.PolicyNames[0] != "default" {
		t.Fatalf("ListKeyPolicies: %v", err)
	}
	// Account-level operations take IAM policies alone.
	_, err = bob.CreateKey(ctx, &kms.CreateKeyInput{})
	wantCode(t, err, "AccessDeniedException")
	if _, err := alice.ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatal(err)
	}
}

// TestGrants follows "Grants in AWS KMS": a grant lets its grantee use
// the key for its operations, within its constraints, with no policy
// allowing it; retiring or revoking it takes that away.
func TestGrants(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	carol := h.user(t, "carol", "AKIAKUMOKMSCAROL0001")
	md := h.createKey(t, nil)
	ec := map[string]string{"Department": "IT"}
	_, err := carol.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x"), EncryptionContext: ec})
	wantCode(t, err, "AccessDeniedException")

	cg, err := h.cl.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: md.KeyId, GranteePrincipal: aws.String("arn:aws:iam::000000000000:user/carol"),
		RetiringPrincipal: aws.String("arn:aws:iam::000000000000:user/carol"),
		Operations:        []types.GrantOperation{types.GrantOperationEncrypt, types.GrantOperationDecrypt},
		Constraints:       &types.GrantConstraints{EncryptionContextSubset: ec}, Name: aws.String("carol-it")})
	if err != nil || aws.ToString(cg.GrantId) == "" || aws.ToString(cg.GrantToken) == "" {
		t.Fatalf("CreateGrant: %+v %v", cg, err)
	}
	again, err := h.cl.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: md.KeyId, GranteePrincipal: aws.String("arn:aws:iam::000000000000:user/carol"),
		RetiringPrincipal: aws.String("arn:aws:iam::000000000000:user/carol"),
		Operations:        []types.GrantOperation{types.GrantOperationDecrypt, types.GrantOperationEncrypt},
		Constraints:       &types.GrantConstraints{EncryptionContextSubset: ec}, Name: aws.String("carol-it")})
	if err != nil || aws.ToString(again.GrantId) != aws.ToString(cg.GrantId) {
		t.Fatalf("CreateGrant again with the same name: %v", err)
	}
	enc, err := carol.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x"), EncryptionContext: ec, GrantTokens: []string{aws.ToString(cg.GrantToken)}})
	if err != nil {
		t.Fatalf("Encrypt under the grant: %v", err)
	}
	if _, err := carol.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}); err != nil {
		t.Fatalf("Decrypt under the grant: %v", err)
	}
	_, err = carol.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x"), EncryptionContext: map[string]string{"Department": "HR"}})
	wantCode(t, err, "AccessDeniedException")
	_, err = carol.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId, KeySpec: types.DataKeySpecAes256, EncryptionContext: ec})
	wantCode(t, err, "AccessDeniedException")

	lg, err := h.cl.ListGrants(ctx, &kms.ListGrantsInput{KeyId: md.KeyId})
	if err != nil || len(lg.Grants) != 1 || aws.ToString(lg.Grants[0].GranteePrincipal) != "arn:aws:iam::000000000000:user/carol" || len(lg.Grants[0].Operations) != 2 {
		t.Fatalf("ListGrants: %+v %v", lg, err)
	}
	lr, err := h.cl.ListRetirableGrants(ctx, &kms.ListRetirableGrantsInput{RetiringPrincipal: aws.String("arn:aws:iam::000000000000:user/carol")})
	if err != nil || len(lr.Grants) != 1 {
		t.Fatalf("ListRetirableGrants: %+v %v", lr, err)
	}
	// Carol, the retiring principal, retires it by its token.
	if _, err := carol.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: cg.GrantToken}); err != nil {
		t.Fatalf("RetireGrant: %v", err)
	}
	_, err = carol.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	wantCode(t, err, "AccessDeniedException")

	// RevokeGrant takes kms:RevokeGrant, which carol lacks.
	g2, err := h.cl.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: md.KeyId, GranteePrincipal: aws.String("arn:aws:iam::000000000000:user/carol"),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = carol.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: md.KeyId, GrantId: g2.GrantId})
	wantCode(t, err, "AccessDeniedException")
	if _, err := carol.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}); err != nil {
		t.Fatalf("Decrypt under the second grant: %v", err)
	}
	if _, err := h.cl.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: md.KeyId, GrantId: g2.GrantId}); err != nil {
		t.Fatal(err)
	}
	_, err = carol.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	wantCode(t, err, "AccessDeniedException")
	_, err = h.cl.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: md.KeyId, GrantId: g2.GrantId})
	wantCode(t, err, "NotFoundException")
	_, err = h.cl.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: md.KeyId, GranteePrincipal: aws.String("arn:aws:iam::000000000000:user/carol"),
		Operations: []types.GrantOperation{"Frobnicate"}})
	wantCode(t, err, "ValidationException")
}

// TestTags: tags on keys, kept across the API.
func TestTags(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	md := h.createKey(t, &kms.CreateKeyInput{Tags: []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("a")}}})
	if _, err := h.cl.TagResource(ctx, &kms.TagResourceInput{KeyId: md.KeyId, Tags: []types.Tag{{TagKey: aws.String("env"), TagValue: aws.String("dev")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.UntagResource(ctx, &kms.UntagResourceInput{KeyId: md.KeyId, TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	lt, err := h.cl.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: md.KeyId})
	if err != nil || len(lt.Tags) != 1 || aws.ToString(lt.Tags[0].TagKey) != "env" || aws.ToString(lt.Tags[0].TagValue) != "dev" {
		t.Fatalf("ListResourceTags: %+v %v", lt, err)
	}
	_, err = h.cl.TagResource(ctx, &kms.TagResourceInput{KeyId: md.KeyId, Tags: []types.Tag{{TagKey: aws.String("aws:reserved"), TagValue: aws.String("x")}}})
	wantCode(t, err, "TagException")
}
