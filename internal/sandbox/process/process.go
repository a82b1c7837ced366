package process

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kumo-run/kumo/internal/sandbox"
	"github.com/kumo-run/kumo/internal/sandbox/internal/base"
)

// Driver starts sandboxes as plain child processes. Safe for concurrent
// use.
type Driver struct {
	log *slog.Logger
}

// New returns the process driver. It logs a warning that it isolates
// nothing. A nil logger means slog.Default().
func New(logger *slog.Logger) *Driver {
	if logger == nil {
		logger = slog.Default()
	}
	logger.Warn("SANDBOX DRIVER 'process' ISOLATES NOTHING: function code runs as a plain process " +
		"with the server's user, files and network; use it only for code you trust, and the linux driver otherwise")
	return &Driver{log: logger}
}

// Name returns "process".
func (d *Driver) Name() string { return "process" }

// Capabilities reports that nothing is enforced.
func (d *Driver) Capabilities() sandbox.Capabilities { return sandbox.Capabilities{} }

// Cleanup does nothing: the driver keeps no state outside its processes.
func (d *Driver) Cleanup(ctx context.Context) error { return nil }

// Start runs spec.Args as a child process. If Args[0] cannot be executed
// (or Dir entered), the sandbox still starts and exits at once with code
// 127, the reason written to Stderr.
func (d *Driver) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Sandbox, error) {
	if err := base.CheckSpec(spec); err != nil {
		return nil, err
	}
	if spec.Network != nil {
		return nil, errors.New("process: this driver cannot restrict a sandbox's network: a function in a VPC needs --sandbox linux with its network")
	}
	if spec.ImageRoot != "" {
		return nil, errors.New("process: this driver cannot give a sandbox its own root: container-image functions need --sandbox linux")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := newPathMap(spec)
	args := make([]string, len(spec.Args))
	for i, a := range spec.Args {
		args[i] = m.path(a)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("process: runtime api listener: %w", err)
	}
	api := ln.Addr().String()
	env := make([]string, 0, len(spec.Env)+1)
	for _, kv := range spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		if k == "AWS_LAMBDA_RUNTIME_API" {
			continue
		}
		env = append(env, k+"="+m.list(v))
	}
	env = append(env, "AWS_LAMBDA_RUNTIME_API="+api)

	outR, outW, err := os.Pipe()
	if err != nil {
		ln.Close()
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		ln.Close()
		outR.Close()
		outW.Close()
		return nil, err
	}
	s := &box{
		id: spec.ID, ln: ln, api: api,
		exited:  make(chan struct{}),
		outDone: make(chan struct{}), errDone: make(chan struct{}),
	}
	s.outFlow, s.errFlow = base.NewFlow(spec.Stdout, outR), base.NewFlow(spec.Stderr, errR)
	go s.outFlow.Pump(s.outDone)
	go s.errFlow.Pump(s.errDone)

	cmd := &exec.Cmd{
		Path: args[0], Args: args, Env: env, Dir: m.path(spec.Dir),
		Stdout: outW, Stderr: errW,
		SysProcAttr: procAttr(),
	}
	err = cmd.Start()
	outW.Close()
	if err != nil {
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			errW.Close()
			ln.Close()
			return nil, fmt.Errorf("process: starting %s: %w", args[0], err)
		}
		fmt.Fprintf(errW, "kumo-sandbox: %v\n", err)
		errW.Close()
		s.stats = sandbox.Stats{ExitCode: base.ExecFailedCode}
		go s.finish()
		return s, nil
	}
	errW.Close()
	s.pgid = cmd.Process.Pid
	go func() {
		err := cmd.Wait()
		st := sandbox.Stats{ExitCode: -1}
		if ps := cmd.ProcessState; ps != nil {
			if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
				st.ExitCode, st.Signal = base.Status(ws)
			}
			if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
				st.MaxMemoryBytes = int64(ru.Maxrss) * maxrssUnit
			}
		} else if err != nil {
			d.log.Error("process sandbox: wait failed", "id", spec.ID, "err", err)
		}
		s.mu.Lock()
		s.stats = st
		s.mu.Unlock()
		s.finish()
	}()
	return s, nil
}

// box is one sandbox.
type box struct {
	id   string
	ln   net.Listener
	api  string
	pgid int // 0 when nothing was started

	exited           chan struct{}
	outDone, errDone chan struct{}
	outFlow, errFlow *base.Flow

	mu    sync.Mutex // guards stats
	stats sandbox.Stats

	destroyMu sync.Mutex // serializes Destroy
	destroyed bool
}

// finish closes exited once the output of the sandbox is drained. The
// main process is gone, so the rest of its group is killed first (as the
// linux driver's namespace dies with its init); a descendant that left the
// group may hold the pipes open, so draining waits one second at most.
func (s *box) finish() {
	if s.pgid > 0 {
		syscall.Kill(-s.pgid, syscall.SIGKILL)
	}
	drained := make(chan struct{})
	go func() {
		<-s.outDone
		<-s.errDone
		close(drained)
	}()
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-drained:
	case <-t.C:
	}
	close(s.exited)
}

func (s *box) ID() string              { return s.id }
func (s *box) Listener() net.Listener  { return s.ln }
func (s *box) RuntimeAPI() string      { return s.api }
func (s *box) Exited() <-chan struct{} { return s.exited }

// DrainOutput waits until the output written so far reached the writers.
func (s *box) DrainOutput(max time.Duration) { base.Drain(max, s.outFlow, s.errFlow) }

func (s *box) Stats() sandbox.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Destroy kills the process group and waits for the main process.
func (s *box) Destroy(ctx context.Context) error {
	s.destroyMu.Lock()
	defer s.destroyMu.Unlock()
	if s.destroyed {
		return nil
	}
	if s.pgid > 0 {
		// The group outlives its leader while any member lives, so kill it
		// even after the main process exited.
		syscall.Kill(-s.pgid, syscall.SIGKILL)
	}
	select {
	case <-s.exited:
	case <-ctx.Done():
		return fmt.Errorf("process: destroying %s: %w", s.id, ctx.Err())
	}
	s.ln.Close()
	s.destroyed = true
	return nil
}

// pathMap rewrites sandbox paths to host paths (see the package doc).
type pathMap []struct{ from, to string }

func newPathMap(spec sandbox.Spec) pathMap {
	var layer string
	if n := len(spec.LayerDirs); n > 0 {
		layer = spec.LayerDirs[n-1]
	}
	return pathMap{
		{"/var/task", spec.CodeDir},
		{"/opt", layer},
		{"/var/runtime", spec.RuntimeDir},
	}
}

func (m pathMap) path(p string) string {
	for _, e := range m {
		if e.to == "" {
			continue
		}
		if p == e.from {
			return e.to
		}
		if strings.HasPrefix(p, e.from+"/") {
			return e.to + p[len(e.from):]
		}
	}
	return p
}

func (m pathMap) list(v string) string {
	if !strings.Contains(v, "/") {
		return v
	}
	parts := strings.Split(v, ":")
	for i, p := range parts {
		parts[i] = m.path(p)
	}
	return strings.Join(parts, ":")
}

var _ sandbox.Driver = (*Driver)(nil)
