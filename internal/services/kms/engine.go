package kms

import (
	"context"
	"errors"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/store"
)

// The Go API other services (Lambda, Secrets Manager) use to encrypt
// their data at rest with KMS keys, in-process and without
// authorization of their own: the service calling has authorized its
// caller, as AWS services call KMS on their users' behalf. Errors are
// *awsproto.Error with KMS's codes (DisabledException,
// KMSInvalidStateException, NotFoundException, …), for the caller to
// translate into its own.

// ManagedKey returns the ARN of the AWS managed key of service
// ("lambda": alias/aws/lambda), creating the key and its alias on first
// use. Concurrent first uses (on this node or others) agree on one key:
// the alias is created with compare-and-set, and a key that lost the race
// is scheduled for deletion.
func (s *Service) ManagedKey(ctx context.Context, service string) (string, error) {
	name := "alias/aws/" + service
	if k, err := s.resolve(name); err == nil {
		return k.rec.Arn, nil
	}
	policy := managedKeyPolicy(s.cfg.Partition, s.cfg.Region, s.cfg.Account, service)
	k, err := s.newKey(ctx, specSymmetric, usageEncrypt, "Default key that protects my "+service+" resources when no other key is defined", policy, "AWS", nil)
	if err != nil {
		return "", err
	}
	if err := s.putAlias(ctx, name, k.rec.KeyID, true); err != nil {
		var ae *awsproto.Error
		if !errors.As(err, &ae) || ae.Code != awsproto.KMSAlreadyExists {
			return "", err
		}
		// Another caller created it first: use theirs, drop ours.
		_ = s.update(ctx, k.rec.KeyID, func(rec *keyRecord) error {
			rec.State, rec.PendingDays, rec.DeletionDate = statePendingDeletion, 7, epoch(s.cfg.Now())
			return nil
		})
		won, err := s.resolveFresh(ctx, name)
		if err != nil {
			return "", err
		}
		return won, nil
	}
	return k.rec.Arn, nil
}

// resolveFresh reads an alias from the store, for a race the view may
// not have seen yet.
func (s *Service) resolveFresh(ctx context.Context, alias string) (string, error) {
	e, err := s.cfg.KV.Get(ctx, aliasKey(alias))
	if errors.Is(err, store.ErrNotFound) {
		return "", awsproto.Errorf(awsproto.KMSNotFound, "Alias %s is not found.", s.aliasARN(alias))
	}
	if err != nil {
		return "", awsproto.Internal(err)
	}
	s.apply(e)
	k, err := s.resolve(alias)
	if err != nil {
		return "", err
	}
	return k.rec.Arn, nil
}

// managedKeyPolicy is the policy of an AWS managed key, as AWS writes
// them: the account's principals may use the key through the service,
// and read its metadata directly.
func managedKeyPolicy(partition, region, account, service string) string {
	return `{"Version":"2012-10-17","Id":"auto-` + service + `-2","Statement":[` +
		`{"Sid":"Allow access through ` + service + ` for all principals in the account that are authorized to use ` + service + `","Effect":"Allow","Principal":{"AWS":"*"},` +
		`"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:CreateGrant","kms:DescribeKey"],"Resource":"*",` +
		`"Condition":{"StringEquals":{"kms:CallerAccount":"` + account + `","kms:ViaService":"` + service + `.` + region + `.amazonaws.com"}}},` +
		`{"Sid":"Allow direct access to key metadata to the account","Effect":"Allow","Principal":{"AWS":"arn:` + partition + `:iam::` + account + `:root"},` +
		`"Action":["kms:Describe*","kms:Get*","kms:List*","kms:RevokeGrant"],"Resource":"*"}]}`
}

// Encrypt encrypts plaintext (any length: the engine's callers store
// documents, not 4 KiB values) under the symmetric key keyID names, bound
// to the encryption context ec, and returns the ciphertext blob and the
// key's ARN.
func (s *Service) Encrypt(ctx context.Context, keyID string, plaintext []byte, ec map[string]string) ([]byte, string, error) {
	k, err := s.resolve(keyID)
	if err != nil {
		return nil, "", err
	}
	if err := usable(k); err != nil {
		return nil, "", err
	}
	if k.rec.KeySpec != specSymmetric {
		return nil, "", forUsage(&key{rec: keyRecord{Arn: k.rec.Arn, KeyUsage: k.rec.KeySpec}}, specSymmetric, "Encrypt")
	}
	b, err := sealBlob(k, plaintext, ec)
	if err != nil {
		return nil, "", awsproto.Internal(err)
	}
	return b, k.rec.Arn, nil
}

// Decrypt decrypts a blob Encrypt (or the API's Encrypt) made, with the
// encryption context it was made with, and returns the plaintext and the
// key's ARN.
func (s *Service) Decrypt(ctx context.Context, blob []byte, ec map[string]string) ([]byte, string, error) {
	h, err := parseBlob(blob)
	if err != nil {
		return nil, "", awsproto.Errorf(awsproto.KMSInvalidCiphertext, "")
	}
	k, err := s.resolve(h.keyID)
	if err != nil {
		return nil, "", err
	}
	if err := usable(k); err != nil {
		return nil, "", err
	}
	p, err := openBlob(k, h, ec)
	if err != nil {
		return nil, "", awsproto.Errorf(awsproto.KMSInvalidCiphertext, "")
	}
	return p, k.rec.Arn, nil
}

// KeyARN returns the ARN of the key keyID names (an id, ARN, alias or
// alias ARN), NotFoundException if there is none.
func (s *Service) KeyARN(keyID string) (string, error) {
	k, err := s.resolve(keyID)
	if err != nil {
		return "", err
	}
	return k.rec.Arn, nil
}

// IsManaged reports whether arn is an AWS managed key's.
func (s *Service) IsManaged(arn string) bool {
	k, err := s.resolve(arn)
	return err == nil && strings.EqualFold(k.rec.Manager, "AWS")
}

// ServiceKeys is the engine as one AWS service uses it to encrypt its
// data at rest: with the key its caller names, or with the service's AWS
// managed key (alias/aws/<Service>) when none is named. It is
// registry.EnvKeys for Lambda.
type ServiceKeys struct {
	KMS     *Service
	Service string
}

// Seal encrypts plaintext with keyARN, or the managed key when "".
func (sk ServiceKeys) Seal(ctx context.Context, keyARN string, plaintext []byte, ec map[string]string) ([]byte, string, error) {
	if keyARN == "" {
		arn, err := sk.KMS.ManagedKey(ctx, sk.Service)
		if err != nil {
			return nil, "", err
		}
		keyARN = arn
	}
	return sk.KMS.Encrypt(ctx, keyARN, plaintext, ec)
}

// Open decrypts a blob Seal made.
func (sk ServiceKeys) Open(ctx context.Context, blob []byte, ec map[string]string) ([]byte, error) {
	p, _, err := sk.KMS.Decrypt(ctx, blob, ec)
	return p, err
}

// Usable returns the error a decryption with keyARN would meet now, from
// memory.
func (sk ServiceKeys) Usable(keyARN string) error {
	k, err := sk.KMS.resolve(keyARN)
	if err != nil {
		return err
	}
	return usable(k)
}
