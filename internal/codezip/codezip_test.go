package codezip

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"io/fs"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

var small = Limits{MaxZipped: 1 << 20, MaxUnzipped: 1 << 20, MaxEntries: 100}

func TestInspectAccepts(t *testing.T) {
	inner := buildZip(t, raw(&zip.FileHeader{Name: "0.zip", Method: zip.Deflate, UncompressedSize64: 4 << 30, CompressedSize64: 10}, "0123456789"))
	tests := []struct {
		name     string
		ents     []ent
		files    int
		unzipped int64
	}{
		{"bootstrap", []ent{exe("bootstrap", "#!/bin/sh\n"), file("handler.sh", "echo hi")}, 2, 17},
		{"implied directories", []ent{file("a/b/c.txt", "abc"), file("a/d.txt", "d")}, 2, 4},
		{"explicit and repeated directories", []ent{dir("a/"), dir("a/"), dir("a/b/"), file("a/b/c", "c")}, 1, 1},
		{"root and dot entries", []ent{dir("./"), file("./a", "a"), file("b//c", "c"), file("./d/./e", "e")}, 3, 3},
		{"empty zip", nil, 0, 0},
		{"empty file", []ent{file("empty", "")}, 1, 0},
		{"stored without data descriptor", []ent{stored("s.txt", "stored body")}, 1, 11},
		{"deflate with data descriptor", []ent{file("d.txt", strings.Repeat("x", 10000))}, 1, 10000},
		{"symlink inside", []ent{
			file("lib/libfoo.so.1.2", "ELF"),
			link("lib/libfoo.so.1", "libfoo.so.1.2"),
			link("lib/libfoo.so", "libfoo.so.1"),
			link("bin/foo", "../lib/libfoo.so"),
		}, 1, 3},
		{"symlink declared before its target", []ent{link("node_modules/.bin/tsc", "../typescript/bin/tsc"), file("node_modules/typescript/bin/tsc", "js")}, 1, 2},
		{"dangling symlink inside", []ent{link("a/l", "../missing/x")}, 0, 0},
		{"symlink through a symlinked directory", []ent{
			file("releases/v1/app.js", "1"),
			link("current", "releases/v1"),
			link("app.js", "current/app.js"),
			link("up", "current/.."),
		}, 1, 1},
		{"dot-dot inside the root", []ent{link("a/b/l", "../../c"), file("c", "c")}, 1, 1},
		{"file mode bits other than x", []ent{{name: "setuid", body: "x", mode: fs.ModeSetuid | 0o4755}}, 1, 1},
		{"nested zip is a file", []ent{stored("42.zip", string(inner))}, 1, int64(len(inner))},
		{"names with colons and spaces", []ent{file("a b/c:d", "x"), file("1:/x", "y")}, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := buildZip(t, tt.ents...)
			info, err := Inspect(z, small)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(z)
			want := Info{Sha256: base64.StdEncoding.EncodeToString(sum[:]), Size: int64(len(z)), UnzippedSize: tt.unzipped, Files: tt.files}
			if info != want {
				t.Errorf("info = %+v, want %+v", info, want)
			}
		})
	}
}

