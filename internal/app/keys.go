package app

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/kumo-run/kumo/internal/config"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/services/kms"
	kumosns "github.com/kumo-run/kumo/internal/services/sns"
	"github.com/kumo-run/kumo/internal/store"
)

// The secrets a node keeps: a single node in its data dir only; a cluster
// once in natsd.KeysBucket (under "secret.<name>"), each file of the data
// dir then a copy of the cluster's.
const (
	secretSessionToken = "session-token"    // tokenKeyFile
	secretURLSigning   = "url-signing"      // urlKeyFile
	secretSNSSigning   = "sns-signing"      // snsKeyFile
	secretRoot         = "root-credentials" // CredentialsFile
	secretKMSMaster    = "kms-master"       // kms.MasterKeyFile

	// kmsCheckKey holds the id (kms.MasterKey.ID, a digest that does not
	// reveal the key) of the KMS master key the cluster's nodes use, so
	// that a node given another one refuses to start.
	kmsCheckKey = "check.kms-master"
)

// The data dir's files of the secrets.
const (
	urlKeyFile = "url-signing.key"
	snsKeyFile = "sns-signing.pem"
)

// Stored values start with one byte saying whether the rest is sealed.
const (
	valueSealed = 's' // nonce, then AES-256-GCM ciphertext of the secret
	valuePlain  = 'p' // the secret itself (a cluster without a secret)
)

// keyring hands out the node's secrets. A single node's (kv nil) live in
// its data dir, each generated there on first use. A cluster's live once
// in the keys bucket: the first node to need one stores its data dir's
// copy, or a new one, with a create-only write; every other node, losers
// of that race included, uses the stored one and keeps a copy in its data
// dir. A data dir's file that differs from the cluster's is moved aside
// (".replaced") and logged, never used: a cluster never runs on two keys.
//
// Values in the bucket are sealed with AES-256-GCM under a key derived
// (HKDF-SHA256) from the cluster secret, bound to their key name, so that
// the store alone does not reveal them; without a cluster secret they are
// stored as they are, except the KMS master key, which must then be given
// to every node (kmsMaster refuses to start without it).
//
// A keyring is used by one goroutine, while the server starts.
type keyring struct {
	dataDir string
	st      store.Store
	kv      store.KV    // nil: a single node
	aead    cipher.AEAD // nil: no cluster secret, values stored unsealed
	log     *slog.Logger
}

// openKeyring returns the keyring of cfg's node: for a cluster it opens
// the keys bucket in st.
func openKeyring(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger) (*keyring, error) {
	kr := &keyring{dataDir: cfg.DataDir, st: st, log: log}
	if !cfg.Cluster.Clustered() {
		return kr, nil
	}
	kv, err := st.KV(ctx, natsd.KeysBucket)
	if err != nil {
		return nil, fmt.Errorf("keys bucket: %w", err)
	}
	kr.kv = retryKV{kv}
	if cfg.Cluster.Secret == "" {
		log.Warn("no " + config.EnvClusterSecret + ": the cluster's session token, URL signing and SNS signing keys and generated root credentials are stored unsealed; the KMS master key must be given to every node")
		return kr, nil
	}
	kr.aead, err = sealer(cfg.Cluster.Secret)
	return kr, err
}

// sealer is the AEAD sealing the keys bucket's values under secret.
func sealer(secret string) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, []byte(secret), []byte(natsd.KeysBucket), "kumo cluster keys v1", 32)
	if err != nil {
		return nil, err
	}
	blk, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

func (kr *keyring) seal(key string, v []byte) []byte {
	if kr.aead == nil {
		return append([]byte{valuePlain}, v...)
	}
	n := kr.aead.NonceSize()
	out := make([]byte, 1+n, 1+n+len(v)+kr.aead.Overhead())
	out[0] = valueSealed
	rand.Read(out[1:])
	return kr.aead.Seal(out, out[1:], v, []byte(key))
}

// open returns the secret name in the value b of key; sealed reports
// whether it was sealed.
func (kr *keyring) open(key, name string, b []byte) (v []byte, sealed bool, err error) {
	if len(b) == 0 {
		return nil, false, fmt.Errorf("the cluster's %s is empty", name)
	}
	switch b[0] {
	case valuePlain:
		return b[1:], false, nil
	case valueSealed:
		if kr.aead == nil {
			return nil, true, fmt.Errorf("the cluster's %s is sealed with a cluster secret: set the same %s on this node", name, config.EnvClusterSecret)
		}
		n := kr.aead.NonceSize()
		if len(b) < 1+n+kr.aead.Overhead() {
			return nil, true, fmt.Errorf("the cluster's %s is truncated", name)
		}
		v, err := kr.aead.Open(nil, b[1:1+n], b[1+n:], []byte(key))
		if err != nil {
			return nil, true, fmt.Errorf("the cluster's %s does not open with this node's %s: every node needs the same one", name, config.EnvClusterSecret)
		}
		return v, true, nil
	}
	return nil, false, fmt.Errorf("the cluster's %s has an unknown form", name)
}

