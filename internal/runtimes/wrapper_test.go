package runtimes

import (
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func TestWrapped(t *testing.T) {
	managed := Launch{ExecutionEnv: "AWS_Lambda_python3.12"}
	args := []string{"/usr/bin/python3", "/var/runtime/bootstrap.py"}
	for _, tc := range []struct {
		name    string
		l       Launch
		wrapper string
		want    []string
		ok      bool
	}{
		{"managed", managed, "/opt/wrapper", append([]string{"/opt/wrapper"}, args...), true},
		{"no wrapper", managed, "", args, false},
		{"relative", managed, "wrapper", args, false},
		{"unclean", managed, "/opt/../wrapper", args, false},
		{"os-only", Launch{}, "/opt/wrapper", args, false},
	} {
		got, ok := tc.l.Wrapped(args, tc.wrapper)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("%s: Wrapped = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestShellPaths(t *testing.T) {
	if _, err := exec.LookPath("/bin/sh"); err != nil {
		t.Skip("no /bin/sh on this host")
	}
	paths, err := ShellPaths()
	if err != nil {
		t.Fatal(err)
	}
	// The shell itself (or the file its symlink names) and a C library.
	var libc bool
	for _, p := range paths {
		if m, _ := matchLibc(p); m {
			libc = true
		}
	}
	if len(paths) < 2 || !libc {
		t.Fatalf("ShellPaths = %q: want the shell and the C library", paths)
	}
}

func matchLibc(p string) (bool, error) {
	for _, pat := range []string{"/*/libc.so.6", "/*/*/libc.so.6", "/*/*/*/libc.so.6"} {
		if ok, _ := filepath.Match(pat, p); ok {
			return true, nil
		}
	}
	return false, nil
}
