// Package storetest is the conformance suite every store.Store
// implementation passes: the contracts written in package store, checked
// the same way for each.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/store"
)

// Run runs the suite. open returns a new, empty store for one subtest; it
// registers its own cleanup with t. Run closes the store too (Close must be
// idempotent).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"KVGetMissing", testGetMissing},
		{"KVCreate", testCreate},
		{"KVUpdate", testUpdate},
		{"KVPut", testPut},
		{"KVDelete", testDelete},
		{"KVValues", testValues},
		{"KVInvalidKeys", testInvalidKeys},
		{"KVBucketsAreSeparate", testBucketsSeparate},
		{"KVList", testList},
		{"KVWatch", testWatch},
		{"KVWatchEmpty", testWatchEmpty},
		{"KVWatchCancel", testWatchCancel},
		{"KVWatchClose", testWatchClose},
		{"KVConcurrentCAS", testConcurrentCAS},
		{"KVCanceledContext", testCanceledContext},
		{"Blobs", testBlobs},
		{"BlobsLarge", testBlobsLarge},
		{"BlobsFailedPut", testBlobsFailedPut},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

const wait = 10 * time.Second

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func openKV(t *testing.T, s store.Store, bucket string) store.KV {
	t.Helper()
	kv, err := s.KV(ctxT(t), bucket)
	if err != nil {
		t.Fatalf("KV(%q): %v", bucket, err)
	}
	return kv
}

