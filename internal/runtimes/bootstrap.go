package runtimes

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// The bootstraps of the managed runtimes, written to one directory that
// sandboxes see at /var/runtime.
//
//go:embed bootstrap/python/bootstrap.py bootstrap/python/kumo_runtime.py bootstrap/python/kumo_snapshot.py bootstrap/nodejs/bootstrap.js bootstrap/nodejs/kumo-snapshot.js bootstrap/nodejs/kumo-resolve.mjs bootstrap/ruby/bootstrap.rb
var bootstraps embed.FS

// runtimeFiles are the files of the runtime directory: name in the
// directory → path in bootstraps.
var runtimeFiles = map[string]string{
	"bootstrap.py":     "bootstrap/python/bootstrap.py",
	"kumo_runtime.py":  "bootstrap/python/kumo_runtime.py",
	"kumo_snapshot.py": "bootstrap/python/kumo_snapshot.py",
	"kumo-snapshot.js": "bootstrap/nodejs/kumo-snapshot.js",
	"bootstrap.js":     "bootstrap/nodejs/bootstrap.js",
	"kumo-resolve.mjs": "bootstrap/nodejs/kumo-resolve.mjs",
	"bootstrap.rb":     "bootstrap/ruby/bootstrap.rb",
}

// writeRuntimeDir writes the bootstraps under parent, in a directory named
// by its content, and returns it. links are symlinks to add beside them
// (name → absolute host directory: the SDKs), which the linux driver binds
// as the directories they name and the process driver follows. It is
// idempotent and safe against other servers sharing parent: a directory is
// complete once it exists.
func writeRuntimeDir(parent string, links map[string]string) (string, error) {
	names := make([]string, 0, len(runtimeFiles))
	for n := range runtimeFiles {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	contents := map[string][]byte{}
	for _, n := range names {
		b, err := fs.ReadFile(bootstraps, runtimeFiles[n])
		if err != nil {
			return "", err
		}
		contents[n] = b
		fmt.Fprintf(h, "%s %d\n", n, len(b))
		h.Write(b)
	}
	linkNames := make([]string, 0, len(links))
	for n := range links {
		if _, ok := runtimeFiles[n]; ok || !filepath.IsAbs(links[n]) {
			return "", fmt.Errorf("runtime dir: bad link %s -> %s", n, links[n])
		}
		linkNames = append(linkNames, n)
	}
	sort.Strings(linkNames)
	for _, n := range linkNames {
		fmt.Fprintf(h, "link %s %s\n", n, links[n])
	}
	dir := filepath.Join(parent, hex.EncodeToString(h.Sum(nil))[:16])
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return dir, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("runtime dir: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-")
	if err != nil {
		return "", fmt.Errorf("runtime dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(tmp, n), contents[n], 0o644); err != nil {
			return "", fmt.Errorf("runtime dir: %w", err)
		}
	}
	for _, n := range linkNames {
		if err := os.Symlink(links[n], filepath.Join(tmp, n)); err != nil {
			return "", fmt.Errorf("runtime dir: %w", err)
		}
	}
	// Sandboxes run as another user: the directory must be readable by all.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("runtime dir: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			return dir, nil // another server wrote it first
		}
		return "", fmt.Errorf("runtime dir: %w", errors.Join(err))
	}
	return dir, nil
}

// compilePython writes the byte code of the Python runtime for one
// interpreter into the runtime directory's __pycache__, so that cold starts
// load it instead of compiling it. Best effort: without it, a cold start
// compiles the runtime (a few milliseconds).
func compilePython(dir, interpreter string) error {
	_, err := run(interpreter, "-c", "import py_compile, sys; py_compile.compile(sys.argv[1], doraise=True)",
		filepath.Join(dir, "kumo_runtime.py"))
	return err
}
