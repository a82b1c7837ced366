package kms_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/edge"
	"github.com/kumo-run/kumo/internal/iam/authz"
	"github.com/kumo-run/kumo/internal/iam/token"
	"github.com/kumo-run/kumo/internal/natsd"
	kumokms "github.com/kumo-run/kumo/internal/services/kms"
	"github.com/kumo-run/kumo/internal/store"
)

const (
	account    = "000000000000"
	rootKey    = "AKIAKUMOKMSTEST00001"
	rootSecret = "kumo-kms-test-secret-000000000000000000000"
)

// clock is the service's clock, moved by tests.
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
	dir      string
	mu       sync.Mutex
	ns       *natsd.Server
	svc      *kumokms.Service
	master   *kumokms.MasterKey
	previous []*kumokms.MasterKey
	clk      *clock
	cl       *kms.Client
	srv      *httptest.Server
	auth     *authz.Static
	az       *authz.Authorizer
}

// newHarness starts NATS, opens the service on the kumo-kms bucket and
// serves it through an edge that verifies SigV4.
func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{dir: t.TempDir(), auth: &authz.Static{}, clk: &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
	h.az = authz.New(authz.Config{Directory: h.auth, Region: "us-east-1"})
	mk, err := kumokms.LoadMasterKey("", "", h.dir)
	if err != nil {
		t.Fatal(err)
	}
	h.master = mk
	h.start(t)
	t.Cleanup(h.stop)
	is, err := token.New(bytes.Repeat([]byte{7}, token.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	creds := &token.Store{Issuer: is, RootKeyID: rootKey, RootSecret: rootSecret, Root: token.Root("aws", account), Keys: h.auth}
	h.srv = httptest.NewServer(edge.New(edge.Config{
		Verifier: &awsproto.Verifier{Region: "us-east-1", Credentials: creds},
		Routes: []edge.Route{{Name: "kms", Match: []edge.Matcher{{Service: kumokms.SigningName}}, Scope: kumokms.SigningName,
			Handler: h, Errors: kumokms.Errors, MaxBody: func(*http.Request) int64 { return kumokms.MaxRequestBody }}},
	}))
	t.Cleanup(h.srv.Close)
	h.cl = h.client(rootKey, rootSecret)
	return h
}

func (h *harness) client(key, secret string) *kms.Client {
	return kms.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient:       h.srv.Client(),
		RetryMaxAttempts: 1,
	}, func(o *kms.Options) { o.BaseEndpoint = aws.String(h.srv.URL) })
}

func (h *harness) start(t testing.TB) {
	t.Helper()
	svc, ns, err := h.open()
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.ns, h.svc = ns, svc
	h.mu.Unlock()
}

func (h *harness) open() (*kumokms.Service, *natsd.Server, error) {
	ns, err := natsd.Start(natsd.Config{DataDir: h.dir, Sync: natsd.SyncAlways})
	if err != nil {
		return nil, nil, err
	}
	nc, err := ns.Connect("kms-test")
	if err != nil {
		ns.Shutdown()
		return nil, nil, err
	}
	st, err := store.NewJetStream(nc)
	if err != nil {
		ns.Shutdown()
		return nil, nil, err
	}
	kv, err := st.KV(context.Background(), natsd.KMSBucket)
	if err != nil {
		ns.Shutdown()
		return nil, nil, err
	}
	svc, err := kumokms.Open(context.Background(), kumokms.Config{KV: kv, Master: h.master, Previous: h.previous,
		Region: "us-east-1", Account: account, Authorizer: h.az, Now: h.clk.now, SweepInterval: -1})
	if err != nil {
		ns.Shutdown()
		return nil, nil, err
	}
	return svc, ns, nil
}

func (h *harness) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.svc != nil {
		h.svc.Close()
		h.ns.Shutdown()
		h.svc = nil
	}
}

func (h *harness) restart(t testing.TB) {
	h.stop()
	h.start(t)
}

