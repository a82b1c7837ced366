package codezip

import (
	"archive/zip"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestExtract(t *testing.T) {
	z := buildZip(t,
		exe("bootstrap", "#!/bin/sh\nexec ./handler\n"),
		file("handler.py", "def handler(e, c): return e\n"),
		dir("lib/"),
		file("lib/libfoo.so.1.2", "ELF"),
		link("lib/libfoo.so", "libfoo.so.1.2"),
		link("bin/foo", "../lib/libfoo.so"),
		ent{name: "bin/tool", body: "#!/bin/sh\n", mode: 0o500},
		ent{name: "readonly", body: "r", mode: 0o400},
		file("deep/er/still/data.json", strings.Repeat(`{"k":"v"}`, 10000)),
	)
	out := filepath.Join(t.TempDir(), "code")
	info, err := Extract(z, out, small)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{
		"bootstrap":                      0o755,
		"handler.py":                     0o644,
		"lib/":                           fs.ModeDir | 0o755,
		"lib/libfoo.so.1.2":              0o644,
		"lib/libfoo.so -> libfoo.so.1.2": fs.ModeSymlink | 0o777,
		"bin/":                           fs.ModeDir | 0o755,
		"bin/foo -> ../lib/libfoo.so":    fs.ModeSymlink | 0o777,
		"bin/tool":                       0o755,
		"readonly":                       0o644,
		"deep/":                          fs.ModeDir | 0o755,
		"deep/er/":                       fs.ModeDir | 0o755,
		"deep/er/still/":                 fs.ModeDir | 0o755,
		"deep/er/still/data.json":        0o644,
	}
	got := entries(t, out)
	for k, m := range want {
		if got[k] != m {
			t.Errorf("%s: mode %v, want %v", k, got[k], m)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s", k)
		}
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode() != fs.ModeDir|0o755 {
		t.Errorf("root: %v, %v", fi.Mode(), err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "bin/foo")); err != nil || string(b) != "ELF" {
		t.Errorf("reading through bin/foo: %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(out, "bootstrap")); err != nil || !fi.ModTime().Equal(testTime) {
		t.Errorf("bootstrap modified %v, want %v (%v)", fi.ModTime(), testTime, err)
	}
	inspected, err := Inspect(z, small)
	if err != nil || info != inspected {
		t.Errorf("Extract info %+v, Inspect info %+v (%v)", info, inspected, err)
	}
	if info.Files != 6 || info.UnzippedSize != 25+28+3+10+1+90000 {
		t.Errorf("info = %+v", info)
	}
	onlyChild(t, filepath.Dir(out), "code")
}

func TestExtractIntoEmptyDirectory(t *testing.T) {
	out := filepath.Join(t.TempDir(), "code")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Extract(buildZip(t, file("a", "1")), out, small); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, out); len(got) != 1 || got["a"] != 0o644 {
		t.Errorf("entries = %v", got)
	}
	onlyChild(t, filepath.Dir(out), "code")
}

func TestExtractExistingDestination(t *testing.T) {
	z := buildZip(t, file("a", "1"))
	for name, setup := range map[string]func(string) error{
		"not empty": func(p string) error {
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(p, "old"), []byte("keep"), 0o644)
		},
		"a file":    func(p string) error { return os.WriteFile(p, []byte("keep"), 0o644) },
		"a symlink": func(p string) error { return os.Symlink(".", p) },
	} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "code")
			if err := setup(out); err != nil {
				t.Fatal(err)
			}
			_, err := Extract(z, out, small)
			if !errors.Is(err, fs.ErrExist) {
				t.Fatalf("error = %v, want fs.ErrExist", err)
			}
			onlyChild(t, filepath.Dir(out), "code")
		})
	}
}

// Of several Extracts racing for one directory, one wins and the others
// report fs.ErrExist; nothing else is left behind.
func TestExtractRace(t *testing.T) {
	z := buildZip(t, file("a", strings.Repeat("a", 100000)), file("b/c", "c"))
	out := filepath.Join(t.TempDir(), "code")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = Extract(z, out, small) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, fs.ErrExist):
			t.Errorf("error = %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d extractions won", won)
	}
	onlyChild(t, filepath.Dir(out), "code")
}

// A refused zip leaves nothing behind, even when files were already written.
func TestExtractRefusedLeavesNothing(t *testing.T) {
	laterCorrupt := buildZip(t, file("a", strings.Repeat("a", 5000)), file("b", strings.Repeat("hello ", 1000)))
	laterCorrupt[dataOffset(t, laterCorrupt, 1)+3] ^= 0xff
	bomb := zeros300MB(t)
	tests := map[string]struct {
		zip  []byte
		kind Kind
	}{
		"traversal":      {buildZip(t, file("ok", "1"), file("../evil", "x")), Unsafe},
		"symlink escape": {buildZip(t, file("ok", "1"), link("l", "../../etc")), Unsafe},
		"through link":   {buildZip(t, link("l", "."), file("l/x", "x")), Unsafe},
		"later corrupt":  {laterCorrupt, Invalid},
		"lying bomb": {buildZip(t, file("ok", "1"), raw(&zip.FileHeader{
			Name: "bomb", Method: zip.Deflate, UncompressedSize64: 1024, CompressedSize64: uint64(len(bomb)),
		}, string(bomb))), Invalid},
		"not a zip": {[]byte("nope"), Invalid},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "code")
			_, err := Extract(tt.zip, out, Limits{MaxEntries: 10})
			wantKind(t, err, tt.kind)
			onlyChild(t, filepath.Dir(out), "")
		})
	}
}

// onlyChild fails unless dir holds exactly the entry name, or nothing when
// name is empty.
func onlyChild(t *testing.T, dir, name string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	want := []string{name}
	if name == "" {
		want = nil
	}
	if !bytes.Equal([]byte(strings.Join(names, "\x00")), []byte(strings.Join(want, "\x00"))) {
		t.Errorf("%s holds %q, want %q", dir, names, want)
	}
}