func mustPut(t *testing.T, kv store.KV, key, value string) uint64 {
	t.Helper()
	rev, err := kv.Put(ctxT(t), key, []byte(value))
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return rev
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

func wantEntry(t *testing.T, kv store.KV, key, value string, rev uint64) {
	t.Helper()
	e, err := kv.Get(ctxT(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if e.Key != key || string(e.Value) != value || e.Deleted || (rev != 0 && e.Revision != rev) {
		t.Fatalf("Get(%q) = %+v, want value %q rev %d", key, e, value, rev)
	}
}

func testGetMissing(t *testing.T, s store.Store) {
	kv := openKV(t, s, "b")
	_, err := kv.Get(ctxT(t), "no.such.key")
	wantErr(t, "Get missing", err, store.ErrNotFound)
}

func testCreate(t *testing.T, s store.Store) {
	ctx, kv := ctxT(t), openKV(t, s, "b")
	rev, err := kv.Create(ctx, "fn.a", []byte("one"))
	if err != nil || rev == 0 {
		t.Fatalf("Create = %d, %v", rev, err)
	}
	wantEntry(t, kv, "fn.a", "one", rev)

	_, err = kv.Create(ctx, "fn.a", []byte("two"))
	wantErr(t, "Create twice", err, store.ErrExists)
	wantEntry(t, kv, "fn.a", "one", rev)

	// A deleted key can be created again.
	if err := kv.Delete(ctx, "fn.a", 0); err != nil {
		t.Fatal(err)
	}
	rev2, err := kv.Create(ctx, "fn.a", []byte("three"))
	if err != nil || rev2 <= rev {
		t.Fatalf("Create after Delete = %d, %v (first rev %d)", rev2, err, rev)
	}
	wantEntry(t, kv, "fn.a", "three", rev2)
	_, err = kv.Create(ctx, "fn.a", []byte("four"))
	wantErr(t, "Create after re-create", err, store.ErrExists)
}

func testUpdate(t *testing.T, s store.Store) {
	ctx, kv := ctxT(t), openKV(t, s, "b")
	rev1 := mustPut(t, kv, "k", "v1")
	rev2, err := kv.Update(ctx, "k", []byte("v2"), rev1)
	if err != nil || rev2 <= rev1 {
		t.Fatalf("Update = %d, %v (from %d)", rev2, err, rev1)
	}
	wantEntry(t, kv, "k", "v2", rev2)

	_, err = kv.Update(ctx, "k", []byte("stale"), rev1)
	wantErr(t, "Update with stale rev", err, store.ErrConflict)
	_, err = kv.Update(ctx, "k", []byte("future"), rev2+100)
	wantErr(t, "Update with future rev", err, store.ErrConflict)
	_, err = kv.Update(ctx, "k", []byte("zero"), 0)
	wantErr(t, "Update existing with rev 0", err, store.ErrConflict)
	wantEntry(t, kv, "k", "v2", rev2)

	// A revision of another key is not this key's.
	other := mustPut(t, kv, "other", "x")
	_, err = kv.Update(ctx, "k", []byte("x"), other)
	wantErr(t, "Update with another key's rev", err, store.ErrConflict)

	for _, rev := range []uint64{0, 1, rev2} {
		_, err = kv.Update(ctx, "missing", []byte("x"), rev)
		wantErr(t, fmt.Sprintf("Update missing key rev %d", rev), err, store.ErrConflict)
	}
	_, err = kv.Get(ctx, "missing")
	wantErr(t, "Get after failed Updates", err, store.ErrNotFound)

	// A deleted key does not exist, whatever revision is named, including
	// the deletion's own (as a watcher sees it).
	ch, err := kv.Watch(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	skipInitial(t, ch)
	if err := kv.Delete(ctx, "k", 0); err != nil {
		t.Fatal(err)
	}
	del := recv(t, ch)
	if !del.Deleted || del.Key != "k" {
		t.Fatalf("watch after Delete: %+v", del)
	}
	for _, rev := range []uint64{rev2, del.Revision} {
		_, err = kv.Update(ctx, "k", []byte("revived"), rev)
		wantErr(t, fmt.Sprintf("Update deleted key at rev %d", rev), err, store.ErrConflict)
	}
	_, err = kv.Get(ctx, "k")
	wantErr(t, "Get deleted key", err, store.ErrNotFound)
}

func testPut(t *testing.T, s store.Store) {
	ctx, kv := ctxT(t), openKV(t, s, "b")
	var last uint64
	for i, key := range []string{"a", "b", "a", "c.d", "a"} {
		rev, err := kv.Put(ctx, key, []byte(strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		if rev <= last {
			t.Fatalf("Put %d: rev %d not above %d: revisions grow with every write to the bucket", i, rev, last)
		}
		last = rev
	}
	wantEntry(t, kv, "a", "4", last)
	wantEntry(t, kv, "b", "1", 0)
}

func testDelete(t *testing.T, s store.Store) {
	ctx, kv := ctxT(t), openKV(t, s, "b")
	if err := kv.Delete(ctx, "missing", 0); err != nil {
		t.Fatalf("Delete missing key with rev 0: %v", err)
	}
	wantErr(t, "Delete missing key with rev", kv.Delete(ctx, "missing", 1), store.ErrConflict)

	rev1 := mustPut(t, kv, "k", "v1")
	rev2 := mustPut(t, kv, "k", "v2")
	wantErr(t, "Delete with stale rev", kv.Delete(ctx, "k", rev1), store.ErrConflict)
	wantEntry(t, kv, "k", "v2", rev2)
	if err := kv.Delete(ctx, "k", rev2); err != nil {
		t.Fatalf("Delete with current rev: %v", err)
	}
	_, err := kv.Get(ctx, "k")
	wantErr(t, "Get after Delete", err, store.ErrNotFound)
	wantErr(t, "Delete deleted key with its old rev", kv.Delete(ctx, "k", rev2), store.ErrConflict)
	if err := kv.Delete(ctx, "k", 0); err != nil {
		t.Fatalf("Delete deleted key with rev 0: %v", err)
	}

	mustPut(t, kv, "u", "x")
	if err := kv.Delete(ctx, "u", 0); err != nil {
		t.Fatalf("unconditional Delete: %v", err)
	}
	_, err = kv.Get(ctx, "u")
	wantErr(t, "Get after unconditional Delete", err, store.ErrNotFound)
	// Revisions keep growing after deletions.
	if rev := mustPut(t, kv, "u", "y"); rev <= rev2 {
		t.Fatalf("Put after Delete: rev %d not above %d", rev, rev2)
	}
}

func testValues(t *testing.T, s store.Store) {
	ctx, kv := ctxT(t), openKV(t, s, "b")
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	big := bytes.Repeat([]byte("x"), 512<<10)
	for key, v := range map[string][]byte{"empty": {}, "binary": bin, "big": big} {
		if _, err := kv.Put(ctx, key, v); err != nil {
			t.Fatalf("Put %s: %v", key, err)
		}
		e, err := kv.Get(ctx, key)
		if err != nil || !bytes.Equal(e.Value, v) {
			t.Fatalf("Get %s: %d bytes, %v; want %d bytes", key, len(e.Value), err, len(v))
		}
	}
	// The store keeps its own copy of a value.
	v := []byte("abc")
	if _, err := kv.Put(ctx, "copy", v); err != nil {
		t.Fatal(err)
	}
	v[0] = 'X'
	wantEntry(t, kv, "copy", "abc", 0)
}

func testInvalidKeys(t *testing.T, s store.Store) {
	ctx, kv := ctxT(t), openKV(t, s, "b")
	for _, key := range []string{"", ".", "a.", ".a", "a..b", "a b", "a*", "a.>", ">", "é", "a/b", "a\nb"} {
		if _, err := kv.Put(ctx, key, nil); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Put(%q): err = %v, want ErrInvalidKey", key, err)
		}
		if _, err := kv.Get(ctx, key); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Get(%q): err = %v, want ErrInvalidKey", key, err)
		}
	}
	for _, key := range []string{"a", "fn.my-function.v.3", "A_b=c-9", "x.y.z"} {
		if _, err := kv.Put(ctx, key, nil); err != nil {
			t.Errorf("Put(%q): %v", key, err)
		}
	}
	for _, prefix := range []string{"a", ".", "a..", "a.*.", "*.", "> "} {
		if _, err := kv.List(ctx, prefix); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("List(%q): err = %v, want ErrInvalidKey", prefix, err)
		}
		if _, err := kv.Watch(ctx, prefix); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Watch(%q): err = %v, want ErrInvalidKey", prefix, err)
		}
	}
	for _, bucket := range []string{"", "a.b", "a b", "a*", "a=b"} {
		if _, err := s.KV(ctx, bucket); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("KV(%q): err = %v, want ErrInvalidKey", bucket, err)
		}
		if _, err := s.Blobs(ctx, bucket); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Blobs(%q): err = %v, want ErrInvalidKey", bucket, err)
		}
	}
	bl, err := s.Blobs(ctx, "blobs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bl.Put(ctx, "a/b", strings.NewReader("x")); !errors.Is(err, store.ErrInvalidKey) {
		t.Errorf("Blobs.Put(a/b): err = %v, want ErrInvalidKey", err)
	}
}

