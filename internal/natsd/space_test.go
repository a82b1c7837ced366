package natsd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// tmpfs mounts a file system of size bytes on a new directory; it skips
// the test when not root.
func tmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("skipped: mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes a file until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 256<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			return
		}
	}
}

func poll(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDefaultLimits(t *testing.T) {
	for _, tc := range []struct {
		total, reserve uint64
		max            int64
	}{
		{64 << 20, 8 << 20, 60 << 20},
		{1 << 30, 1 << 30 / 20, 1<<30 - 1<<30/40},
		{1 << 40, 2 << 30, 1<<40 - 1<<30},
		{4 << 20, 8 << 20, 2 << 20},
	} {
		if r, m := DefaultReserve(tc.total), DefaultMaxStore(tc.total); r != tc.reserve || m != tc.max {
			t.Errorf("total %d: reserve %d max %d, want %d %d", tc.total, r, m, tc.reserve, tc.max)
		}
	}
}

// The store's limit follows the file system's size, not the space free at
// start: a server started on a nearly full disk has the same limit.
func TestMaxStoreFromFileSystemSize(t *testing.T) {
	dir := tmpfs(t, 64<<20)
	fill(t, filepath.Join(dir, "filler"))
	s := start(t, Config{DataDir: filepath.Join(dir, "data")})
	sp, err := s.Space()
	if err != nil {
		t.Fatal(err)
	}
	if sp.Max != DefaultMaxStore(64<<20) || sp.Total != 64<<20 {
		t.Errorf("space %+v, want max %d", sp, DefaultMaxStore(64<<20))
	}
	if err := s.Writable(); !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), s.DataDir()) {
		t.Errorf("Writable on a full disk: %v", err)
	}
	os.Remove(filepath.Join(dir, "filler"))
	if err := s.Writable(); err != nil {
		t.Errorf("Writable after freeing space: %v", err)
	}
}

// A write that meets a full disk leaves nats-server's stream refusing
// every later write; once space is back the server reopens the store by
// itself, without losing what was stored.
func TestRepairAfterWriteError(t *testing.T) {
	dir := tmpfs(t, 16<<20)
	// A store cap above the disk's size lets a write reach the full disk.
	s := start(t, Config{DataDir: filepath.Join(dir, "data"), MaxStore: 1 << 30})
	nc, err := s.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	ctx := t.Context()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "s.a", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(dir, "filler")
	fill(t, filler)
	publish := func(subj string) error {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := js.Publish(pctx, subj, make([]byte, 64<<10))
		return err
	}
	if err := publish("s.b"); err == nil {
		t.Fatal("a write to a full disk succeeded")
	}
	poll(t, "store marked failed", func() error {
		if err := s.Writable(); !errors.Is(err, ErrStoreFailed) {
			return fmt.Errorf("Writable: %v", err)
		}
		return nil
	})
	os.Remove(filler)
	poll(t, "writes accepted again", func() error {
		if err := s.Writable(); err != nil {
			return err
		}
		return publish("s.c")
	})
	st, err := js.Stream(ctx, "S")
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(ctx, 1)
	if err != nil || string(m.Data) != "kept" {
		t.Fatalf("message stored before the failure: %v %v", m, err)
	}
}

// Reopening JetStream keeps what is stored and keeps KV watchers (the
// registry's view) and durable consumers working.
func TestResetJetStreamKeepsWatchers(t *testing.T) {
	s := start(t, Config{})
	nc, err := s.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	ctx := t.Context()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "b", Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	kv.Put(ctx, "k", []byte("1"))
	w, err := kv.WatchAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for e := range w.Updates() {
		if e == nil {
			break
		}
	}
	if err := s.ResetJetStream(); err != nil {
		t.Fatal(err)
	}
	poll(t, "put after reset", func() error {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := kv.Put(pctx, "k", []byte("2"))
		return err
	})
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e := <-w.Updates():
			if e != nil && string(e.Value()) == "2" {
				return
			}
		case <-timeout:
			t.Fatal("the watcher did not see the put after the reset")
		}
	}
}
