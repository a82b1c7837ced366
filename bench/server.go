package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// target is the Kumo server the benchmarks talk to: one this program
// started, or one given with -endpoint.
type target struct {
	URL    string
	Region string
	Key    string // access key id
	Secret string
	// PID is the server's process id when it runs on this machine and
	// could be found; 0 otherwise (no memory or sandbox figures then).
	PID int
	// Driver is the sandbox driver in use, when known.
	Driver string
	// CgroupParent is where the linux driver puts sandbox cgroups (the
	// parent under each hierarchy), when known.
	CgroupParent string

	own  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// moduleRoot is the directory of the go.mod that holds this program.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run from inside the kumo module (go run ./bench)")
	}
	return filepath.Dir(mod), nil
}

// goBuild builds pkg (a path relative to the module root) into out.
func goBuild(root, pkg, out string, env []string, flags ...string) error {
	args := append([]string{"build", "-o", out}, flags...)
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// startServer builds ./cmd/kumo into dir and runs it on a free loopback
// port with a fresh data dir and generated root credentials, waiting for
// /healthz.
func startServer(ctx context.Context, root, dir, driver string) (*target, error) {
	bin := filepath.Join(dir, "kumo")
	if err := goBuild(root, "./cmd/kumo", bin, nil); err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "data")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.Create(filepath.Join(dir, "kumo.log"))
	if err != nil {
		return nil, err
	}
	// The memory budget is raised past what 64 sandboxes of 1,769 MB
	// claim: the benchmarks measure the platform, and their no-op
	// sandboxes use a few MB each, not the node's admission control.
	args := []string{"server", "--listen", addr, "--data-dir", dataDir, "--keep-alive", "10m", "--memory-budget", "131072"}
	if driver != "" {
		args = append(args, "--sandbox", driver)
	}
	t := &target{
		URL: "http://" + addr, Region: "us-east-1",
		Key: "AKIAKUMOBENCH" + strings.ToUpper(randHex(4)), Secret: randHex(20),
		done: make(chan struct{}), log: logf,
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KUMO_ROOT_ACCESS_KEY_ID="+t.Key, "KUMO_ROOT_SECRET_ACCESS_KEY="+t.Secret)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	t.own, t.PID = cmd, cmd.Process.Pid
	go func() { cmd.Wait(); close(t.done) }()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-t.done:
			return nil, fmt.Errorf("kumo exited before it was ready:\n%s", t.logTail())
		case <-ctx.Done():
			t.stop()
			return nil, ctx.Err()
		default:
		}
		if resp, err := hc.Get(t.URL + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.stop()
			return nil, fmt.Errorf("kumo not ready after 60s:\n%s", t.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Driver = driver
	if os.Geteuid() == 0 {
		// As internal/app names it: the data dir's hash.
		t.CgroupParent = cgroupParentFor(dataDir)
	}
	return t, nil
}

// endpointTarget describes a server given with -endpoint. Credentials come
// from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (what `kumo env` prints).
func endpointTarget(url string) (*target, error) {
	t := &target{URL: strings.TrimRight(url, "/"), Region: envOr("AWS_REGION", "us-east-1"),
		Key: os.Getenv("AWS_ACCESS_KEY_ID"), Secret: os.Getenv("AWS_SECRET_ACCESS_KEY")}
	if t.Key == "" || t.Secret == "" {
		return nil, errors.New("-endpoint needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (eval $(kumo env --data-dir DIR))")
	}
	t.PID = findListener(t.URL)
	return t, nil
}

// detectDriver reads, for a server this program started, which sandbox
// driver it chose.
func (t *target) detectDriver() {
	if t.Driver != "" {
		return
	}
	if t.log == nil {
		// A server given with -endpoint: linux sandboxes live in kumo-*
		// cgroups, process ones do not.
		if t.PID > 0 && len(children(t.PID)) > 0 {
			t.Driver = "process"
			if cgroupParentOf(t.PID) != "" {
				t.Driver = "linux"
			}
		}
		return
	}
	b, _ := os.ReadFile(t.log.Name())
	switch {
	case bytes.Contains(b, []byte("linux sandbox driver ready")):
		t.Driver = "linux"
	default:
		// The linux driver says so when it starts its first sandbox;
		// the process driver says nothing.
		t.Driver = "process"
	}
}

func (t *target) logTail() string {
	if t.log == nil {
		return ""
	}
	b, _ := os.ReadFile(t.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// stop ends a server this program started: SIGTERM, then SIGKILL.
func (t *target) stop() {
	if t.own == nil {
		return
	}
	t.own.Process.Signal(syscall.SIGTERM)
	select {
	case <-t.done:
	case <-time.After(20 * time.Second):
		t.own.Process.Kill()
		<-t.done
	}
	t.log.Close()
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