func (h *harness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	svc := h.svc
	h.mu.Unlock()
	svc.ServeHTTP(w, r)
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

func (h *harness) createKey(t *testing.T, in *kms.CreateKeyInput) *types.KeyMetadata {
	t.Helper()
	if in == nil {
		in = &kms.CreateKeyInput{}
	}
	out, err := h.cl.CreateKey(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return out.KeyMetadata
}

// TestEncryptDecrypt: a symmetric key's blob decrypts without a KeyId
// and only with its encryption context; data keys, ReEncrypt and
// GenerateRandom.
func TestEncryptDecrypt(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	md := h.createKey(t, &kms.CreateKeyInput{Description: aws.String("test key")})
	if md.KeySpec != types.KeySpecSymmetricDefault || md.KeyUsage != types.KeyUsageTypeEncryptDecrypt || md.KeyState != types.KeyStateEnabled ||
		!md.Enabled || aws.ToString(md.Arn) != "arn:aws:kms:us-east-1:000000000000:key/"+aws.ToString(md.KeyId) ||
		md.KeyManager != types.KeyManagerTypeCustomer || len(md.EncryptionAlgorithms) != 1 {
		t.Fatalf("metadata %+v", md)
	}
	ec := map[string]string{"purpose": "test"}
	enc, err := h.cl.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("hello"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(enc.KeyId) != aws.ToString(md.Arn) || bytes.Contains(enc.CiphertextBlob, []byte("hello")) {
		t.Fatalf("Encrypt: %+v", enc)
	}
	dec, err := h.cl.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	if string(dec.Plaintext) != "hello" || aws.ToString(dec.KeyId) != aws.ToString(md.Arn) || dec.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Fatalf("Decrypt: %+v", dec)
	}
	_, err = h.cl.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"purpose": "other"}})
	wantCode(t, err, "InvalidCiphertextException")
	_, err = h.cl.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantCode(t, err, "InvalidCiphertextException")
	_, err = h.cl.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: []byte("not a blob at all, not even close to one")})
	wantCode(t, err, "InvalidCiphertextException")
	other := h.createKey(t, nil)
	_, err = h.cl.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyId: other.KeyId})
	wantCode(t, err, "IncorrectKeyException")
	_, err = h.cl.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: make([]byte, 4097)})
	wantCode(t, err, "ValidationException")
	_, err = h.cl.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("00000000-0000-4000-8000-000000000000"), Plaintext: []byte("x")})
	wantCode(t, err, "NotFoundException")

	// ReEncrypt moves a blob to another key and context.
	re, err := h.cl.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec,
		DestinationKeyId: other.KeyId, DestinationEncryptionContext: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(re.SourceKeyId) != aws.ToString(md.Arn) || aws.ToString(re.KeyId) != aws.ToString(other.Arn) {
		t.Fatalf("ReEncrypt: %+v", re)
	}
	dec, err = h.cl.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: map[string]string{"k": "v"}})
	if err != nil || string(dec.Plaintext) != "hello" || aws.ToString(dec.KeyId) != aws.ToString(other.Arn) {
		t.Fatalf("Decrypt of ReEncrypt's blob: %+v %v", dec, err)
	}

	// Data keys.
	dk, err := h.cl.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId, KeySpec: types.DataKeySpecAes256})
	if err != nil || len(dk.Plaintext) != 32 {
		t.Fatalf("GenerateDataKey: %+v %v", dk, err)
	}
	dec, err = h.cl.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
	if err != nil || !bytes.Equal(dec.Plaintext, dk.Plaintext) {
		t.Fatalf("Decrypt of a data key: %v", err)
	}
	dk2, err := h.cl.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId, NumberOfBytes: aws.Int32(7)})
	if err != nil || len(dk2.Plaintext) != 7 {
		t.Fatalf("GenerateDataKey NumberOfBytes 7: %v", err)
	}
	_, err = h.cl.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId})
	wantCode(t, err, "ValidationException")
	_, err = h.cl.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId, NumberOfBytes: aws.Int32(1025)})
	wantCode(t, err, "ValidationException")
	wp, err := h.cl.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: md.KeyId, KeySpec: types.DataKeySpecAes128})
	if err != nil {
		t.Fatal(err)
	}
	dec, err = h.cl.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wp.CiphertextBlob})
	if err != nil || len(dec.Plaintext) != 16 {
		t.Fatalf("Decrypt of a data key without plaintext: %v", err)
	}
	rnd, err := h.cl.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(64)})
	if err != nil || len(rnd.Plaintext) != 64 || bytes.Equal(rnd.Plaintext, make([]byte, 64)) {
		t.Fatalf("GenerateRandom: %v", err)
	}
	_, err = h.cl.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(1025)})
	wantCode(t, err, "ValidationException")
}

