package natsd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, l.Addr().String())
		l.Close()
	}
	return addrs
}

// startCluster starts n members, in zones a, b, c…, in parallel (each
// waits for its routes).
func startCluster(t *testing.T, n int) ([]*Server, []Config) {
	t.Helper()
	routes := freePorts(t, n)
	cfgs := make([]Config, n)
	srvs := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		cfgs[i] = Config{DataDir: t.TempDir(), ServerName: fmt.Sprintf("node-%d", i+1), Sync: SyncInterval,
			Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
			Cluster: &ClusterConfig{Name: "test", Listen: routes[i], Peers: routes, Zone: string(rune('a' + i)), Secret: "route-secret"}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			srvs[i], errs[i] = Start(cfgs[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		t.Cleanup(srvs[i].Shutdown)
	}
	return srvs, cfgs
}

// TestClusterReplicates: three members form a cluster; a bucket written
// through one is read through another, its three replicas sit in three
// zones, and it keeps taking writes with one member down, which rejoins.
func TestClusterReplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster")
	}
	srvs, cfgs := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if got := srvs[0].ClusterSize(); got != 3 {
		t.Fatalf("ClusterSize = %d, want 3", got)
	}
	if got := Replicas(srvs[0].ClusterSize()); got != 3 {
		t.Fatalf("Replicas = %d", got)
	}
	kvs := make([]jetstream.KeyValue, 3)
	for i, s := range srvs {
		nc, err := s.Connect("test")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.WaitReady(ctx, nc, 3, slog.Default()); err != nil {
			t.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		kvs[i], err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "t", Replicas: 3, Storage: jetstream.FileStorage})
		if err != nil {
			t.Fatalf("node %d: create bucket: %v", i+1, err)
		}
	}
	if _, err := kvs[0].Put(ctx, "k", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	e, err := kvs[2].Get(ctx, "k")
	if err != nil || string(e.Value()) != "v1" {
		t.Fatalf("read through node 3: %v %v", e, err)
	}
	nc, _ := srvs[0].Connect("info")
	js, _ := jetstream.New(nc)
	st, err := js.Stream(ctx, "KV_t")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster == nil || len(info.Cluster.Replicas)+1 != 3 {
		t.Fatalf("stream cluster info: %+v", info.Cluster)
	}

	// Node 2 goes; writes through 1 and reads through 3 go on (quorum 2/3).
	srvs[1].Shutdown()
	for i := range 20 {
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := kvs[0].Put(pctx, "k", fmt.Appendf(nil, "w%d", i))
		pcancel()
		if err != nil {
			// A write may fail while leadership moves; it must not be
			// acknowledged and lost, so only acknowledged ones count.
			t.Logf("put %d during failover: %v", i, err)
			continue
		}
	}
	if err := pollCtx(ctx, func() error {
		e, err := kvs[2].Get(ctx, "k")
		if err != nil {
			return err
		}
		if string(e.Value()) != "w19" {
			return fmt.Errorf("node 3 reads %q", e.Value())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Node 2 restarts on its data dir and catches up.
	s2, err := Start(cfgs[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s2.Shutdown)
	nc2, _ := s2.Connect("rejoin")
	if err := s2.WaitReady(ctx, nc2, 3, slog.Default()); err != nil {
		t.Fatal(err)
	}
	js2, _ := jetstream.New(nc2)
	kv2, err := js2.KeyValue(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if err := pollCtx(ctx, func() error {
		e, err := kv2.Get(ctx, "k")
		if err != nil {
			return err
		}
		if string(e.Value()) != "w19" {
			return fmt.Errorf("node 2 reads %q", e.Value())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Node 1 alone is a minority: it refuses writes rather than diverge.
	s2.Shutdown()
	srvs[2].Shutdown()
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	defer pcancel()
	if _, err := kvs[0].Put(pctx, "k", []byte("minority")); err == nil {
		t.Fatal("a write through a minority of one was acknowledged")
	}
}

func pollCtx(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestClusterRefusesSingleNodeStore: a data dir holding a single node's
// streams is not opened as a cluster member, which would delete them.
func TestClusterRefusesSingleNodeStore(t *testing.T) {
	dir := t.TempDir()
	s := start(t, Config{DataDir: dir})
	nc, _ := s.Connect("t")
	js, _ := jetstream.New(nc)
	if _, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "x"}); err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	routes := freePorts(t, 1)
	_, err := Start(Config{DataDir: dir, ServerName: "n1", Cluster: &ClusterConfig{Name: "c", Listen: routes[0]}})
	if err == nil || !strings.Contains(err.Error(), "single node's store") {
		t.Fatalf("Start as a cluster member on a single node's store: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, modeFile)); !os.IsNotExist(err) {
		t.Fatalf("mode file after the refused start: %v", err)
	}
	// The single node still opens it, its bucket intact.
	s = start(t, Config{DataDir: dir})
	nc, _ = s.Connect("t")
	js, _ = jetstream.New(nc)
	if _, err := js.KeyValue(context.Background(), "x"); err != nil {
		t.Fatalf("bucket after the refused start: %v", err)
	}
}

// TestAttach: a node attached to an external server (here one with a
// client port) stores through it and runs no server of its own.
func TestAttach(t *testing.T) {
	ext := start(t, Config{Listen: "127.0.0.1:0"})
	if ext.ClientURL() == "" {
		t.Fatal("no client URL")
	}
	dir := t.TempDir()
	a, err := Attach(AttachConfig{DataDir: dir, URL: ext.ClientURL()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown()
	if _, err := Attach(AttachConfig{DataDir: dir, URL: ext.ClientURL()}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Attach on the data dir: %v, want ErrLocked", err)
	}
	if a.ClusterSize() != 1 || a.Name() != "" || a.ClientURL() != ext.ClientURL() {
		t.Fatalf("size %d, name %q, url %q", a.ClusterSize(), a.Name(), a.ClientURL())
	}
	if err := a.Writable(); err != nil {
		t.Fatalf("Writable: %v", err)
	}
	if _, err := a.Space(); err != nil {
		t.Fatalf("Space: %v", err)
	}
	if a.ResetJetStream() == nil {
		t.Fatal("ResetJetStream of an external store succeeded")
	}
	nc, err := a.Connect("t")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.WaitReady(ctx, nc, 1, slog.Default()); err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "attached"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	// The external server holds it.
	enc, _ := ext.Connect("check")
	ejs, _ := jetstream.New(enc)
	ekv, err := ejs.KeyValue(ctx, "attached")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := ekv.Get(ctx, "k"); err != nil || string(e.Value()) != "v" {
		t.Fatalf("read through the external server: %v %v", e, err)
	}
	if _, err := Attach(AttachConfig{DataDir: t.TempDir(), URL: "nats://127.0.0.1:1"}); err == nil {
		t.Fatal("Attach to nothing succeeded")
	}
}