func testBucketsSeparate(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := openKV(t, s, "bucket-a"), openKV(t, s, "bucket_b")
	mustPut(t, a, "k", "in a")
	_, err := b.Get(ctx, "k")
	wantErr(t, "Get from the other bucket", err, store.ErrNotFound)
	mustPut(t, b, "k", "in b")
	wantEntry(t, a, "k", "in a", 0)
	// Opening a bucket again sees the same data.
	wantEntry(t, openKV(t, s, "bucket-a"), "k", "in a", 0)
}

func testList(t *testing.T, s store.Store) {
	ctx, kv := ctxT(t), openKV(t, s, "b")
	revs := map[string]uint64{}
	for _, key := range []string{"fn.b.y", "fn.a.x", "fn.ab.z", "fn.a.y", "fn.a", "other", "fn.a.gone", "fn.a.deep.er"} {
		revs[key] = mustPut(t, kv, key, "v-"+key)
	}
	if err := kv.Delete(ctx, "fn.a.gone", 0); err != nil {
		t.Fatal(err)
	}
	revs["fn.a.y"] = mustPut(t, kv, "fn.a.y", "v-fn.a.y") // rewritten: listed once

	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"fn.a.", []string{"fn.a.deep.er", "fn.a.x", "fn.a.y"}},
		{"fn.", []string{"fn.a", "fn.a.deep.er", "fn.a.x", "fn.a.y", "fn.ab.z", "fn.b.y"}},
		{"", []string{"fn.a", "fn.a.deep.er", "fn.a.x", "fn.a.y", "fn.ab.z", "fn.b.y", "other"}},
		{"none.", []string{}},
		{"fn.a.x.", []string{}},
	} {
		got, err := kv.List(ctx, tc.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", tc.prefix, err)
		}
		if got == nil {
			t.Errorf("List(%q) = nil, want an empty slice", tc.prefix)
		}
		var keys []string
		for _, e := range got {
			keys = append(keys, e.Key)
			if string(e.Value) != "v-"+e.Key || e.Revision != revs[e.Key] || e.Deleted {
				t.Errorf("List(%q): entry %+v, want value %q rev %d", tc.prefix, e, "v-"+e.Key, revs[e.Key])
			}
		}
		if strings.Join(keys, " ") != strings.Join(tc.want, " ") {
			t.Errorf("List(%q) keys = %q, want %q", tc.prefix, keys, tc.want)
		}
	}
	// An empty bucket lists nothing.
	got, err := openKV(t, s, "empty").List(ctx, "")
	if err != nil || len(got) != 0 {
		t.Errorf("List on empty bucket = %v, %v", got, err)
	}
}

