package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kumo-run/kumo/internal/config"
	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/services/kms"
	"github.com/kumo-run/kumo/internal/store"
)

// keysCluster is one embedded NATS server standing for a cluster's store;
// node returns the keyring of a node on it with its own data dir.
type keysCluster struct {
	st  store.Store
	ctx context.Context
}

func newKeysCluster(t *testing.T) *keysCluster {
	t.Helper()
	ns, err := natsd.Start(natsd.Config{DataDir: t.TempDir(), Sync: natsd.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect("keys-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	st, err := store.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &keysCluster{st: st, ctx: t.Context()}
}

// keysNode is a node's configuration: clustered (--nats-url) with secret.
func keysNode(t *testing.T, dir, secret string) config.Config {
	if dir == "" {
		dir = t.TempDir()
	}
	return config.Config{DataDir: dir, Cluster: config.Cluster{NATSURL: "nats://127.0.0.1:4222", Secret: secret}}
}

func (kc *keysCluster) node(t *testing.T, cfg config.Config, log *bytes.Buffer) *keyring {
	t.Helper()
	w := log
	if w == nil {
		w = &bytes.Buffer{}
	}
	kr, err := openKeyring(kc.ctx, cfg, kc.st, slog.New(slog.NewTextHandler(w, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func (kc *keysCluster) stored(t *testing.T, key string) []byte {
	t.Helper()
	kv, err := kc.st.KV(kc.ctx, natsd.KeysBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(kc.ctx, key)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return e.Value
}

// TestKeysSharedOnce: nodes starting together on one store (losers of the
// create-only write included) all get the one secret the winner stored,
// for every kind, and keep a copy in their data dirs.
func TestKeysSharedOnce(t *testing.T) {
	kc := newKeysCluster(t)
	const n = 6
	type got struct {
		token, url, sns, master []byte
		creds                   Credentials
		generated               bool
	}
	res := make([]got, n)
	dirs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		dirs[i] = t.TempDir()
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := kc.ctx
			kr, err := openKeyring(ctx, keysNode(t, dirs[i], "s3cret"), kc.st, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Error(err)
				return
			}
			r := &res[i]
			if r.token, err = kr.key(ctx, secretSessionToken, tokenKeyFile); err != nil {
				t.Error(err)
			}
			if r.url, err = kr.key(ctx, secretURLSigning, urlKeyFile); err != nil {
				t.Error(err)
			}
			k, err := kr.snsSigningKey(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			r.sns = k.PublicKey.N.Bytes()
			m, err := kr.kmsMaster(ctx, keysNode(t, dirs[i], "s3cret"), nil)
			if err != nil {
				t.Error(err)
				return
			}
			r.master = []byte(m.ID())
			if r.creds, r.generated, err = kr.credentials(ctx, config.RootCredentials{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	generated := 0
	for i, r := range res {
		if r.generated {
			generated++
		}
		if len(r.token) != 32 || bytes.Equal(r.token, r.url) {
			t.Errorf("node %d: token key %x, url key %x", i, r.token, r.url)
		}
		if !bytes.Equal(r.token, res[0].token) || !bytes.Equal(r.url, res[0].url) || !bytes.Equal(r.sns, res[0].sns) ||
			!bytes.Equal(r.master, res[0].master) || r.creds != res[0].creds {
			t.Errorf("node %d has secrets of its own", i)
		}
		for file, want := range map[string][]byte{tokenKeyFile: r.token, urlKeyFile: r.url} {
			if b, err := os.ReadFile(filepath.Join(dirs[i], file)); err != nil || !bytes.Equal(b, want) {
				t.Errorf("node %d: %s is not the cluster's: %x, %v", i, file, b, err)
			}
		}
		if c, err := ReadCredentials(dirs[i]); err != nil || c != res[0].creds {
			t.Errorf("node %d: credentials file %+v, %v", i, c, err)
		}
		if b, err := os.ReadFile(filepath.Join(dirs[i], kms.MasterKeyFile)); err != nil || mustMaster(t, b).ID() != string(res[0].master) {
			t.Errorf("node %d: %s is not the cluster's: %v", i, kms.MasterKeyFile, err)
		}
	}
	if generated != 1 {
		t.Errorf("%d nodes generated the root credentials, want 1", generated)
	}
	if id := kc.stored(t, kmsCheckKey); string(id) != string(res[0].master) {
		t.Errorf("kms check %q, want %q", id, res[0].master)
	}
}

func mustMaster(t *testing.T, b []byte) *kms.MasterKey {
	t.Helper()
	m, err := kms.ParseMasterKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestKeysSealed: the store holds the secrets sealed (neither the secret
// nor the root credentials appear in it); a node with another cluster
// secret or none cannot open them and says why.
func TestKeysSealed(t *testing.T) {
	kc := newKeysCluster(t)
	kr := kc.node(t, keysNode(t, "", "s3cret"), nil)
	key, err := kr.key(kc.ctx, secretSessionToken, tokenKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := kr.credentials(kc.ctx, config.RootCredentials{})
	if err != nil {
		t.Fatal(err)
	}
	raw := kc.stored(t, "secret."+secretSessionToken)
	if raw[0] != valueSealed || bytes.Contains(raw, key) {
		t.Errorf("stored session token key is not sealed: %x", raw)
	}
	if rc := kc.stored(t, "secret."+secretRoot); bytes.Contains(rc, []byte(c.SecretAccessKey)) || bytes.Contains(rc, []byte(c.AccessKeyID)) {
		t.Errorf("stored root credentials are readable: %q", rc)
	}
	for _, tc := range []struct{ secret, want string }{
		{"other", "does not open with this node's " + config.EnvClusterSecret},
		{"", "sealed with a cluster secret"},
	} {
		other := kc.node(t, keysNode(t, "", tc.secret), nil)
		if _, err := other.key(kc.ctx, secretSessionToken, tokenKeyFile); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("secret %q: %v, want %q", tc.secret, err, tc.want)
		}
	}
	// A value sealed for one key does not open as another's.
	kv, _ := kc.st.KV(kc.ctx, natsd.KeysBucket)
	if _, err := kv.Put(kc.ctx, "secret."+secretURLSigning, raw); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.key(kc.ctx, secretURLSigning, urlKeyFile); err == nil {
		t.Error("the session token key's sealed value opened as the URL signing key")
	}
}

// TestKeysUpgrade: the first node with keys in its data dir publishes them
// (tokens it issued before stay valid); a node whose file differs uses the
// cluster's, says so and keeps its own aside.
func TestKeysUpgrade(t *testing.T) {
	kc := newKeysCluster(t)
	old := make([]byte, 32)
	rand.Read(old)
	d1 := t.TempDir()
	if err := os.WriteFile(filepath.Join(d1, tokenKeyFile), old, 0o600); err != nil {
		t.Fatal(err)
	}
	var log1 bytes.Buffer
	got, err := kc.node(t, keysNode(t, d1, "s3cret"), &log1).key(kc.ctx, secretSessionToken, tokenKeyFile)
	if err != nil || !bytes.Equal(got, old) {
		t.Fatalf("first node: %x, %v; want its own key %x", got, err, old)
	}
	if !strings.Contains(log1.String(), "from=\"data dir\"") {
		t.Errorf("first node's log: %s", log1.String())
	}
	mine := make([]byte, 32)
	rand.Read(mine)
	d2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(d2, tokenKeyFile), mine, 0o600); err != nil {
		t.Fatal(err)
	}
	var log2 bytes.Buffer
	got, err = kc.node(t, keysNode(t, d2, "s3cret"), &log2).key(kc.ctx, secretSessionToken, tokenKeyFile)
	if err != nil || !bytes.Equal(got, old) {
		t.Fatalf("second node: %x, %v; want the cluster's %x", got, err, old)
	}
	if !strings.Contains(log2.String(), "level=WARN") || !strings.Contains(log2.String(), "differs from the cluster's") {
		t.Errorf("second node did not say it replaced its key: %s", log2.String())
	}
	if b, _ := os.ReadFile(filepath.Join(d2, tokenKeyFile)); !bytes.Equal(b, old) {
		t.Errorf("second node's file: %x", b)
	}
	if b, _ := os.ReadFile(filepath.Join(d2, tokenKeyFile+".replaced")); !bytes.Equal(b, mine) {
		t.Errorf("second node's own key was not kept aside: %x", b)
	}
	// A broken file is an error, not a silent replacement.
	d3 := t.TempDir()
	os.WriteFile(filepath.Join(d3, CredentialsFile), []byte("{}"), 0o600)
	if _, _, err := kc.node(t, keysNode(t, d3, "s3cret"), nil).credentials(kc.ctx, config.RootCredentials{}); err == nil {
		t.Error("a broken credentials file was accepted")
	}
}

// TestKeysExplicit: root credentials from the environment are used and
// never stored; without a cluster secret the KMS master key must be given,
// the other keys are stored unsealed, and sealed once a node has a secret.
func TestKeysExplicit(t *testing.T) {
	kc := newKeysCluster(t)
	kr := kc.node(t, keysNode(t, "", ""), nil)
	fixed := config.RootCredentials{AccessKeyID: "AKIAFIXED0000000000", SecretAccessKey: "fixed-secret"}
	c, _, err := kr.credentials(kc.ctx, fixed)
	if err != nil || c.AccessKeyID != fixed.AccessKeyID || c.SecretAccessKey != fixed.SecretAccessKey {
		t.Fatalf("fixed credentials: %+v, %v", c, err)
	}
	kv, _ := kc.st.KV(kc.ctx, natsd.KeysBucket)
	if _, err := kv.Get(kc.ctx, "secret."+secretRoot); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("fixed credentials were stored: %v", err)
	}
	cfg := keysNode(t, "", "")
	if _, err := kr.kmsMaster(kc.ctx, cfg, nil); err == nil || !strings.Contains(err.Error(), config.EnvKMSMasterKey) {
		t.Errorf("kms master key without a cluster secret: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, kms.MasterKeyFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a master key was generated: %v", err)
	}
	cfg.KMSMasterKey = strings.Repeat("ab", 32)
	if m, err := kr.kmsMaster(kc.ctx, cfg, nil); err != nil || m.ID() != mustMaster(t, []byte(cfg.KMSMasterKey)).ID() {
		t.Errorf("given kms master key: %v", err)
	}
	key, err := kr.key(kc.ctx, secretURLSigning, urlKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if raw := kc.stored(t, "secret."+secretURLSigning); raw[0] != valuePlain || !bytes.Equal(raw[1:], key) {
		t.Errorf("stored without a secret: %x", raw)
	}
	again, err := kc.node(t, keysNode(t, "", "s3cret"), nil).key(kc.ctx, secretURLSigning, urlKeyFile)
	if err != nil || !bytes.Equal(again, key) {
		t.Fatalf("with a secret: %x, %v", again, err)
	}
	if raw := kc.stored(t, "secret."+secretURLSigning); raw[0] != valueSealed || bytes.Contains(raw, key) {
		t.Errorf("not sealed once a node has the secret: %x", raw)
	}
}

// TestKMSMasterMismatch: a node given another KMS master key than the
// cluster's refuses to start; one rotating (the cluster's as its previous)
// takes over, after which the old key alone is refused.
func TestKMSMasterMismatch(t *testing.T) {
	kc := newKeysCluster(t)
	k1, k2 := hex.EncodeToString(bytes.Repeat([]byte{1}, 32)), hex.EncodeToString(bytes.Repeat([]byte{2}, 32))
	start := func(key string, previous ...string) error {
		cfg := keysNode(t, "", "s3cret")
		cfg.KMSMasterKey = key
		var prev []*kms.MasterKey
		for _, p := range previous {
			prev = append(prev, mustMaster(t, []byte(p)))
		}
		_, err := kc.node(t, cfg, nil).kmsMaster(kc.ctx, cfg, prev)
		return err
	}
	if err := start(k1); err != nil {
		t.Fatal(err)
	}
	if err := start(k1); err != nil {
		t.Fatalf("same key again: %v", err)
	}
	if err := start(k2); err == nil || !strings.Contains(err.Error(), "not the cluster's") {
		t.Fatalf("another key: %v", err)
	}
	// A node without a key of its own, with the secret, is refused too:
	// the one it would generate is not the cluster's.
	if _, err := kc.node(t, keysNode(t, "", "s3cret"), nil).kmsMaster(kc.ctx, keysNode(t, "", "s3cret"), nil); err == nil {
		t.Error("a generated key was accepted beside a given one")
	}
	if err := start(k2, k1); err != nil {
		t.Fatalf("rotating to another key: %v", err)
	}
	if err := start(k1); err == nil {
		t.Error("the rotated-out key was accepted")
	}
	if err := start(k2); err != nil {
		t.Errorf("the new key: %v", err)
	}
}

// TestKeysSingleNode: a single node keeps its secrets in its data dir as
// before and opens no keys bucket.
func TestKeysSingleNode(t *testing.T) {
	kc := newKeysCluster(t)
	cfg := config.Config{DataDir: t.TempDir()}
	kr := kc.node(t, cfg, nil)
	if kr.kv != nil {
		t.Fatal("a single node opened the keys bucket")
	}
	key, err := kr.key(kc.ctx, secretSessionToken, tokenKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(cfg.DataDir, tokenKeyFile)); err != nil || !bytes.Equal(b, key) {
		t.Errorf("%s: %x, %v", tokenKeyFile, b, err)
	}
	if _, err := kr.snsSigningKey(kc.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.kmsMaster(kc.ctx, cfg, nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{snsKeyFile, kms.MasterKeyFile} {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestKMSMasterNotGeneratedOverKeys: a store holding KMS keys but no
// master key (a single node's store moved into a cluster) makes a node
// without a master key of its own refuse to generate one; the node whose
// data dir holds the key publishes it, after which the others use it.
func TestKMSMasterNotGeneratedOverKeys(t *testing.T) {
	kc := newKeysCluster(t)
	kmsKV, err := kc.st.KV(kc.ctx, natsd.KMSBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kmsKV.Put(kc.ctx, "k.0b9f6c4e-1111-4222-8333-944455556666", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	fresh := keysNode(t, "", "s3cret")
	if _, err := kc.node(t, fresh, nil).kmsMaster(kc.ctx, fresh, nil); err == nil || !strings.Contains(err.Error(), "start first the node whose data dir holds") {
		t.Fatalf("fresh node over stored KMS keys: %v", err)
	}
	old := keysNode(t, "", "s3cret")
	own := bytes.Repeat([]byte{9}, kms.MasterKeySize)
	if err := os.WriteFile(filepath.Join(old.DataDir, kms.MasterKeyFile), own, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := kc.node(t, old, nil).kmsMaster(kc.ctx, old, nil)
	if err != nil || m.ID() != mustMaster(t, own).ID() {
		t.Fatalf("the node with the key: %v", err)
	}
	if m, err := kc.node(t, fresh, nil).kmsMaster(kc.ctx, fresh, nil); err != nil || m.ID() != mustMaster(t, own).ID() {
		t.Fatalf("fresh node after it: %v", err)
	}
}

// TestKeysReplacedKept: a second differing file moved aside does not
// overwrite the first one moved aside.
func TestKeysReplacedKept(t *testing.T) {
	kc := newKeysCluster(t)
	if _, err := kc.node(t, keysNode(t, "", "s3cret"), nil).key(kc.ctx, secretURLSigning, urlKeyFile); err != nil {
		t.Fatal(err)
	}
	cfg := keysNode(t, "", "s3cret")
	path := filepath.Join(cfg.DataDir, urlKeyFile)
	for _, b := range []byte{1, 2} {
		if err := os.WriteFile(path, bytes.Repeat([]byte{b}, 32), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := kc.node(t, cfg, nil).key(kc.ctx, secretURLSigning, urlKeyFile); err != nil {
			t.Fatal(err)
		}
	}
	aside, _ := filepath.Glob(path + ".replaced*")
	if len(aside) != 2 {
		t.Fatalf("moved aside: %v, want two files", aside)
	}
}
