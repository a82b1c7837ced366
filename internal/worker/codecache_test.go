package worker

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/kumo-run/kumo/internal/store"
)

// laggingBlobs answers ErrNotFound to the first misses Gets, as a replica
// that has not caught up with a write yet does.
type laggingBlobs struct {
	store.Blobs
	misses int32
	gets   atomic.Int32
	onGet  func(n int32)
}

func (b *laggingBlobs) Get(ctx context.Context, name string) (io.ReadCloser, store.BlobInfo, error) {
	n := b.gets.Add(1)
	if b.onGet != nil {
		b.onGet(n)
	}
	if n <= b.misses {
		return nil, store.BlobInfo{}, store.ErrNotFound
	}
	return b.Blobs.Get(ctx, name)
}

func TestCodeFromLaggingReplica(t *testing.T) {
	ctx := context.Background()
	blobs, err := store.NewMemory().Blobs(ctx, "code")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	f, _ := zw.Create("app.py")
	f.Write([]byte("print('hi')\n"))
	zw.Close()
	if _, err := blobs.Put(ctx, "abc", &buf); err != nil {
		t.Fatal(err)
	}

	lag := &laggingBlobs{Blobs: blobs, misses: 3}
	c := &CodeCache{Dir: t.TempDir(), Blobs: lag}
	dir, err := c.Path(ctx, "abc")
	if err != nil {
		t.Fatalf("code behind a lagging replica: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "app.py")); err != nil || string(b) != "print('hi')\n" {
		t.Fatalf("app.py: %q, %v", b, err)
	}
	if n := lag.gets.Load(); n != 4 {
		t.Errorf("%d reads, want 4 (3 not found, then the blob)", n)
	}

	// A blob that stays missing fails once the caller gives up.
	cctx, cancel := context.WithCancel(ctx)
	missing := &laggingBlobs{Blobs: blobs, misses: 1 << 30, onGet: func(n int32) {
		if n == 2 { // gives up while the retry is in flight
			cancel()
		}
	}}
	c = &CodeCache{Dir: t.TempDir(), Blobs: missing}
	if _, err := c.Path(cctx, "nothing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a blob that never appears: %v, want ErrNotFound", err)
	}
}
