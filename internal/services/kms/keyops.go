package kms

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam"
	"github.com/kumo-run/kumo/internal/lazyregexp"
	"github.com/kumo-run/kumo/internal/store"
)

// dispatch is the operations the service serves, by name.
func (s *Service) dispatch() map[string]op {
	return map[string]op{
		"CreateKey":                       s.createKey,
		"DescribeKey":                     s.describeKey,
		"ListKeys":                        s.listKeys,
		"UpdateKeyDescription":            s.updateKeyDescription,
		"CreateAlias":                     s.createAlias,
		"UpdateAlias":                     s.updateAlias,
		"DeleteAlias":                     s.deleteAlias,
		"ListAliases":                     s.listAliases,
		"EnableKey":                       s.enableKey,
		"DisableKey":                      s.disableKey,
		"ScheduleKeyDeletion":             s.scheduleKeyDeletion,
		"CancelKeyDeletion":               s.cancelKeyDeletion,
		"EnableKeyRotation":               s.enableKeyRotation,
		"DisableKeyRotation":              s.disableKeyRotation,
		"GetKeyRotationStatus":            s.getKeyRotationStatus,
		"RotateKeyOnDemand":               s.rotateKeyOnDemand,
		"ListKeyRotations":                s.listKeyRotations,
		"Encrypt":                         s.encrypt,
		"Decrypt":                         s.decrypt,
		"ReEncrypt":                       s.reEncrypt,
		"GenerateDataKey":                 s.generateDataKey,
		"GenerateDataKeyWithoutPlaintext": s.generateDataKeyWithoutPlaintext,
		"GenerateRandom":                  s.generateRandom,
		"Sign":                            s.sign,
		"Verify":                          s.verify,
		"GenerateMac":                     s.generateMac,
		"VerifyMac":                       s.verifyMac,
		"GetPublicKey":                    s.getPublicKey,
		"GetKeyPolicy":                    s.getKeyPolicy,
		"PutKeyPolicy":                    s.putKeyPolicy,
		"ListKeyPolicies":                 s.listKeyPolicies,
		"CreateGrant":                     s.createGrant,
		"ListGrants":                      s.listGrants,
		"RetireGrant":                     s.retireGrant,
		"RevokeGrant":                     s.revokeGrant,
		"ListRetirableGrants":             s.listRetirableGrants,
		"TagResource":                     s.tagResource,
		"UntagResource":                   s.untagResource,
		"ListResourceTags":                s.listResourceTags,
	}
}

func (s *Service) keyARN(id string) string {
	return "arn:" + s.cfg.Partition + ":kms:" + s.cfg.Region + ":" + s.cfg.Account + ":key/" + id
}

func (s *Service) aliasARN(name string) string {
	return "arn:" + s.cfg.Partition + ":kms:" + s.cfg.Region + ":" + s.cfg.Account + ":" + name
}

// DefaultKeyPolicy is the key policy CreateKey gives a key without one, as
// AWS writes it: the account's root gets kms:*, which makes the account's
// IAM policies apply to the key.
func DefaultKeyPolicy(partition, account string) string {
	return `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:` + partition + `:iam::` + account + `:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`
}

// resolve finds the key a KeyId names: a key id, a key ARN, an alias name
// or an alias ARN. The view answers; when it knows no such key it reads
// the alias and key records from the store before saying so, for a key
// or alias created through another node whose watch event has not
// reached this one's view yet.
func (s *Service) resolve(id string) (*key, error) {
	k, err := s.resolveView(id)
	if err == nil || awsproto.AsError(err).Code != awsproto.KMSNotFound {
		return k, err
	}
	if !s.readThrough(id) {
		return nil, err
	}
	return s.resolveView(id)
}

// readThrough applies the store's records of the alias and key id names
// to the view; false when it found nothing the view lacked.
func (s *Service) readThrough(id string) bool {
	name := id
	if strings.HasPrefix(id, "arn:") {
		parts := strings.SplitN(id, ":", 6)
		if len(parts) != 6 {
			return false
		}
		name = parts[5]
	}
	ctx, cancel := context.WithTimeout(context.Background(), readThroughTimeout)
	defer cancel()
	found := false
	get := func(k string) *store.Entry {
		e, err := s.cfg.KV.Get(ctx, k)
		if err != nil {
			return nil
		}
		found = true
		s.apply(e)
		return &e
	}
	if strings.HasPrefix(name, "alias/") {
		e := get(aliasKey(name))
		if e == nil || e.Deleted {
			return false
		}
		var rec aliasRecord
		if json.Unmarshal(e.Value, &rec) != nil {
			return false
		}
		name = rec.KeyID
	}
	name = strings.TrimPrefix(name, "key/")
	if !keyIDPattern.MatchString(name) {
		return found
	}
	get(keyPrefix + name)
	return found
}

