package kms

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kumo-run/kumo/internal/store"
)

// MasterKeySize is the size of a node master key: an AES-256 key.
const MasterKeySize = 32

// MasterKeyFile is the file in the data dir a master key is generated
// into when the operator names none.
const MasterKeyFile = "kms-master.key"

// MasterKey wraps the key material of every KMS key before it goes to the
// store. It never goes to the store itself: the store holds only its id
// (the first 8 bytes of its SHA-256, in hex) beside what it wrapped.
type MasterKey struct {
	id   string
	aead cipher.AEAD
}

// NewMasterKey returns the master key of 32 bytes b.
func NewMasterKey(b []byte) (*MasterKey, error) {
	if len(b) != MasterKeySize {
		return nil, fmt.Errorf("kms master key: %d bytes, want %d", len(b), MasterKeySize)
	}
	blk, err := aes.NewCipher(b)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return &MasterKey{id: hex.EncodeToString(sum[:8]), aead: aead}, nil
}

// ID names the key in the store without revealing it.
func (m *MasterKey) ID() string { return m.id }

// wrap seals raw, bound to aad (the KMS key and material version).
func (m *MasterKey) wrap(raw, aad []byte) []byte {
	nonce := make([]byte, m.aead.NonceSize(), m.aead.NonceSize()+len(raw)+m.aead.Overhead())
	rand.Read(nonce)
	return m.aead.Seal(nonce, nonce, raw, aad)
}

func (m *MasterKey) unwrap(sealed, aad []byte) ([]byte, error) {
	n := m.aead.NonceSize()
	if len(sealed) < n+m.aead.Overhead() {
		return nil, errors.New("wrapped key material too short")
	}
	return m.aead.Open(nil, sealed[:n], sealed[n:], aad)
}

// LoadMasterKey returns the node's master key: from file when set (32 raw
// bytes, or their base64 or hex), else from inline (the same encodings;
// KUMO_KMS_MASTER_KEY, read by internal/config), else from
// dataDir/kms-master.key, generated there with mode 0600 on first use.
func LoadMasterKey(file, inline, dataDir string) (*MasterKey, error) {
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("kms master key file: %w", err)
		}
		raw, err := decodeMasterKey(b)
		if err != nil {
			return nil, fmt.Errorf("kms master key file %s: %w", file, err)
		}
		return NewMasterKey(raw)
	case inline != "":
		raw, err := decodeMasterKey([]byte(inline))
		if err != nil {
			return nil, fmt.Errorf("kms master key from the environment: %w", err)
		}
		return NewMasterKey(raw)
	}
	path := filepath.Join(dataDir, MasterKeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		raw, err := decodeMasterKey(b)
		if err != nil {
			return nil, fmt.Errorf("kms master key %s: %w", path, err)
		}
		return NewMasterKey(raw)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("kms master key: %w", err)
	}
	raw := make([]byte, MasterKeySize)
	rand.Read(raw)
	if err := writeFileSync(path, raw); err != nil {
		return nil, fmt.Errorf("kms master key: %w", err)
	}
	return NewMasterKey(raw)
}

// ParseMasterKey returns the master key kept in b: 32 raw bytes or their
// base64 or hex encoding, as LoadMasterKey reads them.
func ParseMasterKey(b []byte) (*MasterKey, error) {
	raw, err := decodeMasterKey(b)
	if err != nil {
		return nil, fmt.Errorf("kms master key: %w", err)
	}
	return NewMasterKey(raw)
}

// HoldsKeys reports whether kv, a KMS bucket, holds any key, and so
// material wrapped by some master key: a new master key must not be
// generated for it.
func HoldsKeys(ctx context.Context, kv store.KV) (bool, error) {
	es, err := kv.List(ctx, keyPrefix)
	return len(es) > 0, err
}

// decodeMasterKey accepts 32 raw bytes or their base64 or hex encoding
// (surrounding white space ignored).
func decodeMasterKey(b []byte) ([]byte, error) {
	if len(b) == MasterKeySize {
		return b, nil
	}
	s := strings.TrimSpace(string(b))
	if raw, err := base64.StdEncoding.DecodeString(s); err == nil && len(raw) == MasterKeySize {
		return raw, nil
	}
	if raw, err := hex.DecodeString(s); err == nil && len(raw) == MasterKeySize {
		return raw, nil
	}
	return nil, fmt.Errorf("want %d bytes, raw or in base64 or hex", MasterKeySize)
}

// writeFileSync creates path with mode 0600 (failing if it exists), writes
// b and syncs the file and its directory.
func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
