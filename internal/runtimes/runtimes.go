package runtimes

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Launch is how to start one function's runtime in a sandbox.
type Launch struct {
	// Args is the command as the sandbox sees it.
	Args []string
	// HostPaths are host files and directories made visible read-only.
	HostPaths []string
	// RuntimeDir is the host directory to mount read-only at /var/runtime
	// ("" for OS-only runtimes).
	RuntimeDir string
	// Env is added to the function's environment ("K=V"), before the
	// function's own variables.
	Env []string
	// ExecutionEnv is AWS_EXECUTION_ENV ("" for OS-only runtimes).
	ExecutionEnv string
	// Warning, when not empty, is for the function's log, once when the
	// sandbox starts: the runtime runs on another version of its
	// interpreter than it names, or lacks the AWS SDK Lambda ships with
	// it (one line each).
	Warning string
	// heap: ArgsFor adds the JVM's heap size after Args[0].
	heap bool
}

// InvalidEntrypointError says the code holds nothing to run: Lambda's
// Runtime.InvalidEntrypoint.
type InvalidEntrypointError struct{ Tried []string }

func (e *InvalidEntrypointError) Error() string {
	return fmt.Sprintf("Couldn't find valid bootstrap(s): [%s]", strings.Join(e.Tried, " "))
}

// UnsupportedError says this server cannot run the runtime.
type UnsupportedError struct {
	Runtime string
	// Reason, when set, is the message instead of the generic one.
	Reason string
}

func (e *UnsupportedError) Error() string {
	if e.Reason != "" {
		return e.Reason
	}
	return fmt.Sprintf("The runtime %s cannot run on this server yet.", e.Runtime)
}

// NoInterpreterError says a managed runtime has no interpreter on this
// server, of its version or any other.
type NoInterpreterError struct {
	Runtime string
	// Language is "Python", "Node.js", "Java" or "Ruby".
	Language string
}

func (e *NoInterpreterError) Error() string {
	return fmt.Sprintf("The runtime %s is not available on this server: no %s interpreter is installed.", e.Runtime, e.Language)
}

// IsOSOnly reports whether the runtime is an OS-only (custom) runtime.
func IsOSOnly(runtime string) bool {
	return strings.HasPrefix(runtime, "provided") || runtime == "go1.x"
}

// Resolve returns how to start a function of an OS-only runtime; managed
// runtimes need a Table. codeDir is the host directory of the unzipped code
// (mounted at /var/task), layerDir the merged layers (mounted at /opt), ""
// when none.
func Resolve(runtime, handler, codeDir, layerDir string) (Launch, error) {
	if !IsOSOnly(runtime) {
		return Launch{}, &UnsupportedError{Runtime: runtime}
	}
	tried := []string{"/var/task/bootstrap", "/opt/bootstrap"}
	if isExecutable(filepath.Join(codeDir, "bootstrap")) {
		return Launch{Args: []string{"/var/task/bootstrap"}}, nil
	}
	if layerDir != "" && isExecutable(filepath.Join(layerDir, "bootstrap")) {
		return Launch{Args: []string{"/opt/bootstrap"}}, nil
	}
	// go1.x ran the executable named by the handler; such binaries speak
	// the Runtime API too when AWS_LAMBDA_RUNTIME_API is set.
	if runtime == "go1.x" && handler != "" && !strings.Contains(handler, "/") && !strings.HasPrefix(handler, ".") {
		if isExecutable(filepath.Join(codeDir, handler)) {
			return Launch{Args: []string{"/var/task/" + handler}}, nil
		}
		tried = append(tried, "/var/task/"+handler)
	}
	return Launch{}, &InvalidEntrypointError{Tried: tried}
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