// readThroughTimeout bounds resolve's reads of the store.
const readThroughTimeout = 5 * time.Second

// resolveView is resolve from the view alone.
func (s *Service) resolveView(id string) (*key, error) {
	if id == "" {
		return nil, validation("null", "keyId", "Member must not be null")
	}
	if len(id) > 2048 {
		return nil, validation(id, "keyId", "Member must have length less than or equal to 2048")
	}
	name := id
	if strings.HasPrefix(id, "arn:") {
		parts := strings.SplitN(id, ":", 6)
		if len(parts) != 6 || parts[2] != "kms" {
			return nil, awsproto.Errorf(awsproto.KMSNotFound, "Invalid arn %s", id)
		}
		if parts[3] != s.cfg.Region || parts[4] != s.cfg.Account {
			return nil, awsproto.Errorf(awsproto.KMSNotFound, "Invalid arn %s", id)
		}
		name = parts[5]
	}
	s.vmu.RLock()
	defer s.vmu.RUnlock()
	if strings.HasPrefix(name, "alias/") {
		a, ok := s.aliases[name]
		if !ok || a.gone {
			return nil, awsproto.Errorf(awsproto.KMSNotFound, "Alias %s is not found.", s.aliasARN(name))
		}
		name = a.rec.KeyID
	} else if strings.HasPrefix(id, "arn:") {
		if !strings.HasPrefix(name, "key/") {
			return nil, awsproto.Errorf(awsproto.KMSNotFound, "Invalid arn %s", id)
		}
		name = name[len("key/"):]
	}
	k, ok := s.keys[name]
	if !ok || k.gone {
		if !keyIDPattern.MatchString(name) && !strings.HasPrefix(id, "alias/") && !strings.HasPrefix(id, "arn:") {
			return nil, awsproto.Errorf(awsproto.KMSNotFound, "Invalid keyId '%s'", id)
		}
		return nil, awsproto.Errorf(awsproto.KMSNotFound, "Key '%s' does not exist", s.keyARN(name))
	}
	return k, nil
}

// usable refuses a key that cannot be used for cryptography now.
func usable(k *key) error {
	switch k.rec.State {
	case stateDisabled:
		return awsproto.Errorf(awsproto.KMSDisabled, "%s is disabled.", k.rec.Arn)
	case statePendingDeletion:
		return awsproto.Errorf(awsproto.KMSInvalidState, "%s is pending deletion.", k.rec.Arn)
	}
	if k.unavailable != nil {
		return awsproto.Errorf(awsproto.KMSKeyUnavailable, "%s is unavailable: its key material cannot be unwrapped with this node's master key.", k.rec.Arn)
	}
	return nil
}

// notPending refuses a key pending deletion, for operations that manage
// a key.
func notPending(k *key) error {
	if k.rec.State == statePendingDeletion {
		return awsproto.Errorf(awsproto.KMSInvalidState, "%s is pending deletion.", k.rec.Arn)
	}
	return nil
}

type tag struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

func tagMap(tags []tag) (map[string]string, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	if len(tags) > 50 {
		return nil, awsproto.Errorf(awsproto.KMSTag, "Too many tags")
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		if t.TagKey == "" || len(t.TagKey) > 128 || len(t.TagValue) > 256 || strings.HasPrefix(t.TagKey, "aws:") {
			return nil, awsproto.Errorf(awsproto.KMSTag, "Tag key or value is invalid: %q", t.TagKey)
		}
		m[t.TagKey] = t.TagValue
	}
	return m, nil
}

// keyMetadata is the KeyMetadata shape.
type keyMetadata struct {
	AWSAccountID                string   `json:"AWSAccountId"`
	KeyID                       string   `json:"KeyId"`
	Arn                         string   `json:"Arn"`
	CreationDate                float64  `json:"CreationDate"`
	Enabled                     bool     `json:"Enabled"`
	Description                 string   `json:"Description"`
	KeyUsage                    string   `json:"KeyUsage"`
	KeyState                    string   `json:"KeyState"`
	DeletionDate                *float64 `json:"DeletionDate,omitempty"`
	PendingDeletionWindowInDays *int     `json:"PendingDeletionWindowInDays,omitempty"`
	Origin                      string   `json:"Origin"`
	KeyManager                  string   `json:"KeyManager"`
	CustomerMasterKeySpec       string   `json:"CustomerMasterKeySpec"`
	KeySpec                     string   `json:"KeySpec"`
	EncryptionAlgorithms        []string `json:"EncryptionAlgorithms,omitempty"`
	SigningAlgorithms           []string `json:"SigningAlgorithms,omitempty"`
	MacAlgorithms               []string `json:"MacAlgorithms,omitempty"`
	MultiRegion                 bool     `json:"MultiRegion"`
}

