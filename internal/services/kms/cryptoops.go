package kms

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"net/http"
	"slices"
	"strings"

	"github.com/kumo-run/kumo/internal/awsproto"
)

// maxPlaintext is Encrypt's limit on plaintext (4 KiB).
const maxPlaintext = 4096

type encryptInput struct {
	KeyID               string            `json:"KeyId"`
	Plaintext           []byte            `json:"Plaintext"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	GrantTokens         []string          `json:"GrantTokens"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm"`
	DryRun              bool              `json:"DryRun"`
}

// forUsage refuses a key of another usage than want, for op.
func forUsage(k *key, want, op string) error {
	if k.rec.KeyUsage != want {
		return awsproto.Errorf(awsproto.KMSInvalidKeyUsage, "%s key usage is %s which is not valid for %s.", k.rec.Arn, k.rec.KeyUsage, op)
	}
	return nil
}

// encryptWith encrypts plaintext under k: an AES-GCM blob for a symmetric
// key, RSAES-OAEP for an RSA one.
func encryptWith(k *key, alg string, plaintext []byte, ec map[string]string) ([]byte, string, error) {
	enc, _, _ := k.algorithms()
	if alg == "" {
		alg = specSymmetric
	}
	if !slices.Contains(enc, alg) {
		return nil, "", awsproto.Errorf(awsproto.KMSInvalidKeyUsage, "Algorithm %s is incompatible with key spec %s.", alg, k.rec.KeySpec)
	}
	if alg == specSymmetric {
		b, err := sealBlob(k, plaintext, ec)
		if err != nil {
			return nil, "", awsproto.Internal(err)
		}
		return b, alg, nil
	}
	pub, ok := k.signer.Public().(*rsa.PublicKey)
	if !ok {
		return nil, "", awsproto.Internal(nil)
	}
	b, err := rsa.EncryptOAEP(newHash(hashOf(alg))(), rand.Reader, pub, plaintext, nil)
	if err != nil {
		return nil, "", awsproto.Errorf(awsproto.KMSValidation, "Plaintext is too long for %s with %s.", k.rec.KeySpec, alg)
	}
	return b, alg, nil
}

func checkPlaintext(p []byte) error {
	if len(p) == 0 {
		return validation("null", "plaintext", "Member must have length greater than or equal to 1")
	}
	if len(p) > maxPlaintext {
		return validation("[...]", "plaintext", "Member must have length less than or equal to 4096")
	}
	return nil
}

