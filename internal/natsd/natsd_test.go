package natsd

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func TestStartConnectJetStream(t *testing.T) {
	for _, sync := range []SyncPolicy{SyncAlways, SyncInterval} {
		t.Run(sync.String(), func(t *testing.T) {
			s := start(t, Config{Sync: sync})
			if got := s.ClientURL(); got != "" {
				t.Errorf("ClientURL without Listen = %q, want empty", got)
			}
			nc, err := s.Connect("test")
			if err != nil {
				t.Fatal(err)
			}
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: RegistryBucket, Storage: jetstream.FileStorage})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kv.Put(ctx, "a", []byte("1")); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(s.DataDir(), "jetstream")); err != nil {
				t.Errorf("JetStream store not under DataDir/jetstream: %v", err)
			}
		})
	}
}

func TestShutdownClosesConnections(t *testing.T) {
	s := start(t, Config{})
	nc, err := s.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	if !nc.IsClosed() {
		t.Error("connection still open after Shutdown")
	}
	s.Shutdown() // idempotent
	if _, err := s.Connect("late"); err == nil {
		t.Error("Connect after Shutdown succeeded")
	}
}

func TestDataRestart(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, want := range []string{"", "v1"} {
		s := start(t, Config{DataDir: dir})
		nc, err := s.Connect("test")
		if err != nil {
			t.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: RegistryBucket, Storage: jetstream.FileStorage})
		if err != nil {
			t.Fatal(err)
		}
		e, err := kv.Get(ctx, "k")
		switch {
		case i == 0 && !errors.Is(err, jetstream.ErrKeyNotFound):
			t.Fatalf("fresh dir: Get = %v, %v", e, err)
		case i == 1 && (err != nil || string(e.Value()) != want):
			t.Fatalf("after restart: Get = %v, %v; want %q", e, err, want)
		}
		if _, err := kv.Put(ctx, "k", []byte("v1")); err != nil {
			t.Fatal(err)
		}
		s.Shutdown()
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	s := start(t, Config{DataDir: dir})

	_, err := Start(Config{DataDir: dir})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Start on the same dir: err = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the dir %s", err, dir)
	}
	if !strings.Contains(err.Error(), "pid") {
		t.Errorf("error %q does not name the holder", err)
	}
	// A different dir is fine meanwhile.
	start(t, Config{DataDir: t.TempDir()})

	s.Shutdown()
	start(t, Config{DataDir: dir}) // the lock is released
}

func TestListen(t *testing.T) {
	s := start(t, Config{Listen: "127.0.0.1:0"})
	url := s.ClientURL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") || strings.HasSuffix(url, ":0") {
		t.Fatalf("ClientURL = %q", url)
	}
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]Config{
		"no dir":      {},
		"dir is file": {DataDir: file},
		"bad sync":    {DataDir: t.TempDir(), Sync: 7},
		"bad listen":  {DataDir: t.TempDir(), Listen: "localhost"},
		"bad port":    {DataDir: t.TempDir(), Listen: "127.0.0.1:http"},
		"bad host":    {DataDir: t.TempDir(), Listen: "256.0.0.1:1", Logger: slog.New(slog.DiscardHandler)},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := Start(cfg)
			if err == nil {
				s.Shutdown()
				t.Fatal("Start succeeded")
			}
			t.Log(err)
		})
	}
}

func TestLogsGoToSlog(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := start(t, Config{Logger: log})
	s.Shutdown()
	out := buf.String()
	if !strings.Contains(out, "component=nats-server") || !strings.Contains(out, "JetStream") {
		t.Errorf("nats-server notices missing from the debug log:\n%s", out)
	}

	// At the default level the banner and lifecycle notices stay quiet.
	buf = syncBuffer{}
	quiet := slog.New(slog.NewTextHandler(&buf, nil))
	s = start(t, Config{Logger: quiet})
	s.Shutdown()
	if out := buf.String(); out != "" {
		t.Errorf("info-level log not empty:\n%s", out)
	}
}

// TestLockOutlivesServerValue checks that the lock does not depend on the
// *Server staying reachable: a finalizer must not release it while
// nats-server runs.
func TestLockOutlivesServerValue(t *testing.T) {
	dir := t.TempDir()
	s, err := Start(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ns := s.ns
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	s = nil
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // finalizers run on their own goroutine
	}
	if s2, err := Start(Config{DataDir: dir}); !errors.Is(err, ErrLocked) {
		if s2 != nil {
			s2.Shutdown()
		}
		t.Fatalf("Start after the first Server became garbage: err = %v, want ErrLocked", err)
	}
}
