package main

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"
)

// TestURLBench runs the function URL measurement against a server it
// starts; it prints the tables and asserts only that the run completed.
// Set KUMO_BENCH_URLS=1 to run it (it builds kumo, about 20 s).
func TestURLBench(t *testing.T) {
	if os.Getenv("KUMO_BENCH_URLS") == "" {
		t.Skip("set KUMO_BENCH_URLS=1 to run the function URL benchmark")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	b := &bench{opts: options{Quick: os.Getenv("KUMO_BENCH_URLS") == "quick"}, out: &out, hc: newHTTPClient(), prefix: "kumo-bench-" + randHex(3) + "-"}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if b.fns, err = buildFunctions(root, dir); err != nil {
		t.Fatal(err)
	}
	if b.tgt, err = startServer(ctx, root, dir, os.Getenv("KUMO_BENCH_SANDBOX")); err != nil {
		t.Fatal(err)
	}
	defer b.tgt.stop()
	api, err := newLambdaClient(ctx, b.tgt.URL, b.tgt.Region, b.tgt.Key, b.tgt.Secret)
	if err != nil {
		t.Fatal(err)
	}
	b.dep = &deployer{api: api}
	b.inv = newInvoker(b.tgt.URL, b.tgt.Region, b.tgt.Key, b.tgt.Secret, b.hc)
	u, err := b.runURLs(ctx)
	if err != nil {
		t.Fatalf("runURLs: %v\n%s", err, b.tgt.logTail())
	}
	b.printURLs(u)
	t.Log(out.String())
}
