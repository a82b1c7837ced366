package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/store"
)

// BenchmarkKVPut measures one acknowledged KV Put of a 256-byte value on
// the embedded server, under each sync policy. The data dir is the test's
// temp dir, so the numbers describe that disk.
func BenchmarkKVPut(b *testing.B) {
	value := make([]byte, 256)
	for _, sync := range []natsd.SyncPolicy{natsd.SyncAlways, natsd.SyncInterval} {
		b.Run(sync.String(), func(b *testing.B) {
			st := openJetStream(b, b.TempDir(), sync)
			ctx := context.Background()
			kv, err := st.KV(ctx, natsd.RegistryBucket)
			if err != nil {
				b.Fatal(err)
			}
			keys := make([]string, 1000)
			for i := range keys {
				keys[i] = fmt.Sprintf("fn.f%d.config", i)
			}
			b.SetBytes(int64(len(value)))
			i := 0
			for b.Loop() {
				if _, err := kv.Put(ctx, keys[i%len(keys)], value); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
	// Concurrent writers: does the server share an fsync between them?
	b.Run("always-parallel", func(b *testing.B) {
		st := openJetStream(b, b.TempDir(), natsd.SyncAlways)
		ctx := context.Background()
		kv, err := st.KV(ctx, natsd.RegistryBucket)
		if err != nil {
			b.Fatal(err)
		}
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := kv.Put(ctx, fmt.Sprintf("fn.f%d.config", i%1000), value); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("memory", func(b *testing.B) {
		kv, _ := store.NewMemory().KV(context.Background(), "b")
		ctx := context.Background()
		for b.Loop() {
			if _, err := kv.Put(ctx, "fn.f.config", value); err != nil {
				b.Fatal(err)
			}
		}
	})
}
