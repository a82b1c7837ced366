package codezip

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Extract unpacks a zip under dir after the checks Inspect makes, repeating
// the byte counts as it writes. Regular files get mode 0755 when the zip
// gives them any x bit and 0644 otherwise, and keep their modification
// time; directories get 0755; symlinks are created as stored, once every
// one of them is known to resolve inside dir.
//
// dir must not exist or be an empty directory, and its parent must exist.
// The tree is written to a new directory next to dir (named
// ".<base of dir>.tmp-*"), synced to disk, then renamed to dir, so dir is
// either absent or complete, even across a crash; a crash may leave the
// temporary directory behind for the caller to remove. If dir holds files
// by then — another Extract of the same package finished first — the
// error satisfies errors.Is(err, fs.ErrExist) and the other tree stays.
//
// A refused zip yields an *Error, as from Inspect; any other error comes
// from the file system. Nothing is left behind on error.
func Extract(zip []byte, dir string, lim Limits) (Info, error) {
	if dir == "" {
		return Info{}, errors.New("codezip: no directory to extract to")
	}
	dir = filepath.Clean(dir)
	if err := checkDest(dir); err != nil {
		return Info{}, err
	}
	p, err := open(zip, lim)
	if err != nil {
		return Info{}, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return Info{}, fmt.Errorf("codezip: %w", err)
	}
	published := false
	defer func() {
		if !published {
			os.RemoveAll(tmp)
		}
	}()
	at := func(n *node) string { return filepath.Join(tmp, filepath.FromSlash(n.path)) }

	for _, d := range p.t.dirs {
		if err := mkdir(at(d)); err != nil {
			return Info{}, err
		}
	}
	bufs := make([][]byte, p.workers())
	size, err := p.each(func(w int, n *node, r io.Reader) error {
		if bufs[w] == nil {
			bufs[w] = make([]byte, 128<<10)
		}
		return writeFile(at(n), p.r.File[n.entry], n.exec, r, bufs[w])
	})
	if err != nil {
		return Info{}, err
	}
	// Symlinks come last, so no file is ever written through one.
	for _, l := range p.t.links {
		if err := os.Symlink(l.target, at(l)); err != nil {
			return Info{}, fmt.Errorf("codezip: %w", err)
		}
	}
	// Files were synced as they were written; sync every directory so its
	// entries are on disk before the rename makes the tree visible.
	for i := len(p.t.dirs) - 1; i >= 0; i-- {
		if err := syncDir(at(p.t.dirs[i])); err != nil {
			return Info{}, err
		}
	}
	if err := mkdir(tmp); err != nil {
		return Info{}, err
	}
	if err := syncDir(tmp); err != nil {
		return Info{}, err
	}
	// rename(2) itself, unlike os.Rename, replaces an empty directory and
	// refuses (ENOTEMPTY or EEXIST) one that holds anything.
	if err := syscall.Rename(tmp, dir); err != nil {
		return Info{}, fmt.Errorf("codezip: %w", &os.LinkError{Op: "rename", Old: tmp, New: dir, Err: err})
	}
	published = true
	// The tree is complete and in place; a failure to sync the parent only
	// risks the rename itself being undone by a power loss.
	_ = syncDir(filepath.Dir(dir))
	return p.info(size), nil
}

// checkDest refuses a destination that exists and is not an empty
// directory.
func checkDest(dir string) error {
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("codezip: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("codezip: %s: %w", dir, fs.ErrExist)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("codezip: %w", err)
	}
	defer d.Close()
	if names, _ := d.Readdirnames(1); len(names) > 0 {
		return fmt.Errorf("codezip: %s is not empty: %w", dir, fs.ErrExist)
	}
	return nil
}

// mkdir creates a directory with mode 0755 whatever the umask, or sets that
// mode if it exists.
func mkdir(path string) error {
	if err := os.Mkdir(path, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("codezip: %w", err)
	}
	if err := os.Chmod(path, 0o755); err != nil {
		return fmt.Errorf("codezip: %w", err)
	}
	return nil
}

func syncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("codezip: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("codezip: %w", err)
	}
	return nil
}

// writeFile creates path, which must not exist, and copies r into it. A
// read error is returned as it is (the reader has kept the *Error to
// report); a file system error is wrapped.
func writeFile(path string, f *zip.File, exec bool, r io.Reader, buf []byte) error {
	perm := fs.FileMode(0o644)
	if exec {
		perm = 0o755
	}
	// O_EXCL also refuses to follow a symlink at path.
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("codezip: %w", err)
	}
	defer out.Close()
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := out.Write(buf[:n]); err != nil {
				return fmt.Errorf("codezip: %w", err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if err := out.Chmod(perm); err != nil { // the umask may have cleared bits
		return fmt.Errorf("codezip: %w", err)
	}
	if err := os.Chtimes(path, f.Modified, f.Modified); err != nil {
		return fmt.Errorf("codezip: %w", err)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("codezip: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("codezip: %w", err)
	}
	return nil
}
