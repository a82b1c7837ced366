package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/store"
	"github.com/kumo-run/kumo/internal/store/storetest"
)

// openJetStream starts an embedded server on dir and a store on it; both
// stop when the test ends.
func openJetStream(tb testing.TB, dir string, sync natsd.SyncPolicy) store.Store {
	tb.Helper()
	srv, err := natsd.Start(natsd.Config{DataDir: dir, Sync: sync})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Shutdown)
	nc, err := srv.Connect("store-test")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	st, err := store.NewJetStream(nc)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

func TestJetStream(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openJetStream(t, t.TempDir(), natsd.SyncAlways)
	})
}

func TestJetStreamOptions(t *testing.T) {
	if _, err := store.NewJetStream(nil); err == nil {
		t.Error("NewJetStream(nil) succeeded")
	}
	srv, err := natsd.Start(natsd.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := srv.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.NewJetStream(nc, store.WithReplicas(0)); err == nil {
		t.Error("WithReplicas(0) accepted")
	}
	// A single server cannot hold three replicas: opening a bucket says so.
	st, err := store.NewJetStream(nc, store.WithReplicas(3))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := st.KV(ctx, "b"); err == nil {
		t.Error("KV with 3 replicas on one server succeeded")
	}
}

// TestJetStreamRestart checks that a clean restart keeps keys, deletions,
// revisions and blobs.
func TestJetStreamRestart(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var rev uint64
	func() {
		srv, err := natsd.Start(natsd.Config{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Shutdown()
		nc, _ := srv.Connect("a")
		st, _ := store.NewJetStream(nc)
		defer st.Close()
		kv, err := st.KV(ctx, natsd.RegistryBucket)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, "fn.a", []byte("1")); err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, "fn.b", []byte("2")); err != nil {
			t.Fatal(err)
		}
		if err := kv.Delete(ctx, "fn.b", 0); err != nil {
			t.Fatal(err)
		}
		if rev, err = kv.Put(ctx, "fn.c", []byte("3")); err != nil {
			t.Fatal(err)
		}
		bl, _ := st.Blobs(ctx, natsd.CodeBucket)
		if _, err := bl.Put(ctx, "fn.a.zip", strings.NewReader("zip")); err != nil {
			t.Fatal(err)
		}
	}()

	st := openJetStream(t, dir, natsd.SyncAlways)
	kv, err := st.KV(ctx, natsd.RegistryBucket)
	if err != nil {
		t.Fatal(err)
	}
	l, err := kv.List(ctx, "fn.")
	if err != nil || len(l) != 2 || l[0].Key != "fn.a" || l[1].Key != "fn.c" || l[1].Revision != rev {
		t.Fatalf("List after restart = %+v, %v", l, err)
	}
	if _, err := kv.Get(ctx, "fn.b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted key after restart: %v", err)
	}
	next, err := kv.Put(ctx, "fn.d", nil)
	if err != nil || next <= rev {
		t.Fatalf("Put after restart: rev %d (%v), want above %d", next, err, rev)
	}
	bl, _ := st.Blobs(ctx, natsd.CodeBucket)
	if info, err := bl.Stat(ctx, "fn.a.zip"); err != nil || info.Size != 3 {
		t.Fatalf("blob after restart: %+v, %v", info, err)
	}
}

// TestJetStreamValueLimit: a KV value is one NATS message, bounded by the
// server's max_payload (8 MiB as natsd sets it).
func TestJetStreamValueLimit(t *testing.T) {
	st := openJetStream(t, t.TempDir(), natsd.SyncAlways)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := st.KV(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "big", make([]byte, 1000<<10)); err != nil {
		t.Fatalf("Put of 1000 KiB: %v", err)
	}
	if _, err := kv.Put(ctx, "huge", make([]byte, 8<<20+1)); err == nil {
		t.Fatal("Put above max_payload succeeded")
	} else {
		t.Log(err)
	}
}
