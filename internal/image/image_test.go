package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/kumo-run/kumo/internal/image"
)

// entry is one tar entry of a test layer.
type entry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func layer(t *testing.T, entries ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body))}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func testImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image,
		layer(t,
			entry{name: "bin/", typ: tar.TypeDir, mode: 0o755},
			entry{name: "bin/app", body: "#!app", mode: 0o4755},
			entry{name: "etc/gone", body: "secret"},
			entry{name: "data/", typ: tar.TypeDir, mode: 0o755},
			entry{name: "data/old", body: "old"},
			entry{name: "dev/null", typ: tar.TypeChar},
			entry{name: "link", typ: tar.TypeSymlink, link: "/etc/passwd"},
		),
		layer(t,
			entry{name: "etc/.wh.gone", body: ""},
			entry{name: "data/.wh..wh..opq", body: ""},
			entry{name: "data/new", body: "new"},
			entry{name: "bin/hard", typ: tar.TypeLink, link: "bin/app"},
		),
	)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Entrypoint = []string{"/bin/app"}
	cf.Config.Cmd = []string{"handler"}
	cf.Config.WorkingDir = "/data"
	cf.Config.Env = []string{"PATH=/bin", "FROM_IMAGE=1"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func startRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func push(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

func TestResolveAndUnpackFromRegistry(t *testing.T) {
	host := startRegistry(t)
	img := testImage(t)
	push(t, host+"/fn/app:v1", img)
	want, _ := img.Digest()

	p := &image.Puller{}
	res, err := p.Resolve(context.Background(), host+"/fn/app:v1", "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != want.String() || res.URI != host+"/fn/app@"+want.String() {
		t.Fatalf("resolved %+v, want digest %s", res, want)
	}
	if res.Config.WorkingDir != "/data" || res.Config.Entrypoint[0] != "/bin/app" || res.Config.Cmd[0] != "handler" {
		t.Fatalf("config %+v", res.Config)
	}

	c, err := image.NewCache(t.TempDir(), p, 0)
	if err != nil {
		t.Fatal(err)
	}
	root, err := c.Root(context.Background(), res.URI, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(root.Dir, p))
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}
	if got := read("bin/app"); got != "#!app" {
		t.Errorf("bin/app = %q", got)
	}
	if got := read("bin/hard"); got != "#!app" {
		t.Errorf("hard link = %q", got)
	}
	for _, gone := range []string{"etc/gone", "data/old", "dev/null"} {
		if _, err := os.Lstat(filepath.Join(root.Dir, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: want absent, got %v", gone, err)
		}
	}
	if got := read("data/new"); got != "new" {
		t.Errorf("data/new = %q", got)
	}
	fi, err := os.Stat(filepath.Join(root.Dir, "bin/app"))
	if err != nil || fi.Mode()&os.ModeSetuid != 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/app mode %v (%v): want 0755 without setuid", fi.Mode(), err)
	}
	if l, err := os.Readlink(filepath.Join(root.Dir, "link")); err != nil || l != "/etc/passwd" {
		t.Errorf("link -> %q (%v)", l, err)
	}
	if root.Config.WorkingDir != "/data" {
		t.Errorf("cached config %+v", root.Config)
	}
	// A second request is served from disk.
	again, err := c.Root(context.Background(), res.URI, "x86_64")
	if err != nil || again.Dir != root.Dir {
		t.Fatalf("second Root: %v %v", again, err)
	}
}

func TestResolveErrors(t *testing.T) {
	host := startRegistry(t)
	push(t, host+"/fn/app:v1", testImage(t))
	p := &image.Puller{}
	for uri, kind := range map[string]image.Kind{
		host + "/fn/app:nope":      image.NotFound,
		host + "/fn/other:v1":      image.NotFound,
		"app:v1":                   image.Invalid,
		"oci:/not/allowed":         image.Invalid,
		"oci:relative/dir":         image.Invalid,
		host + "/fn/App:v1":        image.Invalid,
		"127.0.0.1:1/fn/app:v1":    image.Unavailable,
		host + "/fn/app@sha256:00": image.Invalid,
	} {
		_, err := p.Resolve(context.Background(), uri, "x86_64")
		var ie *image.Error
		if !errors.As(err, &ie) || ie.Kind != kind {
			t.Errorf("%s: got %v, want kind %d", uri, err, kind)
		}
	}
}

// TestRegistryAllowList: with Registries set, a host outside it is
// refused before any request; a listed one is pulled.
func TestRegistryAllowList(t *testing.T) {
	host := startRegistry(t)
	push(t, host+"/fn/app:v1", testImage(t))
	p := &image.Puller{Registries: []string{"registry.example:5000"}}
	_, err := p.Resolve(context.Background(), host+"/fn/app:v1", "x86_64")
	var ie *image.Error
	if !errors.As(err, &ie) || ie.Kind != image.Invalid || !strings.Contains(err.Error(), "not one this server pulls from") {
		t.Fatalf("unlisted registry: %v", err)
	}
	p.Registries = append(p.Registries, host)
	if _, err := p.Resolve(context.Background(), host+"/fn/app:v1", "x86_64"); err != nil {
		t.Fatalf("listed registry: %v", err)
	}
}

func TestLayout(t *testing.T) {
	dir := t.TempDir()
	lp, err := layout.Write(filepath.Join(dir, "app"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	img := testImage(t)
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "v1"})); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	p := &image.Puller{LayoutDirs: []string{dir}}
	for _, uri := range []string{"oci:" + dir + "/app", "oci:" + dir + "/app:v1", "oci:" + dir + "/app@" + want.String()} {
		res, err := p.Resolve(context.Background(), uri, "x86_64")
		if err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
		if res.Digest != want.String() || res.URI != "oci:"+dir+"/app@"+want.String() {
			t.Fatalf("%s: %+v", uri, res)
		}
	}
	if _, err := p.Resolve(context.Background(), "oci:"+dir+"/app:v2", "x86_64"); err == nil {
		t.Fatal("unknown tag resolved")
	}
	if _, err := (&image.Puller{}).Resolve(context.Background(), "oci:"+dir+"/app:v1", "x86_64"); err == nil {
		t.Fatal("layout outside the allowed directories resolved")
	}
	c, err := image.NewCache(t.TempDir(), p, 0)
	if err != nil {
		t.Fatal(err)
	}
	root, err := c.Root(context.Background(), "oci:"+dir+"/app@"+want.String(), "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root.Dir, "data/new")); err != nil {
		t.Fatal(err)
	}
}

