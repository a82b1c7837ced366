package worker

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLauncherLine(t *testing.T) {
	m := launcherMarker("abc")
	for _, tc := range []struct {
		line string
		want launcherLine
		ok   bool
	}{
		{m + " x 0 ext", launcherLine{exited: true, name: "ext", status: 0}, true},
		{m + " x 137 my-ext", launcherLine{exited: true, name: "my-ext", status: 137}, true},
		{m + " l ext hello world", launcherLine{name: "ext", text: []byte("hello world")}, true},
		{m + " l ext ", launcherLine{name: "ext", text: []byte{}}, true},
		{m + " x x ext", launcherLine{}, false},
		{m + " x 1", launcherLine{}, false},
		{m + " q 1 ext", launcherLine{}, false},
		{launcherMarker("other") + " x 1 ext", launcherLine{}, false},
		{"hello " + m + " x 1 ext", launcherLine{}, false},
	} {
		got, ok := parseLauncherLine([]byte(tc.line), m)
		if ok != tc.ok || got.exited != tc.want.exited || got.name != tc.want.name || got.status != tc.want.status || string(got.text) != string(tc.want.text) {
			t.Errorf("%q: %+v %v, want %+v %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

// The launcher, run by the host's /bin/sh, tags an extension's lines and
// reports its exit, and runs the runtime after starting the extensions.
func TestLauncherScript(t *testing.T) {
	dir := t.TempDir()
	ext := filepath.Join(dir, "my-ext")
	if err := os.WriteFile(ext, []byte("#!/bin/sh\necho out\necho 'back\\slash' >&2\nprintf 'no newline'\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	args := extensionCommand([]string{"/bin/sh", "-c", "echo runtime; wait"}, []string{"x"}, "M")
	// The sandbox's /opt/extensions/x is ext here.
	for i, a := range args {
		if a == "/opt/extensions/x" {
			args[i] = ext
		}
	}
	cmd := exec.Command(args[0], args[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("launcher: %v; stderr:\n%s", err, stderr.String())
	}
	if stdout.String() != "runtime\n" {
		t.Errorf("runtime output %q", stdout.String())
	}
	// Run returns once every holder of the stderr pipe closed it, the
	// extension's subshell included: its exit line is in.
	for _, want := range []string{"M l my-ext out\n", "M l my-ext back\\slash\n", "M l my-ext no newline\n", "M x 3 my-ext\n"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("launcher stderr %q lacks %q", stderr.String(), want)
		}
	}
}

func TestExtensionNames(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	write := func(dir, name string, mode os.FileMode) {
		p := filepath.Join(dir, "extensions", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(a, "one", 0o755)
	write(a, "notexec", 0o644)
	write(b, "two", 0o755)
	write(b, "one", 0o755)
	if err := os.Mkdir(filepath.Join(b, "extensions", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := extensionNames([]string{a, b, t.TempDir()}); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("extensionNames = %q, want [one two]", got)
	}
	args := extensionCommand([]string{"/var/runtime/bootstrap"}, []string{"one", "two"}, "m")
	want := []string{launcherShell(), "-c", extensionLauncher, "m", "/opt/extensions/one", "/opt/extensions/two", "--", "/var/runtime/bootstrap"}
	if !slices.Equal(args, want) {
		t.Fatalf("extensionCommand = %q", args)
	}
}

// FuzzLauncherLine: any line a sandbox writes parses or is refused, and
// a line parsed as an exit names an extension.
func FuzzLauncherLine(f *testing.F) {
	m := launcherMarker("abc")
	f.Add(m + " x 0 ext")
	f.Add(m + " l ext hello")
	f.Add("plain line")
	f.Fuzz(func(t *testing.T, line string) {
		l, ok := parseLauncherLine([]byte(line), m)
		if ok && (l.name == "" || !strings.HasPrefix(line, m+" ")) {
			t.Fatalf("%q parsed as %+v", line, l)
		}
	})
}
