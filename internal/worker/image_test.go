package worker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kumo-run/kumo/internal/image"
)

type fixedRoots struct{ root image.Root }

func (f fixedRoots) Root(context.Context, string, string) (image.Root, error) { return f.root, nil }

func TestImageLaunch(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "usr/bin/python3"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := image.Config{Entrypoint: []string{"python3", "-m", "awslambdaric"}, Cmd: []string{"app.handler"}, WorkingDir: "/var/task", Env: []string{"PATH=/usr/bin"}}
	for _, tc := range []struct {
		name     string
		cfg      image.Config
		over     Image
		args     []string
		dir      string
		badEntry bool
	}{
		{name: "image", cfg: cfg, args: []string{"/usr/bin/python3", "-m", "awslambdaric", "app.handler"}, dir: "/var/task"},
		{name: "command", cfg: cfg, over: Image{Command: []string{"other.handler"}}, args: []string{"/usr/bin/python3", "-m", "awslambdaric", "other.handler"}, dir: "/var/task"},
		{name: "entrypoint and workdir", cfg: cfg, over: Image{EntryPoint: []string{"/bin/run"}, WorkingDir: "/srv"}, args: []string{"/bin/run", "app.handler"}, dir: "/srv"},
		{name: "relative entry", cfg: image.Config{Cmd: []string{"./boot"}}, args: []string{"/boot"}, dir: "/"},
		{name: "not on PATH", cfg: image.Config{Entrypoint: []string{"node"}}, badEntry: true},
		{name: "nothing to run", cfg: image.Config{}, badEntry: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &Worker{cfg: Config{Images: fixedRoots{image.Root{Dir: dir, Config: tc.cfg}}}}
			over := tc.over
			root, cmd, err := w.imageLaunch(context.Background(), &Spec{Image: &over})
			var ie *InvalidEntrypointError
			if tc.badEntry {
				if !errors.As(err, &ie) {
					t.Fatalf("got %v, want an InvalidEntrypointError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if root != dir || !slices.Equal(cmd.args, tc.args) || cmd.dir != tc.dir {
				t.Fatalf("got %q %q in %s, want %q in %s", root, cmd.args, cmd.dir, tc.args, tc.dir)
			}
		})
	}
}

func TestImageEnvironment(t *testing.T) {
	base := []string{"AWS_LAMBDA_FUNCTION_NAME=f", "PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin", "_HANDLER=", "SHARED=fn"}
	img := []string{"PATH=/app", "AWS_LAMBDA_FUNCTION_NAME=evil", "SHARED=image", "NEW=1", "junk"}
	got := imageEnvironment(base, img, map[string]string{"SHARED": "fn"}, "app.handler")
	want := []string{"AWS_LAMBDA_FUNCTION_NAME=f", "PATH=/app", "_HANDLER=app.handler", "SHARED=fn", "NEW=1"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
