package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// tarFile is one entry of a test image layer.
type tarFile struct {
	name, body string
	mode       int64
	dir        bool
}

func tarLayer(t testing.TB, files ...tarFile) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg}
		if f.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// imageFnBinary builds testdata/imagefn, static.
func imageFnBinary(t testing.TB) []byte {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fn")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./test/e2e/testdata/imagefn")
	cmd.Dir = repoDir
	cmd.Env = append(cleanEnv(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build imagefn: %v\n%s", err, out)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// functionImage builds the test image on an empty base: the imagefn
// binary (aws-lambda-go) as ENTRYPOINT in one layer with a data
// directory, and a second layer that whites out one data file and adds
// another.
func functionImage(t testing.TB) v1.Image {
	t.Helper()
	exe := imageFnBinary(t)
	img, err := mutate.AppendLayers(empty.Image,
		tarLayer(t,
			tarFile{name: "app/", dir: true, mode: 0o755},
			tarFile{name: "app/fn", body: string(exe), mode: 0o755},
			tarFile{name: "app/data/", dir: true, mode: 0o755},
			tarFile{name: "app/data/keep.txt", body: "keep"},
			tarFile{name: "app/data/gone.txt", body: "gone"},
		),
		tarLayer(t,
			tarFile{name: "app/data/.wh.gone.txt"},
			tarFile{name: "app/data/added.txt", body: "added"},
		),
	)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Entrypoint = []string{"/app/fn"}
	cf.Config.Cmd = []string{"image.handler"}
	cf.Config.WorkingDir = "/app"
	cf.Config.Env = []string{"PATH=/app:/usr/bin", "IMAGE_VAR=from-image", "SHARED=from-image"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestContainerImage creates functions from an image served by a
// registry the test runs (go-containerregistry's, on loopback, plain
// HTTP) and from an OCI layout, with the AWS CLI, and invokes them.
func TestContainerImage(t *testing.T) {
	requireLinuxDriver(t)
	t.Parallel()
	img := functionImage(t)
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	host := serveImage(t, img, "functions/imagefn:v1")
	layouts := t.TempDir()
	lp, err := layout.Write(filepath.Join(layouts, "imagefn"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "v1"})); err != nil {
		t.Fatal(err)
	}

	s := startServer(t, t.TempDir(), "--sandbox", "linux", "--image-layout-dir", layouts)
	c := newCLI(t, s)
	uri := host + "/functions/imagefn:v1"

	// What AWS refuses for an Image function.
	r := c.fail("InvalidParameterValueException", "lambda", "create-function", "--function-name", "bad", "--package-type", "Image",
		"--code", "ImageUri="+uri, "--role", testRole, "--runtime", "python3.12")
	expectContains(t, r.Stderr, "Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image.")
	r = c.fail("InvalidParameterValueException", "lambda", "create-function", "--function-name", "bad", "--package-type", "Image",
		"--code", "ImageUri="+host+"/functions/missing:v1", "--role", testRole)
	expectContains(t, r.Stderr, "Source image "+host+"/functions/missing:v1 does not exist. Provide a valid source image.")

	out := c.ok("lambda", "create-function", "--function-name", "img", "--package-type", "Image",
		"--code", "ImageUri="+uri, "--role", testRole, "--environment", "Variables={SHARED=from-function}")
	expectEq(t, "PackageType", jstr(out, "PackageType"), "Image")
	expectEq(t, "CodeSha256", jstr(out, "CodeSha256"), digest.Hex)
	waitActiveCLI(t, c, "img")

	got := c.ok("lambda", "get-function", "--function-name", "img")
	expectEq(t, "RepositoryType", jstr(got, "Code", "RepositoryType"), "ECR")
	expectEq(t, "ImageUri", jstr(got, "Code", "ImageUri"), uri)
	expectEq(t, "ResolvedImageUri", jstr(got, "Code", "ResolvedImageUri"), host+"/functions/imagefn@"+digest.String())

	rep := invokeImage(t, c, "img")
	expectEq(t, "args", strings.Join(rep.Args, " "), "/app/fn image.handler")
	expectEq(t, "cwd", rep.Cwd, "/app")
	expectEq(t, "files", strings.Join(rep.Files, ","), "added.txt,keep.txt") // gone.txt is whited out
	expectEq(t, "IMAGE_VAR", rep.Env["IMAGE_VAR"], "from-image")
	expectEq(t, "SHARED", rep.Env["SHARED"], "from-function")
	expectEq(t, "PATH", rep.Env["PATH"], "/app:/usr/bin")
	expectEq(t, "_HANDLER", rep.Env["_HANDLER"], "image.handler")
	expectEq(t, "AWS_LAMBDA_RUNTIME_API", rep.Env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001")
	// The image's root is read-only, /tmp is the sandbox's.
	expectContains(t, rep.Writes["/app/data/new.txt"], "read-only file system")
	expectEq(t, "write /tmp", rep.Writes["/tmp/new.txt"], "ok")

	// ImageConfig overrides CMD and WORKDIR.
	cfg := c.ok("lambda", "update-function-configuration", "--function-name", "img",
		"--image-config", `{"Command":["override.handler","extra"],"WorkingDirectory":"/app/data"}`)
	expectEq(t, "ImageConfig.WorkingDirectory", jstr(cfg, "ImageConfigResponse", "ImageConfig", "WorkingDirectory"), "/app/data")
	waitActiveCLI(t, c, "img")
	rep = invokeImage(t, c, "img")
	expectEq(t, "args", strings.Join(rep.Args, " "), "/app/fn override.handler extra")
	expectEq(t, "cwd", rep.Cwd, "/app/data")
	expectEq(t, "_HANDLER", rep.Env["_HANDLER"], "override.handler")

	// The same image from an OCI layout directory.
	c.ok("lambda", "create-function", "--function-name", "img-oci", "--package-type", "Image",
		"--code", "ImageUri=oci:"+filepath.Join(layouts, "imagefn")+":v1", "--role", testRole)
	waitActiveCLI(t, c, "img-oci")
	rep = invokeImage(t, c, "img-oci")
	expectEq(t, "files", strings.Join(rep.Files, ","), "added.txt,keep.txt")
	c.fail("InvalidParameterValueException", "lambda", "create-function", "--function-name", "bad", "--package-type", "Image",
		"--code", "ImageUri=oci:/etc", "--role", testRole)
}

// serveImage starts a registry on loopback (go-containerregistry's,
// plain HTTP), pushes img as repoTag and returns the registry's host:port.
func serveImage(t testing.TB, img v1.Image, repoTag string) string {
	t.Helper()
	reg := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	ref, err := name.ParseReference(host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	return host
}

type imageReport struct {
	Args   []string          `json:"args"`
	Cwd    string            `json:"cwd"`
	Env    map[string]string `json:"env"`
	Files  []string          `json:"files"`
	Writes map[string]string `json:"writes"`
}

func invokeImage(t *testing.T, c *awsCLI, fn string) imageReport {
	t.Helper()
	ev := writeTemp(t, "event.json", []byte(`{"list":"/app/data","env":["IMAGE_VAR","SHARED","PATH","_HANDLER","AWS_LAMBDA_RUNTIME_API"],"write":["/app/data/new.txt","/tmp/new.txt"]}`))
	outFile := filepath.Join(t.TempDir(), "out.json")
	res := c.ok("lambda", "invoke", "--function-name", fn, "--payload", "fileb://"+ev, outFile)
	body, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if fe := jstr(res, "FunctionError"); fe != "" {
		t.Fatalf("invoke %s: %s: %s", fn, fe, body)
	}
	var rep imageReport
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("invoke %s: %v: %s", fn, err, body)
	}
	return rep
}

func waitActiveCLI(t *testing.T, c *awsCLI, fn string) {
	t.Helper()
	eventually(t, 3*time.Minute, fn+" Active", func() error {
		cfg := c.ok("lambda", "get-function-configuration", "--function-name", fn)
		st, up := jstr(cfg, "State"), jstr(cfg, "LastUpdateStatus")
		switch {
		case st == "Failed" || up == "Failed":
			return stopPolling(fmt.Errorf("%s failed: %s%s", fn, jstr(cfg, "StateReason"), jstr(cfg, "LastUpdateStatusReason")))
		case st != "Active" || up == "InProgress":
			return fmt.Errorf("state %s, update %s", st, up)
		}
		return nil
	})
}

// TestContainerImageProcessDriver: a server whose sandboxes cannot have
// their own root refuses container-image functions at CreateFunction.
func TestContainerImageProcessDriver(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "--sandbox", "process")
	c := newCLI(t, s)
	r := c.fail("InvalidParameterValueException", "lambda", "create-function", "--function-name", "img", "--package-type", "Image",
		"--code", "ImageUri=127.0.0.1:5000/functions/imagefn:v1", "--role", testRole)
	expectContains(t, r.Stderr, "Container-image functions need the linux sandbox driver")
	c.fail("ResourceNotFoundException", "lambda", "get-function", "--function-name", "img")
}
