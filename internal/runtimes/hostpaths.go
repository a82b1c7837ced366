package runtimes

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// hostSet collects the host paths an interpreter needs, in the form the
// sandbox drivers bind them: every path is free of symlinks in its
// directories, and every symlink met on the way is a path of its own (the
// linux driver recreates it as the same symlink), so that the names a
// program uses (/lib64/ld-linux-x86-64.so.2 through /lib64 -> usr/lib64 on
// merged-/usr systems) resolve inside the sandbox as they do outside.
type hostSet struct {
	paths map[string]bool // symlink-free path → is a directory bound whole
	elfs  map[string]bool // ELF files whose dependencies were added
	dirs  []string        // library search path of the dynamic linker
}

func newHostSet() *hostSet {
	return &hostSet{paths: map[string]bool{}, elfs: map[string]bool{}, dirs: libDirs()}
}

// libDirs is where the dynamic linker looks by default, Debian's multiarch
// directories first.
func libDirs() []string {
	triplet := map[string]string{
		"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu", "386": "i386-linux-gnu",
		"arm": "arm-linux-gnueabihf", "ppc64le": "powerpc64le-linux-gnu", "s390x": "s390x-linux-gnu",
		"riscv64": "riscv64-linux-gnu",
	}[runtime.GOARCH]
	var dirs []string
	if triplet != "" {
		dirs = append(dirs, "/lib/"+triplet, "/usr/lib/"+triplet)
	}
	return append(dirs, "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib")
}

// add adds p (file or directory, bound as it is) and every symlink on its
// way, and returns p's symlink-free path.
func (s *hostSet) add(p string) (string, error) {
	real, err := s.walk(p)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	s.paths[real] = fi.IsDir()
	return real, nil
}

// walk resolves p one component at a time, recording each symlink met.
func (s *hostSet) walk(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("%q is not an absolute path", p)
	}
	parts := split(p)
	cur := "/"
	for hops := 0; len(parts) > 0; {
		next := filepath.Join(cur, parts[0])
		fi, err := os.Lstat(next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			cur, parts = next, parts[1:]
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		dest, err := os.Readlink(next)
		if err != nil {
			return "", err
		}
		s.paths[next] = false
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(cur, dest)
		}
		parts = append(split(dest), parts[1:]...)
		cur = "/"
	}
	return cur, nil
}

func split(p string) []string {
	var out []string
	for _, e := range strings.Split(filepath.Clean(p), "/") {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// addELF adds an executable or shared library and, recursively, its
// program interpreter and the shared libraries it needs, found as the
// dynamic linker would (RPATH/RUNPATH with $ORIGIN, then the default
// directories). A file that is not ELF is added alone.
func (s *hostSet) addELF(p string) error {
	real, err := s.add(p)
	if err != nil {
		return err
	}
	return s.deps(real)
}

// deps adds what the ELF file at real (symlink-free) needs, not the file.
func (s *hostSet) deps(real string) error {
	if s.elfs[real] {
		return nil
	}
	s.elfs[real] = true
	f, err := elf.Open(real)
	if err != nil {
		return nil // not ELF (a script, say): nothing to follow
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, prog.Filesz)
		if _, err := prog.ReadAt(b, 0); err != nil {
			return fmt.Errorf("%s: reading its interpreter: %w", real, err)
		}
		if err := s.addELF(strings.TrimRight(string(b), "\x00")); err != nil {
			return fmt.Errorf("%s: its interpreter: %w", real, err)
		}
	}
	needed, err := f.ImportedLibraries()
	if err != nil {
		return nil // statically linked
	}
	var search []string
	for _, tag := range []elf.DynTag{elf.DT_RPATH, elf.DT_RUNPATH} {
		vals, _ := f.DynString(tag)
		for _, v := range vals {
			for _, d := range strings.Split(v, ":") {
				d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", "$ORIGIN"), "$ORIGIN", filepath.Dir(real))
				if filepath.IsAbs(d) {
					search = append(search, filepath.Clean(d))
				}
			}
		}
	}
	search = append(search, s.dirs...)
	for _, lib := range needed {
		if strings.Contains(lib, "/") {
			if err := s.addELF(lib); err != nil {
				return fmt.Errorf("%s needs %s: %w", real, lib, err)
			}
			continue
		}
		found := false
		for _, d := range search {
			cand := filepath.Join(d, lib)
			if !sameClass(cand, f.Class) {
				continue
			}
			if err := s.addELF(cand); err != nil {
				return fmt.Errorf("%s needs %s: %w", real, lib, err)
			}
			found = true
			break
		}
		if !found {
			return fmt.Errorf("%s needs %s, which is nowhere in %s", real, lib, strings.Join(search, ":"))
		}
	}
	return nil
}

// sameClass reports whether p is an ELF file of class c (a 64-bit program
// cannot load a 32-bit library of the same name).
func sameClass(p string, c elf.Class) bool {
	f, err := elf.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	return f.Class == c
}

// sandboxOwned are paths a sandbox has its own of; host paths never cover
// them (/etc/ssl/certs is bound by the linux driver itself).
var sandboxOwned = []string{"/var/task", "/opt", "/var/runtime", "/tmp", "/proc", "/dev", "/sys", "/etc/ssl/certs",
	"/etc/passwd", "/etc/group", "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/localtime"}

// list returns the set as a sorted list, without paths inside a directory
// that is bound whole and without paths that overlap what the sandbox has
// its own of.
func (s *hostSet) list() []string {
	var dirs, out []string
	for p, dir := range s.paths {
		if dir {
			dirs = append(dirs, p)
		}
	}
	for p := range s.paths {
		if p == "/" || p == "/etc" || overlaps(p, sandboxOwned) || inside(p, dirs) {
			continue
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// overlaps reports whether p is, is under, or covers one of paths.
func overlaps(p string, paths []string) bool {
	for _, d := range paths {
		if p == d || strings.HasPrefix(p, d+"/") || strings.HasPrefix(d, p+"/") {
			return true
		}
	}
	return false
}

// inside reports whether p is strictly under one of dirs.
func inside(p string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}