func TestInspectRefuses(t *testing.T) {
	valid := buildZip(t, file("a.txt", strings.Repeat("hello ", 100)))
	truncated := valid[:len(valid)-30]
	flipped := bytes.Clone(valid)
	flipped[dataOffset(t, valid, 0)+2] ^= 0xff
	// archive/zip will not write content for a directory: name it d_
	// and patch the name.
	dirWithData := bytes.ReplaceAll(buildZip(t, stored("d_", "abc")), []byte("d_"), []byte("d/"))
	lzma := &zip.FileHeader{Name: "x.lzma", Method: 14, UncompressedSize64: 3, CompressedSize64: 3}
	encrypted := storedHeader("secret", "abc")
	encrypted.Flags |= 0x1
	longName := strings.Repeat("a/", maxName/2) + "x"
	linkDir := &zip.FileHeader{Name: "l/", Method: zip.Store}
	linkDir.SetMode(fs.ModeSymlink | 0o777)

	tests := []struct {
		name  string
		zip   []byte // if nil, built from ents
		ents  []ent
		lim   Limits
		kind  Kind
		entry string
		msg   string // a substring of Message
	}{
		{name: "not a zip", zip: []byte("hello, world"), kind: Invalid, msg: msgCorrupt},
		{name: "empty input", zip: []byte{}, kind: Invalid, msg: msgCorrupt},
		{name: "truncated", zip: truncated, kind: Invalid, msg: msgCorrupt},
		{name: "corrupt data", zip: flipped, kind: Invalid, entry: "a.txt", msg: msgCorrupt},
		{name: "zipped too large", zip: valid, lim: Limits{MaxZipped: 100}, kind: TooLarge, msg: "Zipped size must be smaller than 100 bytes"},
		{name: "unzipped too large", ents: []ent{file("a", strings.Repeat("a", 600)), file("b", strings.Repeat("b", 600))}, lim: Limits{MaxUnzipped: 1000}, kind: UnzippedTooLarge, msg: "Unzipped size must be smaller than 1000 bytes"},
		{name: "too many entries", ents: []ent{file("a", ""), file("b", ""), file("c", ""), file("d", "")}, lim: Limits{MaxEntries: 3}, kind: TooManyEntries, msg: "more than 3 entries"},
		{name: "too many implied directories", ents: []ent{file("a/b/c/d", "")}, lim: Limits{MaxEntries: 3}, kind: TooManyEntries},

		{name: "parent traversal", ents: []ent{file("../evil", "x")}, kind: Unsafe, entry: "../evil", msg: `entry "../evil" leaves the package root through ".."`},
		{name: "inner traversal", ents: []ent{file("a/../../evil", "x")}, kind: Unsafe, entry: "a/../../evil"},
		{name: "traversal back inside", ents: []ent{file("a/../b", "x")}, kind: Unsafe},
		{name: "trailing dot-dot", ents: []ent{dir("a/../")}, kind: Unsafe},
		{name: "absolute path", ents: []ent{file("/etc/passwd", "x")}, kind: Unsafe, entry: "/etc/passwd", msg: "is an absolute path"},
		{name: "drive letter", ents: []ent{file("C:/Windows/x", "x")}, kind: Unsafe, msg: "Windows drive letter"},
		{name: "drive-relative", ents: []ent{file("c:x", "x")}, kind: Unsafe, msg: "Windows drive letter"},
		{name: "backslash separators", ents: []ent{file(`src\index.js`, "x")}, kind: Unsafe, msg: "backslash"},
		{name: "backslash traversal", ents: []ent{file(`..\..\evil`, "x")}, kind: Unsafe, msg: "backslash"},
		{name: "NUL byte", ents: []ent{file("a\x00.txt", "x")}, kind: Unsafe, msg: "NUL byte"},
		{name: "empty name", ents: []ent{file("", "x")}, kind: Invalid, msg: "empty name"},
		{name: "name too long", ents: []ent{file(longName+"xx", "x")}, kind: Invalid, msg: "longer than 1024 bytes"},
		{name: "path element too long", ents: []ent{file(strings.Repeat("n", 256), "x")}, kind: Invalid, msg: "longer than 255 bytes"},

		{name: "character device", ents: []ent{special("dev/tty", fs.ModeDevice|fs.ModeCharDevice)}, kind: Unsafe, entry: "dev/tty", msg: "device, named pipe or socket"},
		{name: "block device", ents: []ent{special("sda", fs.ModeDevice)}, kind: Unsafe},
		{name: "fifo", ents: []ent{special("fifo", fs.ModeNamedPipe)}, kind: Unsafe},
		{name: "socket", ents: []ent{special("sock", fs.ModeSocket)}, kind: Unsafe},

		{name: "symlink to absolute path", ents: []ent{link("etc", "/etc")}, kind: Unsafe, entry: "etc", msg: `symlink "etc" target "/etc" is an absolute path`},
		{name: "symlink escaping", ents: []ent{link("a/l", "../../x")}, kind: Unsafe, entry: "a/l", msg: "points outside the package"},
		{name: "symlink escaping through another", ents: []ent{link("d/up", ".."), link("esc", "d/up/..")}, kind: Unsafe, entry: "esc"},
		{name: "symlink escaping through a later one", ents: []ent{link("esc", "d/up/../x"), link("d/up", "..")}, kind: Unsafe, entry: "esc"},
		{name: "symlink escaping through a chain", ents: []ent{link("a", "b/.."), link("b", "c"), link("c", ".."), dir("d/")}, kind: Unsafe},
		{name: "symlink loop", ents: []ent{link("a", "b"), link("b", "a")}, kind: Unsafe, msg: "symlink loop"},
		{name: "symlink with empty target", ents: []ent{link("l", "")}, kind: Invalid, msg: "empty target"},
		{name: "symlink target with NUL", ents: []ent{link("l", "a\x00b")}, kind: Unsafe, msg: "NUL byte"},
		{name: "symlink target with backslash", ents: []ent{link("l", `..\x`)}, kind: Unsafe, msg: "backslash"},
		{name: "symlink target too long", ents: []ent{link("l", longName+"xx")}, kind: Invalid, msg: "target longer than"},
		{name: "symlink named as a directory", ents: []ent{raw(linkDir, "")}, kind: Invalid},
		{name: "entry through an earlier symlink", ents: []ent{link("link", "sub"), file("link/passwd", "x")}, kind: Unsafe, entry: "link/passwd", msg: `goes through symlink "link"`},
		{name: "entry through an absolute symlink", ents: []ent{link("link", "/etc"), file("link/passwd", "x")}, kind: Unsafe},
		{name: "symlink over a directory", ents: []ent{file("d/f", "x"), link("d", "e")}, kind: Unsafe, entry: "d"},
		{name: "file over a symlink", ents: []ent{link("x", "y"), file("x", "evil")}, kind: Unsafe, entry: "x", msg: `would overwrite symlink "x"`},
		{name: "symlink over a file", ents: []ent{file("x", "data"), link("x", "y")}, kind: Unsafe, entry: "x"},
		{name: "symlink twice", ents: []ent{link("x", "y"), link("x", "z")}, kind: Unsafe},

		{name: "duplicate file", ents: []ent{file("a", "1"), file("a", "2")}, kind: Invalid, entry: "a", msg: "more than once"},
		{name: "duplicate after cleaning", ents: []ent{file("a/b", "1"), file("./a//b", "2")}, kind: Invalid},
		{name: "file used as directory", ents: []ent{file("a", "1"), file("a/b", "2")}, kind: Invalid, msg: "which is a file"},
		{name: "directory then file", ents: []ent{file("a/b", "1"), file("a", "2")}, kind: Invalid},
		{name: "explicit directory then file", ents: []ent{dir("a/"), file("a", "2")}, kind: Invalid},
		{name: "root as a file", ents: []ent{file(".", "x")}, kind: Invalid, msg: "no file name"},

		{name: "directory with content", zip: dirWithData, kind: Invalid, entry: "d/", msg: msgCorrupt},
		{name: "unsupported method", ents: []ent{raw(lzma, "abc")}, kind: Invalid, entry: "x.lzma", msg: "compression method 14"},
		{name: "encrypted", ents: []ent{raw(encrypted, "abc")}, kind: Invalid, msg: "encrypted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := tt.zip
			if z == nil {
				z = buildZip(t, tt.ents...)
			}
			lim := tt.lim
			if lim == (Limits{}) {
				lim = small
			}
			info, err := Inspect(z, lim)
			e := wantKind(t, err, tt.kind)
			if info != (Info{}) {
				t.Errorf("info = %+v on error", info)
			}
			if tt.entry != "" && e.Entry != tt.entry {
				t.Errorf("entry = %q, want %q", e.Entry, tt.entry)
			}
			if !strings.Contains(e.Message, tt.msg) {
				t.Errorf("message = %q, want it to contain %q", e.Message, tt.msg)
			}
			if strings.Contains(e.Message, "codezip") {
				t.Errorf("message %q names the package", e.Message)
			}
		})
	}
}

