package e2e

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// smallDisk mounts a tmpfs of size bytes on a new directory; it skips the
// test when not root.
func smallDisk(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a small tmpfs for the data dir needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("skipped: mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// A full data disk: the server refuses writes with an error naming the
// disk before its store breaks, deletes keep working, and once space comes
// back writes are accepted again without a restart, with nothing that was
// acknowledged lost.
func TestFullDisk(t *testing.T) {
	const size = 64 << 20 // reserve: 8 MiB
	disk := smallDisk(t, size)
	dataDir := filepath.Join(disk, "data")
	s := startServer(t, dataDir)
	lc := newSDK(t, s)
	ctx := t.Context()

	must[*lambda.CreateFunctionOutput](t, "create keep")(lc.CreateFunction(ctx, createInput("keep", handlerZip(t, "keep"))))
	waitActive(t, lc, "keep")
	out := must[*lambda.InvokeOutput](t, "event invoke")(lc.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: aws.String("keep"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)}))
	if out.StatusCode != 202 {
		t.Fatalf("Event invoke: %d", out.StatusCode)
	}

	// Something else takes most of the disk: 20 MiB stay free.
	filler := filepath.Join(disk, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, freeBytes(t, disk)-20<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()

	// Functions with 3 MiB of code each until the server refuses.
	var created []string
	var refusal error
	for i := 0; i < 20 && refusal == nil; i++ {
		name := fmt.Sprintf("big-%d", i)
		blob := make([]byte, 3<<20)
		rand.Read(blob)
		zip := makeZip(t, zipEntry{Name: "app.py", Body: "def handler(e, c):\n    return 1\n"}, zipEntry{Name: "blob", Body: string(blob)})
		_, err := lc.CreateFunction(ctx, createInput(name, zip))
		if err != nil {
			refusal = err
			break
		}
		created = append(created, name)
	}
	if refusal == nil {
		t.Fatalf("%d functions of 3 MiB created on a 64 MiB disk without a refusal", len(created))
	}
	t.Logf("created %d functions, then: %v", len(created), refusal)
	code, status := apiError(refusal)
	if code != "ServiceException" || status != 500 || !strings.Contains(refusal.Error(), "data disk") || !strings.Contains(refusal.Error(), dataDir) {
		t.Errorf("refusal %s (HTTP %d): %v; want a ServiceException naming the data disk", code, status, refusal)
	}
	// The refusal can come from a request's own body spooled to the disk
	// for its signature check; once it is gone, free space may be back
	// above the reserve. Keep the disk below it for what follows.
	filler2 := filepath.Join(disk, "filler2")
	if free := freeBytes(t, disk); free > 6<<20 {
		f, err := os.Create(filler2)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Fallocate(int(f.Fd()), 0, 0, free-6<<20); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	eventually(t, 30*time.Second, "the warning log line", func() error {
		if !strings.Contains(s.stderr.String(), "data disk nearly full") {
			return fmt.Errorf("not logged")
		}
		return nil
	})
	samples, body := scrape(t, s)
	if v, n := promSum(samples, "kumo_disk_free_bytes", map[string]string{"data_dir": dataDir}); n != 1 || v >= 8<<20 {
		t.Errorf("kumo_disk_free_bytes = %v (%d series), want below the 8 MiB reserve\n%s", v, n, body)
	}
	// Event invokes are refused clearly too; reads work.
	_, err = lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("keep"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)})
	if c, st := apiError(err); c != "ServiceException" || st != 500 || !strings.Contains(fmt.Sprint(err), "data disk") {
		t.Errorf("Event invoke on a full disk: %s %d %v", c, st, err)
	}
	must[*lambda.GetFunctionOutput](t, "get keep")(lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("keep")}))
	// So do the other services' writes, in their own protocol; their reads
	// go on.
	root := s.env()
	for _, args := range [][]string{
		{"kms", "create-key"},
		{"secretsmanager", "create-secret", "--name", "full", "--secret-string", "x"},
		{"events", "put-rule", "--name", "full", "--schedule-expression", "rate(1 hour)"},
	} {
		r := runCmd(t, root, nil, 60*time.Second, append([]string{"aws", "--output", "json"}, args...)...)
		if r.Code == 0 || !strings.Contains(r.Stderr, "ServiceUnavailable") || !strings.Contains(r.Stderr, "data disk") {
			t.Errorf("%s on a full disk: want ServiceUnavailable naming the data disk\n%s", args[0], r)
		}
	}
	awsOK(t, root, "kms", "list-keys")
	awsOK(t, root, "secretsmanager", "list-secrets")
	awsOK(t, root, "events", "list-rules")

	// Deletes work on the full disk.
	if len(created) == 0 {
		t.Fatal("no function was created before the refusal")
	}
	gone := created[len(created)-1]
	created = created[:len(created)-1]
	must[*lambda.DeleteFunctionOutput](t, "delete on a full disk")(lc.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(gone)}))

	// Space comes back: writes are accepted again, without a restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filler2); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "writes accepted again", func() error {
		_, err := lc.CreateFunction(ctx, createInput("after", handlerZip(t, "after")))
		return err
	})
	out = must[*lambda.InvokeOutput](t, "event invoke after")(lc.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: aws.String("keep"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)}))
	if out.StatusCode != 202 {
		t.Fatalf("Event invoke after recovery: %d", out.StatusCode)
	}
	samples, _ = scrape(t, s)
	if v, _ := promSum(samples, "kumo_disk_free_bytes", map[string]string{"data_dir": dataDir}); v < 20<<20 {
		t.Errorf("kumo_disk_free_bytes = %v after freeing space", v)
	}
	// Nothing acknowledged was lost; the deleted function is gone.
	for _, name := range append(created, "keep", "after") {
		must[*lambda.GetFunctionOutput](t, "get "+name)(lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)}))
	}
	_, err = lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(gone)})
	expectAPIError(t, "get deleted", err, "ResourceNotFoundException", 404)
	if strings.Contains(s.stderr.String(), "Critical write error") {
		t.Errorf("the store met the full disk instead of refusing first:\n%s", s.stderr.String())
	}
	s.stop()
}