// recv returns the next entry of a watch, failing the test if none comes.
func recv(t *testing.T, ch <-chan store.Entry) store.Entry {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return e
	case <-time.After(wait):
		t.Fatal("no watch entry in time")
	}
	return store.Entry{}
}

// skipInitial reads a watch's initial values up to the marker.
func skipInitial(t *testing.T, ch <-chan store.Entry) []store.Entry {
	t.Helper()
	var got []store.Entry
	for {
		e := recv(t, ch)
		if e.Key == "" {
			return got
		}
		got = append(got, e)
	}
}

// quiet checks that nothing more arrives for a short while.
func quiet(t *testing.T, ch <-chan store.Entry) {
	t.Helper()
	select {
	case e, ok := <-ch:
		t.Fatalf("unexpected watch entry %+v (open %v)", e, ok)
	case <-time.After(100 * time.Millisecond):
	}
}

// closed waits for a watch channel to close, discarding what is left.
func closed(t *testing.T, ch <-chan store.Entry) {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch channel not closed in time")
		}
	}
}

func testWatch(t *testing.T, s store.Store) {
	ctx, kv := ctxT(t), openKV(t, s, "b")
	revB := mustPut(t, kv, "p.b", "b1")
	revA := mustPut(t, kv, "p.a", "a1")
	mustPut(t, kv, "q.x", "outside")
	mustPut(t, kv, "p.gone", "x")
	if err := kv.Delete(ctx, "p.gone", 0); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := kv.Watch(wctx, "p.")
	if err != nil {
		t.Fatal(err)
	}
	initial := skipInitial(t, ch)
	want := []store.Entry{{Key: "p.a", Value: []byte("a1"), Revision: revA}, {Key: "p.b", Value: []byte("b1"), Revision: revB}}
	if fmt.Sprint(initial) != fmt.Sprint(want) {
		t.Fatalf("initial values %+v, want %+v (live entries as List, sorted)", initial, want)
	}

	var revs []uint64
	check := func(e store.Entry, key, value string, deleted bool) {
		t.Helper()
		if e.Key != key || string(e.Value) != value || e.Deleted != deleted {
			t.Fatalf("watch entry %+v, want key %q value %q deleted %v", e, key, value, deleted)
		}
		revs = append(revs, e.Revision)
	}
	rev := mustPut(t, kv, "p.a", "a2")
	e := recv(t, ch)
	check(e, "p.a", "a2", false)
	if e.Revision != rev {
		t.Fatalf("watch revision %d, Put returned %d", e.Revision, rev)
	}
	mustPut(t, kv, "q.y", "outside")
	mustPut(t, kv, "pp.y", "outside")
	if err := kv.Delete(ctx, "p.b", 0); err != nil {
		t.Fatal(err)
	}
	check(recv(t, ch), "p.b", "", true)
	if _, err := kv.Create(ctx, "p.c.d", []byte("c")); err != nil {
		t.Fatal(err)
	}
	check(recv(t, ch), "p.c.d", "c", false)
	if _, err := kv.Update(ctx, "p.c.d", []byte("c2"), revs[len(revs)-1]); err != nil {
		t.Fatal(err)
	}
	check(recv(t, ch), "p.c.d", "c2", false)
	if err := kv.Delete(ctx, "p.c.d", revs[len(revs)-1]); err != nil {
		t.Fatal(err)
	}
	check(recv(t, ch), "p.c.d", "", true)
	// Failed writes and deletes of missing keys change nothing.
	kv.Create(ctx, "p.a", []byte("no"))
	kv.Update(ctx, "p.a", []byte("no"), 1)
	kv.Delete(ctx, "p.missing", 0)
	quiet(t, ch)
	for i := 1; i < len(revs); i++ {
		if revs[i] <= revs[i-1] {
			t.Fatalf("watch revisions not increasing: %v", revs)
		}
	}

	// A burst of writes to a few keys: a value overwritten before it was
	// sent may be skipped, but what arrives is in revision order, each
	// entry is what was written at its revision, and every key's last
	// write arrives.
	const n = 300
	written := map[uint64]string{} // revision -> key=value
	last := map[string]uint64{}
	for i := range n {
		key := fmt.Sprintf("p.burst%d", i%3)
		rev := mustPut(t, kv, key, strconv.Itoa(i))
		written[rev] = key + "=" + strconv.Itoa(i)
		last[key] = rev
	}
	if err := kv.Delete(ctx, "p.burst0", 0); err != nil {
		t.Fatal(err)
	}
	prev := revs[len(revs)-1]
	for len(last) > 0 {
		e := recv(t, ch)
		if e.Revision <= prev {
			t.Fatalf("watch revision %d after %d", e.Revision, prev)
		}
		prev = e.Revision
		if e.Deleted {
			if e.Key != "p.burst0" {
				t.Fatalf("unexpected deletion %+v", e)
			}
			delete(last, e.Key)
			continue
		}
		if got := e.Key + "=" + string(e.Value); written[e.Revision] != got {
			t.Fatalf("watch entry %q at rev %d, but %q was written there", got, e.Revision, written[e.Revision])
		}
		if e.Revision == last[e.Key] && e.Key != "p.burst0" {
			delete(last, e.Key)
		}
	}
	quiet(t, ch)

	cancel()
	closed(t, ch)
}