func TestAWSMessages(t *testing.T) {
	_, err := Inspect(make([]byte, 52428801), LambdaLimits)
	if e := wantKind(t, err, TooLarge); e.Message != "Zipped size must be smaller than 52428800 bytes" {
		t.Errorf("message = %q", e.Message)
	}
	big := &zip.FileHeader{Name: "big", Method: zip.Store, UncompressedSize64: 262144001, CompressedSize64: 1}
	_, err = Inspect(buildZip(t, raw(big, "x")), Limits{})
	if e := wantKind(t, err, UnzippedTooLarge); e.Message != "Unzipped size must be smaller than 262144000 bytes" {
		t.Errorf("message = %q", e.Message)
	}
	_, err = Inspect([]byte("PK\x03\x04 not really"), Limits{})
	if e := wantKind(t, err, Invalid); e.Message != "Could not unzip uploaded file. Please check your file, then try to upload again." {
		t.Errorf("message = %q", e.Message)
	}
}

// An entry that declares 1 KB and inflates to 300 MB is refused once a
// little more than 1 KB has come out, without memory growing with it.
func TestLyingSizeBomb(t *testing.T) {
	data := zeros300MB(t)
	h := &zip.FileHeader{Name: "bomb", Method: zip.Deflate, UncompressedSize64: 1024, CompressedSize64: uint64(len(data))}
	z := buildZip(t, file("ok", "fine"), raw(h, string(data)))
	for _, lim := range []Limits{LambdaLimits, {MaxUnzipped: 1 << 40}} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Inspect(z, lim)
		runtime.ReadMemStats(&after)
		e := wantKind(t, err, Invalid)
		if e.Entry != "bomb" {
			t.Errorf("entry = %q", e.Entry)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
			t.Errorf("Inspect allocated %d bytes", alloc)
		}
	}
}

