package base

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kumo-run/kumo/internal/sandbox"
)

// ExecFailedCode is the exit code a sandbox reports when Args[0] could not
// be executed, as a shell does.
const ExecFailedCode = 127

// CheckSpec reports the first problem with the fields every driver relies
// on: an ID of 32 lowercase hex characters, an absolute Args[0] and an
// absolute Dir.
func CheckSpec(s sandbox.Spec) error {
	if !ValidID(s.ID) {
		return fmt.Errorf("sandbox: invalid id %q: want 32 lowercase hex characters", s.ID)
	}
	if len(s.Args) == 0 || !path.IsAbs(s.Args[0]) {
		return fmt.Errorf("sandbox: Args[0] must be an absolute path, got %q", s.Args)
	}
	if !path.IsAbs(s.Dir) {
		return fmt.Errorf("sandbox: Dir must be an absolute path, got %q", s.Dir)
	}
	if s.CodeDir == "" && s.ImageRoot == "" {
		return errors.New("sandbox: CodeDir is empty")
	}
	if s.CodeDir != "" && s.ImageRoot != "" {
		return errors.New("sandbox: CodeDir and ImageRoot are exclusive")
	}
	return nil
}

// ValidID reports whether id is 32 lowercase hex characters.
func ValidID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Status returns the exit code and signal name Stats reports for a wait
// status: the code for a normal exit, -1 and the signal's name (SIGKILL)
// for a kill.
func Status(ws syscall.WaitStatus) (code int, signal string) {
	if ws.Signaled() {
		return -1, unix.SignalName(ws.Signal())
	}
	return ws.ExitStatus(), ""
}

// Writer returns w, or io.Discard when w is nil.
func Writer(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// Flow copies one output pipe of a sandbox to its writer. Every byte
// moves from the pipe to the writer under one lock, whether the pump
// goroutine moves it or Drain does, so output keeps its order and Drain
// knows, once the pipe is empty under the lock, that everything written
// into the pipe before has reached the writer — without waiting for the
// pump goroutine to be scheduled, which on a loaded machine can take
// longer than any deadline the invoke path can afford.
type Flow struct {
	w  io.Writer
	r  *os.File
	rc syscall.RawConn // nil if r cannot be read without blocking

	mu  sync.Mutex // held while bytes are out of the pipe and not yet written
	buf []byte
}

// NewFlow copies the pipe read end r to w (nil: discarded) once Pump
// runs. r should be non-blocking (os.Pipe makes it so); if it is not,
// Drain cannot take bytes from it and only the pump moves them.
func NewFlow(w io.Writer, r *os.File) *Flow {
	f := &Flow{w: Writer(w), r: r, buf: make([]byte, 32<<10)}
	if rc, err := r.SyscallConn(); err == nil && nonblocking(r) {
		f.rc = rc
	}
	return f
}

// nonblocking reports whether r's descriptor is in non-blocking mode.
func nonblocking(r *os.File) bool {
	rc, err := r.SyscallConn()
	if err != nil {
		return false
	}
	nb := false
	rc.Control(func(fd uintptr) {
		fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		nb = err == nil && fl&unix.O_NONBLOCK != 0
	})
	return nb
}

// moveLocked reads once from fd into the writer. It returns the number of
// bytes moved and the read error (unix.EAGAIN: the pipe is empty; n == 0
// and no error: EOF). Write errors are ignored so that a slow or failing
// sink never blocks the sandbox's pipe forever: output is dropped instead.
func (f *Flow) moveLocked(fd uintptr) (int, error) {
	for {
		n, err := unix.Read(int(fd), f.buf)
		if err == unix.EINTR {
			continue
		}
		if n > 0 {
			f.w.Write(f.buf[:n])
			return n, nil
		}
		return 0, err
	}
}

// Pump copies the pipe into the writer until it reports EOF or an error,
// then closes the pipe and closes done. Run it in a goroutine of its own,
// once.
func (f *Flow) Pump(done chan<- struct{}) {
	defer close(done)
	defer f.r.Close()
	if f.rc == nil {
		for {
			n, err := f.r.Read(f.buf)
			if n > 0 {
				f.mu.Lock()
				f.w.Write(f.buf[:n])
				f.mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}
	for {
		var n int
		var rerr error
		err := f.rc.Read(func(fd uintptr) bool {
			f.mu.Lock()
			defer f.mu.Unlock()
			n, rerr = f.moveLocked(fd)
			return rerr != unix.EAGAIN // empty: wait until readable
		})
		if err != nil || rerr != nil || n == 0 {
			return
		}
	}
}

// drain moves what is in the pipe now to the writer, until the pipe is
// empty or deadline passes (a sandbox may write without end).
func (f *Flow) drain(deadline time.Time) {
	if f.rc == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rc.Control(func(fd uintptr) {
		for {
			n, err := f.moveLocked(fd)
			if err != nil || n == 0 || time.Now().After(deadline) {
				return
			}
		}
	})
}

// Drain hands everything written into the flows' pipes before the call to
// their writers, taking it from the pipes itself, and returns. max bounds
// the time it spends on a sandbox that keeps writing.
func Drain(max time.Duration, flows ...*Flow) {
	deadline := time.Now().Add(max)
	for _, f := range flows {
		f.drain(deadline)
	}
}
