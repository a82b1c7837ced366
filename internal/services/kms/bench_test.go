package kms

import (
	"bytes"
	"context"
	"testing"

	"github.com/kumo-run/kumo/internal/store"
)

func benchService(b *testing.B) (*Service, string) {
	b.Helper()
	st := store.NewMemory()
	b.Cleanup(func() { st.Close() })
	kv, err := st.KV(context.Background(), "kms")
	if err != nil {
		b.Fatal(err)
	}
	mk, _ := NewMasterKey(bytes.Repeat([]byte{1}, 32))
	s, err := Open(context.Background(), Config{KV: kv, Master: mk, Region: "us-east-1", Account: "000000000000", SweepInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	arn, err := s.ManagedKey(context.Background(), "lambda")
	if err != nil {
		b.Fatal(err)
	}
	return s, arn
}

// BenchmarkSealOpen is what a registry write (Seal) and a document read
// (Open) of a function with 1 KiB of environment variables cost.
func BenchmarkSealOpen(b *testing.B) {
	s, _ := benchService(b)
	sk := ServiceKeys{KMS: s, Service: "lambda"}
	ctx := context.Background()
	ec := map[string]string{"LambdaFunctionName": "fn"}
	plain := bytes.Repeat([]byte("x"), 1024)
	b.ReportAllocs()
	for b.Loop() {
		blob, _, err := sk.Seal(ctx, "", plain, ec)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sk.Open(ctx, blob, ec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUsable is the check every invocation of a function with
// encrypted variables makes: whether its key can decrypt now.
func BenchmarkUsable(b *testing.B) {
	s, arn := benchService(b)
	sk := ServiceKeys{KMS: s, Service: "lambda"}
	b.ReportAllocs()
	for b.Loop() {
		if err := sk.Usable(arn); err != nil {
			b.Fatal(err)
		}
	}
}