func TestUnpackRefusesEscapesAndLimits(t *testing.T) {
	mk := func(entries ...entry) io.Reader {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, e := range entries {
			typ := e.typ
			if typ == 0 {
				typ = tar.TypeReg
			}
			size := int64(len(e.body))
			if typ != tar.TypeReg {
				size = 0
			}
			tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Linkname: e.link, Size: size})
			tw.Write([]byte(e.body))
		}
		tw.Close()
		return &buf
	}
	outside := t.TempDir()
	cases := map[string]io.Reader{
		"through symlink": mk(entry{name: "l", typ: tar.TypeSymlink, link: outside}, entry{name: "l/x", body: "x"}),
		"hard link out":   mk(entry{name: "h", typ: tar.TypeLink, link: "../../etc/passwd"}),
		"too large":       mk(entry{name: "a", body: strings.Repeat("a", 600)}, entry{name: "b", body: strings.Repeat("b", 600)}),
	}
	for n, r := range cases {
		err := image.Unpack(r, filepath.Join(t.TempDir(), "root"), 1000)
		if err == nil {
			t.Errorf("%s: unpacked", n)
		}
		if n == "too large" && !errors.Is(err, image.ErrTooLarge) {
			t.Errorf("too large: %v", err)
		}
	}
	// A name climbing above the root stays inside it.
	dst := filepath.Join(t.TempDir(), "root")
	if err := image.Unpack(mk(entry{name: "../../x", body: "x"}), dst, 1000); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst, "x")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
		t.Fatal("a file was written outside the root")
	}
}

// TestLayoutIndex resolves a multi-platform image in a layout to the
// function's platform and pulls it again by the pinned digest.
func TestLayoutIndex(t *testing.T) {
	dir := t.TempDir()
	lp, err := layout.Write(filepath.Join(dir, "multi"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	amd := testImage(t)
	arm, err := mutate.AppendLayers(amd, layer(t, entry{name: "arm.txt", body: "arm"}))
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "v1"})); err != nil {
		t.Fatal(err)
	}
	p := &image.Puller{LayoutDirs: []string{dir}}
	for arch, img := range map[string]v1.Image{"x86_64": amd, "arm64": arm} {
		want, _ := img.Digest()
		res, err := p.Resolve(context.Background(), "oci:"+dir+"/multi:v1", arch)
		if err != nil {
			t.Fatal(err)
		}
		if res.Digest != want.String() {
			t.Fatalf("%s: got %s, want %s", arch, res.Digest, want)
		}
		c, err := image.NewCache(t.TempDir(), p, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Root(context.Background(), res.URI, arch); err != nil {
			t.Fatalf("%s: pulling %s: %v", arch, res.URI, err)
		}
	}
}
