// Package e2e tests the built kumo binary from the outside, with the clients
// Lambda users have: the AWS CLI, boto3, aws-sdk-go-v2 and raw signed HTTP.
//
// TestMain builds ./cmd/kumo once; every test starts its own server on a
// free loopback port with its own data dir, so tests run in parallel.
package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kpoll "github.com/kumo-run/kumo/internal/poll"
)

// Fixed root credentials every test server runs with.
const (
	rootAccessKeyID     = "AKIAKUMOE2ETEST00001"
	rootSecretAccessKey = "kumo-e2e-secret-0000000000000000000000000"
	region              = "us-east-1"
	accountID           = "000000000000"
	testRole            = "arn:aws:iam::000000000000:role/lambda-role"
)

var (
	kumoBin string // the binary TestMain built
	repoDir string // the module root
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kumo-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	repoDir, err = filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	for _, tool := range []string{"go", "aws", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %s is required on PATH: %v\n", tool, err)
			return 1
		}
	}
	kumoBin = filepath.Join(dir, "kumo")
	build := exec.Command("go", "build", "-o", kumoBin, "./cmd/kumo")
	build.Dir = repoDir
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/kumo: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// server is one running kumo process.
type server struct {
	t       testing.TB
	dataDir string
	addr    string // 127.0.0.1:port
	url     string // http://127.0.0.1:port
	cmd     *exec.Cmd
	stderr  *syncBuffer
	done    chan struct{} // closed when the process has exited
	exitErr error         // valid once done is closed
	// expectedErrors are substrings of ERROR lines a test provokes on
	// purpose (a disk it fills behind the server's back); set before the
	// test ends.
	expectedErrors []string
}

// startServer starts kumo on a free loopback port with the fixed root
// credentials and waits until /healthz answers 200. Its stderr goes to the
// test log if the test fails; the process is killed when the test ends.
func startServer(t testing.TB, dataDir string, extraArgs ...string) *server {
	t.Helper()
	return launch(t, dataDir, []string{
		"KUMO_ROOT_ACCESS_KEY_ID=" + rootAccessKeyID,
		"KUMO_ROOT_SECRET_ACCESS_KEY=" + rootSecretAccessKey,
	}, extraArgs...)
}

// launch starts kumo with env added to a clean environment. A port taken
// between choosing and binding it is retried with another one.
func launch(t testing.TB, dataDir string, env []string, extraArgs ...string) *server {
	t.Helper()
	var last *server
	for attempt := 0; attempt < 3; attempt++ {
		s, err := tryLaunch(t, dataDir, env, extraArgs)
		if err == nil {
			return s
		}
		last = s
		if s == nil || !strings.Contains(s.stderr.String(), "address already in use") {
			if s != nil {
				t.Logf("kumo stderr:\n%s", s.stderr.String())
			}
			t.Fatalf("starting kumo: %v", err)
		}
	}
	t.Fatalf("starting kumo: no free port after 3 attempts; stderr:\n%s", last.stderr.String())
	return nil
}

func tryLaunch(t testing.TB, dataDir string, env, extraArgs []string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{"server", "--listen", addr, "--data-dir", dataDir}, extraArgs...)
	cmd := exec.Command(kumoBin, args...)
	cmd.Env = append(cleanEnv(), env...)
	s := &server{t: t, dataDir: dataDir, addr: addr, url: "http://" + addr, cmd: cmd,
		stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = s.stderr
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		s.exitErr = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			// A graceful stop, so that the server removes what it made
			// on the host (its sandboxes' network, cgroups); SIGKILL if
			// it does not go in time.
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				<-s.done
			}
		}
		// An ERROR line is an internal failure a client saw as a 5xx or
		// that was hidden from it; either way the test should say so.
		var errLines []string
		for _, line := range strings.Split(s.stderr.String(), "\n") {
			if strings.Contains(line, "level=ERROR") && !s.expected(line) {
				errLines = append(errLines, line)
			}
		}
		if len(errLines) > 0 {
			t.Errorf("kumo logged errors:\n%s", strings.Join(errLines, "\n"))
		}
		if t.Failed() {
			t.Logf("kumo %s (pid %d) stderr:\n%s", strings.Join(args, " "), cmd.Process.Pid, s.stderr.String())
		}
	})
	err = poll(30*time.Second, func() error {
		select {
		case <-s.done:
			return stopPolling(fmt.Errorf("kumo exited before it was ready: %v", s.exitErr))
		default:
		}
		resp, err := healthClient.Get(s.url + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /healthz: %s", resp.Status)
		}
		return nil
	})
	return s, err
}

