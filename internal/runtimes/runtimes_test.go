package runtimes

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// localTempDir is a temporary directory outside /tmp and the other paths
// a sandbox has its own of, which host paths may not name: next to the
// test when the checkout is not under one of them, else under /var/tmp or
// the home directory.
func localTempDir(t *testing.T) string {
	t.Helper()
	home, _ := os.UserHomeDir()
	for _, base := range []string{".", "/var/tmp", home} {
		if base == "" {
			continue
		}
		abs, err := filepath.Abs(base)
		if err != nil {
			continue
		}
		if abs, err = filepath.EvalSymlinks(abs); err != nil || overlaps(abs, sandboxOwned) {
			continue
		}
		d, err := os.MkdirTemp(abs, ".kumo-test-")
		if err != nil {
			continue
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	t.Skip("no temporary directory outside the paths a sandbox has its own of")
	return ""
}

// fakeInterpreters makes executable files standing in for interpreters,
// laid out as installed: <prefix>/bin/<id>, <prefix>/lib/<id>/ for Python.
func fakeInterpreters(t *testing.T, ids ...string) map[string]string {
	t.Helper()
	dir := localTempDir(t)
	out := map[string]string{}
	for _, id := range ids {
		prefix := filepath.Join(dir, id)
		p := filepath.Join(prefix, "bin", id)
		if err := os.MkdirAll(filepath.Join(prefix, "lib", id), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(id, "java") && !strings.HasSuffix(id, "-jre") {
			if err := os.WriteFile(filepath.Join(prefix, "bin", "javac"), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		out[id] = p
	}
	return out
}

func TestCheck(t *testing.T) {
	in := fakeInterpreters(t, "python3.11", "python3.13", "nodejs20.x", "java17", "java25", "ruby3.3")
	tb, err := New(Config{Dir: t.TempDir(), Interpreters: in, NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		runtime string
		runsOn  string // "" when exact
		err     any
	}{
		{"provided.al2023", "", nil},
		{"go1.x", "", nil},
		{"python3.11", "", nil},
		{"python3.13", "", nil},
		{"python3.12", "python3.13", nil}, // equally near: the newer
		{"python3.9", "python3.11", nil},
		{"python3.14", "python3.13", nil},
		{"nodejs20.x", "", nil},
		{"nodejs18.x", "nodejs20.x", nil},
		{"nodejs24.x", "nodejs20.x", nil},
		{"java17", "", nil},
		{"java21", "java25", nil}, // equally near: the newer
		{"java11", "java17", nil},
		{"java8.al2", "java17", nil},
		{"java25", "", nil},
		{"ruby3.3", "", nil},
		{"ruby3.2", "ruby3.3", nil},
		{"ruby3.4", "ruby3.3", nil},
		{"ruby4.0", "", new(*UnsupportedError)},
		{"dotnet8", "", new(*UnsupportedError)},
		{"cobol85", "", new(*UnsupportedError)},
		{"python2.7", "", new(*UnsupportedError)},
	} {
		warning, err := tb.Check(c.runtime)
		if c.err != nil {
			if err == nil || !errors.As(err, c.err) {
				t.Errorf("Check(%s): err %v, want %T", c.runtime, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Check(%s): %v", c.runtime, err)
			continue
		}
		if c.runsOn == "" && warning != "" {
			t.Errorf("Check(%s): warning %q, want none", c.runtime, warning)
		}
		if c.runsOn != "" && !strings.Contains(warning, c.runtime+" runs with "+c.runsOn+" ("+in[c.runsOn]+")") {
			t.Errorf("Check(%s): warning %q, want it to name %s", c.runtime, warning, c.runsOn)
		}
	}

	empty, err := New(Config{Dir: t.TempDir(), NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = empty.Check("nodejs22.x")
	var ne *NoInterpreterError
	if !errors.As(err, &ne) || ne.Language != "Node.js" {
		t.Errorf("Check without interpreters: %v, want a NoInterpreterError", err)
	}
	if _, err := empty.Resolve("python3.12", "app.handler", t.TempDir(), ""); !errors.As(err, &ne) {
		t.Errorf("Resolve without interpreters: %v, want a NoInterpreterError", err)
	}
	if _, err := empty.Check("java21"); !errors.As(err, &ne) || ne.Language != "Java" {
		t.Errorf("Check(java21) without a JDK: %v, want a NoInterpreterError", err)
	}
	// A JRE without javac cannot compile the runtime client.
	jre := fakeInterpreters(t, "java17-jre")
	jreTable, err := New(Config{Dir: t.TempDir(), Interpreters: map[string]string{"java17": jre["java17-jre"]}, NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jreTable.Check("java17"); err == nil || !strings.Contains(err.Error(), "has no javac") {
		t.Errorf("Check(java17) on a JRE: %v, want it refused for the missing javac", err)
	}
	// .NET: refused, saying why.
	_, err = empty.Resolve("dotnet8", "Assembly::Ns.Class::Method", t.TempDir(), "")
	var ue *UnsupportedError
	if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), "The runtime dotnet8 cannot run on this server: ") {
		t.Errorf("Resolve(dotnet8): %v, want an UnsupportedError saying why", err)
	}
}

func TestNewRejectsBadInterpreters(t *testing.T) {
	for _, in := range []map[string]string{
		{"dotnet8": "/bin/sh"},
		{"python3.12": "relative/python"},
		{"python3.12": "/nonexistent/python3.12"},
	} {
		if _, err := New(Config{Dir: t.TempDir(), Interpreters: in, NoProbe: true}); err == nil {
			t.Errorf("New(%v) succeeded", in)
		}
	}
}

func TestParseInterpreters(t *testing.T) {
	for _, c := range []struct {
		in   string
		want map[string]string
		ok   bool
	}{
		{"", map[string]string{}, true},
		{"python3.12=/opt/py/bin/python3.12", map[string]string{"python3.12": "/opt/py/bin/python3.12"}, true},
		{"python3.12=/a, nodejs22.x=/b", map[string]string{"python3.12": "/a", "nodejs22.x": "/b"}, true},
		{"python3.12", nil, false},
		{"=/a", nil, false},
		{"python3.12=", nil, false},
	} {
		got, err := ParseInterpreters(c.in)
		if (err == nil) != c.ok {
			t.Errorf("ParseInterpreters(%q): err %v", c.in, err)
			continue
		}
		if c.ok && len(got) != len(c.want) {
			t.Errorf("ParseInterpreters(%q) = %v, want %v", c.in, got, c.want)
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("ParseInterpreters(%q)[%s] = %q, want %q", c.in, k, got[k], v)
			}
		}
	}
}

func TestResolveManaged(t *testing.T) {
	in := fakeInterpreters(t, "python3.12", "nodejs22.x")
	tb, err := New(Config{Dir: t.TempDir(), Interpreters: in, NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	l, err := tb.Resolve("python3.12", "app.handler", t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l.Args, []string{in["python3.12"], "/var/runtime/bootstrap.py"}) {
		t.Errorf("python Args = %q", l.Args)
	}
	if l.ExecutionEnv != "AWS_Lambda_python3.12" || l.RuntimeDir != tb.Dir() {
		t.Errorf("python launch = %+v", l)
	}
	// The stand-in interpreter has no boto3.
	if l.Warning != pythonSDKWarning("") {
		t.Errorf("python Warning = %q", l.Warning)
	}
	if !slices.Contains(l.HostPaths, in["python3.12"]) {
		t.Errorf("python HostPaths %q lack the interpreter", l.HostPaths)
	}
	l, err = tb.Resolve("nodejs20.x", "index.handler", t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l.Args, []string{in["nodejs22.x"], "/var/runtime/bootstrap.js"}) || l.ExecutionEnv != "AWS_Lambda_nodejs20.x" {
		t.Errorf("node launch = %+v", l)
	}
	if !strings.Contains(l.Warning, "nodejs20.x runs with nodejs22.x") {
		t.Errorf("node Warning = %q", l.Warning)
	}
	if !slices.Contains(l.Env, "NODE_PATH=/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task") {
		t.Errorf("node Env = %q", l.Env)
	}
	// OS-only runtimes resolve as without a table.
	if _, err := tb.Resolve("provided.al2023", "bootstrap", t.TempDir(), ""); err == nil {
		t.Error("provided without a bootstrap resolved")
	}
}

func TestRuntimeDir(t *testing.T) {
	parent := t.TempDir()
	a, err := writeRuntimeDir(parent, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := writeRuntimeDir(parent, nil)
	if err != nil || a != b {
		t.Fatalf("second write: %q, %v; first %q", b, err, a)
	}
	fi, err := os.Stat(a)
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("runtime dir mode %v, %v", fi.Mode(), err)
	}
	for name := range runtimeFiles {
		fi, err := os.Stat(filepath.Join(a, name))
		if err != nil || fi.Mode().Perm() != 0o644 || fi.Size() == 0 {
			t.Errorf("%s: %v %v", name, fi, err)
		}
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 1 {
		t.Errorf("parent holds %d entries, want 1", len(ents))
	}
}

func TestHostSetSymlinks(t *testing.T) {
	d := localTempDir(t)
	mk := func(p string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(dest, p string) {
		if err := os.Symlink(dest, p); err != nil {
			t.Fatal(err)
		}
	}
	// Merged /usr: lib -> usr/lib, lib64 -> usr/lib64, whose loader is an
	// absolute link into lib; libz.so.1 -> libz.so.1.2.
	mk(d + "/usr/lib/x86/ld.so")
	mk(d + "/usr/lib/x86/libz.so.1.2")
	link("libz.so.1.2", d+"/usr/lib/x86/libz.so.1")
	os.MkdirAll(d+"/usr/lib64", 0o755)
	link("usr/lib", d+"/lib")
	link("usr/lib64", d+"/lib64")
	link(d+"/lib/x86/ld.so", d+"/usr/lib64/ld.so")

	s := newHostSet()
	for _, p := range []string{d + "/lib64/ld.so", d + "/lib/x86/libz.so.1"} {
		if _, err := s.add(p); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{d + "/lib", d + "/lib64", d + "/usr/lib/x86/ld.so", d + "/usr/lib/x86/libz.so.1",
		d + "/usr/lib/x86/libz.so.1.2", d + "/usr/lib64/ld.so"}
	if got := s.list(); !slices.Equal(got, want) {
		t.Errorf("list() =\n%q\nwant\n%q", got, want)
	}

	// Paths inside a directory bound whole, and what the sandbox has its
	// own of, are left out.
	s.add(d + "/usr/lib/x86")
	s.paths["/etc/ssl/certs/ca.pem"] = false
	s.paths["/etc/ssl"] = true
	s.paths["/etc/ssl/openssl.cnf"] = false
	got := s.list()
	if slices.Contains(got, d+"/usr/lib/x86/ld.so") || !slices.Contains(got, d+"/usr/lib/x86") {
		t.Errorf("list() with a whole directory = %q", got)
	}
	if slices.Contains(got, "/etc/ssl") || slices.Contains(got, "/etc/ssl/certs/ca.pem") {
		t.Errorf("list() holds paths the sandbox owns: %q", got)
	}
}

// TestHostPathsOfHostInterpreters checks the host paths of the real
// interpreters this host has: the interpreter, the C library and the
// dynamic loader by the name programs use.
func TestHostPathsOfHostInterpreters(t *testing.T) {
	tb, err := New(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	byName := map[string]*language{}
	for _, l := range languages {
		byName[l.name] = l
	}
	for name, ins := range tb.Interpreters() {
		for _, in := range ins {
			n++
			l := byName[name]
			hp, err := tb.hostPaths(l, in)
			paths := hp.paths
			if err != nil {
				t.Errorf("%s: %v", in.Path, err)
				continue
			}
			real, _ := filepath.EvalSymlinks(in.Path)
			if !slices.Contains(paths, real) && !slices.ContainsFunc(paths, func(p string) bool { return strings.HasPrefix(real, p+"/") }) {
				t.Errorf("%s: host paths lack %s: %q", in.Path, real, paths)
			}
			libc := false
			for _, p := range paths {
				if strings.Contains(filepath.Base(p), "libc.so") {
					libc = true
				}
				if fi, err := os.Lstat(p); err != nil {
					t.Errorf("%s: host path %s: %v", in.Path, p, err)
				} else if fi.Mode()&os.ModeSymlink == 0 {
					if r, _ := filepath.EvalSymlinks(p); r != p {
						t.Errorf("%s: host path %s goes through a symlink (%s)", in.Path, p, r)
					}
				}
			}
			if !libc {
				t.Errorf("%s: host paths lack the C library: %q", in.Path, paths)
			}
			if l == python && !slices.ContainsFunc(paths, func(p string) bool { return strings.Contains(p, "/lib/python3.") }) {
				t.Errorf("%s: host paths lack the standard library: %q", in.Path, paths)
			}
		}
	}
	if n == 0 {
		t.Skip("no Python or Node.js on this host")
	}
}

// TestBootstrapsParse checks that the embedded bootstraps are valid
// programs for the host's interpreters.
func TestBootstrapsParse(t *testing.T) {
	dir, err := writeRuntimeDir(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := [][]string{
		{"python3", "-c", "import ast, sys; ast.parse(open(sys.argv[1]).read())", filepath.Join(dir, "bootstrap.py")},
		{"node", "--check", filepath.Join(dir, "bootstrap.js")},
	}
	for _, c := range checks {
		if _, err := exec.LookPath(c[0]); err != nil {
			t.Logf("no %s: not checked", c[0])
			continue
		}
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
}

// TestPythonByteCode checks that New compiles the Python runtime for the
// host's interpreters, so that cold starts do not.
func TestPythonByteCode(t *testing.T) {
	tb, err := New(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ins := tb.Interpreters()["Python"]
	if len(ins) == 0 {
		t.Skip("no Python on this host")
	}
	pycs, _ := filepath.Glob(filepath.Join(tb.Dir(), "__pycache__", "kumo_runtime.*.pyc"))
	if len(pycs) == 0 {
		t.Errorf("no byte code of kumo_runtime.py for %v in %s", ins, tb.Dir())
	}
}