// share returns the cluster's secret name, kept in the data dir as file:
// the stored one, else the data dir's (published), else one from generate
// (published). valid checks a secret read from either place. Only for a
// cluster.
func (kr *keyring) share(ctx context.Context, name, file string, valid func([]byte) error, generate func() ([]byte, error)) ([]byte, error) {
	key := "secret." + name
	path := filepath.Join(kr.dataDir, file)
	local, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		local = nil
	case err != nil:
		return nil, err
	default:
		if err := valid(local); err != nil {
			return nil, fmt.Errorf("%s: %w; remove it to use the cluster's", path, err)
		}
	}
	for {
		e, err := kr.kv.Get(ctx, key)
		if err == nil {
			v, sealed, err := kr.open(key, name, e.Value)
			if err != nil {
				return nil, err
			}
			if err := valid(v); err != nil {
				return nil, fmt.Errorf("the cluster's %s: %w", name, err)
			}
			if !sealed && kr.aead != nil {
				// Stored before the cluster had a secret: seal it now.
				if _, err := kr.kv.Update(ctx, key, kr.seal(key, v), e.Revision); err != nil && !errors.Is(err, store.ErrConflict) {
					return nil, fmt.Errorf("sealing the cluster's %s: %w", name, err)
				}
				kr.log.Info("sealed the cluster's "+name+" with the cluster secret", "key", name)
			}
			return v, kr.keep(path, local, v, name)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("the cluster's %s: %w", name, err)
		}
		v, from := local, "data dir"
		if v == nil {
			if v, err = generate(); err != nil {
				return nil, err
			}
			from = "generated"
		}
		if _, err := kr.kv.Create(ctx, key, kr.seal(key, v)); errors.Is(err, store.ErrExists) {
			continue // another node stored its own first: use that one
		} else if err != nil {
			return nil, fmt.Errorf("storing the cluster's %s: %w", name, err)
		}
		kr.log.Info("stored the cluster's "+name+" for every node", "key", name, "from", from, "sealed", kr.aead != nil)
		return v, kr.keep(path, local, v, name)
	}
}

// keep makes the data dir's file (holding local, nil if none) a copy of
// the cluster's secret v, moving a different one aside.
func (kr *keyring) keep(path string, local, v []byte, name string) error {
	if bytes.Equal(local, v) {
		return nil
	}
	if local != nil {
		aside := path + ".replaced"
		if _, err := os.Lstat(aside); err == nil {
			// Never overwrite a key moved aside before.
			aside += "-" + strconv.FormatInt(time.Now().UnixNano(), 10)
		}
		if err := os.Rename(path, aside); err != nil {
			return err
		}
		kr.log.Warn("the data dir's "+name+" differs from the cluster's: using the cluster's", "key", name, "file", path, "moved_to", aside)
	}
	return writeFileAtomic(path, v, 0o600)
}

// key returns a 32-byte secret kept in the data dir as file (loadKey).
func (kr *keyring) key(ctx context.Context, name, file string) ([]byte, error) {
	if kr.kv == nil {
		return loadKey(kr.dataDir, file)
	}
	return kr.share(ctx, name, file, func(b []byte) error {
		if len(b) != 32 {
			return fmt.Errorf("%d bytes, want 32", len(b))
		}
		return nil
	}, func() ([]byte, error) {
		b := make([]byte, 32)
		rand.Read(b)
		return b, nil
	})
}

// snsSigningKey returns the key SNS signs notifications with.
func (kr *keyring) snsSigningKey(ctx context.Context) (*rsa.PrivateKey, error) {
	if kr.kv == nil {
		return kumosns.LoadSigningKey(filepath.Join(kr.dataDir, snsKeyFile))
	}
	b, err := kr.share(ctx, secretSNSSigning, snsKeyFile, func(b []byte) error {
		_, err := kumosns.ParseSigningKey(b)
		return err
	}, kumosns.NewSigningKey)
	if err != nil {
		return nil, err
	}
	return kumosns.ParseSigningKey(b)
}

// credentials returns the root credentials: fixed when set (the
// environment's, never stored), else generated ones (LoadCredentials).
// generated reports whether this node made them.
func (kr *keyring) credentials(ctx context.Context, fixed config.RootCredentials) (c Credentials, generated bool, err error) {
	if kr.kv == nil || fixed.AccessKeyID != "" {
		return LoadCredentials(kr.dataDir, fixed)
	}
	var made []byte
	b, err := kr.share(ctx, secretRoot, CredentialsFile, func(b []byte) error {
		_, err := parseCredentials(b)
		return err
	}, func() ([]byte, error) {
		made = newCredentials()
		return made, nil
	})
	if err != nil {
		return Credentials{}, false, err
	}
	c, err = parseCredentials(b)
	// Generated here only when the stored ones are this node's: a node
	// that lost the race to store its own uses the winner's.
	return c, made != nil && bytes.Equal(made, b), err
}

