package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// MaxUnpacked is Lambda's limit on a container image's size, all layers
// unpacked: 10 GB.
const MaxUnpacked int64 = 10 << 30

// ErrTooLarge is returned when an image unpacks to more than the limit.
var ErrTooLarge = errors.New("image is larger than the unpacked size limit")

// Unpack writes the flattened file system tar r (whiteouts already
// applied, as mutate.Extract gives it) into dir, which must not exist.
// Every write goes through an os.Root on dir, so no entry or link leads
// out of it; device nodes and FIFOs are skipped, setuid, setgid and
// ownership are dropped (everything belongs to the server's user), and
// the regular files' bytes are counted against max while they are
// written. Directory modes are applied last, deepest first.
func Unpack(r io.Reader, dir string, max int64) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	type dirMode struct {
		name string
		mode fs.FileMode
	}
	var dirs []dirMode
	// Hard links are made last: a flattened tar lists upper layers
	// first, so a link may come before its target.
	var links [][2]string
	var total int64
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading layers: %w", err)
		}
		name, ok := cleanName(h.Name)
		if !ok {
			return fmt.Errorf("unsafe path %q in a layer", h.Name)
		}
		if name == "." {
			if h.Typeflag == tar.TypeDir {
				dirs = append(dirs, dirMode{".", perm(h.Mode)})
			}
			continue
		}
		if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.Mkdir(name, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s: %w", name, err)
			}
			dirs = append(dirs, dirMode{name, perm(h.Mode)})
		case tar.TypeReg:
			total += h.Size
			if total > max {
				return ErrTooLarge
			}
			if err := replace(root, name); err != nil {
				return err
			}
			f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			_, err = io.Copy(f, io.LimitReader(tr, h.Size))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if err := root.Chmod(name, perm(h.Mode)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		case tar.TypeSymlink:
			if err := replace(root, name); err != nil {
				return err
			}
			// The target is the sandbox's business: it is resolved
			// inside the sandbox's root, never by the server.
			if err := root.Symlink(h.Linkname, name); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		case tar.TypeLink:
			target, ok := cleanName(h.Linkname)
			if !ok || target == "." {
				return fmt.Errorf("unsafe hard link %q -> %q in a layer", h.Name, h.Linkname)
			}
			links = append(links, [2]string{target, name})
		default:
			// Character and block devices, FIFOs and anything else
			// have no place in a function's root.
		}
	}
	for _, l := range links {
		if err := replace(root, l[1]); err != nil {
			return err
		}
		if err := root.Link(l[0], l[1]); err != nil {
			return fmt.Errorf("%s: %w", l[1], err)
		}
	}
	slices.SortFunc(dirs, func(a, b dirMode) int { return strings.Count(b.name, "/") - strings.Count(a.name, "/") })
	for _, d := range dirs {
		if err := root.Chmod(d.name, d.mode); err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
	}
	return nil
}

// cleanName makes a tar entry name relative to the root; ok is false for
// a name that would leave it.
func cleanName(n string) (string, bool) {
	n = path.Clean("/" + n)[1:]
	if n == "" {
		return ".", true
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", false
		}
	}
	return n, true
}

// perm keeps the permission bits and the sticky bit; setuid and setgid
// are dropped.
func perm(mode int64) fs.FileMode {
	m := fs.FileMode(mode) & fs.ModePerm
	if mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// replace removes what a lower layer left at name (a file, link or
// empty directory), so that the upper entry takes its place.
func replace(root *os.Root, name string) error {
	fi, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if fi.IsDir() {
		err = root.RemoveAll(name)
	} else {
		err = root.Remove(name)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
