package store_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kumo-run/kumo/internal/natsd"
	"github.com/kumo-run/kumo/internal/store"
)

// The crash test runs the writer in a child process (this test binary
// re-executed into TestHelperProcess) so that it can be killed with
// SIGKILL mid-stream, as a crash would.
const (
	crashDirEnv  = "KUMO_STORE_CRASH_DIR"
	crashSyncEnv = "KUMO_STORE_CRASH_SYNC"
	crashAfter   = 200 // acknowledged KV writes before the kill
)

// blobContent is the deterministic content of blob i.
func blobContent(i int) []byte {
	seed := sha256.Sum256([]byte(strconv.Itoa(i)))
	return bytes.Repeat(seed[:], (100<<10+i*37)/len(seed))
}

// TestHelperProcess is the child of TestCrashDurability: it writes to the
// store as fast as it can and prints each write on stdout once the call has
// returned without error, until it is killed.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashDurability")
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	sync := natsd.SyncAlways
	if os.Getenv(crashSyncEnv) == natsd.SyncInterval.String() {
		sync = natsd.SyncInterval
	}
	srv, err := natsd.Start(natsd.Config{DataDir: dir, Sync: sync})
	if err != nil {
		fail(err)
	}
	nc, err := srv.Connect("crash-helper")
	if err != nil {
		fail(err)
	}
	st, err := store.NewJetStream(nc)
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	kv, err := st.KV(ctx, natsd.RegistryBucket)
	if err != nil {
		fail(err)
	}
	blobs, err := st.Blobs(ctx, natsd.CodeBucket)
	if err != nil {
		fail(err)
	}
	// os.Stdout is unbuffered: each line is one write(2), out before the
	// next store call starts. Only a key's final state is printed, so the
	// call in flight at the kill never touches a printed key.
	ack := func(format string, v ...any) { fmt.Fprintf(os.Stdout, format+"\n", v...) }
	for i := range 100_000 { // bounded; the parent kills us long before
		key, value := fmt.Sprintf("k.%d", i), fmt.Sprintf("v-%d", i)
		switch i % 4 {
		case 0:
			_, err = kv.Put(ctx, key, []byte(value))
		case 1:
			_, err = kv.Create(ctx, key, []byte(value))
		case 2:
			var rev uint64
			if rev, err = kv.Put(ctx, key, []byte("old")); err == nil {
				_, err = kv.Update(ctx, key, []byte(value), rev)
			}
		case 3:
			if _, err = kv.Put(ctx, key, []byte(value)); err == nil {
				err = kv.Delete(ctx, key, 0)
				value = "" // deleted
			}
		}
		if err != nil {
			fail(err)
		}
		ack("kv %s %s", key, value)
		if i%25 == 0 {
			name := fmt.Sprintf("b.%d", i)
			data := blobContent(i)
			if _, err := blobs.Put(ctx, name, bytes.NewReader(data)); err != nil {
				fail(err)
			}
			sum := sha256.Sum256(data)
			ack("blob %s %s", name, hex.EncodeToString(sum[:]))
		}
	}
	os.Exit(0)
}

// TestCrashDurability kills a writer with SIGKILL mid-stream and checks
// that every write it saw acknowledged is there after a restart. SIGKILL
// tests the "data reaches the OS before the ack" half of durability, which
// both sync policies provide; surviving a machine crash (the fsync half)
// cannot be tested from inside the machine.
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	for _, sync := range []natsd.SyncPolicy{natsd.SyncAlways, natsd.SyncInterval} {
		t.Run(sync.String(), func(t *testing.T) { crashOnce(t, sync) })
	}
}

func crashOnce(t *testing.T, sync natsd.SyncPolicy) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashSyncEnv+"="+sync.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Never hang the test on a stuck child.
	watchdog := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer watchdog.Stop()

	kvs := map[string]string{} // acknowledged key -> value ("" = deleted)
	blobs := map[string]string{}
	nkv, killed, lockChecked := 0, false, false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 2 && f[0] == "kv":
			kvs[f[1]] = strings.Join(f[2:], "")
			nkv++
		case len(f) == 3 && f[0] == "blob":
			blobs[f[1]] = f[2]
		default:
			continue // test framework output
		}
		if nkv == 1 && !lockChecked {
			// The running child holds the data dir.
			lockChecked = true
			srv, err := natsd.Start(natsd.Config{DataDir: dir})
			if err == nil {
				srv.Shutdown()
			}
			if !errors.Is(err, natsd.ErrLocked) || !strings.Contains(err.Error(), strconv.Itoa(cmd.Process.Pid)) {
				t.Errorf("Start on a dir held by pid %d: err = %v, want ErrLocked naming the pid", cmd.Process.Pid, err)
			}
		}
		if nkv >= crashAfter && !killed {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
			// Keep reading: lines already in the pipe were acknowledged too.
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended before %d acks (%d): %v\n%s", crashAfter, nkv, err, stderr.String())
	}
	t.Logf("killed after %d acknowledged KV writes and %d blobs", nkv, len(blobs))

	st := openJetStream(t, dir, sync)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kv, err := st.KV(ctx, natsd.RegistryBucket)
	if err != nil {
		t.Fatal(err)
	}
	live := 0
	for key, want := range kvs {
		e, err := kv.Get(ctx, key)
		switch {
		case want == "" && !errors.Is(err, store.ErrNotFound):
			t.Errorf("deleted key %s after crash: %+v, %v", key, e, err)
		case want != "" && (err != nil || string(e.Value) != want):
			t.Errorf("key %s after crash: %q, %v; want %q", key, e.Value, err, want)
		case want != "":
			live++
		}
	}
	// List agrees with Get: every acknowledged live key is listed (the
	// write in flight at the kill may be there too).
	l, err := kv.List(ctx, "k.")
	if err != nil {
		t.Fatal(err)
	}
	if len(l) < live || len(l) > live+1 {
		t.Errorf("List after crash: %d keys, %d acknowledged live", len(l), live)
	}

	bl, err := st.Blobs(ctx, natsd.CodeBucket)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range blobs {
		rc, _, err := bl.Get(ctx, name)
		if err != nil {
			t.Errorf("blob %s after crash: %v", name, err)
			continue
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if got := hex.EncodeToString(h.Sum(nil)); err != nil || got != want {
			t.Errorf("blob %s after crash: sha256 %s (%v), want %s", name, got, err, want)
		}
	}
	// The store takes writes again.
	if _, err := kv.Put(ctx, "after.crash", []byte("x")); err != nil {
		t.Fatal(err)
	}
}
