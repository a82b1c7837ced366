//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package natsd

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// dirLock is an exclusive flock on DataDir/LOCK. It is held through a raw
// descriptor rather than an *os.File, whose finalizer would close it (and
// drop the lock) if the Server were garbage collected while nats-server
// still runs. The descriptor is close-on-exec, so processes Kumo starts
// never inherit the lock. A process dying in any way releases it.
type dirLock struct {
	fd int
}

func lockDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, lockFile)
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("natsd: open lock file %s: %w", path, err)
	}
	if err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		syscall.Close(fd)
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := ""
			if b, rerr := os.ReadFile(path); rerr == nil {
				if pid, perr := strconv.Atoi(string(bytes.TrimSpace(b))); perr == nil {
					holder = fmt.Sprintf(" (held by pid %d)", pid)
				}
			}
			return nil, fmt.Errorf("%w: %s is in use, %s is locked%s", ErrLocked, dir, path, holder)
		}
		return nil, fmt.Errorf("natsd: lock %s: %w", path, err)
	}
	// The pid is only for the error message above; failing to write it is
	// harmless.
	if syscall.Ftruncate(fd, 0) == nil {
		syscall.Pwrite(fd, []byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dirLock{fd: fd}, nil
}

// release drops the lock. The LOCK file stays: removing it would let a
// starting server lock a new file while another still holds the old one.
func (l *dirLock) release() error {
	return syscall.Close(l.fd)
}
