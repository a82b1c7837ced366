package worker

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/kumo-run/kumo/internal/image"
)

// ImageRoots gives container images' unpacked roots (an *image.Cache).
type ImageRoots interface {
	// Root returns the root of the pinned image, pulling it first if
	// this node lacks it.
	Root(ctx context.Context, pinned, arch string) (image.Root, error)
}

// Image is the image side of a Spec: the image pinned to its digest and
// the function's ImageConfig overrides.
type Image struct {
	// URI is the pinned image (ResolvedImageUri); Arch its platform
	// (x86_64 or arm64).
	URI, Arch string
	// EntryPoint, Command and WorkingDir override the image's
	// ENTRYPOINT, CMD and WORKDIR when set.
	EntryPoint, Command []string
	WorkingDir          string
}

// InvalidEntrypointError says an image gives nothing to run.
type InvalidEntrypointError struct{ Msg string }

func (e *InvalidEntrypointError) Error() string { return e.Msg }

// imageCmd is what a sandbox of an image runs.
type imageCmd struct {
	args []string
	dir  string
	env  []string // the image's ENV
	cmd  []string // the effective CMD
}

// imageLaunch readies spec's image and works out its command as a
// container runtime does: ENTRYPOINT then CMD (each replaced by the
// function's ImageConfig when it sets them), a command without a slash
// looked up in the image's PATH, WORKDIR or /.
func (w *Worker) imageLaunch(ctx context.Context, spec *Spec) (string, imageCmd, error) {
	if w.cfg.Images == nil {
		return "", imageCmd{}, fmt.Errorf("preparing image: this server runs no container images")
	}
	im := spec.Image
	root, err := w.cfg.Images.Root(ctx, im.URI, im.Arch)
	if err != nil {
		return "", imageCmd{}, fmt.Errorf("preparing image: %w", err)
	}
	ep, cmd := root.Config.Entrypoint, root.Config.Cmd
	if im.EntryPoint != nil {
		ep = im.EntryPoint
	}
	if im.Command != nil {
		cmd = im.Command
	}
	args := append(append([]string{}, ep...), cmd...)
	if len(args) == 0 || args[0] == "" {
		return "", imageCmd{}, &InvalidEntrypointError{Msg: "the image has no ENTRYPOINT or CMD and the function's ImageConfig sets none"}
	}
	dir := root.Config.WorkingDir
	if im.WorkingDir != "" {
		dir = im.WorkingDir
	}
	if dir == "" || !path.IsAbs(dir) {
		dir = path.Join("/", dir)
	}
	if !strings.Contains(args[0], "/") {
		exe, ok := lookPath(root.Dir, args[0], envValue(root.Config.Env, "PATH"))
		if !ok {
			return "", imageCmd{}, &InvalidEntrypointError{Msg: fmt.Sprintf("exec: %q: executable file not found in the image's $PATH", args[0])}
		}
		args[0] = exe
	} else if !path.IsAbs(args[0]) {
		args[0] = path.Join(dir, args[0])
	}
	return root.Dir, imageCmd{args: args, dir: dir, env: root.Config.Env, cmd: cmd}, nil
}

// lookPath finds name in the directories of pathVar inside the image
// root (a symlink counts as found: it is resolved inside the sandbox).
func lookPath(root, name, pathVar string) (string, bool) {
	if pathVar == "" {
		pathVar = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	for _, d := range strings.Split(pathVar, ":") {
		if !path.IsAbs(d) {
			continue
		}
		p := path.Join(d, name)
		if fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(p))); err == nil && !fi.IsDir() {
			return p, true
		}
	}
	return "", false
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// imageEnvironment merges an image's ENV into a sandbox's environment
// base (Lambda's variables, the function's own, credentials): the
// image's values replace Kumo's defaults (PATH, LD_LIBRARY_PATH, LANG,
// TZ), never a variable Lambda reserves or the function sets. _HANDLER
// is the first CMD element, as Lambda sets it for images.
func imageEnvironment(base, imageEnv []string, fn map[string]string, handler string) []string {
	out := append([]string{}, base...)
	idx := make(map[string]int, len(out))
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		idx[k] = i
	}
	put := func(k, kv string) {
		if i, ok := idx[k]; ok {
			out[i] = kv
			return
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	for _, kv := range imageEnv {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if _, own := fn[k]; own || reservedVar(k) {
			continue
		}
		put(k, kv)
	}
	put("_HANDLER", "_HANDLER="+handler)
	return out
}

// reservedVar reports whether Lambda sets k itself.
func reservedVar(k string) bool {
	return strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "LAMBDA_") || strings.HasPrefix(k, "_X_AMZN") || k == "_HANDLER"
}