// The same data honestly declared is refused by its size.
func TestHonestBomb(t *testing.T) {
	data := zeros300MB(t)
	h := &zip.FileHeader{Name: "bomb", Method: zip.Deflate, UncompressedSize64: 300 << 20, CompressedSize64: uint64(len(data))}
	z := buildZip(t, raw(h, string(data)))
	_, err := Inspect(z, LambdaLimits)
	wantKind(t, err, UnzippedTooLarge)
	// Spread over many entries that each fit.
	var ents []ent
	chunk := deflatedZeros(t, 30<<20)
	for i := range 10 {
		ents = append(ents, raw(&zip.FileHeader{Name: "part" + string(rune('0'+i)), Method: zip.Deflate, UncompressedSize64: 30 << 20, CompressedSize64: uint64(len(chunk))}, string(chunk)))
	}
	_, err = Inspect(buildZip(t, ents...), LambdaLimits)
	wantKind(t, err, UnzippedTooLarge)
}

// A zip of many empty entries is refused before archive/zip builds its
// list of files, so the refusal costs little memory.
func TestManyEntriesBoundedMemory(t *testing.T) {
	ents := make([]ent, 150000)
	for i := range ents {
		ents[i] = stored(string(rune('a'+i%26))+strings.Repeat("/x", i%3)+"/"+itoa(i), "")
	}
	z := buildZip(t, ents...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Inspect(z, LambdaLimits)
	runtime.ReadMemStats(&after)
	wantKind(t, err, TooManyEntries)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("Inspect allocated %d bytes", alloc)
	}
}

func dataOffset(t *testing.T, z []byte, i int) int64 {
	r, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	off, err := r.File[i].DataOffset()
	if err != nil {
		t.Fatal(err)
	}
	return off
}

func itoa(i int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		if i /= 10; i == 0 {
			return string(b)
		}
	}
}

// countRecords never counts fewer records than archive/zip reads.
func TestCountRecords(t *testing.T) {
	prefixed := append([]byte("#!/bin/sh\nexit 0\n"), buildZip(t, file("a", "1"), file("b", "2"))...)
	cases := map[string][]byte{
		"empty":    buildZip(t),
		"three":    buildZip(t, file("a", "1"), dir("b/"), link("c", "a")),
		"comment":  withComment(t, buildZip(t, file("a", "1")), "a comment"),
		"prefixed": prefixed,
	}
	for name, z := range cases {
		r, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := countRecords(z, 1000); got != len(r.File) {
			t.Errorf("%s: countRecords = %d, archive/zip reads %d", name, got, len(r.File))
		}
	}
	if got := countRecords(cases["three"], 1); got != 2 {
		t.Errorf("countRecords stopping at 1 = %d, want 2", got)
	}
}

func withComment(t *testing.T, z []byte, c string) []byte {
	r, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, f := range r.File {
		if err := w.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	w.SetComment(c)
	w.Close()
	return b.Bytes()
}

func TestKindString(t *testing.T) {
	for k, s := range map[Kind]string{Invalid: "Invalid", TooLarge: "TooLarge", UnzippedTooLarge: "UnzippedTooLarge", TooManyEntries: "TooManyEntries", Unsafe: "Unsafe", 0: "Kind(0)"} {
		if k.String() != s {
			t.Errorf("%d.String() = %q, want %q", int(k), k.String(), s)
		}
	}
}

// The output count stands on its own: even with every header believed, the
// bytes that come out are what is compared with MaxUnzipped.
func TestOutputCounted(t *testing.T) {
	z := buildZip(t, file("a", strings.Repeat("a", 5000)))
	p, err := open(z, Limits{MaxUnzipped: 10000})
	if err != nil {
		t.Fatal(err)
	}
	var total atomic.Int64
	total.Store(6000) // as if other files had produced this much
	r, e := p.openEntry(p.r.File[0], &total)
	if e != nil {
		t.Fatal(e)
	}
	defer r.close()
	_, err = io.ReadAll(r)
	wantKind(t, err, UnzippedTooLarge)
}