func (k *key) metadata() keyMetadata {
	enc, sig, mac := k.algorithms()
	m := keyMetadata{AWSAccountID: k.rec.Account, KeyID: k.rec.KeyID, Arn: k.rec.Arn, CreationDate: k.rec.Created,
		Enabled: k.rec.State == stateEnabled, Description: k.rec.Description, KeyUsage: k.rec.KeyUsage, KeyState: k.rec.State,
		Origin: "AWS_KMS", KeyManager: k.rec.Manager, CustomerMasterKeySpec: k.rec.KeySpec, KeySpec: k.rec.KeySpec,
		EncryptionAlgorithms: enc, SigningAlgorithms: sig, MacAlgorithms: mac}
	if k.rec.State == statePendingDeletion {
		d, w := k.rec.DeletionDate, k.rec.PendingDays
		m.DeletionDate, m.PendingDeletionWindowInDays = &d, &w
	}
	return m
}

// newKey builds, wraps and stores a new key.
func (s *Service) newKey(ctx context.Context, spec, usage, desc, policy, manager string, tags map[string]string) (*key, error) {
	raw, err := newMaterial(spec)
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	id := newKeyID()
	now := s.cfg.Now()
	rec := keyRecord{KeyID: id, Arn: s.keyARN(id), Account: s.cfg.Account, Created: epoch(now), Description: desc,
		KeySpec: spec, KeyUsage: usage, State: stateEnabled, Manager: manager, Policy: policy, Tags: tags,
		Materials: []material{{Version: 1, MasterKey: s.cfg.Master.ID(), Wrapped: s.cfg.Master.wrap(raw, materialAAD(id, 1))}}}
	if manager == "AWS" {
		// AWS managed keys rotate every year, always.
		rec.RotationPeriod = 365
		rec.NextRotation = epoch(now.AddDate(0, 0, 365))
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rev, err := s.cfg.KV.Create(ctx, keyPrefix+id, b)
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	s.apply(storeEntry(keyPrefix+id, b, rev))
	return s.resolve(id)
}

func (s *Service) createKey(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		Description                    string `json:"Description"`
		KeyUsage                       string `json:"KeyUsage"`
		KeySpec                        string `json:"KeySpec"`
		CustomerMasterKeySpec          string `json:"CustomerMasterKeySpec"`
		Policy                         string `json:"Policy"`
		Tags                           []tag  `json:"Tags"`
		Origin                         string `json:"Origin"`
		MultiRegion                    bool   `json:"MultiRegion"`
		BypassPolicyLockoutSafetyCheck bool   `json:"BypassPolicyLockoutSafetyCheck"`
		CustomKeyStoreID               string `json:"CustomKeyStoreId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := s.authorizeAccount(r, "CreateKey"); err != nil {
		return nil, err
	}
	spec := in.KeySpec
	if spec == "" {
		spec = in.CustomerMasterKeySpec
	} else if in.CustomerMasterKeySpec != "" && in.CustomerMasterKeySpec != spec {
		return nil, awsproto.Errorf(awsproto.KMSValidation, "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.")
	}
	if spec == "" {
		spec = specSymmetric
	}
	si, ok := specs[spec]
	if !ok {
		return nil, validation(spec, "keySpec", "Member must satisfy enum value set: ["+strings.Join(specNames(), ", ")+"]")
	}
	usage := in.KeyUsage
	if usage == "" {
		// Asymmetric and HMAC keys need their usage said, even where
		// only one is valid.
		if spec != specSymmetric {
			return nil, awsproto.Errorf(awsproto.KMSValidation, "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")
		}
		usage = usageEncrypt
	}
	switch usage {
	case usageEncrypt, usageSign, usageMAC, "KEY_AGREEMENT":
	default:
		return nil, validation(usage, "keyUsage", "Member must satisfy enum value set: [ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC, KEY_AGREEMENT]")
	}
	if !slices.Contains(si.usages, usage) {
		return nil, awsproto.Errorf(awsproto.KMSValidation, "KeyUsage %s is not compatible with KeySpec %s", usage, spec)
	}
	if in.Origin != "" && in.Origin != "AWS_KMS" {
		return nil, awsproto.Errorf(awsproto.KMSUnsupportedOperation, "Origin %s is not supported.", in.Origin)
	}
	if in.MultiRegion {
		return nil, awsproto.Errorf(awsproto.KMSUnsupportedOperation, "Multi-Region keys are not supported.")
	}
	if in.CustomKeyStoreID != "" {
		return nil, awsproto.Errorf(awsproto.KMSUnsupportedOperation, "Custom key stores are not supported.")
	}
	if len(in.Description) > 8192 {
		return nil, validation(in.Description, "description", "Member must have length less than or equal to 8192")
	}
	policy := in.Policy
	if policy == "" {
		policy = DefaultKeyPolicy(s.cfg.Partition, s.cfg.Account)
	} else if err := checkPolicy(policy); err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	k, err := s.newKey(ctx, spec, usage, in.Description, policy, "CUSTOMER", tags)
	if err != nil {
		return nil, err
	}
	return map[string]any{"KeyMetadata": k.metadata()}, nil
}

func specNames() []string {
	out := make([]string, 0, len(specs))
	for k := range specs {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkPolicy refuses a key policy that is not a valid resource policy.
func checkPolicy(doc string) error {
	if len(doc) > 32768 {
		return validation("<policy>", "policy", "Member must have length less than or equal to 32768")
	}
	if _, err := iam.Parse(doc, iam.KindResource); err != nil {
		return awsproto.Errorf(awsproto.KMSMalformedPolicyDocument, "The new key policy will not allow you to update the key policy in the future.")
	}
	return nil
}

type keyIDInput struct {
	KeyID       string   `json:"KeyId"`
	GrantTokens []string `json:"GrantTokens"`
}

func (s *Service) describeKey(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, err := s.resolve(in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, r, "kms:DescribeKey", k, nil); err != nil {
		return nil, err
	}
	return map[string]any{"KeyMetadata": k.metadata()}, nil
}

type page struct {
	Limit  *int   `json:"Limit"`
	Marker string `json:"Marker"`
}

// window returns the items of a page of n sorted items: from the one
// after marker (an item's name), at most limit (1–1000, def by default).
func (p page) window(names []string, def int) (from, to int, next string, err error) {
	limit := def
	if p.Limit != nil {
		if *p.Limit < 1 || *p.Limit > 1000 {
			return 0, 0, "", validation(*p.Limit, "limit", "Member must have value between 1 and 1000")
		}
		limit = *p.Limit
	}
	if p.Marker != "" {
		i, ok := slices.BinarySearch(names, p.Marker)
		if !ok {
			return 0, 0, "", awsproto.Errorf(awsproto.KMSInvalidMarker, "Invalid marker")
		}
		from = i + 1
	}
	to = min(from+limit, len(names))
	if to < len(names) {
		next = names[to-1]
	}
	return from, to, next, nil
}

func (s *Service) listKeys(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in page
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := s.authorizeAccount(r, "ListKeys"); err != nil {
		return nil, err
	}
	s.vmu.RLock()
	ids := make([]string, 0, len(s.keys))
	for id, k := range s.keys {
		if !k.gone {
			ids = append(ids, id)
		}
	}
	s.vmu.RUnlock()
	slices.Sort(ids)
	from, to, next, err := in.window(ids, 100)
	if err != nil {
		return nil, err
	}
	type entry struct {
		KeyID  string `json:"KeyId"`
		KeyArn string `json:"KeyArn"`
	}
	out := make([]entry, 0, to-from)
	for _, id := range ids[from:to] {
		out = append(out, entry{id, s.keyARN(id)})
	}
	return pageOut(map[string]any{"Keys": out}, next), nil
}

func pageOut(m map[string]any, next string) map[string]any {
	m["Truncated"] = next != ""
	if next != "" {
		m["NextMarker"] = next
	}
	return m
}

func (s *Service) updateKeyDescription(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		KeyID       string `json:"KeyId"`
		Description string `json:"Description"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return nil, s.change(ctx, r, in.KeyID, "kms:UpdateKeyDescription", func(rec *keyRecord) error {
		if len(in.Description) > 8192 {
			return validation(in.Description, "description", "Member must have length less than or equal to 8192")
		}
		rec.Description = in.Description
		return nil
	})
}

// change authorizes action on the key id names and then changes its
// record with fn; a key pending deletion is refused unless fn allows it
// (it is called with the record either way).
func (s *Service) change(ctx context.Context, r *http.Request, id, action string, fn func(*keyRecord) error) error {
	k, err := s.resolve(id)
	if err != nil {
		return err
	}
	if err := s.authorize(ctx, r, action, k, nil); err != nil {
		return err
	}
	if k.rec.Manager == "AWS" && action != "kms:CreateGrant" && action != "kms:RetireGrant" && action != "kms:RevokeGrant" {
		return awsproto.Errorf(awsproto.KMSUnsupportedOperation, "%s is an AWS managed key: it cannot be changed.", k.rec.Arn)
	}
	err = s.update(ctx, k.rec.KeyID, fn)
	if errors.Is(err, errGone) {
		return awsproto.Errorf(awsproto.KMSNotFound, "Key '%s' does not exist", k.rec.Arn)
	}
	var ae *awsproto.Error
	if err != nil && !errors.As(err, &ae) {
		return awsproto.Internal(err)
	}
	return err
}

var aliasName = lazyregexp.New(`^alias/[a-zA-Z0-9/_-]+$`)

func (s *Service) checkAliasName(name string) error {
	switch {
	case name == "":
		return validation("null", "aliasName", "Member must not be null")
	case len(name) > 256:
		return validation(name, "aliasName", "Member must have length less than or equal to 256")
	case !strings.HasPrefix(name, "alias/"):
		return awsproto.Errorf(awsproto.KMSValidation, "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html")
	case !aliasName.MatchString(name):
		return validation(name, "aliasName", "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$")
	case strings.HasPrefix(name, "alias/aws/"):
		return awsproto.Errorf(awsproto.KMSNotAuthorized, "")
	}
	return nil
}

func (s *Service) createAlias(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		AliasName   string `json:"AliasName"`
		TargetKeyID string `json:"TargetKeyId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := s.checkAliasName(in.AliasName); err != nil {
		return nil, err
	}
	k, err := s.resolve(in.TargetKeyID)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(in.TargetKeyID, "alias/") || strings.Contains(in.TargetKeyID, ":alias/") {
		return nil, awsproto.Errorf(awsproto.KMSValidation, "Aliases must refer to keys. Not aliases")
	}
	if err := s.authorize(ctx, r, "kms:CreateAlias", k, nil); err != nil {
		return nil, err
	}
	if err := notPending(k); err != nil {
		return nil, err
	}
	return nil, s.putAlias(ctx, in.AliasName, k.rec.KeyID, true)
}

// putAlias creates (create) or repoints an alias.
func (s *Service) putAlias(ctx context.Context, name, keyID string, create bool) error {
	now := epoch(s.cfg.Now())
	s.mu.Lock()
	defer s.mu.Unlock()
	bk := aliasKey(name)
	if create {
		b, _ := json.Marshal(aliasRecord{Name: name, KeyID: keyID, Created: now, Updated: now})
		rev, err := s.cfg.KV.Create(ctx, bk, b)
		if errors.Is(err, store.ErrExists) {
			return awsproto.Errorf(awsproto.KMSAlreadyExists, "An alias with the name %s already exists", s.aliasARN(name))
		}
		if err != nil {
			return awsproto.Internal(err)
		}
		s.apply(storeEntry(bk, b, rev))
		return nil
	}
	e, err := s.cfg.KV.Get(ctx, bk)
	if err != nil {
		return awsproto.Errorf(awsproto.KMSNotFound, "Alias %s is not found.", s.aliasARN(name))
	}
	var rec aliasRecord
	if err := json.Unmarshal(e.Value, &rec); err != nil {
		return awsproto.Internal(err)
	}
	rec.KeyID, rec.Updated = keyID, now
	b, _ := json.Marshal(rec)
	rev, err := s.cfg.KV.Update(ctx, bk, b, e.Revision)
	if err != nil {
		return awsproto.Internal(err)
	}
	s.apply(storeEntry(bk, b, rev))
	return nil
}

func (s *Service) updateAlias(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		AliasName   string `json:"AliasName"`
		TargetKeyID string `json:"TargetKeyId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := s.checkAliasName(in.AliasName); err != nil {
		return nil, err
	}
	old, err := s.resolve(in.AliasName)
	if err != nil {
		return nil, err
	}
	k, err := s.resolve(in.TargetKeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, r, "kms:UpdateAlias", old, nil); err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, r, "kms:UpdateAlias", k, nil); err != nil {
		return nil, err
	}
	if err := notPending(k); err != nil {
		return nil, err
	}
	if old.rec.KeyUsage != k.rec.KeyUsage || (old.rec.KeySpec == specSymmetric) != (k.rec.KeySpec == specSymmetric) {
		return nil, awsproto.Errorf(awsproto.KMSValidation, "%s key usage %s is not compatible with %s key usage %s", k.rec.Arn, k.rec.KeyUsage, old.rec.Arn, old.rec.KeyUsage)
	}
	return nil, s.putAlias(ctx, in.AliasName, k.rec.KeyID, false)
}

