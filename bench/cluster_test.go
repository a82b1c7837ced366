package main

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestClusterBench prints the cluster benchmark (see cluster.go); it runs
// only with KUMO_BENCH_CLUSTER=1, as it starts four kumo processes and
// takes a few minutes. It checks that every row was measured, not how
// fast.
func TestClusterBench(t *testing.T) {
	if os.Getenv("KUMO_BENCH_CLUSTER") == "" {
		t.Skip("set KUMO_BENCH_CLUSTER=1 to run the cluster benchmark")
	}
	window := 10 * time.Second
	if s := os.Getenv("KUMO_BENCH_CLUSTER_WINDOW"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		window = d
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	rows, err := runClusterBench(ctx, os.Stdout, window)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 10 {
		t.Fatalf("%d rows, want 10", len(rows))
	}
	for _, r := range rows {
		if r.PerSec <= 0 {
			t.Errorf("no invokes measured: %+v", r)
		}
	}
}
