package kms

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"

	"github.com/kumo-run/kumo/internal/iam"
)

// Key states (KeyState), as the KMS API spells them.
const (
	stateEnabled         = "Enabled"
	stateDisabled        = "Disabled"
	statePendingDeletion = "PendingDeletion"
)

// keyRecord is one KMS key as stored under "k.<id>" in the bucket. Key
// material is only ever stored wrapped by the node master key.
type keyRecord struct {
	KeyID        string            `json:"KeyId"`
	Arn          string            `json:"Arn"`
	Account      string            `json:"Account"`
	Created      float64           `json:"Created"`
	Description  string            `json:"Description"`
	KeySpec      string            `json:"KeySpec"`
	KeyUsage     string            `json:"KeyUsage"`
	State        string            `json:"State"`
	DeletionDate float64           `json:"DeletionDate,omitempty"`
	PendingDays  int               `json:"PendingDays,omitempty"`
	Manager      string            `json:"Manager"` // CUSTOMER or AWS
	Policy       string            `json:"Policy"`
	Tags         map[string]string `json:"Tags,omitempty"`
	// Rotation: automatic rotation's period and next date; every
	// rotation done (automatic or on demand).
	RotationPeriod int        `json:"RotationPeriod,omitempty"`
	NextRotation   float64    `json:"NextRotation,omitempty"`
	Rotations      []rotation `json:"Rotations,omitempty"`
	// Materials are the key's material versions, oldest first; the last
	// encrypts, every one decrypts.
	Materials []material `json:"Materials"`
	Grants    []grant    `json:"Grants,omitempty"`
}

type rotation struct {
	Date float64 `json:"Date"`
	Type string  `json:"Type"` // AUTOMATIC or ON_DEMAND
}

// material is one version of a key's material, wrapped by the master key
// MasterKey names (see MasterKey.ID).
type material struct {
	Version   uint32 `json:"Version"`
	MasterKey string `json:"MasterKey"`
	Wrapped   []byte `json:"Wrapped"`
}

// grant is one grant on a key (CreateGrant).
type grant struct {
	ID          string       `json:"GrantId"`
	Token       string       `json:"GrantToken"`
	Name        string       `json:"Name,omitempty"`
	Grantee     string       `json:"GranteePrincipal"`
	Retiring    string       `json:"RetiringPrincipal,omitempty"`
	Issuing     string       `json:"IssuingAccount"`
	Operations  []string     `json:"Operations"`
	Constraints *constraints `json:"Constraints,omitempty"`
	Created     float64      `json:"CreationDate"`
}

type constraints struct {
	EncryptionContextSubset map[string]string `json:"EncryptionContextSubset,omitempty"`
	EncryptionContextEquals map[string]string `json:"EncryptionContextEquals,omitempty"`
}

// aliasRecord is an alias as stored under "a.<alias name>".
type aliasRecord struct {
	Name    string  `json:"AliasName"`
	KeyID   string  `json:"TargetKeyId"`
	Created float64 `json:"CreationDate"`
	Updated float64 `json:"LastUpdatedDate"`
}

// key is a key record with its material unwrapped and its policy parsed:
// what the view holds. It is replaced, never modified, once in the view.
type key struct {
	rec    keyRecord
	rev    uint64
	gone   bool // a tombstone: the key was deleted at rev
	policy *iam.Policy
	// mats are the unwrapped materials by version; nil when the master
	// key could not unwrap them (unavailable).
	mats        map[uint32][]byte
	unavailable error
	signer      crypto.Signer // asymmetric keys: the current version's
}

// Key specs and usages, as the API spells them.
const (
	specSymmetric = "SYMMETRIC_DEFAULT"
	usageEncrypt  = "ENCRYPT_DECRYPT"
	usageSign     = "SIGN_VERIFY"
	usageMAC      = "GENERATE_VERIFY_MAC"
)

