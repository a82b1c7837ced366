package runtimes

import (
	"fmt"
	"path"
	"sync"
)

// ExecWrapperVar names the wrapper script a managed runtime's bootstrap is
// launched through (Lambda's internal extensions mechanism).
const ExecWrapperVar = "AWS_LAMBDA_EXEC_WRAPPER"

// shells are the host programs made visible in a sandbox that runs a
// wrapper script or extensions: the shells Lambda's images have at these
// paths, and env, which scripts name in "#!/usr/bin/env python3" lines.
// Only /bin/sh is required.
var shells = []string{"/bin/sh", "/bin/bash", "/usr/bin/env"}

var shellOnce struct {
	sync.Once
	paths []string
	err   error
}

// ShellPaths returns the host paths that make /bin/sh (and /bin/bash and
// /usr/bin/env, when the host has them) run inside a sandbox: the shells, the symlinks on
// their way and the shared libraries they load. Computed once.
func ShellPaths() ([]string, error) {
	shellOnce.Do(func() {
		s := newHostSet()
		for i, sh := range shells {
			if err := s.addELF(sh); err != nil {
				if i == 0 {
					shellOnce.err = fmt.Errorf("runtimes: %s: %w", sh, err)
					return
				}
				continue // the others are optional
			}
		}
		shellOnce.paths = s.list()
	})
	return shellOnce.paths, shellOnce.err
}

// Wrapped returns args, the command of l (Launch.ArgsFor), launched
// through wrapper as Lambda does for AWS_LAMBDA_EXEC_WRAPPER: the wrapper
// runs with the original command as its arguments and is expected to exec
// it. Only the managed runtimes honour it (Lambda's OS-only runtimes do
// not); for them, or for a wrapper that is not a clean absolute path,
// args is returned as it is with ok false.
func (l Launch) Wrapped(args []string, wrapper string) (out []string, ok bool) {
	if l.ExecutionEnv == "" || wrapper == "" || !path.IsAbs(wrapper) || path.Clean(wrapper) != wrapper || len(args) == 0 {
		return args, false
	}
	return append([]string{wrapper}, args...), true
}