// TestAliasesAndLifecycle: aliases name keys anywhere a KeyId goes;
// disabled keys and keys pending deletion refuse cryptography; the
// sweeper deletes a key at the end of its waiting period, with its
// aliases.
func TestAliasesAndLifecycle(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	md := h.createKey(t, nil)
	if _, err := h.cl.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, err := h.cl.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: md.KeyId})
	wantCode(t, err, "AlreadyExistsException")
	_, err = h.cl.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/aws/mine"), TargetKeyId: md.KeyId})
	wantCode(t, err, "NotAuthorizedException")
	_, err = h.cl.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("app2"), TargetKeyId: md.KeyId})
	wantCode(t, err, "ValidationException")
	for _, id := range []string{"alias/app", "arn:aws:kms:us-east-1:000000000000:alias/app", aws.ToString(md.Arn)} {
		d, err := h.cl.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
		if err != nil || aws.ToString(d.KeyMetadata.KeyId) != aws.ToString(md.KeyId) {
			t.Fatalf("DescribeKey %s: %v", id, err)
		}
	}
	_, err = h.cl.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/nope")})
	wantCode(t, err, "NotFoundException")
	enc, err := h.cl.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	second := h.createKey(t, nil)
	if _, err := h.cl.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: second.KeyId}); err != nil {
		t.Fatal(err)
	}
	la, err := h.cl.ListAliases(ctx, &kms.ListAliasesInput{KeyId: second.KeyId})
	if err != nil || len(la.Aliases) != 1 || aws.ToString(la.Aliases[0].AliasName) != "alias/app" ||
		aws.ToString(la.Aliases[0].AliasArn) != "arn:aws:kms:us-east-1:000000000000:alias/app" {
		t.Fatalf("ListAliases: %+v %v", la, err)
	}
	lk, err := h.cl.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(1)})
	if err != nil || len(lk.Keys) != 1 || !lk.Truncated {
		t.Fatalf("ListKeys page 1: %+v %v", lk, err)
	}
	lk2, err := h.cl.ListKeys(ctx, &kms.ListKeysInput{Marker: lk.NextMarker})
	if err != nil || len(lk2.Keys) != 1 || lk2.Truncated || aws.ToString(lk2.Keys[0].KeyId) == aws.ToString(lk.Keys[0].KeyId) {
		t.Fatalf("ListKeys page 2: %+v %v", lk2, err)
	}

	// Disabled: no cryptography, DescribeKey still answers.
	if _, err := h.cl.DisableKey(ctx, &kms.DisableKeyInput{KeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("x")})
	wantCode(t, err, "DisabledException")
	_, err = h.cl.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantCode(t, err, "DisabledException")
	if _, err := h.cl.EnableKey(ctx, &kms.EnableKeyInput{KeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Fatal(err)
	}

	// Deletion: the window is 7–30 days.
	for _, days := range []int32{6, 31} {
		_, err = h.cl.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: md.KeyId, PendingWindowInDays: aws.Int32(days)})
		wantCode(t, err, "ValidationException")
	}
	sd, err := h.cl.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: md.KeyId, PendingWindowInDays: aws.Int32(7)})
	if err != nil || sd.KeyState != types.KeyStatePendingDeletion || aws.ToInt32(sd.PendingWindowInDays) != 7 ||
		!sd.DeletionDate.Equal(h.clk.now().Add(7*24*time.Hour)) {
		t.Fatalf("ScheduleKeyDeletion: %+v %v", sd, err)
	}
	_, err = h.cl.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantCode(t, err, "KMSInvalidStateException")
	if _, err := h.cl.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	d, _ := h.cl.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId})
	if d.KeyMetadata.KeyState != types.KeyStateDisabled {
		t.Fatalf("after CancelKeyDeletion: %s", d.KeyMetadata.KeyState)
	}
	if _, err := h.cl.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: md.KeyId, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/doomed"), TargetKeyId: md.KeyId}); err == nil {
		t.Fatal("CreateAlias to a key pending deletion")
	}
	if _, err := h.cl.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: md.KeyId}); err == nil {
		t.Fatal("UpdateAlias to a key pending deletion")
	}
	h.clk.add(6 * 24 * time.Hour)
	if err := h.svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId}); err != nil {
		t.Fatalf("deleted before its window ended: %v", err)
	}
	h.clk.add(24*time.Hour + time.Second)
	if err := h.svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = h.cl.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId})
	wantCode(t, err, "NotFoundException")
	h.restart(t)
	_, err = h.cl.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId})
	wantCode(t, err, "NotFoundException")
	if _, err := h.cl.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/app")}); err != nil {
		t.Fatalf("the other key's alias after the restart: %v", err)
	}
}

