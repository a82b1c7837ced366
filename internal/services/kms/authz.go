package kms

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
)

// operations maps every operation of dispatch to its IAM action, from the
// AWS KMS actions table of the Service Authorization Reference.
// ReEncrypt is authorized twice: kms:ReEncryptFrom on the source key and
// kms:ReEncryptTo on the destination.
var operations = map[string]string{
	"CreateKey":                       "kms:CreateKey",
	"DescribeKey":                     "kms:DescribeKey",
	"ListKeys":                        "kms:ListKeys",
	"UpdateKeyDescription":            "kms:UpdateKeyDescription",
	"CreateAlias":                     "kms:CreateAlias",
	"UpdateAlias":                     "kms:UpdateAlias",
	"DeleteAlias":                     "kms:DeleteAlias",
	"ListAliases":                     "kms:ListAliases",
	"EnableKey":                       "kms:EnableKey",
	"DisableKey":                      "kms:DisableKey",
	"ScheduleKeyDeletion":             "kms:ScheduleKeyDeletion",
	"CancelKeyDeletion":               "kms:CancelKeyDeletion",
	"EnableKeyRotation":               "kms:EnableKeyRotation",
	"DisableKeyRotation":              "kms:DisableKeyRotation",
	"GetKeyRotationStatus":            "kms:GetKeyRotationStatus",
	"RotateKeyOnDemand":               "kms:RotateKeyOnDemand",
	"ListKeyRotations":                "kms:ListKeyRotations",
	"Encrypt":                         "kms:Encrypt",
	"Decrypt":                         "kms:Decrypt",
	"ReEncrypt":                       "kms:ReEncryptFrom",
	"GenerateDataKey":                 "kms:GenerateDataKey",
	"GenerateDataKeyWithoutPlaintext": "kms:GenerateDataKeyWithoutPlaintext",
	"GenerateRandom":                  "kms:GenerateRandom",
	"Sign":                            "kms:Sign",
	"Verify":                          "kms:Verify",
	"GenerateMac":                     "kms:GenerateMac",
	"VerifyMac":                       "kms:VerifyMac",
	"GetPublicKey":                    "kms:GetPublicKey",
	"GetKeyPolicy":                    "kms:GetKeyPolicy",
	"PutKeyPolicy":                    "kms:PutKeyPolicy",
	"ListKeyPolicies":                 "kms:ListKeyPolicies",
	"CreateGrant":                     "kms:CreateGrant",
	"ListGrants":                      "kms:ListGrants",
	"RetireGrant":                     "kms:RetireGrant",
	"RevokeGrant":                     "kms:RevokeGrant",
	"ListRetirableGrants":             "kms:ListRetirableGrants",
	"TagResource":                     "kms:TagResource",
	"UntagResource":                   "kms:UntagResource",
	"ListResourceTags":                "kms:ListResourceTags",
}

// grantOperations are the operations a grant may allow (GrantOperation).
var grantOperations = []string{"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
	"ReEncryptFrom", "ReEncryptTo", "Sign", "Verify", "GetPublicKey", "CreateGrant", "RetireGrant",
	"DescribeKey", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "VerifyMac", "DeriveSharedSecret"}

// authorizeAccount checks an operation that acts on no key (CreateKey,
// ListKeys, ListAliases, GenerateRandom): the caller's IAM policies alone
// decide.
func (s *Service) authorizeAccount(r *http.Request, op string) error {
	if s.cfg.Authorizer == nil {
		return nil
	}
	return s.cfg.Authorizer.Authorize(r.Context(), authz.Check{Action: operations[op], Resource: "*",
		SourceIP: authz.SourceIP(r), Denied: awsproto.KMSAccessDenied})
}

// authorize checks action (kms:…) on key k as KMS does: a grant on k
// for the caller that allows the operation (with its constraints met by
// the encryption context ec) allows it; otherwise the key policy must
// allow the caller, either by naming it or by naming its account, which
// delegates to the caller's IAM policies ("Key policies in AWS KMS": IAM
// policies alone never give access to a key). An explicit Deny anywhere
// denies.
func (s *Service) authorize(ctx context.Context, r *http.Request, action string, k *key, ec map[string]string) error {
	if s.cfg.Authorizer == nil {
		return nil
	}
	if s.granted(ctx, k, strings.TrimPrefix(action, "kms:"), ec) {
		return nil
	}
	keys := map[string][]string{"kms:calleraccount": {s.cfg.Account}}
	for ck, cv := range ec {
		keys["kms:encryptioncontext:"+ck] = []string{cv}
	}
	if len(ec) > 0 {
		ks := make([]string, 0, len(ec))
		for ck := range ec {
			ks = append(ks, ck)
		}
		keys["kms:encryptioncontextkeys"] = ks
	}
	c := authz.Check{Action: action, Resource: k.rec.Arn, ResourcePolicy: k.policy, ResourceTags: k.rec.Tags,
		Keys: keys, Denied: awsproto.KMSAccessDenied}
	if r != nil {
		c.SourceIP = authz.SourceIP(r)
	}
	// AuthorizeAssumeRole asks exactly KMS's question: the caller's
	// policies as for any resource, and then the key policy on its own
	// must name the caller or its account.
	return s.cfg.Authorizer.AuthorizeAssumeRole(ctx, c)
}

// granted reports whether a grant on k allows the caller operation op.
func (s *Service) granted(ctx context.Context, k *key, op string, ec map[string]string) bool {
	c, ok := awsproto.CallerFrom(ctx)
	if !ok || c.Identity.ARN == "" {
		return false
	}
	for i := range k.rec.Grants {
		g := &k.rec.Grants[i]
		if g.Grantee != c.Identity.ARN && (c.Identity.RoleARN == "" || g.Grantee != c.Identity.RoleARN) {
			continue
		}
		if !slices.Contains(g.Operations, op) || !g.Constraints.allow(ec) {
			continue
		}
		return true
	}
	return false
}

// allow reports whether an encryption context meets grant constraints.
func (c *constraints) allow(ec map[string]string) bool {
	if c == nil {
		return true
	}
	for k, v := range c.EncryptionContextSubset {
		if ec[k] != v {
			return false
		}
	}
	if c.EncryptionContextEquals != nil {
		if len(ec) != len(c.EncryptionContextEquals) {
			return false
		}
		for k, v := range c.EncryptionContextEquals {
			if got, ok := ec[k]; !ok || got != v {
				return false
			}
		}
	}
	return true
}