func testWatchEmpty(t *testing.T, s store.Store) {
	ctx, kv := ctxT(t), openKV(t, s, "b")
	mustPut(t, kv, "other.k", "x")
	ch, err := kv.Watch(ctx, "p.")
	if err != nil {
		t.Fatal(err)
	}
	if e := recv(t, ch); e.Key != "" {
		t.Fatalf("first entry %+v, want the end-of-initial marker", e)
	}
	mustPut(t, kv, "p.k", "v")
	if e := recv(t, ch); e.Key != "p.k" {
		t.Fatalf("entry %+v, want p.k", e)
	}

	// Watching everything.
	all, err := kv.Watch(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := skipInitial(t, all); len(got) != 2 {
		t.Fatalf("initial values of Watch(\"\") = %+v", got)
	}
}

// goroutinesBack waits until the number of goroutines falls to at most n.
func goroutinesBack(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines leaked: %d, want at most %d\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testWatchCancel(t *testing.T, s store.Store) {
	ctx, kv := ctxT(t), openKV(t, s, "b")
	for i := range 50 {
		mustPut(t, kv, fmt.Sprintf("p.k%d", i), "v")
	}
	// Warm up whatever the store starts once.
	if _, err := kv.List(ctx, ""); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()

	var chans []<-chan store.Entry
	var cancels []context.CancelFunc
	for i := range 20 {
		wctx, cancel := context.WithCancel(ctx)
		cancels = append(cancels, cancel)
		ch, err := kv.Watch(wctx, "p.")
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
		if i%2 == 0 {
			skipInitial(t, ch) // half read everything, half nothing
		}
	}
	// Writes pile up behind the watchers that do not read.
	for i := range 400 {
		mustPut(t, kv, "p.k0", strconv.Itoa(i))
	}
	// Lists cut short by their context.
	for range 5 {
		lctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := kv.List(lctx, ""); err == nil {
			// A store may finish before noticing; that is fine too.
			continue
		}
	}
	for _, cancel := range cancels {
		cancel()
	}
	for _, ch := range chans {
		closed(t, ch)
	}
	// Watches started on an already-canceled context end too.
	dead, cancel := context.WithCancel(ctx)
	cancel()
	if ch, err := kv.Watch(dead, "p."); err == nil {
		closed(t, ch)
	}
	goroutinesBack(t, before+2)
}

func testWatchClose(t *testing.T, s store.Store) {
	ctx, kv := ctxT(t), openKV(t, s, "b")
	mustPut(t, kv, "p.k", "v")
	ch, err := kv.Watch(ctx, "p.")
	if err != nil {
		t.Fatal(err)
	}
	unread, err := kv.Watch(ctx, "p.")
	if err != nil {
		t.Fatal(err)
	}
	skipInitial(t, ch)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	closed(t, ch)
	closed(t, unread)
	if _, err := kv.Watch(ctx, "p."); err == nil {
		t.Error("Watch after Close succeeded")
	}
	if _, err := s.KV(ctx, "b"); err == nil {
		t.Error("KV after Close succeeded")
	}
}

func testConcurrentCAS(t *testing.T, s store.Store) {
	ctx, kv := ctxT(t), openKV(t, s, "b")
	const workers, perWorker = 8, 25
	if _, err := kv.Create(ctx, "counter", []byte("0")); err != nil {
		t.Fatal(err)
	}
	var conflicts sync.Map
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			n := 0
			for done := 0; done < perWorker; {
				e, err := kv.Get(ctx, "counter")
				if err != nil {
					errs <- err
					return
				}
				v, _ := strconv.Atoi(string(e.Value))
				runtime.Gosched() // let others in between read and write
				_, err = kv.Update(ctx, "counter", []byte(strconv.Itoa(v+1)), e.Revision)
				switch {
				case err == nil:
					done++
				case errors.Is(err, store.ErrConflict):
					n++
				default:
					errs <- err
					return
				}
			}
			conflicts.Store(w, n)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wantEntry(t, kv, "counter", strconv.Itoa(workers*perWorker), 0)
	total := 0
	conflicts.Range(func(_, v any) bool { total += v.(int); return true })
	t.Logf("%d increments, %d conflicts retried", workers*perWorker, total)
}

func testCanceledContext(t *testing.T, s store.Store) {
	kv := openKV(t, s, "b")
	mustPut(t, kv, "k", "v")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := kv.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get on canceled ctx: err = %v, want context.Canceled", err)
	}
	if _, err := kv.Put(ctx, "k", []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put on canceled ctx: err = %v, want context.Canceled", err)
	}
	if _, err := kv.List(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("List on canceled ctx: err = %v, want context.Canceled", err)
	}
	wantEntry(t, kv, "k", "v", 0)
}

func openBlobs(t *testing.T, s store.Store, bucket string) store.Blobs {
	t.Helper()
	b, err := s.Blobs(ctxT(t), bucket)
	if err != nil {
		t.Fatalf("Blobs(%q): %v", bucket, err)
	}
	return b
}

func readBlob(t *testing.T, b store.Blobs, name string) ([]byte, store.BlobInfo) {
	t.Helper()
	rc, info, err := b.Get(ctxT(t), name)
	if err != nil {
		t.Fatalf("Get blob %q: %v", name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read blob %q: %v", name, err)
	}
	return data, info
}

func testBlobs(t *testing.T, s store.Store) {
	ctx, b := ctxT(t), openBlobs(t, s, "code")
	start := time.Now().Add(-time.Minute)

	_, _, err := b.Get(ctx, "missing")
	wantErr(t, "Get missing blob", err, store.ErrNotFound)
	_, err = b.Stat(ctx, "missing")
	wantErr(t, "Stat missing blob", err, store.ErrNotFound)
	if err := b.Delete(ctx, "missing"); err != nil {
		t.Fatalf("Delete missing blob: %v", err)
	}
	if l, err := b.List(ctx); err != nil || len(l) != 0 {
		t.Fatalf("List of empty bucket = %v, %v", l, err)
	}

	for name, content := range map[string]string{"fn.b.zip": "bbbb", "fn.a.zip": "aa", "empty": ""} {
		info, err := b.Put(ctx, name, strings.NewReader(content))
		if err != nil {
			t.Fatalf("Put %q: %v", name, err)
		}
		if info.Name != name || info.Size != int64(len(content)) || info.ModTime.Before(start) {
			t.Fatalf("Put %q = %+v", name, info)
		}
		data, info := readBlob(t, b, name)
		if string(data) != content || info.Size != int64(len(content)) || info.Name != name {
			t.Fatalf("Get %q = %q %+v", name, data, info)
		}
		st, err := b.Stat(ctx, name)
		if err != nil || st.Size != int64(len(content)) || st.Name != name || st.ModTime.Before(start) {
			t.Fatalf("Stat %q = %+v, %v", name, st, err)
		}
	}
	list, err := b.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(names(list)); got != "[empty fn.a.zip fn.b.zip]" {
		t.Fatalf("List = %s, want sorted names", got)
	}
	if list[1].Size != 2 || list[2].Size != 4 {
		t.Fatalf("List sizes: %+v", list)
	}

	// Overwrite replaces the content.
	if _, err := b.Put(ctx, "fn.a.zip", strings.NewReader("new content")); err != nil {
		t.Fatal(err)
	}
	if data, _ := readBlob(t, b, "fn.a.zip"); string(data) != "new content" {
		t.Fatalf("after overwrite: %q", data)
	}

	if err := b.Delete(ctx, "fn.a.zip"); err != nil {
		t.Fatal(err)
	}
	_, _, err = b.Get(ctx, "fn.a.zip")
	wantErr(t, "Get deleted blob", err, store.ErrNotFound)
	_, err = b.Stat(ctx, "fn.a.zip")
	wantErr(t, "Stat deleted blob", err, store.ErrNotFound)
	if err := b.Delete(ctx, "fn.a.zip"); err != nil {
		t.Fatalf("Delete deleted blob: %v", err)
	}
	if list, err := b.List(ctx); err != nil || fmt.Sprint(names(list)) != "[empty fn.b.zip]" {
		t.Fatalf("List after Delete = %v, %v", list, err)
	}
	// A deleted name can be used again.
	if _, err := b.Put(ctx, "fn.a.zip", strings.NewReader("again")); err != nil {
		t.Fatal(err)
	}
	if data, _ := readBlob(t, b, "fn.a.zip"); string(data) != "again" {
		t.Fatalf("after re-Put: %q", data)
	}

	// Blob buckets are separate from each other.
	if _, _, err := openBlobs(t, s, "other").Get(ctx, "fn.b.zip"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get from the other bucket: %v", err)
	}
}

func names(l []store.BlobInfo) []string {
	var out []string
	for _, bi := range l {
		out = append(out, bi.Name)
	}
	return out
}

func testBlobsLarge(t *testing.T, s store.Store) {
	ctx, b := ctxT(t), openBlobs(t, s, "code")
	rng := rand.NewChaCha8([32]byte{1, 2, 3})
	for _, size := range []int{1 << 20, 60 << 20} {
		data := make([]byte, size)
		rng.Read(data)
		name := fmt.Sprintf("big.%d", size)
		info, err := b.Put(ctx, name, bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Put %d bytes: %v", size, err)
		}
		if info.Size != int64(size) {
			t.Fatalf("Put size %d, want %d", info.Size, size)
		}
		rc, info, err := b.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil || n != int64(size) || info.Size != int64(size) {
			t.Fatalf("read %d bytes (%v), info %+v; want %d", n, err, info, size)
		}
		if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatalf("%d-byte blob read back with different content", size)
		}
	}
	// A reader closed early does no harm.
	rc, _, err := b.Get(ctx, fmt.Sprintf("big.%d", 60<<20))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatal(err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if data, _ := readBlob(t, b, "big.1048576"); len(data) != 1<<20 {
		t.Fatalf("read after early close: %d bytes", len(data))
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	n := min(len(p), r.n)
	for i := range n {
		p[i] = 'x'
	}
	r.n -= n
	return n, nil
}

func testBlobsFailedPut(t *testing.T, s store.Store) {
	ctx, b := ctxT(t), openBlobs(t, s, "code")
	if _, err := b.Put(ctx, "fn.zip", strings.NewReader("old")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, "fn.zip", &failingReader{n: 300 << 10}); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	if data, info := readBlob(t, b, "fn.zip"); string(data) != "old" || info.Size != 3 {
		t.Fatalf("after failed Put: %q %+v, want the old blob whole", data, info)
	}
	if _, err := b.Put(ctx, "new.zip", &failingReader{n: 10}); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	_, err := b.Stat(ctx, "new.zip")
	wantErr(t, "Stat after failed first Put", err, store.ErrNotFound)
}
