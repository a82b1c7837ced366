package codezip

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// An ent is one entry of a zip built by a test.
type ent struct {
	name string
	body string
	mode fs.FileMode // 0: a plain file, or a directory when name ends in "/"
	// raw, when set, is written as the header with CreateRaw and body as
	// the already-compressed data: headers can then say anything.
	raw *zip.FileHeader
}

func file(name, body string) ent { return ent{name: name, body: body} }
func exe(name, body string) ent  { return ent{name: name, body: body, mode: 0o755} }
func dir(name string) ent        { return ent{name: name} }
func link(name, target string) ent {
	return ent{name: name, body: target, mode: fs.ModeSymlink | 0o777}
}
func special(name string, m fs.FileMode) ent { return ent{name: name, mode: m | 0o644} }
func raw(h *zip.FileHeader, data string) ent { return ent{name: h.Name, raw: h, body: data} }
func stored(name, body string) ent           { return raw(storedHeader(name, body), body) }
func storedHeader(name, body string) *zip.FileHeader {
	return &zip.FileHeader{
		Name:               name,
		Method:             zip.Store,
		CRC32:              crc32.ChecksumIEEE([]byte(body)),
		CompressedSize64:   uint64(len(body)),
		UncompressedSize64: uint64(len(body)),
	}
}

var testTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func buildZip(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, e := range ents {
		if e.raw != nil {
			out, err := w.CreateRaw(e.raw)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := out.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: testTime}
		if strings.HasSuffix(e.name, "/") {
			h.Method = zip.Store
		}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		out, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if e.body != "" {
			if _, err := out.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// deflatedZeros is n zero bytes, deflated.
func deflatedZeros(t testing.TB, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	zero := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(zero))
		w.Write(zero[:k])
		n -= k
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var (
	bomb300Once sync.Once
	bomb300     []byte
)

// zeros300MB is 300 MB of zeros deflated: about 380 KB.
func zeros300MB(t testing.TB) []byte {
	bomb300Once.Do(func() { bomb300 = deflatedZeros(t, 300<<20) })
	return bomb300
}

func wantKind(t *testing.T, err error, k Kind) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want an *Error of kind %v", err, k)
	}
	if e.Kind != k {
		t.Fatalf("kind = %v, want %v (%v)", e.Kind, k, err)
	}
	return e
}

// entries lists what lies under root: "path" for a file, "path/" for a
// directory, "path -> target" for a symlink, each with its mode.
func entries(t *testing.T, root string) map[string]fs.FileMode {
	t.Helper()
	got := map[string]fs.FileMode{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			rel += " -> " + target
		case d.IsDir():
			rel += "/"
		}
		got[rel] = fi.Mode()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// staysInside resolves the symlink at rel under root the way the kernel
// does, reporting whether resolution ever steps above root. Paths that do
// not exist end the walk (the kernel would stop there too).
func staysInside(root, rel string) bool {
	var stack []string // directories below root reached so far
	pending := pushPath(nil, rel)
	for hops := 0; len(pending) > 0; {
		c := pending[len(pending)-1]
		pending = pending[:len(pending)-1]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) == 0 {
				return false
			}
			stack = stack[:len(stack)-1]
			continue
		}
		p := filepath.Join(append([]string{root}, append(stack, c)...)...)
		fi, err := os.Lstat(p)
		if err != nil {
			return true
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			stack = append(stack, c)
			continue
		}
		if hops++; hops > 40 {
			return true // ELOOP
		}
		target, err := os.Readlink(p)
		if err != nil || filepath.IsAbs(target) {
			return false
		}
		pending = pushPath(pending, target)
	}
	return true
}
