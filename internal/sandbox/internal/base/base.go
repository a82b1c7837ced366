package base

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"syscall"

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

// Pump copies r into w until r reports EOF or an error, then closes r and
// closes done. Write errors are ignored so that a slow or failing sink
// never blocks the sandbox's pipe forever: output is dropped instead.
func Pump(w io.Writer, r *os.File, done chan<- struct{}) {
	defer close(done)
	defer r.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			w.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}