// specInfo is what a key spec allows.
type specInfo struct {
	usages []string
	enc    []string // EncryptionAlgorithms
	sig    []string // SigningAlgorithms
	mac    []string // MacAlgorithms
}

var rsaSig = []string{"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
	"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512"}
var rsaEnc = []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}

var specs = map[string]specInfo{
	specSymmetric:   {usages: []string{usageEncrypt}, enc: []string{specSymmetric}},
	"HMAC_224":      {usages: []string{usageMAC}, mac: []string{"HMAC_SHA_224"}},
	"HMAC_256":      {usages: []string{usageMAC}, mac: []string{"HMAC_SHA_256"}},
	"HMAC_384":      {usages: []string{usageMAC}, mac: []string{"HMAC_SHA_384"}},
	"HMAC_512":      {usages: []string{usageMAC}, mac: []string{"HMAC_SHA_512"}},
	"RSA_2048":      {usages: []string{usageEncrypt, usageSign}, enc: rsaEnc, sig: rsaSig},
	"RSA_3072":      {usages: []string{usageEncrypt, usageSign}, enc: rsaEnc, sig: rsaSig},
	"RSA_4096":      {usages: []string{usageEncrypt, usageSign}, enc: rsaEnc, sig: rsaSig},
	"ECC_NIST_P256": {usages: []string{usageSign}, sig: []string{"ECDSA_SHA_256"}},
	"ECC_NIST_P384": {usages: []string{usageSign}, sig: []string{"ECDSA_SHA_384"}},
	"ECC_NIST_P521": {usages: []string{usageSign}, sig: []string{"ECDSA_SHA_512"}},
}

// algorithms is the key's algorithms for its usage.
func (k *key) algorithms() (enc, sig, mac []string) {
	si := specs[k.rec.KeySpec]
	switch k.rec.KeyUsage {
	case usageEncrypt:
		return si.enc, nil, nil
	case usageSign:
		return nil, si.sig, nil
	case usageMAC:
		return nil, nil, si.mac
	}
	return nil, nil, nil
}

// newMaterial generates raw key material for spec: 32 random bytes for a
// symmetric key, the HMAC key's bytes, or a PKCS #8 private key.
func newMaterial(spec string) ([]byte, error) {
	switch spec {
	case specSymmetric:
		return random(32), nil
	case "HMAC_224":
		return random(28), nil
	case "HMAC_256":
		return random(32), nil
	case "HMAC_384":
		return random(48), nil
	case "HMAC_512":
		return random(64), nil
	}
	var priv any
	var err error
	switch spec {
	case "RSA_2048", "RSA_3072", "RSA_4096":
		bits, _ := strconv.Atoi(spec[4:])
		priv, err = rsa.GenerateKey(rand.Reader, bits)
	case "ECC_NIST_P256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ECC_NIST_P384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ECC_NIST_P521":
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	default:
		return nil, fmt.Errorf("key spec %s", spec)
	}
	if err != nil {
		return nil, err
	}
	return x509.MarshalPKCS8PrivateKey(priv)
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// materialAAD binds wrapped material to its key and version.
func materialAAD(keyID string, v uint32) []byte {
	return []byte("kumo-kms-material:" + keyID + ":" + strconv.FormatUint(uint64(v), 10))
}

// current is the key's newest material version.
func (k *key) current() uint32 { return k.rec.Materials[len(k.rec.Materials)-1].Version }

// Ciphertext blobs of symmetric keys are self-describing, so that Decrypt
// finds the key without a KeyId:
//
//	byte 0      format version (blobVersion)
//	byte 1      n, the length of the key id
//	n bytes     key id
//	4 bytes     material version, big-endian
//	12 bytes    AES-GCM nonce
//	rest        AES-256-GCM ciphertext and tag
//
// The additional data is everything before the nonce followed by the
// encryption context, canonical (contextAAD): a blob decrypts only with
// the context it was encrypted with.
const blobVersion = 1

func sealBlob(k *key, plaintext []byte, ec map[string]string) ([]byte, error) {
	v := k.current()
	mat := k.mats[v]
	aead, err := gcm(mat)
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, 0, 2+len(k.rec.KeyID)+4+12+len(plaintext)+16)
	hdr = append(hdr, blobVersion, byte(len(k.rec.KeyID)))
	hdr = append(hdr, k.rec.KeyID...)
	hdr = binary.BigEndian.AppendUint32(hdr, v)
	n := len(hdr)
	aad := append(slices.Clip(hdr), contextAAD(ec)...)
	nonce := random(aead.NonceSize())
	out := append(hdr, nonce...)
	return aead.Seal(out, out[n:], plaintext, aad), nil
}