func (s *Service) deleteAlias(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		AliasName string `json:"AliasName"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := s.checkAliasName(in.AliasName); err != nil {
		return nil, err
	}
	k, err := s.resolve(in.AliasName)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, r, "kms:DeleteAlias", k, nil); err != nil {
		return nil, err
	}
	return nil, s.removeAlias(ctx, in.AliasName)
}

func (s *Service) removeAlias(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	bk := aliasKey(name)
	e, err := s.cfg.KV.Get(ctx, bk)
	if err != nil {
		return awsproto.Errorf(awsproto.KMSNotFound, "Alias %s is not found.", s.aliasARN(name))
	}
	if err := s.cfg.KV.Delete(ctx, bk, e.Revision); err != nil {
		return awsproto.Internal(err)
	}
	s.apply(deletedEntry(bk, e.Revision+1))
	return nil
}

func (s *Service) listAliases(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		page
		KeyID string `json:"KeyId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var only string
	if in.KeyID != "" {
		k, err := s.resolve(in.KeyID)
		if err != nil {
			return nil, err
		}
		if err := s.authorize(ctx, r, "kms:ListAliases", k, nil); err != nil {
			return nil, err
		}
		only = k.rec.KeyID
	} else if err := s.authorizeAccount(r, "ListAliases"); err != nil {
		return nil, err
	}
	s.vmu.RLock()
	var names []string
	recs := map[string]aliasRecord{}
	for n, a := range s.aliases {
		if a.gone || only != "" && a.rec.KeyID != only {
			continue
		}
		names = append(names, n)
		recs[n] = a.rec
	}
	s.vmu.RUnlock()
	slices.Sort(names)
	from, to, next, err := in.window(names, 100)
	if err != nil {
		return nil, err
	}
	type entry struct {
		AliasName       string  `json:"AliasName"`
		AliasArn        string  `json:"AliasArn"`
		TargetKeyID     string  `json:"TargetKeyId"`
		CreationDate    float64 `json:"CreationDate"`
		LastUpdatedDate float64 `json:"LastUpdatedDate"`
	}
	out := make([]entry, 0, to-from)
	for _, n := range names[from:to] {
		a := recs[n]
		out = append(out, entry{n, s.aliasARN(n), a.KeyID, a.Created, a.Updated})
	}
	return pageOut(map[string]any{"Aliases": out}, next), nil
}

