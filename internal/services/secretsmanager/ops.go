package secretsmanager

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/lazyregexp"
	"github.com/kumo-run/kumo/internal/store"
)

// Version stages Secrets Manager moves itself.
const (
	stageCurrent  = "AWSCURRENT"
	stagePrevious = "AWSPREVIOUS"
)

// maxVersions bounds the versions a secret keeps: versions without a
// stage beyond it are dropped, oldest first (AWS keeps about 100).
const maxVersions = 100

// maxSecretSize is Secrets Manager's limit on a value (64 KiB).
const maxSecretSize = 65536

// operations maps every operation to its IAM action (the AWS Secrets
// Manager table of the Service Authorization Reference).
var operations = map[string]string{
	"CreateSecret":   "secretsmanager:CreateSecret",
	"GetSecretValue": "secretsmanager:GetSecretValue",
	"PutSecretValue": "secretsmanager:PutSecretValue",
	"UpdateSecret":   "secretsmanager:UpdateSecret",
	"DescribeSecret": "secretsmanager:DescribeSecret",
	"ListSecrets":    "secretsmanager:ListSecrets",
	"DeleteSecret":   "secretsmanager:DeleteSecret",
	"RestoreSecret":  "secretsmanager:RestoreSecret",
	"TagResource":    "secretsmanager:TagResource",
	"UntagResource":  "secretsmanager:UntagResource",
}

func (s *Service) dispatch() map[string]op {
	return map[string]op{
		"CreateSecret":   s.createSecret,
		"GetSecretValue": s.getSecretValue,
		"PutSecretValue": s.putSecretValue,
		"UpdateSecret":   s.updateSecret,
		"DescribeSecret": s.describeSecret,
		"ListSecrets":    s.listSecrets,
		"DeleteSecret":   s.deleteSecret,
		"RestoreSecret":  s.restoreSecret,
		"TagResource":    s.tagResource,
		"UntagResource":  s.untagResource,
	}
}

// authorize checks op on the secret arn (its tags as resource tags).
func (s *Service) authorize(r *http.Request, op, arn string, tags []tag) error {
	if s.cfg.Authorizer == nil || op == "" { // "": the service's own write
		return nil
	}
	c := authz.Check{Action: operations[op], Resource: arn, SourceIP: authz.SourceIP(r), Denied: awsproto.SMAccessDenied}
	if len(tags) > 0 {
		c.ResourceTags = make(map[string]string, len(tags))
		for _, t := range tags {
			c.ResourceTags[t.Key] = t.Value
		}
	}
	return s.cfg.Authorizer.Authorize(r.Context(), c)
}

func notFound() error {
	return awsproto.Errorf(awsproto.SMResourceNotFound, "Secrets Manager can't find the specified secret.")
}

func invalidParam(format string, args ...any) error {
	return awsproto.Errorf(awsproto.SMInvalidParameter, format, args...)
}

func markedForDeletion() error {
	return awsproto.Errorf(awsproto.SMInvalidRequest, "You can't perform this operation on the secret because it was marked for deletion.")
}

var namePattern = lazyregexp.New(`^[a-zA-Z0-9/_+=.@-]+$`)

const suffixAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newARN is a secret's ARN: its name and six random characters, as AWS
// writes them.
func (s *Service) newARN(name string) string {
	b := make([]byte, 6)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(suffixAlphabet))))
		b[i] = suffixAlphabet[n.Int64()]
	}
	return "arn:" + s.cfg.Partition + ":secretsmanager:" + s.cfg.Region + ":" + s.cfg.Account + ":secret:" + name + "-" + string(b)
}

// find resolves a SecretId: a name, an ARN, or an ARN without its random
// suffix.
func (s *Service) find(id string) (*secretEntry, error) {
	if id == "" {
		return nil, invalidParam("You must provide a SecretId.")
	}
	s.vmu.RLock()
	defer s.vmu.RUnlock()
	if strings.HasPrefix(id, "arn:") {
		prefix := "arn:" + s.cfg.Partition + ":secretsmanager:" + s.cfg.Region + ":" + s.cfg.Account + ":secret:"
		if !strings.HasPrefix(id, prefix) {
			return nil, notFound()
		}
		for _, e := range s.secrets {
			if !e.gone && e.rec.ARN == id {
				return e, nil
			}
		}
		id = id[len(prefix):] // a partial ARN names the secret by name
	}
	e := s.secrets[id]
	if e == nil || e.gone {
		return nil, notFound()
	}
	return e, nil
}