func (s *Service) encrypt(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in encryptInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkPlaintext(in.Plaintext); err != nil {
		return nil, err
	}
	k, err := s.resolve(in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, r, "kms:Encrypt", k, in.EncryptionContext); err != nil {
		return nil, err
	}
	if err := usable(k); err != nil {
		return nil, err
	}
	if err := forUsage(k, usageEncrypt, "Encrypt"); err != nil {
		return nil, err
	}
	blob, alg, err := encryptWith(k, in.EncryptionAlgorithm, in.Plaintext, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return map[string]any{"CiphertextBlob": blob, "KeyId": k.rec.Arn, "EncryptionAlgorithm": alg}, nil
}

// open finds the key of a ciphertext blob (or keyID, required for an
// asymmetric key's ciphertext) and decrypts it, authorizing action.
func (s *Service) open(ctx context.Context, r *http.Request, action, keyID, alg string, blob []byte, ec map[string]string) ([]byte, *key, string, error) {
	if len(blob) == 0 {
		return nil, nil, "", validation("null", "ciphertextBlob", "Member must have length greater than or equal to 1")
	}
	if len(blob) > 6144 {
		return nil, nil, "", validation("[...]", "ciphertextBlob", "Member must have length less than or equal to 6144")
	}
	if alg == "" {
		alg = specSymmetric
	}
	var k *key
	h, perr := parseBlob(blob)
	if alg == specSymmetric {
		if perr != nil {
			return nil, nil, "", awsproto.Errorf(awsproto.KMSInvalidCiphertext, "")
		}
		var err error
		if k, err = s.resolve(h.keyID); err != nil {
			return nil, nil, "", awsproto.Errorf(awsproto.KMSInvalidCiphertext, "")
		}
		if keyID != "" {
			named, err := s.resolve(keyID)
			if err != nil {
				return nil, nil, "", err
			}
			if named.rec.KeyID != k.rec.KeyID {
				return nil, nil, "", awsproto.Errorf(awsproto.KMSIncorrectKey, "The key ID in the request does not identify a CMK that can perform this operation.")
			}
		}
	} else {
		if keyID == "" {
			return nil, nil, "", awsproto.Errorf(awsproto.KMSValidation, "KeyId is required for asymmetric decryption.")
		}
		var err error
		if k, err = s.resolve(keyID); err != nil {
			return nil, nil, "", err
		}
	}
	if err := s.authorize(ctx, r, action, k, ec); err != nil {
		return nil, nil, "", err
	}
	if err := usable(k); err != nil {
		return nil, nil, "", err
	}
	if err := forUsage(k, usageEncrypt, "Decrypt"); err != nil {
		return nil, nil, "", err
	}
	enc, _, _ := k.algorithms()
	if !slices.Contains(enc, alg) {
		return nil, nil, "", awsproto.Errorf(awsproto.KMSIncorrectKey, "The key ID in the request does not identify a CMK that can perform this operation.")
	}
	if alg == specSymmetric {
		p, err := openBlob(k, h, ec)
		if err != nil {
			return nil, nil, "", awsproto.Errorf(awsproto.KMSInvalidCiphertext, "")
		}
		return p, k, alg, nil
	}
	p, err := rsa.DecryptOAEP(newHash(hashOf(alg))(), rand.Reader, k.signer.(*rsa.PrivateKey), blob, nil)
	if err != nil {
		return nil, nil, "", awsproto.Errorf(awsproto.KMSInvalidCiphertext, "")
	}
	return p, k, alg, nil
}

func (s *Service) decrypt(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		CiphertextBlob      []byte            `json:"CiphertextBlob"`
		EncryptionContext   map[string]string `json:"EncryptionContext"`
		GrantTokens         []string          `json:"GrantTokens"`
		KeyID               string            `json:"KeyId"`
		EncryptionAlgorithm string            `json:"EncryptionAlgorithm"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	p, k, alg, err := s.open(ctx, r, "kms:Decrypt", in.KeyID, in.EncryptionAlgorithm, in.CiphertextBlob, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return map[string]any{"KeyId": k.rec.Arn, "Plaintext": p, "EncryptionAlgorithm": alg}, nil
}

func (s *Service) reEncrypt(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		CiphertextBlob                 []byte            `json:"CiphertextBlob"`
		SourceEncryptionContext        map[string]string `json:"SourceEncryptionContext"`
		SourceKeyID                    string            `json:"SourceKeyId"`
		DestinationKeyID               string            `json:"DestinationKeyId"`
		DestinationEncryptionContext   map[string]string `json:"DestinationEncryptionContext"`
		SourceEncryptionAlgorithm      string            `json:"SourceEncryptionAlgorithm"`
		DestinationEncryptionAlgorithm string            `json:"DestinationEncryptionAlgorithm"`
		GrantTokens                    []string          `json:"GrantTokens"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	dst, err := s.resolve(in.DestinationKeyID)
	if err != nil {
		return nil, err
	}
	p, src, salg, err := s.open(ctx, r, "kms:ReEncryptFrom", in.SourceKeyID, in.SourceEncryptionAlgorithm, in.CiphertextBlob, in.SourceEncryptionContext)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, r, "kms:ReEncryptTo", dst, in.DestinationEncryptionContext); err != nil {
		return nil, err
	}
	if err := usable(dst); err != nil {
		return nil, err
	}
	if err := forUsage(dst, usageEncrypt, "ReEncrypt"); err != nil {
		return nil, err
	}
	blob, dalg, err := encryptWith(dst, in.DestinationEncryptionAlgorithm, p, in.DestinationEncryptionContext)
	if err != nil {
		return nil, err
	}
	return map[string]any{"CiphertextBlob": blob, "SourceKeyId": src.rec.Arn, "KeyId": dst.rec.Arn,
		"SourceEncryptionAlgorithm": salg, "DestinationEncryptionAlgorithm": dalg}, nil
}

type dataKeyInput struct {
	KeyID             string            `json:"KeyId"`
	EncryptionContext map[string]string `json:"EncryptionContext"`
	NumberOfBytes     *int              `json:"NumberOfBytes"`
	KeySpec           string            `json:"KeySpec"`
	GrantTokens       []string          `json:"GrantTokens"`
}

