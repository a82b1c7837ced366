package kms_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/kumo-run/kumo/internal/natsd"
	kumokms "github.com/kumo-run/kumo/internal/services/kms"
	"github.com/kumo-run/kumo/internal/store"
)

// TestKeyFromAnotherNode: a node whose view has not seen a key created
// through another node (here: its watch is stopped) still finds it, its
// alias and its ciphertexts, by reading the store.
func TestKeyFromAnotherNode(t *testing.T) {
	dir := t.TempDir()
	ns, err := natsd.Start(natsd.Config{DataDir: dir, Sync: natsd.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect("kms-readthrough-test")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.NewJetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	kv, err := st.KV(ctx, natsd.KMSBucket)
	if err != nil {
		t.Fatal(err)
	}
	master, err := kumokms.LoadMasterKey("", "", dir)
	if err != nil {
		t.Fatal(err)
	}
	open := func() *kumokms.Service {
		s, err := kumokms.Open(ctx, kumokms.Config{KV: kv, Master: master, Region: "us-east-1", Account: account, SweepInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	one, other := open(), open()
	defer one.Close()
	// other's view stops here: nothing written from now on reaches it
	// through its watch.
	other.Close()

	arn, err := one.ManagedKey(ctx, "lambda")
	if err != nil {
		t.Fatal(err)
	}
	blob, _, err := one.Encrypt(ctx, "alias/aws/lambda", []byte("env"), map[string]string{"f": "x"})
	if err != nil {
		t.Fatal(err)
	}
	plain, got, err := other.Decrypt(ctx, blob, map[string]string{"f": "x"})
	if err != nil {
		t.Fatalf("decrypting on the node that has not seen the key: %v", err)
	}
	if !bytes.Equal(plain, []byte("env")) || got != arn {
		t.Fatalf("decrypted %q under %s, want %q under %s", plain, got, "env", arn)
	}
	if a, err := other.ManagedKey(ctx, "lambda"); err != nil || a != arn {
		t.Fatalf("the other node's managed key: %s, %v; want the one created first, %s", a, err, arn)
	}
	if _, err := other.KeyARN("alias/aws/nothing"); err == nil {
		t.Fatal("an alias nobody created resolved")
	}
}