// SIGTERM on a full disk: log lines that cannot be stored are dropped and
// counted, and the server exits within its bound instead of waiting on the
// store for each log stream.
func TestShutdownWithUnwritableLogs(t *testing.T) {
	disk := smallDisk(t, 64<<20)
	dataDir := filepath.Join(disk, "data")
	s := startServer(t, dataDir)
	lc := newSDK(t, s)
	ctx := t.Context()
	must[*lambda.CreateFunctionOutput](t, "create")(lc.CreateFunction(ctx, createInput("talk", handlerZip(t, "talk"))))
	waitActive(t, lc, "talk")
	must[*lambda.InvokeOutput](t, "warm up")(lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("talk"), Payload: []byte(`{}`)}))

	// The disk fills up completely; the warm sandbox keeps answering and
	// its log lines have nowhere to go.
	// The store meets the full disk when it writes them: errors it logs.
	s.expectedErrors = []string{"no space left on device"}
	f, err := os.Create(filepath.Join(disk, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Sync()
	f.Close()
	filled := time.Now()
	// Kumo reuses a measurement that found room for 100 ms (natsd's
	// spaceTTL), and every measurement after the fill finds none: once the
	// disk watcher has said so and that time has passed, the log lines
	// below meet the refusal rather than a store write that beat it.
	eventually(t, 30*time.Second, "the warning log line", func() error {
		if !strings.Contains(s.stderr.String(), "data disk nearly full") {
			return fmt.Errorf("not logged")
		}
		return nil
	})
	time.Sleep(time.Until(filled.Add(300 * time.Millisecond)))
	for range 5 {
		lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("talk"), Payload: []byte(`{}`)})
	}
	start := time.Now()
	s.stop() // fails the test if kumo takes more than 20 s or exits uncleanly
	t.Logf("stopped in %v", time.Since(start))
	if !strings.Contains(s.stderr.String(), "log events dropped while the store refuses writes") &&
		!strings.Contains(s.stderr.String(), "could not be stored before shutdown") {
		t.Errorf("kumo did not say that log events were dropped:\n%s", s.stderr.String())
	}
}
