package base

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"sync/atomic"
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
	if s.CodeDir == "" {
		return errors.New("sandbox: CodeDir is empty")
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

// Flow counts the bytes a Pump moves so that a caller can wait until the
// output a sandbox already wrote has reached the writer.
type Flow struct {
	r        *os.File
	consumed atomic.Int64 // bytes read from the pipe
	written  atomic.Int64 // bytes handed to the writer
}

// NewFlow tracks the pipe read end r.
func NewFlow(r *os.File) *Flow { return &Flow{r: r} }

// pending reports whether output may still be on its way: bytes in the
// pipe, or read and not yet written.
func (f *Flow) pending() bool {
	if f.consumed.Load() != f.written.Load() {
		return true
	}
	rc, err := f.r.SyscallConn()
	if err != nil {
		return false // closed: nothing more will come
	}
	n := 0
	if cerr := rc.Control(func(fd uintptr) {
		n, err = unix.IoctlGetInt(int(fd), fionread)
	}); cerr != nil || err != nil {
		return false
	}
	return n > 0
}

// Drain waits, at most max, until everything written into the pipes
// before the call has been handed to the writers. A byte the pump has
// taken from the pipe but not yet counted can escape it; the second look,
// after yielding to the pump, closes most of that window without sleeping
// on the invoke path.
func Drain(max time.Duration, flows ...*Flow) {
	deadline := time.Now().Add(max)
	for {
		busy := false
		for _, f := range flows {
			if f.pending() {
				busy = true
				break
			}
		}
		if !busy {
			// A pump that has just taken bytes from the pipe is runnable
			// or running: let it count them before the second look.
			for range 3 {
				runtime.Gosched()
			}
			for _, f := range flows {
				if f.pending() {
					busy = true
					break
				}
			}
			if !busy {
				return
			}
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// Pump copies r into w until r reports EOF or an error, then closes r and
// closes done. Write errors are ignored so that a slow or failing sink
// never blocks the sandbox's pipe forever: output is dropped instead. f,
// if not nil, counts what moves.
func Pump(w io.Writer, r *os.File, done chan<- struct{}, f *Flow) {
	defer close(done)
	defer r.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if f != nil {
				f.consumed.Add(int64(n))
			}
			w.Write(buf[:n])
			if f != nil {
				f.written.Add(int64(n))
			}
		}
		if err != nil {
			return
		}
	}
}