func (s *Service) dataKey(ctx context.Context, r *http.Request, body []byte, action string) ([]byte, map[string]any, error) {
	var in dataKeyInput
	if err := decode(body, &in); err != nil {
		return nil, nil, err
	}
	var n int
	switch {
	case in.NumberOfBytes != nil && in.KeySpec != "":
		return nil, nil, awsproto.Errorf(awsproto.KMSValidation, "Please specify either number of bytes or key spec.")
	case in.NumberOfBytes != nil:
		n = *in.NumberOfBytes
		if n < 1 || n > 1024 {
			return nil, nil, validation(n, "numberOfBytes", "Member must have value between 1 and 1024")
		}
	case in.KeySpec == "AES_256":
		n = 32
	case in.KeySpec == "AES_128":
		n = 16
	case in.KeySpec != "":
		return nil, nil, validation(in.KeySpec, "keySpec", "Member must satisfy enum value set: [AES_256, AES_128]")
	default:
		return nil, nil, awsproto.Errorf(awsproto.KMSValidation, "Please specify either number of bytes or key spec.")
	}
	k, err := s.resolve(in.KeyID)
	if err != nil {
		return nil, nil, err
	}
	if err := s.authorize(ctx, r, action, k, in.EncryptionContext); err != nil {
		return nil, nil, err
	}
	if err := usable(k); err != nil {
		return nil, nil, err
	}
	if k.rec.KeySpec != specSymmetric {
		return nil, nil, awsproto.Errorf(awsproto.KMSInvalidKeyUsage, "%s key usage is %s which is not valid for %s.", k.rec.Arn, k.rec.KeySpec, strings.TrimPrefix(action, "kms:"))
	}
	p := random(n)
	blob, err := sealBlob(k, p, in.EncryptionContext)
	if err != nil {
		return nil, nil, awsproto.Internal(err)
	}
	return p, map[string]any{"CiphertextBlob": blob, "KeyId": k.rec.Arn}, nil
}

func (s *Service) generateDataKey(ctx context.Context, r *http.Request, body []byte) (any, error) {
	p, out, err := s.dataKey(ctx, r, body, "kms:GenerateDataKey")
	if err != nil {
		return nil, err
	}
	out["Plaintext"] = p
	return out, nil
}

func (s *Service) generateDataKeyWithoutPlaintext(ctx context.Context, r *http.Request, body []byte) (any, error) {
	_, out, err := s.dataKey(ctx, r, body, "kms:GenerateDataKeyWithoutPlaintext")
	return out, err
}