func (s *Service) enableKey(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return nil, s.change(ctx, r, in.KeyID, "kms:EnableKey", func(rec *keyRecord) error {
		if rec.State == statePendingDeletion {
			return awsproto.Errorf(awsproto.KMSInvalidState, "%s is pending deletion.", rec.Arn)
		}
		rec.State = stateEnabled
		return nil
	})
}

func (s *Service) disableKey(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return nil, s.change(ctx, r, in.KeyID, "kms:DisableKey", func(rec *keyRecord) error {
		if rec.State == statePendingDeletion {
			return awsproto.Errorf(awsproto.KMSInvalidState, "%s is pending deletion.", rec.Arn)
		}
		rec.State = stateDisabled
		return nil
	})
}

func (s *Service) scheduleKeyDeletion(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		KeyID               string `json:"KeyId"`
		PendingWindowInDays *int   `json:"PendingWindowInDays"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	days := 30
	if in.PendingWindowInDays != nil {
		days = *in.PendingWindowInDays
		if days < 7 {
			return nil, validation(days, "pendingWindowInDays", "Member must have value greater than or equal to 7")
		}
		if days > 30 {
			return nil, validation(days, "pendingWindowInDays", "Member must have value less than or equal to 30")
		}
	}
	var rec keyRecord
	err := s.change(ctx, r, in.KeyID, "kms:ScheduleKeyDeletion", func(kr *keyRecord) error {
		if kr.State == statePendingDeletion {
			return awsproto.Errorf(awsproto.KMSInvalidState, "%s is pending deletion.", kr.Arn)
		}
		kr.State = statePendingDeletion
		kr.PendingDays = days
		kr.DeletionDate = epoch(s.cfg.Now().Add(time.Duration(days) * 24 * time.Hour))
		rec = *kr
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"KeyId": rec.Arn, "DeletionDate": rec.DeletionDate, "KeyState": rec.State, "PendingWindowInDays": days}, nil
}

func (s *Service) cancelKeyDeletion(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var arn string
	err := s.change(ctx, r, in.KeyID, "kms:CancelKeyDeletion", func(rec *keyRecord) error {
		if rec.State != statePendingDeletion {
			return awsproto.Errorf(awsproto.KMSInvalidState, "%s is not pending deletion.", rec.Arn)
		}
		// A key whose deletion is cancelled is disabled, as in AWS.
		rec.State, rec.DeletionDate, rec.PendingDays = stateDisabled, 0, 0
		arn = rec.Arn
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"KeyId": arn}, nil
}

func (s *Service) enableKeyRotation(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		KeyID                string `json:"KeyId"`
		RotationPeriodInDays *int   `json:"RotationPeriodInDays"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	period := 365
	if in.RotationPeriodInDays != nil {
		period = *in.RotationPeriodInDays
		if period < 90 || period > 2560 {
			return nil, validation(period, "rotationPeriodInDays", "Member must have value between 90 and 2560")
		}
	}
	return nil, s.change(ctx, r, in.KeyID, "kms:EnableKeyRotation", func(rec *keyRecord) error {
		if err := rotatable(rec); err != nil {
			return err
		}
		rec.RotationPeriod = period
		rec.NextRotation = epoch(s.cfg.Now().AddDate(0, 0, period))
		return nil
	})
}