// TestRotation: material rotated on demand and by the sweeper; blobs of
// every earlier version still decrypt.
func TestRotation(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	md := h.createKey(t, nil)
	old, err := h.cl.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("v1")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.cl.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: md.KeyId}); err != nil {
		t.Fatal(err)
	}
	cur, err := h.cl.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("v2")})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(old.CiphertextBlob[:42], cur.CiphertextBlob[:42]) {
		t.Fatal("the blob after rotation names the same material version")
	}
	st, err := h.cl.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: md.KeyId})
	if err != nil || st.KeyRotationEnabled {
		t.Fatalf("GetKeyRotationStatus: %+v %v", st, err)
	}
	_, err = h.cl.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: md.KeyId, RotationPeriodInDays: aws.Int32(30)})
	wantCode(t, err, "ValidationException")
	if _, err := h.cl.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: md.KeyId, RotationPeriodInDays: aws.Int32(90)}); err != nil {
		t.Fatal(err)
	}
	st, err = h.cl.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: md.KeyId})
	if err != nil || !st.KeyRotationEnabled || aws.ToInt32(st.RotationPeriodInDays) != 90 || !st.NextRotationDate.Equal(h.clk.now().AddDate(0, 0, 90)) {
		t.Fatalf("GetKeyRotationStatus: %+v %v", st, err)
	}
	h.clk.add(91 * 24 * time.Hour)
	if err := h.svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	lr, err := h.cl.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: md.KeyId})
	if err != nil || len(lr.Rotations) != 2 || lr.Rotations[0].RotationType != types.RotationTypeOnDemand || lr.Rotations[1].RotationType != types.RotationTypeAutomatic {
		t.Fatalf("ListKeyRotations: %+v %v", lr, err)
	}
	h.restart(t)
	for _, b := range [][]byte{old.CiphertextBlob, cur.CiphertextBlob} {
		if _, err := h.cl.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: b}); err != nil {
			t.Fatalf("Decrypt of an earlier version's blob: %v", err)
		}
	}
	rsaKey := h.createKey(t, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeSignVerify})
	_, err = h.cl.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: rsaKey.KeyId})
	wantCode(t, err, "UnsupportedOperationException")
}

