package codezip

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var fuzzLimits = Limits{MaxZipped: 1 << 20, MaxUnzipped: 4 << 20, MaxEntries: 64}

// seeds are small zips covering every kind of entry. Stored entries with a
// zero CRC are not checksummed, which leaves their content and the
// headers' fields open to mutation.
func seeds(t testing.TB) [][]byte {
	noCRC := func(name, body string, mode fs.FileMode) ent {
		h := storedHeader(name, body)
		h.CRC32 = 0
		if mode != 0 {
			h.SetMode(mode)
		}
		return raw(h, body)
	}
	return [][]byte{
		buildZip(t, exe("bootstrap", "#!/bin/sh\n"), file("a/b/c.txt", "hello hello hello")),
		buildZip(t, dir("d/"), link("d/l", "../f"), stored("f", "x"), link("up", "d/l")),
		buildZip(t, noCRC("link", "sub", fs.ModeSymlink|0o777), noCRC("link/passwd", "root", 0o644)),
		buildZip(t, noCRC("a/up", "..", fs.ModeSymlink|0o777), noCRC("esc", "a/up/..", fs.ModeSymlink|0o777), noCRC("f", "data", 0o755)),
		buildZip(t, noCRC("x", "y", fs.ModeSymlink|0o777), noCRC("x", "data", 0)),
		buildZip(t, noCRC("../x", "1", 0), noCRC("fifo", "", fs.ModeNamedPipe)),
		buildZip(t, file("big", strings.Repeat("z", 1<<16))),
		{},
	}
}

func FuzzInspect(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Inspect(data, fuzzLimits)
		checkResult(t, data, info, err)
		r, zerr := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if zerr != nil && !errors.Is(zerr, zip.ErrInsecurePath) {
			return
		}
		if n := countRecords(data, 1<<30); n < len(r.File) {
			t.Fatalf("countRecords = %d, archive/zip read %d records", n, len(r.File))
		}
		// entryReader reads what archive/zip's File.Open reads, and fails
		// where it fails.
		p := &pkg{zip: data, lim: fuzzLimits}
		for _, f := range r.File[:min(len(r.File), 16)] {
			if strings.HasSuffix(f.Name, "/") || (f.Method != zip.Store && f.Method != zip.Deflate) || f.UncompressedSize64 > 1<<20 {
				continue
			}
			want, werr := readStd(f)
			var got []byte
			er, gerr := p.openEntry(f, nil)
			if gerr == nil {
				got, err = io.ReadAll(er)
				er.close()
			} else {
				err = gerr
			}
			if (werr == nil) != (err == nil) || (err == nil && !bytes.Equal(got, want)) {
				t.Fatalf("entry %q: archive/zip read %d bytes (%v), entryReader %d bytes (%v)", f.Name, len(want), werr, len(got), err)
			}
		}
	})
}

func readStd(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// FuzzExtract extracts into a fresh temporary directory and checks that
// nothing appears beside the destination, that no symlink in it resolves
// outside it, and that Extract agrees with Inspect.
func FuzzExtract(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		out := filepath.Join(parent, "out")
		info, err := Extract(data, out, fuzzLimits)
		checkResult(t, data, info, err)
		inspected, ierr := Inspect(data, fuzzLimits)
		if info != inspected {
			t.Fatalf("Extract info %+v, Inspect info %+v", info, inspected)
		}
		var e, ie *Error
		if errors.As(err, &e) != errors.As(ierr, &ie) || (e != nil && e.Kind != ie.Kind) {
			t.Fatalf("Extract: %v; Inspect: %v", err, ierr)
		}
		if err != nil {
			onlyChild(t, parent, "")
			return
		}
		onlyChild(t, parent, "out")
		files, size := 0, int64(0)
		for rel, mode := range entries(t, out) {
			switch {
			case mode&fs.ModeSymlink != 0:
				name, _, _ := strings.Cut(rel, " -> ")
				if !staysInside(out, name) {
					t.Fatalf("symlink %s resolves outside the root", rel)
				}
			case mode.IsDir():
				if mode != fs.ModeDir|0o755 {
					t.Fatalf("%s: mode %v", rel, mode)
				}
			case mode.IsRegular():
				if mode != 0o644 && mode != 0o755 {
					t.Fatalf("%s: mode %v", rel, mode)
				}
				fi, err := os.Lstat(filepath.Join(out, rel))
				if err != nil {
					t.Fatal(err)
				}
				files++
				size += fi.Size()
			default:
				t.Fatalf("%s: mode %v", rel, mode)
			}
		}
		if files != info.Files || size != info.UnzippedSize {
			t.Fatalf("found %d files, %d bytes; info %+v", files, size, info)
		}
	})
}

func checkResult(t *testing.T, data []byte, info Info, err error) {
	t.Helper()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v is not an *Error", err)
		}
		if e.Kind < Invalid || e.Kind > Unsafe || e.Message == "" {
			t.Fatalf("bad error %#v", e)
		}
		if info != (Info{}) {
			t.Fatalf("info %+v with error %v", info, err)
		}
		return
	}
	sum := sha256.Sum256(data)
	if info.Sha256 != base64.StdEncoding.EncodeToString(sum[:]) || info.Size != int64(len(data)) {
		t.Fatalf("info %+v for %d bytes", info, len(data))
	}
	if info.UnzippedSize > fuzzLimits.MaxUnzipped || info.Files > fuzzLimits.MaxEntries {
		t.Fatalf("info %+v passes the limits", info)
	}
}
