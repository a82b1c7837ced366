package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kumo-run/kumo/internal/awsproto"
	"github.com/kumo-run/kumo/internal/awsproto/arn"
)

// Lifetimes of temporary credentials, as STS bounds them.
const (
	// MinDuration is the shortest session STS grants (900 s).
	MinDuration = 15 * time.Minute
	// MaxRoleDuration is the longest a role session may last (a role's
	// MaxSessionDuration can be at most 12 hours).
	MaxRoleDuration = 12 * time.Hour
	// MaxSessionTokenDuration is GetSessionToken's limit (36 hours).
	MaxSessionTokenDuration = 36 * time.Hour
)

// KeySize is the size of the node key.
const KeySize = 32

// AccessKeyPrefix starts every temporary access key id, as on AWS.
const AccessKeyPrefix = "ASIA"

// Messages AWS sends for bad session tokens.
const (
	msgInvalid = "The security token included in the request is invalid."
	msgExpired = "The security token included in the request is expired"
)

// maxTokenLen bounds the token text a verifier decodes; Kumo's tokens are
// a few hundred bytes.
const maxTokenLen = 4096

// tokenVersion is the first byte of a sealed token.
const tokenVersion = 1

// ErrInvalid and ErrExpired are what Open reports; Store turns them into
// the AWS errors.
var (
	ErrInvalid = errors.New("session token is not valid")
	ErrExpired = errors.New("session token has expired")
)

// Credentials are temporary credentials as STS answers them.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// Issuer mints and opens tokens with one node key.
type Issuer struct {
	aead      cipher.AEAD
	secretKey []byte
	idKey     []byte
	stored    cipher.AEAD
	// Now is the clock of issue times; time.Now when nil.
	Now func() time.Time
}

// New returns an Issuer for the 32-byte node key.
func New(key []byte) (*Issuer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("token: key has %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(subkey(key, "kumo session token seal v1"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	block, err = aes.NewCipher(subkey(key, "kumo stored secret seal v1"))
	if err != nil {
		return nil, err
	}
	stored, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Issuer{aead: aead, secretKey: subkey(key, "kumo session secret v1"), idKey: subkey(key, "kumo role id v1"), stored: stored}, nil
}

// StoredSecrets is the AES-256-GCM cipher, keyed by a subkey of the node
// key of its own, that seals secrets Kumo keeps in its store (IAM users'
// secret access keys): every node holding the key opens them, nothing
// else does.
func (i *Issuer) StoredSecrets() cipher.AEAD { return i.stored }

func subkey(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

func (i *Issuer) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

// Mint issues credentials for id lasting d from now. id.Expires is
// ignored and set in what the token holds.
func (i *Issuer) Mint(id awsproto.Identity, d time.Duration) (Credentials, error) {
	if d <= 0 {
		return Credentials{}, fmt.Errorf("token: lifetime %s", d)
	}
	now := i.now()
	id.Expires = now.Add(d).Truncate(time.Second)
	var raw [10]byte
	rand.Read(raw[:])
	akid := AccessKeyPrefix + base32.StdEncoding.EncodeToString(raw[:])
	plain := encode(akid, now.Unix(), id)
	nonce := make([]byte, 1+i.aead.NonceSize(), 1+i.aead.NonceSize()+len(plain)+i.aead.Overhead())
	nonce[0] = tokenVersion
	rand.Read(nonce[1:])
	sealed := i.aead.Seal(nonce, nonce[1:], plain, nonce[:1])
	return Credentials{
		AccessKeyID:     akid,
		SecretAccessKey: i.secret(akid),
		SessionToken:    base64.RawURLEncoding.EncodeToString(sealed),
		Expiration:      id.Expires,
	}, nil
}

// secret is the secret access key of a temporary access key id.
func (i *Issuer) secret(akid string) string {
	m := hmac.New(sha256.New, i.secretKey)
	m.Write([]byte(akid))
	return base64.StdEncoding.EncodeToString(m.Sum(nil)[:30]) // 40 characters, as AWS's
}

// Open verifies a session token presented with accessKeyID at now and
// returns the secret to check the request's signature with and the
// identity the token holds. It returns ErrInvalid for a token that does
// not open with this issuer's key or names another access key id, and
// ErrExpired (with the identity) for one past its expiry.
func (i *Issuer) Open(accessKeyID, token string, now time.Time) (string, awsproto.Identity, error) {
	if len(token) > maxTokenLen || !strings.HasPrefix(accessKeyID, AccessKeyPrefix) {
		return "", awsproto.Identity{}, ErrInvalid
	}
	sealed, err := base64.RawURLEncoding.DecodeString(token)
	ns := i.aead.NonceSize()
	if err != nil || len(sealed) < 1+ns+i.aead.Overhead() || sealed[0] != tokenVersion {
		return "", awsproto.Identity{}, ErrInvalid
	}
	plain, err := i.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], sealed[:1])
	if err != nil {
		return "", awsproto.Identity{}, ErrInvalid
	}
	akid, _, id, ok := decode(plain)
	if !ok || akid != accessKeyID {
		return "", awsproto.Identity{}, ErrInvalid
	}
	if !now.Before(id.Expires) {
		return "", id, ErrExpired
	}
	return i.secret(akid), id, nil
}

