package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"runtime"
	"testing"

	"github.com/kumo-run/kumo/internal/natsd"
)

// generated is n bytes of a deterministic pattern, made as they are read.
// Every 16 MiB it samples the heap in use, keeping the highest.
type generated struct {
	n, off   int64
	peakHeap uint64
}

func (g *generated) Read(p []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	if g.off%(16<<20) < int64(len(p)) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		g.peakHeap = max(g.peakHeap, ms.HeapInuse)
	}
	p = p[:min(int64(len(p)), g.n-g.off)]
	for i := range p {
		x := uint64(g.off + int64(i))
		p[i] = byte(x*2654435761>>13) ^ byte(x>>8)
	}
	g.off += int64(len(p))
	return len(p), nil
}

// TestLargeBlobPut: a blob far larger than the stream's ingest queue
// (and than nats.go's ObjectStore.Put can publish in one go) streams in
// whole, reads back byte for byte, replaces an earlier blob of the name,
// and the heap does not grow with it.
func TestLargeBlobPut(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 384 MiB")
	}
	const size = 384 << 20
	st := openJetStream(t, t.TempDir(), natsd.SyncInterval)
	ctx := context.Background()
	bl, err := st.Blobs(ctx, natsd.S3Objects)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bl.Put(ctx, "big", bytes.NewReader([]byte("an earlier, small blob"))); err != nil {
		t.Fatal(err)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	want := sha256.New()
	gen := &generated{n: size}
	info, err := bl.Put(ctx, "big", io.TeeReader(gen, want))
	if err != nil {
		t.Fatalf("Put of %d MiB: %v", size>>20, err)
	}
	if info.Size != size {
		t.Fatalf("Put stored %d bytes, want %d", info.Size, size)
	}
	// The server is in this process: chunks it has not stored yet are
	// on this heap. It must not hold a large part of the blob at once.
	grown := int64(gen.peakHeap) - int64(before.HeapInuse)
	t.Logf("heap in use grew by up to %d MiB during the put", grown>>20)
	if grown > 96<<20 {
		t.Errorf("heap in use grew by up to %d MiB during a %d MiB put", grown>>20, size>>20)
	}
	rc, got, err := bl.Get(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil || n != size || got.Size != size || !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
		t.Fatalf("read back %d bytes (info %d), err %v, digest equal %v", n, got.Size, err, bytes.Equal(h.Sum(nil), want.Sum(nil)))
	}
}