// rotatable refuses a key whose material cannot rotate.
func rotatable(rec *keyRecord) error {
	switch {
	case rec.KeySpec != specSymmetric:
		return awsproto.Errorf(awsproto.KMSUnsupportedOperation, "%s is not a symmetric encryption KMS key: its key material cannot be rotated.", rec.Arn)
	case rec.State == stateDisabled:
		return awsproto.Errorf(awsproto.KMSDisabled, "%s is disabled.", rec.Arn)
	case rec.State == statePendingDeletion:
		return awsproto.Errorf(awsproto.KMSInvalidState, "%s is pending deletion.", rec.Arn)
	}
	return nil
}

func (s *Service) disableKeyRotation(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return nil, s.change(ctx, r, in.KeyID, "kms:DisableKeyRotation", func(rec *keyRecord) error {
		if err := rotatable(rec); err != nil {
			return err
		}
		rec.RotationPeriod, rec.NextRotation = 0, 0
		return nil
	})
}

func (s *Service) getKeyRotationStatus(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, err := s.resolve(in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, r, "kms:GetKeyRotationStatus", k, nil); err != nil {
		return nil, err
	}
	if k.rec.KeySpec != specSymmetric {
		return nil, awsproto.Errorf(awsproto.KMSUnsupportedOperation, "%s is not a symmetric encryption KMS key.", k.rec.Arn)
	}
	out := map[string]any{"KeyId": k.rec.Arn, "KeyRotationEnabled": k.rec.RotationPeriod > 0}
	if k.rec.RotationPeriod > 0 {
		out["RotationPeriodInDays"] = k.rec.RotationPeriod
		out["NextRotationDate"] = k.rec.NextRotation
	}
	return out, nil
}