var healthClient = &http.Client{Timeout: 2 * time.Second}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		s.t.Fatalf("kumo did not exit within 20s of SIGTERM")
	}
	if s.exitErr != nil {
		s.t.Errorf("kumo exited uncleanly after SIGTERM: %v", s.exitErr)
	}
}

// kill9 kills the process with SIGKILL and waits for it to be gone.
func (s *server) kill9() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		s.t.Fatalf("SIGKILL: %v", err)
	}
	<-s.done
}

// env is the environment for AWS clients pointed at this server.
func (s *server) env() []string {
	return append(cleanEnv(),
		"AWS_ACCESS_KEY_ID="+rootAccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+rootSecretAccessKey,
		"AWS_DEFAULT_REGION="+region,
		"AWS_REGION="+region,
		"AWS_ENDPOINT_URL="+s.url,
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_RETRY_MODE=standard",
		// One attempt: a 5xx or a dropped connection must show, not be retried away.
		"AWS_MAX_ATTEMPTS=1",
		"PYTHONUNBUFFERED=1",
		"PYTHONWARNINGS=ignore",
	)
}

// cleanEnv is this process's environment without anything that would point
// a client or the server somewhere else.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "KUMO_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// stopPolling makes poll give up at once with the wrapped error.
func stopPolling(err error) error { return kpoll.Stop{Err: err} }

// poll calls f until it returns nil, returns stopPolling, or timeout
// passes (package poll).
func poll(timeout time.Duration, f func() error) error { return kpoll.Wait(timeout, f) }

// eventually fails the test if f does not succeed within timeout.
func eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	kpoll.Until(t, timeout, what, f)
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// zipEntry is one file in a zip built by makeZip.
type zipEntry struct {
	Name string
	Body string
	Mode fs.FileMode // 0644 when zero; fs.ModeSymlink|0777 for a link whose target is Body
}

// makeZip builds a zip in memory.
func makeZip(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.Name, Method: zip.Deflate}
		h.Modified = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		mode := e.Mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatalf("zip %s: %v", e.Name, err)
		}
		io.WriteString(w, e.Body)
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("zip: %v", err)
	}
	return buf.Bytes()
}

// handlerZip is a small valid Python function package; tag makes its bytes
// (and so its CodeSha256) distinct.
func handlerZip(t testing.TB, tag string) []byte {
	return makeZip(t, zipEntry{Name: "app.py", Body: "def handler(event, context):\n    return {'tag': '" + tag + "'}\n"})
}

// writeTemp writes data to a new file in the test's temp dir.
func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// codeSha256 is Lambda's CodeSha256: base64 of the zip's SHA-256.
func codeSha256(zip []byte) string {
	sum := sha256.Sum256(zip)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// download fetches a code Location URL.
func download(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return b, nil
}

// cmdResult is the outcome of one external command.
type cmdResult struct {
	Args   []string
	Stdout string
	Stderr string
	Code   int
}

func (r cmdResult) String() string {
	return fmt.Sprintf("$ %s\nexit code %d\n--- stdout:\n%s\n--- stderr:\n%s", shellJoin(r.Args), r.Code, r.Stdout, r.Stderr)
}

// runCmd runs a command with env and a time limit and returns what it did.
// It fails the test only if the command could not be run at all.
func runCmd(t testing.TB, env []string, stdin []byte, timeout time.Duration, args ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cmdResult{Args: args, Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		t.Fatalf("timed out after %v:\n%s", timeout, r)
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	default:
		t.Fatalf("running %s: %v", shellJoin(args), err)
	}
	return r
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@+", r))
		}) < 0 {
			q[i] = a
			continue
		}
		if len(a) > 300 {
			a = a[:300] + "…"
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// functionARN is the unqualified ARN of a function on a test server.
func functionARN(name string) string {
	return "arn:aws:lambda:" + region + ":" + accountID + ":function:" + name
}

// partialARN is the account:function:name form Lambda accepts.
func partialARN(name string) string {
	return accountID + ":function:" + name
}

// expected reports whether an ERROR line is one the test provoked.
func (s *server) expected(line string) bool {
	for _, e := range s.expectedErrors {
		if strings.Contains(line, e) {
			return true
		}
	}
	return false
}