func (s *Service) generateRandom(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in struct {
		NumberOfBytes    *int   `json:"NumberOfBytes"`
		CustomKeyStoreID string `json:"CustomKeyStoreId"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.NumberOfBytes == nil {
		return nil, awsproto.Errorf(awsproto.KMSValidation, "NumberOfBytes is required.")
	}
	if n := *in.NumberOfBytes; n < 1 || n > 1024 {
		return nil, validation(n, "numberOfBytes", "Member must have value between 1 and 1024")
	}
	if err := s.authorizeAccount(r, "GenerateRandom"); err != nil {
		return nil, err
	}
	return map[string]any{"Plaintext": random(*in.NumberOfBytes)}, nil
}

type signInput struct {
	KeyID            string   `json:"KeyId"`
	Message          []byte   `json:"Message"`
	MessageType      string   `json:"MessageType"`
	SigningAlgorithm string   `json:"SigningAlgorithm"`
	Signature        []byte   `json:"Signature"`
	GrantTokens      []string `json:"GrantTokens"`
}

// digest checks a Sign or Verify request and returns the key, the digest
// to sign and its hash.
func (s *Service) digest(ctx context.Context, r *http.Request, in *signInput, action string) (*key, []byte, crypto.Hash, error) {
	if len(in.Message) == 0 {
		return nil, nil, 0, validation("null", "message", "Member must have length greater than or equal to 1")
	}
	if len(in.Message) > 4096 {
		return nil, nil, 0, validation("[...]", "message", "Member must have length less than or equal to 4096")
	}
	if in.SigningAlgorithm == "" {
		return nil, nil, 0, validation("null", "signingAlgorithm", "Member must not be null")
	}
	k, err := s.resolve(in.KeyID)
	if err != nil {
		return nil, nil, 0, err
	}
	if err := s.authorize(ctx, r, action, k, nil); err != nil {
		return nil, nil, 0, err
	}
	if err := usable(k); err != nil {
		return nil, nil, 0, err
	}
	if err := forUsage(k, usageSign, strings.TrimPrefix(action, "kms:")); err != nil {
		return nil, nil, 0, err
	}
	_, sig, _ := k.algorithms()
	if !slices.Contains(sig, in.SigningAlgorithm) {
		return nil, nil, 0, awsproto.Errorf(awsproto.KMSInvalidKeyUsage, "Algorithm %s is incompatible with key spec %s.", in.SigningAlgorithm, k.rec.KeySpec)
	}
	h := hashOf(in.SigningAlgorithm)
	switch in.MessageType {
	case "", "RAW":
		d := h.New()
		d.Write(in.Message)
		return k, d.Sum(nil), h, nil
	case "DIGEST":
		if len(in.Message) != h.Size() {
			return nil, nil, 0, awsproto.Errorf(awsproto.KMSValidation, "Digest is invalid length for algorithm %s.", in.SigningAlgorithm)
		}
		return k, in.Message, h, nil
	}
	return nil, nil, 0, validation(in.MessageType, "messageType", "Member must satisfy enum value set: [RAW, DIGEST]")
}

func (s *Service) sign(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in signInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, d, h, err := s.digest(ctx, r, &in, "kms:Sign")
	if err != nil {
		return nil, err
	}
	var opts crypto.SignerOpts = h
	if strings.HasPrefix(in.SigningAlgorithm, "RSASSA_PSS") {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	}
	sig, err := k.signer.Sign(rand.Reader, d, opts)
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	return map[string]any{"KeyId": k.rec.Arn, "Signature": sig, "SigningAlgorithm": in.SigningAlgorithm}, nil
}

func (s *Service) verify(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in signInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Signature) == 0 {
		return nil, validation("null", "signature", "Member must have length greater than or equal to 1")
	}
	k, d, h, err := s.digest(ctx, r, &in, "kms:Verify")
	if err != nil {
		return nil, err
	}
	ok := false
	switch pub := k.signer.Public().(type) {
	case *rsa.PublicKey:
		if strings.HasPrefix(in.SigningAlgorithm, "RSASSA_PSS") {
			ok = rsa.VerifyPSS(pub, h, d, in.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: h}) == nil
		} else {
			ok = rsa.VerifyPKCS1v15(pub, h, d, in.Signature) == nil
		}
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(pub, d, in.Signature)
	}
	if !ok {
		return nil, awsproto.Errorf(awsproto.KMSInvalidSignature, "")
	}
	return map[string]any{"KeyId": k.rec.Arn, "SignatureValid": true, "SigningAlgorithm": in.SigningAlgorithm}, nil
}

type macInput struct {
	KeyID        string   `json:"KeyId"`
	Message      []byte   `json:"Message"`
	MacAlgorithm string   `json:"MacAlgorithm"`
	Mac          []byte   `json:"Mac"`
	GrantTokens  []string `json:"GrantTokens"`
}

func (s *Service) macKey(ctx context.Context, r *http.Request, in *macInput, action string) (*key, error) {
	if len(in.Message) == 0 {
		return nil, validation("null", "message", "Member must have length greater than or equal to 1")
	}
	if len(in.Message) > 4096 {
		return nil, validation("[...]", "message", "Member must have length less than or equal to 4096")
	}
	if in.MacAlgorithm == "" {
		return nil, validation("null", "macAlgorithm", "Member must not be null")
	}
	k, err := s.resolve(in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, r, action, k, nil); err != nil {
		return nil, err
	}
	if err := usable(k); err != nil {
		return nil, err
	}
	if err := forUsage(k, usageMAC, strings.TrimPrefix(action, "kms:")); err != nil {
		return nil, err
	}
	_, _, macs := k.algorithms()
	if !slices.Contains(macs, in.MacAlgorithm) {
		return nil, awsproto.Errorf(awsproto.KMSInvalidKeyUsage, "Algorithm %s is incompatible with key spec %s.", in.MacAlgorithm, k.rec.KeySpec)
	}
	return k, nil
}

func (s *Service) generateMac(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in macInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, err := s.macKey(ctx, r, &in, "kms:GenerateMac")
	if err != nil {
		return nil, err
	}
	return map[string]any{"Mac": mac(k.mats[k.current()], in.MacAlgorithm, in.Message), "MacAlgorithm": in.MacAlgorithm, "KeyId": k.rec.Arn}, nil
}

func (s *Service) verifyMac(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in macInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Mac) == 0 {
		return nil, validation("null", "mac", "Member must have length greater than or equal to 1")
	}
	k, err := s.macKey(ctx, r, &in, "kms:VerifyMac")
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(mac(k.mats[k.current()], in.MacAlgorithm, in.Message), in.Mac) {
		return nil, awsproto.Errorf(awsproto.KMSInvalidMac, "")
	}
	return map[string]any{"KeyId": k.rec.Arn, "MacValid": true, "MacAlgorithm": in.MacAlgorithm}, nil
}

func (s *Service) getPublicKey(ctx context.Context, r *http.Request, body []byte) (any, error) {
	var in keyIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	k, err := s.resolve(in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, r, "kms:GetPublicKey", k, nil); err != nil {
		return nil, err
	}
	if err := usable(k); err != nil {
		return nil, err
	}
	if k.signer == nil {
		return nil, awsproto.Errorf(awsproto.KMSUnsupportedOperation, "%s key usage is %s which is not valid for GetPublicKey.", k.rec.Arn, k.rec.KeyUsage)
	}
	der, err := x509.MarshalPKIXPublicKey(k.signer.Public())
	if err != nil {
		return nil, awsproto.Internal(err)
	}
	enc, sig, _ := k.algorithms()
	out := map[string]any{"KeyId": k.rec.Arn, "PublicKey": der, "CustomerMasterKeySpec": k.rec.KeySpec,
		"KeySpec": k.rec.KeySpec, "KeyUsage": k.rec.KeyUsage}
	if enc != nil {
		out["EncryptionAlgorithms"] = enc
	}
	if sig != nil {
		out["SigningAlgorithms"] = sig
	}
	return out, nil
}