// rotate adds a new material version to rec.
func (s *Service) rotate(rec *keyRecord, typ string) error {
	raw, err := newMaterial(rec.KeySpec)
	if err != nil {
		return err
	}
	v := rec.Materials[len(rec.Materials)-1].Version + 1
	rec.Materials = append(rec.Materials, material{Version: v, MasterKey: s.cfg.Master.ID(), Wrapped: s.cfg.Master.wrap(raw, materialAAD(rec.KeyID, v))})
	now := s.cfg.Now()
	rec.Rotations = append(rec.Rotations, rotation{Date: epoch(now), Type: typ})
	if rec.RotationPeriod > 0 {
		rec.NextRotation = epoch(now.AddDate(0, 0, rec.RotationPeriod))
	}
	return nil
}

func (s *Service) rotateKeyOnDemand(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var arn string
	err := s.change(ctx, r, in.KeyID, "kms:RotateKeyOnDemand", func(rec *keyRecord) error {
		if err := rotatable(rec); err != nil {
			return err
		}
		arn = rec.Arn
		return s.rotate(rec, "ON_DEMAND")
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"KeyId": arn}, nil
}

func (s *Service) listKeyRotations(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		page
		KeyID string `json:"KeyId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, err := s.resolve(in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, r, "kms:ListKeyRotations", k, nil); err != nil {
		return nil, err
	}
	if k.rec.KeySpec != specSymmetric {
		return nil, awsproto.Errorf(awsproto.KMSUnsupportedOperation, "%s is not a symmetric encryption KMS key.", k.rec.Arn)
	}
	names := make([]string, len(k.rec.Rotations))
	for i := range names {
		names[i] = fmt.Sprintf("%08d", i)
	}
	from, to, next, err := in.window(names, 100)
	if err != nil {
		return nil, err
	}
	type entry struct {
		KeyID        string  `json:"KeyId"`
		RotationDate float64 `json:"RotationDate"`
		RotationType string  `json:"RotationType"`
	}
	out := make([]entry, 0, to-from)
	for _, ro := range k.rec.Rotations[from:to] {
		out = append(out, entry{k.rec.KeyID, ro.Date, ro.Type})
	}
	return pageOut(map[string]any{"Rotations": out}, next), nil
}

func (s *Service) getKeyPolicy(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		KeyID      string `json:"KeyId"`
		PolicyName string `json:"PolicyName"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, err := s.resolve(in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, r, "kms:GetKeyPolicy", k, nil); err != nil {
		return nil, err
	}
	if in.PolicyName != "" && in.PolicyName != "default" {
		return nil, awsproto.Errorf(awsproto.KMSNotFound, "No such policy exists")
	}
	return map[string]any{"Policy": k.rec.Policy, "PolicyName": "default"}, nil
}

func (s *Service) putKeyPolicy(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		KeyID                          string `json:"KeyId"`
		PolicyName                     string `json:"PolicyName"`
		Policy                         string `json:"Policy"`
		BypassPolicyLockoutSafetyCheck bool   `json:"BypassPolicyLockoutSafetyCheck"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.PolicyName != "" && in.PolicyName != "default" {
		return nil, validation(in.PolicyName, "policyName", "Member must satisfy regular expression pattern: default")
	}
	if in.Policy == "" {
		return nil, validation("null", "policy", "Member must not be null")
	}
	if err := checkPolicy(in.Policy); err != nil {
		return nil, err
	}
	return nil, s.change(ctx, r, in.KeyID, "kms:PutKeyPolicy", func(rec *keyRecord) error {
		rec.Policy = in.Policy
		return nil
	})
}

func (s *Service) listKeyPolicies(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, err := s.resolve(in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, r, "kms:ListKeyPolicies", k, nil); err != nil {
		return nil, err
	}
	return map[string]any{"PolicyNames": []string{"default"}, "Truncated": false}, nil
}

func (s *Service) tagResource(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		KeyID string `json:"KeyId"`
		Tags  []tag  `json:"Tags"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	return nil, s.change(ctx, r, in.KeyID, "kms:TagResource", func(rec *keyRecord) error {
		if err := notPending(&key{rec: *rec}); err != nil {
			return err
		}
		if rec.Tags == nil {
			rec.Tags = map[string]string{}
		}
		for k, v := range tags {
			rec.Tags[k] = v
		}
		if len(rec.Tags) > 50 {
			return awsproto.Errorf(awsproto.KMSTag, "Too many tags")
		}
		return nil
	})
}

func (s *Service) untagResource(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		KeyID   string   `json:"KeyId"`
		TagKeys []string `json:"TagKeys"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return nil, s.change(ctx, r, in.KeyID, "kms:UntagResource", func(rec *keyRecord) error {
		if err := notPending(&key{rec: *rec}); err != nil {
			return err
		}
		for _, k := range in.TagKeys {
			delete(rec.Tags, k)
		}
		return nil
	})
}

func (s *Service) listResourceTags(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		page
		KeyID string `json:"KeyId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, err := s.resolve(in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, r, "kms:ListResourceTags", k, nil); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(k.rec.Tags))
	for n := range k.rec.Tags {
		names = append(names, n)
	}
	slices.Sort(names)
	from, to, next, err := in.window(names, 50)
	if err != nil {
		return nil, err
	}
	out := make([]tag, 0, to-from)
	for _, n := range names[from:to] {
		out = append(out, tag{n, k.rec.Tags[n]})
	}
	return pageOut(map[string]any{"Tags": out}, next), nil
}

func storeEntry(k string, v []byte, rev uint64) store.Entry {
	return store.Entry{Key: k, Value: v, Revision: rev}
}

// deletedEntry is a deletion at rev or later: what the view records when
// this node deletes.
func deletedEntry(k string, rev uint64) store.Entry {
	return store.Entry{Key: k, Revision: rev, Deleted: true}
}

// keyIDPattern is a key id: a version 4 UUID in lower-case hex.
var keyIDPattern = lazyregexp.New(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// newKeyID returns a random (version 4) UUID, as AWS's key ids are.
func newKeyID() string {
	b := random(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