// blobHeader is what a blob says of itself.
type blobHeader struct {
	keyID   string
	version uint32
	hdr     []byte // the bytes before the nonce
	body    []byte // nonce and ciphertext
}

var errBadBlob = errors.New("not a ciphertext blob of this service")

func parseBlob(b []byte) (blobHeader, error) {
	if len(b) < 2 || b[0] != blobVersion {
		return blobHeader{}, errBadBlob
	}
	n := int(b[1])
	if len(b) < 2+n+4+12+16 {
		return blobHeader{}, errBadBlob
	}
	return blobHeader{keyID: string(b[2 : 2+n]), version: binary.BigEndian.Uint32(b[2+n:]), hdr: b[:2+n+4], body: b[2+n+4:]}, nil
}

func openBlob(k *key, h blobHeader, ec map[string]string) ([]byte, error) {
	mat, ok := k.mats[h.version]
	if !ok {
		return nil, errBadBlob
	}
	aead, err := gcm(mat)
	if err != nil {
		return nil, err
	}
	ns := aead.NonceSize()
	aad := append(slices.Clip(h.hdr), contextAAD(ec)...)
	return aead.Open(nil, h.body[:ns], h.body[ns:], aad)
}

func gcm(k []byte) (cipher.AEAD, error) {
	blk, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

// contextAAD is the encryption context in a canonical form: its pairs
// sorted by key, each part length-prefixed.
func contextAAD(ec map[string]string) []byte {
	if len(ec) == 0 {
		return nil
	}
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b []byte
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(ec[k])))
		b = append(b, ec[k]...)
	}
	return b
}

// privateKey parses an asymmetric key's material.
func privateKey(mat []byte) (crypto.Signer, error) {
	p, err := x509.ParsePKCS8PrivateKey(mat)
	if err != nil {
		return nil, err
	}
	s, ok := p.(crypto.Signer)
	if !ok {
		return nil, errors.New("key material is not a signing key")
	}
	return s, nil
}

// hashOf is the hash a signing or MAC algorithm names.
func hashOf(alg string) crypto.Hash {
	switch {
	case alg == "RSAES_OAEP_SHA_1":
		return crypto.SHA1
	case len(alg) >= 3 && alg[len(alg)-3:] == "224":
		return crypto.SHA224
	case len(alg) >= 3 && alg[len(alg)-3:] == "256":
		return crypto.SHA256
	case len(alg) >= 3 && alg[len(alg)-3:] == "384":
		return crypto.SHA384
	case len(alg) >= 3 && alg[len(alg)-3:] == "512":
		return crypto.SHA512
	}
	return 0
}

func newHash(h crypto.Hash) func() hash.Hash {
	switch h {
	case crypto.SHA1:
		return sha1.New
	case crypto.SHA224:
		return sha256.New224
	case crypto.SHA256:
		return sha256.New
	case crypto.SHA384:
		return sha512.New384
	case crypto.SHA512:
		return sha512.New
	}
	return nil
}

// mac computes an HMAC with the key's current material.
func mac(mat []byte, alg string, msg []byte) []byte {
	m := hmac.New(newHash(hashOf(alg)), mat)
	m.Write(msg)
	return m.Sum(nil)
}
