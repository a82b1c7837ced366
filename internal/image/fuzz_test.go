package image_test

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kumo-run/kumo/internal/image"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{"127.0.0.1:5000/repo:tag", "localhost:5000/a/b@sha256:" + strings.Repeat("a", 64),
		"oci:/x/y:v1", "oci:/x@sha256:00", "registry.example.com/r", "a:b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		r, err := image.Parse(uri)
		if err != nil {
			return
		}
		if r.Layout != "" && (!filepath.IsAbs(r.Layout) || filepath.Clean(r.Layout) != r.Layout) {
			t.Fatalf("%q: layout %q is not a clean absolute path", uri, r.Layout)
		}
		if r.Digest != "" {
			if p := r.Pinned(r.Digest); !strings.HasSuffix(p, "@"+r.Digest) {
				t.Fatalf("%q: pinned %q", uri, p)
			}
		}
	})
}

// FuzzUnpack feeds arbitrary tar streams to Unpack: it may refuse them,
// but must not panic or write beside its directory.
func FuzzUnpack(f *testing.F) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "a/b", Mode: 0o4755, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("x"))
	tw.WriteHeader(&tar.Header{Name: "l", Linkname: "../..", Typeflag: tar.TypeSymlink})
	tw.WriteHeader(&tar.Header{Name: "h", Linkname: "a/b", Typeflag: tar.TypeLink})
	tw.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		_ = image.Unpack(bytes.NewReader(data), filepath.Join(parent, "root"), 1<<20)
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() != "root" {
				t.Fatalf("wrote %s beside the root", e.Name())
			}
		}
	})
}