// kmsMaster returns the KMS master key: the one cfg names (file or
// environment), else the data dir's (a single node) or the cluster's. A
// cluster's nodes must all use one: the first to start records its id,
// and a node with another (not the id's successor in a rotation: one of
// previous) refuses to start.
func (kr *keyring) kmsMaster(ctx context.Context, cfg config.Config, previous []*kms.MasterKey) (*kms.MasterKey, error) {
	explicit := cfg.KMSMasterKeyFile != "" || cfg.KMSMasterKey != ""
	if kr.kv == nil || explicit {
		m, err := kms.LoadMasterKey(cfg.KMSMasterKeyFile, cfg.KMSMasterKey, cfg.DataDir)
		if err != nil || kr.kv == nil {
			return m, err
		}
		return m, kr.checkKMS(ctx, m, previous)
	}
	if kr.aead == nil {
		return nil, fmt.Errorf("kms master key: a cluster without %s does not store its KMS master key; give every node the same --kms-master-key-file or %s, or set %s",
			config.EnvClusterSecret, config.EnvKMSMasterKey, config.EnvClusterSecret)
	}
	b, err := kr.share(ctx, secretKMSMaster, kms.MasterKeyFile, func(b []byte) error {
		_, err := kms.ParseMasterKey(b)
		return err
	}, func() ([]byte, error) {
		// A store holding KMS keys but no master key came from nodes
		// given theirs (or from a single node's store): a new key would
		// not unwrap them.
		kv, err := kr.st.KV(ctx, natsd.KMSBucket)
		if err != nil {
			return nil, fmt.Errorf("kms bucket: %w", err)
		}
		if held, err := kms.HoldsKeys(ctx, kv); err != nil {
			return nil, fmt.Errorf("kms bucket: %w", err)
		} else if held {
			return nil, fmt.Errorf("kms master key: the store holds KMS keys wrapped by a master key the cluster does not store: start first the node whose data dir holds %s, or give this node that key with --kms-master-key-file or %s",
				kms.MasterKeyFile, config.EnvKMSMasterKey)
		}
		b := make([]byte, kms.MasterKeySize)
		rand.Read(b)
		return b, nil
	})
	if err != nil {
		return nil, err
	}
	m, err := kms.ParseMasterKey(b)
	if err != nil {
		return nil, err
	}
	return m, kr.checkKMS(ctx, m, previous)
}

// checkKMS records m's id as the cluster's KMS master key, or refuses m
// when the cluster's is another one. A cluster's key that is among
// previous is being rotated out: m's id replaces it.
func (kr *keyring) checkKMS(ctx context.Context, m *kms.MasterKey, previous []*kms.MasterKey) error {
	for {
		e, err := kr.kv.Get(ctx, kmsCheckKey)
		if errors.Is(err, store.ErrNotFound) {
			if _, err := kr.kv.Create(ctx, kmsCheckKey, []byte(m.ID())); errors.Is(err, store.ErrExists) {
				continue
			} else if err != nil {
				return fmt.Errorf("kms master key check: %w", err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("kms master key check: %w", err)
		}
		have := string(e.Value)
		if have == m.ID() {
			return nil
		}
		rotated := false
		for _, p := range previous {
			rotated = rotated || p.ID() == have
		}
		if !rotated {
			return fmt.Errorf("kms master key: this node's (id %s) is not the cluster's (id %s): every node needs the same --kms-master-key-file or %s (the previous one in --kms-previous-master-key-file while rotating); refusing to start rather than wrap keys the other nodes cannot unwrap",
				m.ID(), have, config.EnvKMSMasterKey)
		}
		if _, err := kr.kv.Update(ctx, kmsCheckKey, []byte(m.ID()), e.Revision); errors.Is(err, store.ErrConflict) {
			continue
		} else if err != nil {
			return fmt.Errorf("kms master key check: %w", err)
		}
		kr.log.Info("the cluster's KMS master key is now this node's; the previous one is rotated out", "id", m.ID(), "previous", have)
		return nil
	}
}

// retryKV asks the keys bucket again when a request fails for a reason
// other than the answer itself (not found, exists, conflict): while a
// cluster forms, the bucket's stream may have no leader yet ("no
// responders") or lose an answer. Each try is bounded by keyTryTimeout;
// the tries by the caller's context (the store's opening deadline).
type retryKV struct{ store.KV }

const keyTryTimeout = 10 * time.Second

func keyRetry[T any](ctx context.Context, op func(context.Context) (T, error)) (T, error) {
	wait := 100 * time.Millisecond
	for {
		tctx, cancel := context.WithTimeout(ctx, keyTryTimeout)
		v, err := op(tctx)
		cancel()
		if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrConflict) {
			return v, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return v, err
		}
		wait = min(2*wait, 2*time.Second)
	}
}

func (r retryKV) Get(ctx context.Context, key string) (store.Entry, error) {
	return keyRetry(ctx, func(ctx context.Context) (store.Entry, error) { return r.KV.Get(ctx, key) })
}

func (r retryKV) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	return keyRetry(ctx, func(ctx context.Context) (uint64, error) { return r.KV.Create(ctx, key, value) })
}

func (r retryKV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	return keyRetry(ctx, func(ctx context.Context) (uint64, error) { return r.KV.Update(ctx, key, value, rev) })
}