// RoleSession is the identity of a session of roleARN named session:
// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION with the user id
// AROA…:SESSION. The role's path is not part of the assumed-role ARN, as
// on AWS.
func (i *Issuer) RoleSession(roleARN, session string) (awsproto.Identity, error) {
	p, err := arn.ParseIAM(roleARN)
	if err != nil {
		return awsproto.Identity{}, err
	}
	if p.Service != "iam" || p.Type != "role" {
		return awsproto.Identity{}, fmt.Errorf("%w: %q is not a role", arn.ErrInvalid, roleARN)
	}
	name := p.Name
	if j := strings.LastIndexByte(name, '/'); j >= 0 {
		name = name[j+1:]
	}
	if name == "" {
		return awsproto.Identity{}, fmt.Errorf("%w: role without a name", arn.ErrInvalid)
	}
	return awsproto.Identity{
		Account:     p.Account,
		ARN:         arn.ARN{Partition: p.Partition, Service: "sts", Account: p.Account, Resource: "assumed-role/" + name + "/" + session}.String(),
		UserID:      i.RoleID(roleARN) + ":" + session,
		RoleARN:     roleARN,
		SessionName: session,
	}, nil
}

// RoleID is the role's unique id, "AROA" and 17 characters, the same for
// the same ARN on every node holding the key.
func (i *Issuer) RoleID(roleARN string) string {
	m := hmac.New(sha256.New, i.idKey)
	m.Write([]byte(roleARN))
	return "AROA" + base32.StdEncoding.EncodeToString(m.Sum(nil))[:17]
}

// Root is the identity of an account's root user.
func Root(partition, account string) awsproto.Identity {
	return awsproto.Identity{Account: account, UserID: account,
		ARN: arn.ARN{Partition: partition, Service: "iam", Account: account, Resource: "root"}.String()}
}

// encode lays out a token's plain text: the issue and expiry times (Unix
// seconds, big endian), then the access key id and the identity's strings,
// each preceded by its length (uvarint); the session policy, last, only
// when there is one.
func encode(akid string, issued int64, id awsproto.Identity) []byte {
	b := make([]byte, 0, 64+len(akid)+len(id.Account)+len(id.ARN)+len(id.UserID)+len(id.RoleARN)+len(id.SessionName)+len(id.SessionPolicy))
	b = binary.BigEndian.AppendUint64(b, uint64(issued))
	b = binary.BigEndian.AppendUint64(b, uint64(id.Expires.Unix()))
	fields := []string{akid, id.Account, id.ARN, id.UserID, id.RoleARN, id.SessionName}
	if id.SessionPolicy != "" {
		fields = append(fields, id.SessionPolicy)
	}
	for _, s := range fields {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func decode(b []byte) (akid string, issued int64, id awsproto.Identity, ok bool) {
	if len(b) < 16 {
		return "", 0, id, false
	}
	issued = int64(binary.BigEndian.Uint64(b))
	id.Expires = time.Unix(int64(binary.BigEndian.Uint64(b[8:])), 0).UTC()
	b = b[16:]
	fields := []*string{&akid, &id.Account, &id.ARN, &id.UserID, &id.RoleARN, &id.SessionName, &id.SessionPolicy}
	for i, f := range fields {
		if i == len(fields)-1 && len(b) == 0 {
			break // no session policy
		}
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", 0, id, false
		}
		*f = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	return akid, issued, id, len(b) == 0
}
