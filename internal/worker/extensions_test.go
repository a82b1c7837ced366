package worker

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestExtensionExit(t *testing.T) {
	m := exitMarker("abc")
	for _, tc := range []struct {
		line   string
		name   string
		status int
		ok     bool
	}{
		{m + " 0 ext", "ext", 0, true},
		{m + " 137 my-ext", "my-ext", 137, true},
		{m + " x ext", "", 0, false},
		{m + " 1", "", 0, false},
		{exitMarker("other") + " 1 ext", "", 0, false},
		{"hello " + m + " 1 ext", "", 0, false},
	} {
		name, status, ok := extensionExit([]byte(tc.line), m)
		if name != tc.name || status != tc.status || ok != tc.ok {
			t.Errorf("%q: %q %d %v, want %q %d %v", tc.line, name, status, ok, tc.name, tc.status, tc.ok)
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
	want := []string{"/bin/sh", "-c", extensionLauncher, "m", "/opt/extensions/one", "/opt/extensions/two", "--", "/var/runtime/bootstrap"}
	if !slices.Equal(args, want) {
		t.Fatalf("extensionCommand = %q", args)
	}
}