// TestSignVerifyMac: signatures verify with the public key GetPublicKey
// gives; MACs verify; a key is refused for another usage.
func TestSignVerifyMac(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	msg := []byte("message to sign")
	digest := sha256.Sum256(msg)
	for _, tc := range []struct {
		spec types.KeySpec
		alg  types.SigningAlgorithmSpec
	}{
		{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPssSha256},
		{types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256},
		{types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256},
	} {
		md := h.createKey(t, &kms.CreateKeyInput{KeySpec: tc.spec, KeyUsage: types.KeyUsageTypeSignVerify})
		sig, err := h.cl.Sign(ctx, &kms.SignInput{KeyId: md.KeyId, Message: msg, SigningAlgorithm: tc.alg})
		if err != nil {
			t.Fatalf("%s %s: %v", tc.spec, tc.alg, err)
		}
		pk, err := h.cl.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: md.KeyId})
		if err != nil {
			t.Fatal(err)
		}
		pub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		var ok bool
		switch p := pub.(type) {
		case *rsa.PublicKey:
			if tc.alg == types.SigningAlgorithmSpecRsassaPssSha256 {
				ok = rsa.VerifyPSS(p, crypto.SHA256, digest[:], sig.Signature, nil) == nil
			} else {
				ok = rsa.VerifyPKCS1v15(p, crypto.SHA256, digest[:], sig.Signature) == nil
			}
		case *ecdsa.PublicKey:
			ok = ecdsa.VerifyASN1(p, digest[:], sig.Signature)
		}
		if !ok {
			t.Fatalf("%s %s: the signature does not verify with the public key", tc.spec, tc.alg)
		}
		v, err := h.cl.Verify(ctx, &kms.VerifyInput{KeyId: md.KeyId, Message: digest[:], MessageType: types.MessageTypeDigest, Signature: sig.Signature, SigningAlgorithm: tc.alg})
		if err != nil || !v.SignatureValid {
			t.Fatalf("Verify of a digest: %v", err)
		}
		bad := bytes.Clone(sig.Signature)
		bad[len(bad)/2] ^= 1
		_, err = h.cl.Verify(ctx, &kms.VerifyInput{KeyId: md.KeyId, Message: msg, Signature: bad, SigningAlgorithm: tc.alg})
		wantCode(t, err, "KMSInvalidSignatureException")
		_, err = h.cl.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: msg})
		wantCode(t, err, "InvalidKeyUsageException")
	}
	for _, spec := range []types.KeySpec{types.KeySpecEccNistP256, types.KeySpecHmac256} {
		_, err := h.cl.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec})
		wantCode(t, err, "ValidationException")
	}
	_, err := h.cl.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
	wantCode(t, err, "ValidationException")

	// RSA encryption.
	rk := h.createKey(t, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
	enc, err := h.cl.Encrypt(ctx, &kms.EncryptInput{KeyId: rk.KeyId, Plaintext: []byte("rsa"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := h.cl.Decrypt(ctx, &kms.DecryptInput{KeyId: rk.KeyId, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	if err != nil || string(dec.Plaintext) != "rsa" {
		t.Fatalf("RSA Decrypt: %v", err)
	}

	// HMAC.
	hk := h.createKey(t, &kms.CreateKeyInput{KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac})
	if len(hk.MacAlgorithms) != 1 || hk.MacAlgorithms[0] != types.MacAlgorithmSpecHmacSha256 {
		t.Fatalf("HMAC key metadata %+v", hk)
	}
	m, err := h.cl.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: hk.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	if err != nil || len(m.Mac) != 32 {
		t.Fatalf("GenerateMac: %v", err)
	}
	vm, err := h.cl.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: hk.KeyId, Message: msg, Mac: m.Mac, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	if err != nil || !vm.MacValid {
		t.Fatalf("VerifyMac: %v", err)
	}
	_, err = h.cl.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: hk.KeyId, Message: []byte("other"), Mac: m.Mac, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
	wantCode(t, err, "KMSInvalidMacException")
	_, err = h.cl.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: hk.KeyId, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha512})
	wantCode(t, err, "InvalidKeyUsageException")
	_, err = h.cl.Sign(ctx, &kms.SignInput{KeyId: hk.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	wantCode(t, err, "InvalidKeyUsageException")
}

// TestMasterKey: key material is stored wrapped; a node with another
// master key cannot use it (KeyUnavailableException); starting with the
// new key and the old one as previous wraps everything again, after
// which the old key is no longer needed. The master key file is 0600.
func TestMasterKey(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	fi, err := os.Stat(filepath.Join(h.dir, kumokms.MasterKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v %v", fi, err)
	}
	md := h.createKey(t, nil)
	enc, err := h.cl.Encrypt(ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("kept")})
	if err != nil {
		t.Fatal(err)
	}
	oldMaster := h.master
	newRaw := bytes.Repeat([]byte{0x42}, 32)
	newMaster, err := kumokms.NewMasterKey(newRaw)
	if err != nil {
		t.Fatal(err)
	}
	h.stop()
	h.master = newMaster
	h.start(t)
	_, err = h.cl.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantCode(t, err, "KeyUnavailableException")
	h.stop()
	h.previous = []*kumokms.MasterKey{oldMaster}
	h.start(t)
	if _, err := h.cl.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Fatalf("Decrypt with the previous master key given: %v", err)
	}
	h.stop()
	h.previous = nil
	h.start(t)
	dec, err := h.cl.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "kept" {
		t.Fatalf("Decrypt after the rewrap, without the old master key: %v", err)
	}
	// The new master key from a file, hex-encoded.
	path := filepath.Join(t.TempDir(), "master.hex")
	if err := os.WriteFile(path, []byte("4242424242424242424242424242424242424242424242424242424242424242\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile, err := kumokms.LoadMasterKey(path, "", "")
	if err != nil || fromFile.ID() != newMaster.ID() {
		t.Fatalf("LoadMasterKey from a hex file: %v", err)
	}
	if _, err := kumokms.LoadMasterKey("", "c2hvcnQ=", ""); err == nil {
		t.Fatal("a short master key was accepted")
	}
}

// TestWireErrors: KMS's JSON 1.1 error shape.
func TestWireErrors(t *testing.T) {
	h := newHarness(t)
	h.az = nil
	h.restart(t)
	for _, tc := range []struct{ target, body, typ string }{
		{"TrentService.DescribeKey", `{"KeyId":"alias/none"}`, `"__type":"NotFoundException"`},
		{"TrentService.Frobnicate", `{}`, `"__type":"UnknownOperationException"`},
		{"TrentService.CreateKey", `{"KeySpec":`, `"__type":"SerializationException"`},
	} {
		rec := httptest.NewRecorder()
		req, _ := http.NewRequest("POST", "/", bytes.NewReader([]byte(tc.body)))
		req.Header.Set("X-Amz-Target", tc.target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		h.ServeHTTP(rec, req)
		if rec.Code != 400 || !bytes.Contains(rec.Body.Bytes(), []byte(tc.typ)) || rec.Header().Get("Content-Type") != "application/x-amz-json-1.1" {
			t.Errorf("%s: %d %s", tc.target, rec.Code, rec.Body)
		}
	}
}
