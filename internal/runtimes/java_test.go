package runtimes

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestJavaLaunch resolves java17 on the host's JDK: the runtime client is
// compiled once into the runtime directory, and the JVM's heap is sized
// from the function's memory.
func TestJavaLaunch(t *testing.T) {
	if _, err := exec.LookPath("javac"); err != nil {
		t.Skip("no JDK on this host")
	}
	dir := t.TempDir()
	tb, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	l, err := tb.Resolve("java17", "example.Hello::handleRequest", t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(l.Args, "-cp")
	if i < 0 || i+2 >= len(l.Args) || l.Args[i+2] != javaMain || !strings.HasPrefix(l.Args[i+1], "/var/runtime/java-") {
		t.Fatalf("Args %q: want -cp /var/runtime/java-… %s", l.Args, javaMain)
	}
	classes := filepath.Join(tb.Dir(), strings.TrimPrefix(l.Args[i+1], "/var/runtime/"))
	for _, c := range []string{"kumo/runtime/Main.class", "com/amazonaws/services/lambda/runtime/RequestHandler.class"} {
		if _, err := os.Stat(filepath.Join(classes, c)); err != nil {
			t.Errorf("compiled runtime client lacks %s: %v", c, err)
		}
	}
	for _, f := range javaFlags {
		if !slices.Contains(l.Args, f) {
			t.Errorf("Args %q lack %s", l.Args, f)
		}
	}
	if l.ExecutionEnv != "AWS_Lambda_java17" {
		t.Errorf("ExecutionEnv %q", l.ExecutionEnv)
	}
	args := l.ArgsFor(256)
	if len(args) != len(l.Args)+1 || args[1] != "-XX:MaxHeapSize=217m" || args[0] != l.Args[0] {
		t.Errorf("ArgsFor(256) = %q, want the heap flag after the java binary", args)
	}

	// Another table on the same directory reuses the compiled client.
	before, _ := os.Stat(classes)
	tb2, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	l2, err := tb2.Resolve("java17", "x.Y", t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l2.Args, l.Args) {
		t.Errorf("second table: Args %q, want %q", l2.Args, l.Args)
	}
	if after, _ := os.Stat(classes); !os.SameFile(before, after) {
		t.Error("the runtime client was compiled again")
	}
	// Other runtimes get no heap flag.
	if got := (Launch{Args: []string{"/usr/bin/python3", "b.py"}}).ArgsFor(256); len(got) != 2 {
		t.Errorf("ArgsFor of a python launch: %q", got)
	}
}
