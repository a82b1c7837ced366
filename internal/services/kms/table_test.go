package kms

import (
	"bytes"
	"context"
	"encoding/base64"
	"testing"

	"github.com/kumo-run/kumo/internal/store"
)

// TestOperationTableCoversEveryOperation: every operation the service
// dispatches has an IAM action, and the table names no other.
func TestOperationTableCoversEveryOperation(t *testing.T) {
	ops := (&Service{}).dispatch()
	for name := range ops {
		action, ok := operations[name]
		want := "kms:" + name
		if name == "ReEncrypt" {
			want = "kms:ReEncryptFrom"
		}
		if !ok || action != want {
			t.Errorf("operation %s: action %q", name, action)
		}
	}
	for name := range operations {
		if _, ok := ops[name]; !ok {
			t.Errorf("operations has %s, which the service does not dispatch", name)
		}
	}
}

// TestBlobFormat: a blob names its key and material version, decrypts
// only with its encryption context, and any changed byte is refused.
func TestBlobFormat(t *testing.T) {
	k := &key{rec: keyRecord{KeyID: "0f8e7a4c-1111-4222-8333-444455556666", Materials: []material{{Version: 1}, {Version: 2}}},
		mats: map[uint32][]byte{1: random(32), 2: random(32)}}
	ec := map[string]string{"a": "1", "b": "2"}
	blob, err := sealBlob(k, []byte("secret"), ec)
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseBlob(blob)
	if err != nil || h.keyID != k.rec.KeyID || h.version != 2 {
		t.Fatalf("header %+v, %v", h, err)
	}
	if p, err := openBlob(k, h, map[string]string{"b": "2", "a": "1"}); err != nil || string(p) != "secret" {
		t.Fatalf("open: %q %v", p, err)
	}
	for _, bad := range []map[string]string{nil, {"a": "1"}, {"a": "1", "b": "3"}, {"a": "1", "b": "2", "c": ""}} {
		if _, err := openBlob(k, h, bad); err == nil {
			t.Errorf("opened with context %v", bad)
		}
	}
	// The context's canonical form cannot be confused by moving bytes
	// between keys and values.
	if bytes.Equal(contextAAD(map[string]string{"ab": "c"}), contextAAD(map[string]string{"a": "bc"})) {
		t.Fatal("contextAAD is ambiguous")
	}
	for i := range blob {
		c := bytes.Clone(blob)
		c[i] ^= 0x40
		h, err := parseBlob(c)
		if err != nil {
			continue
		}
		if h.keyID != k.rec.KeyID {
			continue
		}
		if _, err := openBlob(k, h, ec); err == nil {
			t.Fatalf("a blob with byte %d changed decrypted", i)
		}
	}
	if _, err := parseBlob([]byte{2, 0}); err == nil {
		t.Fatal("parsed a blob of an unknown format version")
	}
}

// FuzzParseBlob: no input makes the parser panic.
func FuzzParseBlob(f *testing.F) {
	f.Add([]byte{1, 3, 'a', 'b', 'c'})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseBlob(b)
		if err == nil && len(h.body) < 28 {
			t.Fatalf("short body accepted: %d", len(h.body))
		}
	})
}

// TestMaterialStoredWrapped: a key's record holds its material only
// wrapped: neither the material nor the master key appears in it, and
// the wrapped form opens only with the key id and version it was made for.
func TestMaterialStoredWrapped(t *testing.T) {
	st := store.NewMemory()
	defer st.Close()
	ctx := context.Background()
	kv, err := st.KV(ctx, "kms")
	if err != nil {
		t.Fatal(err)
	}
	raw := bytes.Repeat([]byte{0x5a}, 32)
	mk, _ := NewMasterKey(raw)
	s, err := Open(ctx, Config{KV: kv, Master: mk, Region: "us-east-1", Account: "000000000000", SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, spec := range []string{specSymmetric, "HMAC_256", "ECC_NIST_P256"} {
		usage := specs[spec].usages[0]
		k, err := s.newKey(ctx, spec, usage, "", DefaultKeyPolicy("aws", "000000000000"), "CUSTOMER", nil)
		if err != nil {
			t.Fatal(err)
		}
		e, err := kv.Get(ctx, keyPrefix+k.rec.KeyID)
		if err != nil {
			t.Fatal(err)
		}
		mat := k.mats[1]
		if len(mat) < 16 || bytes.Contains(e.Value, mat) || bytes.Contains(e.Value, []byte(base64.StdEncoding.EncodeToString(mat))) ||
			bytes.Contains(e.Value, raw) || bytes.Contains(e.Value, []byte(base64.StdEncoding.EncodeToString(raw))) {
			t.Fatalf("%s: the record holds key material or the master key", spec)
		}
		w := k.rec.Materials[0].Wrapped
		if _, err := mk.unwrap(w, materialAAD(k.rec.KeyID, 2)); err == nil {
			t.Fatalf("%s: material unwrapped for another version", spec)
		}
		if got, err := mk.unwrap(w, materialAAD(k.rec.KeyID, 1)); err != nil || !bytes.Equal(got, mat) {
			t.Fatalf("%s: unwrap: %v", spec, err)
		}
	}
}
