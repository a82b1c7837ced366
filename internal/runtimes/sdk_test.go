package runtimes

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFile(t *testing.T, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSDKDir: the SDKs of an SDK directory are linked from the runtime
// directory, bootstrap.py is told where boto3 is, and nothing is warned.
func TestSDKDir(t *testing.T) {
	in := fakeInterpreters(t, "python3.12", "nodejs22.x")
	sdk := t.TempDir()
	writeFile(t, filepath.Join(sdk, "python", "boto3", "__init__.py"), "__author__ = 'x'\n__version__ = '1.99.0'\n")
	writeFile(t, filepath.Join(sdk, "nodejs", "node_modules", "@aws-sdk", "client-sts", "package.json"), `{"name":"@aws-sdk/client-sts","version":"3.5.0"}`)
	tb, err := New(Config{Dir: t.TempDir(), Interpreters: in, NoProbe: true, SDKDir: sdk})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		nodeModulesName: filepath.Join(sdk, "nodejs", "node_modules"),
		pythonSDKName:   filepath.Join(sdk, "python"),
	} {
		if got, err := os.Readlink(filepath.Join(tb.Dir(), name)); err != nil || got != want {
			t.Errorf("runtime dir %s -> %q, %v; want %q", name, got, err, want)
		}
	}
	l, err := tb.Resolve("python3.12", "app.handler", t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l.Args, []string{in["python3.12"], "/var/runtime/bootstrap.py", "/var/runtime/python-sdk"}) || l.Warning != "" {
		t.Errorf("python launch = %+v", l)
	}
	l, err = tb.Resolve("nodejs22.x", "index.handler", t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if l.Warning != "" {
		t.Errorf("node Warning = %q", l.Warning)
	}
	st := tb.SDKs()
	if st.Node != "3.5.0" || st.Python[in["python3.12"]] != "1.99.0" || st.PythonDir[in["python3.12"]] != filepath.Join(sdk, "python") {
		t.Errorf("SDKs() = %+v", st)
	}
	// Another SDK directory is another runtime directory.
	other, err := New(Config{Dir: filepath.Dir(tb.Dir()), Interpreters: in, NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	if other.Dir() == tb.Dir() {
		t.Error("runtime dirs with and without SDKs are the same")
	}
	if _, err := os.Lstat(filepath.Join(other.Dir(), nodeModulesName)); err == nil {
		t.Error("runtime dir without an SDK has node_modules")
	}
}

// TestSDKMissing: an empty SDK directory gives each runtime a warning
// saying what to install, once per sandbox start (with the version
// warning, one line each); nodejs16.x never had the v3 SDK.
func TestSDKMissing(t *testing.T) {
	in := fakeInterpreters(t, "python3.12", "nodejs22.x")
	sdk := t.TempDir()
	if err := os.MkdirAll(filepath.Join(sdk, "python"), 0o755); err != nil {
		t.Fatal(err)
	}
	tb, err := New(Config{Dir: t.TempDir(), Interpreters: in, NoProbe: true, SDKDir: sdk})
	if err != nil {
		t.Fatal(err)
	}
	l, err := tb.Resolve("python3.12", "app.handler", t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(l.Warning, "WARNING: the AWS SDK for Python (boto3) is not installed on this server: "+filepath.Join(sdk, "python")+" has no boto3") {
		t.Errorf("python Warning = %q", l.Warning)
	}
	if len(l.Args) != 2 {
		t.Errorf("python Args = %q", l.Args)
	}
	l, err = tb.Resolve("nodejs20.x", "index.handler", t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(l.Warning, "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "nodejs20.x runs with nodejs22.x") || lines[1] != nodeSDKWarning {
		t.Errorf("node Warning = %q", l.Warning)
	}
	if l, _ := tb.Resolve("nodejs16.x", "index.handler", t.TempDir(), ""); strings.Contains(l.Warning, "JavaScript v3") {
		t.Errorf("nodejs16.x Warning = %q", l.Warning)
	}
}

// TestHostBoto3: a host interpreter that imports boto3 (Debian's
// python3-boto3) gives it to sandboxes: boto3 and the modules it needs are
// bound, the directory around them is not, and bootstrap.py appends it to
// sys.path.
func TestHostBoto3(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import boto3").Run(); err != nil {
		t.Skipf("%s has no boto3 here (apt-get install python3-boto3)", py)
	}
	v, err := pythonVersion(py)
	if err != nil {
		t.Fatal(err)
	}
	id := python.runtime(v)
	tb, err := New(Config{Dir: t.TempDir(), Interpreters: map[string]string{id: py}, NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	l, err := tb.Resolve(id, "app.handler", t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(l.Warning, "boto3") || len(l.Args) != 3 {
		t.Fatalf("launch = %+v", l)
	}
	dir := l.Args[2]
	out, err := exec.Command(py, "-c", "import boto3, os; print(os.path.dirname(os.path.dirname(os.path.realpath(boto3.__file__))))").Output()
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if want := strings.TrimSpace(string(out)); real != want {
		t.Errorf("SDK path %q (%q), python imports boto3 from %q", dir, real, want)
	}
	for _, m := range []string{"boto3", "botocore", "jmespath", "dateutil"} {
		if !slices.ContainsFunc(l.HostPaths, func(p string) bool {
			return p == filepath.Join(real, m) || strings.HasPrefix(filepath.Join(real, m), p+"/")
		}) {
			t.Errorf("HostPaths lack %s: %q", m, l.HostPaths)
		}
	}
	if slices.Contains(l.HostPaths, real) {
		t.Errorf("HostPaths bind all of %s", real)
	}
}

// TestHostBoto3UnderTmp: a boto3 the interpreter imports from a path a
// sandbox has its own of cannot be bound; the log says so.
func TestHostBoto3UnderTmp(t *testing.T) {
	in := fakeInterpreters(t, "python3.12")
	// The stand-in answers the module lookup as an interpreter whose
	// boto3 is under /tmp would.
	if err := os.WriteFile(in["python3.12"], []byte("#!/bin/sh\necho boto3 /tmp/site/boto3\necho botocore /tmp/site/botocore\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tb, err := New(Config{Dir: t.TempDir(), Interpreters: in, NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	l, err := tb.Resolve("python3.12", "app.handler", t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	want := "WARNING: the AWS SDK for Python (boto3) is not available to functions: " + in["python3.12"] + " imports it from /tmp/site"
	if !strings.HasPrefix(l.Warning, want) || len(l.Args) != 2 {
		t.Errorf("launch = %+v, want a warning starting %q", l, want)
	}
	for _, p := range l.HostPaths {
		if strings.HasPrefix(p, "/tmp/") {
			t.Errorf("HostPaths has %s", p)
		}
	}
}