// value is a secret value as encrypted: exactly one member set.
type value struct {
	S *string `json:"s,omitempty"`
	B []byte  `json:"b,omitempty"`
}

func checkValue(str *string, bin []byte) (*value, error) {
	switch {
	case str != nil && bin != nil:
		return nil, invalidParam("You can't specify both a binary secret value and a string secret value in the same secret.")
	case str != nil && len(*str) > maxSecretSize, len(bin) > maxSecretSize:
		return nil, invalidParam("The secret value is larger than the maximum of 65536 bytes.")
	case str != nil:
		return &value{S: str}, nil
	case bin != nil:
		return &value{B: bin}, nil
	}
	return nil, nil
}

// checkToken validates a ClientRequestToken, or makes one.
func checkToken(tok string) (string, error) {
	if tok == "" {
		b := make([]byte, 16)
		rand.Read(b)
		h := hex.EncodeToString(b)
		return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-" + h[16:20] + "-" + h[20:], nil
	}
	if len(tok) < 32 || len(tok) > 64 {
		return "", invalidParam("ClientRequestToken must be 32-64 characters long.")
	}
	return tok, nil
}

// valueHash fingerprints a value for idempotency checks, keyed by the
// secret's ARN so that it says nothing about the value elsewhere.
func valueHash(arn string, v *value) string {
	b, _ := json.Marshal(v)
	m := hmac.New(sha256.New, []byte(arn))
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

// addVersion encrypts v into a new version vid of rec and moves stages:
// stages (AWSCURRENT by default) go to the new version; the version that
// loses AWSCURRENT gets AWSPREVIOUS. A retried token with the same value
// changes nothing; with another value it is ResourceExistsException.
func (s *Service) addVersion(ctx context.Context, rec *secretRecord, vid string, v *value, stages []string) error {
	h := valueHash(rec.ARN, v)
	if old, ok := rec.Versions[vid]; ok {
		if old.Hash == h {
			return nil
		}
		return awsproto.Errorf(awsproto.SMResourceExists, "You can't modify an existing version, you can only create a new version.")
	}
	if len(stages) == 0 {
		stages = []string{stageCurrent}
	}
	plain, err := json.Marshal(v)
	if err != nil {
		return awsproto.Internal(err)
	}
	blob, key, err := s.cfg.Keys.Seal(ctx, rec.KmsKeyID, plain, map[string]string{"SecretARN": rec.ARN, "SecretVersionId": vid})
	if err != nil {
		return encryptionFailure(err)
	}
	now := epoch(s.cfg.Now())
	if slices.Contains(stages, stageCurrent) {
		for _, ov := range rec.Versions {
			ov.Stages = slices.DeleteFunc(ov.Stages, func(st string) bool { return st == stagePrevious })
		}
		for _, ov := range rec.Versions {
			if slices.Contains(ov.Stages, stageCurrent) {
				ov.Stages = append(slices.DeleteFunc(ov.Stages, func(st string) bool { return st == stageCurrent }), stagePrevious)
			}
		}
	}
	for _, ov := range rec.Versions {
		ov.Stages = slices.DeleteFunc(ov.Stages, func(st string) bool { return st != stageCurrent && st != stagePrevious && slices.Contains(stages, st) })
	}
	if rec.Versions == nil {
		rec.Versions = map[string]*version{}
	}
	rec.Versions[vid] = &version{Created: now, Stages: stages, Key: key, Blob: blob, Hash: h}
	rec.Changed = now
	s.trimVersions(rec)
	return nil
}

// trimVersions drops the oldest versions without a stage beyond
// maxVersions.
func (s *Service) trimVersions(rec *secretRecord) {
	if len(rec.Versions) <= maxVersions {
		return
	}
	var ids []string
	for id, v := range rec.Versions {
		if len(v.Stages) == 0 {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		switch va, vb := rec.Versions[a].Created, rec.Versions[b].Created; {
		case va < vb:
			return -1
		case va > vb:
			return 1
		}
		return strings.Compare(a, b)
	})
	for _, id := range ids {
		if len(rec.Versions) <= maxVersions {
			break
		}
		delete(rec.Versions, id)
	}
}

func encryptionFailure(err error) error {
	var ae *awsproto.Error
	if errors.As(err, &ae) && ae.Code.Service() == "kms" {
		if ae.Code == awsproto.KMSNotFound {
			return awsproto.Errorf(awsproto.SMResourceNotFound, "Secrets Manager can't find the specified KMS key: %s", ae.Message)
		}
		return awsproto.Errorf(awsproto.SMEncryptionFailure, "Secrets Manager can't encrypt the protected secret text using the provided KMS key. %s: %s", ae.Code.Name(), ae.Message)
	}
	return awsproto.Internal(err)
}

func (s *Service) createSecret(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		Name               string  `json:"Name"`
		ClientRequestToken string  `json:"ClientRequestToken"`
		Description        string  `json:"Description"`
		KmsKeyID           string  `json:"KmsKeyId"`
		SecretBinary       []byte  `json:"SecretBinary"`
		SecretString       *string `json:"SecretString"`
		Tags               []tag   `json:"Tags"`
		AddReplicaRegions  []any   `json:"AddReplicaRegions"`
		Type               string  `json:"Type"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	switch {
	case in.Name == "":
		return nil, invalidParam("You must provide a Name.")
	case len(in.Name) > 512 || !namePattern.MatchString(in.Name):
		return nil, invalidParam("Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	case len(in.Description) > 2048:
		return nil, invalidParam("Description must be at most 2048 characters long.")
	case len(in.AddReplicaRegions) > 0:
		return nil, awsproto.Errorf(awsproto.SMInvalidRequest, "Replica regions are not supported.")
	case len(in.Tags) > 50:
		return nil, invalidParam("You can attach at most 50 tags to a secret.")
	}
	v, err := checkValue(in.SecretString, in.SecretBinary)
	if err != nil {
		return nil, err
	}
	vid, err := checkToken(in.ClientRequestToken)
	if err != nil {
		return nil, err
	}
	s.vmu.RLock()
	existing := s.secrets[in.Name]
	s.vmu.RUnlock()
	arn := s.newARN(in.Name)
	if existing != nil && !existing.gone {
		arn = existing.rec.ARN
	}
	if err := s.authorize(r, "CreateSecret", arn, in.Tags); err != nil {
		return nil, err
	}
	if existing != nil && !existing.gone {
		if existing.rec.Deleted != 0 {
			return nil, awsproto.Errorf(awsproto.SMInvalidRequest, "You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		// A retried CreateSecret with the same token is answered as
		// the first was.
		if ov, ok := existing.rec.Versions[vid]; ok && in.ClientRequestToken != "" && v != nil && ov.Hash == valueHash(arn, v) {
			return map[string]any{"ARN": arn, "Name": in.Name, "VersionId": vid}, nil
		}
		return nil, awsproto.Errorf(awsproto.SMResourceExists, "The operation failed because the secret %s already exists.", in.Name)
	}
	now := epoch(s.cfg.Now())
	rec := secretRecord{Name: in.Name, ARN: arn, Description: in.Description, KmsKeyID: in.KmsKeyID, Created: now, Changed: now, Tags: in.Tags}
	if v != nil {
		if err := s.addVersion(ctx, &rec, vid, v, nil); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := secretKey(in.Name)
	rev, err := s.cfg.KV.Create(ctx, k, b)
	if errors.Is(err, store.ErrExists) {
		return nil, awsproto.Errorf(awsproto.SMResourceExists, "The operation failed because the secret %s already exists.", in.Name)
	}
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	s.apply(store.Entry{Key: k, Value: b, Revision: rev})
	out := map[string]any{"ARN": arn, "Name": in.Name}
	if v != nil {
		out["VersionId"] = vid
	}
	return out, nil
}

// change authorizes op on the secret id names and changes its record
// with fn, with compare-and-set; fn sees the stored record.
func (s *Service) change(ctx context.Context, r *http.Request, id, op string, fn func(*secretRecord) error) (secretRecord, error) {
	e, err := s.find(id)
	if err != nil {
		return secretRecord{}, err
	}
	if err := s.authorize(r, op, e.rec.ARN, e.rec.Tags); err != nil {
		return secretRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := secretKey(e.rec.Name)
	for range 5 {
		se, err := s.cfg.KV.Get(ctx, k)
		if errors.Is(err, store.ErrNotFound) {
			return secretRecord{}, notFound()
		}
		if err != nil {
			return secretRecord{}, awsproto.Internal(err)
		}
		var rec secretRecord
		if err := json.Unmarshal(se.Value, &rec); err != nil {
			return secretRecord{}, awsproto.Internal(err)
		}
		if err := fn(&rec); err != nil {
			return secretRecord{}, err
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return secretRecord{}, awsproto.Internal(err)
		}
		rev, err := s.cfg.KV.Update(ctx, k, b, se.Revision)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return secretRecord{}, awsproto.Internal(err)
		}
		s.apply(store.Entry{Key: k, Value: b, Revision: rev})
		return rec, nil
	}
	return secretRecord{}, awsproto.Errorf(awsproto.SMInternalServiceError, "The secret is being modified concurrently; retry the request.")
}

func (s *Service) getSecretValue(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		SecretID     string `json:"SecretId"`
		VersionID    string `json:"VersionId"`
		VersionStage string `json:"VersionStage"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	e, err := s.find(in.SecretID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "GetSecretValue", e.rec.ARN, e.rec.Tags); err != nil {
		return nil, err
	}
	if e.rec.Deleted != 0 {
		return nil, markedForDeletion()
	}
	vid, v := pickVersion(&e.rec, in.VersionID, in.VersionStage)
	if v == nil {
		if in.VersionID != "" {
			return nil, awsproto.Errorf(awsproto.SMResourceNotFound, "Secrets Manager can't find the specified secret value for VersionId: %s", in.VersionID)
		}
		stage := in.VersionStage
		if stage == "" {
			stage = stageCurrent
		}
		return nil, awsproto.Errorf(awsproto.SMResourceNotFound, "Secrets Manager can't find the specified secret value for staging label: %s", stage)
	}
	plain, err := s.cfg.Keys.Open(ctx, v.Blob, map[string]string{"SecretARN": e.rec.ARN, "SecretVersionId": vid})
	if err != nil {
		var ae *awsproto.Error
		if errors.As(err, &ae) && ae.Code.Service() == "kms" {
			return nil, awsproto.Errorf(awsproto.SMDecryptionFailure, "Secrets Manager can't decrypt the protected secret text using the provided KMS key. %s: %s", ae.Code.Name(), ae.Message)
		}
		return nil, awsproto.Internal(err)
	}
	var val value
	if err := json.Unmarshal(plain, &val); err != nil {
		return nil, awsproto.Internal(err)
	}
	out := map[string]any{"ARN": e.rec.ARN, "Name": e.rec.Name, "VersionId": vid, "VersionStages": v.Stages, "CreatedDate": v.Created}
	if val.S != nil {
		out["SecretString"] = *val.S
	} else {
		out["SecretBinary"] = val.B
	}
	s.touch(ctx, e.rec.Name)
	return out, nil
}

// touch records the day a secret was last read (LastAccessedDate, which
// AWS keeps to the day); a failure is only logged.
func (s *Service) touch(ctx context.Context, name string) {
	day := s.cfg.Now().UTC().Truncate(24 * time.Hour)
	s.vmu.RLock()
	e := s.secrets[name]
	s.vmu.RUnlock()
	if e == nil || e.gone || e.rec.Accessed >= epoch(day) {
		return
	}
	if _, err := s.change(ctx, nil, name, "", func(rec *secretRecord) error {
		rec.Accessed = epoch(day)
		return nil
	}); err != nil {
		s.log.Warn("secretsmanager: recording LastAccessedDate", "secret", name, "error", err)
	}
}

func pickVersion(rec *secretRecord, vid, stage string) (string, *version) {
	if vid != "" {
		v := rec.Versions[vid]
		if v == nil || stage != "" && !slices.Contains(v.Stages, stage) {
			return "", nil
		}
		return vid, v
	}
	if stage == "" {
		stage = stageCurrent
	}
	for id, v := range rec.Versions {
		if slices.Contains(v.Stages, stage) {
			return id, v
		}
	}
	return "", nil
}

func (s *Service) putSecretValue(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		SecretID           string   `json:"SecretId"`
		ClientRequestToken string   `json:"ClientRequestToken"`
		SecretBinary       []byte   `json:"SecretBinary"`
		SecretString       *string  `json:"SecretString"`
		VersionStages      []string `json:"VersionStages"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	v, err := checkValue(in.SecretString, in.SecretBinary)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, invalidParam("You must provide either SecretString or SecretBinary.")
	}
	vid, err := checkToken(in.ClientRequestToken)
	if err != nil {
		return nil, err
	}
	rec, err := s.change(ctx, r, in.SecretID, "PutSecretValue", func(rec *secretRecord) error {
		if rec.Deleted != 0 {
			return markedForDeletion()
		}
		return s.addVersion(ctx, rec, vid, v, in.VersionStages)
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"ARN": rec.ARN, "Name": rec.Name, "VersionId": vid, "VersionStages": rec.Versions[vid].Stages}, nil
}

func (s *Service) updateSecret(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		SecretID           string  `json:"SecretId"`
		ClientRequestToken string  `json:"ClientRequestToken"`
		Description        *string `json:"Description"`
		KmsKeyID           *string `json:"KmsKeyId"`
		SecretBinary       []byte  `json:"SecretBinary"`
		SecretString       *string `json:"SecretString"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	v, err := checkValue(in.SecretString, in.SecretBinary)
	if err != nil {
		return nil, err
	}
	vid, err := checkToken(in.ClientRequestToken)
	if err != nil {
		return nil, err
	}
	if in.Description != nil && len(*in.Description) > 2048 {
		return nil, invalidParam("Description must be at most 2048 characters long.")
	}
	rec, err := s.change(ctx, r, in.SecretID, "UpdateSecret", func(rec *secretRecord) error {
		if rec.Deleted != 0 {
			return markedForDeletion()
		}
		if in.Description != nil {
			rec.Description = *in.Description
		}
		if in.KmsKeyID != nil {
			rec.KmsKeyID = *in.KmsKeyID
		}
		rec.Changed = epoch(s.cfg.Now())
		if v != nil {
			return s.addVersion(ctx, rec, vid, v, nil)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]any{"ARN": rec.ARN, "Name": rec.Name}
	if v != nil {
		out["VersionId"] = vid
	}
	return out, nil
}

// description is DescribeSecret's answer, and a ListSecrets entry.
func describe(rec *secretRecord, withVersions bool) map[string]any {
	out := map[string]any{"ARN": rec.ARN, "Name": rec.Name, "CreatedDate": rec.Created, "LastChangedDate": rec.Changed, "RotationEnabled": false}
	if rec.Description != "" {
		out["Description"] = rec.Description
	}
	if rec.KmsKeyID != "" {
		out["KmsKeyId"] = rec.KmsKeyID
	}
	if rec.Accessed != 0 {
		out["LastAccessedDate"] = rec.Accessed
	}
	if rec.Deleted != 0 {
		out["DeletedDate"] = rec.Deleted
	}
	if len(rec.Tags) > 0 {
		out["Tags"] = rec.Tags
	}
	stages := map[string][]string{}
	for id, v := range rec.Versions {
		if len(v.Stages) > 0 || withVersions {
			stages[id] = v.Stages
		}
	}
	if withVersions {
		out["VersionIdsToStages"] = stages
	} else {
		out["SecretVersionsToStages"] = stages
	}
	return out
}

func (s *Service) describeSecret(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		SecretID string `json:"SecretId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	e, err := s.find(in.SecretID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(r, "DescribeSecret", e.rec.ARN, e.rec.Tags); err != nil {
		return nil, err
	}
	return describe(&e.rec, true), nil
}

func (s *Service) listSecrets(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		IncludePlannedDeletion bool `json:"IncludePlannedDeletion"`
		MaxResults             *int `json:"MaxResults"`
		NextToken              string
		Filters                []struct {
			Key    string   `json:"Key"`
			Values []string `json:"Values"`
		} `json:"Filters"`
		SortOrder string `json:"SortOrder"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := s.authorize(r, "ListSecrets", "*", nil); err != nil {
		return nil, err
	}
	limit := 100
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 100 {
			return nil, invalidParam("MaxResults must be between 1 and 100.")
		}
		limit = *in.MaxResults
	}
	for _, f := range in.Filters {
		switch f.Key {
		case "name", "description", "tag-key", "tag-value", "all":
		default:
			return nil, invalidParam("Invalid filter key: %s", f.Key)
		}
	}
	s.vmu.RLock()
	var recs []secretRecord
	for _, e := range s.secrets {
		if e.gone || e.rec.Deleted != 0 && !in.IncludePlannedDeletion || !matches(&e.rec, in.Filters) {
			continue
		}
		recs = append(recs, e.rec)
	}
	s.vmu.RUnlock()
	slices.SortFunc(recs, func(a, b secretRecord) int { return strings.Compare(a.Name, b.Name) })
	if in.SortOrder == "desc" {
		slices.Reverse(recs)
	}
	from := 0
	if in.NextToken != "" {
		i := slices.IndexFunc(recs, func(rec secretRecord) bool { return rec.Name == in.NextToken })
		if i < 0 {
			return nil, awsproto.Errorf(awsproto.SMInvalidNextToken, "The NextToken value is invalid.")
		}
		from = i + 1
	}
	to := min(from+limit, len(recs))
	list := make([]map[string]any, 0, to-from)
	for i := from; i < to; i++ {
		list = append(list, describe(&recs[i], false))
	}
	out := map[string]any{"SecretList": list}
	if to < len(recs) {
		out["NextToken"] = recs[to-1].Name
	}
	return out, nil
}

// matches applies ListSecrets's filters: every filter must match, a
// filter matching when one of its values is a prefix of the field (a
// value starting with '!' negates).
func matches(rec *secretRecord, fs []struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}) bool {
	for _, f := range fs {
		var fields []string
		switch f.Key {
		case "name":
			fields = []string{rec.Name}
		case "description":
			fields = []string{rec.Description}
		case "tag-key":
			for _, t := range rec.Tags {
				fields = append(fields, t.Key)
			}
		case "tag-value":
			for _, t := range rec.Tags {
				fields = append(fields, t.Value)
			}
		case "all":
			fields = []string{rec.Name, rec.Description}
			for _, t := range rec.Tags {
				fields = append(fields, t.Key, t.Value)
			}
		}
		ok := false
		for _, v := range f.Values {
			neg := strings.HasPrefix(v, "!")
			v = strings.TrimPrefix(v, "!")
			hit := slices.ContainsFunc(fields, func(fl string) bool { return strings.HasPrefix(fl, v) })
			if hit != neg {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (s *Service) deleteSecret(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		SecretID                   string `json:"SecretId"`
		RecoveryWindowInDays       *int   `json:"RecoveryWindowInDays"`
		ForceDeleteWithoutRecovery bool   `json:"ForceDeleteWithoutRecovery"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.RecoveryWindowInDays != nil && in.ForceDeleteWithoutRecovery {
		return nil, invalidParam("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	days := 30
	if in.RecoveryWindowInDays != nil {
		days = *in.RecoveryWindowInDays
		if days < 7 || days > 30 {
			return nil, invalidParam("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
		}
	}
	now := s.cfg.Now()
	when := now.Add(time.Duration(days) * 24 * time.Hour)
	if in.ForceDeleteWithoutRecovery {
		when = now
	}
	rec, err := s.change(ctx, r, in.SecretID, "DeleteSecret", func(rec *secretRecord) error {
		if rec.Deleted != 0 && !in.ForceDeleteWithoutRecovery {
			return markedForDeletion()
		}
		rec.Deleted = epoch(when)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if in.ForceDeleteWithoutRecovery {
		if err := s.purge(ctx, rec.Name, epoch(now)); err != nil {
			return nil, awsproto.Internal(err)
		}
	}
	return map[string]any{"ARN": rec.ARN, "Name": rec.Name, "DeletionDate": rec.Deleted}, nil
}

func (s *Service) restoreSecret(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		SecretID string `json:"SecretId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	rec, err := s.change(ctx, r, in.SecretID, "RestoreSecret", func(rec *secretRecord) error {
		rec.Deleted = 0
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"ARN": rec.ARN, "Name": rec.Name}, nil
}

func (s *Service) tagResource(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		SecretID string `json:"SecretId"`
		Tags     []tag  `json:"Tags"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	_, err := s.change(ctx, r, in.SecretID, "TagResource", func(rec *secretRecord) error {
		for _, t := range in.Tags {
			i := slices.IndexFunc(rec.Tags, func(o tag) bool { return o.Key == t.Key })
			if i >= 0 {
				rec.Tags[i] = t
			} else {
				rec.Tags = append(rec.Tags, t)
			}
		}
		if len(rec.Tags) > 50 {
			return invalidParam("You can attach at most 50 tags to a secret.")
		}
		return nil
	})
	return nil, err
}

func (s *Service) untagResource(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		SecretID string   `json:"SecretId"`
		TagKeys  []string `json:"TagKeys"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	_, err := s.change(ctx, r, in.SecretID, "UntagResource", func(rec *secretRecord) error {
		rec.Tags = slices.DeleteFunc(rec.Tags, func(t tag) bool { return slices.Contains(in.TagKeys, t.Key) })
		return nil
	})
	return nil, err
}
