package main

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"
)

// TestHTTPAPIBench runs the HTTP API measurement against a server it
// starts; it prints the tables and asserts only that the run completed.
// Set KUMO_BENCH_APIGW=1 (or quick) to run it (it builds kumo, about 20 s).
func TestHTTPAPIBench(t *testing.T) {
	if os.Getenv("KUMO_BENCH_APIGW") == "" {
		t.Skip("set KUMO_BENCH_APIGW=1 to run the HTTP API benchmark")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var out bytes.Buffer
	b := &bench{opts: options{Quick: os.Getenv("KUMO_BENCH_APIGW") == "quick"}, out: &out, hc: newHTTPClient(), prefix: "kumo-bench-" + randHex(3) + "-"}
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
	u, err := b.runHTTPAPI(ctx)
	if err != nil {
		t.Fatalf("runHTTPAPI: %v\n%s", err, b.tgt.logTail())
	}
	if u.Sequential.N == 0 || len(u.Throughput) != 3 {
		t.Fatalf("incomplete result: %+v", u)
	}
	b.printHTTPAPI(u)
	t.Log(out.String())
}
